// The agent-facing half of MCP streamable HTTP, on Node's own request and response objects.
//
// Why not the SDK's StreamableHTTPServerTransport: it answers every POST with an SSE stream
// (headers, events and end as separate socket writes) or, in JSON mode, silently drops the
// progress and log notifications that belong to a call. Here each POST that carries requests
// is answered with one `application/json` write when nothing but the responses is sent, and
// is upgraded to `text/event-stream` the moment anything related to it (progress, a log
// line, a sampling request) must go out first, both of which the transport spec allows. On
// this path a call costs one write instead of three, which is most of the gateway's overhead.
//
// Streams are resumable (the spec's Last-Event-ID): every event carries an id naming its stream;
// when an agent's connection drops before its call is answered, what follows is kept (bounded)
// and a GET with `Last-Event-ID` replays what the agent missed and carries the rest.
//
// Session lookup, authentication and DNS-rebinding checks happen before this (mcp-gateway.ts).

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

const MAX_BATCH = 100;
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' } as const;

/** What a stream keeps for an agent that reconnects: its events, bounded. */
interface Replay {
  /** The stream's id: the part of each event id before `_`. */
  key: string;
  seq: number;
  events: Array<{ seq: number; text: string }>;
  bytes: number;
}

/** One POST that carried requests: its HTTP response stays open until every request is answered. */
interface Exchange {
  /** Null while the agent is away (its connection dropped); a resuming GET attaches again. */
  res: ServerResponse | null;
  ids: RequestId[];
  responses: Map<RequestId, JSONRPCMessage>;
  sse: boolean;
  done: boolean;
  keepAlive?: NodeJS.Timeout | undefined;
  replay?: Replay;
}

const REPLAY_MAX_EVENTS = 1000;
const REPLAY_MAX_BYTES = 4 * 1024 * 1024;
/** How long the events of an answered stream stay resumable. */
const REPLAY_KEEP_MS = 60_000;
/** At most this much of answered streams is kept per session (newest first). */
const REPLAY_KEEP_BYTES = 8 * 1024 * 1024;

/** The id of the replayed `initialize` of a session taken over (its answer is dropped). */
const RESTORE_ID = 'io.mandate/restore';

export interface AgentHttpTransportOptions {
  sessionId: string;
  /** `initialize` was accepted (its params): the session exists from now on. */
  onInitialized: (params: Record<string, unknown>) => void;
  /** The agent sent DELETE: the session ends. */
  onSessionClosed: () => Promise<void> | void;
  keepAliveMs?: number;
}

export class AgentHttpTransport implements Transport {
  readonly sessionId: string;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;

  private initialized = false;
  private closed = false;
  private readonly byRequest = new Map<RequestId, Exchange>();
  /**
   * `tools/call` arguments exactly as the agent sent them. The SDK's request schema rebuilds the
   * arguments object and silently drops keys such as `__proto__`; the gateway checks, records
   * and refuses what was really sent instead.
   */
  private readonly sentArguments = new Map<RequestId, unknown>();
  private standalone: { res: ServerResponse; keepAlive: NodeJS.Timeout } | undefined;
  private readonly standaloneReplay: Replay = newReplay();
  /** Resumable POST streams by key (kept for a while after they are answered). */
  private readonly streams = new Map<string, Exchange>();
  private readonly keepAliveMs: number;

  constructor(private readonly opts: AgentHttpTransportOptions) {
    this.sessionId = opts.sessionId;
    this.keepAliveMs = opts.keepAliveMs ?? 15_000;
  }

  async start(): Promise<void> {}

  /**
   * Takes over a session opened elsewhere (another replica): the MCP server is initialized with
   * what the agent's `initialize` said then, its answer going nowhere (the agent had it already).
   */
  restore(init: Record<string, unknown>): void {
    this.initialized = true;
    const info: MessageExtraInfo = { requestInfo: { headers: {} } };
    this.onmessage?.({ jsonrpc: '2.0', id: RESTORE_ID, method: 'initialize', params: init } as JSONRPCMessage, info);
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/initialized' } as JSONRPCMessage, info);
  }

