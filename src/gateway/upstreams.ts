// Keeps one discovery connection per upstream: reads its tools, resources and prompts, pins tool
// definitions, updates the catalogue (and so the generated Cedar schema), follows list-changed
// notifications, and restarts a crashed upstream with backoff.

import { redactText } from '../audit/redact.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type ClientCapabilities,
  type Prompt,
  type Resource,
  type ResourceTemplate,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import type { DiscoveredTool, ToolCatalog } from './catalog.js';
import type { ToolPins } from './pins.js';
import { connectUpstream, hasTransport, type SecretResolver } from './upstream-client.js';

export interface UpstreamStatus {
  name: string;
  /** `mcp` (an MCP server), `http` (a REST API at /http/<name>/…), `postgres` (per-task database roles). */
  kind: 'mcp' | 'http' | 'postgres';
  transport: 'stdio' | 'http' | 'none';
  sharing: 'session' | 'shared';
  connected: boolean;
  tools: number;
  blocked: number;
  lastError: string | null;
  restarts: number;
}

interface Entry {
  name: string;
  config: UpstreamConfig;
  client: Client | null;
  connecting: Promise<void> | null;
  resources: Resource[];
  templates: ResourceTemplate[];
  prompts: Prompt[];
  instructions: string | undefined;
  blocked: number;
  lastError: string | null;
  restarts: number;
  retryTimer: NodeJS.Timeout | null;
  backoffMs: number;
}

const MAX_PAGES = 50;

/**
 * What the discovery connection declares: everything Mandate can relay to an agent, so tools an
 * upstream offers only to capable clients (sampling, elicitation, roots) are discovered. Each
 * agent session then connects with exactly what that agent declared.
 */
export const DISCOVERY_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };

/** What changed in one rediscovery, so agents hear about each list that did. */
export interface UpstreamChange {
  tools: boolean;
  resources: boolean;
  prompts: boolean;
}

/** Every page of a list (bounded), the way a direct client pages through it. */
export async function allPages<T>(list: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await list(cursor);
    out.push(...r.items);
    cursor = r.nextCursor;
    if (!cursor) break;
  }
  return out;
}

export class UpstreamManager {
  /** Resolves `${secret:<name>}` in upstream env and headers (set before start). */
  secrets: SecretResolver | undefined;
  private readonly entries = new Map<string, Entry>();
  private closing = false;
  private readonly changeListeners = new Set<(upstream: string, change: UpstreamChange) => void>();

  constructor(
    private readonly upstreams: Record<string, UpstreamConfig>,
    private readonly baseDir: string,
    private readonly catalog: ToolCatalog,
    private readonly pins: ToolPins,
    private readonly onCatalogChanged: () => Promise<void>,
    private readonly logger?: Logger,
  ) {
    for (const [name, config] of Object.entries(upstreams)) {
      if (!hasTransport(config)) continue;
      this.entries.set(name, { name, config, client: null, connecting: null, resources: [], templates: [], prompts: [], instructions: undefined, blocked: 0, lastError: null, restarts: 0, retryTimer: null, backoffMs: 1000 });
    }
  }

  /**
   * Puts every upstream's pinned tool definitions in the catalogue (until it is discovered live):
   * an upstream that is down, or a CLI working without connecting, must not make policies that
   * name its tools invalid.
   */
  async seedFromPins(): Promise<void> {
    for (const name of this.entries.keys()) this.catalog.setPinned(name, await this.pins.accepted(name));
  }

