// The access review: for each agent (and each owner), what it can reach against what it used over
// a window. "Can reach" has two readings and both are shown: by policy (which tools `startTask`
// would let it ask for today) and by tasks (what its tasks in the window declared). "Used" is what
// calls ran. From the difference come the findings a reviewer acts on: grants never used, tools
// asked for but always denied, agents past their review date, stale (no task in N days), orphaned
// (owner disabled or unknown), suspended agents whose delegated tasks still live, break-glass use.
// Approval statistics (asked, approved, denied, expired, time to decide) close it.
//
// One pass over the window's audit events, in pages, counting: it never holds the log in memory.

import { MandateError, q } from '../core/errors.js';
import { explain } from '../gateway/explain.js';
import type { Mandate } from '../mandate.js';
import type { Agent, AuditEvent, Task, User } from '../storage/types.js';

export interface ReviewOptions {
  since: number;
  until: number;
  /** An agent with no task for this many days is stale. */
  staleDays: number;
  /** Only these agents (default: all). */
  agentId?: string | undefined;
  owner?: string | undefined;
  /** Sees every event of the window's one pass, in order (the framework report counts its evidence here, so the log is read once). */
  onEvent?: ((e: AuditEvent) => void) | undefined;
}

export interface ToolUse {
  tool: string;
  /** Tasks in the window that declared it. */
  tasks: number;
  /** Calls that ran (allowed, including ones observe mode let through). */
  calls: number;
  /** Calls that did not run: refused (policy, scope, budget) or held for an approval that never came. */
  denied: number;
  /** Calls observe mode let through that policy would deny. */
  wouldDeny: number;
  /** Distinct resources the calls named (at most 20 shown). */
  resources: string[];
  lastUsed: number | null;
}

export type FindingKind = 'overdue_review' | 'stale' | 'orphaned' | 'never_used' | 'always_denied' | 'live_delegations_of_suspended' | 'break_glass' | 'would_deny';

export interface Finding {
  kind: FindingKind;
  agent: string;
  owner: string;
  detail: string;
}

export interface AgentReview {
  id: string;
  name: string;
  owner: string;
  ownerStatus: 'active' | 'disabled' | 'unknown';
  status: Agent['status'];
  environment: string;
  reviewBy: string | null;
  overdue: boolean;
  lastTaskAt: number | null;
  stale: boolean;
  orphaned: boolean;
  /** Tools `startTask` would allow it to ask for now (allow or approval). */
  grantableByPolicy: string[];
  tasksInWindow: number;
  tools: ToolUse[];
  neverUsed: string[];
  alwaysDenied: string[];
  breakGlassTasks: number;
  /** Live tasks of other agents delegated from this (suspended or retired) agent's tasks. */
  liveDelegations: number;
}

export interface ApprovalStats {
  asked: number;
  approved: number;
  denied: number;
  expired: number;
  pending: number;
  /** Time from request to settling decision, ms (approved or denied ones). */
  medianDecideMs: number | null;
  p90DecideMs: number | null;
}

export interface Review {
  generatedAt: number;
  window: { since: number; until: number; staleDays: number };
  agents: AgentReview[];
  owners: Array<{ owner: string; ownerStatus: AgentReview['ownerStatus']; agents: number; findings: number }>;
  approvals: ApprovalStats;
  findings: Finding[];
  eventsRead: number;
}

const DAY = 86_400_000;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** Reads the window's audit events in pages of `size`, oldest first. */
export async function* auditWindow(m: Pick<Mandate, 'store'>, since: number, until: number, size = 5000): AsyncGenerator<AuditEvent> {
  let after: number | undefined;
  for (;;) {
    const page = await m.store.listAudit({ since, until, limit: size, ...(after !== undefined ? { afterSeq: after } : {}) });
    for (const e of page) yield e;
    if (page.length < size) return;
    after = page[page.length - 1]!.seq;
  }
}

