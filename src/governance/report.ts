// The framework report: for each item of OWASP's Agentic and Non-Human Identity Top 10s, the
// NIST AI RMF subcategories and CSA MAESTRO's layers, which Mandate controls address it and
// whether they are in force in THIS deployment — evaluated from the live configuration, the
// loaded policies, the tool catalogue and pins, and the registry — with evidence counted from
// the audit log over a window.
//
// The log is read once: the access review's paged pass (`buildReview`) hands every event to the
// collector here, which counts (and checks the window's hash links) without holding events, so a
// window of a million events costs one read. Everything else is a handful of store reads.
//
// A control's state: `on` (in force here), `partial` (in force with a weakness named in its
// summary), `off` (missing or failing here: a gap), `unknown` (cannot be evaluated from the
// deployment). An item's status: `gap` if any control it relies on is off; `partial` if one is
// partial or unknown, or if Mandate can only cover part of the item (`reach`); `addressed` when
// every control is on and the item is within Mandate's reach; `not_applicable` when it is not
// (with the reason).

import { recomputeHash } from '../audit/chain.js';
import { isSecretKey } from '../audit/redact.js';
import { MANDATE_VERSION } from '../core/version.js';
import type { ToolSpec } from '../core/tool.js';
import type { Mandate } from '../mandate.js';
import { agentEntity, toolEntity } from '../policy/mandate-entities.js';
import { GENESIS_HASH, type Agent, type AuditEvent } from '../storage/types.js';
import { CONTROLS, CONTROL_IDS, FRAMEWORKS, type ControlId, type Framework, type Reach } from './frameworks.js';
import { buildReview, type ApprovalStats, type FindingKind, type Review } from './review.js';

export type ControlState = 'on' | 'partial' | 'off' | 'unknown';
export type ItemStatus = 'addressed' | 'partial' | 'gap' | 'not_applicable';
export const ITEM_STATUSES: readonly ItemStatus[] = ['addressed', 'partial', 'gap', 'not_applicable'];

export interface Fact {
  label: string;
  value: string | number | boolean;
}

export interface ControlResult {
  id: ControlId;
  title: string;
  what: string;
  state: ControlState;
  /** One line: why this state, in this deployment. */
  summary: string;
  facts: Fact[];
}

export interface ItemResult {
  id: string;
  title: string;
  about: string;
  reach: Reach;
  status: ItemStatus;
  /** One line: why this status. */
  why: string;
  controls: Array<{ id: ControlId; title: string; state: ControlState }>;
  /** The controls that make it a gap. */
  gaps: ControlId[];
}

export interface FrameworkResult {
  id: Framework['id'];
  name: string;
  version: string;
  note: string | null;
  url: string;
  counts: Record<ItemStatus, number>;
  items: ItemResult[];
}

export type Bucket = 'hour' | 'day' | 'week';

export interface TimelinePoint {
  /** Start of the bucket (ms since the epoch, UTC). */
  start: number;
  allow: number;
  approval: number;
  deny: number;
}

export interface Evidence {
  /** Audit events read in the window (all of them: the pass is shared with the review). */
  eventsRead: number;
  /** Of those, the events about the agents this report covers (all events for a deployment-wide report). */
  eventsInScope: number;
  /** Decisions on tool calls (MCP and HTTP API enforcement points) and AuthZEN PDP evaluations. */
  decisions: { total: number; allow: number; approval: number; deny: number; wouldDeny: number; withUntrustedValues: number };
  timeline: { bucket: Bucket; bucketMs: number; points: TimelinePoint[] };
  denialsByReason: Array<{ reason: string; count: number }>;
  approvals: { asked: number; approved: number; denied: number; expired: number; used: number; byKind: Record<string, number>; forUntrustedValues: number; medianDecideMs: number | null; p90DecideMs: number | null };
  tasks: { started: number; denied: number; pendingApproval: number; delegated: number; delegationsDenied: number; revoked: number; expired: number; withBudgets: number; anyResource: number };
  agents: { suspended: number; retired: number; resumed: number };
  breakGlass: { requested: number; started: number };
  credentials: { issued: number; bearer: number; bearerInProduction: number };
  authFailures: number;
  credentialRefusals: number;
  adminTokenActions: number;
  chain: { ok: boolean; scope: 'window'; eventsChecked: number; linksChecked: number; linksNotChecked: number; broken: { seq: number; reason: string } | null; head: { seq: number; hash: string } | null };
}

export interface Report {
  kind: 'mandate.framework-report';
  schemaVersion: 1;
  generatedAt: number;
  window: { since: number; until: number };
  scope: { owner: string | null; agents: number; description: string };
  deployment: { mandateVersion: string; trustDomain: string; publicUrl: string | null; store: 'sqlite' | 'postgres'; policyVersion: string; policyVersionNumber: number | null; policies: number; upstreams: number; tools: number; agents: { active: number; suspended: number; retired: number } };
  summary: Record<ItemStatus, number>;
  controls: ControlResult[];
  frameworks: FrameworkResult[];
  evidence: Evidence;
  review: { agents: number; findings: Partial<Record<FindingKind, number>>; approvals: ApprovalStats };
}

