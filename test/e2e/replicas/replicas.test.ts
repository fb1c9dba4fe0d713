// Three `mandate serve` replicas on one PostgreSQL database, behind a load balancer: every
// guarantee holds across them. Attacks stopped: a revoked task or suspended agent still served
// by another replica; a call budget spent once per replica (3× max_calls); a DPoP proof replayed
// to another replica; an acknowledged call whose audit record died with its replica; a replica
// that answers from memory while the database is gone.

import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, type MandateAgent, type MandateTask } from '../../../src/client/index.js';
import { serveAgent } from '../../helpers/process.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { startReplicas, type Replicas } from '../../helpers/replicas.js';
import { PATIENCE } from '../../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';

let db: TestDatabase;
let pgProxy: TcpProxy;
let r: Replicas;
let agent: MandateAgent;

const text = (res: unknown) => ((res as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('');

/** The admin API of one replica directly (not through the balancer). */
async function api(i: number, method: string, path: string, body?: unknown, token = r.adminToken): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${r.nodes[i]!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/** An MCP initialize sent straight to replica i with this credential: the status says whether it is honoured there. */
async function initializeOn(i: number, credential: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${r.nodes[i]!.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } }),
  });
  return { status: res.status, body: await res.text() };
}

/** Connects an MCP session through the balancer, placed on replica i (one at a time: the balancer's target is shared). */
async function sessionOn(i: number, task: MandateTask): Promise<Client> {
  const prev = placing;
  let done!: () => void;
  placing = new Promise<void>((resolve) => (done = resolve));
  await prev;
  try {
    return await place(i, task);
  } finally {
    done();
  }
}
let placing: Promise<void> = Promise.resolve();

async function place(i: number, task: MandateTask): Promise<Client> {
  r.lb.target = i;
  try {
    return await task.connect();
  } finally {
    r.lb.target = null;
  }
}