  /** Connects and discovers every upstream; waits at most `waitMs` (slow ones finish in the background). */
  async start(waitMs = 20_000): Promise<void> {
    await this.seedFromPins();
    const all = [...this.entries.values()].map((e) => this.connect(e));
    await Promise.race([Promise.allSettled(all), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  /** Called when anything an upstream offers changed (sessions forward list_changed). */
  onChange(listener: (upstream: string, change: UpstreamChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  config(name: string): UpstreamConfig | undefined {
    return this.upstreams[name];
  }

  /** The discovery connection (used directly by `sharing: shared` upstreams). */
  sharedClient(name: string): Client | null {
    return this.entries.get(name)?.client ?? null;
  }

  resourcesOf(name: string): { resources: Resource[]; templates: ResourceTemplate[] } {
    const e = this.entries.get(name);
    return { resources: e?.resources ?? [], templates: e?.templates ?? [] };
  }

  promptsOf(name: string): Prompt[] {
    return this.entries.get(name)?.prompts ?? [];
  }

  /** The upstream's own `instructions`, as its initialize answer gave them. */
  instructionsOf(name: string): string | undefined {
    return this.entries.get(name)?.instructions;
  }

  /** Whether the upstream's discovery connection declared a server capability (`completions`, resource `subscribe` …). */
  offers(name: string, test: (caps: NonNullable<ReturnType<Client['getServerCapabilities']>>) => unknown): boolean {
    const caps = this.entries.get(name)?.client?.getServerCapabilities();
    return Boolean(caps && test(caps));
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  status(): UpstreamStatus[] {
    return Object.entries(this.upstreams).map(([name, config]) => {
      const e = this.entries.get(name);
      return {
        name,
        kind: config.kind,
        transport: config.kind !== 'mcp' ? 'none' : config.command ? 'stdio' : config.url ? 'http' : 'none',
        sharing: config.sharing,
        connected: Boolean(e?.client),
        tools: this.catalog.toolsOf(name).filter((t) => !t.blocked).length,
        blocked: e?.blocked ?? 0,
        lastError: e?.lastError ?? null,
        restarts: e?.restarts ?? 0,
      };
    });
  }

  /** Re-reads an upstream's lists now (after an admin accepted a change, say). */
  async refresh(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (e?.client) await this.discover(e, e.client);
  }

  private connect(e: Entry): Promise<void> {
    if (e.connecting) return e.connecting;
    e.connecting = (async () => {
      try {
        const client = await connectUpstream({
          name: e.name,
          config: e.config,
          baseDir: this.baseDir,
          secrets: this.secrets,
          logger: this.logger,
          capabilities: DISCOVERY_CAPABILITIES,
          setup: (c) => {
            const rediscover = async () => {
              await this.discover(e, c).catch((err) => this.logger?.warn({ upstream: e.name, err: (err as Error).message }, 'rediscovery failed'));
            };
            c.setNotificationHandler(ToolListChangedNotificationSchema, rediscover);
            c.setNotificationHandler(ResourceListChangedNotificationSchema, rediscover);
            c.setNotificationHandler(PromptListChangedNotificationSchema, rediscover);
            // This connection serves no agent: what needs one is refused, clearly. (Calls made
            // for an agent go over that agent's own connection, which relays these.)
            const noAgent = () => {
              throw new McpError(-32603, `Mandate's discovery connection to ${e.name} has no agent to ask; requests like this are relayed only during an agent's own session`);
            };
            c.setRequestHandler(CreateMessageRequestSchema, noAgent);
            c.setRequestHandler(ElicitRequestSchema, noAgent);
            c.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [] }));
          },
        });
        client.onclose = () => this.lost(e, client);
        e.client = client;
        e.lastError = null;
        e.backoffMs = 1000;
        await this.discover(e, client);
        this.logger?.info({ upstream: e.name, tools: this.catalog.toolsOf(e.name).length }, 'upstream connected');
      } catch (err) {
        e.lastError = redactText((err as Error).message);
        this.logger?.warn({ upstream: e.name, error: e.lastError }, 'upstream unavailable; retrying');
        this.scheduleRetry(e);
      } finally {
        e.connecting = null;
      }
    })();
    return e.connecting;
  }

  private lost(e: Entry, client: Client): void {
    if (e.client !== client || this.closing) return;
    e.client = null;
    e.restarts++;
    e.lastError = 'connection closed (upstream exited?)';
    this.logger?.warn({ upstream: e.name }, 'upstream connection lost; restarting');
    this.scheduleRetry(e);
  }

  private scheduleRetry(e: Entry): void {
    if (this.closing || e.retryTimer) return;
    e.retryTimer = setTimeout(() => {
      e.retryTimer = null;
      // connect() records its own failures; nothing may escape a timer as an unhandled rejection.
      this.connect(e).catch((err) => this.logger?.error({ upstream: e.name, err: (err as Error)?.message }, 'upstream reconnect failed'));
    }, e.backoffMs);
    e.retryTimer.unref();
    e.backoffMs = Math.min(e.backoffMs * 2, 30_000);
  }

  private async discover(e: Entry, client: Client): Promise<void> {
    const caps = client.getServerCapabilities() ?? {};
    const tools: DiscoveredTool[] = [];
    if (caps.tools) {
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const r = await client.listTools(cursor ? { cursor } : undefined);
        for (const t of r.tools)
          tools.push({
            name: t.name,
            title: t.title,
            description: t.description,
            inputSchema: t.inputSchema as Record<string, unknown>,
            outputSchema: t.outputSchema as Record<string, unknown> | undefined,
            annotations: t.annotations as Record<string, unknown> | undefined,
            icons: t.icons,
            _meta: t._meta,
            execution: t.execution as Record<string, unknown> | undefined,
          });
        cursor = r.nextCursor;
        if (!cursor) break;
      }
    }
    const resourcesBefore = JSON.stringify([e.resources, e.templates]);
    const promptsBefore = JSON.stringify(e.prompts);
    if (caps.resources) {
      e.resources = await allPages(async (cursor) => {
        const r = await client.listResources(cursor ? { cursor } : undefined);
        return { items: r.resources, nextCursor: r.nextCursor };
      }).catch(() => [] as Resource[]);
      e.templates = await allPages(async (cursor) => {
        const r = await client.listResourceTemplates(cursor ? { cursor } : undefined);
        return { items: r.resourceTemplates, nextCursor: r.nextCursor };
      }).catch(() => [] as ResourceTemplate[]);
    }
    if (caps.prompts)
      e.prompts = await allPages(async (cursor) => {
        const r = await client.listPrompts(cursor ? { cursor } : undefined);
        return { items: r.prompts, nextCursor: r.nextCursor };
      }).catch(() => [] as Prompt[]);
    e.instructions = client.getInstructions();
    const review = await this.pins.review(e.name, tools);
    e.blocked = review.blocked.size;
    const change: UpstreamChange = {
      tools: this.catalog.setDiscovered(e.name, review.accepted, review.blocked),
      resources: resourcesBefore !== JSON.stringify([e.resources, e.templates]),
      prompts: promptsBefore !== JSON.stringify(e.prompts),
    };
    for (const [key, why] of this.catalog.clashes) if (key.startsWith(`${e.name}/`)) this.logger?.error({ upstream: e.name }, why);
    if (change.tools) await this.onCatalogChanged();
    if (change.tools || change.resources || change.prompts) for (const l of this.changeListeners) l(e.name, change);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const e of this.entries.values()) {
      if (e.retryTimer) clearTimeout(e.retryTimer);
      await e.client?.close().catch(() => undefined);
      e.client = null;
    }
  }
}