export interface ReportOptions {
  since: number;
  until: number;
  /** Only the agents of this owner (a person's own report); null: the whole deployment. */
  owner?: string | null | undefined;
  /** An agent with no task for this many days is stale (as in the review). */
  staleDays?: number | undefined;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
const HIGH_RISK = new Set(['destructive', 'admin', 'egress']);
const MAX_REASONS = 100;

/** Environment names treated as production: `prod…`, `production`, `live`. */
export const isProductionLike = (env: string) => /^(prod|live$)/i.test(env.trim());

const loopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

/** A denial's reason, grouped: the deciding policies and the reason with the specifics taken out. */
export function reasonKey(policyIds: unknown, reasons: unknown): string {
  const ids = Array.isArray(policyIds) ? policyIds.filter((x): x is string => typeof x === 'string') : [];
  const first = Array.isArray(reasons) && typeof reasons[0] === 'string' ? reasons[0] : '';
  if (/deny by default/.test(first)) return 'no policy permits it (deny by default)';
  const generic = first
    .replace(/\s*\(decision [^)]*\)/g, '')
    .replace(/\s*\(?(?:forbidden|permitted) by `[^`]*`.*$/, '')
    .replace(/`[^`]*`/g, '`…`')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
  if (ids.length) return generic ? `${ids.join(', ')} — ${generic}` : ids.join(', ');
  return generic || 'unspecified';
}

/** Hourly buckets for windows up to two days, daily up to 120 days, then weekly (at most ~400 buckets). */
export function bucketOf(since: number, until: number): { bucket: Bucket; bucketMs: number; first: number; count: number } {
  const span = Math.max(1, until - since);
  const bucket: Bucket = span <= 2 * DAY ? 'hour' : span <= 120 * DAY ? 'day' : 'week';
  let bucketMs = bucket === 'hour' ? HOUR : bucket === 'day' ? DAY : 7 * DAY;
  if (span / bucketMs > 400) bucketMs = Math.ceil(span / 400 / DAY) * DAY;
  const first = Math.floor(since / (bucket === 'hour' ? HOUR : DAY)) * (bucket === 'hour' ? HOUR : DAY);
  return { bucket, bucketMs, first, count: Math.max(1, Math.ceil((until - first) / bucketMs)) };
}

/** Counts the evidence from each event of the window, once, in seq order; holds no events. */
class EvidenceCollector {
  readonly e: Evidence;
  private readonly reasons = new Map<string, number>();
  private readonly untrustedApprovals = new Set<string>();
  private readonly tl: ReturnType<typeof bucketOf>;
  private lastSeq: number | null = null;
  private lastHash = '';
  private firstSeq: number | null = null;
  private firstPrev = '';

  constructor(
    window: { since: number; until: number },
    /** Agents in scope, or null for all events. */
    private readonly agents: Set<string> | null,
    private readonly environmentOf: Map<string, string>,
  ) {
    this.tl = bucketOf(window.since, window.until);
    this.e = {
      eventsRead: 0,
      eventsInScope: 0,
      decisions: { total: 0, allow: 0, approval: 0, deny: 0, wouldDeny: 0, withUntrustedValues: 0 },
      timeline: { bucket: this.tl.bucket, bucketMs: this.tl.bucketMs, points: Array.from({ length: this.tl.count }, (_, i) => ({ start: this.tl.first + i * this.tl.bucketMs, allow: 0, approval: 0, deny: 0 })) },
      denialsByReason: [],
      approvals: { asked: 0, approved: 0, denied: 0, expired: 0, used: 0, byKind: {}, forUntrustedValues: 0, medianDecideMs: null, p90DecideMs: null },
      tasks: { started: 0, denied: 0, pendingApproval: 0, delegated: 0, delegationsDenied: 0, revoked: 0, expired: 0, withBudgets: 0, anyResource: 0 },
      agents: { suspended: 0, retired: 0, resumed: 0 },
      breakGlass: { requested: 0, started: 0 },
      credentials: { issued: 0, bearer: 0, bearerInProduction: 0 },
      authFailures: 0,
      credentialRefusals: 0,
      adminTokenActions: 0,
      chain: { ok: true, scope: 'window', eventsChecked: 0, linksChecked: 0, linksNotChecked: 0, broken: null, head: null },
    };
  }

  readonly visit = (ev: AuditEvent): void => {
    const x = this.e;
    x.eventsRead++;
    this.chain(ev);
    if (this.agents && !(ev.agentId && this.agents.has(ev.agentId))) return;
    x.eventsInScope++;
    const d = ev.data as Record<string, unknown>;
    if (ev.actor === 'admin') x.adminTokenActions++;
    switch (ev.type) {
      case 'tool.call':
      case 'pdp.decision':
        this.decision(ev, d);
        return;
      case 'task.start':
        x.tasks.started++;
        this.credential(ev, d);
        this.scope(d.scope);
        return;
      case 'task.deny':
        x.tasks.denied++;
        return;
      case 'task.pending':
        x.tasks.pendingApproval++;
        return;
      case 'task.delegate':
        if (ev.decision === 'allow') {
          x.tasks.delegated++;
          this.credential(ev, d);
          this.scope(d.scope);
        } else x.tasks.delegationsDenied++;
        return;
      case 'task.credential':
        this.credential(ev, d);
        return;
      case 'task.revoke':
        x.tasks.revoked++;
        return;
      case 'task.expire':
        x.tasks.expired++;
        return;
      case 'agent.suspend':
        x.agents.suspended++;
        return;
      case 'agent.retire':
        x.agents.retired++;
        return;
      case 'agent.resume':
        x.agents.resumed++;
        return;
      case 'breakglass.request':
        x.breakGlass.requested++;
        return;
      case 'breakglass.start':
        x.breakGlass.started++;
        return;
      case 'approval.request': {
        x.approvals.asked++;
        const kind = typeof d.kind === 'string' ? d.kind : 'other';
        x.approvals.byKind[kind] = (x.approvals.byKind[kind] ?? 0) + 1;
        return;
      }
      case 'approval.approve':
        if (ev.outcome === 'approved') x.approvals.approved++;
        return;
      case 'approval.deny':
        if (ev.outcome === 'denied') x.approvals.denied++;
        return;
      case 'approval.expire':
      case 'approval.void':
        x.approvals.expired++;
        return;
      case 'approval.use':
        if (ev.outcome === 'used') x.approvals.used++;
        return;
      case 'auth.failure':
        x.authFailures++;
        return;
      case 'mcp.reject':
      case 'http.reject':
        x.credentialRefusals++;
        return;
      default:
        return;
    }
  };

  private decision(ev: AuditEvent, d: Record<string, unknown>): void {
    const x = this.e.decisions;
    const approval = typeof d.approval === 'string' ? d.approval : null;
    const kind: 'allow' | 'approval' | 'deny' = approval || ev.decision === 'approval_required' ? 'approval' : ev.decision === 'allow' ? 'allow' : 'deny';
    x.total++;
    x[kind]++;
    if (d.wouldDeny) x.wouldDeny++;
    const untrusted = Array.isArray(d.untrustedArgs) && d.untrustedArgs.length > 0;
    if (untrusted) {
      x.withUntrustedValues++;
      if (approval && !this.untrustedApprovals.has(approval)) {
        this.untrustedApprovals.add(approval);
        this.e.approvals.forUntrustedValues++;
      }
    }
    const i = Math.floor((ev.ts - this.tl.first) / this.tl.bucketMs);
    const point = this.e.timeline.points[i];
    if (point) point[kind]++;
    if (kind === 'deny') {
      let key = reasonKey(d.policyIds, d.reasons);
      if (!this.reasons.has(key) && this.reasons.size >= MAX_REASONS) key = 'other reasons';
      this.reasons.set(key, (this.reasons.get(key) ?? 0) + 1);
    }
  }

