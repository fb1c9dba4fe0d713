// Transparency: an agent behind Mandate sees what a client connected directly sees, except that
// names carry the upstream prefix and the task limits what is visible. Each scenario runs twice
// with the real MCP SDK client, declaring the same capabilities and answering with the same
// handlers: once connected directly to the upstream, once through Mandate. The upstreams are the
// reference `server-everything` (over stdio and over streamable HTTP) and a features server
// (test/fixtures/upstreams/features-server.mjs) for what `server-everything` does not exercise.
// The agent's HTTP client opens no GET stream (optional for clients): everything a call causes
// must come back on the call's own stream.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestAgent, freePort, PATIENCE, REPO, startTask, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

const EVERYTHING = join(REPO, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FEATURES = join(REPO, 'test/fixtures/upstreams/features-server.mjs');
// Every capability Mandate relays (its catalogue is what an upstream offers such a client; see the note in docs/architecture.md).
const CAPS = { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } };

let dir: string;
let s: TestServer;
let agent: TestAgent;
let everythingHttp: ChildProcess;
let httpPort: number;
let resumable: { url: string; close(): Promise<void> };
const opened: Client[] = [];

/** What the client answers when a server asks: the same for both connections. */
function withHandlers(c: Client): Client {
  c.setRequestHandler(CreateMessageRequestSchema, (req) => ({ role: 'assistant', content: { type: 'text', text: `sampled reply to ${JSON.stringify(req.params.messages[0]?.content)}` }, model: 'test-model', stopReason: 'endTurn' }));
  c.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { name: 'Ada', check: true, firstLine: 'x', integer: 3, untitledSingleSelectEnum: 'option1' } }));
  c.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///srv/work', name: 'work' }] }));
  opened.push(c);
  return c;
}

type Target = 'ev' | 'evh' | 'feat';

