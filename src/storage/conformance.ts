// One behavioural suite every store implementation must pass unchanged (SQLite now,
// PostgreSQL next): `runStorageConformance('sqlite', () => new SqliteStore(...))`.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError } from './errors.js';
import {
  GENESIS_HASH,
  VALUE_TRUSTED,
  VALUE_UNTRUSTED,
  type Agent,
  type Approval,
  type AuditEventInput,
  type AuthorizationCode,
  type ChainHasher,
  type OAuthClient,
  type RefreshToken,
  type Store,
  type Task,
} from './types.js';

export type StoreFactory = () => Promise<Store> | Store;

const hasher: ChainHasher = (prev, e) =>
  createHash('sha256').update(prev).update(JSON.stringify([e.seq, e.id, e.type, e.data])).digest('hex');

function agent(name: string, over: Partial<Agent> = {}): Agent {
  return {
    id: `spiffe://test.local/agent/${name}`,
    name,
    owner: 'owner@corp.example',
    purpose: 'testing',
    environment: 'dev',
    status: 'active',
    reviewBy: null,
    jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'abc', kid: 'k1' }] },
    labels: [],
    createdAt: 1000,
    updatedAt: 1000,
    ...over,
  };
}

function task(id: string, agentId: string, over: Partial<Task> = {}): Task {
  return {
    id,
    agentId,
    parentId: null,
    depth: 0,
    intent: 'summarise reports',
    scope: { tools: [{ name: 'fs.read_text_file', constraints: { path: { like: '/srv/*' } } }], resources: ['file:///srv/*'] },
    status: 'active',
    labels: [],
    createdAt: 1000,
    expiresAt: 2000,
    endedAt: null,
    endReason: null,
    decisionId: 'dec_1',
    ...over,
  };
}

function approval(id: string, over: Partial<Approval> = {}): Approval {
  return {
    id,
    kind: 'tool_call',
    actionHash: `hash-${id}`,
    status: 'pending',
    taskId: null,
    agentId: 'spiffe://test.local/agent/a',
    requester: 'spiffe://test.local/agent/a',
    tool: 'web.fetch',
    args: { url: 'https://example.com' },
    intent: 'research',
    reason: 'needs approval',
    policyIds: ['p1'],
    policyVersion: 'v1',
    approvers: ['owner'],
    quorum: 1,
    decisions: [],
    data: {},
    createdAt: 1000,
    expiresAt: 5000,
    decidedAt: null,
    usedAt: null,
    endReason: null,
    ...over,
  };
}

function ev(id: string, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return { id, ts: 1, type: 'test', actor: 'system', agentId: null, taskId: null, decision: null, outcome: null, data: { n: id }, ...over };
}

function oauthClient(id: string, over: Partial<OAuthClient> = {}): OAuthClient {
  return {
    id,
    kind: 'dcr',
    name: `client ${id}`,
    redirectUris: ['http://127.0.0.1:33418/callback'],
    metadata: { client_name: `client ${id}`, token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] },
    createdAt: 1000,
    createdBy: 'ip:203.0.113.7',
    revokedAt: null,
    fetchedAt: null,
    ...over,
  };
}

function authCode(codeHash: string, over: Partial<AuthorizationCode> = {}): AuthorizationCode {
  return {
    codeHash,
    clientId: 'cl_1',
    redirectUri: 'http://127.0.0.1:33418/callback',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    resource: 'https://mandate.example/mcp',
    taskId: 'task_1',
    userId: 'usr_1',
    jkt: null,
    expiresAt: 2000,
    usedAt: null,
    ...over,
  };
}

function refreshToken(tokenHash: string, over: Partial<RefreshToken> = {}): RefreshToken {
  return { tokenHash, family: 'fam_1', taskId: 'task_1', clientId: 'cl_1', jkt: null, createdAt: 1000, expiresAt: 5000, usedAt: null, ...over };
}

