// Approvals: a human's yes bound to one exact action. Created when a decision is
// `approval_required` (a tool call, a task start, an AuthZEN evaluation) or when someone asks for
// break-glass; decided by people with their own tokens; consumed once, atomically; expired by
// the sweeper; voided when the policy that asked for them changes. Every step is audited.

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { ApprovalsConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { canonicalJson } from '../core/canonical-json.js';
import { MandateError, q } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { newId } from '../core/ids.js';
import type { ToolLookup, ToolSpec } from '../core/tool.js';
import type { Caller } from '../identity/api-tokens.js';
import type { Decision } from '../policy/engine.js';
import type { Agent, AgentStore, Approval, ApprovalFilter, ApprovalKind, ApprovalStore, AuditEvent, AuditStore, Task, TaskStore } from '../storage/types.js';
import { newTask } from '../tasks/task-service.js';
import { actionHash, redactArgs } from './action-hash.js';
import type { WebhookNotifier } from './webhooks.js';

export interface ApprovalDeps {
  store: ApprovalStore & Pick<AgentStore, 'getAgent'> & Pick<TaskStore, 'getTask' | 'insertTask' | 'activateTask' | 'transitionTask'> & Pick<AuditStore, 'listAudit'>;
  audit: AuditLog;
  clock: Clock;
  config: ApprovalsConfig;
  notifier: WebhookNotifier;
  tools: ToolLookup;
  /** The policy version in force now. */
  policyVersion: () => string;
  /** Public base URL (for links in webhook payloads). */
  baseUrl: () => string;
  logger?: Logger | undefined;
}

export interface BreakGlassRequest {
  agentId: string;
  tools: string[];
  reason: string;
  /** Seconds, capped by `approvals.breakglass.maxTtl`. */
  ttl: number;
  resources?: string[];
}

/** The approver groups a person belongs to for one approval (empty: not eligible). */
function eligibleAs(user: NonNullable<Caller['user']>, agent: Agent | null, approvers: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of approvers) {
    if (a === 'owner' && agent && agent.owner.toLowerCase() === user.email) out.push('owner');
    else if (a.startsWith('role:') && user.roles.includes(a.slice(5))) out.push(a);
  }
  return out;
}

export class ApprovalService {
  private readonly changes = new EventEmitter();

  constructor(private readonly d: ApprovalDeps) {
    this.changes.setMaxListeners(0);
    // Break-glass: the end of the emergency task is announced like its start.
    d.audit.onEvent((e) => void this.onAudit(e));
  }

  // ------------------------------------------------------------------ requests

  /** The approval for one exact tool call: the live one for the same action, or a new one. */
  async forToolCall(p: { task: Task; agent: Agent; tool: ToolSpec; args: Record<string, unknown>; decision: Decision; provenance?: { provenance: Record<string, string[]>; untrustedArgs: string[]; origins: Record<string, string> } | undefined }): Promise<{ approval: Approval; hash: string; created: boolean }> {
    const hash = actionHash({ taskId: p.task.id, agentId: p.agent.id, tool: p.tool.name, args: p.args, policyVersion: p.decision.policyVersion });
    const live = await this.d.store.findLiveApproval(hash, this.d.clock.now());
    if (live) return { approval: live, hash, created: false };
    const req = p.decision.approval ?? { policyIds: p.decision.policyIds, approvers: ['owner'], quorum: 1 };
    const approval = await this.create({
      kind: 'tool_call',
      actionHash: hash,
      taskId: p.task.id,
      agentId: p.agent.id,
      requester: p.agent.id,
      tool: p.tool.name,
      args: redactArgs(p.args, p.tool.sensitive ?? []),
      intent: p.task.intent,
      reason: p.decision.reasons.join('; ') || 'policy requires approval',
      policyIds: req.policyIds,
      policyVersion: p.decision.policyVersion,
      approvers: req.approvers,
      quorum: req.quorum,
      // Where the values come from, for the approver (an argument only an untrusted result showed, and which call).
      data: { decisionId: p.decision.id, ...(p.provenance && Object.keys(p.provenance.provenance).length ? { provenance: p.provenance } : {}) },
    });
    return { approval, hash, created: true };
  }

