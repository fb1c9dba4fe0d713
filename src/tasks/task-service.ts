// Task lifecycle: start (policy `startTask` for every requested tool, then a credential bound to
// the task), end by the agent, revocation by an admin or by agent suspension (cascading to
// child tasks), and expiry. Every transition is audited and makes the credential dead at once.

import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import { StorageUnavailableError } from '../storage/errors.js';
import { newId } from '../core/ids.js';
import type { ToolLookup } from '../core/tool.js';
import { agentEntity, taskInfo, toolEntity } from '../policy/mandate-entities.js';
import { timeContext, type PolicyService } from '../policy/policy-service.js';
import type { Decision } from '../policy/engine.js';
import type { CedarValueJson } from '../policy/cedar.js';
import type { Agent, CallBudgetStore, ChainLink, Task, TaskFilter, TaskScope, TaskStatus, TaskStore, ToolGrant } from '../storage/types.js';
import type { CredentialService, IssuedCredential, IssueOptions } from './credentials.js';
import { globMatch } from './resource-uri.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { RevocationList } from './revocation.js';
import { normaliseScope, parseAuthorizationDetails, scopeToDetails, scopeWarnings, toolOfGrant } from './scope.js';
import { Metrics, type ReasonClass } from '../observability/metrics.js';

export interface TaskLimits {
  defaultTtl: number;
  maxTtl: number;
}

export interface StartedTask {
  task: Task;
  credential: IssuedCredential;
  authorizationDetails: Record<string, unknown>;
  decisions: Decision[];
  /** Things the agent declared that hold less than it may think (a raw-glob `like`, say). */
  warnings: string[];
}

const LIVE: readonly TaskStatus[] = ['active', 'pending_approval'];

/** A new task record: the one place its defaults live. */
export function newTask(p: Pick<Task, 'agentId' | 'intent' | 'scope' | 'status' | 'expiresAt'> & Partial<Pick<Task, 'parentId' | 'depth' | 'labels' | 'decisionId' | 'breakGlass'>> & { now: number; actsFor?: ChainLink[] }): Task {
  const id = newId('task', p.now);
  return {
    id,
    agentId: p.agentId,
    parentId: p.parentId ?? null,
    depth: p.depth ?? 0,
    intent: p.intent,
    scope: p.scope,
    status: p.status,
    labels: p.labels ?? [],
    createdAt: p.now,
    expiresAt: p.expiresAt,
    endedAt: null,
    endReason: null,
    decisionId: p.decisionId ?? null,
    ...(p.breakGlass ? { breakGlass: true } : {}),
    // A delegated task's chain starts with itself, then whoever it acts for.
    ...(p.actsFor?.length ? { chain: [{ agent: p.agentId, task: id }, ...p.actsFor] } : {}),
  };
}

/** What the task service needs from approvals (set after construction: approvals need tasks too). */
export interface TaskApprovals {
  forTaskStart(task: Task, agent: Agent, decisions: Decision[], ttl: number): Promise<{ id: string; expiresAt: number; approvers: string[] }>;
  /** The approval behind a pending task, if any. */
  forTask(taskId: string): Promise<{ id: string; status: string } | null>;
  /** How long a task may wait for its approval, in ms. */
  windowMs(): number;
  /** Asks a person about an amendment of an active task (see TaskService.amend). */
  forTaskAmend?(p: { task: Task; agent: Agent; hash: string; change: Record<string, unknown>; decisions: Decision[]; provenance?: Record<string, unknown> | undefined }): Promise<{ id: string; expiresAt: number; approvers: string[] }>;
  /** The approval of one exact amendment, if asked before. */
  forAmendment?(taskId: string, hash: string): Promise<{ id: string; status: string; actionHash: string; decisions: Array<{ by: string; decision: string; reason?: string | null }> } | null>;
  /** Uses an approved amendment's approval, once. */
  consumeAmendment?(id: string, hash: string): Promise<boolean>;
}

/** An agent's request to widen its active task (`authorization_details[0].amend`). */
export interface AmendmentRequest {
  tools?: unknown[];
  resources?: string[];
}

/** How long a revocation is held in memory before the store has recorded it (longer than any credential lives). */
const IN_MEMORY_HOLD_MS = 24 * 3600 * 1000;

/**
 * Something a task needs besides its credential while it is active (a database role of its own):
 * `check` refuses a scope before anything is created; `activate` provisions, idempotently, once
 * the task is active and before its first credential is issued (a failure ends the task).
 */
