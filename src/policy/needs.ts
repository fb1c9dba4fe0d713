// Which attributes a policy reads from principal, resource and context. A decision passes Cedar
// only those (marshalling into Wasm is the main cost), and the decision cache keys on them, so
// inputs no policy reads (a timestamp, an unused attribute) neither cost time nor defeat the cache.

import type { PolicyJson } from './cedar.js';

export type Need = Set<string> | 'all';

export interface Needs {
  principal: Need;
  resource: Need;
  context: Need;
}

const VARS = ['principal', 'resource', 'context'] as const;
type VarName = (typeof VARS)[number];

export function emptyNeeds(): Needs {
  return { principal: new Set(), resource: new Set(), context: new Set() };
}

function add(needs: Needs, v: VarName, attr: string | 'all'): void {
  const cur = needs[v];
  if (cur === 'all') return;
  if (attr === 'all') needs[v] = 'all';
  else cur.add(attr);
}

function varOf(e: unknown): VarName | null {
  const v = (e as { Var?: string } | null)?.Var;
  return v === 'principal' || v === 'resource' || v === 'context' ? v : null;
}

function walk(e: unknown, needs: Needs): void {
  if (!e || typeof e !== 'object') return;
  if (Array.isArray(e)) {
    for (const x of e) walk(x, needs);
    return;
  }
  const node = e as Record<string, unknown>;
  // `v.attr` and `v has attr` (or `v has a.b`, whose first step is what matters here)
  for (const op of ['.', 'has'] as const) {
    const inner = node[op] as { left?: unknown; attr?: string | string[] } | undefined;
    if (inner && typeof inner === 'object' && 'left' in inner) {
      const v = varOf(inner.left);
      if (v) {
        const attr = Array.isArray(inner.attr) ? inner.attr[0] : inner.attr;
        add(needs, v, typeof attr === 'string' ? attr : 'all');
        return;
      }
    }
  }
  // Tags read entity data too.
  for (const op of ['getTag', 'hasTag'] as const) {
    const inner = node[op] as { left?: unknown } | undefined;
    const v = inner ? varOf(inner.left) : null;
    if (v) add(needs, v, 'all');
  }
  // `context` used whole (compared, passed along): it needs everything.
  if (node.Var === 'context') add(needs, 'context', 'all');
  for (const [k, child] of Object.entries(node)) if (k !== 'Var') walk(child, needs);
}

export function policyNeeds(p: PolicyJson): Needs {
  const needs = emptyNeeds();
  for (const c of p.conditions) walk(c.body, needs);
  return needs;
}

export function mergeNeeds(into: Needs, from: Needs): void {
  for (const v of VARS) {
    const f = from[v];
    if (f === 'all') into[v] = 'all';
    else for (const a of f) add(into, v, a);
  }
}

export function pick<T extends Record<string, unknown>>(obj: T, need: Need): T {
  if (need === 'all') return obj;
  const out: Record<string, unknown> = {};
  for (const k of need) if (k in obj) out[k] = obj[k];
  return out as T;
}