  /** An approval asked for through the AuthZEN Access Request profile (a PEP's requestable denial). */
  async forAuthzen(p: {
    hash: string;
    subjectId: string;
    requester: string;
    request: { subject: unknown; resource: unknown; action: unknown; context: unknown };
    reason: string;
    policyIds: string[];
    policyVersion: string;
    approvers: string[];
    quorum: number;
    data: Record<string, unknown>;
  }): Promise<{ approval: Approval; created: boolean }> {
    const live = await this.d.store.findLiveApproval(p.hash, this.d.clock.now());
    if (live) return { approval: live, created: false };
    const action = (p.request.action as { name?: string }).name ?? '?';
    const resource = p.request.resource as { type?: string; id?: string };
    const approval = await this.create({
      kind: 'authzen',
      actionHash: p.hash,
      taskId: null,
      agentId: p.subjectId,
      requester: p.requester,
      tool: `${action} ${resource.type ?? '?'}:${resource.id ?? '?'}`,
      args: p.request,
      intent: String((p.request.context as Record<string, unknown> | undefined)?.business_justification ?? 'access request from an enforcement point'),
      reason: p.reason,
      policyIds: p.policyIds,
      policyVersion: p.policyVersion,
      approvers: p.approvers,
      quorum: p.quorum,
      data: p.data,
    });
    return { approval, created: true };
  }

  /**
   * An agent asks to widen its active task: a person decides, seeing the change (what is added,
   * what a grant becomes) and where its new values come from. `hash` binds the approval to this
   * exact amendment of this exact scope.
   */
  async forTaskAmend(p: { task: Task; agent: Agent; hash: string; change: Record<string, unknown>; decisions: Decision[]; provenance?: Record<string, unknown> | undefined }): Promise<Approval> {
    const gates = p.decisions.filter((d) => d.decision === 'approval_required');
    const approvers = gates.length ? [...new Set(gates.flatMap((d) => d.approval?.approvers ?? ['owner']))] : ['owner'];
    const quorum = Math.max(1, ...gates.map((d) => d.approval?.quorum ?? 1));
    return this.create({
      kind: 'task_amend',
      actionHash: p.hash,
      taskId: p.task.id,
      agentId: p.agent.id,
      requester: p.agent.id,
      tool: null,
      args: p.change,
      intent: p.task.intent,
      reason: gates.flatMap((d) => d.reasons).join('; ') || 'the agent asks to widen its task: a person decides',
      policyIds: [...new Set(gates.flatMap((d) => d.approval?.policyIds ?? d.policyIds))],
      policyVersion: this.d.policyVersion(),
      approvers,
      quorum,
      data: { ...(p.provenance ? { provenance: p.provenance } : {}) },
    });
  }

  /** The approval of one exact amendment of a task (any status), or null. */
  async forAmendment(taskId: string, hash: string): Promise<Approval | null> {
    const all = await this.d.store.listApprovals({ taskId, kind: 'task_amend', limit: 1000 });
    return all.filter((a) => a.actionHash === hash).sort((a, b) => b.createdAt - a.createdAt)[0] ?? null;
  }

  /** A task whose start needs approval: it waits as `pending_approval` until approved. */
  async forTaskStart(task: Task, agent: Agent, decisions: Decision[], ttl: number): Promise<Approval> {
    const gates = decisions.filter((d) => d.decision === 'approval_required');
    const approvers = [...new Set(gates.flatMap((d) => d.approval?.approvers ?? ['owner']))];
    const quorum = Math.max(1, ...gates.map((d) => d.approval?.quorum ?? 1));
    return this.create({
      kind: 'task_start',
      actionHash: sha256Hex(canonicalJson({ taskStart: task.id, agent: agent.id, scope: task.scope, policyVersion: this.d.policyVersion() })),
      taskId: task.id,
      agentId: agent.id,
      requester: agent.id,
      tool: null,
      args: { tools: task.scope.tools.map((t) => t.name), resources: task.scope.resources, ttl },
      intent: task.intent,
      reason: gates.flatMap((d) => d.reasons).join('; ') || 'policy requires approval to start this task',
      policyIds: [...new Set(gates.flatMap((d) => d.approval?.policyIds ?? d.policyIds))],
      policyVersion: this.d.policyVersion(),
      approvers,
      quorum,
      data: { ttl },
    });
  }

