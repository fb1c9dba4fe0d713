// Both halves of streamable HTTP as Mandate speaks them: to agents (one JSON body when nothing
// streams, an event stream as soon as something related to the call must go first) and to HTTP
// upstreams (JSON or SSE answers, the GET stream, a stream cut mid-call).

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamHttpTransport } from '../../../src/gateway/upstream-http-transport.js';
import { useGateway } from '../../helpers/gateway.js';
import { PATIENCE, startTask } from '../../helpers/server.js';
import { UPSTREAM_SECRET, startHttpUpstream, type TestUpstream } from '../../helpers/upstream-server.js';

const g = useGateway();
const V = '2025-06-18';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: V, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

describe('the agent-facing transport', () => {
  let token: string;
  let sid: string;
  const h = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': V, ...extra });
  const post = async (body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${g.env.s.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
  };
  beforeAll(async () => {
    token = (await startTask(g.env.s, g.agent, ['stdio.echo', 'stdio.slow'])).token;
    const init = await post(INIT, { authorization: `Bearer ${token}` });
    expect(init.type).toMatch(/^application\/json/);
    sid = init.headers.get('mcp-session-id')!;
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, h())).status).toBe(202);
  });

  it('answers a call that streams nothing with one JSON body', async () => {
    const r = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'stdio.echo', arguments: { text: 'hi' } } }, h());
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(JSON.parse(r.text)).toMatchObject({ jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'echo: hi' }] } });
  });

  it('switches to an event stream when progress must go out before the result', async () => {
    const r = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'stdio.slow', arguments: { ms: 60, steps: 2 }, _meta: { progressToken: 'p1' } } }, h());
    expect(r.type).toMatch(/^text\/event-stream/);
    const events = r.text
      .split('\n\n')
      .filter((e) => e.includes('data: '))
      .map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)));
    expect(events.map((e) => e.method ?? 'result')).toEqual(['notifications/progress', 'notifications/progress', 'result']);
    expect(events[2]).toMatchObject({ id: 3, result: { content: [{ text: 'waited 60 ms' }] } });
  });

  it('answers a batch with an array in request order', async () => {
    const r = await post(
      [
        { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'stdio.echo', arguments: { text: 'a' } } },
        { jsonrpc: '2.0', id: 11, method: 'ping' },
      ],
      h(),
    );
    const body = JSON.parse(r.text);
    expect(body.map((m: { id: number }) => m.id)).toEqual([10, 11]);
  });

  it('refuses a client that cannot take both JSON and event streams (406)', async () => {
    const r = await post({ jsonrpc: '2.0', id: 4, method: 'ping' }, h({ accept: 'application/json' }));
    expect(r.status).toBe(406);
    expect(JSON.parse(r.text).error.message).toMatch(/Accept/);
  });

  it('refuses an unsupported protocol version (400)', async () => {
    const r = await post({ jsonrpc: '2.0', id: 5, method: 'ping' }, h({ 'mcp-protocol-version': '1999-01-01' }));
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/unsupported MCP protocol version/);
  });

  it('refuses something that is not JSON-RPC, naming the problem', async () => {
    const r = await post({ jsonrpc: '1.0', id: 6, method: 'ping' }, h());
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toMatch(/not a JSON-RPC 2.0 message/);
  });

  it('lets an agent whose connection dropped mid-call resume with Last-Event-ID: what it missed, then the answer', async () => {
    const ac = new AbortController();
    const call = { jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'stdio.slow', arguments: { ms: 900, steps: 3 }, _meta: { progressToken: 'resume-me' } } };
    const res = await fetch(`${g.env.s.url}/mcp`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h() }, body: JSON.stringify(call) });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // Read up to the first event (progress 1), note its id, and drop the connection.
    const reader = res.body!.getReader();
    let text = '';
    while (!/\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const first = /^id: (\S+)$/m.exec(text)![1]!;
    expect(text).toContain('"progress":1');
    ac.abort();
    await reader.cancel().catch(() => undefined);
    const resumed = await fetch(`${g.env.s.url}/mcp`, { headers: { accept: 'text/event-stream', 'last-event-id': first, ...h() } });
    expect(resumed.status).toBe(200);
    const rest = await resumed.text(); // ends with the answer
    const messages = [...rest.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    expect(messages.map((m) => m.params?.progress ?? (m.id === 41 ? 'result' : '?'))).toEqual([2, 3, 'result']);
    expect(messages.at(-1).result.content[0].text).toBe('waited 900 ms');
  });

  it('refuses to resume from an id it never issued (400) or does not know (404)', async () => {
    const get = (id: string) => fetch(`${g.env.s.url}/mcp`, { headers: { accept: 'text/event-stream', 'last-event-id': id, ...h() } });
    expect((await get('not an id')).status).toBe(400);
    const r = await get('nosuchstream_3');
    expect(r.status).toBe(404);
    expect(await r.text()).toMatch(/cannot be resumed here/);
  });

  it('allows one GET stream per session (409 for a second)', async () => {
    const ac = new AbortController();
    const first = await fetch(`${g.env.s.url}/mcp`, { headers: { ...h(), accept: 'text/event-stream' }, signal: ac.signal });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const second = await fetch(`${g.env.s.url}/mcp`, { headers: { ...h(), accept: 'text/event-stream' } });
    expect(second.status).toBe(409);
    ac.abort();
  });

  it('ends the session on DELETE; the next request must re-initialize (404)', async () => {
    const t = (await startTask(g.env.s, g.agent, ['stdio.echo'])).token;
    const init = await post(INIT, { authorization: `Bearer ${t}` });
    const id = init.headers.get('mcp-session-id')!;
    const del = await fetch(`${g.env.s.url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${t}`, 'mcp-session-id': id, 'mcp-protocol-version': V } });
    expect(del.status).toBe(200);
    const after = await post({ jsonrpc: '2.0', id: 2, method: 'ping' }, { authorization: `Bearer ${t}`, 'mcp-session-id': id, 'mcp-protocol-version': V });
    expect(after.status).toBe(404);
  });
});

