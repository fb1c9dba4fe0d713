// Delivers the audit log to its sinks, and records signed checkpoints of the chain head.
//
// The store drives delivery, not this process's appends: several replicas may append to one
// PostgreSQL store, so each pass reads the events after the sink's durable cursor, in seq order,
// and an append here only wakes the reader early (a poll catches the others'). Per sink, one
// process at a time holds a lease (a row with an expiry, taken with a conditional statement) and
// moves the cursor only after the sink said the batch is durable, and only from the value it
// read; so in normal operation nothing is delivered twice and nothing is skipped. A holder that
// dies mid-batch loses the lease when it expires, and the next holder sends that batch again
// (at-least-once on failover; every line carries `seq` and `hash` for receivers to de-duplicate).

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { BackgroundFaults } from '../../core/faults.js';
import type { SigningKey } from '../../identity/signing-keys.js';
import type { AuditEvent, AuditSinkStore, AuditStore } from '../../storage/types.js';
import type { AuditRecord } from '../audit-log.js';
import { redactText } from '../redact.js';
import { CHECKPOINT_EVENT, signCheckpoint } from './checkpoint.js';
import { describeError, type AuditSink } from './sink.js';

/** The row of the checkpoint schedule in the sinks' table (sink names cannot start with `#`). */
export const CHECKPOINT_ROW = '#checkpoint';

export interface SinkRunnerOptions {
  store: AuditStore & AuditSinkStore;
  audit: { record(r: AuditRecord): Promise<AuditEvent>; onEvent(listener: (e: AuditEvent) => void): () => void };
  keys: { readonly current: SigningKey };
  clock: Clock;
  sinks: AuditSink[];
  /** A checkpoint after `every` events or `interval` seconds with new events (0: not by that), and at every rotation. */
  checkpoint: { every: number; interval: number };
  logger?: Logger | undefined;
  faults?: BackgroundFaults | undefined;
  /** How often the store is read for events other replicas appended (ms). Default 1000. */
  pollMs?: number;
  /** How long a lease lasts unless renewed (ms); longer than any one delivery may take. Default 30 s. */
  leaseMs?: number;
  /** Backoff after a failed delivery: `baseMs` doubling up to `maxMs`. Default 1 s to 5 min. */
  retry?: { baseMs: number; maxMs: number };
  /** This process's name in the leases. Default `<host>:<pid>:<random>`. */
  holder?: string;
  /** How long stop waits for a delivery in flight before cutting it off (ms). Default 5 s. */
  stopGraceMs?: number;
}

interface SinkState {
  sink: AuditSink;
  /** Failed attempts in a row. */
  attempts: number;
  /** No attempt before this instant (clock ms). */
  nextAttemptAt: number;
  lastError: string | null;
  /** This process held the lease at its last attempt. */
  holding: boolean;
}

export interface SinkStatus {
  name: string;
  type: 'file' | 'http';
  target: string;
  /** The seq of the last event delivered. */
  cursor: number;
  /** Events recorded but not delivered yet. */
  lag: number;
  deliveredAt: number | null;
  lastError: string | null;
  errorAt: number | null;
  /** The process delivering it now (null: nobody holds the lease). */
  holder: string | null;
  /** This replica delivers it. */
  here: boolean;
  /** Failed attempts in a row here, and when the next one is due (null when the last one worked). */
  retry: { attempts: number; nextAttemptAt: number } | null;
}

export interface SinksStatus {
  head: number;
  sinks: SinkStatus[];
  /** `lastEvent`: the seq of the last checkpoint recorded on schedule; `lastError`: why the last try failed here. */
  checkpoint: { every: number; interval: number; lastEvent: number | null; at: number | null; lastError: string | null };
}

/** Most batches one sink gets per pass before the others have their turn. */
const MAX_ROUNDS = 50;

export class SinkRunner {
  readonly holder: string;
  private readonly states: SinkState[];
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly retry: { baseMs: number; maxMs: number };
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private started = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  /** A file rotated: the next pass records a checkpoint whatever the schedule says. */
  private rotated = false;
  private holdsCheckpoint = false;
  /** Why the last checkpoint attempt here failed (null once one works), for the status. */
  private lastPassError: string | null = null;

