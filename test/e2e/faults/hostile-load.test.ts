// Hostile load, each case named after the attack it stops: a batch that never gets an answer,
// slow clients holding connections forever, connection floods from one address, session floods
// spawning upstream processes, a policy that crashes the policy engine, input nested deep enough
// to overflow recursion, and upstreams (or agents) putting secrets where they will be stored.
// Real server, real MCP SDK client, real upstreams.

import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectAgent, startGateway, STDIO_SECRET, text, type GatewayEnv } from '../../helpers/gateway.js';
import { UPSTREAM_SECRET } from '../../helpers/upstream-server.js';
import { createTestAgent, startTask, type TestAgent } from '../../helpers/server.js';

let g: GatewayEnv;
let agent: TestAgent;

beforeAll(async () => {
  g = await startGateway(
    `
server:
  headersTimeout: 1
  requestTimeout: 1
  maxConnectionsPerClient: 24
`,
    { gateway: { maxSessionsPerTask: 2, maxSessionsPerAgent: 3, maxUpstreamProcesses: 4, upstreamQueueWait: 0.2 } },
  );
  agent = await createTestAgent(g.s);
});
afterAll(async () => g?.close());

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

async function post(body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${g.s.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A raw socket to the server, resolved once connected (read and discarded, so `close` can fire). */
function socket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(g.s.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
    s.on('error', () => undefined);
    s.resume();
  });
}

/** Closes an SDK client's session at Mandate too (DELETE /mcp), not just its transport. */
async function end(c: Client): Promise<void> {
  await (c.transport as StreamableHTTPClientTransport | undefined)?.terminateSession().catch(() => undefined);
  await c.close();
}
const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('JSON-RPC batches', () => {
  it('answers a batch with a duplicate id at once with an error (it used to hang, and both calls ran)', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    const init = await post(INIT, { authorization: `Bearer ${t.token}` });
    const sid = init.headers.get('mcp-session-id')!;
    const h = { authorization: `Bearer ${t.token}`, 'mcp-session-id': sid };
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, h);
    const call = (text: string) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'stdio.echo', arguments: { text } } });
    const r = await post([call('once'), call('twice')], h);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/request id 7 appears twice in this batch/);
    const ran = await g.s.m.store.listAudit({ type: 'tool.call', taskId: t.taskId, limit: 10 });
    expect(ran).toHaveLength(0);
  });
});

