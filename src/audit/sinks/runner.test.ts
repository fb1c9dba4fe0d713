// The sink runner over the real SQLite store: the cursor is durable (a restart delivers nothing
// twice and skips nothing), one process delivers a sink at a time (a lease with an expiry), a
// failed delivery is retried with capped exponential backoff from the same event, and signed
// checkpoints are recorded on schedule and at rotation.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { SigningKeys } from '../../identity/signing-keys.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { AuditEvent } from '../../storage/types.js';
import { AuditLog } from '../audit-log.js';
import { CHECKPOINT_EVENT, verifyCheckpoint } from './checkpoint.js';
import { FileSink } from './file-sink.js';
import { CHECKPOINT_ROW, SinkRunner, type SinkRunnerOptions } from './runner.js';
import type { AuditSink, DeliveryResult } from './sink.js';

const NO_CHECKPOINTS = { every: 0, interval: 0 };
const LEASE = 30_000;

interface Env {
  dir: string;
  db: string;
  store: SqliteStore;
  clock: ManualClock;
  audit: AuditLog;
  keys: SigningKeys;
}

const opened: SqliteStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function env(dir = mkdtempSync(join(tmpdir(), 'mandate-runner-')), clock = new ManualClock()): Promise<Env> {
  const db = join(dir, 'mandate.db');
  const store = new SqliteStore({ path: db });
  opened.push(store);
  return { dir, db, store, clock, audit: new AuditLog(store, clock), keys: await SigningKeys.loadOrCreate(dir, clock.now()) };
}

function runner(e: Env, sinks: AuditSink[], over: Partial<SinkRunnerOptions> = {}): SinkRunner {
  return new SinkRunner({ store: e.store, audit: e.audit, keys: e.keys, clock: e.clock, sinks, checkpoint: NO_CHECKPOINTS, leaseMs: LEASE, retry: { baseMs: 1000, maxMs: 8000 }, ...over });
}

async function record(e: Env, n: number, type = 'tool.call'): Promise<AuditEvent[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => e.audit.record({ type, actor: 'system', outcome: 'success', data: { i } })));
}

const lines = (path: string): AuditEvent[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditEvent)
    : [];
const seqs = (path: string) => lines(path).map((e) => e.seq);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** A sink that keeps what it got, fails while `failing` says so, and can hold a delivery open. */
class MemorySink implements AuditSink {
  readonly type = 'http' as const;
  readonly target = 'memory';
  got: number[] = [];
  attempts = 0;
  failing = 0;
  hold: Promise<void> | null = null;
  constructor(
    readonly name: string,
    readonly batch = 100,
  ) {}
  async deliver(events: AuditEvent[]): Promise<DeliveryResult> {
    this.attempts++;
    if (this.hold) await this.hold;
    if (this.failing > 0) {
      this.failing--;
      throw new Error('receiver answered 503');
    }
    this.got.push(...events.map((e) => e.seq));
    return { rotated: false };
  }
  async close(): Promise<void> {}
}

