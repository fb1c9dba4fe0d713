// The upstream-facing half of MCP streamable HTTP: Mandate as the client of an HTTP MCP server,
// on node:http with keep-alive sockets.
//
// Why not the SDK's StreamableHTTPClientTransport: it goes through WHATWG fetch, Headers and web
// streams for every message, which costs more than the rest of a forwarded call. This one posts
// each message, reads a JSON answer or parses an SSE stream as it arrives, keeps the session id
// and negotiated protocol version, listens on the GET stream for what the server sends on its
// own (list changes, server-to-client requests), and ends the upstream session on close.
// Redirects are not followed: an upstream is a configured address, not something it may move.

import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { createParser } from 'eventsource-parser';
import { isInitializedNotification, isJSONRPCRequest, JSONRPCMessageSchema, type JSONRPCMessage, type MessageExtraInfo, type RequestId } from '@modelcontextprotocol/sdk/types.js';

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256 });
const ACCEPT_BOTH = 'application/json, text/event-stream';
/** How many times one request's stream is resumed before the call fails. */
const MAX_RESUMES = 5;

interface StreamState {
  lastEventId: string | undefined;
  retryMs: number | undefined;
  resumes: number;
}

export interface UpstreamHttpTransportOptions {
  /** Configured headers (already expanded): the upstream's own credentials live here. */
  headers?: Record<string, string>;
  /** A single message larger than this is refused and its request aborted (memory bound). */
  maxMessageBytes?: number;
}

export class UpstreamHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class UpstreamHttpTransport implements Transport {
  /** `extra.relatedRequestId`: the request whose POST stream carried the message (none on the GET stream). */
  onmessage?: ((message: JSONRPCMessage, extra?: MessageExtraInfo) => void) | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  sessionId?: string | undefined;

  private protocolVersion: string | undefined;
  private closed = false;
  private readonly inflight = new Set<ClientRequest>();
  private listening: ClientRequest | undefined;
  private readonly getStream: StreamState = { lastEventId: undefined, retryMs: undefined, resumes: 0 };
  /** Settles once the first GET stream is open, or the server declined or failed it. */
  private getSettled!: () => void;
  private readonly getReady = new Promise<void>((r) => (this.getSettled = r));
  private readonly secure: boolean;
  private readonly maxBytes: number;

