// Key-bound credentials (DPoP, RFC 9449) and delegation between agents (RFC 8693), end to end
// with the agent SDK (`mandate/client`) and the real MCP SDK client against the demo upstreams.
// Each attack case names what it stops.

import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, generateDpopKey, MandateAgent, MandateClientError, type MandateTask } from '../../../src/client/index.js';
import { REPO, createTestAgent, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

const SANDBOX = join(REPO, 'demo/sandbox');
const Q3 = join(SANDBOX, 'reports/q3-summary.txt');
let s: TestServer;

async function sdkAgent(over: Partial<{ environment: string; owner: string }> = {}, dpop = true): Promise<{ test: TestAgent; agent: MandateAgent }> {
  const test = await createTestAgent(s, over);
  const agent = await MandateAgent.create({ url: s.url, key: { agentId: test.id, kid: test.kid, alg: 'ES256', privateKey: test.privateKey }, ...(dpop ? {} : { dpop: false }) });
  return { test, agent };
}

const readTask = { intent: 'summarise the Q3 report', tools: ['fs.read_text_file', 'fs.list_directory'], resources: [`file://${SANDBOX}/reports/*`], ttl: 300 };

/** A raw MCP initialize POST with chosen headers (to stage attacks the SDK would not make). */
async function rawInit(headers: Record<string, string>) {
  const res = await fetch(`${s.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
  });
  return { status: res.status, www: res.headers.get('www-authenticate') ?? '', body: await res.text() };
}

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.close());

describe('DPoP-bound credentials', () => {
  let owner: { test: TestAgent; agent: MandateAgent };
  let task: MandateTask;
  beforeAll(async () => {
    owner = await sdkAgent();
    task = await owner.agent.startTask(readTask);
  });

  it('binds the credential to the key of the proof (cnf.jkt) and works through the SDK', async () => {
    expect(task.tokenType).toBe('DPoP');
    expect(decodeJwt(task.credential).cnf).toEqual({ jkt: await owner.agent.dpopJkt() });
    const mcp = await task.connect();
    const r = await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } });
    expect(JSON.stringify(r.content)).toMatch(/Revenue grew 12%/);
    await mcp.close();
  });

  it('refuses a copied credential presented without its key (token theft)', async () => {
    const asBearer = await rawInit({ authorization: `Bearer ${task.credential}` });
    expect(asBearer.status).toBe(401);
    expect(asBearer.body).toMatch(/bound to a key/);
    const thief = await generateDpopKey();
    const proof = await createDpopProof(thief, 'POST', `${s.url}/mcp`, { accessToken: task.credential });
    const withOtherKey = await rawInit({ authorization: `DPoP ${task.credential}`, dpop: proof });
    expect(withOtherKey.status).toBe(401);
    expect(withOtherKey.www).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
    expect(withOtherKey.body).toMatch(/signed by another key/);
  });

  it('refuses a replayed proof, and proofs for another method, URL, time or token', async () => {
    const key = owner.agent.dpop!;
    const good = await createDpopProof(key, 'POST', `${s.url}/mcp`, { accessToken: task.credential });
    expect((await rawInit({ authorization: `DPoP ${task.credential}`, dpop: good })).status).toBe(200);
    // Replay: the same proof captured and sent again.
    const replay = await rawInit({ authorization: `DPoP ${task.credential}`, dpop: good });
    expect(replay.status).toBe(401);
    expect(replay.body).toMatch(/already used \(replay\)/);
    const cases: Array<[string, Promise<string>, RegExp]> = [
      ['another method', createDpopProof(key, 'GET', `${s.url}/mcp`, { accessToken: task.credential }), /for method \W+GET\W+, not POST/],
      ['another URL', createDpopProof(key, 'POST', `${s.url}/oauth/revoke`, { accessToken: task.credential }), /not http/],
      ['an old proof', createDpopProof(key, 'POST', `${s.url}/mcp`, { accessToken: task.credential, iat: Math.floor(Date.now() / 1000) - 3600 }), /too old/],
      ['another token (ath)', createDpopProof(key, 'POST', `${s.url}/mcp`, { accessToken: 'some-other-token' }), /`ath` does not match/],
      ['no proof', Promise.resolve(''), /DPoP proof/],
      ['garbage', Promise.resolve('not.a.proof'), /DPoP proof/],
    ];
    for (const [what, p, why] of cases) {
      const proof = await p;
      const r = await rawInit({ authorization: `DPoP ${task.credential}`, ...(proof ? { dpop: proof } : {}) });
      expect(r.status, what).toBe(401);
      expect(r.body, what).toMatch(why);
    }
    const rejects = await s.m.store.listAudit({ type: 'mcp.reject', limit: 100 });
    expect(rejects.length).toBeGreaterThanOrEqual(cases.length + 1);
  });

  it('answers a bad proof at the token endpoint with invalid_dpop_proof, audited', async () => {
    const agentKey = { agentId: owner.test.id, kid: owner.test.kid, alg: 'ES256', privateKey: owner.test.privateKey };
    const { createClientAssertion } = await import('../../../src/client/index.js');
    const res = await fetch(`${s.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: 'eyJhbGciOiJub25lIn0.e30.' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await createClientAssertion(agentKey, `${s.url}/oauth/token`), authorization_details: JSON.stringify([{ type: 'mandate_task', ...readTask }]) }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_dpop_proof' });
    const failures = await s.m.store.listAudit({ type: 'auth.failure', limit: 10, newestFirst: true });
    expect((failures[0]!.data as { method: string }).method).toBe('dpop');
  });

  it('gives prod agents key-bound credentials only', async () => {
    const prodBearer = await sdkAgent({ environment: 'prod' }, false);
    const err = await prodBearer.agent.startTask({ ...readTask, ttl: 120 }).catch((e: MandateClientError) => e);
    expect(err).toBeInstanceOf(MandateClientError);
    expect((err as MandateClientError).error).toBe('invalid_dpop_proof');
    const prod = await sdkAgent({ environment: 'prod' });
    expect((await prod.agent.startTask({ ...readTask, ttl: 120 })).tokenType).toBe('DPoP');
  });

  it('ends a bound task with a proof (RFC 7009), and then refuses it', async () => {
    const t = await owner.agent.startTask(readTask);
    const mcp = await t.connect();
    await t.end();
    await expect(mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } })).rejects.toThrow(/401|ended/);
    await mcp.close().catch(() => undefined);
  });
});