export interface TaskProvisioner {
  check(scope: TaskScope): string[];
  activate(task: Task): Promise<void>;
}

export class TaskService {
  private approvals: TaskApprovals | null = null;
  private readonly provisioners: TaskProvisioner[] = [];

  addProvisioner(p: TaskProvisioner): void {
    this.provisioners.push(p);
  }

  private checkProvisioning(scope: TaskScope): void {
    const problems = this.provisioners.flatMap((p) => p.check(scope));
    if (problems.length) throw new MandateError('invalid_scope', `task refused: ${problems.join(' | ')}`, { details: { reasons: problems } });
  }

  /** Provisions an active task; if that fails the task ends at once and the error is the caller's. */
  private async provision(task: Task, actor: string): Promise<void> {
    try {
      for (const p of this.provisioners) await p.activate(task);
    } catch (err) {
      await this.finish(task.id, 'revoked', actor, `provisioning failed: ${(err as Error).message}`).catch(() => undefined);
      throw err;
    }
  }
  /** Ends that hold in memory but are not yet recorded in the store. */
  private readonly pending = new Map<string, { to: TaskStatus; actor: string; reason: string }>();

  setApprovals(a: TaskApprovals): void {
    this.approvals = a;
  }

  constructor(
    private readonly store: TaskStore & CallBudgetStore,
    private readonly policy: PolicyService,
    private readonly tools: ToolLookup,
    private readonly credentials: CredentialService,
    private readonly revocations: RevocationList,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly limits: TaskLimits,
  ) {}

  /** Called after an amendment is applied (the gateway refreshes its sessions' scope). */
  onAmended: ((task: Task) => void) | null = null;
  /** Task starts and delegations count as decisions of surface `token`. */
  metrics: Metrics = Metrics.off;
  /** Where values come from (provenance), shown to the person deciding an amendment. */
  provenanceOf: ((task: Task, values: Record<string, unknown>) => Promise<Record<string, unknown>>) | null = null;

