// Cedar decisions, fast as policy sets grow. Policies are indexed by their scope (action,
// principal, resource), so a request evaluates only the slice whose scope can match it — the
// same answer Cedar would give over the whole set, since a policy whose scope does not match
// is never satisfied. Each distinct slice is parsed into Wasm once; identical requests under
// the same policy version reuse their decision. Deny by default; an erroring forbid fails closed.

import { newId } from '../core/ids.js';
import { Lru } from '../core/lru.js';
import { CedarTrapError, isAuthorizedPartialWith, isAuthorizedPreparsed, preparse, wasmGeneration, type CedarValueJson, type EntityJson, type PolicyJson } from './cedar.js';
import type { CompiledPolicies, PolicyInfo } from './compile.js';
import { emptyNeeds, mergeNeeds, pick, policyNeeds, type Needs } from './needs.js';

export interface EntityRef {
  type: string;
  id: string;
}

export interface DecisionRequest {
  principal: EntityRef;
  /** The Cedar action id (`startTask`, `fs.read_text_file`, `can_read_user` …). */
  action: string;
  resource: EntityRef;
  context: Record<string, CedarValueJson>;
  /** The entity slice: principal and resource with all their ancestors flattened into `parents`. */
  entities: EntityJson[];
}

export type DecisionOutcome = 'allow' | 'deny' | 'approval_required';

export interface ApprovalRequirement {
  policyIds: string[];
  /** Who may approve, from the policies' `@approval` annotations (`owner`, `role:<name>` …). */
  approvers: string[];
  /** Distinct approvers needed (`@quorum`), at least 1. */
  quorum: number;
}

export interface Decision {
  id: string;
  decision: DecisionOutcome;
  /** The policies that determined the outcome (permits for allow, forbids for deny). */
  policyIds: string[];
  reasons: string[];
  errors: Array<{ policyId: string; message: string }>;
  policyVersion: string;
  approval?: ApprovalRequirement;
  /** How many policies the request's slice held (what was actually evaluated). */
  evaluated: number;
}

interface Indexed {
  info: PolicyInfo;
  forbidWithApproval: boolean;
  needs: Needs;
}

interface Slice {
  entries: Indexed[];
  /** Sorted policy ids: identifies the slice. */
  key: string;
  needs: Needs;
}

type Level3 = Map<string, Indexed[]>;
type Level2 = Map<string, Level3>;

const uidKey = (type: string, id: string) => `${type}::${JSON.stringify(id)}`;
const ANY = '*';

function scopeKeys(c: PolicyJson['principal'] | PolicyJson['resource']): string[] {
  switch (c.op) {
    case 'All':
      return [ANY];
    case '==':
    case 'in': {
      if (!('entity' in c)) return [ANY];
      const e = c.entity as { type?: string; id?: string; __entity?: { type: string; id: string } };
      const ref = e.__entity ?? (e as { type: string; id: string });
      return [uidKey(ref.type, ref.id)];
    }
    case 'is': {
      if (c.in && 'entity' in c.in) {
        const e = c.in.entity as { type?: string; id?: string; __entity?: { type: string; id: string } };
        const ref = e.__entity ?? (e as { type: string; id: string });
        return [uidKey(ref.type, ref.id)];
      }
      return [`T:${c.entity_type}`];
    }
  }
}

function actionKeys(c: PolicyJson['action']): string[] {
  const idOf = (e: unknown) => {
    const x = e as { id?: string; __entity?: { id: string } };
    return x.__entity?.id ?? x.id ?? '';
  };
  switch (c.op) {
    case 'All':
      return [ANY];
    case '==':
      return 'entity' in c ? [idOf(c.entity)] : [ANY];
    case 'in':
      return 'entities' in c ? c.entities.map(idOf) : [idOf(c.entity)];
  }
}

function refOf(e: unknown): EntityRef {
  const x = e as { type?: string; id?: string; __entity?: EntityRef };
  return x.__entity ?? { type: x.type ?? '', id: x.id ?? '' };
}

/** Exact scope test in JS (the index may over-approximate for `is … in …`). */
function scopeMatches(c: PolicyJson['principal'], uid: EntityRef, ancestors: Set<string>): boolean {
  const self = uidKey(uid.type, uid.id);
  switch (c.op) {
    case 'All':
      return true;
    case '==':
      return 'entity' in c && uidKey(refOf(c.entity).type, refOf(c.entity).id) === self;
    case 'in': {
      if (!('entity' in c)) return true;
      const k = uidKey(refOf(c.entity).type, refOf(c.entity).id);
      return k === self || ancestors.has(k);
    }
    case 'is': {
      if (c.entity_type !== uid.type) return false;
      if (c.in && 'entity' in c.in) {
        const k = uidKey(refOf(c.in.entity).type, refOf(c.in.entity).id);
        return k === self || ancestors.has(k);
      }
      return true;
    }
  }
}