export async function buildReview(m: Mandate, o: ReviewOptions): Promise<Review> {
  const now = m.clock.now();
  const today = new Date(now).toISOString().slice(0, 10);
  let agents = await m.store.listAgents();
  if (o.agentId) {
    agents = agents.filter((a) => a.id === o.agentId || a.name === o.agentId);
    if (!agents.length) throw new MandateError('not_found', `agent ${q(o.agentId)} not found: \`mandate agent list\` shows them`);
  }
  if (o.owner) agents = agents.filter((a) => a.owner === o.owner);
  const ids = new Set(agents.map((a) => a.id));
  const users = new Map<string, User>();
  for (const u of await m.store.listUsers()) users.set(u.email, u);

  // Tasks: in the window (declared grants) and the latest of each agent (staleness).
  const tasksOf = new Map<string, Task[]>();
  const lastTask = new Map<string, number>();
  const liveByParentAgent = new Map<string, number>();
  const taskAgent = new Map<string, string>();
  for (const a of agents) {
    const tasks = await m.store.listTasks({ agentId: a.id, limit: 10_000 });
    for (const t of tasks) taskAgent.set(t.id, a.id);
    tasksOf.set(
      a.id,
      tasks.filter((t) => t.createdAt >= o.since && t.createdAt < o.until),
    );
    const latest = tasks.reduce((x, t) => Math.max(x, t.createdAt), 0);
    if (latest) lastTask.set(a.id, latest);
  }
  for (const t of await m.store.listTasks({ status: 'active', limit: 10_000 })) {
    if (!t.parentId) continue;
    const parentAgent = taskAgent.get(t.parentId) ?? (await m.store.getTask(t.parentId))?.agentId;
    if (parentAgent && parentAgent !== t.agentId) liveByParentAgent.set(parentAgent, (liveByParentAgent.get(parentAgent) ?? 0) + 1);
  }

  // One pass over the window's events.
  const use = new Map<string, Map<string, ToolUse & { resourceSet: Set<string> }>>();
  const toolUse = (agent: string, tool: string) => {
    let per = use.get(agent);
    if (!per) use.set(agent, (per = new Map()));
    let u = per.get(tool);
    if (!u) per.set(tool, (u = { tool, tasks: 0, calls: 0, denied: 0, wouldDeny: 0, resources: [], lastUsed: null, resourceSet: new Set() }));
    return u;
  };
  let eventsRead = 0;
  for await (const e of auditWindow(m, o.since, o.until)) {
    eventsRead++;
    o.onEvent?.(e);
    if (e.type !== 'tool.call' || !e.agentId || !ids.has(e.agentId)) continue;
    const d = e.data as { tool?: unknown; resources?: unknown; wouldDeny?: unknown };
    if (typeof d.tool !== 'string') continue;
    const u = toolUse(e.agentId, d.tool);
    if (e.decision === 'allow') {
      u.calls++;
      if (d.wouldDeny) u.wouldDeny++;
      if (u.lastUsed === null || e.ts > u.lastUsed) u.lastUsed = e.ts;
      if (Array.isArray(d.resources)) for (const r of d.resources) if (typeof r === 'string' && u.resourceSet.size < 20) u.resourceSet.add(r);
    } else u.denied++;
  }

  const findings: Finding[] = [];
  const out: AgentReview[] = [];
  for (const a of agents) {
    const owner = users.get(a.owner);
    const ownerStatus: AgentReview['ownerStatus'] = !owner ? 'unknown' : owner.status === 'active' ? 'active' : 'disabled';
    const tasks = tasksOf.get(a.id) ?? [];
    for (const t of tasks) for (const g of t.scope.tools) toolUse(a.id, g.name).tasks++;
    const tools = [...(use.get(a.id)?.values() ?? [])]
      .map(({ resourceSet, ...u }) => ({ ...u, resources: [...resourceSet].sort() }))
      .sort((x, y) => x.tool.localeCompare(y.tool));
    const neverUsed = tools.filter((u) => u.tasks > 0 && u.calls === 0).map((u) => u.tool);
    const alwaysDenied = tools.filter((u) => u.denied > 0 && u.calls === 0).map((u) => u.tool);
    const last = lastTask.get(a.id) ?? null;
    const stale = a.status === 'active' && (last === null ? now - a.createdAt > o.staleDays * DAY : now - last > o.staleDays * DAY);
    const overdue = a.status === 'active' && a.reviewBy !== null && a.reviewBy < today;
    const orphaned = a.status !== 'retired' && ownerStatus !== 'active';
    const grantable = a.status === 'active' ? grantableByPolicy(m, a) : [];
    const breakGlassTasks = tasks.filter((t) => t.breakGlass).length;
    const liveDelegations = a.status === 'active' ? 0 : (liveByParentAgent.get(a.id) ?? 0);
    const r: AgentReview = { id: a.id, name: a.name, owner: a.owner, ownerStatus, status: a.status, environment: a.environment, reviewBy: a.reviewBy, overdue, lastTaskAt: last, stale, orphaned, grantableByPolicy: grantable, tasksInWindow: tasks.length, tools, neverUsed, alwaysDenied, breakGlassTasks, liveDelegations };
    out.push(r);
    const add = (kind: FindingKind, detail: string) => findings.push({ kind, agent: a.id, owner: a.owner, detail });
    if (overdue) add('overdue_review', `review was due ${a.reviewBy}`);
    if (stale) add('stale', last === null ? `no task since it was registered ${new Date(a.createdAt).toISOString().slice(0, 10)}` : `no task since ${new Date(last).toISOString().slice(0, 10)} (over ${o.staleDays} days)`);
    if (orphaned) add('orphaned', ownerStatus === 'unknown' ? `owner ${a.owner} is not a Mandate user` : `owner ${a.owner} is disabled`);
    for (const t of neverUsed) add('never_used', `${t} was granted in ${tools.find((u) => u.tool === t)!.tasks} task(s) and never called`);
    for (const t of alwaysDenied) add('always_denied', `${t} was called ${tools.find((u) => u.tool === t)!.denied} time(s) and always denied`);
    for (const u of tools.filter((x) => x.wouldDeny > 0)) add('would_deny', `${u.tool}: ${u.wouldDeny} call(s) ran in observe mode that policy would deny`);
    if (liveDelegations) add('live_delegations_of_suspended', `${a.status}, but ${liveDelegations} task(s) delegated from its tasks are still live`);
    if (breakGlassTasks) add('break_glass', `${breakGlassTasks} break-glass task(s) in the window`);
  }

  // Approvals requested in the window.
  const approvals = (await m.store.listApprovals({ limit: 100_000 })).filter((x) => x.createdAt >= o.since && x.createdAt < o.until && (!o.agentId && !o.owner ? true : ids.has(x.agentId)));
  const times = approvals
    .filter((x) => (x.status === 'approved' || x.status === 'used' || x.status === 'denied') && x.decidedAt !== null)
    .map((x) => x.decidedAt! - x.createdAt)
    .sort((x, y) => x - y);
  const stats: ApprovalStats = {
    asked: approvals.length,
    approved: approvals.filter((x) => x.status === 'approved' || x.status === 'used').length,
    denied: approvals.filter((x) => x.status === 'denied').length,
    expired: approvals.filter((x) => x.status === 'expired').length,
    pending: approvals.filter((x) => x.status === 'pending').length,
    medianDecideMs: percentile(times, 0.5),
    p90DecideMs: percentile(times, 0.9),
  };

  const owners = new Map<string, Review['owners'][number]>();
  for (const r of out) {
    const x = owners.get(r.owner) ?? { owner: r.owner, ownerStatus: r.ownerStatus, agents: 0, findings: 0 };
    x.agents++;
    x.findings += findings.filter((f) => f.agent === r.id).length;
    owners.set(r.owner, x);
  }
  return { generatedAt: now, window: { since: o.since, until: o.until, staleDays: o.staleDays }, agents: out, owners: [...owners.values()].sort((a, b) => a.owner.localeCompare(b.owner)), approvals: stats, findings, eventsRead };
}