  /**
   * Widens an active task, only with a person's yes: the agent asks (`amend`: tools to add or
   * whose grant changes, resources to add); policy decides `amendTask` for each changed grant (a
   * deny ends it); a person approves the exact change (the owner by default, or the approvers
   * policy names); the agent asks again and, once approved, the change applies to the same task
   * (its budgets and labels kept) and a new credential is issued. Narrowing is ending the task.
   */
  async amend(agent: Agent, taskId: string, amend: AmendmentRequest, audience: string, bind: IssueOptions = {}): Promise<StartedTask> {
    const task = await this.store.getTask(taskId);
    if (!task || task.agentId !== agent.id) throw new MandateError('invalid_grant', `task ${q(taskId)} is not a task of this agent`);
    if (task.status !== 'active' || this.revocations.has(task.id)) throw new MandateError('expired_token', `task ${q(taskId)} is ${task.status}: an amendment applies to an active task only (start a new one)`);
    if (!this.approvals?.forTaskAmend || !this.approvals.forAmendment || !this.approvals.consumeAmendment) throw new MandateError('invalid_request', 'amendments need approvals, which are not available here');
    const detail = parseAuthorizationDetails([
      { type: 'mandate_task', intent: task.intent, tools: amend.tools?.length ? amend.tools : (scopeToDetails(task.intent, task.scope, 1).tools as unknown[]), resources: amend.resources ?? [] },
    ]);
    const request = normaliseScope(detail, this.tools);
    if (request.scope.tools.some((g) => g.privileges)) throw new MandateError('invalid_request', 'an amendment cannot add database privileges yet: start a new task for them');
    // The scope after: changed grants replace the old ones, new ones are added; resources are added.
    const changed = request.scope.tools.filter((g) => canonicalJson(task.scope.tools.find((t) => t.name === g.name) ?? null) !== canonicalJson(g));
    const addedResources = request.scope.resources.filter((r) => !task.scope.resources.includes(r));
    if (!changed.length && !addedResources.length) throw new MandateError('invalid_request', 'the amendment changes nothing: every grant and resource it names is already in the task');
    const after: TaskScope = {
      tools: [...task.scope.tools.map((t) => changed.find((g) => g.name === t.name) ?? t), ...changed.filter((g) => !task.scope.tools.some((t) => t.name === g.name))],
      resources: [...task.scope.resources, ...addedResources],
    };
    const hash = createHash('sha256').update(canonicalJson({ amend: task.id, before: task.scope, after })).digest('hex');
    const change = { add: changed.filter((g) => !task.scope.tools.some((t) => t.name === g.name)), change: changed.filter((g) => task.scope.tools.some((t) => t.name === g.name)).map((g) => ({ from: task.scope.tools.find((t) => t.name === g.name), to: g })), addResources: addedResources };

    const prior = await this.approvals.forAmendment(task.id, hash);
    if (prior?.status === 'pending') throw new MandateError('authorization_pending', `the amendment of task ${q(task.id)} is waiting for approval (${prior.id}); ask again later`, { details: { task_id: task.id, approval_id: prior.id, interval: 5 } });
    if (prior?.status === 'denied') {
      const by = prior.decisions.find((d) => d.decision === 'deny');
      throw new MandateError('access_denied', `the amendment of task ${q(task.id)} was refused${by ? ` by ${by.by}${by.reason ? ` (${by.reason})` : ''}` : ''}: the task keeps its scope`);
    }
    if (prior?.status === 'approved') {
      if (!(await this.approvals.consumeAmendment(prior.id, hash))) throw new MandateError('conflict', `approval ${q(prior.id)} of this amendment was already used or has expired: ask again`);
      const amended = await this.store.amendTaskScope(task.id, task.scope, after);
      if (!amended) throw new MandateError('conflict', `task ${q(task.id)} changed meanwhile (ended, or amended otherwise): ask again`);
      await this.audit.record({ type: 'task.amend', actor: agent.id, agentId: agent.id, taskId: task.id, outcome: 'success', data: { approval: prior.id, approvedBy: prior.decisions.filter((d) => d.decision === 'approve').map((d) => d.by), ...change, tools: after.tools.map((t) => t.name) } });
      this.onAmended?.(amended);
      const credential = await this.credentials.issue(amended, agent, audience, bind);
      const ttl = Math.max(1, Math.round((amended.expiresAt - this.clock.now()) / 1000));
      await this.audit.record({ type: 'task.credential', actor: agent.id, agentId: agent.id, taskId: task.id, outcome: 'success', data: { credentialId: credential.jti, audience, boundTo: bind.jkt ?? null, amended: true, expiresAt: amended.expiresAt } });
      return { task: amended, credential, authorizationDetails: scopeToDetails(amended.intent, amended.scope, ttl), decisions: [], warnings: [] };
    }

    // Policy first: may this agent ever hold what it asks for? (`amendTask`, once per changed grant.)
    const now = this.clock.now();
    const decisions: Decision[] = [];
    const denials: string[] = [];
    for (const grant of changed) {
      const tool = toolOfGrant(grant.name, this.tools)!;
      const d = this.policy.decide({
        principal: { type: 'Agent', id: agent.id },
        action: 'amendTask',
        resource: { type: 'Tool', id: tool.name },
        context: { intent: task.intent, ttl: Math.max(0, Math.round((task.expiresAt - now) / 1000)), tools: after.tools.map((t) => t.name), resources: after.resources, constrainedArgs: Object.keys(grant.constraints ?? {}), maxCalls: grant.max_calls ?? 0, time: timeContext(now) } as Record<string, CedarValueJson>,
        entities: [agentEntity(agent), toolEntity(tool)],
      });
      decisions.push(d);
      if (d.decision === 'deny') denials.push(`tool ${q(tool.name)}: ${d.reasons.join('; ') || 'no policy permits amending a task with it'}`);
    }
    if (denials.length) {
      await this.audit.record({ type: 'task.amend', actor: agent.id, agentId: agent.id, taskId: task.id, decision: 'deny', outcome: 'denied', data: { ...change, reasons: denials } });
      throw new MandateError('invalid_scope', `amendment denied by policy: ${denials.join(' | ')}`);
    }
    // Where the new values come from (a recipient the agent only read in a mail, say).
    const values: Record<string, unknown> = {};
    for (const g of changed) for (const [arg, c] of Object.entries(g.constraints ?? {})) values[`${g.name}.${arg}`] = (c as { eq?: unknown; in?: unknown[]; like?: string }).eq ?? (c as { in?: unknown[] }).in ?? (c as { like?: string }).like;
    addedResources.forEach((r, i) => (values[`resource ${i + 1}`] = r));
    const provenance = this.provenanceOf && Object.keys(values).length ? await this.provenanceOf(task, values) : undefined;
    const a = await this.approvals.forTaskAmend({ task, agent, hash, change, decisions, provenance });
    await this.audit.record({ type: 'task.amend', actor: agent.id, agentId: agent.id, taskId: task.id, decision: 'approval_required', outcome: 'pending', data: { approval: a.id, ...change } });
    throw new MandateError('authorization_pending', `the amendment of task ${q(task.id)} needs a person's approval (${a.id}, ${a.approvers.join(' or ')}); ask again later`, { details: { task_id: task.id, approval_id: a.id, interval: 5 } });
  }

