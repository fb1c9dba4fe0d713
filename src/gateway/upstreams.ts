// Keeps one discovery connection per upstream: reads its tools, resources and prompts, pins tool
// definitions, updates the catalogue (and so the generated Cedar schema), follows list-changed
// notifications, and restarts a crashed upstream with backoff.

import { redactText } from '../audit/redact.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema, type Prompt, type Resource, type ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import type { DiscoveredTool, ToolCatalog } from './catalog.js';
import type { ToolPins } from './pins.js';
import { connectUpstream, hasTransport } from './upstream-client.js';

export interface UpstreamStatus {
  name: string;
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
  blocked: number;
  lastError: string | null;
  restarts: number;
  retryTimer: NodeJS.Timeout | null;
  backoffMs: number;
}

const MAX_PAGES = 50;

export class UpstreamManager {
  private readonly entries = new Map<string, Entry>();
  private closing = false;
  private readonly changeListeners = new Set<(upstream: string) => void>();

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
      this.entries.set(name, { name, config, client: null, connecting: null, resources: [], templates: [], prompts: [], blocked: 0, lastError: null, restarts: 0, retryTimer: null, backoffMs: 1000 });
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
  onChange(listener: (upstream: string) => void): () => void {
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

  names(): string[] {
    return [...this.entries.keys()];
  }

  status(): UpstreamStatus[] {
    return Object.entries(this.upstreams).map(([name, config]) => {
      const e = this.entries.get(name);
      return {
        name,
        transport: config.command ? 'stdio' : config.url ? 'http' : 'none',
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
          logger: this.logger,
          setup: (c) => {
            c.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
              await this.discover(e, c).catch((err) => this.logger?.warn({ upstream: e.name, err: (err as Error).message }, 'rediscovery failed'));
            });
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
        for (const t of r.tools) tools.push({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema as Record<string, unknown>, outputSchema: t.outputSchema as Record<string, unknown> | undefined, annotations: t.annotations as Record<string, unknown> | undefined });
        cursor = r.nextCursor;
        if (!cursor) break;
      }
    }
    if (caps.resources) {
      e.resources = (await client.listResources().catch(() => ({ resources: [] as Resource[] }))).resources;
      e.templates = (await client.listResourceTemplates().catch(() => ({ resourceTemplates: [] as ResourceTemplate[] }))).resourceTemplates;
    }
    if (caps.prompts) e.prompts = (await client.listPrompts().catch(() => ({ prompts: [] as Prompt[] }))).prompts;
    const review = await this.pins.review(e.name, tools);
    e.blocked = review.blocked.size;
    const changed = this.catalog.setDiscovered(e.name, review.accepted, review.blocked);
    if (changed) {
      await this.onCatalogChanged();
      for (const l of this.changeListeners) l(e.name);
    }
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
