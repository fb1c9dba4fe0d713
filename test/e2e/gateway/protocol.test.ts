// Protocol behaviour through the gateway: authentication at the HTTP layer, DNS-rebinding
// checks, bad JSON-RPC, limits (hangs, floods, crashes), and what must pass through untouched
// (progress, logging, sampling, elicitation, roots, cancellation, pagination).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAgent, text, useGateway } from '../../helpers/gateway.js';
import { PATIENCE, startTask } from '../../helpers/server.js';

const g = useGateway();

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

async function post(body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${g.env.s.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const t = await res.text();
  return { status: res.status, headers: res.headers, text: t };
}

describe('authentication at /mcp', () => {
  it('answers 401 with WWW-Authenticate pointing at the protected-resource metadata', async () => {
    const r = await post(INIT, {});
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer resource_metadata="${g.env.s.url}/.well-known/oauth-protected-resource"`));
    const meta = (await (await fetch(`${g.env.s.url}/.well-known/oauth-protected-resource`)).json()) as { resource: string };
    expect(meta.resource).toBe(`${g.env.s.url}/mcp`);
  });

  it("rejects a credential minted for another audience (a token for another service can't be replayed here)", async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const task = await g.env.s.m.tasks.get(t.taskId);
    const a = await g.env.s.m.agents.get(g.agent.id);
    const other = await g.env.s.m.credentials.issue(task, a, 'https://other.example/mcp');
    const r = await post(INIT, { authorization: `Bearer ${other.token}` });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text).error_description).toMatch(/audience/);
  });

  it('rejects the next request after the task ends, and closes its session', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const client = await connectAgent(g.env.s, t.token);
    expect(text(await client.callTool({ name: 'stdio.echo', arguments: { text: 'hi' } }))).toBe('echo: hi');
    await g.env.s.form('/oauth/revoke', { token: t.token }, { token: t.token });
    const err = await client.callTool({ name: 'stdio.echo', arguments: { text: 'again' } }).then(() => null, (e: Error) => e);
    expect(String(err)).toMatch(/Error POSTing/);
    expect((err as { code?: number }).code).toBe(401);
    await g.env.s.m.audit.drain();
    const rejects = await g.env.s.api<{ events: Array<{ data: { reason: string } }> }>('GET', `/api/v1/audit?task=${t.taskId}&type=mcp.reject`);
    expect(rejects.body.events[0]!.data.reason).toMatch(/has ended/);
    // The session was closed when the task ended (its upstream connections with it).
    const sessionEvents = async () => {
      await g.env.s.m.audit.drain();
      return (await g.env.s.api<{ events: Array<{ outcome: string; data: { reason?: string } }> }>('GET', `/api/v1/audit?task=${t.taskId}&type=mcp.session`)).body.events;
    };
    await expect.poll(async () => (await sessionEvents()).map((e) => e.outcome), { timeout: PATIENCE }).toEqual(['open', 'closed']);
    const sessions = { body: { events: await sessionEvents() } };
    expect(sessions.body.events[1]!.data.reason).toBe('task ended');
    await client.close().catch(() => undefined);
  });

  it("refuses to continue another task's session with this task's credential (session fixation)", async () => {
    const a = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const b = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const init = await post(INIT, { authorization: `Bearer ${a.token}` });
    const sid = init.headers.get('mcp-session-id')!;
    expect(sid).toBeTruthy();
    const r = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${b.token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
    expect(r.status).toBe(403);
  });
});

describe('DNS rebinding protection', () => {
  it('refuses a foreign Origin', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const r = await post(INIT, { authorization: `Bearer ${t.token}`, origin: 'https://evil.example' });
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/origin `https:\/\/evil.example` is not allowed/);
  });
  it('refuses a foreign Host', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const res = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const u = new URL(`${g.env.s.url}/mcp`);
        const req = request({ host: u.hostname, port: u.port, path: '/mcp', method: 'POST', headers: { host: 'attacker.example', 'content-type': 'application/json', authorization: `Bearer ${t.token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end(JSON.stringify(INIT));
      });
    });
    expect(res).toBe(403);
  });
});

describe('bad JSON-RPC', () => {
  let token: string;
  let sid: string;
  beforeAll(async () => {
    token = (await startTask(g.env.s, g.agent, ['stdio.echo'])).token;
    sid = (await post(INIT, { authorization: `Bearer ${token}` })).headers.get('mcp-session-id')!;
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
  });
  const h = () => ({ authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });

  it('answers malformed JSON with a JSON-RPC parse error', async () => {
    const r = await post('{"jsonrpc": "2.0", "id": 1, "method": ', h());
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.code).toBe(-32700);
  });
  it('answers an unknown method with method-not-found', async () => {
    const r = await post({ jsonrpc: '2.0', id: 7, method: 'tools/explode' }, h());
    expect(r.text).toMatch(/-32601/);
  });
  it('answers a request with no session with a clear error', async () => {
    const r = await post({ jsonrpc: '2.0', id: 8, method: 'tools/list' }, { authorization: `Bearer ${token}` });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/send `initialize` first/);
  });
  it('answers an unknown session with 404 (re-initialize)', async () => {
    const r = await post({ jsonrpc: '2.0', id: 9, method: 'tools/list' }, { ...h(), 'mcp-session-id': 'nope' });
    expect(r.status).toBe(404);
  });
});