describe('the upstream-facing transport', () => {
  const upstreams: TestUpstream[] = [];
  afterAll(async () => {
    for (const u of upstreams) await u.close();
  });
  const connect = async (url: string, headers: Record<string, string> = { authorization: `Bearer ${UPSTREAM_SECRET}` }) => {
    const client = new Client({ name: 'mandate-test', version: '1' });
    await client.connect(new UpstreamHttpTransport(new URL(url), { headers }));
    return client;
  };

  it('talks to an upstream that answers with event streams, and hears list changes on the GET stream', async () => {
    const u = await startHttpUpstream();
    upstreams.push(u);
    const client = await connect(u.url);
    const changed = new Promise<void>((r) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => r()));
    expect(await client.callTool({ name: 'echo', arguments: { text: 'sse' } })).toMatchObject({ content: [{ text: 'echo: sse' }] });
    await expect.poll(() => u.openEventStreams(), { timeout: PATIENCE }).toBe(1); // the GET stream opens after `initialized`
    u.addTool('late_tool');
    await changed;
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('late_tool');
    await client.close();
  });

  it('talks to an upstream that answers with plain JSON bodies', async () => {
    const u = await startHttpUpstream({ json: true });
    upstreams.push(u);
    const client = await connect(u.url);
    expect(await client.callTool({ name: 'echo', arguments: { text: 'json' } })).toMatchObject({ content: [{ text: 'echo: json' }] });
    await client.close();
  });

  it('sends the configured credential, and reports an upstream that refuses it', async () => {
    const u = await startHttpUpstream();
    upstreams.push(u);
    const before = u.unauthorized;
    await expect(connect(u.url, { authorization: 'Bearer wrong' })).rejects.toThrow(/HTTP 401/);
    expect(u.unauthorized).toBe(before + 1);
  });

  it('fails a call at once when the upstream cuts its event stream before answering (not at the timeout)', async () => {
    const cut = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const msg = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      if (req.method !== 'POST') return void res.writeHead(405).end();
      if (msg.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' });
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: V, capabilities: { tools: {} }, serverInfo: { name: 'cut', version: '1' } } }));
      }
      if (msg.id === undefined) return void res.writeHead(202).end();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': about to die\n\n');
      setTimeout(() => res.destroy(), 20);
    });
    await new Promise<void>((r) => cut.listen(0, '127.0.0.1', () => r()));
    const client = await connect(`http://127.0.0.1:${(cut.address() as AddressInfo).port}/mcp`, {});
    // "connection closed", not "timed out": the cut was noticed, not waited out.
    await expect(client.callTool({ name: 'x', arguments: {} }, undefined, { timeout: PATIENCE })).rejects.toThrow(/connection closed/);
    await client.close();
    cut.closeAllConnections();
    await new Promise<void>((r) => cut.close(() => r()));
  });

  it('resumes a stream the upstream closes mid-call with Last-Event-ID, reading bare-CR events and a priming event', async () => {
    const resumedWith: Array<string | undefined> = [];
    let callId: number | undefined;
    const resumable = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const msg = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      if (req.method === 'GET') {
        const last = req.headers['last-event-id'];
        if (last === undefined) return void res.writeHead(405).end(); // no standalone stream
        resumedWith.push(String(last));
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // What was sent while the client was away, then the answer. Lines end with a bare CR.
        res.write(`id: e2\rdata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'while away' } })}\r\r`);
        return void res.end(`id: e3\rdata: ${JSON.stringify({ jsonrpc: '2.0', id: callId, result: { content: [{ type: 'text', text: 'resumed answer' }] } })}\r\r`);
      }
      if (msg.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' });
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: V, capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'resumable', version: '1' } } }));
      }
      if (msg.id === undefined) return void res.writeHead(202).end();
      callId = msg.id;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // A priming event (an id, no data, a retry hint), one message, then the server closes the stream.
      res.write('id: e0\rretry: 10\rdata: \r\r');
      res.end(`id: e1\rdata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'before the break' } })}\r\r`);
    });
    await new Promise<void>((r) => resumable.listen(0, '127.0.0.1', () => r()));
    const client = await connect(`http://127.0.0.1:${(resumable.address() as AddressInfo).port}/mcp`, {});
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    const errors: Error[] = [];
    client.onerror = (e) => void errors.push(e);
    expect(await client.callTool({ name: 'x', arguments: {} }, undefined, { timeout: PATIENCE })).toMatchObject({ content: [{ text: 'resumed answer' }] });
    expect(resumedWith).toEqual(['e1']);
    expect(logs).toEqual(['before the break', 'while away']);
    expect(errors).toEqual([]); // the priming event is not "invalid JSON"
    await client.close();
    resumable.closeAllConnections();
    await new Promise<void>((r) => resumable.close(() => r()));
  });

  it('refuses a redirect instead of following it to another address', async () => {
    const redirect = createServer((_req, res) => void res.writeHead(307, { location: 'http://169.254.169.254/' }).end());
    await new Promise<void>((r) => redirect.listen(0, '127.0.0.1', () => r()));
    await expect(connect(`http://127.0.0.1:${(redirect.address() as AddressInfo).port}/mcp`, {})).rejects.toThrow(/HTTP 307/);
    redirect.closeAllConnections();
    await new Promise<void>((r) => redirect.close(() => r()));
  });
});
