// docs/configuration.md cannot drift from the config schema: every key the schema accepts is
// described there, every key described there exists, and the documented defaults are the real ones.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { defaults } from './defaults.js';
import { configSchema, fileSinkSchema, httpSinkSchema, secretSourceSchema, taskTemplateSchema, toolConfigSchema, upstreamConfigSchema } from './schema.js';

const DOC = readFileSync(join(import.meta.dirname, '../../docs/configuration.md'), 'utf8');

/** Every key path of an object schema (through defaults, optionals and refinements). */
function keyPaths(schema: z.ZodType, prefix: string, out: string[] = []): string[] {
  let s: unknown = schema;
  for (let i = 0; i < 10; i++) {
    const def = (s as { _zod?: { def?: { type?: string; innerType?: unknown; in?: unknown; schema?: unknown } } })._zod?.def;
    if (!def || def.type === 'object') break;
    s = def.innerType ?? def.in ?? def.schema;
    if (!s) return out;
  }
  const shape = (s as { _zod?: { def?: { shape?: Record<string, z.ZodType> } } })._zod?.def?.shape;
  if (!shape) return out;
  for (const [k, v] of Object.entries(shape)) {
    out.push(`${prefix}${k}`);
    keyPaths(v, `${prefix}${k}.`, out);
  }
  return out;
}

const schemaKeys = [
  ...keyPaths(configSchema, '').filter((k) => k !== 'upstreams' && k !== 'secrets'),
  'secrets',
  ...keyPaths(secretSourceSchema, 'secrets.<name>.'),
  'upstreams',
  ...keyPaths(upstreamConfigSchema, 'upstreams.<name>.'),
  ...keyPaths(toolConfigSchema, 'upstreams.<name>.tools.<tool>.'),
  ...keyPaths(taskTemplateSchema, 'taskTemplates.<id>.'),
  ...keyPaths(fileSinkSchema, 'audit.sinks.<name>.'),
  ...keyPaths(httpSinkSchema, 'audit.sinks.<name>.'),
];
/** Keys that are tables' rows: `| \`key\` | default | meaning |`. */
const documented = [...DOC.matchAll(/^\| `([^`]+)` \| ([^|]*) \|/gm)].map((m) => ({ key: m[1]!, default: m[2]!.trim() }));

describe('docs/configuration.md', () => {
  it('describes every key the config schema accepts', () => {
    const missing = schemaKeys.filter((k) => !DOC.includes(`\`${k}\``) && !['server', 'store', 'storage', 'secrets', 'vault', 'tasks', 'credentials', 'identity', 'policies', 'authzen', 'gateway', 'approvals', 'logging', 'upstreams', 'oauth'].includes(k));
    expect(missing).toEqual([]);
  });

  it('describes no key the schema does not have', () => {
    const known = new Set(schemaKeys);
    expect(documented.map((d) => d.key).filter((k) => !known.has(k))).toEqual([]);
  });

  it('gives the real defaults', () => {
    const flat: Record<string, unknown> = {};
    const walk = (o: Record<string, unknown>, prefix: string) => {
      for (const [k, v] of Object.entries(o)) {
        if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, `${prefix}${k}.`);
        else flat[`${prefix}${k}`] = v;
      }
    };
    walk(defaults as unknown as Record<string, unknown>, '');
    const wrong = documented
      .filter((d) => d.key in flat && flat[d.key] !== undefined)
      .map((d) => ({ key: d.key, documented: d.default, real: flat[d.key] }))
      .filter(({ documented: doc, real }) => {
        const shown = Array.isArray(real) ? `[${real.join(', ')}]` : String(real);
        return doc.replaceAll('`', '') !== shown;
      });
    expect(wrong).toEqual([]);
  });
});