  /** Starts a task for an authenticated agent from its `authorization_details`. */
  async start(agent: Agent, rawDetails: unknown, audience: string, bind: IssueOptions = {}): Promise<StartedTask> {
    const detail = parseAuthorizationDetails(rawDetails);
    const request = normaliseScope(detail, this.tools);
    this.checkProvisioning(request.scope);
    const warnings = scopeWarnings(request.scope, this.tools);
    const ttl = Math.min(request.ttl ?? this.limits.defaultTtl, this.limits.maxTtl);
    const now = this.clock.now();

    // Policy decides what an agent may ever request: `startTask` once per requested tool.
    const context: Record<string, CedarValueJson> = {
      intent: request.intent,
      ttl,
      tools: request.scope.tools.map((t) => t.name),
      resources: request.scope.resources,
      time: timeContext(now),
    };
    const decisions: Decision[] = [];
    const denials: string[] = [];
    for (const grant of request.scope.tools) {
      const tool = toolOfGrant(grant.name, this.tools)!;
      const d = this.policy.decide({
        principal: { type: 'Agent', id: agent.id },
        action: 'startTask',
        resource: { type: 'Tool', id: tool.name },
        context: { ...context, constrainedArgs: Object.keys(grant.constraints ?? {}), maxCalls: grant.max_calls ?? 0 },
        entities: [agentEntity(agent), toolEntity(tool)],
      });
      decisions.push(d);
      if (d.decision === 'deny') denials.push(`tool ${q(tool.name)}: ${d.reasons.join('; ')}`);
      else if (d.decision === 'approval_required' && !this.approvals) denials.push(`tool ${q(tool.name)}: requires human approval (${d.reasons.join('; ')})`);
    }
    const decisionSummary = decisions.map((d, i) => ({ tool: request.scope.tools[i]!.name, decision: d.decision, decisionId: d.id, policyIds: d.policyIds }));
    if (denials.length) {
      // Denied by policy, or gated where no one can approve (a deny of class `approval`).
      const denied = decisions.find((d) => d.decision === 'deny');
      this.metrics.decided('token', denied, denied ? null : 'approval');
      await this.audit.record({
        type: 'task.deny',
        actor: agent.id,
        agentId: agent.id,
        decision: 'deny',
        outcome: 'denied',
        data: { intent: request.intent, requested: request.scope, decisions: decisionSummary, reasons: denials, policyVersion: this.policy.version },
      });
      throw new MandateError('invalid_scope', `task denied by policy: ${denials.join(' | ')}`, {
        details: { reasons: denials, decision_ids: decisions.filter((d) => d.decision !== 'allow').map((d) => d.id) },
      });
    }

    // Some tool needs a human to approve the task itself: it waits, and the agent comes back for
    // its credential once approved (RFC 8628-style `authorization_pending`).
    const gated = decisions.some((d) => d.decision === 'approval_required');
    if (gated && this.approvals) {
      this.metrics.decided('token', decisions.find((d) => d.decision === 'approval_required'));
      // It waits as long as its approval request may; its own TTL starts once approved.
      const pending = newTask({ now, agentId: agent.id, intent: request.intent, scope: request.scope, status: 'pending_approval', expiresAt: now + this.approvals.windowMs(), decisionId: decisions.find((d) => d.decision === 'approval_required')?.id ?? null });
      await this.store.insertTask(pending);
      const approval = await this.approvals.forTaskStart(pending, agent, decisions, ttl);
      await this.audit.record({
        type: 'task.pending',
        actor: agent.id,
        agentId: agent.id,
        taskId: pending.id,
        decision: 'approval_required',
        outcome: 'pending',
        data: { intent: request.intent, requested: request.scope, ttl, approval: approval.id, decisions: decisionSummary, policyVersion: this.policy.version, ...(warnings.length ? { warnings } : {}) },
      });
      throw new MandateError('authorization_pending', `this task needs human approval before it starts (approval ${approval.id}, approvers: ${approval.approvers.join(' or ')}); once approved, ask again with authorization_details [{"type":"mandate_task","task_id":"${pending.id}"}]`, {
        details: { task_id: pending.id, approval_id: approval.id, expires_at: Math.floor(approval.expiresAt / 1000), interval: 5 },
      });
    }

    const task = newTask({ now, agentId: agent.id, intent: request.intent, scope: request.scope, status: 'active', expiresAt: now + ttl * 1000, decisionId: decisions[0]?.id ?? null });
    this.metrics.decided('token', decisions[0]);
    await this.store.insertTask(task);
    await this.provision(task, agent.id);
    const credential = await this.credentials.issue(task, agent, audience, bind);
    await this.audit.record({
      type: 'task.start',
      actor: agent.id,
      agentId: agent.id,
      taskId: task.id,
      decision: 'allow',
      outcome: 'success',
      data: { intent: task.intent, scope: task.scope, ttl, expiresAt: task.expiresAt, credentialId: credential.jti, audience, boundTo: bind.jkt ?? null, decisions: decisionSummary, policyVersion: this.policy.version, ...(warnings.length ? { warnings } : {}) },
    });
    return { task, credential, authorizationDetails: scopeToDetails(task.intent, task.scope, ttl), decisions, warnings };
  }

