// The in-memory revocation set checked on every credential use. It is loaded from the store at
// start (so a restart forgets nothing) and kept current by the task service and by events
// from other replicas; the hot path never waits on the database.

import type { Revocation, RevocationStore } from '../storage/types.js';

export class RevocationList {
  private readonly revoked = new Map<string, Revocation>();
  private readonly listeners = new Set<(r: Revocation) => void>();
  /**
   * Agents suspended or retired in this process (the kill switch holds here at once, before the
   * store records it); the store's agent status is the truth across restarts and replicas.
   */
  private readonly stoppedAgents = new Map<string, string>();
  private readonly agentListeners = new Set<(agentId: string) => void>();

  /**
   * Why this process's view may be out of date (it lost the connection that hears other replicas'
   * revocations), or null. While set, credential checks refuse rather than trust this set.
   */
  untrusted: string | null = null;

  constructor(private readonly store: RevocationStore) {}

  /** Reads every unexpired revocation from the store; ones new to this process take effect (sessions close). */
  async load(now: number): Promise<number> {
    for (const r of await this.store.listRevocations(now)) this.remember(r);
    return this.revoked.size;
  }

  has(taskId: string): boolean {
    return this.revoked.has(taskId);
  }

  get(taskId: string): Revocation | undefined {
    return this.revoked.get(taskId);
  }

  /**
   * Makes a revocation hold in this process at once (sessions of the task close), before and
   * whatever the store says; `persist` records it for restarts and other replicas.
   */
  revokeNow(r: Revocation): void {
    const had = this.revoked.has(r.taskId);
    this.revoked.set(r.taskId, r);
    if (!had) for (const l of this.listeners) l(r);
  }

  /** Records a revocation in the store (it already holds in memory). */
  async persist(r: Revocation): Promise<void> {
    this.revoked.set(r.taskId, r);
    await this.store.insertRevocation(r);
  }

  /** In memory at once, then in the store: once `add` resolves it holds across restarts too. */
  async add(r: Revocation): Promise<void> {
    this.revokeNow(r);
    await this.persist(r);
  }

  /** Called for every revocation learned (here or from another replica): sessions of the task close. */
  onRevoked(listener: (r: Revocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies a revocation learned from the store or another replica (already persisted there). */
  remember(r: Revocation): void {
    const had = this.revoked.has(r.taskId);
    this.revoked.set(r.taskId, r);
    if (!had) for (const l of this.listeners) l(r);
  }

  /** Agents stopped in this process (for catching up with the store's statuses). */
  stoppedAgentIds(): string[] {
    return [...this.stoppedAgents.keys()];
  }

  /** The kill switch in memory: from now on no credential of this agent is honoured here. */
  stopAgent(agentId: string, reason: string): void {
    const had = this.stoppedAgents.has(agentId);
    this.stoppedAgents.set(agentId, reason);
    if (!had) for (const l of this.agentListeners) l(agentId);
  }

  /** Undoes `stopAgent` (a resume the store has recorded). */
  startAgent(agentId: string): void {
    this.stoppedAgents.delete(agentId);
  }

  /** Why the agent may not act (suspended or retired in this process), or undefined. */
  agentStopped(agentId: string): string | undefined {
    return this.stoppedAgents.get(agentId);
  }

  /** Called when an agent is stopped here: its sessions close. */
  onAgentStopped(listener: (agentId: string) => void): () => void {
    this.agentListeners.add(listener);
    return () => this.agentListeners.delete(listener);
  }

  async prune(now: number): Promise<void> {
    for (const [id, r] of this.revoked) if (r.expiresAt <= now) this.revoked.delete(id);
    await this.store.pruneRevocations(now);
  }

  get size(): number {
    return this.revoked.size;
  }
}