  /** An emergency task for an agent, asked for by a person; it starts only after a quorum of others approves. */
  async requestBreakGlass(caller: Caller, r: BreakGlassRequest): Promise<{ approval: Approval; task: Task }> {
    const user = this.person(caller, 'request break-glass');
    const cfg = this.d.config.breakglass;
    const reason = r.reason.trim();
    if (reason.length < 10) throw new MandateError('invalid_request', 'break-glass needs a real `reason` (at least 10 characters): it goes to every approver and alert');
    if (!Number.isInteger(r.ttl) || r.ttl < 60) throw new MandateError('invalid_request', '`ttl` must be a whole number of seconds, at least 60');
    if (r.ttl > cfg.maxTtl) throw new MandateError('invalid_request', `\`ttl\` ${r.ttl}s is over the break-glass cap of ${cfg.maxTtl}s (approvals.breakglass.maxTtl)`);
    const agent = await this.d.store.getAgent(r.agentId);
    if (!agent) throw new MandateError('not_found', `agent ${q(r.agentId)} not found`);
    if (agent.status !== 'active') throw new MandateError('invalid_request', `agent ${q(agent.id)} is ${agent.status}: break-glass cannot bring back a suspended or retired agent`);
    if (!r.tools.length) throw new MandateError('invalid_request', 'name at least one tool (`--tools upstream.tool,…`)');
    for (const t of r.tools) if (!this.d.tools.getTool(t)) throw new MandateError('invalid_request', `unknown tool ${q(t)}: \`mandate tools list\` shows the catalogue`);
    const now = this.d.clock.now();
    // Until approved, the task lives only as long as its approval request.
    const task = newTask({ now, agentId: agent.id, intent: `break-glass: ${reason}`, scope: { tools: [...new Set(r.tools)].map((name) => ({ name })), resources: r.resources?.length ? r.resources : ['*'] }, status: 'pending_approval', expiresAt: now + this.d.config.ttl * 1000, breakGlass: true });
    await this.d.store.insertTask(task);
    const approval = await this.create({
      kind: 'breakglass',
      actionHash: sha256Hex(canonicalJson({ breakglass: task.id, agent: agent.id, tools: r.tools, ttl: r.ttl })),
      taskId: task.id,
      agentId: agent.id,
      requester: caller.name,
      tool: null,
      args: { tools: r.tools, resources: task.scope.resources, ttl: r.ttl },
      intent: task.intent,
      reason,
      policyIds: [],
      policyVersion: this.d.policyVersion(),
      approvers: cfg.approvers,
      quorum: cfg.quorum,
      data: { ttl: r.ttl, requestedBy: user.email },
    });
    await this.d.audit.record({ type: 'breakglass.request', actor: caller.name, agentId: agent.id, taskId: task.id, outcome: 'pending', data: { approval: approval.id, tools: r.tools, ttl: r.ttl, reason, approvers: cfg.approvers, quorum: cfg.quorum } });
    this.d.notifier.notify(this.d.notifier.groupsFor('*'), this.message('breakglass.requested', approval, `BREAK-GLASS requested by ${user.email} for ${agent.id}: ${r.tools.join(', ')} for ${r.ttl}s — "${reason}". Needs ${cfg.quorum} approvers (${cfg.approvers.join(', ')}), not the requester: mandate approvals approve ${approval.id}`));
    return { approval, task };
  }

  private async create(a: Omit<Approval, 'id' | 'status' | 'decisions' | 'createdAt' | 'expiresAt' | 'decidedAt' | 'usedAt' | 'endReason'>): Promise<Approval> {
    const now = this.d.clock.now();
    const approval: Approval = { ...a, id: newId('apr', now), status: 'pending', decisions: [], createdAt: now, expiresAt: now + this.d.config.ttl * 1000, decidedAt: null, usedAt: null, endReason: null };
    await this.d.store.insertApproval(approval);
    await this.d.audit.record({
      type: 'approval.request',
      actor: approval.requester,
      agentId: approval.agentId,
      taskId: approval.taskId,
      decision: 'approval_required',
      outcome: 'pending',
      data: { approval: approval.id, kind: approval.kind, tool: approval.tool, args: approval.args, reason: approval.reason, policyIds: approval.policyIds, policyVersion: approval.policyVersion, approvers: approval.approvers, quorum: approval.quorum, expiresAt: approval.expiresAt, actionHash: approval.actionHash },
    });
    if (approval.kind !== 'breakglass') {
      const what = approval.tool ? `call ${approval.tool} ${JSON.stringify(approval.args)}` : `start a task (${approval.intent})`;
      this.d.notifier.notify(this.d.notifier.groupsFor(approval.approvers), this.message('approval.requested', approval, `Approval needed: ${approval.agentId} wants to ${what}. Reason: ${approval.reason}. Approve with: mandate approvals approve ${approval.id}`));
    }
    return approval;
  }