/** The demo configuration with extra top-level YAML, written to a temporary file. */
async function demoConfigWith(extra: string): Promise<string> {
  const { writeFileSync, readFileSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'mandate-cfg-'));
  const cfg = join(dir, 'mandate.yaml');
  const demo = readFileSync(join(REPO, 'mandate.yaml'), 'utf8').replace(/\.\/policies/g, join(REPO, 'policies')).replace(/node_modules\//g, `${REPO}/node_modules/`).replace(/demo\//g, `${REPO}/demo/`);
  writeFileSync(cfg, `${demo}\n${extra}\n`);
  return cfg;
}

describe('MCP scope challenge (gateway.outOfScope: insufficient_scope)', () => {
  let x: TestServer;
  beforeAll(async () => {
    x = await startTestServer({ config: await demoConfigWith('gateway:\n  outOfScope: insufficient_scope') });
  });
  afterAll(async () => x?.close());

  it('answers a call to a tool the task lacks with 403 insufficient_scope, and still decides in-scope calls', async () => {
    const test = await createTestAgent(x);
    const agent = await MandateAgent.create({ url: x.url, key: { agentId: test.id, kid: test.kid, alg: 'ES256', privateKey: test.privateKey } });
    const t = await agent.startTask(readTask);
    const mcp = await t.connect();
    expect(JSON.stringify((await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } })).content)).toMatch(/Revenue/);
    const err = await mcp.callTool({ name: 'fs.write_file', arguments: { path: join(SANDBOX, 'reports/x.txt'), content: 'x' } }).catch((e: Error) => e);
    expect(String(err)).toMatch(/403|insufficient_scope/);
    const ev = (await x.m.store.listAudit({ type: 'tool.call', taskId: t.id, limit: 10, newestFirst: true }))[0]!;
    expect(ev).toMatchObject({ decision: 'deny', data: { tool: 'fs.write_file', status: 403 } });
    await mcp.close().catch(() => undefined);
  });
});

