// The cross-replica event connection on the real PostgreSQL: a change committed by anyone is heard;
// a lost or silently dead connection makes the replica untrusted (attack/fault stopped: serving
// from a revocation set that missed a revocation), and on reconnection it catches up from the
// store before it trusts itself again.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { PATIENCE } from '../../test/helpers/server.js';
import { pgClientConfig, PostgresStore } from '../storage/postgres/postgres-store.js';
import { RevocationList } from '../tasks/revocation.js';
import { PgListener, type StoreEvent } from './pg-listener.js';

let db: TestDatabase;
let store: PostgresStore;
let proxy: TcpProxy;

beforeAll(async () => {
  db = await createTestDatabase('mandate_listener');
  store = await PostgresStore.open({ url: db.url, poolSize: 2 });
  proxy = await startTcpProxy('127.0.0.1', Number(new URL(db.url).port || 5432));
});

afterAll(async () => {
  await store?.close();
  await proxy?.close();
  await db?.drop();
});

const revocation = (taskId: string) => ({ taskId, revokedAt: Date.now(), expiresAt: Date.now() + 600_000, reason: `test ${taskId}` });

describe('the cross-replica event listener', () => {
  it('hears committed changes, distrusts itself when its connection is cut or goes silent, and catches up before trusting again', async () => {
    const revocations = new RevocationList(store);
    const heard: StoreEvent[] = [];
    const trust: Array<string | null> = [];
    const listener = new PgListener({
      client: () => pgClientConfig({ url: `postgres://postgres@127.0.0.1:${proxy.port}/${db.name}`, applicationName: 'mandate-events' }),
      onEvent: (e) => {
        heard.push(e);
        if (e.k === 'revoked') revocations.remember({ taskId: e.task, revokedAt: e.at, expiresAt: e.exp, reason: e.reason });
      },
      catchUp: async () => void (await revocations.load(Date.now())),
      onTrust: (reason) => {
        trust.push(reason);
        revocations.untrusted = reason;
      },
      maxBackoffMs: 200,
      heartbeatMs: 1000,
    });
    try {
      await listener.start();
      expect(listener.untrusted).toBeNull();

      // Heard: a revocation committed through another connection (another replica).
      await store.insertRevocation(revocation('t_heard'));
      await expect.poll(() => revocations.has('t_heard'), { timeout: PATIENCE }).toBe(true);
      expect(heard.find((e) => e.k === 'revoked')).toMatchObject({ k: 'revoked', task: 't_heard', reason: 'test t_heard' });
      // A rolled-back change is never announced.
      const c = await store.pool.connect();
      await c.query('BEGIN');
      await c.query(`INSERT INTO revocations (task_id, revoked_at, expires_at, reason) VALUES ('t_rolled_back', 1, ${Date.now() + 600_000}, 'x')`);
      await c.query('ROLLBACK');
      c.release();

      // Cut: the listener knows at once that it may miss events.
      proxy.cut();
      await expect.poll(() => listener.untrusted, { timeout: PATIENCE }).toMatch(/lost the connection/);
      expect(revocations.untrusted).toMatch(/lost the connection/);
      // Missed while cut...
      await store.insertRevocation(revocation('t_missed'));
      expect(revocations.has('t_missed')).toBe(false);
      proxy.restore();
      // ...and caught up from the store before it is trusted again.
      await expect.poll(() => listener.untrusted, { timeout: PATIENCE }).toBeNull();
      expect(revocations.has('t_missed')).toBe(true);
      expect(revocations.has('t_rolled_back')).toBe(false);

      // Silent: a connection that stops answering (half-open) is caught by the heartbeat.
      proxy.freeze();
      await expect.poll(() => listener.untrusted, { timeout: PATIENCE }).toMatch(/heartbeat failed/);
      await store.insertRevocation(revocation('t_missed_silently'));
      proxy.restore();
      await expect.poll(() => listener.untrusted, { timeout: PATIENCE }).toBeNull();
      expect(revocations.has('t_missed_silently')).toBe(true);
      expect(trust[0]).toBeNull();
      expect(trust.filter((t) => t === null).length).toBeGreaterThanOrEqual(3);
    } finally {
      await listener.close();
    }
  });

  it('announces agent status changes, approval decisions, pins, policy versions and caller changes', async () => {
    const heard: StoreEvent[] = [];
    const listener = new PgListener({ client: () => pgClientConfig({ url: db.url }), onEvent: (e) => heard.push(e), catchUp: async () => undefined, onTrust: () => undefined });
    try {
      await listener.start();
      const agent = { id: 'spiffe://t/agent/ev', name: 'ev', owner: 'o@corp.example', purpose: 'p', environment: 'dev', status: 'active' as const, reviewBy: null, jwks: { keys: [] }, labels: [], createdAt: 1, updatedAt: 1 };
      await store.insertAgent(agent);
      await store.updateAgent(agent.id, { purpose: 'unchanged status' }, 2);
      await store.updateAgent(agent.id, { status: 'suspended' }, 3);
      await store.insertApproval({ id: 'apr_ev', kind: 'tool_call', actionHash: 'h', status: 'pending', taskId: null, agentId: agent.id, requester: agent.id, tool: 't', args: {}, intent: 'i', reason: 'r', policyIds: [], policyVersion: 'v', approvers: ['owner'], quorum: 1, decisions: [], data: {}, createdAt: 1, expiresAt: Date.now() + 60_000, decidedAt: null, usedAt: null, endReason: null });
      await store.decideApproval('apr_ev', { by: 'user:o@corp.example', decision: 'approve', at: 2, reason: null }, 2);
      await store.putToolPin({ upstream: 'fs', tool: 'read', acceptedHash: 'h', acceptedDefinition: {}, pendingHash: null, pendingDefinition: null, firstSeen: 1, updatedAt: 1 });
      await store.insertPolicyVersion({ version: 1, hash: 'ph', createdAt: 1, source: 'files', files: [] });
      await store.insertApiToken({ id: 'tok_ev', name: 'ev', role: 'pep', tokenHash: 'th', createdAt: 1, revokedAt: null });
      await expect.poll(() => heard.length, { timeout: PATIENCE }).toBeGreaterThanOrEqual(5);
      expect(heard).toEqual([
        { k: 'agent', id: agent.id, status: 'suspended' },
        { k: 'approval', id: 'apr_ev', status: 'approved' },
        { k: 'pins', upstream: 'fs' },
        { k: 'policy', version: 1, hash: 'ph' },
        { k: 'callers', table: 'api_tokens' },
      ]);
    } finally {
      await listener.close();
    }
  });
});
