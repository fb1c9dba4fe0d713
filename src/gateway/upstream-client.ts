// Connects to one upstream MCP server (stdio command or streamable-HTTP URL) with the MCP SDK.
// The upstream's secrets (env, headers) come from config and the environment, and never reach agents.

import { isAbsolute, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import { MandateError, q } from '../core/errors.js';
import { isSecretKey, redactText } from '../audit/redact.js';
import { isJSONRPCRequest, type JSONRPCMessage, type MessageExtraInfo, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { UpstreamHttpTransport } from './upstream-http-transport.js';

export const MANDATE_CLIENT_INFO = { name: 'mandate-gateway', version: '0.1.0' };

/** `${NAME}` → the value of NAME in `env`; a missing variable is an error naming it. */
export function expandEnv(value: string, env: NodeJS.ProcessEnv, where: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new MandateError('config_invalid', `${where}: environment variable ${q(name)} is not set`);
    return v;
  });
}

/** Names a value refers to with `${secret:<name>}` (a named secret, see src/secrets). */
export function secretRefsOf(value: string): string[] {
  return [...value.matchAll(SECRET_REF)].map((m) => m[1]!);
}

const SECRET_REF = /\$\{secret:([A-Za-z0-9][A-Za-z0-9_-]*)\}/g;

/** Reads a named secret's value (the secret broker). */
export type SecretResolver = (name: string) => Promise<string>;

/**
 * A config value as sent upstream: `${NAME}` from the environment, then `${secret:<name>}` from
 * the secret broker (read now, so a rotated secret is used by the next connection).
 */
export async function expandValue(value: string, env: NodeJS.ProcessEnv, where: string, secrets: SecretResolver | undefined): Promise<string> {
  let out = expandEnv(value, env, where);
  for (const name of new Set(secretRefsOf(out))) {
    if (!secrets) throw new MandateError('config_invalid', `${where}: uses \`\${secret:${name}}\` but no secrets are configured`);
    const v = await secrets(name);
    out = out.split(`\${secret:${name}}`).join(v);
  }
  return out;
}

/**
 * The secret values an upstream config holds: every `${NAME}` it takes from the environment
 * (that is how secrets stay out of the file), and whole values of secret-named headers.
 */
export function secretValuesOf(u: UpstreamConfig, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const fromEnv = (v: string) => {
    for (const m of v.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) if (env[m[1]!] !== undefined) out.push(env[m[1]!]!);
  };
  for (const v of Object.values(u.env)) fromEnv(v);
  for (const [k, v] of Object.entries(u.headers)) {
    fromEnv(v);
    if (isSecretKey(k)) {
      try {
        out.push(expandEnv(v, env, k));
      } catch {
        // a missing variable is reported when the upstream connects
      }
    }
  }
  return out;
}

export function hasTransport(u: UpstreamConfig): boolean {
  return (u.kind ?? 'mcp') === 'mcp' && Boolean(u.command || u.url);
}

export interface ConnectOptions {
  name: string;
  config: UpstreamConfig;
  baseDir: string;
  capabilities?: ClientCapabilities;
  logger?: Logger | undefined;
  /** Called with the client before connecting, to install request and notification handlers. */
  setup?: (client: Client) => void;
  /** Resolves `${secret:<name>}` in the upstream's env and headers. */
  secrets?: SecretResolver | undefined;
  connectTimeoutMs?: number;
}

/** Takes the relating marker off a relayed notification's params: the agent request, and the params as the upstream sent them. */
export function relatedNotification<P extends { _meta?: Record<string, unknown> | undefined }>(params: P): { agentRequest: RequestId | undefined; params: P } {
  const meta = params._meta;
  if (!meta || !(AGENT_REQUEST_META in meta)) return { agentRequest: undefined, params };
  const { [AGENT_REQUEST_META]: agentRequest, ...rest } = meta;
  const out = { ...params };
  if (Object.keys(rest).length) out._meta = rest;
  else delete out._meta;
  return { agentRequest: agentRequest as RequestId, params: out };
}

export async function connectUpstream(o: ConnectOptions): Promise<Client> {
  const { name, config } = o;
  const client = new Client(MANDATE_CLIENT_INFO, { capabilities: o.capabilities ?? {} });
  o.setup?.(client);
  let transport: StdioClientTransport | UpstreamHttpTransport;
  let stderrTail = '';
  if (config.command) {
    const env: Record<string, string> = { ...getDefaultEnvironment() };
    for (const [k, v] of Object.entries(config.env)) env[k] = await expandValue(v, process.env, `upstream ${q(name)} env ${q(k)}`, o.secrets);
    const cwd = config.cwd ? (isAbsolute(config.cwd) ? config.cwd : resolve(o.baseDir, config.cwd)) : o.baseDir;
    const stdio = new StdioClientTransport({ command: config.command, args: config.args, env, cwd, stderr: 'pipe' });
    transport = stdio;
    // Always drain stderr (a full pipe would stall the upstream); keep it in the debug log, and
    // its last lines for the error if the upstream never comes up (a mistyped command, say).
    stdio.stderr?.on('data', (d: Buffer) => {
      stderrTail = (stderrTail + d.toString()).slice(-4000);
      o.logger?.debug({ upstream: name, stderr: d.toString().slice(0, 2000) }, 'upstream stderr');
    });
  } else if (config.url) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.headers)) headers[k] = await expandValue(v, process.env, `upstream ${q(name)} header ${q(k)}`, o.secrets);
    transport = new UpstreamHttpTransport(new URL(config.url), { headers });
  } else {
    throw new MandateError('config_invalid', `upstream ${q(name)} has neither \`command\` nor \`url\``);
  }
  const timeout = o.connectTimeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(transport),
      new Promise((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer to initialize within ${timeout} ms`)), timeout);
      }),
    ]);
  } catch (err) {
    await client.close().catch(() => undefined);
    let hint = '';
    if (config.command) {
      // What matters in a crash is its error line, not the stack frames around it.
      const all = redactText(stderrTail).split('\n').map((l) => l.trim()).filter((l) => l && !/^at\s/.test(l) && !/^[{}^]$/.test(l));
      const errors = all.filter((l) => /error|not found|no such|denied|cannot|refused|invalid/i.test(l));
      const lines = errors.length ? errors.slice(0, 3) : all.slice(-3);
      hint = `; \`${[config.command, ...config.args].join(' ')}\` ${lines.length ? `wrote to stderr: ${lines.join(' | ').slice(0, 1000)}` : 'wrote nothing to stderr'} (check upstreams.${name}.command, args and cwd)`;
    }
    throw new Error(`cannot connect to upstream ${q(name)}: ${(err as Error).message}${hint}`);
  } finally {
    clearTimeout(timer);
  }
  links.set(client, linkTransport(transport, Boolean(config.command)));
  if (transport instanceof UpstreamHttpTransport) await transport.getStreamReady(5000);
  return client;
}