function actionMatches(c: PolicyJson['action'], action: string, ancestors: readonly string[]): boolean {
  if (c.op === 'All') return true;
  const ids = actionKeys(c);
  if (c.op === '==') return ids[0] === action;
  return ids.some((id) => id === action || ancestors.includes(id));
}

/** Wasm keeps preparsed sets until overwritten, so set ids come from a bounded, reused pool. */
const freeSlots: number[] = [];
let nextSlot = 0;
const takeSlot = () => freeSlots.pop() ?? nextSlot++;

export interface EngineOptions {
  /** Decision cache entries; 0 disables. */
  decisionCache?: number;
  /** Preparsed slice cache entries. */
  sliceCache?: number;
}

export class PolicyEngine {
  readonly version: string;
  private readonly index = new Map<string, Level2>();
  private readonly byId = new Map<string, Indexed>();
  private readonly slices: Lru<string, { slot: number; size: number }>;
  private readonly slots = new Set<number>();
  private readonly decisions: Lru<string, Omit<Decision, 'id'>> | null;
  private disposed = false;
  private generation = wasmGeneration();

  constructor(
    readonly compiled: CompiledPolicies,
    opts: EngineOptions = {},
  ) {
    this.version = compiled.version;
    this.decisions = (opts.decisionCache ?? 10_000) > 0 ? new Lru(opts.decisionCache ?? 10_000) : null;
    this.slices = new Lru(opts.sliceCache ?? 4096);
    for (const info of compiled.policies) {
      const entry: Indexed = { info, forbidWithApproval: info.effect === 'forbid' && info.annotations.approval !== undefined, needs: policyNeeds(info.json) };
      this.byId.set(info.id, entry);
      for (const a of actionKeys(info.json.action)) {
        let l2 = this.index.get(a);
        if (!l2) this.index.set(a, (l2 = new Map()));
        for (const p of scopeKeys(info.json.principal)) {
          let l3 = l2.get(p);
          if (!l3) l2.set(p, (l3 = new Map()));
          for (const r of scopeKeys(info.json.resource)) {
            const list = l3.get(r);
            if (list) list.push(entry);
            else l3.set(r, [entry]);
          }
        }
      }
    }
  }

  get policies(): PolicyInfo[] {
    return this.compiled.policies;
  }

  actionAncestors(action: string): string[] {
    return this.compiled.actionAncestors.get(action) ?? [];
  }

  /** The policies whose scope matches the request, in policy-set order. */
  slice(req: DecisionRequest): PolicyInfo[] {
    return this.sliceEntries(req).map((e) => e.info);
  }

  private sliceEntries(req: DecisionRequest): Indexed[] {
    const actionAnc = this.actionAncestors(req.action);
    const pAnc = ancestorKeys(req.entities, req.principal);
    const rAnc = ancestorKeys(req.entities, req.resource);
    const pKeys = [uidKey(req.principal.type, req.principal.id), ...pAnc, `T:${req.principal.type}`, ANY];
    const rKeys = [uidKey(req.resource.type, req.resource.id), ...rAnc, `T:${req.resource.type}`, ANY];
    const seen = new Set<Indexed>();
    for (const a of [req.action, ...actionAnc, ANY]) {
      const l2 = this.index.get(a);
      if (!l2) continue;
      for (const p of pKeys) {
        const l3 = l2.get(p);
        if (!l3) continue;
        for (const r of rKeys) {
          const list = l3.get(r);
          if (list) for (const e of list) seen.add(e);
        }
      }
    }
    const out: Indexed[] = [];
    for (const e of seen) {
      const j = e.info.json;
      if (
        actionMatches(j.action, req.action, actionAnc) &&
        scopeMatches(j.principal, req.principal, pAnc) &&
        scopeMatches(j.resource, req.resource, rAnc)
      ) {
        out.push(e);
      }
    }
    return out;
  }

