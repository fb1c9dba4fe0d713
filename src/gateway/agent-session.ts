// One agent's MCP session, bound to one task: an MCP server facing the agent (what it may see and
// call) and, per upstream, a client facing the tools. With `sharing: session` each session has
// its own upstream connection, so server-to-client requests (sampling, elicitation, roots),
// logging and progress flow back to exactly this agent.

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AgentHttpTransport } from './http-transport.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  CallToolResultSchema,
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
  ElicitRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ReadResourceRequestSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type ClientCapabilities,
  type LoggingLevel,
  type RequestId,
  type Prompt,
  type Resource,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { MandateError, q } from '../core/errors.js';
import { redactKnownValues } from '../audit/redact.js';
import type { ToolSpec } from '../core/tool.js';
import type { Agent } from '../storage/types.js';
import { callTool } from './call-tool.js';
import { protocolError, protocolErrorOf } from './protocol-error.js';
import type { McpGateway, TaskState } from './mcp-gateway.js';
import { AGENT_REQUEST_META, connectUpstream, linkOf, relatedNotification } from './upstream-client.js';
import { allPages } from './upstreams.js';

export type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const PAGE = 100;

function page<T>(items: T[], cursor: string | undefined): { items: T[]; nextCursor?: string } {
  let offset = 0;
  if (cursor !== undefined) {
    const n = Number.parseInt(Buffer.from(cursor, 'base64url').toString(), 10);
    if (!Number.isInteger(n) || n < 0 || n > items.length) throw protocolError(-32602, `invalid cursor ${q(cursor)}`);
    offset = n;
  }
  const slice = items.slice(offset, offset + PAGE);
  const next = offset + PAGE < items.length ? Buffer.from(String(offset + PAGE)).toString('base64url') : undefined;
  return next ? { items: slice, nextCursor: next } : { items: slice };
}

export class AgentSession {
  readonly server: Server;
  transport!: AgentHttpTransport;
  id: string | undefined;
  lastSeen = Date.now();
  closed = false;
  private readonly clients = new Map<string, Promise<Client>>();
  private logLevel: LoggingLevel | undefined;
  /** Resource URIs this agent subscribed to: only their updates reach it. */
  readonly subscriptions = new Set<string>();
  /** Resource lists of this session's own upstream connections, once they changed during the session. */
  private readonly ownResources = new Map<string, Resource[]>();
  private readonly ownPrompts = new Map<string, Prompt[]>();
  private readonly relist = new Map<string, Promise<void>>();
  private readonly capabilities: ServerCapabilities;

  constructor(
    readonly gateway: McpGateway,
    readonly agent: Agent,
    readonly state: TaskState,
  ) {
    const up = gateway.upstreams;
    const anyOffers = (test: Parameters<typeof up.offers>[1]) => up.names().some((n) => up.offers(n, test));
    const capabilities: ServerCapabilities = {
      tools: { listChanged: true },
      resources: { listChanged: true, ...(anyOffers((c) => c.resources?.subscribe) ? { subscribe: true } : {}) },
      prompts: { listChanged: true },
      logging: {},
      ...(anyOffers((c) => c.completions) ? { completions: {} } : {}),
    };
    this.capabilities = capabilities;
    this.server = new Server({ name: 'mandate', version: '0.1.0' }, { capabilities, instructions: this.instructions() });
    this.install();
  }

  /**
   * Mandate's line about the task, then each upstream's own instructions, for the upstreams this
   * task can use (an agent connected directly would have read them).
   */
  private instructions(): string {
    const gw = this.gateway;
    const used = new Set(gw.visibleTools(this.agent, this.state).map((t) => t.upstream));
    const parts = [`Mandate gateway for task ${this.state.task.id}: ${this.state.task.intent}. Tools and prompts of the upstream servers below carry each server's prefix (by default \`<upstream>.\`).`];
    for (const name of gw.upstreams.names()) {
      const text = gw.upstreams.instructionsOf(name);
      if (text && used.has(name)) parts.push(`## Upstream \`${name}\`\n\n${redactKnownValues(text.trim())}`);
    }
    return parts.join('\n\n');
  }

