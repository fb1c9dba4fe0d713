// The agent registry: every agent is a workload identity with an owner, a purpose, an
// environment, a review-by date and the public keys it authenticates with. Suspension and
// retirement end the agent's live tasks at once.

import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Agent, AgentStatus, AgentStore } from '../storage/types.js';
import { normalisePublicJwks } from './jwk.js';
import { agentIdFor, resolveAgentId } from './spiffe.js';
import { StorageUnavailableError } from '../storage/errors.js';

export interface CreateAgentInput {
  name: string;
  owner: string;
  purpose: string;
  environment: string;
  reviewBy?: string | null;
  labels?: string[];
  jwks: unknown;
}

export interface AgentLifecycleHooks {
  /** Called after an agent leaves `active`: revoke its live tasks. */
  onDeactivated(agentId: string, reason: string, actor: string): Promise<void>;
}

const ENVIRONMENT = /^[a-z0-9][a-z0-9-]{0,31}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DEFAULT_REVIEW_DAYS = 90;

export class AgentService {
  private hooks: AgentLifecycleHooks | null = null;
  private readonly pending = new Map<string, { idOrName: string; status: AgentStatus; actor: string; reason: string | undefined }>();
  /** The in-memory kill switch (set by the composition root). */
  stop: ((agentId: string, reason: string) => void) | undefined;
  start: ((agentId: string) => void) | undefined;

  constructor(
    private readonly store: AgentStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    readonly trustDomain: string,
  ) {}

  setHooks(hooks: AgentLifecycleHooks): void {
    this.hooks = hooks;
  }

  async create(input: CreateAgentInput, actor: string): Promise<Agent> {
    const id = agentIdFor(this.trustDomain, input.name);
    const owner = input.owner?.trim();
    if (!owner) throw new MandateError('invalid_request', '`owner` is required: every agent has an accountable human (email or subject)');
    if (!input.purpose?.trim()) throw new MandateError('invalid_request', '`purpose` is required: say what the agent is for');
    if (!ENVIRONMENT.test(input.environment ?? '')) {
      throw new MandateError('invalid_request', `\`environment\` ${q(input.environment)} is invalid: use a short lower-case name such as \`dev\`, \`staging\` or \`prod\``);
    }
    const now = this.clock.now();
    let reviewBy = input.reviewBy ?? null;
    if (reviewBy === null) reviewBy = new Date(now + DEFAULT_REVIEW_DAYS * 86_400_000).toISOString().slice(0, 10);
    if (!DATE.test(reviewBy) || Number.isNaN(Date.parse(reviewBy))) {
      throw new MandateError('invalid_request', `\`reviewBy\` ${q(reviewBy)} is invalid: expected a date YYYY-MM-DD`);
    }
    const jwks = await normalisePublicJwks(input.jwks);
    const agent: Agent = {
      id,
      name: input.name,
      owner,
      purpose: input.purpose.trim(),
      environment: input.environment,
      status: 'active',
      reviewBy,
      jwks,
      labels: [...new Set(input.labels ?? [])],
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.store.insertAgent(agent);
    } catch (err) {
      if ((err as MandateError).code === 'conflict') throw new MandateError('conflict', `agent ${q(input.name)} already exists`, { cause: err });
      throw err;
    }
    await this.audit.record({
      type: 'agent.create',
      actor,
      agentId: id,
      outcome: 'success',
      data: { owner, purpose: agent.purpose, environment: agent.environment, reviewBy, kids: jwks.keys.map((k) => k.kid) },
    });
    return agent;
  }

  async get(idOrName: string): Promise<Agent> {
    const id = resolveAgentId(this.trustDomain, idOrName);
    const agent = await this.store.getAgent(id);
    if (!agent) throw new MandateError('not_found', `agent ${q(idOrName)} not found`);
    return agent;
  }

  async find(id: string): Promise<Agent | null> {
    return this.store.getAgent(id);
  }

  list(filter: { status?: AgentStatus; owner?: string } = {}): Promise<Agent[]> {
    return this.store.listAgents(filter);
  }

  /**
   * suspend (kill switch), resume, retire (terminal). A suspension or retirement holds in this
   * process at once, before and whatever the store says (`stop`); if the store cannot record it,
   * it is queued, retried by the sweeper, and the caller gets a storage error that says so.
   */
  async setStatus(idOrName: string, status: AgentStatus, actor: string, reason?: string): Promise<Agent> {
    const id = resolveAgentId(this.trustDomain, idOrName);
    if (status !== 'active') this.stop?.(id, `agent ${status}${reason ? `: ${reason}` : ''}`);
    try {
      const done = await this.applyStatus(idOrName, status, actor, reason);
      this.pending.delete(id);
      return done;
    } catch (err) {
      if (status === 'active' || !(err instanceof StorageUnavailableError)) throw err;
      this.pending.set(id, { idOrName, status, actor, reason });
      throw new StorageUnavailableError(`${err.message}; agent ${q(idOrName)} is already ${status} in this process (its credentials are refused) and this will be recorded when the store recovers`, err);
    }
  }

  /** A status change of this agent waits here for the store to take it. */
  hasPending(id: string): boolean {
    return this.pending.has(id);
  }

  /** Retries suspensions and retirements the store could not take (called by the maintenance sweep). */
  async persistPending(): Promise<void> {
    for (const [id, p] of [...this.pending]) {
      await this.applyStatus(p.idOrName, p.status, p.actor, p.reason);
      this.pending.delete(id);
    }
  }

  private async applyStatus(idOrName: string, status: AgentStatus, actor: string, reason?: string): Promise<Agent> {
    const agent = await this.get(idOrName);
    if (agent.status === 'retired' && status !== 'retired') {
      throw new MandateError('conflict', `agent ${q(agent.name)} is retired: retirement is final; create a new agent`);
    }
    if (agent.status === status) return agent;
    const updated = await this.store.updateAgent(agent.id, { status }, this.clock.now());
    const type = status === 'suspended' ? 'agent.suspend' : status === 'retired' ? 'agent.retire' : 'agent.resume';
    await this.audit.record({ type, actor, agentId: agent.id, outcome: 'success', data: { from: agent.status, to: status, reason: reason ?? null } });
    if (status !== 'active') await this.hooks?.onDeactivated(agent.id, `agent ${status}${reason ? `: ${reason}` : ''}`, actor);
    else this.start?.(agent.id);
    return updated;
  }
}
