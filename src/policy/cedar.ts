// The only file that imports cedar-wasm. Everything Cedar-shaped in Mandate goes through here,
// so an upgrade (or a move to a native binding) touches one file.

import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';

// Node 20's V8 crashed (a fatal error, not an exception) when it lazily deoptimised optimised
// code into which a JS→Wasm call was inlined — seen here with a few thousand Cedar calls.
// Not inlining those calls costs nothing measurable; it must be set before any call is optimised.
// Checked again on 2026-12-02 without the flag: 400,000 varied decisions and the decisions
// benchmark ran clean on Node 20.20.2 and on 24.21.0, so no version is known to need it now;
// it stays on every version because it is free and the crash was never explained upstream.
setFlagsFromString('--no-turbo-inline-js-wasm-calls');

// Loaded through `require` so that a trapped instance can be thrown away and a fresh one loaded:
// after a Wasm trap (a stack overflow on a hostile input, say) the instance's memory may be
// corrupt, and no decision may ever run on it.
const require = createRequire(import.meta.url);
const WASM_MODULE = require.resolve('@cedar-policy/cedar-wasm/nodejs');
let wasm = require(WASM_MODULE) as typeof CedarWasm;
let generation = 0;

/** Changes each time the Wasm instance is replaced (everything preparsed into the old one is gone). */
export const wasmGeneration = (): number => generation;

/** Cedar trapped: the instance was replaced and the call failed; it is safe to call again. */
export class CedarTrapError extends Error {}

const WasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly.RuntimeError;

function isTrap(err: unknown): boolean {
  return err instanceof WasmRuntimeError || err instanceof RangeError;
}

/** Replaces the Wasm instance with a fresh one. */
export function reinstantiateCedar(): void {
  delete require.cache[WASM_MODULE];
  wasm = require(WASM_MODULE) as typeof CedarWasm;
  generation++;
}

/** Every call into Cedar: a trap replaces the instance and fails this call, never later ones. */
function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!isTrap(err)) throw err;
    reinstantiateCedar();
    throw new CedarTrapError(`Cedar could not evaluate this ${what} (${(err as Error).message}); the policy engine was restarted`, { cause: err });
  }
}

export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
  EntityUidJson,
  PolicyJson,
  SchemaJson,
} from '@cedar-policy/cedar-wasm/nodejs';

export const cedarVersion = (): string => guarded('version query', () => wasm.getCedarVersion());

export function splitPolicySet(text: string): { ok: true; policies: string[]; templates: string[] } | { ok: false; errors: CedarWasm.DetailedError[] } {
  const r = guarded('policySetTextToParts', () => wasm.policySetTextToParts(text));
  if (r.type === 'failure') return { ok: false, errors: r.errors };
  return { ok: true, policies: r.policies, templates: r.policy_templates };
}

export function checkParsePolicySet(text: string): CedarWasm.DetailedError[] {
  const r = guarded('checkParsePolicySet', () => wasm.checkParsePolicySet({ staticPolicies: text }));
  return r.type === 'failure' ? r.errors : [];
}

export function policyToJson(text: string): { ok: true; json: CedarWasm.PolicyJson } | { ok: false; errors: CedarWasm.DetailedError[] } {
  const r = guarded('policyToJson', () => wasm.policyToJson(text));
  return r.type === 'success' ? { ok: true, json: r.json } : { ok: false, errors: r.errors };
}

export function schemaToJson(text: string): { ok: true; json: CedarWasm.SchemaJson<string> } | { ok: false; errors: CedarWasm.DetailedError[] } {
  const r = guarded('schemaToJson', () => wasm.schemaToJson(text));
  return r.type === 'success' ? { ok: true, json: r.json } : { ok: false, errors: r.errors };
}

export interface ValidationIssue {
  policyId: string;
  error: CedarWasm.DetailedError;
}

export function validatePolicies(schema: string, policies: Record<string, string>): { errors: ValidationIssue[]; warnings: ValidationIssue[]; other: CedarWasm.DetailedError[] } {
  const r = guarded('validate', () => wasm.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } }));
  if (r.type === 'failure') return { errors: [], warnings: [], other: r.errors };
  return { errors: r.validationErrors, warnings: r.validationWarnings, other: [] };
}

/** Parses a policy set once into Wasm memory under `id` (replacing what was there). */
export function preparse(id: string, policies: Record<string, CedarWasm.PolicyJson | string>): CedarWasm.DetailedError[] {
  const r = guarded('preparsePolicySet', () => wasm.preparsePolicySet(id, { staticPolicies: policies }));
  return r.type === 'failure' ? r.errors : [];
}

export interface CedarCall {
  principal: CedarWasm.EntityUidJson;
  action: CedarWasm.EntityUidJson;
  resource: CedarWasm.EntityUidJson;
  context: Record<string, CedarWasm.CedarValueJson>;
  entities: CedarWasm.EntityJson[];
}

export function isAuthorizedPreparsed(setId: string, call: CedarCall): CedarWasm.AuthorizationAnswer {
  return guarded('request', () => wasm.statefulIsAuthorized({ ...call, preparsedPolicySetId: setId }));
}

/** Partial evaluation: the given policies, with `unknown(...)` values in the request. Null decision = depends on the unknowns. */
export function isAuthorizedPartialWith(policies: Record<string, CedarWasm.PolicyJson>, call: CedarCall): { decision: 'allow' | 'deny' | null; errors: string[] } {
  const r = guarded('isAuthorizedPartial', () => wasm.isAuthorizedPartial({ ...call, policies: { staticPolicies: policies } }));
  if (r.type === 'failure') return { decision: 'deny', errors: r.errors.map((e) => e.message) };
  return { decision: r.response.decision, errors: [] };
}
