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
  CallToolResultSchema,
  CreateMessageRequestSchema,
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
  ResourceUpdatedNotificationSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type ClientCapabilities,
  type LoggingLevel,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { MandateError, q } from '../core/errors.js';
import { redactKnownValues } from '../audit/redact.js';
import type { ToolSpec } from '../core/tool.js';
import type { Agent } from '../storage/types.js';
import { callTool } from './call-tool.js';
import type { McpGateway, TaskState } from './mcp-gateway.js';
import { connectUpstream } from './upstream-client.js';

export type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const PAGE = 100;

function page<T>(items: T[], cursor: string | undefined): { items: T[]; nextCursor?: string } {
  let offset = 0;
  if (cursor !== undefined) {
    const n = Number.parseInt(Buffer.from(cursor, 'base64url').toString(), 10);
    if (!Number.isInteger(n) || n < 0 || n > items.length) throw new McpError(-32602, `invalid cursor ${q(cursor)}`);
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

  constructor(
    readonly gateway: McpGateway,
    readonly agent: Agent,
    readonly state: TaskState,
  ) {
    this.server = new Server(
      { name: 'mandate', version: '0.1.0' },
      {
        capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, logging: {} },
        instructions: `Mandate gateway for task ${state.task.id}: ${state.task.intent}`,
      },
    );
    this.install();
  }

  /** Re-checks the credential that carried the current request, and that it is this session's task. */
  async authenticate(extra: RequestExtra): Promise<void> {
    this.lastSeen = Date.now();
    const token = extra.authInfo?.token;
    if (!token) throw new MandateError('invalid_token', 'no credential on this request');
    const claims = await this.gateway.credentials.verify(token, this.gateway.endpoints.mcp);
    if (claims.task_id !== this.state.task.id) throw new MandateError('invalid_token', 'credential belongs to another task than this session');
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
      const p = page(gw.visibleResources(this.state), req.params?.cursor);
      return p.nextCursor ? { resources: p.items, nextCursor: p.nextCursor } : { resources: p.items };
    });

    s.setRequestHandler(ListResourceTemplatesRequestSchema, async (_req, extra) => {
      await this.authenticate(extra);
      return { resourceTemplates: [] };
    });

    s.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const uri = req.params.uri;
      const upstream = gw.upstreamOfResource(uri);
      const d = gw.authorizer.authorizeResource(this.agent, this.state.task, uri);
      await gw.auditDecision(this, 'resource.read', uri, d);
      if (d.decision !== 'allow') throw new McpError(-32001, `denied by Mandate: ${d.reasons.join('; ')} (decision ${d.id})`);
      if (!upstream) throw new McpError(-32602, `no upstream offers resource ${q(uri)}`);
      const client = await this.upstreamClient(upstream);
      const r = redactKnownValues(await client.readResource({ uri }, { signal: extra.signal, timeout: gw.timeoutMs(upstream) }));
      await gw.taint(this.state, gw.resourceClassification(upstream));
      return r;
    });

    s.setRequestHandler(ListPromptsRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const p = page(gw.visiblePrompts(), req.params?.cursor);
      return p.nextCursor ? { prompts: p.items, nextCursor: p.nextCursor } : { prompts: p.items };
    });

    s.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      await this.authenticate(extra);
      const dot = req.params.name.indexOf('.');
      if (dot < 1) throw new McpError(-32602, `unknown prompt ${q(req.params.name)}`);
      const upstream = req.params.name.slice(0, dot);
      const name = req.params.name.slice(dot + 1);
      if (!gw.upstreams.promptsOf(upstream).some((p) => p.name === name)) throw new McpError(-32602, `unknown prompt ${q(req.params.name)}`);
      const d = gw.authorizer.authorizePrompt(this.agent, this.state.task, upstream, name);
      await gw.auditDecision(this, 'prompt.get', req.params.name, d);
      if (d.decision !== 'allow') throw new McpError(-32001, `denied by Mandate: ${d.reasons.join('; ')} (decision ${d.id})`);
      const client = await this.upstreamClient(upstream);
      return redactKnownValues(await client.getPrompt({ name, ...(req.params.arguments ? { arguments: req.params.arguments } : {}) }, { signal: extra.signal, timeout: gw.timeoutMs(upstream) }));
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

  /** The client for an upstream: this session's own (`sharing: session`) or the shared one. */
  upstreamClient(name: string): Promise<Client> {
    const cfg = this.gateway.upstreams.config(name);
    if (!cfg || (!cfg.command && !cfg.url)) return Promise.reject(new Error(`upstream ${q(name)} has no connection configured`));
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
      capabilities,
      logger: this.gateway.logger,
      setup: (c) => {
        // Server-to-client requests go back to this agent, and only what it said it supports.
        if (capabilities.sampling) c.setRequestHandler(CreateMessageRequestSchema, (req, extra) => this.server.createMessage(req.params, { signal: extra.signal }));
        if (capabilities.elicitation) c.setRequestHandler(ElicitRequestSchema, (req, extra) => this.server.elicitInput(req.params as never, { signal: extra.signal }));
        if (capabilities.roots) c.setRequestHandler(ListRootsRequestSchema, (req, extra) => this.server.listRoots(req.params, { signal: extra.signal }));
        c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => this.server.sendLoggingMessage(n.params).catch(() => undefined));
        c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => this.server.sendResourceUpdated(n.params).catch(() => undefined));
        c.setNotificationHandler(ToolListChangedNotificationSchema, () => void this.gateway.upstreams.refresh(name).catch(() => undefined));
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

  /** Step 7 of the data path: forward with limits, progress and cancellation relayed. */
  async forwardToolCall(tool: ToolSpec, args: Record<string, unknown>, extra: RequestExtra): Promise<CallToolResult> {
    const client = await this.upstreamClient(tool.upstream);
    const progressToken = extra._meta?.progressToken;
    const timeout = this.gateway.timeoutMs(tool.upstream);
    const result = await client.request({ method: 'tools/call', params: { name: tool.remoteName, arguments: args } }, CallToolResultSchema, {
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

  async notifyListChanged(): Promise<void> {
    if (this.closed) return;
    await this.server.sendToolListChanged().catch(() => undefined);
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

function toMcpTool(t: ToolSpec): Tool {
  const tool: Tool = {
    name: t.name,
    description: t.description,
    inputSchema: (t.inputSchema as Tool['inputSchema']) ?? { type: 'object', properties: {} },
  };
  if (t.title) tool.title = t.title;
  if (t.annotations) tool.annotations = t.annotations as Tool['annotations'];
  return tool;
}