/**
 * Marks a request Mandate forwards for an agent with the agent's request id. The link strips it
 * before the request leaves (the upstream never sees it) and remembers which agent request each
 * upstream request serves.
 */
export const AGENT_REQUEST_META = 'io.mandate.internal/agent-request';

/** What the link knows about one upstream connection. */
export interface UpstreamLink {
  /** The agent request that a request the upstream sent us (sampling, elicitation, roots) relates to. */
  relatedOf(upstreamRequestId: RequestId): RequestId | undefined;
}

const links = new WeakMap<Client, UpstreamLink>();

export function linkOf(client: Client): UpstreamLink | undefined {
  return links.get(client);
}

type Deliver = (m: JSONRPCMessage, extra?: MessageExtraInfo) => void;

/**
 * Sits between the transport and the SDK's protocol, both ways:
 * - Order: the SDK dispatches notifications one microtask late but responses at once, and drops
 *   a request's progress handler with its response, so a progress notification that arrived in
 *   the same chunk as the result was lost. A response is handed on one microtask later, so
 *   everything the upstream sent before it is dispatched first, in order.
 * - Relation: what an upstream sends while serving a call (sampling, elicitation and roots
 *   requests, log messages) belongs on that call's stream to the agent, not on a GET stream the
 *   agent may not have. An HTTP upstream says which request a message relates to by the stream
 *   it arrives on; over stdio there is one stream, and the call in flight (the latest, if several)
 *   is the one it relates to.
 */
function linkTransport(transport: { onmessage?: Deliver | undefined; send(m: JSONRPCMessage, o?: TransportSendOptions): Promise<void> }, singleStream: boolean): UpstreamLink {
  const agentOf = new Map<RequestId, RequestId>();
  const inflight: RequestId[] = [];
  const related = new Map<RequestId, RequestId>();
  const forget = (id: RequestId) => {
    if (!agentOf.delete(id)) return;
    const i = inflight.lastIndexOf(id);
    if (i >= 0) inflight.splice(i, 1);
  };
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (isJSONRPCRequest(message)) {
      const meta = message.params?._meta as Record<string, unknown> | undefined;
      if (meta && AGENT_REQUEST_META in meta) {
        const { [AGENT_REQUEST_META]: agentRequest, ...rest } = meta;
        agentOf.set(message.id, agentRequest as RequestId);
        inflight.push(message.id);
        const params: Record<string, unknown> = { ...message.params };
        if (Object.keys(rest).length) params._meta = rest;
        else delete params._meta;
        message = { ...message, params };
      }
    } else if ('id' in message && !('method' in message)) {
      if (message.id !== undefined) related.delete(message.id); // our answer to the upstream's request
    }
    return send(message, options);
  };
  const deliver = transport.onmessage;
  if (deliver) {
    transport.onmessage = (message, extra) => {
      if ('id' in message && !('method' in message)) {
        const id = message.id;
        queueMicrotask(() => {
          deliver(message, extra);
          if (id !== undefined) forget(id);
        });
        return;
      }
      const upstreamRequest = (extra as { relatedRequestId?: RequestId } | undefined)?.relatedRequestId ?? (singleStream ? inflight[inflight.length - 1] : undefined);
      const agentRequest = upstreamRequest === undefined ? undefined : agentOf.get(upstreamRequest);
      if ('id' in message) {
        if (agentRequest !== undefined && message.id !== undefined) related.set(message.id, agentRequest);
      } else if ('method' in message && message.method !== 'notifications/progress') {
        // Notifications stay on the SDK's path (so they keep their order with progress, which
        // the SDK dispatches) and carry the agent request they relate to, for the relaying
        // handler to take off again. A marker the upstream put there itself is dropped: only
        // the link says which call a message belongs to.
        const params = (message.params ?? {}) as Record<string, unknown>;
        const { [AGENT_REQUEST_META]: _forged, ...meta } = (params._meta ?? {}) as Record<string, unknown>;
        if (agentRequest !== undefined) meta[AGENT_REQUEST_META] = agentRequest;
        if (agentRequest !== undefined || _forged !== undefined) {
          const { _meta: _old, ...rest } = params;
          message = { ...message, params: Object.keys(meta).length ? { ...rest, _meta: meta } : rest };
        }
      }
      deliver(message, extra);
    };
  }
  return { relatedOf: (id) => related.get(id) };
}
