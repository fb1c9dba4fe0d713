// The PostgreSQL store on the machine's PostgreSQL: the shared conformance suite (a fresh schema
// per case), then what only a shared database has to get right — several replicas (separate
// pools) racing for the same budget, replay key, approval, authorization code and audit head, and
// migrating once.

import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers/postgres.js';
import { runStorageConformance } from '../conformance.js';
import { GENESIS_HASH, type AuditEventInput, type ChainHasher } from '../types.js';
import { migratePostgres, PostgresStore, type PostgresStoreOptions } from './postgres-store.js';

const db = await createTestDatabase();
let n = 0;
afterAll(() => db.drop());

runStorageConformance('postgres', () => PostgresStore.open({ url: db.url, schema: `c${n++}`, poolSize: 4 }));

const MIGRATIONS = readdirSync(fileURLToPath(new URL('../../../migrations/postgres/', import.meta.url)))
  .filter((f) => /^\d+_.+\.sql$/.test(f))
  .sort();

const hasher: ChainHasher = (prev, e) => createHash('sha256').update(prev).update(JSON.stringify([e.seq, e.id, e.type, e.data])).digest('hex');
const ev = (id: string): AuditEventInput => ({ id, ts: 1, type: 'test', actor: 'system', agentId: null, taskId: null, decision: null, outcome: null, data: { n: id, z: 1, a: 2 } });

