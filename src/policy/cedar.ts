// The only file that imports cedar-wasm. Everything Cedar-shaped in Mandate goes through here,
// so an upgrade (or a move to a native binding) touches one file.

import { setFlagsFromString } from 'node:v8';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';

// Node 20's V8 crashes (a fatal error, not an exception) when it lazily deoptimises optimised
// code into which a JS→Wasm call was inlined — reproducible here with a few thousand Cedar calls.
// Not inlining those calls costs nothing measurable; it must be set before any call is optimised.
setFlagsFromString('--no-turbo-inline-js-wasm-calls');

export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
  EntityUidJson,
  PolicyJson,
  SchemaJson,
} from '@cedar-policy/cedar-wasm/nodejs';

export const cedarVersion = (): string => wasm.getCedarVersion();

export function splitPolicySet(text: string): { ok: true; policies: string[]; templates: string[] } | { ok: false; errors: wasm.DetailedError[] } {
  const r = wasm.policySetTextToParts(text);
  if (r.type === 'failure') return { ok: false, errors: r.errors };
  return { ok: true, policies: r.policies, templates: r.policy_templates };
}

export function checkParsePolicySet(text: string): wasm.DetailedError[] {
  const r = wasm.checkParsePolicySet({ staticPolicies: text });
  return r.type === 'failure' ? r.errors : [];
}

export function policyToJson(text: string): { ok: true; json: wasm.PolicyJson } | { ok: false; errors: wasm.DetailedError[] } {
  const r = wasm.policyToJson(text);
  return r.type === 'success' ? { ok: true, json: r.json } : { ok: false, errors: r.errors };
}

export function schemaToJson(text: string): { ok: true; json: wasm.SchemaJson<string> } | { ok: false; errors: wasm.DetailedError[] } {
  const r = wasm.schemaToJson(text);
  return r.type === 'success' ? { ok: true, json: r.json } : { ok: false, errors: r.errors };
}

export interface ValidationIssue {
  policyId: string;
  error: wasm.DetailedError;
}

export function validatePolicies(schema: string, policies: Record<string, string>): { errors: ValidationIssue[]; warnings: ValidationIssue[]; other: wasm.DetailedError[] } {
  const r = wasm.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  if (r.type === 'failure') return { errors: [], warnings: [], other: r.errors };
  return { errors: r.validationErrors, warnings: r.validationWarnings, other: [] };
}

/** Parses a policy set once into Wasm memory under `id` (replacing what was there). */
export function preparse(id: string, policies: Record<string, wasm.PolicyJson | string>): wasm.DetailedError[] {
  const r = wasm.preparsePolicySet(id, { staticPolicies: policies });
  return r.type === 'failure' ? r.errors : [];
}

export interface CedarCall {
  principal: wasm.EntityUidJson;
  action: wasm.EntityUidJson;
  resource: wasm.EntityUidJson;
  context: Record<string, wasm.CedarValueJson>;
  entities: wasm.EntityJson[];
}

export function isAuthorizedPreparsed(setId: string, call: CedarCall): wasm.AuthorizationAnswer {
  return wasm.statefulIsAuthorized({ ...call, preparsedPolicySetId: setId });
}

/** Partial evaluation: the given policies, with `unknown(...)` values in the request. Null decision = depends on the unknowns. */
export function isAuthorizedPartialWith(policies: Record<string, wasm.PolicyJson>, call: CedarCall): { decision: 'allow' | 'deny' | null; errors: string[] } {
  const r = wasm.isAuthorizedPartial({ ...call, policies: { staticPolicies: policies } });
  if (r.type === 'failure') return { decision: 'deny', errors: r.errors.map((e) => e.message) };
  return { decision: r.response.decision, errors: [] };
}