  /**
   * Delegation (RFC 8693 token exchange): the agent of a live parent task hands a narrower part
   * of it to another agent. The child's tools, their constraints and call limits, its resources
   * and its expiry must fit inside the parent's; its call budgets come out of what the parent
   * (and every task above it) has left; its depth stays within the limit and no agent appears
   * twice in a chain; Cedar `delegate` must allow the pair, and `startTask` must allow the child
   * each tool on its own. Approvals and break-glass elevation never pass down: a break-glass
   * parent cannot delegate, and an approval gate on the child's tools refuses rather than waits.
   */
  async delegate(p: { parent: Task; parentAgent: Agent; child: Agent; rawDetails: unknown; audience: string; bind: IssueOptions; maxDepth: number }): Promise<StartedTask> {
    const { parent, parentAgent, child } = p;
    const now = this.clock.now();
    // Whom the child will act for: the parent, then whoever the parent acts for.
    const actsFor: ChainLink[] = parent.chain?.length ? parent.chain : [{ agent: parentAgent.id, task: parent.id }];
    const refuse = async (code: 'invalid_grant' | 'invalid_scope', message: string, extra: Record<string, unknown> = {}, why: ReasonClass = 'scope', by?: Decision): Promise<never> => {
      this.metrics.decided('token', by, by ? null : why);
      await this.audit.record({ type: 'task.delegate', actor: parentAgent.id, agentId: child.id, taskId: parent.id, decision: 'deny', outcome: 'denied', data: { reason: message, parentTask: parent.id, child: child.id, chain: [{ agent: child.id, task: null }, ...actsFor], ...extra } });
      throw new MandateError(code, message);
    };
    if (parent.breakGlass) await refuse('invalid_grant', 'break-glass tasks cannot delegate: their elevation covers this agent and this emergency only');
    if (!this.isLive(parent)) await refuse('invalid_grant', `the parent task ${q(parent.id)} is ${parent.status === 'active' ? 'ended' : parent.status}: nothing to delegate`, {}, 'revoked');
    if (child.status !== 'active') await refuse('invalid_grant', `agent ${q(child.id)} is ${child.status}`, {}, 'suspended');
    if (child.id === parentAgent.id) await refuse('invalid_grant', 'an agent cannot delegate to itself: start another task instead');
    // A → B → A would hand A authority (and budgets) it already holds as a fresh grant.
    if (actsFor.some((l) => l.agent === child.id)) await refuse('invalid_grant', `delegation cycle: agent ${q(child.id)} is already in this task's chain (${actsFor.map((l) => l.agent).join(' ← ')})`);
    const depth = parent.depth + 1;
    if (depth > p.maxDepth) await refuse('invalid_grant', `delegation depth ${depth} is over the limit of ${p.maxDepth} (credentials.maxDelegationDepth)`);

    const detail = parseAuthorizationDetails(p.rawDetails);
    const request = normaliseScope(detail, this.tools);
    // Resources not named are the parent's.
    if (request.scope.resources.length === 0) request.scope.resources = [...parent.scope.resources];
    const problems = narrowing(parent.scope, request.scope);
    if (problems.length) await refuse('invalid_scope', `a child can only get less than its parent: ${problems.join('; ')}`);
    this.checkProvisioning(request.scope);
    // Budgets: a child gets at most what the parent and every task above it have left.
    const left = await this.callsLeft(parent);
    for (const g of request.scope.tools) {
      const rest = left.get(g.name);
      if (rest === undefined) continue;
      if (rest <= 0) problems.push(`tool ${q(g.name)}: the parent has no calls left to give (its budget is spent)`);
      else if (g.max_calls === undefined || g.max_calls > rest) {
        if (g.max_calls !== undefined && g.max_calls > rest) problems.push(`tool ${q(g.name)}: ${g.max_calls} calls is more than the ${rest} the parent has left`);
        else g.max_calls = rest;
      }
    }
    if (problems.length) await refuse('invalid_scope', `a child's budget comes out of what its parent has left: ${problems.join('; ')}`, {}, 'budget');
    const remaining = Math.floor((parent.expiresAt - now) / 1000);
    const ttl = request.ttl ?? Math.min(remaining, this.limits.defaultTtl);
    if (ttl > remaining) await refuse('invalid_scope', `the child asks for ${ttl}s but the parent task ends in ${remaining}s: a child cannot outlive its parent`);

    const time = timeContext(now);
    const d = this.policy.decide({
      principal: { type: 'Agent', id: parentAgent.id },
      action: 'delegate',
      resource: { type: 'Agent', id: child.id },
      context: { task: taskInfo(parent), intent: request.intent, tools: request.scope.tools.map((t) => t.name), resources: request.scope.resources, ttl, depth, time },
      entities: [agentEntity(parentAgent), agentEntity(child)],
    });
    if (d.decision !== 'allow') {
      const why = d.decision === 'approval_required' ? `needs approval, which delegation never waits for (${d.reasons.join('; ')})` : d.reasons.join('; ');
      await refuse('invalid_scope', `delegation to ${q(child.id)} denied by policy: ${why}`, { decisionId: d.id, policyIds: d.policyIds }, 'approval', d.decision === 'deny' ? d : undefined);
    }
    // The child must be allowed each tool on its own account too; an approval gate here refuses.
    const denials: string[] = [];
    for (const grant of request.scope.tools) {
      const tool = toolOfGrant(grant.name, this.tools)!;
      const sd = this.policy.decide({
        principal: { type: 'Agent', id: child.id },
        action: 'startTask',
        resource: { type: 'Tool', id: tool.name },
        context: { intent: request.intent, ttl, tools: request.scope.tools.map((t) => t.name), resources: request.scope.resources, time, constrainedArgs: Object.keys(grant.constraints ?? {}), maxCalls: grant.max_calls ?? 0 },
        entities: [agentEntity(child), toolEntity(tool)],
      });
      if (sd.decision !== 'allow') denials.push(`tool ${q(tool.name)}: ${sd.decision === 'approval_required' ? 'needs approval, which delegation never grants' : sd.reasons.join('; ')}`);
    }
    if (denials.length) await refuse('invalid_scope', `the child agent may not hold: ${denials.join(' | ')}`, {}, 'policy');

    const warnings = scopeWarnings(request.scope, this.tools);
    const task = newTask({ now, agentId: child.id, parentId: parent.id, depth, intent: request.intent, scope: request.scope, status: 'active', labels: [...parent.labels], expiresAt: now + ttl * 1000, decisionId: d.id, actsFor });
    this.metrics.decided('token', d);
    await this.store.insertTask(task);
    await this.provision(task, parentAgent.id);
    const credential = await this.credentials.issue(task, child, p.audience, p.bind);
    await this.audit.record({
      type: 'task.delegate',
      actor: parentAgent.id,
      agentId: child.id,
      taskId: task.id,
      decision: 'allow',
      outcome: 'success',
      data: { parentTask: parent.id, child: child.id, depth, intent: task.intent, scope: task.scope, ttl, credentialId: credential.jti, boundTo: p.bind.jkt ?? null, chain: task.chain, decisionId: d.id, policyIds: d.policyIds, ...(warnings.length ? { warnings } : {}) },
    });
    return { task, credential, authorizationDetails: scopeToDetails(task.intent, task.scope, ttl), decisions: [d], warnings };
  }