  constructor(
    private readonly url: URL,
    private readonly opts: UpstreamHttpTransportOptions = {},
  ) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`upstream URL must be http(s), got ${url.protocol}`);
    this.secure = url.protocol === 'https:';
    this.maxBytes = opts.maxMessageBytes ?? 64 * 1024 * 1024;
  }

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  private headers(accept: string, extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...this.opts.headers, accept, ...extra };
    if (this.sessionId) h['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) h['mcp-protocol-version'] = this.protocolVersion;
    return h;
  }

  private open(method: string, headers: Record<string, string>): ClientRequest {
    const req = (this.secure ? httpsRequest : httpRequest)(this.url, { method, headers, agent: this.secure ? httpsAgent : httpAgent });
    this.inflight.add(req);
    req.once('close', () => this.inflight.delete(req));
    return req;
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new Error('upstream connection closed');
    const body = JSON.stringify(message);
    const req = this.open('POST', this.headers(ACCEPT_BOTH, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }));
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && sid) this.sessionId = sid;
    const status = res.statusCode ?? 0;
    if (status === 202 || status === 204) {
      res.resume();
      if (isInitializedNotification(message)) this.listen(0);
      return;
    }
    if (status !== 200) {
      const text = await readAll(res, 4096).catch(() => '');
      if (status === 404 && this.sessionId) {
        // The upstream forgot our session: this connection is done; the next call reconnects.
        void this.close().catch(() => undefined);
        throw new UpstreamHttpError(404, 'upstream session expired (it will be re-established on the next call)');
      }
      throw new UpstreamHttpError(status, `upstream answered HTTP ${status}${text ? `: ${text.slice(0, 300)}` : ''}`);
    }
    const type = String(res.headers['content-type'] ?? '');
    if (type.startsWith('text/event-stream')) {
      // The answer and anything related to it (progress, logs, server requests) arrive as events.
      this.readEvents(res, isJSONRPCRequest(message) ? message.id : undefined);
      return;
    }
    if (!type.startsWith('application/json')) {
      res.resume();
      throw new UpstreamHttpError(status, `upstream answered with content type ${JSON.stringify(type)} (expected JSON or an event stream)`);
    }
    const text = await readAll(res, this.maxBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UpstreamHttpError(status, 'upstream returned invalid JSON');
    }
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.deliver(m);
  }

  /** One JSON-RPC message from the upstream, checked for shape before the protocol sees it. */
  private deliver(raw: unknown, relatedRequestId?: RequestId): void {
    const m = JSONRPCMessageSchema.safeParse(raw);
    if (!m.success) {
      this.onerror?.(new Error('upstream sent something that is not a JSON-RPC message'));
      return;
    }
    this.onmessage?.(m.data, relatedRequestId === undefined ? undefined : ({ relatedRequestId } as MessageExtraInfo));
  }

  /**
   * Reads an SSE stream as it arrives (eventsource-parser: `\r`, `\r\n` and `\n` line ends,
   * `id:` and `retry:`). An event with an id and no data is a priming event: nothing to deliver,
   * but the stream can now be resumed. A stream that closes before the answer it awaits is
   * resumed with `Last-Event-ID` when the server gave ids (it may close streams on purpose and
   * replay what was sent meanwhile); otherwise, or after `MAX_RESUMES` tries, the call fails now
   * rather than at its timeout.
   */
  private readEvents(res: IncomingMessage, awaiting?: RequestId, stream: StreamState = { lastEventId: undefined, retryMs: undefined, resumes: 0 }): void {
    res.setEncoding('utf8');
    let answered = awaiting === undefined;
    let unparsed = 0;
    const parser = createParser({
      onEvent: (ev) => {
        unparsed = 0;
        if (ev.id !== undefined) stream.lastEventId = ev.id;
        if (ev.data === '') return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(ev.data);
        } catch {
          this.onerror?.(new Error('upstream returned invalid JSON in an event'));
          return;
        }
        if (!answered && (parsed as { id?: unknown } | null)?.id === awaiting && !('method' in (parsed as object))) answered = true;
        this.deliver(parsed, awaiting);
      },
      onRetry: (ms) => void (stream.retryMs = ms),
    });
    res.on('data', (chunk: string) => {
      unparsed += chunk.length;
      if (unparsed > this.maxBytes) {
        this.onerror?.(new Error(`upstream sent an event larger than ${this.maxBytes} bytes; the stream was cut`));
        stream.resumes = MAX_RESUMES; // a cut for size is not resumed
        res.destroy();
        return;
      }
      parser.feed(chunk);
    });
    res.on('error', () => undefined);
    res.once('close', () => {
      // A line ended by a bare CR at the very end is only known to have ended now.
      if (unparsed <= this.maxBytes) parser.feed('\n');
      if (answered || this.closed) return;
      if (stream.lastEventId !== undefined && stream.resumes < MAX_RESUMES) {
        stream.resumes++;
        setTimeout(() => this.resume(awaiting!, stream), Math.min(stream.retryMs ?? 100, 30_000)).unref();
        return;
      }
      this.failAwaiting(awaiting!);
    });
  }

  private failAwaiting(id: RequestId): void {
    if (!this.closed) this.onmessage?.({ jsonrpc: '2.0', id, error: { code: -32000, message: 'upstream closed the stream before answering (connection closed)' } });
  }

  /** Resumes a request's stream with `Last-Event-ID`: the server replays what it sent after that event. */
  private resume(awaiting: RequestId, stream: StreamState): void {
    if (this.closed) return;
    const req = this.open('GET', this.headers('text/event-stream', { 'last-event-id': stream.lastEventId! }));
    req.once('error', () => this.failAwaiting(awaiting));
    req.once('response', (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        res.resume();
        this.failAwaiting(awaiting);
        return;
      }
      this.readEvents(res, awaiting, stream);
    });
    req.end();
  }

  /** The GET stream: what the server sends outside any request (list changes, its own requests). */
  private listen(attempt: number): void {
    if (this.closed || this.listening) return;
    // A GET stream that dropped is reopened from its last event: the server may replay what it sent meanwhile.
    const last = this.getStream.lastEventId;
    const req = this.open('GET', this.headers('text/event-stream', last === undefined ? {} : { 'last-event-id': last }));
    this.listening = req;
    const retry = () => {
      if (this.listening === req) this.listening = undefined;
      if (!this.closed && attempt < 5) setTimeout(() => this.listen(attempt + 1), 500 * 2 ** attempt).unref();
    };
    req.once('error', () => {
      this.getSettled();
      retry();
    });
    req.once('response', (res) => {
      this.getSettled();
      if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        // 405: the server offers no such stream, which the spec allows.
        res.resume();
        if (this.listening === req) this.listening = undefined;
        return;
      }
      attempt = 0;
      this.readEvents(res, undefined, this.getStream);
      res.once('end', retry);
    });
    req.end();
  }

  /**
   * Waits (at most `ms`) until the GET stream is open or refused: a server may ask something of
   * the client outside any request (roots, say) right after initialization, and with no stream
   * open yet that message would be lost.
   */
  async getStreamReady(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.getReady, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    this.getSettled();
    if (this.closed) return;
    this.closed = true;
    for (const r of this.inflight) r.destroy();
    this.inflight.clear();
    this.listening = undefined;
    if (this.sessionId) {
      // Tell the upstream the session is over (best effort, bounded).
      const req = (this.secure ? httpsRequest : httpRequest)(this.url, { method: 'DELETE', headers: this.headers('application/json'), agent: this.secure ? httpsAgent : httpAgent, timeout: 2000 });
      req.on('response', (r) => r.resume());
      req.on('timeout', () => req.destroy());
      req.on('error', () => undefined);
      req.end();
    }
    this.onclose?.();
  }
}

function readAll(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        res.destroy();
        reject(new Error(`upstream sent a message larger than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
