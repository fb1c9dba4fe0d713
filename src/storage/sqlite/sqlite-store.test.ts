import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStorageConformance } from '../conformance.js';
import { SqliteStore } from './sqlite-store.js';

// A real SQLite file per case, as a user's data dir would hold it.
const dir = mkdtempSync(join(tmpdir(), 'mandate-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStorageConformance('sqlite', () => new SqliteStore({ path: join(dir, `case-${n++}.db`) }));

describe('group commit of the per-call writes', () => {
  const ev = (id: string) => ({ id, ts: 1, type: 't', actor: 'a', agentId: null, taskId: null, decision: null, outcome: null, data: {} });
  const hasher = (prev: string, e: { id: string }) => `${prev.slice(0, 8)}-${e.id}`;

  it('a write of the group that fails is rolled back and rejected alone; the others commit, in order', async () => {
    const store = new SqliteStore({ path: join(dir, `group-${n++}.db`) });
    const [a, dup, once, again, b] = await Promise.allSettled([
      store.appendAudit([ev('x1')], hasher),
      store.appendAudit([ev('x1')], hasher), // duplicate event id: this one write fails
      store.useOnce('jti:1', 100, 1),
      store.useOnce('jti:1', 100, 1),
      store.appendAudit([ev('x2')], hasher),
    ]);
    expect(a).toMatchObject({ status: 'fulfilled', value: [{ seq: 1 }] });
    expect(dup.status).toBe('rejected');
    expect(once).toEqual({ status: 'fulfilled', value: true });
    expect(again).toEqual({ status: 'fulfilled', value: false });
    // The failed append left no trace: the next one is seq 2, chained to x1.
    expect(b).toMatchObject({ status: 'fulfilled', value: [{ seq: 2 }] });
    const rows = store.db.prepare('SELECT seq, id, prev_hash, hash FROM audit_events ORDER BY seq').all() as Array<{ seq: number; id: string; prev_hash: string; hash: string }>;
    expect(rows.map((r) => [r.seq, r.id])).toEqual([[1, 'x1'], [2, 'x2']]);
    expect(rows[1]!.prev_hash).toBe(rows[0]!.hash);
    await store.close();
  });

  it('tells every caller of the group when the commit cannot happen (nothing is reported done that is not durable)', async () => {
    const store = new SqliteStore({ path: join(dir, `group-${n++}.db`) });
    // Another connection holds the write lock past the busy timeout: the group's BEGIN IMMEDIATE fails.
    const { openSqlite } = await import('./driver.js');
    const other = openSqlite(store.db.name);
    other.pragma('busy_timeout = 0');
    store.db.pragma('busy_timeout = 50');
    other.exec('BEGIN IMMEDIATE');
    const results = await Promise.allSettled([store.appendAudit([ev('y1')], hasher), store.useOnce('jti:2', 100, 1), store.consumeCall('t', [{ taskId: 'nope', limit: null }])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    other.exec('ROLLBACK');
    other.close();
    // Nothing of the failed group was written; the store works again.
    expect(await store.useOnce('jti:2', 100, 1)).toBe(true);
    expect(store.db.prepare('SELECT count(*) AS n FROM audit_events').get()).toEqual({ n: 0 });
    await store.close();
  });
});
