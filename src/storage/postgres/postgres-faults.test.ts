// The PostgreSQL store when the database misbehaves: unreachable at start, connections killed
// under a running store, a statement stuck behind a lock. Every failure is a
// StorageUnavailableError that names where and what to do (never the password), the process
// never crashes, and the same store object works again once the database does.

import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers/postgres.js';
import { StorageUnavailableError } from '../errors.js';
import type { Agent } from '../types.js';
import { PostgresStore } from './postgres-store.js';

const db = await createTestDatabase();
afterAll(() => db.drop());
/** host:port of the test server, as messages name it (escaped for a RegExp). */
const SERVER = (() => {
  const u = new URL(db.url);
  return `${u.hostname}:${u.port || '5432'}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
})();

const agent = (name: string): Agent => ({
  id: `spiffe://t/agent/${name}`,
  name,
  owner: 'o@corp.example',
  purpose: 'x',
  environment: 'dev',
  status: 'active',
  reviewBy: null,
  jwks: { keys: [] },
  labels: [],
  createdAt: 1,
  updatedAt: 1,
});

const audit = { id: 'e1', ts: 1, type: 't', actor: 'system', agentId: null, taskId: null, decision: null, outcome: null, data: {} };

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
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

/** Ends every connection to the test database but the caller's, as a server restart would. */
const killConnections = () => admin((c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]));

/** Calls `fn` until it succeeds (at most `tries` times); every failure before must be a StorageUnavailableError. */
async function eventually<T>(fn: () => Promise<T>, tries = 50): Promise<{ value: T; failures: unknown[] }> {
  const failures: unknown[] = [];
  for (let i = 0; i < tries; i++) {
    try {
      return { value: await fn(), failures };
    } catch (err) {
      failures.push(err);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw Object.assign(new Error(`never succeeded: ${failures.map((e) => (e as Error).message).join(' | ')}`), { failures });
}

/** Waits until a session of the store waits on a lock (so the test knows it is blocked). */
async function waitForLockWait(app: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const r = await admin((c) => c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'`, [db.name, app]));
    if (r.rowCount) return;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('the store never waited on the lock');
}

/**
 * A TCP proxy in front of the test server, so a test can take "the database" away (connections
 * cut, new ones refused) and bring it back on the same port without touching the real server.
 */
async function proxy(): Promise<{ port: number; down(): Promise<void>; up(): Promise<void> }> {
  const target = new URL(db.url);
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const up = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
        sockets.add(a);
        a.on('error', () => b.destroy()).on('close', () => (b.destroy(), sockets.delete(a)));
        a.pipe(b);
      }
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server!.address() as { port: number }).port;
  };
  const down = async () => {
    const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
    for (const sock of sockets) sock.destroy();
    await closed;
  };
  await up();
  return { port, up, down };
}