describe('sink runner', () => {
  it('delivers every event once and in order, and resumes from its durable cursor after a restart', async () => {
    const e = await env();
    const path = join(e.dir, 'audit.jsonl');
    const r1 = runner(e, [new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 })]);
    await record(e, 5);
    await r1.tick();
    expect(seqs(path)).toEqual(range(1, 5));
    await r1.tick();
    expect(seqs(path)).toEqual(range(1, 5));
    await r1.stop();

    // The process restarts: a new store handle on the same file, a new holder.
    await e.store.close();
    const e2 = await env(e.dir, e.clock);
    await record(e2, 3);
    const r2 = runner(e2, [new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 })]);
    await r2.tick();
    expect(seqs(path)).toEqual(range(1, 8));
    const s = await r2.status();
    expect(s.sinks[0]).toMatchObject({ name: 'archive', type: 'file', cursor: 8, lag: 0, lastError: null, here: true });
    await r2.stop();
  });

  it('lets only the lease holder deliver; another process takes over at once when it stops, from its cursor', async () => {
    const e = await env();
    const a = new MemorySink('siem');
    const b = new MemorySink('siem');
    const ra = runner(e, [a], { holder: 'replica-a' });
    const rb = runner(e, [b], { holder: 'replica-b' });
    await record(e, 4);
    await ra.tick();
    await rb.tick();
    await record(e, 2);
    await rb.tick();
    await ra.tick();
    expect(a.got).toEqual(range(1, 6));
    expect(b.got).toEqual([]);
    expect((await rb.status()).sinks[0]).toMatchObject({ holder: 'replica-a', here: false, cursor: 6 });
    await ra.stop();
    await record(e, 3);
    await rb.tick();
    expect(b.got).toEqual(range(7, 9));
  });

  it('after a holder crashes, another takes over once the lease has run out, and delivers nothing twice', async () => {
    const e = await env();
    const a = new MemorySink('siem');
    const b = new MemorySink('siem');
    const ra = runner(e, [a], { holder: 'replica-a' });
    const rb = runner(e, [b], { holder: 'replica-b' });
    await record(e, 3);
    await ra.tick();
    // replica-a is gone without releasing its lease.
    await record(e, 2);
    await rb.tick();
    expect(b.got).toEqual([]);
    e.clock.advance(LEASE);
    await rb.tick();
    expect(a.got).toEqual(range(1, 3));
    expect(b.got).toEqual(range(4, 5));
  });

  it('never moves the cursor for a holder that lost its lease mid-delivery (the batch goes again: at-least-once)', async () => {
    const e = await env();
    const a = new MemorySink('siem');
    const b = new MemorySink('siem');
    const ra = runner(e, [a], { holder: 'replica-a' });
    const rb = runner(e, [b], { holder: 'replica-b' });
    await record(e, 3);
    let release!: () => void;
    a.hold = new Promise((r) => (release = r));
    const slow = ra.tick();
    // Wait for replica-a's delivery to be under way (it took the lease and read the batch).
    while (a.attempts === 0) await new Promise((r) => setImmediate(r));
    e.clock.advance(LEASE);
    await rb.tick();
    release();
    await slow;
    expect(b.got).toEqual(range(1, 3));
    expect(a.got).toEqual(range(1, 3));
    expect((await rb.status()).sinks[0]).toMatchObject({ cursor: 3, holder: 'replica-b' });
    await record(e, 1);
    await ra.tick();
    await rb.tick();
    expect(a.got).toEqual(range(1, 3));
    expect(b.got).toEqual(range(1, 4));
  });

  it('retries a failed delivery with exponential backoff, capped, from the same event (none is skipped)', async () => {
    const e = await env();
    const sink = new MemorySink('siem', 2);
    sink.failing = 5;
    const r = runner(e, [sink]);
    await record(e, 5);
    const attemptsAfter = async (ms: number) => {
      e.clock.advance(ms);
      await r.tick();
      return sink.attempts;
    };
    expect(await attemptsAfter(0)).toBe(1);
    expect((await r.status()).sinks[0]).toMatchObject({ lastError: 'receiver answered 503', cursor: 0, lag: 5, retry: { attempts: 1 } });
    // Not before the backoff: 1 s, 2 s, 4 s, then capped at 8 s.
    expect(await attemptsAfter(999)).toBe(1);
    expect(await attemptsAfter(1)).toBe(2);
    expect(await attemptsAfter(1999)).toBe(2);
    expect(await attemptsAfter(1)).toBe(3);
    expect(await attemptsAfter(4000)).toBe(4);
    expect(await attemptsAfter(7999)).toBe(4);
    expect(await attemptsAfter(1)).toBe(5);
    expect(await attemptsAfter(7999)).toBe(5);
    // The sixth attempt gets through, and the batches behind it follow in the same pass.
    expect(await attemptsAfter(1)).toBe(8);
    expect(sink.got).toEqual(range(1, 5));
    expect((await r.status()).sinks[0]).toMatchObject({ lastError: null, cursor: 5, lag: 0, retry: null });
  });

  it('records a signed checkpoint of the head every N events, chained like any event', async () => {
    const e = await env();
    const sink = new MemorySink('siem');
    const r = runner(e, [sink], { checkpoint: { every: 5, interval: 0 } });
    await record(e, 4);
    await r.tick();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toEqual([]);
    await record(e, 1);
    await r.tick();
    await e.audit.drain();
    const [cp] = await e.store.listAudit({ type: CHECKPOINT_EVENT });
    const fifth = (await e.store.listAudit({ afterSeq: 4, limit: 1 }))[0]!;
    expect(cp).toMatchObject({ seq: 6, prevHash: fifth.hash, actor: 'system', data: { checkpoint: { seq: 5, hash: fifth.hash } } });
    expect(await verifyCheckpoint(cp!.data, e.keys.jwks() as never)).toMatchObject({ seq: 5, hash: fifth.hash });
    expect((await e.audit.verify()).ok).toBe(true);
    // The checkpoint is delivered like any event; alone it does not call for another one.
    await r.tick();
    expect(sink.got).toEqual(range(1, 6));
    await record(e, 4);
    await r.tick();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toHaveLength(1);
    await record(e, 1);
    await r.tick();
    await e.audit.drain();
    expect((await e.store.listAudit({ type: CHECKPOINT_EVENT })).map((x) => (x.data.checkpoint as { seq: number }).seq)).toEqual([5, 11]);
    expect((await r.status()).checkpoint).toMatchObject({ every: 5, lastEvent: 12 });
  });

  it('records a checkpoint after `interval` seconds with new events, and none while nothing happens', async () => {
    const e = await env();
    const r = runner(e, [new MemorySink('siem')], { checkpoint: { every: 0, interval: 60 } });
    await record(e, 1);
    await r.tick();
    e.clock.advance(59_999);
    await r.tick();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toEqual([]);
    e.clock.advance(1);
    await r.tick();
    await e.audit.drain();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toHaveLength(1);
    e.clock.advance(600_000);
    await r.tick();
    await e.audit.drain();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toHaveLength(1);
  });

  it('keeps the checkpoint schedule on one process only', async () => {
    const e = await env();
    const ra = runner(e, [new MemorySink('siem')], { holder: 'a', checkpoint: { every: 2, interval: 0 } });
    const rb = runner(e, [new MemorySink('siem')], { holder: 'b', checkpoint: { every: 2, interval: 0 } });
    await record(e, 2);
    await Promise.all([ra.tick(), rb.tick()]);
    await e.audit.drain();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toHaveLength(1);
    expect(['a', 'b']).toContain((await e.store.listAuditSinks()).find((s) => s.name === CHECKPOINT_ROW)!.holder);
    await record(e, 2);
    await Promise.all([ra.tick(), rb.tick()]);
    await e.audit.drain();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toHaveLength(2);
  });

  it('records a checkpoint when the file sink rotates, written into the new file', async () => {
    const e = await env();
    const path = join(e.dir, 'audit.jsonl');
    const r = runner(e, [new FileSink('archive', { path, maxBytes: 2048, keep: 10 })], { checkpoint: { every: 0, interval: 0 } });
    await record(e, 3);
    await r.tick();
    expect(await e.store.listAudit({ type: CHECKPOINT_EVENT })).toEqual([]);
    // Enough to fill the first file.
    await Promise.all(Array.from({ length: 6 }, (_, i) => e.audit.record({ type: 'tool.call', actor: 'system', data: { i, pad: 'x'.repeat(300) } })));
    await r.tick();
    await e.audit.drain();
    const cps = await e.store.listAudit({ type: CHECKPOINT_EVENT });
    expect(cps).toHaveLength(1);
    await r.tick();
    const current = lines(path);
    expect(current.map((x) => x.type)).toContain(CHECKPOINT_EVENT);
    const files = [...Array.from({ length: 9 }, (_, i) => `${path}.${9 - i}`), path];
    expect(files.flatMap(seqs)).toEqual(range(1, cps[0]!.seq));
  });
});