describe('slow and numerous clients', () => {
  it('cuts off a client that never finishes its request body (slowloris)', async () => {
    const s = await socket();
    s.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${g.s.port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"jsonrpc"`);
    // No more bytes: the server must close it by itself (server.requestTimeout, 1 s here).
    await closed(s);
    expect(s.destroyed).toBe(true);
  });

  it('cuts off a client that never finishes its headers', async () => {
    const s = await socket();
    s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await closed(s);
    expect(s.destroyed).toBe(true);
  });

  it('refuses connections from one address beyond its cap (connection flood), and serves it again after', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 24; i++) held.push(await socket());
    const extra = await socket();
    await closed(extra);
    for (const s of held) s.destroy();
    await Promise.all(held.map(closed));
    // The cap counts open connections only: once they are gone, the client is served again.
    await expect.poll(async () => (await fetch(`${g.s.url}/healthz`).catch(() => null))?.status).toBe(200);
  });
});

describe('session floods', () => {
  it('refuses more sessions per task than configured, with what to do', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    const a = await connectAgent(g.s, t.token);
    const b = await connectAgent(g.s, t.token);
    const third = await post(INIT, { authorization: `Bearer ${t.token}` });
    expect(third.status).toBe(429);
    expect(JSON.parse(third.text).error.message).toMatch(/already has 2 open sessions \(gateway.maxSessionsPerTask\): reuse one, or close one with DELETE \/mcp/);
    await end(a);
    await end(b);
  });

  it('refuses more sessions per agent across its tasks than configured', async () => {
    const other = await createTestAgent(g.s);
    const clients: Client[] = [];
    for (let i = 0; i < 3; i++) clients.push(await connectAgent(g.s, (await startTask(g.s, other, ['stdio.echo'])).token));
    const fourth = await post(INIT, { authorization: `Bearer ${(await startTask(g.s, other, ['stdio.echo'])).token}` });
    expect(fourth.status).toBe(429);
    expect(fourth.text).toMatch(/gateway.maxSessionsPerAgent/);
    for (const c of clients) await end(c);
  });

  it('spawns upstream processes lazily within a global cap, and refuses clearly past it', async () => {
    const agents = await Promise.all(Array.from({ length: 3 }, () => createTestAgent(g.s)));
    const sessions: Client[] = [];
    for (const a of agents) for (let i = 0; i < 2; i++) sessions.push(await connectAgent(g.s, (await startTask(g.s, a, ['stdio.echo'])).token));
    // Six sessions are open, but no call was made: no process was spawned yet.
    const results = [];
    for (const c of sessions) results.push(await c.callTool({ name: 'stdio.echo', arguments: { text: 'hi' } }));
    const ok = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError).map(text);
    expect(ok).toHaveLength(4);
    expect(refused).toHaveLength(2);
    for (const m of refused) expect(m).toMatch(/all 4 upstream process slots \(gateway.maxUpstreamProcesses\) are in use and none came free within 0.2 s; retry shortly/);
    // A session that ends gives its process back: a waiting session can run.
    await end(sessions[0]!);
    await expect.poll(async () => text(await sessions[5]!.callTool({ name: 'stdio.echo', arguments: { text: 'again' } }))).toBe('echo: again');
    for (const c of sessions.slice(1)) await end(c);
  });
});

describe('inputs that overflow recursion', () => {
  it('refuses a policy nested 100 deep as invalid (it used to crash the engine), and reloads keep working', async () => {
    const deep = `permit (principal, action, resource) when { ${'['.repeat(100)}1${']'.repeat(100)} == [] };`;
    for (let i = 0; i < 3; i++) {
      const r = await g.s.api<{ valid: boolean; errors: string[] }>('POST', '/api/v1/policies/validate', { files: { 'deep.cedar': deep } });
      expect(r.status).toBe(200);
      expect(r.body.valid).toBe(false);
      expect(r.body.errors.join()).toMatch(/deep.cedar:1:\d+: expression nested more than 32 levels deep/);
    }
    const fine = await g.s.api<{ valid: boolean }>('POST', '/api/v1/policies/validate', {});
    expect(fine.body.valid).toBe(true);
  });

  it('refuses AuthZEN properties nested 5,000 deep with a 400 naming the limit', async () => {
    // Built as text: JSON.stringify itself overflows at this depth.
    const nested = `${'{"n":'.repeat(5000)}"x"${'}'.repeat(5000)}`;
    const body = `{"subject":{"type":"user","id":"alice","properties":${nested}},"action":{"name":"can_read"},"resource":{"type":"todo","id":"1"}}`;
    const r = await g.s.api<Record<string, string>>('POST', '/access/v1/evaluation', body);
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/nests deeper than 32 levels/);
  });

  it('refuses tool arguments nested too deep as bad input, without telling the agent an upstream failed', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    const client = await connectAgent(g.s, t.token);
    let nested: unknown = 'x';
    for (let i = 0; i < 200; i++) nested = [nested];
    await expect(client.callTool({ name: 'stdio.echo', arguments: { text: nested } })).rejects.toThrow(/nests deeper than 32 levels: refused before anything was checked or sent/);
    await end(client);
  });
});

describe('secrets stay out of answers, logs and audit', () => {
  it('redacts an env secret that a stdio upstream echoes back to the agent', async () => {
    const t = await startTask(g.s, agent, ['stdio.leak_env']);
    const client = await connectAgent(g.s, t.token);
    const r = await client.callTool({ name: 'stdio.leak_env', arguments: {} });
    expect(text(r)).toBe('my secret is [redacted]');
    await end(client);
    const audit = JSON.stringify(await g.s.m.store.listAudit({ taskId: t.taskId, limit: 50 }));
    expect(audit).not.toContain(STDIO_SECRET);
  });

  it("redacts an HTTP upstream's Authorization header that it echoes in an error (answer, logs, audit, upstream status)", async () => {
    const t = await startTask(g.s, agent, ['http.fail_with_auth']);
    const client = await connectAgent(g.s, t.token);
    const r = await client.callTool({ name: 'http.fail_with_auth', arguments: {} });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/\[redacted\]/);
    expect(text(r)).not.toContain(UPSTREAM_SECRET);
    await end(client);
    await g.s.m.audit.drain();
    expect(g.s.logs.join('\n')).not.toContain(UPSTREAM_SECRET);
    expect(JSON.stringify(await g.s.m.store.listAudit({ limit: 1000 }))).not.toContain(UPSTREAM_SECRET);
    const status = await g.s.api('GET', '/api/v1/upstreams');
    expect(JSON.stringify(status.body)).not.toContain(UPSTREAM_SECRET);
  });

  it('redacts secrets an agent passes under keys like x-api-key or bearer, and keeps a __proto__ key as data', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    const client = await connectAgent(g.s, t.token);
    // Refused (not declared by the schema), but recorded: the record must not hold the secret.
    await client.callTool({ name: 'stdio.echo', arguments: JSON.parse('{"text":"hi","x-api-key":"sk-live-0123456789","bearer":"abcdefghijkl","__proto__":{"polluted":true}}') });
    await end(client);
    const ev = (await g.s.m.store.listAudit({ type: 'tool.call', taskId: t.taskId, limit: 1 }))[0]!;
    const args = ev.data.args as Record<string, unknown>;
    expect(args['x-api-key']).toBe('[redacted]');
    expect(args.bearer).toBe('[redacted]');
    expect(Object.hasOwn(args, '__proto__')).toBe(true);
    expect(JSON.stringify(ev.data)).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the agent-facing transport under load', () => {
  it('keeps serving normal clients while all of the above happens', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    const c = new Client({ name: 'ok', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${g.s.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${t.token}` } } }));
    expect(text(await c.callTool({ name: 'stdio.echo', arguments: { text: 'still here' } }))).toBe('echo: still here');
    await end(c);
  });
});