describe('postgres store faults', () => {
  it('refuses to open an unreachable database, naming host:port and the fix, never the password', async () => {
    const port = await freePort();
    const err = await PostgresStore.open({ url: `postgres://mandate:hunter2@127.0.0.1:${port}/mandate`, connectTimeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain(`127.0.0.1:${port}`);
    expect(msg).toMatch(/unreachable \(ECONNREFUSED\); check that the database is running and reachable/);
    expect(msg).not.toContain('hunter2');
    expect(String((err as Error).stack)).not.toContain('hunter2');
    expect(JSON.stringify(err)).not.toContain('hunter2');
  });

  it('keeps working after its connections are killed, failing in between only with StorageUnavailableError', async () => {
    const store = await PostgresStore.open({ url: db.url, schema: 'killed', poolSize: 4 });
    try {
      await store.insertAgent(agent('a'));
      // Fill the pool with idle connections, all of which are about to die.
      await Promise.all(Array.from({ length: 8 }, () => store.getAgent(agent('a').id)));
      expect(store.pool.totalCount).toBeGreaterThan(1);
      await killConnections();
      const read = await eventually(() => store.getAgent(agent('a').id));
      expect(read.value?.name).toBe('a');
      for (const f of read.failures) expect(f).toBeInstanceOf(StorageUnavailableError);

      await killConnections();
      const write = await eventually(() => store.insertAgent(agent('b')).catch(async (e: unknown) => {
        // A write whose connection died may or may not have committed; a retry then conflicts.
        if (e instanceof StorageUnavailableError) throw e;
        if ((await store.getAgent(agent('b').id)) === null) throw e;
      }));
      for (const f of write.failures) expect(f).toBeInstanceOf(StorageUnavailableError);

      await killConnections();
      const tx = await eventually(() => store.consumeCall('t', [{ taskId: 'k', limit: 100 }]));
      expect(tx.value.ok).toBe(true);
      for (const f of tx.failures) expect(f).toBeInstanceOf(StorageUnavailableError);
      expect((await store.listAgents()).map((a) => a.name)).toEqual(['a', 'b']);
    } finally {
      await store.close();
    }
  });

  it('refuses while the database is away and resumes by itself, the same object, when it is back', async () => {
    const p = await proxy();
    const url = new URL(db.url);
    url.hostname = '127.0.0.1';
    url.port = String(p.port);
    const store = await PostgresStore.open({ url: url.toString(), schema: 'away', poolSize: 4, connectTimeoutMs: 2000 });
    try {
      await store.insertAgent(agent('a'));
      await Promise.all(Array.from({ length: 6 }, () => store.getAgent(agent('a').id)));
      await p.down();
      for (const call of [() => store.getAgent(agent('a').id), () => store.probe(2), () => store.ping(), () => store.useOnce('k', 10, 1), () => store.appendAudit([audit], () => 'h')]) {
        const err = await call().then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(StorageUnavailableError);
        expect((err as Error).message).toMatch(new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${p.port} is unreachable \\(.+\\); check that the database is running and reachable — Mandate refuses decisions until it is back and resumes by itself$`));
      }
      await p.up();
      const back = await eventually(() => store.probe(3));
      for (const f of back.failures) expect(f).toBeInstanceOf(StorageUnavailableError);
      expect((await store.getAgent(agent('a').id))?.name).toBe('a');
      expect(await store.useOnce('k', 10, 1)).toBe(true);
      expect(await store.appendAudit([audit], () => 'h')).toMatchObject([{ seq: 1, hash: 'h' }]);
    } finally {
      await store.close();
      await p.down();
    }
  });

  it('fails a transaction whose connection is killed mid-way with StorageUnavailableError, and the next one succeeds', async () => {
    const app = 'mandate-killed-tx';
    const store = await PostgresStore.open({ url: db.url, schema: 'killed_tx', poolSize: 2, applicationName: app, statementTimeoutMs: 60_000 });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE killed_tx.task_calls IN ACCESS EXCLUSIVE MODE');
      const pending = store.consumeCall('t', [{ taskId: 'k', limit: 1 }]).catch((e: unknown) => e);
      await waitForLockWait(app);
      await admin((c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [db.name, app]));
      const err = await pending;
      expect(err).toBeInstanceOf(StorageUnavailableError);
      expect((err as Error).message).toMatch(new RegExp(`^storage unavailable \\(call budget\\): PostgreSQL at ${SERVER} is unreachable \\(.+\\); check that the database is running`));
      await locker.query('ROLLBACK');
      const next = await eventually(() => store.consumeCall('t', [{ taskId: 'k', limit: 1 }]));
      expect(next.value).toEqual({ ok: true, used: [1] });
      for (const f of next.failures) expect(f).toBeInstanceOf(StorageUnavailableError);
    } finally {
      await locker.end();
      await store.close();
    }
  });

  it('gives up on a statement stuck behind a lock after the statement timeout instead of hanging', async () => {
    const store = await PostgresStore.open({ url: db.url, schema: 'stuck', statementTimeoutMs: 200 });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await store.insertAgent(agent('a'));
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE stuck.agents IN ACCESS EXCLUSIVE MODE');
      const err = await store.getAgent(agent('a').id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageUnavailableError);
      expect((err as Error).message).toMatch(new RegExp(`^storage unavailable \\(getAgent\\): PostgreSQL at ${SERVER} did not finish in time \\(canceling statement due to statement timeout\\); look for locks`));
      await expect(store.probe(1)).resolves.toBeUndefined(); // other tables are not held
      await locker.query('ROLLBACK');
      expect((await store.getAgent(agent('a').id))?.name).toBe('a');
    } finally {
      await locker.end();
      await store.close();
    }
  });

  it('reports a refused TLS setting as StorageUnavailableError', async () => {
    const sslOn = await admin(async (c) => (await c.query('SHOW ssl')).rows[0].ssl === 'on');
    const open = PostgresStore.open({ url: db.url, ssl: { mode: 'verify-full', ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }, migrate: false });
    const err = await open.then(
      async (s) => {
        await s.close();
        return null;
      },
      (e: unknown) => e,
    );
    // Either the server has no TLS, or its certificate is not signed by that CA: refused both ways.
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(sslOn ? `PostgreSQL at ${SERVER}` : `TLS connection to PostgreSQL at ${SERVER} failed \\(The server does not support SSL connections\\)`));
  });

  it('translates a closed store into StorageUnavailableError', async () => {
    const store = await PostgresStore.open({ url: db.url, schema: 'closed' });
    await store.close();
    await expect(store.getAgent('x')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});