  /**
   * What is left of each limited tool budget for `task` and every task above it (the least of
   * them): the calls a delegation from `task` may still hand down.
   */
  async callsLeft(task: Task): Promise<Map<string, number>> {
    const line: Task[] = [task];
    for (const link of task.chain?.slice(1) ?? []) {
      const t = await this.store.getTask(link.task);
      if (t) line.push(t);
    }
    const left = new Map<string, number>();
    for (const t of line) {
      const limited = t.scope.tools.filter((g) => g.max_calls !== undefined);
      if (!limited.length) continue;
      const used = await this.store.callCounts(t.id);
      for (const g of limited) left.set(g.name, Math.min(left.get(g.name) ?? Infinity, g.max_calls! - (used[g.name] ?? 0)));
    }
    return left;
  }

  /**
   * A credential for a task that already exists (one approved after it waited, or break-glass):
   * only to its own agent, only while active.
   */
  async credentialFor(agent: Agent, taskId: string, audience: string, bind: IssueOptions = {}): Promise<StartedTask> {
    const task = await this.store.getTask(taskId);
    if (!task || task.agentId !== agent.id) throw new MandateError('invalid_grant', `task ${q(taskId)} is not a task of this agent`);
    if (task.status === 'pending_approval') {
      const a = await this.approvals?.forTask(task.id);
      throw new MandateError('authorization_pending', `task ${q(taskId)} is still waiting for approval${a ? ` (${a.id})` : ''}; ask again later`, { details: { task_id: task.id, ...(a ? { approval_id: a.id } : {}), interval: 5 } });
    }
    if (task.status !== 'active' || this.revocations.has(task.id)) {
      const denied = (await this.approvals?.forTask(task.id))?.status === 'denied';
      throw new MandateError(denied ? 'access_denied' : 'expired_token', `task ${q(taskId)} is ${denied ? 'denied' : task.status}${task.endReason ? ` (${task.endReason})` : ''}: start a new one`);
    }
    // Approved (or break-glass) tasks became active elsewhere: provisioned now if not already.
    await this.provision(task, agent.id);
    const credential = await this.credentials.issue(task, agent, audience, bind);
    const ttl = Math.max(1, Math.round((task.expiresAt - this.clock.now()) / 1000));
    await this.audit.record({ type: 'task.credential', actor: agent.id, agentId: agent.id, taskId: task.id, outcome: 'success', data: { credentialId: credential.jti, audience, boundTo: bind.jkt ?? null, breakGlass: task.breakGlass === true, expiresAt: task.expiresAt } });
    return { task, credential, authorizationDetails: scopeToDetails(task.intent, task.scope, ttl), decisions: [], warnings: [] };
  }