  constructor(private readonly o: SinkRunnerOptions) {
    this.holder = o.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.states = o.sinks.map((sink) => ({ sink, attempts: 0, nextAttemptAt: 0, lastError: null, holding: false }));
    this.pollMs = o.pollMs ?? 1000;
    this.leaseMs = o.leaseMs ?? 30_000;
    this.retry = o.retry ?? { baseMs: 1000, maxMs: 300_000 };
  }

  /** Any sink configured (checkpoints are recorded only then). */
  get enabled(): boolean {
    return this.states.length > 0;
  }

  /** Starts delivering: now, on every append here, on every poll, and when a retry is due. */
  start(): void {
    if (!this.enabled || this.started || this.stopped) return;
    this.started = true;
    this.unsubscribe = this.o.audit.onEvent(() => this.kick());
    this.kick();
  }

  /** A pass now, or right after the one running (a new event, a retry due, a lease to take). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = (async () => {
      do {
        this.again = false;
        await this.tick();
      } while (this.again && !this.stopped);
    })()
      .catch((err: unknown) => this.o.faults?.note('audit sinks', err))
      .finally(() => {
        this.running = null;
        // A wake-up that came after the loop's last look must not wait for the poll.
        if (this.again && !this.stopped) this.kick();
        else this.schedule();
      });
  }

  /** One pass: every sink gets what it has not had yet (as far as it takes it), then the checkpoint schedule. */
  async tick(): Promise<void> {
    await Promise.all(
      this.states.map((s) =>
        this.deliver(s).catch((err: unknown) => {
          // The store failed (a sink's own failure is handled in deliver): tried again next pass.
          s.lastError = redactText(describeError(err));
          this.o.faults?.note(`audit sink ${s.sink.name}`, err);
        }),
      ),
    );
    try {
      await this.checkpointIfDue();
      this.lastPassError = null;
    } catch (err) {
      this.lastPassError = redactText(describeError(err));
      this.o.faults?.note('audit checkpoint', err);
    }
  }