export function runStorageConformance(name: string, factory: StoreFactory): void {
  describe(`storage conformance: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('agents', () => {
      it('inserts, reads back and lists with filters', async () => {
        await store.insertAgent(agent('a'));
        await store.insertAgent(agent('b', { status: 'suspended', owner: 'x@corp.example' }));
        expect(await store.getAgent('spiffe://test.local/agent/a')).toEqual(agent('a'));
        expect(await store.getAgent('spiffe://test.local/agent/none')).toBeNull();
        expect((await store.listAgents()).map((a) => a.name)).toEqual(['a', 'b']);
        expect((await store.listAgents({ status: 'suspended' })).map((a) => a.name)).toEqual(['b']);
        expect((await store.listAgents({ owner: 'owner@corp.example' })).map((a) => a.name)).toEqual(['a']);
      });

      it('rejects a duplicate id or name with ConflictError', async () => {
        await store.insertAgent(agent('a'));
        await expect(store.insertAgent(agent('a'))).rejects.toBeInstanceOf(ConflictError);
        await expect(store.insertAgent(agent('a', { id: 'spiffe://test.local/agent/other' }))).rejects.toBeInstanceOf(ConflictError);
      });

      it('updates only the given fields and stamps updatedAt', async () => {
        await store.insertAgent(agent('a'));
        const updated = await store.updateAgent('spiffe://test.local/agent/a', { status: 'suspended', labels: ['x'] }, 5000);
        expect(updated.status).toBe('suspended');
        expect(updated.labels).toEqual(['x']);
        expect(updated.owner).toBe('owner@corp.example');
        expect(updated.updatedAt).toBe(5000);
        await expect(store.updateAgent('spiffe://test.local/agent/none', { status: 'active' }, 1)).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('tasks', () => {
      const aid = 'spiffe://test.local/agent/a';
      beforeEach(async () => {
        await store.insertAgent(agent('a'));
      });

      it('inserts and reads back a task with its scope', async () => {
        await store.insertTask(task('t1', aid));
        expect(await store.getTask('t1')).toEqual(task('t1', aid));
        expect(await store.getTask('nope')).toBeNull();
        await expect(store.insertTask(task('t1', aid))).rejects.toBeInstanceOf(ConflictError);
      });

      it('lists newest first with filters and a limit', async () => {
        await store.insertTask(task('t1', aid, { createdAt: 1 }));
        await store.insertTask(task('t2', aid, { createdAt: 2, status: 'completed' }));
        await store.insertTask(task('t3', aid, { createdAt: 3, parentId: 't1', depth: 1 }));
        expect((await store.listTasks()).map((t) => t.id)).toEqual(['t3', 't2', 't1']);
        expect((await store.listTasks({ status: 'active' })).map((t) => t.id)).toEqual(['t3', 't1']);
        expect((await store.listTasks({ parentId: 't1' })).map((t) => t.id)).toEqual(['t3']);
        expect((await store.listTasks({ limit: 1 })).map((t) => t.id)).toEqual(['t3']);
        expect(await store.listTasks({ agentId: 'spiffe://test.local/agent/none' })).toEqual([]);
      });

      it('transitions only from an allowed status, once', async () => {
        await store.insertTask(task('t1', aid));
        const ended = await store.transitionTask('t1', ['active'], 'completed', 1500, 'ended by agent');
        expect(ended).toMatchObject({ status: 'completed', endedAt: 1500, endReason: 'ended by agent' });
        // A second end (a race with expiry, say) changes nothing.
        expect(await store.transitionTask('t1', ['active'], 'expired', 1600, 'expired')).toBeNull();
        expect((await store.getTask('t1'))!.status).toBe('completed');
        await expect(store.transitionTask('nope', ['active'], 'revoked', 1, 'x')).rejects.toBeInstanceOf(NotFoundError);
      });

      it('lists expired live tasks only', async () => {
        await store.insertTask(task('t1', aid, { expiresAt: 100 }));
        await store.insertTask(task('t2', aid, { expiresAt: 100, status: 'completed' }));
        await store.insertTask(task('t3', aid, { expiresAt: 900 }));
        expect((await store.listExpiredTasks(500, 10)).map((t) => t.id)).toEqual(['t1']);
      });

      it('counts active unexpired tasks', async () => {
        expect(await store.countActiveTasks(500)).toBe(0);
        await store.insertTask(task('t1', aid, { expiresAt: 100 }));
        await store.insertTask(task('t2', aid, { expiresAt: 900, status: 'completed' }));
        await store.insertTask(task('t3', aid, { expiresAt: 900 }));
        await store.insertTask(task('t4', aid, { expiresAt: 900, status: 'pending_approval' }));
        expect(await store.countActiveTasks(500)).toBe(1);
        expect(await store.countActiveTasks(50)).toBe(2);
      });

      it('adds taint labels as a set union', async () => {
        await store.insertTask(task('t1', aid));
        expect(await store.addTaskLabels('t1', ['internal'])).toEqual(['internal']);
        expect(await store.addTaskLabels('t1', ['confidential', 'internal'])).toEqual(['confidential', 'internal']);
        await expect(store.addTaskLabels('nope', ['x'])).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('delegation chains and call budgets', () => {
      const aid = 'spiffe://test.local/agent/a';
      beforeEach(async () => {
        await store.insertAgent(agent('a'));
      });

      it('keeps a delegated task’s chain with the task', async () => {
        const chain = [
          { agent: aid, task: 't2' },
          { agent: 'spiffe://test.local/agent/root', task: 't1' },
        ];
        await store.insertTask(task('t2', aid, { parentId: null, depth: 1, chain }));
        expect((await store.getTask('t2'))!.chain).toEqual(chain);
      });

      it('charges a call to the task and its ancestors, all or none', async () => {
        const charges = [
          { taskId: 'child', limit: 5 },
          { taskId: 'parent', limit: 2 },
          { taskId: 'root', limit: null },
        ];
        expect(await store.consumeCall('fs.read', charges)).toEqual({ ok: true, used: [1, 1, 1] });
        expect(await store.consumeCall('fs.read', [{ taskId: 'parent', limit: 2 }, { taskId: 'root', limit: null }])).toEqual({ ok: true, used: [2, 2] });
        // The parent's budget is spent (by itself and its child together): the child is refused,
        // and nothing was charged to anyone.
        expect(await store.consumeCall('fs.read', charges)).toEqual({ ok: false, exhausted: 'parent', limit: 2 });
        expect(await store.callCounts('child')).toEqual({ 'fs.read': 1 });
        expect(await store.callCounts('root')).toEqual({ 'fs.read': 2 });
        // Another tool has its own counter.
        expect(await store.consumeCall('fs.write', charges)).toEqual({ ok: true, used: [1, 1, 1] });
        expect(await store.callCounts('nobody')).toEqual({});
      });

      it('lets exactly as many concurrent calls through as the budget allows', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.consumeCall('bank.transfer', [{ taskId: 'race', limit: 3 }])));
        expect(results.filter((r) => r.ok)).toHaveLength(3);
        expect(await store.callCounts('race')).toEqual({ 'bank.transfer': 3 });
      });
    });

    describe('revocations', () => {
      it('keeps a revocation until its expiry, idempotently', async () => {
        await store.insertRevocation({ taskId: 't1', revokedAt: 10, expiresAt: 100, reason: 'ended' });
        await store.insertRevocation({ taskId: 't1', revokedAt: 11, expiresAt: 100, reason: 'again' });
        await store.insertRevocation({ taskId: 't2', revokedAt: 10, expiresAt: 50, reason: 'suspended' });
        expect((await store.listRevocations(60)).map((r) => r.taskId)).toEqual(['t1']);
        expect((await store.listRevocations(60))[0]!.reason).toBe('ended');
        expect(await store.pruneRevocations(60)).toBe(1);
        expect((await store.listRevocations(0)).map((r) => r.taskId)).toEqual(['t1']);
      });
    });

    describe('replay cache', () => {
      it('accepts a key once until it expires', async () => {
        expect(await store.useOnce('jti:1', 100, 10)).toBe(true);
        expect(await store.useOnce('jti:1', 100, 20)).toBe(false);
        expect(await store.useOnce('jti:1', 300, 150)).toBe(true);
        expect(await store.pruneReplay(400)).toBe(1);
      });

      it('takes a batch in order: a key twice in one batch is taken once, a live key is refused, an expired one taken again', async () => {
        expect(await store.useOnce('jti:live', 100, 10)).toBe(true);
        expect(await store.useOnce('jti:old', 50, 10)).toBe(true);
        expect(
          await store.useOnceMany([
            { key: 'jti:a', expiresAt: 100, now: 20 },
            { key: 'jti:live', expiresAt: 100, now: 20 },
            { key: 'jti:a', expiresAt: 100, now: 20 },
            { key: 'jti:old', expiresAt: 200, now: 60 },
          ]),
        ).toEqual([true, false, false, true]);
        expect(await store.useOnceMany([])).toEqual([]);
        expect(await store.useOnce('jti:old', 300, 100)).toBe(false);
      });

      it('lets exactly one of many concurrent uses win', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.useOnce('jti:race', 100, 1)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('task values (provenance)', () => {
      const aid = 'spiffe://test.local/agent/a';
      beforeEach(async () => {
        await store.insertAgent(agent('a'));
        await store.insertTask(task('t1', aid));
        await store.insertTask(task('t2', aid, { status: 'completed' }));
      });

      it('records values once per task, adds sources, keeps the first origin, and stops at the cap', async () => {
        expect(await store.addTaskValues('t1', ['k1', 'k2', 'k2'], VALUE_UNTRUSTED, 'call-1', 3)).toBe(2);
        expect(await store.addTaskValues('t1', ['k2', 'k3', 'k4'], VALUE_TRUSTED, 'call-2', 3)).toBe(1);
        const got = await store.taskValues('t1', ['k1', 'k2', 'k3', 'k4', 'k5']);
        expect(Object.fromEntries(got)).toEqual({ k1: { sources: VALUE_UNTRUSTED, origin: 'call-1' }, k2: { sources: VALUE_UNTRUSTED | VALUE_TRUSTED, origin: 'call-1' }, k3: { sources: VALUE_TRUSTED, origin: 'call-2' } });
        expect((await store.taskValues('t2', ['k1'])).size).toBe(0);
        expect((await store.taskValues('t1', [])).size).toBe(0);
      });

      it('records a batch in order, as the same calls one after another would (the cap counts earlier entries of the batch)', async () => {
        expect(
          await store.addTaskValuesMany([
            { taskId: 't1', keys: ['k1', 'k2', 'k2'], source: VALUE_UNTRUSTED, origin: 'call-1', cap: 3 },
            { taskId: 't1', keys: [], source: VALUE_UNTRUSTED, origin: 'call-x', cap: 3 },
            { taskId: 't1', keys: ['k2', 'k3', 'k4'], source: VALUE_TRUSTED, origin: 'call-2', cap: 3 },
            { taskId: 't2', keys: ['k1'], source: VALUE_TRUSTED, origin: 'call-3', cap: 3 },
          ]),
        ).toEqual([2, 0, 1, 1]);
        expect(Object.fromEntries(await store.taskValues('t1', ['k1', 'k2', 'k3', 'k4']))).toEqual({ k1: { sources: VALUE_UNTRUSTED, origin: 'call-1' }, k2: { sources: VALUE_UNTRUSTED | VALUE_TRUSTED, origin: 'call-1' }, k3: { sources: VALUE_TRUSTED, origin: 'call-2' } });
        expect(Object.fromEntries(await store.taskValues('t2', ['k1']))).toEqual({ k1: { sources: VALUE_TRUSTED, origin: 'call-3' } });
        expect(await store.addTaskValuesMany([])).toEqual([]);
      });

      it('drops the values of tasks that are over', async () => {
        await store.addTaskValues('t1', ['a'], VALUE_UNTRUSTED, 'c', 10);
        await store.addTaskValues('t2', ['b'], VALUE_UNTRUSTED, 'c', 10);
        expect(await store.pruneTaskValues()).toBe(1);
        expect((await store.taskValues('t1', ['a'])).size).toBe(1);
      });
    });

    describe('audit', () => {
      it('chains appended events from the genesis hash with contiguous seq', async () => {
        const [a, b] = await store.appendAudit([ev('e1'), ev('e2')], hasher);
        expect(a).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
        expect(b).toMatchObject({ seq: 2, prevHash: a!.hash });
        const [c] = await store.appendAudit([ev('e3')], hasher);
        expect(c).toMatchObject({ seq: 3, prevHash: b!.hash });
        expect(await store.auditHead()).toEqual({ seq: 3, hash: c!.hash });
        expect(await store.listAudit()).toEqual([a, b, c]);
      });

      it('never forks the chain under concurrent appends', async () => {
        await Promise.all(Array.from({ length: 50 }, (_, i) => store.appendAudit([ev(`c${i}`)], hasher)));
        const all = await store.listAudit();
        expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
      });

      it('filters, pages and orders', async () => {
        await store.appendAudit(
          [ev('e1', { taskId: 't1', type: 'task.start' }), ev('e2', { agentId: 'ag', type: 'auth.success', decision: 'deny', ts: 5 }), ev('e3', { taskId: 't1', type: 'task.end', ts: 9 })],
          hasher,
        );
        expect((await store.listAudit({ taskId: 't1' })).map((e) => e.id)).toEqual(['e1', 'e3']);
        expect((await store.listAudit({ agentId: 'ag' })).map((e) => e.id)).toEqual(['e2']);
        expect((await store.listAudit({ type: 'task.end' })).map((e) => e.id)).toEqual(['e3']);
        expect((await store.listAudit({ afterSeq: 1, limit: 1 })).map((e) => e.id)).toEqual(['e2']);
        expect((await store.listAudit({ decision: 'deny' })).map((e) => e.id)).toEqual(['e2']);
        expect((await store.listAudit({ since: 5 })).map((e) => e.id)).toEqual(['e2', 'e3']);
        expect((await store.listAudit({ since: 2, until: 9 })).map((e) => e.id)).toEqual(['e2']);
        expect(await store.listAudit({ since: 10 })).toEqual([]);
        expect((await store.listAudit({ beforeSeq: 3, newestFirst: true, limit: 1 })).map((e) => e.id)).toEqual(['e2']);
        expect((await store.listAudit({ newestFirst: true, limit: 2 })).map((e) => e.id)).toEqual(['e3', 'e2']);
      });

      it('returns an empty head for an empty log', async () => {
        expect(await store.auditHead()).toBeNull();
      });
    });

    describe('audit sink cursors and leases', () => {
      it('starts a new sink at cursor 0 leased to its first holder; another waits for the lease to run out', async () => {
        expect(await store.leaseAuditSink('siem', 'a', 1000, 2000)).toMatchObject({ name: 'siem', cursor: 0, holder: 'a', leaseUntil: 2000, lastError: null, createdAt: 1000 });
        expect(await store.leaseAuditSink('siem', 'b', 1500, 2500)).toBeNull();
        expect(await store.leaseAuditSink('siem', 'a', 1500, 2500)).toMatchObject({ holder: 'a', leaseUntil: 2500 });
        expect(await store.leaseAuditSink('siem', 'b', 2500, 3500)).toMatchObject({ holder: 'b', cursor: 0, leaseUntil: 3500 });
      });

      it('moves the cursor only for the holder and only from the value it read (a holder that lost the lease cannot)', async () => {
        await store.leaseAuditSink('siem', 'a', 1000, 2000);
        expect(await store.advanceAuditSink('siem', 'a', 0, 5, 1100)).toBe(true);
        expect(await store.advanceAuditSink('siem', 'a', 0, 9, 1200)).toBe(false);
        expect(await store.advanceAuditSink('siem', 'b', 5, 9, 1200)).toBe(false);
        expect(await store.leaseAuditSink('siem', 'b', 2000, 3000)).toMatchObject({ holder: 'b', cursor: 5 });
        expect(await store.advanceAuditSink('siem', 'a', 5, 9, 2100)).toBe(false);
        expect(await store.advanceAuditSink('siem', 'b', 5, 9, 2100)).toBe(true);
        expect((await store.listAuditSinks())[0]).toMatchObject({ cursor: 9, deliveredAt: 2100 });
      });

      it('records the last error until the next delivery, and lets another take a released lease at once', async () => {
        await store.leaseAuditSink('b-sink', 'a', 1000, 9000);
        await store.leaseAuditSink('a-sink', 'a', 1000, 9000);
        await store.noteAuditSinkError('b-sink', 'a', 'receiver answered 503', 1100);
        await store.noteAuditSinkError('b-sink', 'x', 'not the holder', 1100);
        expect(await store.listAuditSinks()).toMatchObject([{ name: 'a-sink', lastError: null }, { name: 'b-sink', lastError: 'receiver answered 503', errorAt: 1100 }]);
        await store.advanceAuditSink('b-sink', 'a', 0, 3, 1200);
        expect((await store.listAuditSinks())[1]).toMatchObject({ lastError: null, errorAt: null, cursor: 3 });
        await store.releaseAuditSink('b-sink', 'a');
        expect(await store.leaseAuditSink('b-sink', 'b', 1300, 9000)).toMatchObject({ holder: 'b', cursor: 3 });
      });

      it('gives a contested lease to exactly one of many racing holders', async () => {
        const got = await Promise.all(Array.from({ length: 8 }, (_, i) => store.leaseAuditSink('race', `h${i}`, 1000, 5000)));
        expect(got.filter((g) => g !== null).length).toBe(1);
      });
    });

    describe('policy versions', () => {
      it('stores versions and returns the latest', async () => {
        expect(await store.latestPolicyVersion()).toBeNull();
        const v1 = { version: 1, hash: 'h1', createdAt: 1, source: 'files', files: [{ path: 'a.cedar', sha256: 'x', text: 'permit(principal, action, resource);' }] };
        await store.insertPolicyVersion(v1);
        await store.insertPolicyVersion({ ...v1, version: 2, hash: 'h2' });
        expect((await store.latestPolicyVersion())!.version).toBe(2);
        expect(await store.getPolicyVersion(1)).toEqual(v1);
        await expect(store.insertPolicyVersion(v1)).rejects.toBeInstanceOf(ConflictError);
      });
    });

    describe('tool pins', () => {
      it('inserts, replaces and lists pins per upstream', async () => {
        const pin = { upstream: 'fs', tool: 'read', acceptedHash: 'h1', acceptedDefinition: { name: 'read' }, pendingHash: null, pendingDefinition: null, firstSeen: 1, updatedAt: 1 };
        await store.putToolPin(pin);
        await store.putToolPin({ ...pin, upstream: 'mem', tool: 'graph' });
        await store.putToolPin({ ...pin, pendingHash: 'h2', pendingDefinition: { name: 'read', description: 'changed' }, updatedAt: 5 });
        expect(await store.listToolPins('fs')).toEqual([{ ...pin, pendingHash: 'h2', pendingDefinition: { name: 'read', description: 'changed' }, updatedAt: 5 }]);
        expect((await store.listToolPins()).map((p) => `${p.upstream}.${p.tool}`)).toEqual(['fs.read', 'mem.graph']);
        expect(await store.listToolPins('none')).toEqual([]);
      });
    });

    describe('MCP sessions', () => {
      it('keeps what initialize said until the session or its task ends', async () => {
        await store.insertAgent(agent('ms'));
        await store.insertTask(task('t_live', agent('ms').id));
        await store.insertTask(task('t_done', agent('ms').id, { status: 'completed' }));
        const init = { protocolVersion: '2025-06-18', capabilities: { sampling: {} }, clientInfo: { name: 'c', version: '1' } };
        await store.putMcpSession({ id: 's1', taskId: 't_live', agentId: agent('ms').id, init, createdAt: 100 });
        await store.putMcpSession({ id: 's1', taskId: 'other', agentId: 'x', init: {}, createdAt: 100 }); // never replaced
        await store.putMcpSession({ id: 's2', taskId: 't_done', agentId: agent('ms').id, init, createdAt: 100 });
        await store.putMcpSession({ id: 's3', taskId: 't_live', agentId: agent('ms').id, init, createdAt: 10 });
        expect(await store.getMcpSession('s1')).toEqual({ id: 's1', taskId: 't_live', agentId: agent('ms').id, init, createdAt: 100 });
        expect(await store.getMcpSession('nope')).toBeNull();
        expect(await store.pruneMcpSessions(50)).toBe(2); // s2 (task ended) and s3 (too old)
        expect(await store.getMcpSession('s2')).toBeNull();
        await store.deleteMcpSession('s1');
        expect(await store.getMcpSession('s1')).toBeNull();
      });
    });

    describe('OAuth authorization-code flow', () => {
      it('round-trips a client; a replacement keeps when, by whom and whether it was revoked', async () => {
        const cimd = oauthClient('https://app.example/client.json', { kind: 'cimd', createdBy: null, fetchedAt: 1000, metadata: { client_name: 'App', z: 1, a: 2 } });
        await store.putOAuthClient(cimd);
        expect(await store.getOAuthClient(cimd.id)).toEqual(cimd);
        expect(await store.getOAuthClient('https://app.example/other.json')).toBeNull();
        // The document re-fetched later: new metadata and fetch time, same registration time.
        const refetched = { ...cimd, name: 'App 2', redirectUris: ['https://app.example/cb'], metadata: { client_name: 'App 2' }, createdAt: 9000, fetchedAt: 9000 };
        await store.putOAuthClient(refetched);
        expect(await store.getOAuthClient(cimd.id)).toEqual({ ...refetched, createdAt: 1000 });
        // A revoked client stays revoked when its document is fetched again (it must not come back by itself).
        expect(await store.revokeOAuthClient(cimd.id, 9500)).toBe(true);
        await store.putOAuthClient({ ...refetched, fetchedAt: 9900 });
        expect(await store.getOAuthClient(cimd.id)).toMatchObject({ revokedAt: 9500, fetchedAt: 9900, createdAt: 1000 });
      });

      it('lists clients newest first, by kind, without revoked ones unless asked', async () => {
        await store.putOAuthClient(oauthClient('cl_a', { createdAt: 1 }));
        await store.putOAuthClient(oauthClient('https://b.example/c.json', { kind: 'cimd', createdBy: null, createdAt: 2 }));
        await store.putOAuthClient(oauthClient('cl_c', { createdAt: 3 }));
        await store.putOAuthClient(oauthClient('cl_d', { createdAt: 3 }));
        await store.revokeOAuthClient('cl_c', 10);
        expect((await store.listOAuthClients()).map((c) => c.id)).toEqual(['cl_d', 'https://b.example/c.json', 'cl_a']);
        expect((await store.listOAuthClients({ includeRevoked: true })).map((c) => c.id)).toEqual(['cl_d', 'cl_c', 'https://b.example/c.json', 'cl_a']);
        expect((await store.listOAuthClients({ kind: 'dcr' })).map((c) => c.id)).toEqual(['cl_d', 'cl_a']);
        expect((await store.listOAuthClients({ kind: 'cimd' })).map((c) => c.id)).toEqual(['https://b.example/c.json']);
        expect((await store.listOAuthClients({ includeRevoked: true, limit: 2 })).map((c) => c.id)).toEqual(['cl_d', 'cl_c']);
      });

      it('revokes a client once, keeping the first time, and says so for an unknown one', async () => {
        await store.putOAuthClient(oauthClient('cl_r'));
        expect(await store.revokeOAuthClient('cl_r', 50)).toBe(true);
        expect(await store.revokeOAuthClient('cl_r', 60)).toBe(true);
        expect((await store.getOAuthClient('cl_r'))!.revokedAt).toBe(50);
        expect(await store.revokeOAuthClient('cl_none', 50)).toBe(false);
      });

      it('counts the clients one caller registered since a time', async () => {
        await store.putOAuthClient(oauthClient('cl_1', { createdAt: 100 }));
        await store.putOAuthClient(oauthClient('cl_2', { createdAt: 200 }));
        await store.putOAuthClient(oauthClient('cl_3', { createdAt: 300 }));
        await store.putOAuthClient(oauthClient('cl_4', { createdAt: 300, createdBy: 'ip:198.51.100.1' }));
        await store.putOAuthClient(oauthClient('https://x.example/c.json', { kind: 'cimd', createdAt: 300, createdBy: null }));
        expect(await store.countOAuthClientsSince('ip:203.0.113.7', 200)).toBe(2);
        expect(await store.countOAuthClientsSince('ip:203.0.113.7', 0)).toBe(3);
        expect(await store.countOAuthClientsSince('ip:198.51.100.1', 0)).toBe(1);
        expect(await store.countOAuthClientsSince('ip:192.0.2.1', 0)).toBe(0);
      });

      it('gives a code once; a second exchange is told it was used (OAuth 2.1 §4.1.3)', async () => {
        const c = authCode('ch_1', { jkt: 'jkt-thumbprint' });
        await store.putAuthorizationCode(c);
        await expect(store.putAuthorizationCode(c)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.consumeAuthorizationCode('ch_1', 1500)).toEqual({ ...c, usedAt: 1500 });
        expect(await store.consumeAuthorizationCode('ch_1', 1600)).toMatchObject({ reused: { codeHash: 'ch_1' } });
        // A replay after the code expired is still a replay: what was issued from it must go.
        expect(await store.consumeAuthorizationCode('ch_1', 2500)).toMatchObject({ reused: { codeHash: 'ch_1' } });
      });

      it('gives nothing for an expired or unknown code', async () => {
        await store.putAuthorizationCode(authCode('ch_exp', { expiresAt: 2000 }));
        expect(await store.consumeAuthorizationCode('ch_exp', 2000)).toBeNull();
        expect(await store.consumeAuthorizationCode('ch_exp', 1999)).toMatchObject({ codeHash: 'ch_exp', usedAt: 1999 });
        expect(await store.consumeAuthorizationCode('ch_unknown', 1000)).toBeNull();
      });

      it('gives a code to exactly one of two concurrent exchanges', async () => {
        await store.putAuthorizationCode(authCode('ch_race'));
        const both = await Promise.all([store.consumeAuthorizationCode('ch_race', 1500), store.consumeAuthorizationCode('ch_race', 1500)]);
        expect(both.filter((r) => r !== null && !('reused' in r))).toHaveLength(1);
        expect(both.filter((r) => r !== null && 'reused' in r)).toHaveLength(1);
      });

      it('uses a refresh token once; a replay of a rotated token is told apart', async () => {
        const t = refreshToken('rt_1', { jkt: 'jkt-thumbprint' });
        await store.putRefreshToken(t);
        await expect(store.putRefreshToken(t)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.useRefreshToken('rt_1', 2000)).toEqual({ ...t, usedAt: 2000 });
        expect(await store.useRefreshToken('rt_1', 2100)).toMatchObject({ reused: { tokenHash: 'rt_1' } });
        await store.putRefreshToken(refreshToken('rt_exp', { expiresAt: 3000 }));
        expect(await store.useRefreshToken('rt_exp', 3000)).toBeNull();
        expect(await store.useRefreshToken('rt_unknown', 1000)).toBeNull();
        // Two refreshes with one token at once: one rotates it, the other is a replay.
        await store.putRefreshToken(refreshToken('rt_race'));
        const both = await Promise.all([store.useRefreshToken('rt_race', 2000), store.useRefreshToken('rt_race', 2000)]);
        expect(both.filter((r) => r !== null && !('reused' in r))).toHaveLength(1);
        expect(both.filter((r) => r !== null && 'reused' in r)).toHaveLength(1);
      });

      it('revokes the unused tokens of a family after a replay', async () => {
        await store.putRefreshToken(refreshToken('rt_a', { usedAt: 1100 }));
        await store.putRefreshToken(refreshToken('rt_b'));
        await store.putRefreshToken(refreshToken('rt_c'));
        await store.putRefreshToken(refreshToken('rt_other', { family: 'fam_2' }));
        expect(await store.revokeRefreshFamily('fam_1', 1500)).toBe(2);
        expect(await store.revokeRefreshFamily('fam_1', 1600)).toBe(0);
        expect(await store.useRefreshToken('rt_b', 1700)).toMatchObject({ reused: { tokenHash: 'rt_b' } });
        expect(await store.useRefreshToken('rt_other', 1700)).toMatchObject({ tokenHash: 'rt_other', usedAt: 1700 });
      });

      it('prunes codes and refresh tokens expired before a time, used or not', async () => {
        await store.putAuthorizationCode(authCode('ch_old', { expiresAt: 100 }));
        await store.putAuthorizationCode(authCode('ch_used', { expiresAt: 200, usedAt: 150 }));
        await store.putAuthorizationCode(authCode('ch_new', { expiresAt: 1000 }));
        await store.putRefreshToken(refreshToken('rt_old', { expiresAt: 100 }));
        await store.putRefreshToken(refreshToken('rt_edge', { expiresAt: 500 }));
        expect(await store.pruneOAuth(500)).toBe(3);
        expect(await store.consumeAuthorizationCode('ch_used', 300)).toBeNull();
        expect(await store.consumeAuthorizationCode('ch_new', 300)).toMatchObject({ codeHash: 'ch_new' });
        expect(await store.useRefreshToken('rt_edge', 400)).toMatchObject({ tokenHash: 'rt_edge' });
        expect(await store.pruneOAuth(500)).toBe(0);
      });
    });

    describe('first sight of an upstream', () => {
      it('records all its pins at once, only once', async () => {
        const pin = (tool: string, hash: string) => ({ upstream: 'fs', tool, acceptedHash: hash, acceptedDefinition: { name: tool }, pendingHash: null, pendingDefinition: null, firstSeen: 1, updatedAt: 1 });
        const racing = await Promise.all([
          store.seedToolPins('fs', [pin('read', 'a1'), pin('write', 'a2')]),
          store.seedToolPins('fs', [pin('read', 'b1'), pin('write', 'b2'), pin('delete', 'b3')]),
        ]);
        expect(racing.filter(Boolean)).toHaveLength(1);
        const kept = (await store.listToolPins('fs')).map((p) => `${p.tool}:${p.acceptedHash}`);
        expect([['read:a1', 'write:a2'], ['delete:b3', 'read:b1', 'write:b2']]).toContainEqual(kept);
        expect(await store.seedToolPins('fs', [pin('other', 'c')])).toBe(false);
        expect(await store.seedToolPins('mem', [])).toBe(true);
      });
    });

    describe('API tokens', () => {
      it('finds by hash, refuses duplicates and revokes', async () => {
        await store.insertApiToken({ id: 'tok_1', name: 'gateway', role: 'pep', tokenHash: 'h1', createdAt: 1, revokedAt: null });
        expect((await store.findApiTokenByHash('h1'))!.name).toBe('gateway');
        expect(await store.findApiTokenByHash('nope')).toBeNull();
        await expect(
          store.insertApiToken({ id: 'tok_2', name: 'gateway', role: 'pep', tokenHash: 'h2', createdAt: 1, revokedAt: null }),
        ).rejects.toBeInstanceOf(ConflictError);
        expect((await store.revokeApiToken('gateway', 50)).revokedAt).toBe(50);
        expect((await store.listApiTokens()).map((t) => t.revokedAt)).toEqual([50]);
        await expect(store.revokeApiToken('nope', 1)).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('users', () => {
      it('stores users, finds them by email, id and token hash, and refuses a duplicate email', async () => {
        const u = { id: 'usr_1', name: 'Alice', email: 'alice@corp.example', roles: ['security'], status: 'active' as const, tokenHash: 'th1', createdAt: 1, updatedAt: 1 };
        await store.insertUser(u);
        expect(await store.getUser('alice@corp.example')).toEqual(u);
        expect(await store.getUser('usr_1')).toEqual(u);
        expect(await store.findUserByTokenHash('th1')).toEqual(u);
        expect(await store.findUserByTokenHash('nope')).toBeNull();
        await expect(store.insertUser({ ...u, id: 'usr_2', tokenHash: 'th2' })).rejects.toBeInstanceOf(ConflictError);
        const disabled = await store.updateUser('usr_1', { status: 'disabled', tokenHash: 'th3' }, 9);
        expect(disabled).toMatchObject({ status: 'disabled', tokenHash: 'th3', updatedAt: 9 });
        expect(await store.findUserByTokenHash('th1')).toBeNull();
        expect((await store.listUsers()).map((x) => x.email)).toEqual(['alice@corp.example']);
        await expect(store.updateUser('usr_nope', { status: 'active' }, 1)).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('approvals', () => {
      it('round-trips an approval and finds the live one for an action hash', async () => {
        const a = approval('apr_1');
        await store.insertApproval(a);
        expect(await store.getApproval('apr_1')).toEqual(a);
        expect((await store.findLiveApproval('hash-apr_1', 2000))!.id).toBe('apr_1');
        expect(await store.findLiveApproval('hash-apr_1', 5000)).toBeNull(); // expired by time
        expect(await store.findLiveApproval('other', 2000)).toBeNull();
        await expect(store.insertApproval(a)).rejects.toBeInstanceOf(ConflictError);
      });

      it('records decisions once per person, settles on quorum or on the first deny, and refuses late or repeated ones', async () => {
        await store.insertApproval(approval('apr_q', { quorum: 2 }));
        const d = (by: string, decision: 'approve' | 'deny' = 'approve') => ({ by, decision, at: 2000, reason: null });
        const r1 = await store.decideApproval('apr_q', d('user:a'), 2000);
        expect(r1).toMatchObject({ ok: true, approval: { status: 'pending' } });
        expect(await store.decideApproval('apr_q', d('user:a'), 2000)).toMatchObject({ ok: false, problem: 'already_decided' });
        const r2 = await store.decideApproval('apr_q', d('user:b'), 2100);
        expect(r2).toMatchObject({ ok: true, approval: { status: 'approved', decidedAt: 2100 } });
        expect(await store.decideApproval('apr_q', d('user:c'), 2200)).toMatchObject({ ok: false, problem: 'not_pending' });
        expect(await store.decideApproval('apr_missing', d('user:a'), 2000)).toMatchObject({ ok: false, problem: 'not_found', approval: null });
        await store.insertApproval(approval('apr_d', { quorum: 3 }));
        expect(await store.decideApproval('apr_d', d('user:a', 'deny'), 2000)).toMatchObject({ ok: true, approval: { status: 'denied' } });
        await store.insertApproval(approval('apr_late'));
        expect(await store.decideApproval('apr_late', d('user:a'), 6000)).toMatchObject({ ok: false, problem: 'expired' });
      });

      it('consumes an approved approval exactly once, only for its own action and before expiry', async () => {
        await store.insertApproval(approval('apr_c', { status: 'approved' }));
        expect(await store.consumeApproval('apr_c', 'hash-other', 2000)).toBe(false);
        expect(await store.consumeApproval('apr_c', 'hash-apr_c', 6000)).toBe(false);
        const both = await Promise.all([store.consumeApproval('apr_c', 'hash-apr_c', 2000), store.consumeApproval('apr_c', 'hash-apr_c', 2000)]);
        expect(both.filter(Boolean)).toHaveLength(1);
        expect(await store.getApproval('apr_c')).toMatchObject({ status: 'used', usedAt: 2000 });
        await store.insertApproval(approval('apr_p'));
        expect(await store.consumeApproval('apr_p', 'hash-apr_p', 2000)).toBe(false); // still pending
      });

      it('expires due approvals, voids those of another policy version, and lists by filter', async () => {
        await store.insertApproval(approval('apr_e1', { expiresAt: 1500 }));
        await store.insertApproval(approval('apr_e2', { status: 'approved', expiresAt: 1500 }));
        await store.insertApproval(approval('apr_keep', { expiresAt: 9000, policyVersion: 'v2', taskId: 'task_1' }));
        await store.insertApproval(approval('apr_old', { expiresAt: 9000, policyVersion: 'v1' }));
        await store.insertApproval(approval('apr_bg', { kind: 'breakglass', expiresAt: 9000, policyVersion: 'v1' }));
        expect((await store.expireApprovals(2000)).map((a) => a.id).sort()).toEqual(['apr_e1', 'apr_e2']);
        expect((await store.getApproval('apr_e1'))!.status).toBe('expired');
        expect((await store.voidApprovalsNotOf('v2', 2000)).map((a) => a.id)).toEqual(['apr_old']);
        expect(await store.getApproval('apr_old')).toMatchObject({ status: 'expired', endReason: 'policy changed' });
        expect((await store.getApproval('apr_bg'))!.status).toBe('pending'); // break-glass is not tied to a policy version
        expect((await store.listApprovals({ taskId: 'task_1' })).map((a) => a.id)).toEqual(['apr_keep']);
        expect((await store.listApprovals({ status: 'expired' })).length).toBe(3);
        expect((await store.listApprovals({ kind: 'breakglass' })).map((a) => a.id)).toEqual(['apr_bg']);
      });

      it('counts pending unexpired approvals', async () => {
        expect(await store.countPendingApprovals(2000)).toBe(0);
        await store.insertApproval(approval('apr_n1', { expiresAt: 1500 }));
        await store.insertApproval(approval('apr_n2', { expiresAt: 9000 }));
        await store.insertApproval(approval('apr_n3', { expiresAt: 9000, status: 'approved' }));
        expect(await store.countPendingApprovals(2000)).toBe(1);
        expect(await store.countPendingApprovals(1000)).toBe(2);
      });
    });

    describe('tasks awaiting approval', () => {
      it('activates a pending task with a fresh expiry, once', async () => {
        await store.insertAgent(agent('pa'));
        const t = task('task_pa', agent('pa').id, { status: 'pending_approval', breakGlass: true });
        await store.insertTask(t);
        expect((await store.getTask('task_pa'))!.breakGlass).toBe(true);
        expect(await store.activateTask('task_pa', 9999)).toMatchObject({ status: 'active', expiresAt: 9999, breakGlass: true });
        expect(await store.activateTask('task_pa', 12345)).toBeNull();
      });
    });
  });
}