  private credential(ev: AuditEvent, d: Record<string, unknown>): void {
    const c = this.e.credentials;
    c.issued++;
    if (d.boundTo === null || d.boundTo === undefined) {
      c.bearer++;
      if (ev.agentId && isProductionLike(this.environmentOf.get(ev.agentId) ?? '')) c.bearerInProduction++;
    }
  }

  private scope(scope: unknown): void {
    const s = scope as { tools?: Array<{ max_calls?: unknown }>; resources?: unknown[] } | undefined;
    if (s?.tools?.some((t) => typeof t.max_calls === 'number')) this.e.tasks.withBudgets++;
    if (s?.resources?.some((r) => r === '*')) this.e.tasks.anyResource++;
  }

  /** The window's part of the chain: each event's own hash, and each link between consecutive events. */
  private chain(ev: AuditEvent): void {
    const c = this.e.chain;
    c.eventsChecked++;
    if (!c.broken && recomputeHash(ev) !== ev.hash) c.broken = { seq: ev.seq, reason: `event ${ev.seq} was modified: its content does not match its hash` };
    if (this.lastSeq === null) {
      this.firstSeq = ev.seq;
      this.firstPrev = ev.prevHash;
    } else if (ev.seq === this.lastSeq + 1) {
      c.linksChecked++;
      if (!c.broken && ev.prevHash !== this.lastHash) c.broken = { seq: ev.seq, reason: `event ${ev.seq} does not follow event ${this.lastSeq}: previous-hash link broken (deleted, inserted or reordered)` };
    } else c.linksNotChecked++;
    this.lastSeq = ev.seq;
    this.lastHash = ev.hash;
  }