  private message(event: string, a: Approval, text: string) {
    return {
      event,
      text,
      payload: {
        approval: { id: a.id, kind: a.kind, status: a.status, agent: a.agentId, task: a.taskId, requester: a.requester, tool: a.tool, args: a.args, intent: a.intent, reason: a.reason, approvers: a.approvers, quorum: a.quorum, expiresAt: new Date(a.expiresAt).toISOString() },
        links: { self: `${this.d.baseUrl()}/api/v1/approvals/${a.id}` },
      },
    };
  }

  // ------------------------------------------------------------------ decisions

  private person(caller: Caller, what: string): NonNullable<Caller['user']> {
    if (caller.role !== 'user' || !caller.user) {
      throw new MandateError('forbidden', `only a person can ${what}: use your personal token (\`mandate user create\` issues one); admin and PEP tokens cannot`);
    }
    return caller.user;
  }

  /** One person's approve or deny. Eligibility: the agent's owner or a named role; never the requester. */
  async decide(id: string, caller: Caller, decision: 'approve' | 'deny', reason: string | null): Promise<Approval> {
    const user = this.person(caller, `${decision} an approval`);
    const now = this.d.clock.now();
    const current = await this.d.store.getApproval(id);
    if (!current) throw new MandateError('not_found', `approval ${q(id)} not found`);
    const agent = await this.d.store.getAgent(current.agentId);
    const as = eligibleAs(user, agent, current.approvers);
    const refuse = async (message: string, code: 'forbidden' | 'conflict' = 'forbidden'): Promise<never> => {
      await this.d.audit.record({ type: `approval.${decision}`, actor: caller.name, agentId: current.agentId, taskId: current.taskId, outcome: 'refused', data: { approval: id, reason: message } });
      throw new MandateError(code, message);
    };
    if (current.requester === caller.name) await refuse(`you asked for ${q(id)}: no one approves their own request`);
    if (!as.length) await refuse(`you are not an approver of ${q(id)}: it needs ${current.approvers.join(' or ')} (you are ${user.email} with roles [${user.roles.join(', ')}])`);
    const r = await this.d.store.decideApproval(id, { by: caller.name, decision, at: now, reason }, now);
    if (!r.ok) {
      const a = r.approval;
      if (r.problem === 'not_found') throw new MandateError('not_found', `approval ${q(id)} not found`);
      if (r.problem === 'expired') await refuse(`approval ${q(id)} expired at ${new Date(a!.expiresAt).toISOString()}; the agent must ask again`, 'conflict');
      if (r.problem === 'already_decided') await refuse(`you already decided on ${q(id)}; it needs ${a!.quorum} distinct approvers`, 'conflict');
      await refuse(`approval ${q(id)} is already ${a!.status}${a!.status === 'used' ? ' (approvals are single-use)' : ''}`, 'conflict');
    }
    const approval = (r as { approval: Approval }).approval;
    await this.d.audit.record({
      type: `approval.${decision}`,
      actor: caller.name,
      agentId: approval.agentId,
      taskId: approval.taskId,
      decision: decision === 'approve' ? 'allow' : 'deny',
      outcome: approval.status,
      data: { approval: id, kind: approval.kind, as, reason, approvals: approval.decisions.filter((x) => x.decision === 'approve').length, quorum: approval.quorum },
    });
    let settled = approval;
    if (approval.status === 'approved' && (approval.kind === 'task_start' || approval.kind === 'breakglass')) settled = await this.activate(approval);
    if (approval.status === 'denied' && approval.taskId && (approval.kind === 'task_start' || approval.kind === 'breakglass')) {
      // A refused task start or break-glass ends its waiting task now rather than at expiry.
      const ended = await this.d.store.transitionTask(approval.taskId, ['pending_approval'], 'revoked', now, `approval ${id} denied`);
      if (ended) await this.d.audit.record({ type: 'task.revoke', actor: caller.name, agentId: approval.agentId, taskId: approval.taskId, outcome: 'revoked', data: { reason: `approval ${id} denied`, approval: id } });
    }
    if (approval.status === 'denied' && approval.kind === 'breakglass') {
      this.d.notifier.notify(this.d.notifier.groupsFor('*'), this.message('breakglass.denied', approval, `BREAK-GLASS ${approval.id} for ${approval.agentId} was denied by ${caller.name}${reason ? `: ${reason}` : ''}`));
    }
    this.changes.emit(id, settled);
    return settled;
  }