/** Tools `startTask` would let this agent ask for today: allowed, or allowed once approved. */
function grantableByPolicy(m: Mandate, agent: Agent): string[] {
  const out: string[] = [];
  for (const tool of m.tools.listTools()) {
    if (tool.blocked) continue;
    const d = explain({ agent, tool: tool.name, action: 'startTask', intent: '(access review)' }, m).decision;
    if (d.decision !== 'deny') out.push(tool.name);
  }
  return out;
}

/**
 * A review accepted: the agent still needs what it has. Recorded (who, when, the dates, why) and
 * the review date moved to `next` (YYYY-MM-DD, after today). The caller checks who may.
 */
export async function acceptReview(m: Pick<Mandate, 'store' | 'audit' | 'clock'>, agent: Agent, actor: string, next: string, note: string | null, via: 'api' | 'console'): Promise<Agent> {
  const now = m.clock.now();
  if (agent.status === 'retired') throw new MandateError('invalid_request', `agent ${q(agent.name)} is retired: there is nothing to review`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(next) || next <= new Date(now).toISOString().slice(0, 10)) throw new MandateError('invalid_request', `the next review date ${q(next)} must be a date (YYYY-MM-DD) after today`);
  const updated = await m.store.updateAgent(agent.id, { reviewBy: next }, now);
  await m.audit.record({ type: 'review.accept', actor, agentId: agent.id, outcome: 'success', data: { previousReviewBy: agent.reviewBy, reviewBy: next, note, via } });
  return updated;
}

/** The date `days` after `now`, as YYYY-MM-DD. */
export const daysFrom = (now: number, days: number) => new Date(now + days * DAY).toISOString().slice(0, 10);