  /** Gives up the leases (another replica takes over at once) after the delivery in flight, if any, ends. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.unsubscribe?.();
    if (this.running) {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise((r) => (grace = setTimeout(r, this.o.stopGraceMs ?? 5000)))]);
      clearTimeout(grace);
      // Still running: cut it off; its batch was not counted and the next holder sends it again.
      this.abort.abort();
      await this.running;
    }
    for (const s of this.states) {
      if (s.holding) await this.o.store.releaseAuditSink(s.sink.name, this.holder).catch((err: unknown) => this.o.faults?.note('audit sinks: release lease', err));
      await s.sink.close().catch(() => undefined);
    }
    if (this.holdsCheckpoint) await this.o.store.releaseAuditSink(CHECKPOINT_ROW, this.holder).catch(() => undefined);
  }

  async status(): Promise<SinksStatus> {
    const [rows, head] = await Promise.all([this.o.store.listAuditSinks(), this.o.store.auditHead()]);
    const byName = new Map(rows.map((r) => [r.name, r]));
    const now = this.o.clock.now();
    const headSeq = head?.seq ?? 0;
    const cp = byName.get(CHECKPOINT_ROW);
    return {
      head: headSeq,
      sinks: this.states.map((s) => {
        const r = byName.get(s.sink.name);
        const cursor = r?.cursor ?? 0;
        return {
          name: s.sink.name,
          type: s.sink.type,
          target: s.sink.target,
          cursor,
          lag: Math.max(0, headSeq - cursor),
          deliveredAt: r?.deliveredAt ?? null,
          lastError: r?.lastError ?? s.lastError,
          errorAt: r?.errorAt ?? null,
          holder: r && r.leaseUntil > now ? r.holder : null,
          here: s.holding && !!r && r.holder === this.holder && r.leaseUntil > now,
          retry: s.attempts > 0 ? { attempts: s.attempts, nextAttemptAt: s.nextAttemptAt } : null,
        };
      }),
      checkpoint: { ...this.o.checkpoint, lastEvent: cp && cp.cursor > 0 ? cp.cursor : null, at: cp?.deliveredAt ?? null, lastError: this.lastPassError },
    };
  }

  private schedule(): void {
    if (this.stopped || !this.started) return;
    const now = this.o.clock.now();
    let wait = this.pollMs;
    for (const s of this.states) if (s.nextAttemptAt > now) wait = Math.min(wait, s.nextAttemptAt - now);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.max(wait, 1));
    this.timer.unref();
  }

  /** Delivers what sink `s` has not had yet, batch by batch, while this process holds its lease. */
  private async deliver(s: SinkState): Promise<void> {
    const { store, clock } = this.o;
    const name = s.sink.name;
    if (clock.now() < s.nextAttemptAt) return;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (this.stopped && round > 0) return;
      // Taken or renewed before every batch, so it outlasts the delivery that follows.
      const now = clock.now();
      const lease = await store.leaseAuditSink(name, this.holder, now, now + this.leaseMs);
      s.holding = lease !== null;
      if (!lease) return;
      const events = await store.listAudit({ afterSeq: lease.cursor, limit: s.sink.batch });
      if (events.length === 0) return;
      let rotated = false;
      try {
        rotated = (await s.sink.deliver(events, this.abort.signal)).rotated;
      } catch (err) {
        s.attempts++;
        const delay = Math.min(this.retry.baseMs * 2 ** Math.min(s.attempts - 1, 30), this.retry.maxMs);
        s.nextAttemptAt = clock.now() + delay;
        s.lastError = redactText(describeError(err));
        this.o.logger?.warn({ sink: name, from: events[0]!.seq, attempts: s.attempts, retryInMs: delay, error: s.lastError }, 'audit sink delivery failed; the same events are sent again (none is skipped)');
        await store.noteAuditSinkError(name, this.holder, s.lastError, clock.now());
        return;
      }
      const last = events[events.length - 1]!.seq;
      if (!(await store.advanceAuditSink(name, this.holder, lease.cursor, last, clock.now()))) {
        // Another process took the lease while this batch was on its way: it sends the batch again.
        s.holding = false;
        this.o.logger?.warn({ sink: name, from: events[0]!.seq, to: last }, 'audit sink lease lost during a delivery: these events may arrive twice (receivers de-duplicate by seq and hash)');
        return;
      }
      if (s.attempts > 0) this.o.logger?.info({ sink: name, attempts: s.attempts }, 'audit sink delivering again');
      s.attempts = 0;
      s.nextAttemptAt = 0;
      s.lastError = null;
      if (rotated) this.rotated = true;
      if (events.length < s.sink.batch) return;
    }
    this.again = true;
  }

  /** Records a signed checkpoint of the head when the schedule says so, or a file rotated. */
  private async checkpointIfDue(): Promise<void> {
    if (!this.enabled) return;
    const { every, interval } = this.o.checkpoint;
    const rotated = this.rotated;
    if (!rotated && every === 0 && interval === 0) return;
    const { store, clock } = this.o;
    const now = clock.now();
    // One replica keeps the schedule (the row's cursor: the last checkpoint event's seq); a
    // rotation is vouched for by the replica whose file rotated, whoever keeps the schedule.
    const lease = await store.leaseAuditSink(CHECKPOINT_ROW, this.holder, now, now + this.leaseMs);
    this.holdsCheckpoint = lease !== null;
    if (!lease && !rotated) return;
    const head = await store.auditHead();
    if (!head) return;
    const since = head.seq - (lease?.cursor ?? 0);
    const lastAt = lease ? (lease.deliveredAt ?? lease.createdAt) : 0;
    const due = rotated || (every > 0 && since >= every) || (interval > 0 && now - lastAt >= interval * 1000);
    this.rotated = false;
    // Nothing new since the last checkpoint (itself the head): it still vouches for everything.
    if (!due || since <= 0) return;
    const data = await signCheckpoint(this.o.keys.current, { seq: head.seq, hash: head.hash, ts: now });
    const e = await this.o.audit.record({ type: CHECKPOINT_EVENT, actor: 'system', outcome: 'success', data: data as unknown as Record<string, unknown> });
    if (lease) await store.advanceAuditSink(CHECKPOINT_ROW, this.holder, lease.cursor, e.seq, clock.now());
  }
}