/** Polls replica i until the credential is refused; resolves with how long that took (ms). */
async function refusedAfter(i: number, credential: string, since: number): Promise<number> {
  for (;;) {
    const res = await initializeOn(i, credential);
    if (res.status === 401) return performance.now() - since;
    if (performance.now() - since > PATIENCE) throw new Error(`replica ${i} still honours the credential: ${res.status} ${res.body}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

beforeAll(async () => {
  db = await createTestDatabase('mandate_replicas');
  pgProxy = await startTcpProxy('127.0.0.1', Number(new URL(db.url).port || 5432));
  r = await startReplicas(3, `postgres://postgres@127.0.0.1:${pgProxy.port}/${db.name}`);
  agent = await serveAgent({ url: r.lb.url, dataDir: r.nodes[0]!.dataDir }, 'worker');
}, PATIENCE * 2);

afterAll(async () => {
  await r?.close();
  await pgProxy?.close();
  await db?.drop();
});

describe('three replicas on one PostgreSQL database', () => {
  it('honour a credential issued by any one of them', async () => {
    for (const issuer of [0, 1, 2]) {
      r.lb.target = issuer;
      const task = await agent.startTask({ intent: `issued by replica ${issuer}`, tools: ['stdio.echo'] });
      r.lb.target = null;
      for (const i of [0, 1, 2]) {
        const c = await sessionOn(i, task);
        expect(text(await c.callTool({ name: 'stdio.echo', arguments: { text: `from ${issuer} on ${i}` } }))).toBe(`echo: from ${issuer} on ${i}`);
        await c.close();
      }
      await task.end();
    }
  });

  it('refuse everywhere a task revoked on one replica, and an agent suspended on another (delay measured)', async () => {
    const task = await agent.startTask({ intent: 'to be revoked', tools: ['stdio.echo'] });
    for (const i of [0, 1, 2]) expect((await initializeOn(i, task.credential)).status).toBe(200);
    const revoked = await api(0, 'POST', `/api/v1/tasks/${task.id}/revoke`, { reason: 'replica test' });
    expect(revoked.status).toBe(200);
    const t0 = performance.now();
    const delays = await Promise.all([1, 2].map((i) => refusedAfter(i, task.credential, t0)));
    const last = await initializeOn(2, task.credential);
    expect(last.body).toMatch(/has ended/);
    console.log(`revocation visible on the other replicas after ${delays.map((d) => d.toFixed(1)).join(' ms, ')} ms`);

    const other = await serveAgent({ url: r.lb.url, dataDir: r.nodes[0]!.dataDir }, 'to-suspend');
    const t2 = await other.startTask({ intent: 'agent to be suspended', tools: ['stdio.echo'] });
    for (const i of [0, 1, 2]) expect((await initializeOn(i, t2.credential)).status).toBe(200);
    expect((await api(2, 'POST', `/api/v1/agents/${encodeURIComponent(other.id)}/suspend`, { reason: 'kill switch test' })).status).toBe(200);
    const t1 = performance.now();
    const sDelays = await Promise.all([0, 1].map((i) => refusedAfter(i, t2.credential, t1)));
    console.log(`suspension visible on the other replicas after ${sDelays.map((d) => d.toFixed(1)).join(' ms, ')} ms`);
    // And no replica gives the suspended agent a new task.
    for (const i of [0, 1]) {
      r.lb.target = i;
      await expect(other.startTask({ intent: 'after suspension', tools: ['stdio.echo'] })).rejects.toThrow(/suspended/);
    }
    r.lb.target = null;
  });

  it('let exactly max_calls calls through when they are spread over the three replicas at once', async () => {
    const task = await agent.startTask({ intent: 'budgeted', tools: [{ name: 'stdio.echo', max_calls: 5 }] });
    const sessions = await Promise.all([0, 1, 2].map((i) => sessionOn(i, task)));
    const results = await Promise.all(
      sessions.flatMap((c, i) => Array.from({ length: 8 }, (_, k) => c.callTool({ name: 'stdio.echo', arguments: { text: `r${i}-${k}` } }).then((res) => !res.isError, () => false))),
    );
    expect(results.filter(Boolean)).toHaveLength(5);
    // The budget is spent for the task, not per replica: a further call anywhere is refused.
    const more = await sessions[2]!.callTool({ name: 'stdio.echo', arguments: { text: 'one more' } });
    expect(more.isError).toBe(true);
    expect(text(more)).toMatch(/limit of 5 calls/);
    for (const c of sessions) await c.close();
  });

  it('stop egress on every replica once the task read confidential data on one (taint is shared)', async () => {
    const task = await agent.startTask({ intent: 'taint', tools: ['stdio.secret_report', 'stdio.fetch'] });
    const [a, b] = [await sessionOn(0, task), await sessionOn(1, task)];
    expect(text(await b.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/before' } }))).toBe('fetched https://example.com/before');
    expect((await a.callTool({ name: 'stdio.secret_report', arguments: {} })).isError).toBeFalsy();
    const after = await b.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/after' } });
    expect(after.isError).toBe(true);
    expect(text(after)).toMatch(/no egress once the task has read confidential data/);
    await a.close();
    await b.close();
  });

  it('refuse on one replica a DPoP proof already used on another', async () => {
    const bound = await serveAgent({ url: r.lb.url, dataDir: r.nodes[0]!.dataDir }, 'dpop-worker', { dpop: true });
    const task = await bound.startTask({ intent: 'dpop', tools: ['stdio.echo'] });
    const proof = await createDpopProof(bound.dpop!, 'POST', `${r.lb.url}/mcp`, { accessToken: task.credential });
    const headers = { authorization: `DPoP ${task.credential}`, dpop: proof };
    const first = await fetch(`${r.nodes[0]!.url}/mcp`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'p', version: '1' } } }) });
    expect(first.status).toBe(200);
    const replay = await fetch(`${r.nodes[1]!.url}/mcp`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'p', version: '1' } } }) });
    expect(replay.status).toBe(401);
    expect(await replay.text()).toMatch(/already been used|replay/i);
  });

  it('release a call held for approval on one replica when a person approves on another', async () => {
    const u = await api(0, 'POST', '/api/v1/users', { name: 'Ops Owner', email: 'ops@corp.example', roles: [] });
    expect(u.status).toBe(201);
    const task = await agent.startTask({ intent: 'fetch with approval', tools: ['stdio.fetch'] });
    const c = await sessionOn(0, task);
    const held = c.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/held' } }, undefined, { timeout: PATIENCE, resetTimeoutOnProgress: true });
    let id: string | undefined;
    await expect
      .poll(async () => {
        const list = await api(1, 'GET', `/api/v1/approvals?status=pending`);
        id = ((list.body.approvals ?? []) as Array<{ id: string; task: string }>).find((a) => a.task === task.id)?.id;
        return id;
      }, { timeout: PATIENCE })
      .toBeDefined();
    const approved = await api(2, 'POST', `/api/v1/approvals/${id}/approve`, { reason: 'fine' }, u.body.token as string);
    expect(approved.status).toBe(200);
    const t0 = performance.now();
    expect(text(await held)).toBe('fetched https://example.com/held');
    console.log(`a call held on replica 0 was released ${(performance.now() - t0).toFixed(1)} ms after the approval on replica 2`);
    await c.close();
  });

  it('lose no acknowledged call’s audit record when a replica is killed under load, and the chain verifies', async () => {
    const task = await agent.startTask({ intent: 'under load', tools: ['stdio.echo'] });
    const sessions = await Promise.all([1, 1, 0, 2].map((i) => sessionOn(i, task)));
    const acknowledged: string[] = [];
    let n = 0;
    let killed = false;
    const worker = async (c: Client, w: number) => {
      while (!killed) {
        const label = `w${w}-${n++}`;
        try {
          const res = await c.callTool({ name: 'stdio.echo', arguments: { text: label } });
          if (!res.isError) acknowledged.push(label);
          else if (process.env.DEBUG_REPLICAS) console.log(label, text(res));
        } catch (err) {
          // Only the killed replica's sessions may fail (their call was cut: not acknowledged).
          if (!killed || w >= 2) throw err;
        }
      }
    };
    const workers = sessions.map((c, w) => worker(c, w));
    await expect.poll(() => acknowledged.length, { timeout: PATIENCE }).toBeGreaterThan(200);
    killed = true;
    r.nodes[1]!.child.kill('SIGKILL');
    await r.nodes[1]!.exited;
    const dbg = (m: string) => process.env.DEBUG_REPLICAS && console.log(new Date().toISOString(), m);
    dbg('killed');
    await Promise.all(workers);
    dbg('workers done');
    // Every acknowledged call has its durable record, whichever replica served it.
    const events = await api(0, 'GET', `/api/v1/audit?task=${task.id}&type=tool.call&limit=1000`);
    const recorded = new Set(((events.body.events ?? []) as Array<{ data: { args?: { text?: string } } }>).map((e) => e.data.args?.text));
    dbg(`audit listed ${recorded.size}`);
    const missing = acknowledged.filter((l) => !recorded.has(l));
    expect(missing).toEqual([]);
    const verify = await api(2, 'POST', '/api/v1/audit/verify', {});
    expect(verify.body).toMatchObject({ ok: true });
    dbg('verified');
    await r.restart(1);
    dbg('restarted');
    for (const c of sessions) await c.close().catch(() => undefined);
  });

  it('take over an MCP session whose replica died: the agent goes on in the same session, no affinity needed', async () => {
    const task = await agent.startTask({ intent: 'session takeover', tools: [{ name: 'stdio.echo', max_calls: 3 }] });
    const c = await sessionOn(2, task);
    expect(text(await c.callTool({ name: 'stdio.echo', arguments: { text: 'on 2' } }))).toBe('echo: on 2');
    r.nodes[2]!.child.kill('SIGKILL');
    await r.nodes[2]!.exited;
    // Same client, same session id: another replica takes the session over.
    expect(text(await c.callTool({ name: 'stdio.echo', arguments: { text: 'after the death of 2' } }))).toBe('echo: after the death of 2');
    expect((await c.listTools()).tools.map((t) => t.name)).toContain('stdio.echo');
    // Its budget went with it (the store's): 2 used, 1 left.
    expect((await c.callTool({ name: 'stdio.echo', arguments: { text: 'third' } })).isError).toBeFalsy();
    expect(text(await c.callTool({ name: 'stdio.echo', arguments: { text: 'fourth' } }))).toMatch(/limit of 3 calls/);
    // A session is taken over only with its own task's credential.
    const other = await agent.startTask({ intent: 'not that session', tools: ['stdio.echo'] });
    const res = await fetch(`${r.lb.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.credential}`, 'mcp-session-id': c.transport!.sessionId!, 'mcp-protocol-version': '2025-06-18', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect([403, 404]).toContain(res.status);
    await c.close();
    await r.restart(2);
  });

  it('refuse everything on every replica while the database is gone, and recover by themselves', async () => {
    const task = await agent.startTask({ intent: 'outage', tools: ['stdio.echo'] });
    const sessions = await Promise.all([0, 1, 2].map((i) => sessionOn(i, task)));
    pgProxy.cut();
    try {
      for (const i of [0, 1, 2]) {
        await expect.poll(async () => (await fetch(`${r.nodes[i]!.url}/readyz`)).status, { timeout: PATIENCE }).toBe(503);
      }
      for (const [i, c] of sessions.entries()) {
        const res = await c.callTool({ name: 'stdio.echo', arguments: { text: `during outage on ${i}` } }).catch((e: Error) => ({ isError: true, content: [{ type: 'text', text: e.message }] }));
        expect(res.isError).toBe(true);
        expect(text(res)).toMatch(/storage unavailable|cannot check this credential|unreachable|refus/i);
      }
      r.lb.target = 1;
      await expect(agent.startTask({ intent: 'during outage', tools: ['stdio.echo'] })).rejects.toThrow(/storage unavailable|unreachable|temporarily/i);
      r.lb.target = null;
    } finally {
      pgProxy.restore();
    }
    for (const i of [0, 1, 2]) {
      await expect.poll(async () => (await fetch(`${r.nodes[i]!.url}/readyz`)).status, { timeout: PATIENCE }).toBe(200);
    }
    const after = await agent.startTask({ intent: 'after outage', tools: ['stdio.echo'] });
    for (const i of [0, 1, 2]) {
      const c = await sessionOn(i, after);
      expect(text(await c.callTool({ name: 'stdio.echo', arguments: { text: `back on ${i}` } }))).toBe(`echo: back on ${i}`);
      await c.close();
    }
    // Nothing was allowed without its record: every tool call the log shows allowed has a result record.
    const verify = await api(0, 'POST', '/api/v1/audit/verify', {});
    expect(verify.body).toMatchObject({ ok: true });
    for (const c of sessions) await c.close().catch(() => undefined);
  });
});