  decide(req: DecisionRequest): Decision {
    if (this.disposed) throw new Error('policy engine was replaced; use the current one');
    const slice = this.sliceOf(req);
    // Only what the slice's policies read goes to Cedar and into the cache key.
    const trimmed = trim(req, slice.needs);
    const cacheKey = this.decisions ? JSON.stringify([slice.key, trimmed.principal, trimmed.action, trimmed.resource, trimmed.context, trimmed.entities]) : '';
    const cached = this.decisions?.get(cacheKey);
    if (cached) return { ...cached, id: newId('dec') };
    const generation = wasmGeneration();
    const decision = this.evaluate(slice.entries, trimmed);
    // A decision made while Cedar trapped is a transient deny: not cached.
    if (generation === wasmGeneration()) this.decisions?.set(cacheKey, decision);
    return { ...decision, id: newId('dec') };
  }

  /**
   * Could this request be allowed for *some* value of the context keys given as unknown (e.g. the
   * arguments of a call not made yet)? False only when policy denies it whatever they are.
   */
  couldAllow(req: DecisionRequest, unknownContextKeys: string[]): boolean {
    const slice = this.sliceOf(req);
    if (slice.entries.length === 0) return false;
    const context: Record<string, CedarValueJson> = { ...req.context };
    for (const k of unknownContextKeys) context[k] = { __extn: { fn: 'unknown', arg: k } };
    const trimmed = trim({ ...req, context }, slice.needs);
    const r = isAuthorizedPartialWith(Object.fromEntries(slice.entries.map((e) => [e.info.id, e.info.json])), {
      principal: trimmed.principal,
      action: { type: 'Action', id: trimmed.action },
      resource: trimmed.resource,
      context: trimmed.context,
      entities: withActionEntity(trimmed.entities, trimmed.action, this.actionAncestors(trimmed.action)),
    });
    return r.decision !== 'deny';
  }

  private sliceOf(req: DecisionRequest): Slice {
    const entries = this.sliceEntries(req);
    const key = entries
      .map((e) => e.info.id)
      .sort()
      .join('\n');
    const needs = emptyNeeds();
    for (const e of entries) mergeNeeds(needs, e.needs);
    return { entries, key, needs };
  }

  private evaluate(slice: Indexed[], req: DecisionRequest): Omit<Decision, 'id'> {
    const first = this.run(slice, req);
    if (first.decision === 'allow' || first.policyIds.length === 0) return first;
    // Denied by forbids: if every one of them is an approval gate, ask whether the request
    // would be allowed once they are lifted; only then is it approval_required.
    const determining = first.policyIds.map((id) => this.byId.get(id)!);
    if (!determining.every((e) => e.forbidWithApproval)) return first;
    const lifted = this.run(
      slice.filter((e) => !e.forbidWithApproval),
      req,
    );
    if (lifted.decision !== 'allow') return lifted;
    const approvers = [...new Set(determining.flatMap((e) => splitList(e.info.annotations.approval ?? 'owner')))];
    const quorum = Math.max(1, ...determining.map((e) => Number.parseInt(e.info.annotations.quorum ?? '1', 10) || 1));
    return {
      ...first,
      decision: 'approval_required',
      reasons: first.reasons,
      approval: { policyIds: first.policyIds, approvers, quorum },
    };
  }

  private run(slice: Indexed[], req: DecisionRequest): Omit<Decision, 'id'> {
    const base = { policyVersion: this.version, evaluated: slice.length };
    if (slice.length === 0) {
      return { ...base, decision: 'deny', policyIds: [], reasons: [defaultDenyReason(req)], errors: [] };
    }
    const ids = slice.map((e) => e.info.id).sort();
    let answer;
    try {
      const setId = this.preparsedSet(slice, ids.join('\n'));
      answer = isAuthorizedPreparsed(setId, {
        principal: req.principal,
        action: { type: 'Action', id: req.action },
        resource: req.resource,
        context: req.context,
        entities: withActionEntity(req.entities, req.action, this.actionAncestors(req.action)),
      });
    } catch (err) {
      // Cedar trapped (and was restarted): this request is denied, never decided on a broken instance.
      if (!(err instanceof CedarTrapError)) throw err;
      return { ...base, decision: 'deny', policyIds: [], reasons: [`policy evaluation failed: ${err.message}; denied`], errors: [{ policyId: '', message: err.message }] };
    }
    if (answer.type === 'failure') {
      // The request itself could not be evaluated (malformed entity data, say): nothing grants.
      return {
        ...base,
        decision: 'deny',
        policyIds: [],
        reasons: [`request could not be evaluated: ${answer.errors.map((e) => e.message).join('; ')}`],
        errors: answer.errors.map((e) => ({ policyId: '', message: e.message })),
      };
    }
    const { decision, diagnostics } = answer.response;
    const errors = diagnostics.errors.map((e) => ({ policyId: e.policyId, message: e.error.message }));
    const erroredForbids = errors.filter((e) => this.byId.get(e.policyId)?.info.effect === 'forbid');
    if (decision === 'allow' && erroredForbids.length) {
      // Cedar skips a policy that errors; for a forbid that would let the call through, so we fail closed.
      return {
        ...base,
        decision: 'deny',
        policyIds: erroredForbids.map((e) => e.policyId),
        reasons: erroredForbids.map((e) => `forbid policy ${this.describe(e.policyId)} could not be evaluated (${e.message}); failing closed`),
        errors,
      };
    }
    const policyIds = [...diagnostics.reason].sort();
    const reasons =
      decision === 'deny' && policyIds.length === 0
        ? [defaultDenyReason(req), ...errors.map((e) => `permit policy ${this.describe(e.policyId)} could not be evaluated: ${e.message}`)]
        : policyIds.map((id) => this.reasonOf(id, decision));
    return { ...base, decision, policyIds, reasons, errors };
  }