  /** An approved task start or break-glass: the task becomes active now, its TTL counted from here. */
  private async activate(a: Approval): Promise<Approval> {
    const now = this.d.clock.now();
    const ttl = Number(a.data.ttl) || 0;
    const cap = a.kind === 'breakglass' ? this.d.config.breakglass.maxTtl : ttl;
    const task = await this.d.store.activateTask(a.taskId!, now + Math.min(ttl, cap) * 1000);
    if (!task) return a; // ended meanwhile (revoked, expired)
    await this.d.store.consumeApproval(a.id, a.actionHash, now);
    const used = { ...a, status: 'used' as const, usedAt: now };
    await this.d.audit.record({ type: a.kind === 'breakglass' ? 'breakglass.start' : 'task.approved', actor: 'system', agentId: a.agentId, taskId: task.id, outcome: 'active', data: { approval: a.id, approvedBy: a.decisions.map((x) => x.by), expiresAt: task.expiresAt, tools: task.scope.tools.map((t) => t.name) } });
    if (a.kind === 'breakglass') {
      this.d.notifier.notify(this.d.notifier.groupsFor('*'), this.message('breakglass.started', used, `BREAK-GLASS ACTIVE: task ${task.id} for ${a.agentId} (${task.scope.tools.map((t) => t.name).join(', ')}) until ${new Date(task.expiresAt).toISOString()}, approved by ${a.decisions.map((x) => x.by).join(', ')}`));
    }
    return used;
  }

  /** Uses an approved approval for the call it covers: exactly once, whoever races for it. */
  async consume(a: Approval, hash: string): Promise<boolean> {
    const ok = await this.d.store.consumeApproval(a.id, hash, this.d.clock.now());
    await this.d.audit.record({ type: 'approval.use', actor: a.requester, agentId: a.agentId, taskId: a.taskId, outcome: ok ? 'used' : 'refused', data: { approval: a.id, tool: a.tool, reason: ok ? null : 'not approved, already used, expired, or for another action' } });
    return ok;
  }