async function direct(target: Target, getStream = false): Promise<Client> {
  const c = withHandlers(new Client({ name: 'direct', version: '1' }, CAPS));
  if (target === 'evh') await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${httpPort}/mcp`), getStream ? {} : { fetch: noGetStream }));
  else await c.connect(new StdioClientTransport({ command: process.execPath, args: [target === 'ev' ? EVERYTHING : FEATURES], stderr: 'ignore' }));
  return c;
}

/**
 * A client that never opens the optional GET stream (its GET is answered 405, as the spec
 * allows). A GET that resumes a call's stream (Last-Event-ID) still goes through.
 */
const noGetStream: typeof fetch = async (input, init) => {
  const resuming = new Headers(init?.headers).has('last-event-id');
  return (init?.method ?? 'GET') === 'GET' && !resuming ? new Response(null, { status: 405 }) : fetch(input, init);
};

let token: string;
async function viaMandate(getStream = false): Promise<Client> {
  const c = withHandlers(new Client({ name: 'agent', version: '1' }, CAPS));
  await c.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { ...(getStream ? {} : { fetch: noGetStream }), requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return c;
}

const strip = (prefix: string) => (name: string) => (name.startsWith(`${prefix}.`) ? name.slice(prefix.length + 1) : name);
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

/** Calls a tool and records, in order, what arrived for it: progress, log messages, then the result (or the error). */
async function traced(c: Client, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>): Promise<{ events: string[]; result?: CallToolResult; error?: McpError }> {
  const events: string[] = [];
  const logs = (n: { params: { data: unknown } }) => void events.push(`log:${JSON.stringify(n.params.data)}`);
  c.setNotificationHandler(LoggingMessageNotificationSchema, logs);
  try {
    const result = (await c.callTool({ name, arguments: args, ...(meta ? { _meta: meta } : {}) }, undefined, { onprogress: (p) => void events.push(`progress:${p.progress}/${p.total}`), timeout: PATIENCE })) as CallToolResult;
    events.push('result');
    return { events, result };
  } catch (err) {
    events.push('error');
    return { events, error: err as McpError };
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mandate-transparency-'));
  httpPort = await freePort();
  everythingHttp = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(httpPort) }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const seen = (d: Buffer) => {
      out += d;
      if (/listening on port/i.test(out)) resolve();
    };
    everythingHttp.stdout!.on('data', seen);
    everythingHttp.stderr!.on('data', seen);
    everythingHttp.once('exit', (code) => reject(new Error(`server-everything (HTTP) exited ${code}: ${out}`)));
  });
  resumable = await startResumableUpstream();
  writeFileSync(join(dir, 'all.cedar'), '@id("all") permit (principal, action, resource);\n');
  // A policy on a tool named as the upstream names it (upstream `ev0` has an empty prefix).
  writeFileSync(join(dir, 'sums.cedar'), '@id("small-sums") forbid (principal, action == Action::"get-sum", resource) when { context.args.a.greaterThan(decimal("100.0")) };\n');
  writeFileSync(
    join(dir, 'mandate.yaml'),
    `trustDomain: transparency.test
policies:
  dir: ${dir}
  schema: ${join(REPO, 'policies/mandate.cedarschema')}
gateway:
  callTimeout: 60
upstreams:
  ev:
    command: ${process.execPath}
    args: [${EVERYTHING}]
    additionalArguments: allow
  evh:
    url: http://127.0.0.1:${httpPort}/mcp
    additionalArguments: allow
  feat:
    command: ${process.execPath}
    args: [${FEATURES}]
  resum:
    url: ${resumable.url}
  ev0:
    command: ${process.execPath}
    args: [${EVERYTHING}]
    additionalArguments: allow
    prefix: ""
`,
  );
  s = await startTestServer({ config: join(dir, 'mandate.yaml') });
  agent = await createTestAgent(s);
  const tools = s.m.tools.listTools().map((t) => t.name);
  token = (await startTask(s, agent, tools, { resources: ['demo://*', 'feat://*'], ttl: 600 })).token;
}, PATIENCE);

afterAll(async () => {
  for (const c of opened) await c.close().catch(() => undefined);
  await s?.close();
  everythingHttp?.kill();
  await resumable?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['server-everything over stdio', 'ev' as const],
  ['server-everything over streamable HTTP', 'evh' as const],
])('%s, direct and through Mandate', (_label, target) => {
  let d: Client;
  let m: Client;
  const name = (n: string) => `${target}.${n}`;
  beforeAll(async () => {
    d = await direct(target);
    m = await viaMandate();
  }, PATIENCE);

  it('lists the same tools, every field kept (tools needing sampling, elicitation or roots included)', async () => {
    const direct = (await d.listTools()).tools.sort(byName);
    const through = (await m.listTools()).tools
      .filter((t) => t.name.startsWith(`${target}.`))
      .map((t) => ({ ...t, name: strip(target)(t.name) }))
      .sort(byName);
    expect(through.map((t) => t.name)).toEqual(direct.map((t) => t.name));
    expect(direct.map((t) => t.name)).toEqual(expect.arrayContaining(['trigger-sampling-request', 'trigger-elicitation-request', 'get-roots-list']));
    expect(through).toEqual(direct);
  });

  it('answers a call and structured content the same', async () => {
    expect(await m.callTool({ name: name('get-sum'), arguments: { a: 2, b: 3 } })).toEqual(await d.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }));
    const args = { location: 'Chicago' };
    expect(await m.callTool({ name: name('get-structured-content'), arguments: args })).toEqual(await d.callTool({ name: 'get-structured-content', arguments: args }));
  });

  it('relays every progress notification, in order, before the result', async () => {
    const args = { duration: 0.3, steps: 3 };
    const a = await traced(d, 'trigger-long-running-operation', args);
    const b = await traced(m, name('trigger-long-running-operation'), args);
    // The SDK's own stdio client can lose a progress notification that arrives in the same read
    // as the result (it dispatches notifications a microtask late): what the direct client saw is
    // a part of what was sent. Through Mandate every one arrives.
    // (Log lines server-everything writes on its own timers are not part of the comparison.)
    const calls = (e: string[]) => e.filter((x) => !x.startsWith('log:'));
    expect(calls(b.events)).toEqual(['progress:1/3', 'progress:2/3', 'progress:3/3', 'result']);
    expect(calls(b.events)).toEqual(expect.arrayContaining(calls(a.events)));
    expect(b.result).toEqual(a.result);
  });

  it('relays sampling, elicitation and roots during a call on the call’s own stream', async () => {
    const sampling = { prompt: 'hello', maxTokens: 10 };
    expect(await m.callTool({ name: name('trigger-sampling-request'), arguments: sampling }, undefined, { timeout: PATIENCE })).toEqual(await d.callTool({ name: 'trigger-sampling-request', arguments: sampling }));
    expect(await m.callTool({ name: name('trigger-elicitation-request'), arguments: {} }, undefined, { timeout: PATIENCE })).toEqual(await d.callTool({ name: 'trigger-elicitation-request', arguments: {} }));
    // server-everything asks for roots outside any request (`listRoots()` with no related
    // request): over HTTP that goes on the GET stream, so these clients open one, direct too.
    const dg = await direct(target, true);
    const mg = await viaMandate(true);
    const roots = (await mg.callTool({ name: name('get-roots-list'), arguments: {} }, undefined, { timeout: PATIENCE })) as CallToolResult;
    expect(JSON.stringify(roots)).toContain('file:///srv/work');
    expect(roots).toEqual(await dg.callTool({ name: 'get-roots-list', arguments: {} }));
  });

  it('lists the same resources and templates, and reads them the same', async () => {
    // (Both server-everything upstreams offer the same demo:// URIs; resource URIs are not renamed.)
    const dr = (await d.listResources()).resources;
    const mr = (await m.listResources()).resources.filter((r) => r.uri.startsWith('demo://'));
    expect(new Set(mr.map((r) => r.uri))).toEqual(new Set(dr.map((r) => r.uri)));
    const dt = (await d.listResourceTemplates()).resourceTemplates;
    const mt = (await m.listResourceTemplates()).resourceTemplates.filter((t) => t.uriTemplate.startsWith('demo://'));
    expect(mt).toEqual(expect.arrayContaining(dt));
    expect(await m.readResource({ uri: dr[0]!.uri })).toEqual(await d.readResource({ uri: dr[0]!.uri }));
    const dynamic = 'demo://resource/dynamic/text/7';
    // (Its text says when it was made, to the second: compared without that.)
    const untimed = (r: unknown) => JSON.parse(JSON.stringify(r).replace(/created at [^"]*/g, 'created at <time>'));
    expect(untimed(await m.readResource({ uri: dynamic }))).toEqual(untimed(await d.readResource({ uri: dynamic })));
  });

  it('gets prompts and completes their arguments the same', async () => {
    const dp = (await d.listPrompts()).prompts.sort(byName);
    const mp = (await m.listPrompts()).prompts.filter((p) => p.name.startsWith(`${target}.`)).map((p) => ({ ...p, name: strip(target)(p.name) })).sort(byName);
    expect(mp).toEqual(dp);
    const args = { city: 'Paris', state: 'IDF' };
    expect(await m.getPrompt({ name: name('args-prompt'), arguments: args })).toEqual(await d.getPrompt({ name: 'args-prompt', arguments: args }));
    const complete = (c: Client, prompt: string) => c.complete({ ref: { type: 'ref/prompt', name: prompt }, argument: { name: 'department', value: 'E' } });
    expect(await complete(m, name('completable-prompt'))).toEqual(await complete(d, 'completable-prompt'));
    expect(m.getServerCapabilities()?.completions).toBeDefined();
  });

  it('passes the upstream’s instructions on to the agent', () => {
    const upstream = d.getInstructions()!;
    expect(upstream.length).toBeGreaterThan(50);
    expect(m.getInstructions()).toContain(upstream.trim());
  });
});

/**
 * A streamable-HTTP upstream that keeps its events (the SDK's in-memory event store) and closes
 * a call's stream in the middle of the call, as the spec lets a server do: a client must resume
 * with Last-Event-ID to get the rest.
 */
async function startResumableUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    let t = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (!t) {
      const server = new McpServer({ name: 'resumable', version: '1.0.0' });
      server.registerTool('interrupted', { description: 'closes its stream mid-call, then finishes', inputSchema: {}, annotations: { readOnlyHint: true, openWorldHint: false } }, async (_args, extra) => {
        const token = extra._meta?.progressToken;
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
        extra.closeSSEStream?.();
        await new Promise((r) => setTimeout(r, 50));
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 2, total: 2 } });
        return { content: [{ type: 'text', text: 'finished after the break' }] };
      });
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new InMemoryEventStore(),
        retryInterval: 20,
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      t = created;
      await server.connect(t);
    }
    await t.handleRequest(req, res);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    async close() {
      for (const t of transports.values()) await t.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

describe('an HTTP upstream that closes a call\u2019s stream mid-call, direct and through Mandate', () => {
  it('resumes it (Last-Event-ID) and delivers the rest: progress after the break, then the result', async () => {
    const d = withHandlers(new Client({ name: 'direct', version: '1' }, CAPS));
    await d.connect(new StreamableHTTPClientTransport(new URL(resumable.url), { fetch: noGetStream }));
    const m = await viaMandate();
    const a = await traced(d, 'interrupted', {});
    const b = await traced(m, 'resum.interrupted', {});
    expect(a.events).toEqual(['progress:1/2', 'progress:2/2', 'result']);
    expect(b.events).toEqual(a.events);
    expect(b.result).toEqual(a.result);
  });
});

/** Every resource URI a client can list, page by page. */
async function all(c: Client): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const r = await c.listResources(cursor ? { cursor } : undefined);
    out.push(...r.resources.map((x) => x.uri).filter((u) => u.startsWith('feat://')));
    cursor = r.nextCursor;
  } while (cursor);
  return out.sort();
}

describe('features server (stdio), direct and through Mandate', () => {
  let d: Client;
  let m: Client;
  const name = (n: string) => `feat.${n}`;
  beforeAll(async () => {
    d = await direct('feat');
    m = await viaMandate();
  }, PATIENCE);

  it('keeps outputSchema, title, icons and _meta of a tool', async () => {
    const dt = (await d.listTools()).tools.find((t) => t.name === 'structured')!;
    const mt = (await m.listTools()).tools.find((t) => t.name === name('structured'))!;
    expect({ ...mt, name: 'structured' }).toEqual(dt);
    expect((mt as Tool).outputSchema).toBeDefined();
    expect(await m.callTool({ name: name('structured'), arguments: { n: 21 } })).toEqual(await d.callTool({ name: 'structured', arguments: { n: 21 } }));
  });

  it('refuses structured content that breaks the pinned outputSchema, as a direct client does', async () => {
    const a = await traced(d, 'broken', {});
    const b = await traced(m, name('broken'), {});
    expect(a.error).toBeInstanceOf(McpError);
    expect(b.error).toBeInstanceOf(McpError);
    expect(b.error!.message).toMatch(/output schema/);
  });

  it('delivers progress and a log written in the same burst as the result, all before it', async () => {
    await m.setLoggingLevel('debug');
    await d.setLoggingLevel('debug');
    for (let i = 0; i < 5; i++) {
      const a = await traced(d, 'burst', {});
      const b = await traced(m, name('burst'), {});
      // (The direct stdio client drops what the SDK dispatches after the result; see above.)
      expect(b.events).toEqual(['progress:1/3', 'progress:2/3', 'progress:3/3', 'log:"burst log"', 'result']);
      expect(b.events).toEqual(expect.arrayContaining(a.events));
    }
  });

  it('forwards the agent’s _meta (the progress token stays the agent’s own)', async () => {
    const meta = { 'example.com/trace': 'abc-123', note: { nested: true } };
    const a = await traced(d, 'meta', {}, meta);
    const b = await traced(m, name('meta'), {}, meta);
    const received = (r: { result?: CallToolResult }) => JSON.parse((r.result!.content[0] as { text: string }).text) as Record<string, unknown>;
    // Each client numbers its own progress tokens; everything else arrives as the agent sent it.
    const { progressToken: pa, ...ra } = received(a);
    const { progressToken: pb, ...rb } = received(b);
    expect(ra).toEqual(meta);
    expect(rb).toEqual(ra);
    expect(pa).toBeDefined();
    expect(pb).toBeDefined();
    expect(JSON.stringify(rb)).not.toContain('mandate');
  });

  it('drops a relation marker an upstream forges in a log message (only Mandate says which call a message belongs to)', async () => {
    const seen: Array<Record<string, unknown> | undefined> = [];
    m.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void seen.push(n.params._meta));
    const r = await m.callTool({ name: name('forge'), arguments: {} });
    expect(r).toMatchObject({ content: [{ text: 'forged' }] });
    expect(seen).toEqual([{ 'example.com/kept': 1 }]);
  });

  it('relays sampling during a call without a GET stream', async () => {
    expect(await m.callTool({ name: name('sample'), arguments: {} }, undefined, { timeout: PATIENCE })).toEqual(await d.callTool({ name: 'sample', arguments: {} }));
  });

  it('keeps an upstream’s JSON-RPC error a protocol error: code, message and data', async () => {
    const a = await traced(d, 'fail', {});
    const b = await traced(m, name('fail'), {});
    expect(a.error).toBeInstanceOf(McpError);
    expect(b.error).toBeInstanceOf(McpError);
    expect({ code: b.error!.code, message: b.error!.message, data: b.error!.data }).toEqual({ code: a.error!.code, message: a.error!.message, data: a.error!.data });
    const pa = await d.getPrompt({ name: 'review', arguments: {} }).catch((e: McpError) => e);
    const pb = await m.getPrompt({ name: name('review'), arguments: {} }).catch((e: McpError) => e);
    expect(pb).toBeInstanceOf(McpError);
    expect((pb as McpError).message).toBe((pa as McpError).message);
    // Mandate's own protocol errors carry the SDK's prefix once, as any server's do.
    const own = await m.callTool({ name: name('structured'), arguments: { n: 1, extra: true } }).catch((e: McpError) => e);
    const ownMessage = own instanceof McpError ? own.message : JSON.stringify(own);
    expect(ownMessage.match(/MCP error/g) ?? []).toHaveLength(own instanceof McpError ? 1 : 0);
  });

  it('lists all 250 resources across pages, and reads one past the first page', async () => {
    const a = await all(d);
    expect(a).toHaveLength(250);
    expect(await all(m)).toEqual(a);
    expect(await m.readResource({ uri: 'feat://item/230' })).toEqual(await d.readResource({ uri: 'feat://item/230' }));
    const dt = (await d.listResourceTemplates()).resourceTemplates;
    expect((await m.listResourceTemplates()).resourceTemplates).toEqual(expect.arrayContaining(dt));
  });

  it('completes a resource template argument and a prompt argument the same', async () => {
    const t = (c: Client) => c.complete({ ref: { type: 'ref/resource', uri: 'feat://item/{id}' }, argument: { name: 'id', value: '1' } });
    expect(await t(m)).toEqual(await t(d));
    const p = (c: Client, n: string) => c.complete({ ref: { type: 'ref/prompt', name: n }, argument: { name: 'team', value: 'p' } });
    expect(await p(m, name('review'))).toEqual(await p(d, 'review'));
  });

  it('relays resource subscriptions: an update to a subscribed resource reaches the agent', async () => {
    expect(m.getServerCapabilities()?.resources?.subscribe).toBe(true);
    for (const [c, tool] of [
      [d, 'touch'],
      [m, name('touch')],
    ] as const) {
      const updated = new Promise<string>((r) => c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => r(n.params.uri)));
      await c.subscribeResource({ uri: 'feat://item/3' });
      await c.callTool({ name: tool, arguments: { uri: 'feat://item/3' } });
      expect(await updated).toBe('feat://item/3');
    }
  });

  it('follows a prompt created during the session: listed and usable', async () => {
    for (const [c, tool, prefix] of [
      [d, 'add-prompt', ''],
      [m, name('add-prompt'), 'feat.'],
    ] as const) {
      const changed = new Promise<void>((r) => c.setNotificationHandler(PromptListChangedNotificationSchema, () => r()));
      const r = (await c.callTool({ name: tool, arguments: {} })) as CallToolResult;
      const made = (r.content[0] as { text: string }).text.replace('added ', '');
      await changed;
      expect((await c.listPrompts()).prompts.map((p) => p.name)).toContain(`${prefix}${made}`);
      expect(await c.getPrompt({ name: `${prefix}${made}` })).toMatchObject({ messages: [{ content: { text: `made prompt ${made}` } }] });
    }
  });

  it('follows a resource created during the session: listed and readable', async () => {
    for (const [c, tool] of [
      [d, 'add-resource'],
      [m, name('add-resource')],
    ] as const) {
      const changed = new Promise<void>((r) => c.setNotificationHandler(ResourceListChangedNotificationSchema, () => r()));
      const r = (await c.callTool({ name: tool, arguments: {} })) as CallToolResult;
      const uri = (r.content[0] as { text: string }).text.replace('added ', '');
      await changed;
      await expect.poll(() => all(c), { timeout: PATIENCE }).toContain(uri);
      expect(await c.readResource({ uri })).toMatchObject({ contents: [{ uri, text: expect.stringMatching(/^item \d+$/) }] });
    }
  });
});

describe('an upstream with an empty prefix: the upstream\u2019s own names', () => {
  let d: Client;
  let m: Client;
  beforeAll(async () => {
    d = await direct('ev');
    m = await viaMandate();
  }, PATIENCE);

  it('offers its tools and prompts under their own names, and Cedar policies name them so', async () => {
    const names = new Set((await m.listTools()).tools.map((t) => t.name));
    for (const t of (await d.listTools()).tools) expect(names.has(t.name), t.name).toBe(true);
    expect(await m.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })).toEqual(await d.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }));
    const big = (await m.callTool({ name: 'get-sum', arguments: { a: 500, b: 1 } })) as CallToolResult;
    expect(big.isError).toBe(true);
    expect((big.content[0] as { text: string }).text).toMatch(/small-sums/);
    const args = { city: 'Paris', state: 'IDF' };
    expect(await m.getPrompt({ name: 'args-prompt', arguments: args })).toEqual(await d.getPrompt({ name: 'args-prompt', arguments: args }));
  });
});