  /** Re-checks the credential that carried the current request, and that it is this session's task. */
  async authenticate(extra: RequestExtra): Promise<void> {
    this.lastSeen = Date.now();
    const token = extra.authInfo?.token;
    if (!token) throw new MandateError('invalid_token', 'no credential on this request');
    const claims = await this.gateway.credentials.verify(token, this.gateway.endpoints.mcp);
    if (claims.task_id !== this.state.task.id) throw new MandateError('invalid_token', 'credential belongs to another task than this session');
    if ((claims.sv ?? 0) < (this.state.task.scopeVersion ?? 0)) throw new MandateError('invalid_token', 'this credential was issued before the task was amended: use the credential the amendment returned');
  }

  private install(): void {
    const s = this.server;
    const gw = this.gateway;

    s.setRequestHandler(ListToolsRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const visible = gw.visibleTools(this.agent, this.state).map(toMcpTool);
      const p = page(visible, req.params?.cursor);
      return p.nextCursor ? { tools: p.items, nextCursor: p.nextCursor } : { tools: p.items };
    });

    s.setRequestHandler(CallToolRequestSchema, (req, extra) => callTool(this, req, extra));

    s.setRequestHandler(ListResourcesRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      await Promise.all(this.relist.values());
      const p = page(gw.visibleResources(this.state, this.ownResources), req.params?.cursor);
      return p.nextCursor ? { resources: p.items, nextCursor: p.nextCursor } : { resources: p.items };
    });

    s.setRequestHandler(ListResourceTemplatesRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const p = page(gw.visibleTemplates(this.state), req.params?.cursor);
      return p.nextCursor ? { resourceTemplates: p.items, nextCursor: p.nextCursor } : { resourceTemplates: p.items };
    });

    // Subscriptions: only to resources this task may read, on this session's own connection
    // (its updates come back to this agent alone).
    // (The SDK lets a server handle only what it declared.)
    const declared = this.capabilities;
    if (declared.resources?.subscribe) s.setRequestHandler(SubscribeRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const uri = req.params.uri;
      const upstream = await this.readableResource(uri, 'resource.subscribe');
      if (!gw.upstreams.offers(upstream, (c) => c.resources?.subscribe)) throw protocolError(-32601, `upstream ${q(upstream)} does not offer resource subscriptions`);
      const client = await this.upstreamClient(upstream);
      const r = await this.relayed(upstream, client.subscribeResource({ uri }, { signal: extra.signal, timeout: gw.timeoutMs(upstream) }));
      this.subscriptions.add(uri);
      return r;
    });
    if (declared.resources?.subscribe) s.setRequestHandler(UnsubscribeRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const uri = req.params.uri;
      const upstream = gw.upstreamOfResource(uri);
      this.subscriptions.delete(uri);
      if (!upstream) return {};
      const client = await this.upstreamClient(upstream);
      return this.relayed(upstream, client.unsubscribeResource({ uri }, { signal: extra.signal, timeout: gw.timeoutMs(upstream) }));
    });

    // Completions: for a prompt this task may get, or a resource template it may read from.
    if (declared.completions) s.setRequestHandler(CompleteRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const ref = req.params.ref;
      let upstream: string;
      let params: typeof req.params;
      if (ref.type === 'ref/prompt') {
        const { upstream: u, name } = this.promptRef(ref.name);
        const d = gw.authorizer.authorizePrompt(this.agent, this.state.task, u, name);
        if (d.decision !== 'allow') throw protocolError(-32001, `denied by Mandate: ${d.reasons.join('; ')} (decision ${d.id})`);
        upstream = u;
        params = { ...req.params, ref: { ...ref, name } };
      } else {
        const uri = (ref as { uri: string }).uri;
        const found = gw.upstreams.names().find((n) => gw.upstreams.resourcesOf(n).templates.some((t) => t.uriTemplate === uri) || gw.upstreams.resourcesOf(n).resources.some((r) => r.uri === uri));
        if (!found || (!gw.visibleTemplates(this.state).some((t) => t.uriTemplate === uri) && !gw.visibleResources(this.state).some((r) => r.uri === uri))) {
          throw protocolError(-32602, `no resource template ${q(uri)} in this task's resources`);
        }
        upstream = found;
        params = req.params;
      }
      if (!gw.upstreams.offers(upstream, (c) => c.completions)) return { completion: { values: [] } };
      const client = await this.upstreamClient(upstream);
      return this.relayed(upstream, client.complete(params, { signal: extra.signal, timeout: gw.timeoutMs(upstream) }));
    });

    s.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const uri = req.params.uri;
      const upstream = await this.readableResource(uri, 'resource.read');
      const client = await this.upstreamClient(upstream);
      const r = redactKnownValues(await this.relayed(upstream, client.readResource({ uri, _meta: forwardedMeta(req.params._meta, extra.requestId) }, { signal: extra.signal, timeout: gw.timeoutMs(upstream) })));
      await gw.taint(this.state, gw.resourceClassification(upstream));
      return r;
    });

    s.setRequestHandler(ListPromptsRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      await Promise.all(this.relist.values());
      const p = page(gw.visiblePrompts(this.ownPrompts), req.params?.cursor);
      return p.nextCursor ? { prompts: p.items, nextCursor: p.nextCursor } : { prompts: p.items };
    });

    s.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      await Promise.all(this.relist.values());
      const { upstream, name } = this.promptRef(req.params.name);
      const d = gw.authorizer.authorizePrompt(this.agent, this.state.task, upstream, name);
      await gw.auditDecision(this, 'prompt.get', req.params.name, d);
      if (d.decision !== 'allow') throw protocolError(-32001, `denied by Mandate: ${d.reasons.join('; ')} (decision ${d.id})`);
      const client = await this.upstreamClient(upstream);
      const params = { name, ...(req.params.arguments ? { arguments: req.params.arguments } : {}), _meta: forwardedMeta(req.params._meta, extra.requestId) };
      return redactKnownValues(await this.relayed(upstream, client.getPrompt(params, { signal: extra.signal, timeout: gw.timeoutMs(upstream) })));
    });

    s.setRequestHandler(SetLevelRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      this.logLevel = req.params.level;
      for (const [name, c] of this.clients) {
        const client = await c.catch(() => null);
        if (client?.getServerCapabilities()?.logging) await client.setLoggingLevel(req.params.level).catch(() => gw.logger?.debug({ upstream: name }, 'setLevel not accepted upstream'));
      }
      return {};
    });

    // The agent's roots changed: tell every upstream this session talks to.
    s.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
      for (const c of this.clients.values()) (await c.catch(() => null))?.sendRootsListChanged().catch(() => undefined);
    });
  }

  /** An upstream's answer, or its JSON-RPC error as it sent it (or Mandate's account of a timeout or lost connection). */
  private async relayed<T>(upstream: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw protocolErrorOf(err) ?? protocolError(-32603, this.gateway.describeUpstreamError(err, upstream));
    }
  }

  /** `<upstream>.<prompt>` → its parts, if the upstream offers that prompt. */
  private promptRef(full: string): { upstream: string; name: string } {
    const gw = this.gateway;
    for (const upstream of gw.upstreams.names()) {
      const prefix = gw.promptPrefix(upstream);
      if (!full.startsWith(prefix)) continue;
      const name = full.slice(prefix.length);
      if ((this.ownPrompts.get(upstream) ?? gw.upstreams.promptsOf(upstream)).some((p) => p.name === name)) return { upstream, name };
    }
    throw protocolError(-32602, `unknown prompt ${q(full)}`);
  }

  /** The upstream of a resource this task may read (audited as `type`), or a protocol error saying why not. */
  private async readableResource(uri: string, type: string): Promise<string> {
    const gw = this.gateway;
    await Promise.all(this.relist.values());
    const upstream = [...this.ownResources].find(([, list]) => list.some((r) => r.uri === uri))?.[0] ?? gw.upstreamOfResource(uri);
    const d = gw.authorizer.authorizeResource(this.agent, this.state.task, uri);
    await gw.auditDecision(this, type, uri, d);
    if (d.decision !== 'allow') throw protocolError(-32001, `denied by Mandate: ${d.reasons.join('; ')} (decision ${d.id})`);
    if (!upstream) throw protocolError(-32602, `no upstream offers resource ${q(uri)}`);
    return upstream;
  }

  /** The client for an upstream: this session's own (`sharing: session`) or the shared one. */
  upstreamClient(name: string): Promise<Client> {
    const cfg = this.gateway.upstreams.config(name);
    if (!cfg || (cfg.kind ?? 'mcp') !== 'mcp' || (!cfg.command && !cfg.url)) return Promise.reject(new Error(`upstream ${q(name)} has no connection configured`));
    if (cfg.sharing === 'shared') {
      const c = this.gateway.upstreams.sharedClient(name);
      return c ? Promise.resolve(c) : Promise.reject(new Error(`upstream ${q(name)} is not connected`));
    }
    let p = this.clients.get(name);
    if (!p) {
      p = this.connectOwn(name);
      this.clients.set(name, p);
      p.catch(() => this.clients.delete(name));
    }
    return p;
  }

  private async connectOwn(name: string): Promise<Client> {
    // A stdio upstream of its own is a process: a global cap, with a short queue, keeps many
    // sessions from spawning without bound (each may cost tens of MB).
    const release = this.gateway.upstreams.config(name)?.command ? await this.gateway.upstreamSlot() : () => undefined;
    try {
      return await this.connectOwnWithSlot(name, release);
    } catch (err) {
      release();
      throw err;
    }
  }

  private async connectOwnWithSlot(name: string, release: () => void): Promise<Client> {
    const agentCaps = this.server.getClientCapabilities() ?? {};
    // Offer upstream exactly what the agent offers us (sampling, elicitation, roots), so relaying is honest.
    const capabilities: ClientCapabilities = {};
    if (agentCaps.sampling) capabilities.sampling = agentCaps.sampling;
    if (agentCaps.elicitation) capabilities.elicitation = agentCaps.elicitation;
    if (agentCaps.roots) capabilities.roots = agentCaps.roots;
    const client = await connectUpstream({
      name,
      config: this.gateway.upstreams.config(name)!,
      baseDir: this.gateway.baseDir,
      secrets: this.gateway.upstreams.secrets,
      capabilities,
      logger: this.gateway.logger,
      setup: (c) => {
        // Server-to-client requests go back to this agent, and only what it said it supports, on
        // the stream of the agent's call they serve (a client need not open a GET stream).
        const on = (extra: { requestId: RequestId; signal: AbortSignal }) => {
          const relatedRequestId = linkOf(c)?.relatedOf(extra.requestId);
          return relatedRequestId === undefined ? { signal: extra.signal } : { signal: extra.signal, relatedRequestId };
        };
        // Relayed as they are: the upstream asked, the agent answers, the upstream judges the
        // answer (the SDK's own helpers would check it against the request here instead).
        const relay = <T extends z.ZodType>(method: string, schema: T) => (req: { params?: unknown }, extra: { requestId: RequestId; signal: AbortSignal }) =>
          this.server.request({ method, params: req.params as Record<string, unknown> }, schema, on(extra));
        if (capabilities.sampling) c.setRequestHandler(CreateMessageRequestSchema, relay('sampling/createMessage', CreateMessageResultSchema) as never);
        if (capabilities.elicitation) c.setRequestHandler(ElicitRequestSchema, relay('elicitation/create', ElicitResultSchema) as never);
        if (capabilities.roots) c.setRequestHandler(ListRootsRequestSchema, relay('roots/list', ListRootsResultSchema) as never);
        c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
          const { agentRequest, params } = relatedNotification(n.params);
          if (this.subscriptions.has(params.uri)) void this.server.notification({ method: n.method, params }, related(agentRequest)).catch(() => undefined);
        });
        // Resources this session's upstream created or dropped: its own list is read again (the
        // discovery connection is another session and would not have them), and the agent is
        // told at once, on the call's stream if a call caused it.
        c.setNotificationHandler(ResourceListChangedNotificationSchema, (n) => {
          const { agentRequest } = relatedNotification(n.params ?? {});
          this.relist.set(name, allPages(async (cursor) => {
            const r = await c.listResources(cursor ? { cursor } : undefined);
            return { items: r.resources, nextCursor: r.nextCursor };
          }).then((list) => void this.ownResources.set(name, list)).catch(() => undefined));
          void this.server.notification({ method: n.method }, related(agentRequest)).catch(() => undefined);
        });
        c.setNotificationHandler(PromptListChangedNotificationSchema, (n) => {
          const { agentRequest } = relatedNotification(n.params ?? {});
          this.relist.set(`${name}#prompts`, allPages(async (cursor) => {
            const r = await c.listPrompts(cursor ? { cursor } : undefined);
            return { items: r.prompts, nextCursor: r.nextCursor };
          }).then((list) => void this.ownPrompts.set(name, list)).catch(() => undefined));
          void this.server.notification({ method: n.method }, related(agentRequest)).catch(() => undefined);
        });
        c.setNotificationHandler(ToolListChangedNotificationSchema, () => void this.gateway.upstreams.refresh(name).catch(() => undefined));
        // Log messages: on the stream of the call that produced them, at the agent's level.
        c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
          const { agentRequest, params } = relatedNotification(n.params);
          if (this.logLevel && LEVELS.indexOf(params.level) < LEVELS.indexOf(this.logLevel)) return;
          void this.server.notification({ method: n.method, params: redactKnownValues(params) }, agentRequest === undefined ? undefined : { relatedRequestId: agentRequest }).catch(() => undefined);
        });
      },
    });
    client.onclose = () => {
      release();
      // A crashed upstream: the next call reconnects.
      if (this.clients.get(name)) this.clients.delete(name);
    };
    if (this.closed) {
      await client.close();
      throw new Error('session closed');
    }
    if (this.logLevel && client.getServerCapabilities()?.logging) await client.setLoggingLevel(this.logLevel).catch(() => undefined);
    return client;
  }

  /**
   * Step 7 of the data path: forward with limits, progress and cancellation relayed. The agent's
   * `_meta` goes along (its progress token is replaced by the SDK's own and mapped back).
   */
  async forwardToolCall(tool: ToolSpec, args: Record<string, unknown>, extra: RequestExtra, meta?: Record<string, unknown>): Promise<CallToolResult> {
    const client = await this.upstreamClient(tool.upstream);
    const progressToken = extra._meta?.progressToken;
    const timeout = this.gateway.timeoutMs(tool.upstream);
    const params = { name: tool.remoteName, arguments: args, _meta: forwardedMeta(meta, extra.requestId) };
    const result = await client.request({ method: 'tools/call', params }, CallToolResultSchema, {
      signal: extra.signal,
      timeout,
      resetTimeoutOnProgress: true,
      maxTotalTimeout: timeout * 10,
      ...(progressToken !== undefined
        ? {
            onprogress: (p) => {
              void extra.sendNotification({ method: 'notifications/progress', params: { ...p, progressToken } }).catch(() => undefined);
            },
          }
        : {}),
    });
    return result as CallToolResult;
  }

  /** Tells the agent which of its lists changed (tools by default: a policy reload changes what it may call). */
  async notifyListChanged(change: { tools: boolean; resources: boolean; prompts: boolean } = { tools: true, resources: false, prompts: false }): Promise<void> {
    if (this.closed) return;
    if (change.tools) await this.server.sendToolListChanged().catch(() => undefined);
    if (change.resources) await this.server.sendResourceListChanged().catch(() => undefined);
    if (change.prompts) await this.server.sendPromptListChanged().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const clients = [...this.clients.values()];
    this.clients.clear();
    for (const c of clients) await (await c.catch(() => null))?.close().catch(() => undefined);
    await this.transport?.close().catch(() => undefined);
    await this.server.close().catch(() => undefined);
  }
}

const related = (agentRequest: RequestId | undefined) => (agentRequest === undefined ? undefined : { relatedRequestId: agentRequest });

const LEVELS: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** The agent's `_meta` without its progress token, plus the internal marker the link strips. */
export function forwardedMeta(meta: Record<string, unknown> | undefined, agentRequest: RequestId): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta ?? {})) if (k !== 'progressToken' && k !== AGENT_REQUEST_META) out[k] = v;
  out[AGENT_REQUEST_META] = agentRequest;
  return out;
}

function toMcpTool(t: ToolSpec): Tool {
  const tool: Tool = {
    name: t.name,
    description: t.description,
    inputSchema: (t.inputSchema as Tool['inputSchema']) ?? { type: 'object', properties: {} },
  };
  if (t.title) tool.title = t.title;
  if (t.annotations) tool.annotations = t.annotations as Tool['annotations'];
  if (t.outputSchema) tool.outputSchema = t.outputSchema as Tool['outputSchema'];
  if (t.icons) tool.icons = t.icons as Tool['icons'];
  if (t.meta) tool._meta = t.meta;
  if (t.execution) tool.execution = t.execution as Tool['execution'];
  return tool;
}