  /** After the pass: the link into the window from the event before it, the reasons, the head. */
  async finish(m: Pick<Mandate, 'store'>): Promise<Evidence> {
    const c = this.e.chain;
    if (this.firstSeq !== null) {
      if (this.firstSeq === 1) {
        c.linksChecked++;
        if (!c.broken && this.firstPrev !== GENESIS_HASH) c.broken = { seq: 1, reason: 'event 1 does not start the chain' };
      } else {
        const [before] = await m.store.listAudit({ afterSeq: this.firstSeq - 2, limit: 1 });
        if (before?.seq === this.firstSeq - 1) {
          c.linksChecked++;
          if (!c.broken && before.hash !== this.firstPrev) c.broken = { seq: this.firstSeq, reason: `event ${this.firstSeq} does not follow event ${before.seq}: previous-hash link broken` };
        } else c.linksNotChecked++;
      }
    }
    c.ok = c.broken === null;
    c.head = await m.store.auditHead();
    this.e.denialsByReason = [...this.reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
    return this.e;
  }
}

/** Builds the report. Deployment-wide unless `owner` is given (then: that person's agents). */
export async function buildReport(m: Mandate, o: ReportOptions): Promise<Report> {
  const now = m.clock.now();
  const owner = o.owner ?? null;
  const all = await m.store.listAgents();
  const agents = owner ? all.filter((a) => a.owner === owner) : all;
  const environmentOf = new Map(agents.map((a) => [a.id, a.environment]));
  const collector = new EvidenceCollector(o, owner ? new Set(agents.map((a) => a.id)) : null, environmentOf);
  // The one pass over the window: the review's, with the collector looking at every event.
  const review = await buildReview(m, { since: o.since, until: o.until, staleDays: o.staleDays ?? 30, owner: owner ?? undefined, onEvent: collector.visit });
  const evidence = await collector.finish(m);
  evidence.approvals.medianDecideMs = review.approvals.medianDecideMs;
  evidence.approvals.p90DecideMs = review.approvals.p90DecideMs;

  const controls = await evaluateControls(m, { agents, review, evidence, owner, now });
  const byId = new Map(controls.map((c) => [c.id, c]));
  const frameworks = FRAMEWORKS.map((f) => {
    const items = f.items.map((item) => judge(item, byId));
    const counts = Object.fromEntries(ITEM_STATUSES.map((s) => [s, items.filter((i) => i.status === s).length])) as Record<ItemStatus, number>;
    return { id: f.id, name: f.name, version: f.version, note: f.note ?? null, url: f.url, counts, items };
  });
  const summary = Object.fromEntries(ITEM_STATUSES.map((s) => [s, frameworks.reduce((n, f) => n + f.counts[s], 0)])) as Record<ItemStatus, number>;
  const findings: Partial<Record<FindingKind, number>> = {};
  for (const f of review.findings) findings[f.kind] = (findings[f.kind] ?? 0) + 1;
  const compiled = m.policy.current.compiled;
  return {
    kind: 'mandate.framework-report',
    schemaVersion: 1,
    generatedAt: now,
    window: { since: o.since, until: o.until },
    scope: {
      owner,
      agents: agents.length,
      description: owner ? `the ${agents.length} agent${agents.length === 1 ? '' : 's'} owned by ${owner}; deployment settings apply to everyone` : `the whole deployment (${agents.length} agent${agents.length === 1 ? '' : 's'})`,
    },
    deployment: {
      mandateVersion: MANDATE_VERSION,
      trustDomain: m.config.trustDomain,
      publicUrl: m.config.publicUrl ?? null,
      store: m.store.dialect,
      policyVersion: compiled.version,
      policyVersionNumber: m.policy.versionNumber || null,
      policies: compiled.policies.length,
      upstreams: Object.keys(m.config.upstreams).length,
      tools: m.tools.listTools().length,
      agents: { active: agents.filter((a) => a.status === 'active').length, suspended: agents.filter((a) => a.status === 'suspended').length, retired: agents.filter((a) => a.status === 'retired').length },
    },
    summary,
    controls,
    frameworks,
    evidence,
    review: { agents: review.agents.length, findings, approvals: review.approvals },
  };
}

function judge(item: Framework['items'][number], byId: Map<ControlId, ControlResult>): ItemResult {
  const controls = item.controls.map((id) => ({ id, title: CONTROLS[id].title, state: byId.get(id)!.state }));
  const base = { id: item.id, title: item.title, about: item.about, reach: item.reach, controls };
  if (item.reach === 'none') return { ...base, status: 'not_applicable', why: item.why ?? 'outside what a gateway sees', gaps: [] };
  const line = (id: ControlId) => `${CONTROLS[id].title}: ${byId.get(id)!.summary}`;
  const off = item.controls.filter((id) => byId.get(id)!.state === 'off');
  if (off.length) return { ...base, status: 'gap', why: off.map(line).join('; '), gaps: off };
  const weak = item.controls.filter((id) => byId.get(id)!.state === 'partial' || byId.get(id)!.state === 'unknown');
  if (weak.length || item.reach === 'partial') return { ...base, status: 'partial', why: [...(item.reach === 'partial' && item.why ? [`within reach: ${item.why}`] : []), ...weak.map(line)].join('; '), gaps: [] };
  return { ...base, status: 'addressed', why: `in force here: ${item.controls.map((id) => CONTROLS[id].title.toLowerCase()).join('; ')}`, gaps: [] };
}

interface Inputs {
  agents: Agent[];
  review: Review;
  evidence: Evidence;
  owner: string | null;
  now: number;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const list = (xs: string[], max = 5) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} and ${xs.length - max} more`);

/** Every control, evaluated against this deployment. */
async function evaluateControls(m: Mandate, x: Inputs): Promise<ControlResult[]> {
  const cfg = m.config;
  const { review, evidence: ev, agents } = x;
  const active = agents.filter((a) => a.status === 'active');
  const tools = m.tools.listTools();
  const engine = m.policy.current;
  const policies = engine.compiled.policies;
  const out = new Map<ControlId, Omit<ControlResult, 'id' | 'title' | 'what'>>();
  const set = (id: ControlId, state: ControlState, summary: string, facts: Fact[]) => out.set(id, { state, summary, facts });
  const count = (k: FindingKind) => review.findings.filter((f) => f.kind === k).length;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

  // inventory: every agent answers to a person who exists.
  {
    const orphaned = review.agents.filter((a) => a.orphaned);
    set('inventory', orphaned.length ? 'off' : 'on', orphaned.length ? `agents without a known, active owner: ${orphaned.length} (${list(orphaned.map((a) => a.name))})` : `agents without a known owner: 0 of ${agents.length}`, [
      { label: 'agents registered', value: agents.length },
      { label: 'active / suspended / retired', value: `${active.length} / ${agents.filter((a) => a.status === 'suspended').length} / ${agents.filter((a) => a.status === 'retired').length}` },
      { label: 'owners', value: new Set(agents.map((a) => a.owner)).size },
      { label: 'agents without a known owner', value: orphaned.length },
    ]);
  }

  // access review: dates kept, none overdue.
  {
    const overdue = review.agents.filter((a) => a.overdue);
    const undated = active.filter((a) => !a.reviewBy);
    set('access-review', overdue.length ? 'off' : undated.length ? 'partial' : 'on', overdue.length ? `agents past review date: ${overdue.length} (${list(overdue.map((a) => a.name))})` : undated.length ? `agents past review date: 0; active agents with no review date: ${undated.length}` : 'agents past review date: 0; every active agent has a review date', [
      { label: 'agents past review date', value: overdue.length },
      { label: 'active agents with no review date', value: undated.length },
      { label: 'grants never used in the window', value: count('never_used') },
      { label: 'tools always denied in the window', value: count('always_denied') },
    ]);
  }

  // offboarding: the kill switch exists; what is left to switch off.
  {
    const stale = review.agents.filter((a) => a.stale);
    const lingering = review.agents.filter((a) => a.liveDelegations > 0);
    const problems = [...(stale.length ? [`stale agents (no task in ${review.window.staleDays} days): ${stale.length} (${list(stale.map((a) => a.name))})`] : []), ...(lingering.length ? [`suspended or retired agents whose delegated tasks still live: ${lingering.length}`] : [])];
    set('offboarding', problems.length ? 'partial' : 'on', problems.length ? problems.join('; ') : 'no stale agents; suspension and retirement end every task at once', [
      { label: 'stale agents', value: stale.length },
      { label: 'suspensions in the window', value: ev.agents.suspended },
      { label: 'retirements in the window', value: ev.agents.retired },
      { label: 'tasks revoked in the window', value: ev.tasks.revoked },
    ]);
  }

  // key-bound credentials: which environments may hold bearer credentials.
  {
    const bearerEnvs = cfg.credentials.bearerEnvironments;
    const prodBearer = bearerEnvs.filter(isProductionLike);
    const inBearer = active.filter((a) => bearerEnvs.includes(a.environment));
    const prodAgentsBearer = inBearer.filter((a) => isProductionLike(a.environment));
    const state: ControlState = prodBearer.length || ev.credentials.bearerInProduction ? 'off' : 'on';
    const why = [
      ...(prodBearer.length ? [`credentials.bearerEnvironments includes ${list(prodBearer)}${prodAgentsBearer.length ? ` (${plural(prodAgentsBearer.length, 'active agent')} there)` : ''}`] : []),
      ...(ev.credentials.bearerInProduction ? [`${plural(ev.credentials.bearerInProduction, 'bearer credential')} issued to production agents in the window`] : []),
    ];
    set('key-bound', state, state === 'off' ? `bearer (non-key-bound) credentials allowed in production: ${why.join('; ')}` : `DPoP required for production agents: yes (bearer only in ${bearerEnvs.length ? list(bearerEnvs) : 'no environment'})`, [
      { label: 'DPoP required for production agents', value: state === 'on' },
      { label: 'environments allowed bearer credentials', value: bearerEnvs.join(', ') || '(none)' },
      { label: 'active agents in those environments', value: inBearer.length },
      { label: 'DPoP server nonces', value: cfg.credentials.dpopNonce },
      { label: 'DPoP proof max age (s)', value: cfg.credentials.dpopMaxAge },
      { label: 'credentials issued in the window', value: ev.credentials.issued },
      { label: 'of them bearer (not key-bound)', value: ev.credentials.bearer },
      { label: 'bearer credentials issued to production agents', value: ev.credentials.bearerInProduction },
    ]);
  }

  // short-lived credentials.
  {
    const t = cfg.tasks.maxTtl;
    set('short-lived', t <= 3600 ? 'on' : t <= DAY / 1000 ? 'partial' : 'off', `max task TTL ${t} s${t <= 3600 ? '' : t <= DAY / 1000 ? ': hours, not minutes (tasks.maxTtl)' : ': more than a day (tasks.maxTtl)'}`, [
      { label: 'max task TTL (s)', value: t },
      { label: 'default task TTL (s)', value: cfg.tasks.defaultTtl },
      { label: 'break-glass max TTL (s)', value: cfg.approvals.breakglass.maxTtl },
      { label: 'delegation ticket max age (s)', value: cfg.credentials.delegationTicketMaxAge },
      { label: 'tasks started in the window', value: ev.tasks.started },
    ]);
  }

  // workload authentication.
  set('authn', cfg.identity.assertionMaxAge <= 300 ? 'on' : 'partial', `client assertions signed with ${cfg.identity.algorithms.join(', ')}, at most ${cfg.identity.assertionMaxAge} s old, single use${cfg.identity.assertionMaxAge <= 300 ? '' : ' (identity.assertionMaxAge is longer than 5 minutes)'}`, [
    { label: 'accepted algorithms', value: cfg.identity.algorithms.join(', ') },
    { label: 'client assertion max age (s)', value: cfg.identity.assertionMaxAge },
    { label: 'authentication failures in the window', value: ev.authFailures },
    { label: 'credentials refused at the gateway', value: ev.credentialRefusals },
  ]);

  // deny-by-default policy.
  {
    const openAll = policies.filter((p) => {
      const j = p.json as unknown as { effect: string; principal: { op: string; entity_type?: string }; action: { op: string; entity?: { id?: string } }; resource: { op: string }; conditions?: unknown[] };
      const anyone = j.principal.op === 'All' || (j.principal.op === 'is' && j.principal.entity_type === 'Agent');
      const anything = j.action.op === 'All' || (j.action.op === 'in' && j.action.entity?.id === 'call');
      return j.effect === 'permit' && anyone && anything && j.resource.op === 'All' && !(j.conditions ?? []).length;
    });
    const neverUsed = count('never_used');
    const facts: Fact[] = [
      { label: 'policy version', value: `${engine.version.slice(0, 12)}${m.policy.versionNumber ? ` (#${m.policy.versionNumber})` : ''}` },
      { label: 'permit / forbid policies', value: `${policies.filter((p) => p.effect === 'permit').length} / ${policies.filter((p) => p.effect === 'forbid').length}` },
      { label: 'approval gates (@approval)', value: policies.filter((p) => p.annotations.approval !== undefined).length },
      { label: 'hard limits (@enforce)', value: policies.filter((p) => p.annotations.enforce !== undefined).length },
      { label: 'unconditional permit-everything policies', value: openAll.length },
      { label: 'grants never used in the window', value: neverUsed },
    ];
    if (m.policyProblem) set('policy', 'unknown', `the policy files do not validate here, so this process decides with an empty set: ${m.policyProblem.slice(0, 200)}`, facts);
    else if (openAll.length) set('policy', 'off', `policy ${list(openAll.map((p) => `${p.id} (${p.file}:${p.line})`))} permits every call of every agent without conditions: deny by default no longer means anything`, facts);
    else if (neverUsed) set('policy', 'partial', `deny by default with ${plural(policies.length, 'policy', 'policies')}; ${plural(neverUsed, 'grant')} never used in the window (candidates to narrow: mandate policy suggest)`, facts);
    else set('policy', 'on', `deny by default with ${plural(policies.length, 'policy', 'policies')}; no unconditional permit-everything`, facts);
  }

  // task scope.
  set('task-scope', 'on', `every call is checked against its task's declared tools, constraints and resources (a call outside it: ${cfg.gateway.outOfScope === 'tool_error' ? 'a tool error' : 'HTTP 403 with a scope challenge'})`, [
    { label: 'tasks started in the window', value: ev.tasks.started },
    { label: 'of them with call budgets', value: ev.tasks.withBudgets },
    { label: 'of them granting any resource (`*`)', value: ev.tasks.anyResource },
    { label: 'delegated tasks in the window', value: ev.tasks.delegated },
  ]);

  // enforcement (observe mode).
  {
    const e = cfg.enforcement;
    const where = [
      ...(e.mode === 'observe' ? ['every call (enforcement.mode)'] : []),
      ...Object.entries(e.agents).filter(([, v]) => v === 'observe').map(([a]) => `agent ${a}`),
      ...Object.entries(cfg.upstreams).flatMap(([n, u]) => [...(u.mode === 'observe' ? [`upstream ${n}`] : []), ...Object.entries(u.tools).filter(([, t]) => t.mode === 'observe').map(([t]) => `tool ${n}.${t}`)]),
    ];
    set('enforcement', where.length ? 'off' : 'on', where.length ? `observe mode anywhere: yes (${list(where)}): policy denials there are recorded, not enforced; ${plural(ev.decisions.wouldDeny, 'call')} ran that policy would deny` : 'observe mode anywhere: no; every denial is enforced', [
      { label: 'observe mode anywhere', value: where.length > 0 },
      { label: 'where', value: where.join(', ') || '(nowhere)' },
      { label: 'would-deny calls in the window', value: ev.decisions.wouldDeny },
    ]);
  }

  // approval gates on high-risk tools, for every active agent that may be granted them.
  {
    const highRisk = tools.filter((t) => HIGH_RISK.has(t.risk));
    const byName = new Map(tools.map((t) => [t.name, t]));
    const ungated: string[] = [];
    let gatedPairs = 0;
    let deniedPairs = 0;
    const agentById = new Map(agents.map((a) => [a.id, a]));
    for (const r of review.agents) {
      const agent = agentById.get(r.id);
      if (!agent || agent.status !== 'active') continue;
      for (const name of r.grantableByPolicy) {
        const tool = byName.get(name);
        if (!tool || !HIGH_RISK.has(tool.risk)) continue;
        const g = gateOf(m, agent, tool);
        if (g === 'gated') gatedPairs++;
        else if (g === 'denied') deniedPairs++;
        else ungated.push(`${agent.name} → ${tool.name} (${tool.risk})`);
      }
    }
    set('approval-gates', ungated.length ? 'off' : 'on', !highRisk.length ? 'no destructive, admin or egress tools in the catalogue' : ungated.length ? `high-risk tools callable without an approval gate: ${ungated.length} (${list(ungated, 4)})` : `approvals required for high-risk tools: yes (${plural(highRisk.length, 'tool')}; every grantable one is gated or denied)`, [
      { label: 'high-risk tools (destructive, admin, egress)', value: highRisk.length },
      { label: 'agent/tool pairs gated by an approval', value: gatedPairs },
      { label: 'agent/tool pairs no policy permits', value: deniedPairs },
      { label: 'agent/tool pairs callable without approval', value: ungated.length },
      { label: 'approval request TTL (s)', value: cfg.approvals.ttl },
      { label: 'approvals asked / approved / denied in the window', value: `${ev.approvals.asked} / ${ev.approvals.approved} / ${ev.approvals.denied}` },
    ]);
  }

  // tool pinning.
  {
    const mcp = Object.entries(cfg.upstreams).filter(([, u]) => u.kind === 'mcp');
    const pins = await m.pins.list();
    const changed = pins.filter((p) => p.pendingHash && p.acceptedHash).length;
    const fresh = pins.filter((p) => p.pendingHash && !p.acceptedHash).length;
    const byAnnotations = tools.filter((t) => (t.kind ?? 'mcp') === 'mcp' && !cfg.upstreams[t.upstream]?.tools[t.remoteName]?.risk && cfg.upstreams[t.upstream]?.trustAnnotations !== false && t.annotations !== undefined);
    const facts: Fact[] = [
      { label: 'MCP upstreams', value: mcp.length },
      { label: 'tool pins on', value: mcp.length > 0 },
      { label: 'accepted definitions', value: pins.filter((p) => p.acceptedHash).length },
      { label: 'changed definitions waiting (blocked)', value: changed },
      { label: 'new tools waiting (blocked)', value: fresh },
      { label: 'tools whose risk class comes from the upstream\'s own annotations', value: byAnnotations.length },
    ];
    if (!mcp.length) set('tool-pinning', 'on', 'no MCP upstreams (HTTP and database upstreams are defined in mandate.yaml)', facts);
    else if (byAnnotations.length) set('tool-pinning', 'partial', `tool pins on; ${plural(byAnnotations.length, 'tool')} classified by the upstream's own annotations (${list(byAnnotations.map((t) => t.name), 3)}): give them a \`risk\` in mandate.yaml`, facts);
    else set('tool-pinning', 'on', `tool pins on for ${plural(mcp.length, 'MCP upstream')}${changed + fresh ? `; ${changed + fresh} definition(s) blocked until accepted` : ''}`, facts);
  }

  // input validation.
  {
    const loose = [...Object.entries(cfg.upstreams).filter(([, u]) => u.additionalArguments === 'allow').map(([n]) => `upstream ${n}`), ...Object.entries(cfg.upstreams).flatMap(([n, u]) => Object.entries(u.tools).filter(([, t]) => t.additionalArguments === 'allow').map(([t]) => `tool ${n}.${t}`))];
    const noSchema = tools.filter((t) => !t.inputSchema && (t.kind ?? 'mcp') === 'mcp');
    set('input-validation', loose.length ? 'partial' : 'on', loose.length ? `undeclared arguments forwarded unchecked for ${list(loose)} (additionalArguments: allow)` : 'arguments checked against pinned input schemas; undeclared arguments refused; resources forwarded as checked', [
      { label: 'where undeclared arguments are allowed', value: loose.join(', ') || '(nowhere)' },
      { label: 'MCP tools with no known input schema', value: noSchema.length },
    ]);
  }

  // secrets.
  {
    const literal: string[] = [];
    let brokered = 0;
    for (const [n, u] of Object.entries(cfg.upstreams)) {
      let uses = Boolean(u.auth) || Boolean(u.connection?.includes('${'));
      for (const [kind, values] of [['header', u.headers], ['env', u.env]] as const) {
        for (const [k, v] of Object.entries(values)) {
          if (v.includes('${')) uses = true;
          else if (isSecretKey(k) || (kind === 'header' && k.toLowerCase() === 'authorization')) literal.push(`${n} ${kind} ${k}`);
        }
      }
      if (uses) brokered++;
    }
    const sources = Object.values(cfg.secrets);
    const tokens = (await m.store.listApiTokens()).filter((t) => t.revokedAt === null);
    const oldTokens = tokens.filter((t) => x.now - t.createdAt > 90 * DAY);
    const dbs = Object.values(cfg.upstreams).filter((u) => u.kind === 'postgres').length;
    const problems = [...(literal.length ? [`secret values written into mandate.yaml: ${list(literal)} (use \${NAME} or \${secret:name})`] : []), ...(oldTokens.length ? [`${plural(oldTokens.length, 'API token')} (admin/PEP) older than 90 days, never expiring`] : [])];
    set('secrets', problems.length ? 'partial' : 'on', problems.length ? problems.join('; ') : `upstream credentials come from the environment or named secrets (${plural(brokered, 'upstream')}); agents never see them`, [
      { label: 'named secrets (env / file / Vault)', value: `${sources.filter((s) => s.env).length} / ${sources.filter((s) => s.file).length} / ${sources.filter((s) => s.vault).length}` },
      { label: 'Vault configured', value: Boolean(cfg.vault) },
      { label: 'upstreams whose credentials are brokered', value: brokered },
      { label: 'secret values written into mandate.yaml', value: literal.length },
      { label: 'database upstreams with per-task roles', value: dbs },
      { label: 'API tokens (admin/PEP) in use', value: tokens.length },
      { label: 'of them older than 90 days', value: oldTokens.length },
    ]);
  }

  // audit chain (the window's part, checked during the pass).
  {
    const c = ev.chain;
    set('audit-chain', c.ok ? 'on' : 'off', c.ok ? `chain intact over the window: ${c.eventsChecked} events, ${c.linksChecked} links checked; head #${c.head?.seq ?? 0}` : `chain BROKEN at event #${c.broken!.seq}: ${c.broken!.reason}`, [
      { label: 'events checked (window)', value: c.eventsChecked },
      { label: 'links checked', value: c.linksChecked },
      { label: 'links not checked (events outside the window interleaved)', value: c.linksNotChecked },
      { label: 'head', value: c.head ? `#${c.head.seq} ${c.head.hash}` : '(empty log)' },
    ]);
  }

  // audit export.
  {
    const sinks = Object.entries(cfg.audit.sinks);
    const states = new Map((await m.store.listAuditSinks()).map((s) => [s.name, s]));
    const failing = sinks.filter(([n]) => states.get(n)?.lastError).map(([n]) => n);
    const head = ev.chain.head?.seq ?? 0;
    const lag = sinks.map(([n]) => head - (states.get(n)?.cursor ?? 0));
    const cp = cfg.audit.checkpoint;
    const noCheckpoints = cp.every === 0 && cp.interval === 0;
    const problems = [...(!sinks.length ? ['audit sinks configured: none (the log stays in this store only)'] : []), ...(failing.length ? [`sinks failing to deliver: ${list(failing)}`] : []), ...(noCheckpoints ? ['signed checkpoints off (audit.checkpoint)'] : [])];
    set('audit-export', problems.length ? 'partial' : 'on', problems.length ? problems.join('; ') : `audit sinks configured: ${sinks.map(([n, s]) => `${n} (${s.type})`).join(', ')}; signed checkpoints on`, [
      { label: 'audit sinks configured', value: sinks.length },
      { label: 'sinks', value: sinks.map(([n, s]) => `${n} (${s.type})`).join(', ') || '(none)' },
      { label: 'sinks with delivery errors', value: failing.length },
      { label: 'largest delivery lag (events)', value: lag.length ? Math.max(...lag) : 0 },
      { label: 'signed checkpoints', value: noCheckpoints ? 'off' : `every ${cp.every} events or ${cp.interval} s` },
    ]);
  }

  // telemetry.
  set('telemetry', cfg.tracing.enabled ? 'on' : 'partial', cfg.tracing.enabled ? `traces to ${new URL(cfg.tracing.endpoint).host} (sample ratio ${cfg.tracing.sampleRatio})` : 'traces off (tracing.enabled); the audit log is the only record of behaviour', [
    { label: 'OpenTelemetry traces', value: cfg.tracing.enabled },
    ...(cfg.tracing.enabled ? [{ label: 'sample ratio', value: cfg.tracing.sampleRatio }] : []),
  ]);

  // break-glass.
  {
    const b = cfg.approvals.breakglass;
    set('break-glass', b.quorum >= 2 ? 'on' : 'partial', `${plural(b.quorum, 'approver')} besides the requester (${b.approvers.join(' or ')}), at most ${b.maxTtl} s, never delegated${b.quorum >= 2 ? '' : ': one person can open emergency access (approvals.breakglass.quorum)'}`, [
      { label: 'quorum', value: b.quorum },
      { label: 'approvers', value: b.approvers.join(', ') },
      { label: 'max TTL (s)', value: b.maxTtl },
      { label: 'requests / uses in the window', value: `${ev.breakGlass.requested} / ${ev.breakGlass.started}` },
    ]);
  }

  // delegation.
  {
    const d = cfg.credentials.maxDelegationDepth;
    set('delegation', d <= 3 ? 'on' : 'partial', d === 0 ? 'delegation disabled (credentials.maxDelegationDepth: 0)' : `narrowing token exchange with single-use signed tickets, chains at most ${d} deep${d <= 3 ? '' : ' (deeper than 3: harder to reason about)'}`, [
      { label: 'max delegation depth', value: d },
      { label: 'delegation ticket max age (s)', value: cfg.credentials.delegationTicketMaxAge },
      { label: 'delegations / refused in the window', value: `${ev.tasks.delegated} / ${ev.tasks.delegationsDenied}` },
    ]);
  }

  // provenance.
  {
    const used = Boolean(engine.compiled.usesProvenance);
    const trusted = tools.filter((t) => t.trust === 'trusted').length;
    const facts: Fact[] = [
      { label: 'provenance recorded', value: cfg.provenance.enabled },
      { label: 'policies reading provenance', value: policies.filter((p) => /\b(provenance|untrustedArgs)\b/.test(p.text)).length },
      { label: 'tools whose results are trusted', value: trusted },
      { label: 'calls with untrusted values in the window', value: ev.decisions.withUntrustedValues },
      { label: 'approvals asked for calls with untrusted values', value: ev.approvals.forUntrustedValues },
    ];
    if (!cfg.provenance.enabled) set('provenance', 'off', 'provenance of argument values is off (provenance.enabled: false): values an agent copied from untrusted content look like any other', facts);
    else if (!used) set('provenance', 'partial', 'values are recorded, but no policy reads context.provenance or context.untrustedArgs', facts);
    else set('provenance', 'on', `recorded and read by policy; ${plural(ev.approvals.forUntrustedValues, 'approval')} asked for calls carrying untrusted values in the window`, facts);
  }

  // taint.
  {
    const sensitive = tools.filter((t) => t.classification === 'confidential' || t.classification === 'secret');
    const readers = policies.filter((p) => /\blabels\b/.test(p.text) && /\btask\b/.test(p.text));
    set('taint', !sensitive.length || readers.length ? 'on' : 'partial', !sensitive.length ? 'no confidential or secret tools in the catalogue' : readers.length ? `tasks carry the classification of what they read; ${plural(readers.length, 'policy', 'policies')} act on it` : `${plural(sensitive.length, 'confidential or secret tool')}, but no policy reads the task's labels (context.task.labels): egress after sensitive reads is not restricted`, [
      { label: 'confidential or secret tools', value: sensitive.length },
      { label: 'policies reading task labels', value: readers.length },
    ]);
  }

  // limits.
  set('limits', 'on', `call timeout ${cfg.gateway.callTimeout} s, results up to ${cfg.gateway.maxResultBytes} bytes, ${cfg.gateway.maxSessionsPerTask} sessions per task; budgets charged atomically across delegation`, [
    { label: 'call timeout (s)', value: cfg.gateway.callTimeout },
    { label: 'max result (bytes)', value: cfg.gateway.maxResultBytes },
    { label: 'sessions per task / per agent', value: `${cfg.gateway.maxSessionsPerTask} / ${cfg.gateway.maxSessionsPerAgent}` },
    { label: 'tasks with call budgets in the window', value: ev.tasks.withBudgets },
  ]);

  // exposure.
  {
    const host = cfg.server.host;
    const url = cfg.publicUrl ?? null;
    const https = url?.startsWith('https:') ?? false;
    const problems: string[] = [];
    let off = false;
    if (!loopback(host) && !https) {
      off = true;
      problems.push(`listens on ${host} and agents reach it over plain http (${url ?? 'no publicUrl'}): credentials and proofs cross the network unencrypted`);
    }
    let storeNote = 'embedded SQLite';
    if (m.store.dialect === 'postgres') {
      let dbHost = '';
      try {
        dbHost = new URL(cfg.databaseUrl ?? '').hostname;
      } catch {
        dbHost = '';
      }
      storeNote = `PostgreSQL, TLS ${cfg.store.ssl ?? 'as the URL says'}`;
      if (dbHost && !loopback(dbHost) && cfg.store.ssl !== 'verify-full') problems.push(`PostgreSQL at a remote host without verify-full TLS (store.ssl: ${cfg.store.ssl ?? 'unset'})`);
    }
    const c = cfg.oauth.clientIdMetadataDocuments;
    if (c.allowHttpHosts.length || c.allowPrivateAddresses) problems.push('client metadata documents may be fetched over http or from private addresses (oauth.clientIdMetadataDocuments: test settings)');
    set('exposure', off ? 'off' : problems.length ? 'partial' : 'on', problems.length ? problems.join('; ') : https ? `served at ${url} (TLS)` : `listens on loopback (${host}) only`, [
      { label: 'listen address', value: host },
      { label: 'public URL', value: url ?? '(derived from the listen address)' },
      { label: 'agents reach Mandate over TLS', value: https },
      { label: 'trust X-Forwarded-* headers', value: cfg.server.trustProxy },
      { label: 'store', value: storeNote },
      { label: 'browser origins allowed at /mcp', value: cfg.gateway.allowedOrigins.join(', ') || '(none)' },
    ]);
  }

  // environments.
  {
    const envs = [...new Set(active.map((a) => a.environment))].sort();
    const readers = policies.filter((p) => /\benvironment\b/.test(p.text));
    set('environments', envs.length <= 1 || readers.length ? 'on' : 'partial', envs.length <= 1 ? `one environment in use (${envs[0] ?? 'none'})` : readers.length ? `${envs.length} environments (${list(envs)}); ${plural(readers.length, 'policy', 'policies')} distinguish them` : `${envs.length} environments (${list(envs)}) but no policy reads principal.environment: an agent's environment changes only its credential rules`, [
      { label: 'environments of active agents', value: envs.join(', ') || '(none)' },
      { label: 'policies reading the environment', value: readers.length },
    ]);
  }

  // identity reuse: one key, one agent.
  {
    const holders = new Map<string, string[]>();
    for (const a of agents) {
      if (a.status === 'retired') continue;
      for (const k of a.jwks.keys) {
        const id = JSON.stringify([k.kty, k.crv, k.x, k.y, k.n, k.e]);
        holders.set(id, [...(holders.get(id) ?? []), a.name]);
      }
    }
    const shared = [...holders.values()].filter((h) => h.length > 1);
    const clients = agents.filter((a) => a.labels.includes('oauth-client')).length;
    set('identity-reuse', shared.length ? 'off' : 'on', shared.length ? `keys registered for more than one agent: ${shared.length} (${list(shared.map((h) => h.join(' + ')), 3)}): one workload's key opens several identities` : 'no key is registered for more than one agent', [
      { label: 'keys shared between agents', value: shared.length },
      { label: 'client identities (one per client and person)', value: clients },
    ]);
  }

  // human use.
  {
    const people = (await m.store.listUsers()).filter((u) => u.status === 'active').length;
    set('human-use', ev.adminTokenActions ? 'partial' : 'on', ev.adminTokenActions ? `the shared admin token acted ${plural(ev.adminTokenActions, 'time')} in the window: people should use personal tokens (attributed by name)` : `no actions with the shared admin token in the window; ${plural(people, 'person', 'people')} with personal tokens`, [
      { label: 'people with personal tokens', value: people },
      { label: 'admin-token actions in the window', value: ev.adminTokenActions },
      { label: 'console and approvals refuse agent credentials', value: true },
    ]);
  }

  // third-party clients.
  {
    const o = cfg.oauth;
    const clients = await m.store.listOAuthClients({ includeRevoked: true, limit: 100_000 });
    const live = clients.filter((c) => c.revokedAt === null);
    const loose = o.clientIdMetadataDocuments.allowHttpHosts.length > 0 || o.clientIdMetadataDocuments.allowPrivateAddresses;
    set('third-party', loose ? 'partial' : 'on', loose ? 'client metadata documents may be fetched over http or from private addresses (test settings)' : `${plural(live.length, 'registered client')}; each acts only for a person who consented, as its own identity, through policy`, [
      { label: 'registered clients (DCR / metadata documents)', value: `${live.filter((c) => c.kind === 'dcr').length} / ${live.filter((c) => c.kind === 'cimd').length}` },
      { label: 'revoked clients', value: clients.length - live.length },
      { label: 'dynamic registration', value: o.registration.enabled ? `on (${o.registration.perHour}/h per address)` : 'off' },
    ]);
  }

  return CONTROL_IDS.map((id) => ({ id, title: CONTROLS[id].title, what: CONTROLS[id].what, ...out.get(id)! }));
}

/**
 * Whether a call of this high-risk tool by this agent waits for a person: an approval-annotated
 * `forbid` applies to it (egress: any `forbid`, such as a taint rule), or no `permit` can apply
 * (it is denied outright). Read from the policies whose scope matches, as the engine slices them.
 */
function gateOf(m: Mandate, agent: Agent, tool: ToolSpec): 'gated' | 'denied' | 'open' {
  const slice = m.policy.current.slice({ principal: { type: 'Agent', id: agent.id }, action: tool.name, resource: { type: 'Tool', id: tool.name }, context: {}, entities: [agentEntity(agent), toolEntity(tool)] });
  if (!slice.some((p) => p.effect === 'permit')) return 'denied';
  if (slice.some((p) => p.effect === 'forbid' && (p.annotations.approval !== undefined || tool.risk === 'egress'))) return 'gated';
  return 'open';
}