  /** Serves one HTTP request of this session (POST, GET or DELETE). `body` is the parsed JSON body. */
  async handle(req: IncomingMessage, res: ServerResponse, body: unknown, extra: Omit<MessageExtraInfo, 'requestInfo'>): Promise<void> {
    if (this.closed) return reply(res, 404, -32001, 'session not found (it ended): initialize a new one');
    switch (req.method) {
      case 'POST':
        return this.post(req, res, body, extra);
      case 'GET':
        return this.get(req, res);
      case 'DELETE':
        return this.delete(req, res);
      default:
        res.setHeader('allow', 'GET, POST, DELETE');
        return reply(res, 405, -32000, `method ${req.method} is not allowed on the MCP endpoint (use POST, GET or DELETE)`);
    }
  }

  private async post(req: IncomingMessage, res: ServerResponse, body: unknown, extra: Omit<MessageExtraInfo, 'requestInfo'>): Promise<void> {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return reply(res, 406, -32000, 'Not Acceptable: the Accept header must list both application/json and text/event-stream');
    }
    if (Array.isArray(body) && body.length > MAX_BATCH) return reply(res, 400, -32600, `a batch may hold at most ${MAX_BATCH} messages`);
    const raw = Array.isArray(body) ? body : [body];
    if (raw.length === 0) return reply(res, 400, -32600, 'an empty batch is not a JSON-RPC message');
    const messages: JSONRPCMessage[] = [];
    for (const m of raw) {
      const parsed = JSONRPCMessageSchema.safeParse(m);
      if (!parsed.success) return reply(res, 400, -32600, `not a JSON-RPC 2.0 message: ${describe(parsed.error)}`);
      messages.push(parsed.data);
    }

    const init = messages.some(isInitializeRequest);
    if (init) {
      if (this.initialized) return reply(res, 400, -32600, 'this session is already initialized');
      if (messages.length > 1) return reply(res, 400, -32600, '`initialize` must be sent alone');
      this.initialized = true;
      this.opts.onInitialized(((messages[0] as { params?: Record<string, unknown> }).params ?? {}) as Record<string, unknown>);
    } else {
      const problem = this.checkVersion(req);
      if (problem) return reply(res, 400, -32000, problem);
    }