  /**
   * Waits until the approval leaves `pending`, the time is up or `signal` aborts; returns it as it
   * is then. `tick` is called every `tickMs` while waiting (progress for the agent).
   */
  async waitForDecision(id: string, ms: number, signal?: AbortSignal, tick?: (elapsedMs: number) => void, tickMs = 5000): Promise<Approval | null> {
    const first = await this.d.store.getApproval(id);
    if (!first || first.status !== 'pending' || ms <= 0) return first;
    return new Promise<Approval | null>((resolve) => {
      const started = Date.now();
      const done = (a: Approval | null) => {
        clearTimeout(timer);
        clearInterval(ticker);
        this.changes.off(id, onChange);
        signal?.removeEventListener('abort', onAbort);
        resolve(a);
      };
      const onChange = (a: Approval) => done(a);
      const onAbort = () => void this.d.store.getApproval(id).then(done, () => done(null));
      const timer = setTimeout(() => void this.d.store.getApproval(id).then(done, () => done(null)), ms);
      // Also poll the store: a decision made by another Mandate process (or the CLI on the same
      // database) does not reach this process's listeners.
      let lastTick = started;
      const ticker = setInterval(() => {
        void this.d.store.getApproval(id).then((a) => {
          if (a && a.status !== 'pending') done(a);
        }, () => undefined);
        if (tick && Date.now() - lastTick >= tickMs) {
          lastTick = Date.now();
          tick(lastTick - started);
        }
      }, Math.min(1000, tickMs));
      this.changes.on(id, onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Another replica changed approval `id` (heard over the database's events): waits on it here
   * re-read it at once instead of at their next poll.
   */
  async changedElsewhere(id: string): Promise<void> {
    if (this.changes.listenerCount(id) === 0) return;
    const a = await this.d.store.getApproval(id);
    if (a && a.status !== 'pending') this.changes.emit(id, a);
  }

  /** Re-reads every approval waited on here (after this replica missed events). */
  async recheckWaits(): Promise<void> {
    for (const id of this.changes.eventNames()) await this.changedElsewhere(String(id));
  }

  // ------------------------------------------------------------------ reading and upkeep

  async get(id: string): Promise<Approval> {
    const a = await this.d.store.getApproval(id);
    if (!a) throw new MandateError('not_found', `approval ${q(id)} not found`);
    return a;
  }

  list(filter: ApprovalFilter = {}): Promise<Approval[]> {
    return this.d.store.listApprovals(filter);
  }

  /** Expires approvals past their time (the sweeper calls this). */
  async sweep(): Promise<number> {
    const expired = await this.d.store.expireApprovals(this.d.clock.now());
    for (const a of expired) {
      await this.d.audit.record({ type: 'approval.expire', actor: 'system', agentId: a.agentId, taskId: a.taskId, outcome: 'expired', data: { approval: a.id, kind: a.kind, tool: a.tool } });
      this.changes.emit(a.id, a);
    }
    return expired.length;
  }

  /** A new policy version voids approvals the old one asked for: the rules they answered changed. */
  async policyChanged(version: string): Promise<number> {
    const voided = await this.d.store.voidApprovalsNotOf(version, this.d.clock.now());
    for (const a of voided) {
      await this.d.audit.record({ type: 'approval.void', actor: 'system', agentId: a.agentId, taskId: a.taskId, outcome: 'expired', data: { approval: a.id, reason: 'policy changed', from: a.policyVersion, to: version } });
      this.changes.emit(a.id, a);
    }
    return voided.length;
  }

  /** What a break-glass task did: the request, who approved, and every event of its task. */
  async breakGlassReport(id: string): Promise<{ approval: Approval; task: Task | null; events: AuditEvent[] }> {
    let approval = await this.d.store.getApproval(id);
    if (!approval) {
      // A task id works too.
      approval = (await this.d.store.listApprovals({ taskId: id, kind: 'breakglass', limit: 1 }))[0] ?? null;
    }
    if (!approval || approval.kind !== 'breakglass') throw new MandateError('not_found', `no break-glass request ${q(id)} (give the approval id or the task id)`);
    const task = approval.taskId ? await this.d.store.getTask(approval.taskId) : null;
    const events = approval.taskId ? await this.d.store.listAudit({ taskId: approval.taskId, limit: 10_000 }) : [];
    return { approval, task, events };
  }

  private async onAudit(e: AuditEvent): Promise<void> {
    if (!e.taskId || !['task.end', 'task.revoke', 'task.expire'].includes(e.type)) return;
    const task = await this.d.store.getTask(e.taskId).catch(() => null);
    if (!task?.breakGlass) return;
    const [a] = await this.d.store.listApprovals({ taskId: task.id, kind: 'breakglass', limit: 1 });
    // Only an emergency task that actually started ends; a refused or expired request never began.
    if (!a || a.status !== 'used') return;
    await this.d.audit.record({ type: 'breakglass.end', actor: e.actor, agentId: task.agentId, taskId: task.id, outcome: task.status, data: { reason: task.endReason } });
    this.d.notifier.notify(this.d.notifier.groupsFor('*'), this.message('breakglass.ended', a, `BREAK-GLASS ENDED: task ${task.id} for ${task.agentId} is ${task.status} (${task.endReason ?? ''}). Report: mandate breakglass report ${a.id}`));
  }

  isApprovalKind(k: string): k is ApprovalKind {
    return ['tool_call', 'task_start', 'breakglass', 'authzen', 'task_amend'].includes(k);
  }
}