  async get(id: string): Promise<Task> {
    const task = await this.store.getTask(id);
    if (!task) throw new MandateError('not_found', `task ${q(id)} not found`);
    return task;
  }

  list(filter: TaskFilter = {}): Promise<Task[]> {
    return this.store.listTasks(filter);
  }

  /** Live means active and not revoked in memory (the hot-path view). */
  isLive(task: Task): boolean {
    return task.status === 'active' && !this.revocations.has(task.id) && task.expiresAt > this.clock.now();
  }

  /** The agent ends its own task (RFC 7009 revocation of its credential). */
  end(taskId: string, actor: string, reason = 'ended by agent'): Promise<Task> {
    return this.finish(taskId, 'completed', actor, reason);
  }

  /** An admin (or a lifecycle rule) revokes a task; children go with it. */
  revoke(taskId: string, actor: string, reason = 'revoked by admin'): Promise<Task> {
    return this.finish(taskId, 'revoked', actor, reason);
  }

  /**
   * Ends a task and cascades to its children. The revocation holds in this process first, before
   * and whatever the store says: a credential is never honoured again here once this is called.
   * Then it is persisted (status, revocation record, audit); if the store cannot write, the end is
   * queued, retried by the maintenance sweep, and the caller gets a storage error that says so.
   */
  private async finish(taskId: string, to: TaskStatus, actor: string, reason: string, depth = 0): Promise<Task> {
    const now = this.clock.now();
    if (!this.revocations.has(taskId)) this.revocations.revokeNow({ taskId, revokedAt: now, expiresAt: now + IN_MEMORY_HOLD_MS, reason });
    try {
      const task = await this.store.transitionTask(taskId, LIVE, to, now, reason);
      const current = task ?? (await this.get(taskId));
      if (task) {
        await this.revocations.persist({ taskId, revokedAt: now, expiresAt: Math.max(current.expiresAt, now) + 60_000, reason });
        await this.audit.record({
          type: to === 'completed' ? 'task.end' : 'task.revoke',
          actor,
          agentId: current.agentId,
          taskId,
          outcome: to,
          data: { reason, parentId: current.parentId },
        });
      }
      // Cascade: a child can never outlive its parent's authority.
      if (depth < 16) {
        for (const child of await this.store.listTasks({ parentId: taskId, limit: 10_000 })) {
          if (LIVE.includes(child.status)) await this.finish(child.id, 'revoked', actor, `parent task ${taskId} ended`, depth + 1);
        }
      }
      this.pending.delete(taskId);
      return current;
    } catch (err) {
      if (!(err instanceof StorageUnavailableError)) throw err;
      this.pending.set(taskId, { to, actor, reason });
      throw new StorageUnavailableError(`${err.message}; task ${q(taskId)} is already ${to === 'completed' ? 'ended' : 'revoked'} in this process (its credentials are refused) and the change will be recorded when the store recovers`, err);
    }
  }

