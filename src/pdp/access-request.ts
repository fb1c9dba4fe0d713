// AuthZEN Access Request and Approval Profile (draft 1), same-service deployment: Mandate is both
// the PDP and the Access Request Service. An `approval_required` outcome is a requestable denial
// (`decision: false` with `context.access_request`: `expires_at` and a PDP-signed JWS
// `binding_token`); the PEP submits it to `/access/v1/requests`, polls the task, and re-evaluates
// with `context.approval` so the PDP stays authoritative: the approval counts only for exactly the
// request it was given for, under the policy version that asked, once (stricter than the draft,
// which lets an approval cover repeats until `approved_until`), and never against a plain deny.

import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import type { ApprovalService } from '../approvals/approval-service.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { Clock } from '../core/clock.js';
import { sha256Hex } from '../core/hash.js';
import { newId } from '../core/ids.js';
import type { SigningKeys } from '../identity/signing-keys.js';
import type { Decision } from '../policy/engine.js';
import type { Approval } from '../storage/types.js';

export const ACCESS_REQUEST_CAPABILITY = 'urn:openid:authzen:capability:access-request';
const ERR = 'urn:openid:authzen:access-request:error:';
const BINDING_TYP = 'authzen-denial+jwt';
/** Members of `context` that are profile machinery or volatile, never bound. */
const MACHINERY = new Set(['access_request', 'evaluation_id', 'evaluated_at', 'reason', 'approval', 'time']);
/** Clock-skew tolerance on the denial deadline (the draft suggests about 30 s). */
const SKEW_MS = 30_000;

export interface EvalLike {
  subject: { type: string; id: string; properties?: Record<string, unknown> | undefined };
  resource: { type: string; id: string; properties?: Record<string, unknown> | undefined };
  action: { name: string; properties?: Record<string, unknown> | undefined };
  context?: Record<string, unknown> | undefined;
}

/** An RFC 9457 problem with one of the profile's error types. */
export class AccessRequestProblem extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
  }
  body() {
    return { type: this.kind.includes(':') ? this.kind : `${ERR}${this.kind}`, title: this.title, status: this.status, detail: this.message };
  }
}

const entity = z.object({ type: z.string().min(1), id: z.string().min(1), properties: z.record(z.string(), z.unknown()).optional() }).loose();
export const submissionSchema = z
  .object({
    subject: entity,
    resource: entity,
    action: z.object({ name: z.string().min(1), properties: z.record(z.string(), z.unknown()).optional() }).loose(),
    context: z.record(z.string(), z.unknown()).optional(),
    denial: z
      .object({
        expires_at: z.string().min(1),
        binding_token: z.string().min(1).optional(),
        evaluation_id: z.string().optional(),
        evaluated_at: z.string().optional(),
        reason: z.string().optional(),
        template: z.string().optional(),
      })
      .loose(),
  })
  .loose();
export type Submission = z.infer<typeof submissionSchema>;

/** The bound view of a request: subject without `properties.act`, and only the relevant context. */
function bound(r: EvalLike, members?: string[]) {
  const ctx = r.context ?? {};
  const names = members ?? Object.keys(ctx).filter((k) => !MACHINERY.has(k)).sort();
  const context: Record<string, unknown> = {};
  for (const k of names) if (k in ctx) context[k] = ctx[k];
  const props = r.subject.properties ? { ...r.subject.properties } : undefined;
  if (props) delete props.act;
  const subject = { type: r.subject.type, id: r.subject.id, ...(props && Object.keys(props).length ? { properties: props } : {}) };
  const resource = { type: r.resource.type, id: r.resource.id, ...(r.resource.properties ? { properties: r.resource.properties } : {}) };
  const action = { name: r.action.name, ...(r.action.properties ? { properties: r.action.properties } : {}) };
  return { subject, resource, action, context, members: names };
}

/** The action hash of an AuthZEN request: what an approval covers. */
export function authzenActionHash(r: EvalLike, policyVersion: string, members?: string[]): string {
  const b = bound(r, members);
  return sha256Hex(canonicalJson({ authzen: { subject: b.subject, resource: b.resource, action: b.action, context: b.context }, policyVersion }));
}

/** The context a PDP evaluates: without the profile's machinery. */
export function evaluationContext(ctx: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!ctx) return ctx;
  if (!('approval' in ctx) && !('access_request' in ctx)) return ctx;
  const { approval: _a, access_request: _r, ...rest } = ctx;
  return rest;
}