    const info: MessageExtraInfo = { ...extra, requestInfo: { headers: req.headers } };
    const requests = messages.filter(isJSONRPCRequest);
    if (requests.length === 0) {
      // Notifications and responses (to our sampling/elicitation/roots requests): accepted.
      res.writeHead(202).end();
      for (const m of messages) this.onmessage?.(m, info);
      return;
    }
    const ex: Exchange = { res, ids: requests.map((r) => r.id), responses: new Map(), sse: false, done: false };
    // Two requests with one id could never both be answered (the response waits for both).
    const seen = new Set<string | number>();
    for (const id of ex.ids) {
      if (seen.has(id)) return reply(res, 400, -32600, `request id ${JSON.stringify(id)} appears twice in this batch: every request in a batch needs its own id`);
      seen.add(id);
    }
    for (const id of ex.ids) {
      if (this.byRequest.has(id)) return reply(res, 400, -32600, `request id ${JSON.stringify(id)} is already in flight in this session`);
    }
    for (const id of ex.ids) this.byRequest.set(id, ex);
    for (const r of requests) if (r.method === 'tools/call') this.sentArguments.set(r.id, (r.params as { arguments?: unknown } | undefined)?.arguments);
    // The agent went away before every answer was written. A stream that has sent events can be
    // resumed: what follows is kept for a GET with Last-Event-ID. Otherwise nothing more goes out.
    this.detachOnClose(ex, res);
    for (const m of messages) this.onmessage?.(m, info);
  }

  private async get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!(req.headers.accept ?? '').includes('text/event-stream')) return reply(res, 406, -32000, 'Not Acceptable: the Accept header must list text/event-stream');
    const problem = this.checkVersion(req);
    if (problem) return reply(res, 400, -32000, problem);
    const last = req.headers['last-event-id'];
    if (typeof last === 'string' && last) return this.resume(last, res);
    if (this.standalone) return reply(res, 409, -32000, 'this session already has its server-to-client stream open (one GET stream per session)');
    this.openStandalone(res);
  }

  private openStandalone(res: ServerResponse, after?: number): void {
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
    res.flushHeaders();
    if (after !== undefined) for (const e of this.standaloneReplay.events) if (e.seq > after) res.write(e.text);
    const keepAlive = setInterval(() => res.write(': keepalive\n\n'), this.keepAliveMs);
    keepAlive.unref();
    const stream = { res, keepAlive };
    this.standalone = stream;
    res.once('close', () => {
      clearInterval(keepAlive);
      if (this.standalone === stream) this.standalone = undefined;
    });
  }

  /** A GET with Last-Event-ID: replays what the agent missed on that stream, then carries the rest. */
  private resume(lastEventId: string, res: ServerResponse): void {
    const m = /^([A-Za-z0-9-]+)_(\d+)$/.exec(lastEventId);
    if (!m) return reply(res, 400, -32000, `Last-Event-ID ${JSON.stringify(lastEventId.slice(0, 80))} is not an event id of this server`);
    const key = m[1]!;
    const after = Number(m[2]);
    if (key === this.standaloneReplay.key) {
      if (this.standalone) return reply(res, 409, -32000, 'this session already has its server-to-client stream open (one GET stream per session)');
      if (!canReplayFrom(this.standaloneReplay, after)) return reply(res, 404, -32000, 'the events after that id are no longer kept: open a new GET stream');
      return this.openStandalone(res, after);
    }
    const ex = this.streams.get(key);
    if (!ex || !ex.replay || !canReplayFrom(ex.replay, after)) return reply(res, 404, -32000, `event stream ${JSON.stringify(key)} cannot be resumed here (unknown, expired, or its events after that id are no longer kept)`);
    if (ex.res) {
      // The agent came back for this stream, so the connection we still hold for it is dead
      // (its close may not have reached us yet): the resuming connection takes over.
      const old = ex.res;
      ex.res = null;
      if (ex.keepAlive) clearInterval(ex.keepAlive);
      old.destroy();
    }
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
    for (const e of ex.replay.events) if (e.seq > after) res.write(e.text);
    if (ex.done) return void res.end();
    ex.res = res;
    ex.keepAlive = setInterval(() => res.write(': keepalive\n\n'), this.keepAliveMs);
    ex.keepAlive.unref();
    this.detachOnClose(ex, res);
  }

  private detachOnClose(ex: Exchange, res: ServerResponse): void {
    res.once('close', () => {
      if (ex.done || ex.res !== res) return;
      if (ex.keepAlive) clearInterval(ex.keepAlive);
      if (ex.sse && ex.replay) ex.res = null;
      else this.finish(ex);
    });
  }

  private async delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const problem = this.checkVersion(req);
    if (problem) return reply(res, 400, -32000, problem);
    res.writeHead(200).end();
    await this.opts.onSessionClosed();
  }

  private checkVersion(req: IncomingMessage): string | null {
    const v = req.headers['mcp-protocol-version'];
    if (typeof v === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(v)) {
      return `unsupported MCP protocol version ${JSON.stringify(v)} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`;
    }
    return null;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const isResponse = isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);
    const id = isResponse ? (message as { id: RequestId }).id : options?.relatedRequestId;
    const ex = id === undefined ? undefined : this.byRequest.get(id);
    if (!ex) {
      // Not tied to a request still open (list changes, server-initiated requests): the GET
      // stream, kept for a reconnecting agent even while none is open.
      if (!isResponse) {
        const text = record(this.standaloneReplay, message);
        this.standalone?.res.write(text);
      }
      return;
    }
    if (!isResponse) {
      this.upgrade(ex);
      const text = record(ex.replay!, message);
      ex.res?.write(text);
      return;
    }
    ex.responses.set(id!, message);
    if (ex.sse) {
      const text = record(ex.replay!, message);
      ex.res?.write(text);
    }
    if (ex.responses.size < ex.ids.length) return;
    if (!ex.sse) {
      const payload = ex.ids.length === 1 ? message : ex.ids.map((i) => ex.responses.get(i));
      const json = JSON.stringify(payload);
      ex.res!.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'mcp-session-id': this.sessionId });
      ex.res!.end(json);
    } else {
      ex.res?.end();
    }
    this.finish(ex);
  }

  /** Something other than the answers must go out first: this response becomes an SSE stream. */
  private upgrade(ex: Exchange): void {
    if (ex.sse) return;
    ex.sse = true;
    ex.replay = newReplay();
    this.streams.set(ex.replay.key, ex);
    if (!ex.res) return;
    const res = ex.res;
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
    ex.keepAlive = setInterval(() => res.write(': keepalive\n\n'), this.keepAliveMs);
    ex.keepAlive.unref();
  }

  private finish(ex: Exchange): void {
    ex.done = true;
    if (ex.keepAlive) clearInterval(ex.keepAlive);
    for (const id of ex.ids) {
      if (this.byRequest.get(id) === ex) this.byRequest.delete(id);
      this.sentArguments.delete(id);
    }
    // An answered stream stays resumable for a while (its agent may have lost the end of it,
    // even if the connection looked alive when the answer went out), within a per-session budget.
    const key = ex.replay?.key;
    if (!key) return;
    setTimeout(() => this.streams.delete(key), REPLAY_KEEP_MS).unref();
    let total = 0;
    for (const [k, other] of [...this.streams].reverse()) {
      if (!other.done) continue;
      total += other.replay!.bytes;
      if (total > REPLAY_KEEP_BYTES) this.streams.delete(k);
    }
  }

  /** The arguments of an open `tools/call` request as the agent sent them (undefined if none). */
  sentArgumentsOf(id: RequestId): unknown {
    return this.sentArguments.get(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Calls still open get an answer rather than a hang.
    const open = new Set(this.byRequest.values());
    for (const ex of open) {
      for (const id of ex.ids) {
        if (!ex.responses.has(id)) ex.responses.set(id, { jsonrpc: '2.0', id, error: { code: -32001, message: 'the session closed before this request completed (the task ended or the session expired)' } });
      }
      if (ex.sse) {
        for (const id of ex.ids) ex.res?.write(record(ex.replay!, ex.responses.get(id)!));
        ex.res?.end();
      } else if (ex.res && !ex.res.headersSent) {
        const json = JSON.stringify(ex.ids.length === 1 ? ex.responses.get(ex.ids[0]!) : ex.ids.map((i) => ex.responses.get(i)));
        ex.res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': this.sessionId }).end(json);
      }
      this.finish(ex);
    }
    if (this.standalone) {
      clearInterval(this.standalone.keepAlive);
      this.standalone.res.end();
      this.standalone = undefined;
    }
    this.onclose?.();
  }
}

function newReplay(): Replay {
  return { key: randomBytes(9).toString('base64url').replaceAll('_', '-'), seq: 0, events: [], bytes: 0 };
}

/** The event text for a message on a stream, with its id; kept (bounded) for replay. */
function record(r: Replay, message: unknown): string {
  const seq = ++r.seq;
  const text = `id: ${r.key}_${seq}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`;
  r.events.push({ seq, text });
  r.bytes += text.length;
  while (r.events.length > REPLAY_MAX_EVENTS || (r.bytes > REPLAY_MAX_BYTES && r.events.length > 1)) r.bytes -= r.events.shift()!.text.length;
  return text;
}

/** Whether every event after `after` is still kept. */
function canReplayFrom(r: Replay, after: number): boolean {
  if (after > r.seq) return false;
  const first = r.events[0]?.seq ?? r.seq + 1;
  return after >= first - 1;
}

function reply(res: ServerResponse, status: number, code: number, message: string): void {
  const json = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
}

function describe(err: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const i = err.issues[0];
  if (!i) return 'invalid';
  return i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message;
}