  /** Retries ends that could not be recorded (called by the maintenance sweep). */
  async persistPending(): Promise<number> {
    let done = 0;
    for (const [taskId, p] of [...this.pending]) {
      try {
        await this.finish(taskId, p.to, p.actor, p.reason);
        done++;
      } catch {
        return done; // still failing: try again on the next sweep
      }
    }
    return done;
  }

  /** Ends every live task of an agent (suspension, retirement). */
  async revokeAllForAgent(agentId: string, reason: string, actor: string): Promise<number> {
    let n = 0;
    for (const status of LIVE) {
      for (const t of await this.store.listTasks({ agentId, status, limit: 10_000 })) {
        await this.finish(t.id, 'revoked', actor, reason);
        n++;
      }
    }
    return n;
  }

  /** Marks tasks past their expiry as expired. Returns how many. */
  async expireDue(): Promise<number> {
    const now = this.clock.now();
    let n = 0;
    for (const t of await this.store.listExpiredTasks(now, 500)) {
      const done = await this.store.transitionTask(t.id, LIVE, 'expired', now, 'ttl elapsed');
      if (!done) continue;
      await this.revocations.add({ taskId: t.id, revokedAt: now, expiresAt: now + 60_000, reason: 'task expired' });
      await this.audit.record({ type: 'task.expire', actor: 'system', agentId: t.agentId, taskId: t.id, outcome: 'expired', data: { expiresAt: t.expiresAt } });
      n++;
    }
    return n;
  }
}

/**
 * Why `child` is not inside `parent` (empty: it is). A child tool must be the parent's, keep every
 * constraint the parent has on it (it may add its own; inherited ones are filled in) and no
 * higher call limit than the parent's grant. Every child resource pattern must lie inside a
 * parent pattern. What is left of the parent's budgets is checked by `delegate`.
 */
export function narrowing(parent: TaskScope, child: TaskScope): string[] {
  const problems: string[] = [];
  const byName = new Map(parent.tools.map((t) => [t.name, t]));
  for (const g of child.tools) {
    const pg = byName.get(g.name);
    if (!pg) {
      problems.push(`tool ${q(g.name)} is not in the parent task`);
      continue;
    }
    const merged: NonNullable<ToolGrant['constraints']> = { ...(g.constraints ?? {}) };
    for (const [arg, c] of Object.entries(pg.constraints ?? {})) {
      if (!(arg in merged)) merged[arg] = c;
      else if (canonicalJson(merged[arg]) !== canonicalJson(c)) problems.push(`tool ${q(g.name)}: the parent constrains ${q(arg)} as ${canonicalJson(c)}; the child must keep exactly that`);
    }
    if (Object.keys(merged).length) g.constraints = merged;
    // A database role of the child's own: no table or privilege the parent's role does not have.
    for (const [obj, privs] of Object.entries(g.privileges ?? {})) {
      const schemaWide = `${obj.split('.')[0]}.*`;
      const have = new Set([...(pg.privileges?.[obj] ?? []), ...(pg.privileges?.[schemaWide] ?? [])]);
      const extra = privs.filter((x) => !have.has(x));
      if (extra.length) problems.push(`tool ${q(g.name)}: ${extra.join(', ')} on ${q(obj)} is more than the parent's database role has`);
    }
    // An unnamed call limit is filled in later from what the parent has left, not its grant.
    if (pg.max_calls !== undefined && g.max_calls !== undefined && g.max_calls > pg.max_calls) problems.push(`tool ${q(g.name)}: ${g.max_calls} calls is more than the parent's ${pg.max_calls}`);
  }
  for (const r of child.resources) {
    if (!parent.resources.some((p) => p === r || globMatch(p, r))) problems.push(`resource ${q(r)} is outside the parent's resources`);
  }
  return problems;
}