/** Several replicas of one deployment: separate stores (separate pools) on one schema. */
async function replicas(schema: string, count: number, over: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore[]> {
  const first = await PostgresStore.open({ url: db.url, schema, poolSize: 4, ...over });
  const rest = await Promise.all(Array.from({ length: count - 1 }, () => PostgresStore.open({ url: db.url, schema, poolSize: 4, ...over })));
  return [first, ...rest];
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('postgres store: several replicas on one database', () => {
  it('migrates a fresh database once when replicas open it together', async () => {
    const fresh = await createTestDatabase();
    try {
      // No schema option: the default search path (public), as a plain deployment has it.
      const stores = await Promise.all(Array.from({ length: 3 }, () => PostgresStore.open({ url: fresh.url, poolSize: 2 })));
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      const rows = (await c.query('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
      await c.end();
      expect(rows).toEqual(MIGRATIONS.map((name) => ({ version: Number.parseInt(name, 10), name })));
      for (const s of stores) await s.ping();
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await fresh.drop();
    }
  });

  it('applies a migration exactly once when migrate runs concurrently', async () => {
    const opts = { url: db.url, schema: 'mig_race' };
    const results = await Promise.all(Array.from({ length: 4 }, () => migratePostgres(opts)));
    expect(results.flatMap((r) => r.applied)).toEqual(MIGRATIONS);
    for (const r of results) expect(r.pending).toEqual([]);
  });

  it('lists pending migrations on a dry run without applying them, then applies them', async () => {
    const opts = { url: db.url, schema: 'mig_dry' };
    expect(await migratePostgres(opts, { dryRun: true })).toEqual({ applied: [], pending: MIGRATIONS, already: [] });
    const exists = await admin(async (c) => (await c.query(`SELECT to_regclass('mig_dry.schema_migrations')::text AS t`)).rows[0].t);
    expect(exists).toBeNull();
    const progress: string[] = [];
    expect(await migratePostgres(opts, { onProgress: (f) => progress.push(f) })).toEqual({ applied: MIGRATIONS, pending: [], already: [] });
    expect(progress).toEqual(MIGRATIONS);
    expect(await migratePostgres(opts, { dryRun: true })).toEqual({ applied: [], pending: [], already: MIGRATIONS });
    expect(await migratePostgres(opts)).toEqual({ applied: [], pending: [], already: MIGRATIONS });
    // A store opened without migrating works on the migrated schema.
    const s = await PostgresStore.open({ ...opts, migrate: false });
    expect(await s.auditHead()).toBeNull();
    await s.close();
  });

  it('never forks the audit chain when two replicas append concurrently', async () => {
    const [a, b] = await replicas('chain', 2);
    const batch = (who: string, i: number) => [ev(`${who}${i}.1`), ev(`${who}${i}.2`), ev(`${who}${i}.3`)];
    await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => a!.appendAudit(batch('a', i), hasher)),
      ...Array.from({ length: 50 }, (_, i) => b!.appendAudit(batch('b', i), hasher)),
    ]);
    const all = await a!.listAudit({ limit: 100_000 });
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    let prev = GENESIS_HASH;
    for (const e of all) {
      expect(e.prevHash).toBe(prev);
      expect(e.hash).toBe(hasher(prev, { ...e, hash: undefined } as never));
      prev = e.hash;
    }
    // A batch stays contiguous: no other replica's event lands inside it.
    for (let i = 0; i < all.length; i += 3) expect(all[i]!.id.replace(/\.\d$/, '')).toBe(all[i + 2]!.id.replace(/\.\d$/, ''));
    expect(await b!.auditHead()).toEqual({ seq: 300, hash: prev });
    // The stored JSON is the bytes that were hashed (TEXT, not JSONB: key order kept).
    const raw = await admin(async (c) => (await c.query('SELECT data FROM chain.audit_events WHERE seq = 1')).rows[0].data);
    expect(raw).toBe(JSON.stringify(all[0]!.data));
    await Promise.all([a!.close(), b!.close()]);
  });

  it('refuses to update, delete or truncate audit events', async () => {
    const [s] = await replicas('append_only', 1);
    await s!.appendAudit([ev('x1')], hasher);
    await expect(s!.pool.query(`UPDATE audit_events SET type = 'forged'`)).rejects.toThrow(/append-only/);
    await expect(s!.pool.query('DELETE FROM audit_events')).rejects.toThrow(/append-only/);
    await expect(s!.pool.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    expect((await s!.listAudit()).map((e) => e.id)).toEqual(['x1']);
    await s!.close();
  });

  it('lets exactly the budget through when three replicas race for it', async () => {
    const stores = await replicas('budget', 3);
    const results = await Promise.all(stores.flatMap((s) => Array.from({ length: 20 }, () => s.consumeCall('bank.transfer', [{ taskId: 'race', limit: 7 }]))));
    expect(results.filter((r) => r.ok)).toHaveLength(7);
    expect(await stores[0]!.callCounts('race')).toEqual({ 'bank.transfer': 7 });

    // Delegated calls charge child and parent, named in different orders by different callers:
    // the counters are locked in one order, so this neither deadlocks nor overspends.
    const calls = stores.flatMap((s, i) =>
      Array.from({ length: 10 }, (_, j) => {
        const child = { taskId: `child${i}`, limit: null };
        const parent = { taskId: 'parent', limit: 11 };
        return s.consumeCall('fs.read', j % 2 ? [child, parent] : [parent, child]);
      }),
    );
    const out = await Promise.all(calls);
    expect(out.filter((r) => r.ok)).toHaveLength(11);
    expect(out.filter((r) => !r.ok)).toEqual(Array.from({ length: 19 }, () => ({ ok: false, exhausted: 'parent', limit: 11 })));
    const children = await Promise.all([0, 1, 2].map((i) => stores[0]!.callCounts(`child${i}`)));
    expect(children.reduce((sum, c) => sum + (c['fs.read'] ?? 0), 0)).toBe(11);
    expect(await stores[1]!.callCounts('parent')).toEqual({ 'fs.read': 11 });
    await Promise.all(stores.map((s) => s.close()));
  });

  it('accepts a replay key on one replica only', async () => {
    const [a, b] = await replicas('replay', 2);
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => a!.useOnce('jti:shared', 1000, 1)),
      ...Array.from({ length: 20 }, () => b!.useOnce('jti:shared', 1000, 1)),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    // Expired: taken again, once.
    const again = await Promise.all([a!.useOnce('jti:shared', 3000, 1000), b!.useOnce('jti:shared', 3000, 1000)]);
    expect(again.filter(Boolean)).toHaveLength(1);
    await Promise.all([a!.close(), b!.close()]);
  });

  it('records concurrent decisions from two replicas one at a time', async () => {
    const [a, b] = await replicas('decide', 2);
    await a!.insertApproval({
      id: 'apr_1', kind: 'tool_call', actionHash: 'h', status: 'pending', taskId: null, agentId: 'ag', requester: 'ag', tool: 't', args: null,
      intent: 'i', reason: 'r', policyIds: [], policyVersion: 'v1', approvers: ['role:x'], quorum: 2, decisions: [], data: {},
      createdAt: 1, expiresAt: 5000, decidedAt: null, usedAt: null, endReason: null,
    });
    const results = await Promise.all(['u1', 'u2', 'u3', 'u4'].map((u, i) => (i % 2 ? a! : b!).decideApproval('apr_1', { by: `user:${u}`, decision: 'approve', at: 2, reason: null }, 2)));
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    const final = await b!.getApproval('apr_1');
    expect(final).toMatchObject({ status: 'approved', decidedAt: 2 });
    expect(final!.decisions).toHaveLength(2);
    const used = await Promise.all([a!.consumeApproval('apr_1', 'h', 3), b!.consumeApproval('apr_1', 'h', 3)]);
    expect(used.filter(Boolean)).toHaveLength(1);
    await Promise.all([a!.close(), b!.close()]);
  });

  it('gives an authorization code and a refresh token to one replica only', async () => {
    const [a, b] = await replicas('oauth', 2);
    const code = {
      codeHash: 'ch_shared', clientId: 'cl_1', redirectUri: 'http://127.0.0.1:1/cb', codeChallenge: 'c', resource: 'https://m.example/mcp',
      taskId: 't', userId: 'u', jkt: null, expiresAt: 1_800_000_000_000, usedAt: null,
    };
    await a!.putAuthorizationCode(code);
    const exchanges = await Promise.all([
      ...Array.from({ length: 10 }, () => a!.consumeAuthorizationCode('ch_shared', 1_700_000_000_000)),
      ...Array.from({ length: 10 }, () => b!.consumeAuthorizationCode('ch_shared', 1_700_000_000_000)),
    ]);
    expect(exchanges.filter((r) => r !== null && !('reused' in r))).toEqual([{ ...code, usedAt: 1_700_000_000_000 }]);
    // Every loser is told it lost to a use (a replay), never that the code is unknown.
    expect(exchanges.filter((r) => r !== null && 'reused' in r)).toHaveLength(19);

    await b!.putRefreshToken({ tokenHash: 'rt_shared', family: 'f', taskId: 't', clientId: 'cl_1', jkt: null, createdAt: 1, expiresAt: 1_800_000_000_000, usedAt: null });
    const refreshes = await Promise.all([
      ...Array.from({ length: 10 }, () => a!.useRefreshToken('rt_shared', 1_700_000_000_000)),
      ...Array.from({ length: 10 }, () => b!.useRefreshToken('rt_shared', 1_700_000_000_000)),
    ]);
    expect(refreshes.filter((r) => r !== null && !('reused' in r))).toHaveLength(1);
    expect(refreshes.filter((r) => r !== null && 'reused' in r)).toHaveLength(19);
    await Promise.all([a!.close(), b!.close()]);
  });

  it('reads BIGINT columns as numbers without changing the process-wide pg parsers', async () => {
    const [s] = await replicas('int8', 1);
    await s!.insertRevocation({ taskId: 't', revokedAt: 1_700_000_000_000, expiresAt: 1_800_000_000_000, reason: 'x' });
    expect(await s!.listRevocations(0)).toEqual([{ taskId: 't', revokedAt: 1_700_000_000_000, expiresAt: 1_800_000_000_000, reason: 'x' }]);
    expect(pg.types.getTypeParser(20, 'text')('5')).toBe('5');
    await s!.probe(1);
    expect(await s!.freeBytes()).toBeNull();
    await s!.checkpoint();
    await s!.close();
    await s!.close(); // idempotent
  });

  it('sets search_path, application_name and statement_timeout on every connection', async () => {
    const [s] = await replicas('conf', 1, { statementTimeoutMs: 1234, applicationName: 'mandate-test' });
    const r = (await s!.pool.query(`SELECT current_setting('search_path') AS sp, current_setting('application_name') AS app, current_setting('statement_timeout') AS st`)).rows[0];
    expect(r).toEqual({ sp: '"conf"', app: 'mandate-test', st: '1234ms' });
    await s!.close();
  });
});
