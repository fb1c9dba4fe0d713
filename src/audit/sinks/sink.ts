// What an audit sink is to the runner: something that takes the next events of the chain, in
// order, and says only once they are durable at the destination (fsync'd, or answered 2xx).

import type { AuditEvent } from '../../storage/types.js';

export interface DeliveryResult {
  /** The file sink started a new file (the runner then records a checkpoint). */
  rotated: boolean;
}

export interface AuditSink {
  readonly name: string;
  readonly type: 'file' | 'http';
  /** Where it delivers, safe to show (a path, or a URL without credentials or query). */
  readonly target: string;
  /** Most events handed to one `deliver`. */
  readonly batch: number;
  /**
   * Delivers `events` (consecutive, oldest first). Resolves once they are durable at the
   * destination; throws otherwise, and then none of them counts as delivered.
   */
  deliver(events: AuditEvent[], signal: AbortSignal): Promise<DeliveryResult>;
  close(): Promise<void>;
}

/** An event with its fields in the order `mandate audit export` writes them. */
export function eventObject(e: AuditEvent): Record<string, unknown> {
  return {
    seq: e.seq,
    id: e.id,
    ts: e.ts,
    type: e.type,
    actor: e.actor,
    agentId: e.agentId,
    taskId: e.taskId,
    decision: e.decision,
    outcome: e.outcome,
    data: e.data,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

/**
 * One event as one JSON line, as `mandate audit export` writes it: every line carries `seq`,
 * `prevHash` and `hash`, so a receiver can de-duplicate and check the chain.
 */
export function eventLine(e: AuditEvent): string {
  return JSON.stringify(eventObject(e));
}

/** An error's message, with the causes Node's fetch and fs hide behind a generic one. */
export function describeError(err: unknown): string {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  if (e?.name === 'AbortError') return 'aborted (shutting down)';
  const cause = e?.cause?.code ?? e?.cause?.message;
  const msg = e?.message ?? String(err);
  return cause && !msg.includes(cause) ? `${msg} (${cause})` : msg;
}