  private reasonOf(id: string, decision: 'allow' | 'deny'): string {
    const e = this.byId.get(id);
    const reason = e?.info.annotations.reason;
    const verb = decision === 'allow' ? 'permitted by' : 'forbidden by';
    return reason ? `${reason} (${verb} ${this.describe(id)})` : `${verb} ${this.describe(id)}`;
  }

  describe(id: string): string {
    const e = this.byId.get(id);
    return e ? `\`${id}\` (${e.info.file}:${e.info.line})` : `\`${id}\``;
  }

  policy(id: string): PolicyInfo | undefined {
    return this.byId.get(id)?.info;
  }

  private preparsedSet(slice: Indexed[], key: string): string {
    // The Wasm instance was replaced after a trap: everything preparsed into the old one is gone.
    if (this.generation !== wasmGeneration()) {
      this.generation = wasmGeneration();
      this.slices.clear();
    }
    const hit = this.slices.get(key);
    if (hit) return `s${hit.slot}`;
    if (this.slots.size >= 4096) {
      // Pool full: evict the least recently used slice and reuse its slot.
      this.slices.clear();
      for (const s of this.slots) freeSlots.push(s);
      this.slots.clear();
    }
    const slot = takeSlot();
    this.slots.add(slot);
    const errors = preparse(`s${slot}`, Object.fromEntries(slice.map((e) => [e.info.id, e.info.json])));
    if (errors.length) throw new Error(`policy slice failed to load: ${errors.map((e) => e.message).join('; ')}`);
    this.slices.set(key, { slot, size: slice.length });
    return `s${slot}`;
  }

  /** Frees this engine's Wasm slots for the engine that replaces it. */
  dispose(): void {
    this.disposed = true;
    for (const s of this.slots) freeSlots.push(s);
    this.slots.clear();
    this.slices.clear();
    this.decisions?.clear();
  }
}

/** The request with only the attributes and context keys the slice reads. */
function trim(req: DecisionRequest, needs: Needs): DecisionRequest {
  const entities = req.entities.map((e) => {
    const ref = refOf(e.uid);
    const need = ref.type === req.principal.type && ref.id === req.principal.id ? needs.principal : ref.type === req.resource.type && ref.id === req.resource.id ? needs.resource : 'all';
    return need === 'all' ? e : { uid: e.uid, attrs: pick(e.attrs, need), parents: e.parents };
  });
  return { ...req, context: pick(req.context, needs.context), entities };
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function ancestorKeys(entities: EntityJson[], uid: EntityRef): Set<string> {
  const out = new Set<string>();
  for (const e of entities) {
    const ref = refOf(e.uid);
    if (ref.type === uid.type && ref.id === uid.id) {
      for (const p of e.parents) {
        const pr = refOf(p);
        out.add(uidKey(pr.type, pr.id));
      }
    }
  }
  return out;
}

/** Without a schema at evaluation time Cedar knows no action groups, so the action entity carries them. */
function withActionEntity(entities: EntityJson[], action: string, ancestors: string[]): EntityJson[] {
  if (ancestors.length === 0) return entities;
  return [...entities, { uid: { type: 'Action', id: action }, attrs: {}, parents: ancestors.map((id) => ({ type: 'Action', id })) }];
}

function defaultDenyReason(req: DecisionRequest): string {
  return `no policy permits action \`${req.action}\` for ${req.principal.type} \`${req.principal.id}\` on ${req.resource.type} \`${req.resource.id}\` (deny by default)`;
}