describe('server nonces', () => {
  let n: TestServer;
  beforeAll(async () => {
    n = await startTestServer({ config: await demoConfigWith('credentials:\n  dpopNonce: true') });
  });
  afterAll(async () => n?.close());

  it('asks for a nonce (use_dpop_nonce + DPoP-Nonce) and accepts the retry; the SDK does it by itself', async () => {
    const test = await createTestAgent(n);
    const agent = await MandateAgent.create({ url: n.url, key: { agentId: test.id, kid: test.kid, alg: 'ES256', privateKey: test.privateKey } });
    const t = await agent.startTask(readTask);
    expect(agent.nonce).toBeDefined();
    const mcp = await t.connect();
    expect(JSON.stringify((await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } })).content)).toMatch(/Revenue/);
    await mcp.close();
    // Without the nonce, a proof is refused with the challenge to use one.
    const proof = await createDpopProof(agent.dpop!, 'POST', `${n.url}/mcp`, { accessToken: t.credential });
    const res = await fetch(`${n.url}/mcp`, { method: 'POST', headers: { authorization: `DPoP ${t.credential}`, dpop: proof, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="use_dpop_nonce"/);
    expect(res.headers.get('dpop-nonce')).toBeTruthy();
  });
});

describe('delegation by token exchange', () => {
  let planner: { test: TestAgent; agent: MandateAgent };
  let executor: { test: TestAgent; agent: MandateAgent };
  let parent: MandateTask;
  beforeAll(async () => {
    planner = await sdkAgent({ owner: 'team@corp.example' });
    executor = await sdkAgent({ owner: 'team@corp.example' });
  });

  it('yields a child that can call only the narrowed tools, bound to its own key, with the act chain', async () => {
    parent = await planner.agent.startTask(readTask);
    const grant = await parent.delegate(await executor.agent.delegationTicket(), { intent: 'read just Q3', tools: ['fs.read_text_file'], resources: [`file://${SANDBOX}/reports/q3*`], ttl: 120 });
    const child = executor.agent.adopt(grant);
    const claims = decodeJwt(child.credential);
    // RFC 8693 §4.1: `sub` is who the credential acts for, `act.sub` the current actor.
    expect(claims.sub).toBe(planner.test.id);
    expect(claims.client_id).toBe(executor.test.id);
    expect(claims.act).toEqual({ sub: executor.test.id, task_id: child.id });
    expect(claims.cnf).toEqual({ jkt: await executor.agent.dpopJkt() });
    const mcp = await child.connect();
    expect((await mcp.listTools()).tools.map((t) => t.name)).toEqual(['fs.read_text_file']);
    expect(JSON.stringify((await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } })).content)).toMatch(/Revenue/);
    const outside = await mcp.callTool({ name: 'fs.list_directory', arguments: { path: join(SANDBOX, 'reports') } });
    expect(outside.isError).toBe(true);
    await mcp.close();
    // The chain is in audit.
    const ev = (await s.m.store.listAudit({ type: 'task.delegate', taskId: child.id, limit: 5 }))[0]!;
    expect(ev.data).toMatchObject({ parentTask: parent.id, depth: 1, chain: [{ agent: executor.test.id, task: child.id }, { agent: planner.test.id, task: parent.id }] });
    const task = await s.m.store.getTask(child.id);
    expect(task).toMatchObject({ parentId: parent.id, depth: 1 });
    // Every call the child makes names who it acts for.
    const call = (await s.m.store.listAudit({ type: 'tool.call', taskId: child.id, limit: 5 }))[0]!;
    expect(call.data).toMatchObject({ parentTask: parent.id, depth: 1, actingFor: [{ agent: planner.test.id, task: parent.id }] });
  });

  it('refuses a child that asks for more than its parent (privilege escalation by delegation)', async () => {
    const ask = async (t: Parameters<MandateTask['delegate']>[1]) => parent.delegate(await executor.agent.delegationTicket(), t).catch((e: MandateClientError) => e);
    const moreTools = await ask({ tools: ['fs.write_file'] });
    expect(moreTools).toMatchObject({ error: 'invalid_scope', message: expect.stringMatching(/not in the parent task/) });
    const moreData = await ask({ tools: ['fs.read_text_file'], resources: [`file://${SANDBOX}/private/*`] });
    expect(moreData).toMatchObject({ error: 'invalid_scope', message: expect.stringMatching(/outside the parent's resources/) });
    const longer = await ask({ tools: ['fs.read_text_file'], ttl: 3600 });
    expect(longer).toMatchObject({ error: 'invalid_scope', message: expect.stringMatching(/cannot outlive its parent/) });
    const denied = await s.m.store.listAudit({ type: 'task.delegate', limit: 50 });
    expect(denied.filter((e) => e.outcome === 'denied').length).toBeGreaterThanOrEqual(3);
  });

  it('refuses a copied parent credential without the parent key, and a child of another owner by policy', async () => {
    const stranger = await sdkAgent({ owner: 'someone-else@corp.example' });
    const byPolicy = await parent.delegate(await stranger.agent.delegationTicket(), { tools: ['fs.read_text_file'] }).catch((e: MandateClientError) => e);
    expect(byPolicy).toMatchObject({ error: 'invalid_scope', message: expect.stringMatching(/delegation to .* denied by policy/) });
    // A thief holding the parent credential but not its key tries to delegate to itself.
    const thief = await sdkAgent({ owner: 'team@corp.example' });
    const stolen = thief.agent.adopt({ access_token: parent.credential, token_type: 'DPoP', task_id: parent.id, expires_in: 60, authorization_details: [] });
    const r = await stolen.delegate(await thief.agent.delegationTicket(), { tools: ['fs.read_text_file'] }).catch((e: MandateClientError) => e);
    expect(r).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it('ends every descendant the moment the parent is revoked: the child\'s very next call fails', async () => {
    const p = await planner.agent.startTask(readTask);
    const c = executor.agent.adopt(await p.delegate(await executor.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    const mcp = await c.connect();
    expect((await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } })).isError).toBeFalsy();
    await s.api('POST', `/api/v1/tasks/${p.id}/revoke`, { reason: 'planner compromised' });
    await expect(mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } })).rejects.toThrow(/401|ended/);
    expect((await s.m.store.getTask(c.id))!.status).toBe('revoked');
  });

  it('refuses to delegate from a revoked parent', async () => {
    const p = await planner.agent.startTask(readTask);
    await s.api('POST', `/api/v1/tasks/${p.id}/revoke`, { reason: 'done' });
    const r = await p.delegate(await executor.agent.delegationTicket(), { tools: ['fs.read_text_file'] }).catch((e: MandateClientError) => e);
    expect(r).toMatchObject({ error: 'invalid_grant', message: expect.stringMatching(/not a live task credential/) });
  });

  it('holds the depth limit (default 3)', async () => {
    const agents = [planner, executor, await sdkAgent({ owner: 'team@corp.example' }), await sdkAgent({ owner: 'team@corp.example' }), await sdkAgent({ owner: 'team@corp.example' })];
    let t = await agents[0]!.agent.startTask(readTask);
    for (let depth = 1; depth <= 3; depth++) {
      t = agents[depth]!.agent.adopt(await t.delegate(await agents[depth]!.agent.delegationTicket(), { tools: ['fs.read_text_file'], ttl: 200 - depth * 30 }));
      expect(decodeJwt(t.credential).act).toBeDefined();
    }
    const chain = decodeJwt(t.credential).act as { sub: string; act?: { sub: string; act?: { sub: string } } };
    // The current actor first, earlier actors nested; `sub` is the agent that started the root task.
    expect([chain.sub, chain.act?.sub, chain.act?.act?.sub]).toEqual([agents[3]!.test.id, agents[2]!.test.id, agents[1]!.test.id]);
    expect(decodeJwt(t.credential).sub).toBe(agents[0]!.test.id);
    const tooDeep = await t.delegate(await agents[4]!.agent.delegationTicket(), { tools: ['fs.read_text_file'], ttl: 30 }).catch((e: MandateClientError) => e);
    expect(tooDeep).toMatchObject({ error: 'invalid_grant', message: expect.stringMatching(/depth 4 is over the limit of 3/) });
  });

  it('refuses a suspended child agent', async () => {
    const victim = await sdkAgent({ owner: 'team@corp.example' });
    const ticket = await victim.agent.delegationTicket();
    await s.api('POST', `/api/v1/agents/${encodeURIComponent(victim.test.id)}/suspend`, { reason: 'test' });
    const p = await planner.agent.startTask(readTask);
    const r = await p.delegate(ticket, { tools: ['fs.read_text_file'] }).catch((e: MandateClientError) => e);
    expect(r).toBeInstanceOf(MandateClientError);
    expect((r as MandateClientError).message).toMatch(/suspended/);
  });
});