describe('bad calls and misbehaving upstreams', () => {
  let client: Client;
  let token: string;
  beforeAll(async () => {
    token = (await startTask(g.env.s, g.agent, ['stdio.echo', 'stdio.slow', 'stdio.big', 'stdio.die', 'http.echo', 'http.slow'])).token;
    client = await connectAgent(g.env.s, token);
  });
  afterAll(async () => client?.close());

  it('denies an unknown tool', async () => {
    const r = await client.callTool({ name: 'stdio.nope', arguments: {} });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/unknown tool `stdio.nope`/);
  });
  it('denies arguments of the wrong type before they reach the upstream', async () => {
    const r = await client.callTool({ name: 'stdio.echo', arguments: { text: 42 } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/invalid arguments for `stdio.echo`: argument `text` must be string/);
    expect(text(r)).not.toMatch(/outside the task's scope/);
  });
  it('rejects huge arguments', async () => {
    await expect(client.callTool({ name: 'stdio.echo', arguments: { text: 'x'.repeat(1_100_000) } })).rejects.toThrow(/exceed|too large|413/i);
  });
  it('returns a clear error when an upstream hangs, without blocking other calls', async () => {
    const hung = client.callTool({ name: 'stdio.slow', arguments: { ms: 60_000 } });
    const other = await client.callTool({ name: 'http.echo', arguments: { text: 'still here' } });
    expect(text(other)).toBe('echo: still here');
    const r = await hung;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/did not answer in time/);
  });
  it('refuses a result over the size limit', async () => {
    const r = await client.callTool({ name: 'stdio.big', arguments: { bytes: 200_000 } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/over the 100000-byte limit/);
  });
  it('survives an upstream that dies mid-call, and reconnects for the next call', async () => {
    const r = await client.callTool({ name: 'stdio.die', arguments: {} });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/closed the connection during the call/);
    const again = await client.callTool({ name: 'stdio.echo', arguments: { text: 'back' } });
    expect(text(again)).toBe('echo: back');
  });
});

describe('protocol transparency', () => {
  it('relays progress notifications', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.slow']);
    const client = await connectAgent(g.env.s, t.token);
    const seen: number[] = [];
    const r = await client.callTool({ name: 'stdio.slow', arguments: { ms: 150, steps: 3 } }, undefined, { onprogress: (p) => seen.push(p.progress) });
    expect(text(r)).toBe('waited 150 ms');
    expect(seen).toEqual([1, 2, 3]);
    await client.close();
  });

  it('relays log messages, sampling, elicitation and roots to the right agent', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.log', 'stdio.ask']);
    const client = new Client({ name: 'capable-agent', version: '1' }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'hi from the agent' }, model: 'test' }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
    await client.connect(new StreamableHTTPClientTransport(new URL(`${g.env.s.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${t.token}` } } }));
    await client.setLoggingLevel('info');
    await client.callTool({ name: 'stdio.log', arguments: { message: 'hello log' } });
    const r = await client.callTool({ name: 'stdio.ask', arguments: {} });
    const got = JSON.parse(text(r));
    expect(got.sample).toEqual({ type: 'text', text: 'hi from the agent' });
    expect(got.roots).toEqual([{ uri: 'file:///work', name: 'work' }]);
    expect(got.answer).toEqual({ action: 'accept', content: { ok: true } });
    await new Promise((r2) => setTimeout(r2, 50));
    expect(logs).toContain('hello log');
    await client.close();
  });

  it('cancels the upstream call when the g.agent cancels', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.slow']);
    const client = await connectAgent(g.env.s, t.token);
    const ac = new AbortController();
    const started = Date.now();
    const p = client.callTool({ name: 'stdio.slow', arguments: { ms: 30_000 } }, undefined, { signal: ac.signal });
    setTimeout(() => ac.abort('changed my mind'), 100);
    await expect(p).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
    await client.close();
  });

  it('paginates with cursors and rejects a forged one', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const client = await connectAgent(g.env.s, t.token);
    const first = await client.listTools();
    expect(first.nextCursor).toBeUndefined();
    await expect(client.listTools({ cursor: 'not-a-cursor' })).rejects.toThrow(/invalid cursor/);
    await client.close();
  });

  it('negotiates a protocol version the SDK supports', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const r = await post({ ...INIT, params: { ...INIT.params, protocolVersion: '2025-03-26' } }, { authorization: `Bearer ${t.token}` });
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/"protocolVersion":"2025-03-26"/);
  });
});