export interface AccessRequestDeps {
  keys: SigningKeys;
  approvals: ApprovalService;
  clock: Clock;
  endpoint: () => string;
  issuer: () => string;
  /** How long a requestable denial can be submitted, in seconds. */
  windowSeconds: number;
}

export class AccessRequests {
  constructor(private readonly d: AccessRequestDeps) {}

  /** `context` additions that make an `approval_required` denial requestable. */
  async requestable(req: EvalLike, decision: Decision): Promise<Record<string, unknown>> {
    const now = this.d.clock.now();
    const expires = now + this.d.windowSeconds * 1000;
    const b = bound(req);
    const key = this.d.keys.current;
    const approval = decision.approval ?? { policyIds: decision.policyIds, approvers: ['owner'], quorum: 1 };
    const token = await new SignJWT({
      evaluation_id: decision.id,
      subject: b.subject,
      resource: b.resource,
      action: b.action,
      context: b.context,
      binding_context_members: b.members,
      denial_expires_at: new Date(expires).toISOString(),
      mandate: { policy_version: decision.policyVersion, policy_ids: approval.policyIds, approvers: approval.approvers, quorum: approval.quorum, reason: decision.reasons.join('; ') },
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: BINDING_TYP })
      .setIssuer(this.d.issuer())
      .setAudience(this.d.endpoint())
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(expires / 1000))
      .setJti(newId('bnd', now))
      .sign(key.privateKey);
    return {
      evaluation_id: decision.id,
      evaluated_at: new Date(now).toISOString(),
      reason: 'approval_required',
      access_request: { endpoint: this.d.endpoint(), expires_at: new Date(expires).toISOString(), binding_token: token },
    };
  }

  /** POST /access/v1/requests: verify the binding, then open (or find) the approval task. */
  async submit(body: Submission, requester: string): Promise<{ status: 201 | 200; approval: Approval }> {
    const now = this.d.clock.now();
    if (!body.denial.binding_token) {
      throw new AccessRequestProblem(400, 'invalid_denial_binding', 'Invalid denial binding', 'this PDP binds denials by `binding_token`: submit the token from `context.access_request.binding_token` unchanged');
    }
    let claims: Record<string, unknown>;
    try {
      const { payload } = await jwtVerify(
        body.denial.binding_token,
        async (h) => {
          const k = this.d.keys.byKid(h.kid);
          if (!k) throw new Error('signed by an unknown key');
          return k.publicKey;
        },
        { issuer: this.d.issuer(), audience: this.d.endpoint(), typ: BINDING_TYP, algorithms: ['ES256'], currentDate: new Date(now), clockTolerance: SKEW_MS / 1000, requiredClaims: ['exp', 'iat', 'jti', 'aud'] },
      );
      claims = payload as Record<string, unknown>;
    } catch (err) {
      const msg = (err as Error).message;
      if (/"exp" claim timestamp check failed/.test(msg)) throw new AccessRequestProblem(410, 'expired_denial', 'Denial expired', 'the requestable denial has expired: evaluate again to get a fresh one');
      throw new AccessRequestProblem(400, 'invalid_denial_binding', 'Invalid denial binding', `binding_token does not verify: ${msg}`);
    }
    const deadline = Date.parse(body.denial.expires_at);
    if (!Number.isFinite(deadline)) throw new AccessRequestProblem(400, 'invalid_denial_binding', 'Invalid denial binding', '`denial.expires_at` is not an RFC 3339 timestamp');
    if (claims.denial_expires_at !== new Date(deadline).toISOString() && claims.denial_expires_at !== body.denial.expires_at) {
      throw new AccessRequestProblem(400, 'invalid_denial_binding', 'Invalid denial binding', '`denial.expires_at` does not match the bound denial');
    }
    if (Math.min(deadline, Number(claims.exp) * 1000) + SKEW_MS < now) throw new AccessRequestProblem(410, 'expired_denial', 'Denial expired', 'the requestable denial has expired: evaluate again');
    const members = Array.isArray(claims.binding_context_members) ? (claims.binding_context_members as string[]) : [];
    const got = bound(body as EvalLike, members);
    const want = { subject: claims.subject, resource: claims.resource, action: claims.action, context: claims.context };
    for (const part of ['subject', 'resource', 'action', 'context'] as const) {
      if (canonicalJson(got[part]) !== canonicalJson(want[part])) {
        throw new AccessRequestProblem(400, 'invalid_denial_binding', 'Invalid denial binding', `the submitted ${part} differs from the denied request`);
      }
    }
    const m = (claims.mandate ?? {}) as { policy_version?: string; policy_ids?: string[]; approvers?: string[]; quorum?: number; reason?: string };
    const policyVersion = String(m.policy_version ?? '');
    const hash = authzenActionHash(body as EvalLike, policyVersion, members);
    const { approval, created } = await this.d.approvals.forAuthzen({
      hash,
      subjectId: body.subject.id,
      requester,
      request: { subject: got.subject, resource: got.resource, action: got.action, context: got.context },
      reason: m.reason ?? 'policy requires approval',
      policyIds: m.policy_ids ?? [],
      policyVersion,
      approvers: m.approvers ?? ['owner'],
      quorum: m.quorum ?? 1,
      data: { evaluationId: claims.evaluation_id ?? null, members, justification: (body.context ?? {}).business_justification ?? null },
    });
    return { status: created ? 201 : 200, approval };
  }

  /** The task view of an approval (`GET /access/v1/requests/{id}`). */
  task(a: Approval) {
    const statusEndpoint = `${this.d.endpoint()}/${a.id}`;
    const status = a.status === 'used' ? 'approved' : a.status;
    const task = { id: a.id, status, status_endpoint: statusEndpoint, expires_at: new Date(a.expiresAt).toISOString() };
    if (status !== 'approved') return { task };
    return {
      task,
      result: { mode: 'reevaluate', approval: { id: a.id, ...(a.decidedAt ? { approved_at: new Date(a.decidedAt).toISOString() } : {}), approved_until: new Date(a.expiresAt).toISOString() } },
    };
  }

  /**
   * Re-evaluation with `context.approval`: an `approval_required` decision becomes `true` only if
   * the approval is an approved AuthZEN approval for exactly this request under this policy
   * version; it is then used up. Returns the AuthZEN answer, or null when no approval applies.
   */
  async reevaluate(req: EvalLike, decision: Decision, approvalRef: unknown): Promise<{ decision: boolean; context: Record<string, unknown> } | null> {
    if (!approvalRef || typeof approvalRef !== 'object') return null;
    const id = (approvalRef as { id?: unknown }).id;
    if (typeof id !== 'string') return null;
    const refuse = async (reason: string, next: 'request' | 'retry' | 'none', detail: string) => {
      const context: Record<string, unknown> = { id: decision.id, reason, reason_admin: { en: detail }, next_action: next };
      if (next === 'retry') context.retry_after = 5;
      if (next === 'request' && decision.decision === 'approval_required') Object.assign(context, await this.requestable(req, decision));
      return { decision: false, context: { ...context, reason } };
    };
    if (decision.decision === 'deny') return refuse('policy_denied', 'none', `policy denies this request (${decision.reasons.join('; ')}); an approval cannot override it`);
    if (decision.decision === 'allow') return null;
    let a: Approval;
    try {
      a = await this.d.approvals.get(id);
    } catch {
      return refuse('approval_unverifiable', 'none', `approval ${id} is unknown`);
    }
    if (a.kind !== 'authzen') return refuse('approval_unverifiable', 'none', `approval ${id} is not an access-request approval`);
    if (a.status === 'pending') return refuse('grant_pending', 'retry', `approval ${id} is still pending`);
    if (a.status === 'denied') return refuse('policy_denied', 'none', `approval ${id} was denied`);
    if (a.status !== 'approved') return refuse('approval_expired', 'request', `approval ${id} is ${a.status}${a.status === 'used' ? ' (single use)' : ''}`);
    const members = Array.isArray(a.data.members) ? (a.data.members as string[]) : undefined;
    const hash = authzenActionHash(req, decision.policyVersion, members);
    if (hash !== a.actionHash) return refuse('out_of_scope', 'request', `approval ${id} covers another request (or an older policy version)`);
    if (!(await this.d.approvals.consume(a, hash))) return refuse('approval_expired', 'request', `approval ${id} was used or expired meanwhile`);
    return { decision: true, context: { id: decision.id, approval: { id: a.id, approved_until: new Date(a.expiresAt).toISOString() }, reason_admin: { en: `approved by ${a.decisions.filter((x) => x.decision === 'approve').map((x) => x.by).join(', ')}` } } };
  }
}
