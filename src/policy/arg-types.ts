// Tool arguments as typed Cedar values: a tool's JSON input schema becomes a Cedar record type
// (so policies on arguments are validated), and call arguments are converted to match it.

import { q } from '../core/errors.js';
import type { CedarValueJson } from './cedar.js';

export type CedarType =
  | { kind: 'String' }
  | { kind: 'Long' }
  | { kind: 'Bool' }
  | { kind: 'decimal' }
  | { kind: 'Set'; element: CedarType }
  | { kind: 'Record'; attrs: Record<string, { type: CedarType; required: boolean }> };

const MAX_DEPTH = 5;

/** Maps a JSON Schema to a Cedar type; undefined when it has no single Cedar type (then it is left out). */
export function cedarTypeOf(schema: unknown, depth = 0): CedarType | undefined {
  if (!schema || typeof schema !== 'object' || depth > MAX_DEPTH) return undefined;
  const s = schema as Record<string, unknown>;
  let type = s.type;
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length !== 1) return undefined;
    type = nonNull[0];
  }
  if (type === undefined && Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every((v) => typeof v === 'string')) type = 'string';
  switch (type) {
    case 'string':
      return { kind: 'String' };
    case 'integer':
      return { kind: 'Long' };
    case 'number':
      return { kind: 'decimal' };
    case 'boolean':
      return { kind: 'Bool' };
    case 'array': {
      const element = cedarTypeOf(s.items, depth + 1);
      return element ? { kind: 'Set', element } : undefined;
    }
    case 'object': {
      const props = s.properties;
      if (!props || typeof props !== 'object') return undefined;
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      const attrs: Record<string, { type: CedarType; required: boolean }> = {};
      for (const [name, sub] of Object.entries(props as Record<string, unknown>)) {
        const t = cedarTypeOf(sub, depth + 1);
        if (t) attrs[name] = { type: t, required: required.has(name) };
      }
      return { kind: 'Record', attrs };
    }
    default:
      return undefined;
  }
}

/** Cedar schema syntax for a type. Attribute names are always quoted, so any JSON name works. */
export function renderCedarType(t: CedarType): string {
  switch (t.kind) {
    case 'String':
    case 'Long':
    case 'Bool':
    case 'decimal':
      return t.kind;
    case 'Set':
      return `Set<${renderCedarType(t.element)}>`;
    case 'Record': {
      const parts = Object.entries(t.attrs).map(([k, a]) => `${JSON.stringify(k)}${a.required ? '' : '?'}: ${renderCedarType(a.type)}`);
      return `{ ${parts.join(', ')} }`;
    }
  }
}

export class ArgTypeError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
  ) {
    super(`argument ${q(path)}: expected ${expected}`);
  }
}

const MAX_DECIMAL = 922337203685477;

function toDecimal(n: number, path: string): CedarValueJson {
  if (!Number.isFinite(n) || Math.abs(n) > MAX_DECIMAL) throw new ArgTypeError(path, 'a number within Cedar decimal range');
  const fixed = n.toFixed(4);
  if (Number(fixed) !== n) throw new ArgTypeError(path, 'a number with at most 4 decimal places');
  return { __extn: { fn: 'decimal', arg: fixed } };
}

/**
 * Converts a JSON value to the Cedar JSON of `type`. Attributes the type does not know are
 * dropped (policies cannot name them: validation forbids it); a value of the wrong type throws.
 */
export function toCedarValue(type: CedarType, value: unknown, path: string): CedarValueJson {
  switch (type.kind) {
    case 'String':
      if (typeof value !== 'string') throw new ArgTypeError(path, 'a string');
      return value;
    case 'Long':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ArgTypeError(path, 'an integer');
      return value;
    case 'Bool':
      if (typeof value !== 'boolean') throw new ArgTypeError(path, 'a boolean');
      return value;
    case 'decimal':
      if (typeof value !== 'number') throw new ArgTypeError(path, 'a number');
      return toDecimal(value, path);
    case 'Set':
      if (!Array.isArray(value)) throw new ArgTypeError(path, 'an array');
      return value.map((v, i) => toCedarValue(type.element, v, `${path}[${i}]`));
    case 'Record': {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ArgTypeError(path, 'an object');
      const out: Record<string, CedarValueJson> = {};
      const obj = value as Record<string, unknown>;
      for (const [k, a] of Object.entries(type.attrs)) {
        const v = obj[k];
        if (v === undefined || v === null) {
          if (a.required) throw new ArgTypeError(path ? `${path}.${k}` : k, `a value (required)`);
          continue;
        }
        out[k] = toCedarValue(a.type, v, path ? `${path}.${k}` : k);
      }
      return out;
    }
  }
}

/** Plain JSON (AuthZEN properties and context) to Cedar JSON without a schema. */
export function jsonToCedar(value: unknown, path: string): CedarValueJson | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    return toDecimal(value, path);
  }
  if (Array.isArray(value)) {
    const out: CedarValueJson[] = [];
    value.forEach((v, i) => {
      const c = jsonToCedar(v, `${path}[${i}]`);
      if (c !== undefined) out.push(c);
    });
    return out;
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // An explicit Cedar entity reference or extension value passes through unchanged.
    if ('__entity' in obj || '__extn' in obj) return obj as CedarValueJson;
    const out: Record<string, CedarValueJson> = {};
    for (const [k, v] of Object.entries(obj)) {
      const c = jsonToCedar(v, path ? `${path}.${k}` : k);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  return undefined;
}
