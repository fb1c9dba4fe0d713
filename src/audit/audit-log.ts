// The append-only audit log. Events are appended in small batches (everything recorded in the
// same tick goes in one transaction), and `record` resolves only once its event is committed,
// so a caller that awaited it never loses the event to a crash.

import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { AuditEvent, AuditEventInput, AuditQuery, AuditStore } from '../storage/types.js';
import { GENESIS_HASH } from '../storage/types.js';
import { chainHash, recomputeHash } from './chain.js';
import { redactSecrets } from './redact.js';

export interface AuditRecord {
  type: string;
  actor: string;
  agentId?: string | null;
  taskId?: string | null;
  decision?: string | null;
  outcome?: string | null;
  data?: Record<string, unknown>;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  head: { seq: number; hash: string } | null;
  /** The first broken link, if any. */
  broken?: { seq: number; reason: string };
}

type Listener = (e: AuditEvent) => void;

interface Pending {
  input: AuditEventInput;
  resolve: (e: AuditEvent) => void;
  reject: (err: unknown) => void;
}

export class AuditLog {
  private queue: Pending[] = [];
  private flushing = false;
  private readonly listeners = new Set<Listener>();
  /** Told how long each durable append took, in seconds (`mandate_audit_append_duration_seconds`); null: not timed. */
  onAppended: ((seconds: number) => void) | null = null;

  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
  ) {}

  record(r: AuditRecord): Promise<AuditEvent> {
    const ts = this.clock.now();
    const input: AuditEventInput = {
      id: newId('evt', ts),
      ts,
      type: r.type,
      actor: r.actor,
      agentId: r.agentId ?? null,
      taskId: r.taskId ?? null,
      decision: r.decision ?? null,
      outcome: r.outcome ?? null,
      data: redactSecrets(r.data ?? {}),
    };
    return new Promise<AuditEvent>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Called for every committed event (live tail, event bus). */
  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 1000);
      try {
        const started = this.onAppended ? performance.now() : 0;
        const events = await this.store.appendAudit(
          batch.map((p) => p.input),
          chainHash,
        );
        this.onAppended?.((performance.now() - started) / 1000);
        events.forEach((e, i) => batch[i]!.resolve(e));
        for (const e of events) for (const l of this.listeners) l(e);
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.flushing = false;
  }

  /** Resolves once everything recorded so far is committed. */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
  }

  list(query: AuditQuery = {}): Promise<AuditEvent[]> {
    return this.store.listAudit(query);
  }

  /** Walks the whole chain and reports the first event whose link does not hold. */
  async verify(onProgress?: (checked: number) => void): Promise<VerifyResult> {
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let checked = 0;
    const page = 5000;
    for (;;) {
      const events = await this.store.listAudit({ afterSeq: expectedSeq - 1, limit: page });
      if (events.length === 0) break;
      for (const e of events) {
        const head = { seq: expectedSeq - 1, hash: prevHash };
        if (e.seq !== expectedSeq) {
          return { ok: false, checked, head, broken: { seq: expectedSeq, reason: `event ${expectedSeq} is missing (next stored event is ${e.seq})` } };
        }
        if (e.prevHash !== prevHash) {
          return { ok: false, checked, head, broken: { seq: e.seq, reason: `event ${e.seq} does not follow event ${e.seq - 1}: previous-hash link broken (deleted, inserted or reordered)` } };
        }
        if (recomputeHash(e) !== e.hash) {
          return { ok: false, checked, head, broken: { seq: e.seq, reason: `event ${e.seq} was modified: its content does not match its hash` } };
        }
        prevHash = e.hash;
        expectedSeq++;
        checked++;
      }
      onProgress?.(checked);
    }
    // A seq gap right after the last contiguous event (e.g. a deleted middle event whose
    // successors were also moved) is caught above; here we only report the head.
    return { ok: true, checked, head: checked ? { seq: expectedSeq - 1, hash: prevHash } : null };
  }
}
