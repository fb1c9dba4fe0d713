// The tool catalogue: every tool Mandate fronts, namespaced `<upstream>.<tool>`, with its risk
// class and data classification. Config is authoritative; tool annotations may fill a gap the
// config leaves (when the upstream is trusted to), and an unclassified tool is `write`.

import { HTTP_METHODS, prefixOf, type UpstreamConfig } from '../config/schema.js';
import type { RiskClass, ToolLookup, ToolSpec } from '../core/tool.js';

/** A tool as an upstream describes it in `tools/list`. */
export interface DiscoveredTool {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
  inputSchema?: Record<string, unknown> | undefined;
  outputSchema?: Record<string, unknown> | undefined;
  annotations?: Record<string, unknown> | undefined;
  icons?: unknown[] | undefined;
  _meta?: Record<string, unknown> | undefined;
  execution?: Record<string, unknown> | undefined;
}

/** Risk from MCP annotations, with the spec's defaults (readOnly false, destructive true, openWorld true). */
export function riskFromAnnotations(a: Record<string, unknown>): RiskClass {
  const readOnly = a.readOnlyHint === true;
  const destructive = a.destructiveHint !== false;
  const openWorld = a.openWorldHint !== false;
  if (readOnly) return a.openWorldHint === true ? 'egress' : 'read';
  if (destructive) return 'destructive';
  return openWorld ? 'egress' : 'write';
}

/** The upstream-wide resource arguments that this tool actually has (array arguments included). */
function upstreamResources(u: UpstreamConfig, schema: Record<string, unknown> | undefined): Record<string, ToolSpec['resources'][string]> {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  return Object.fromEntries(Object.entries(u.resources).filter(([arg]) => arg in props));
}

/** Risk of an HTTP method when the config does not say: reads are `read`, DELETE is `destructive`, the rest `write`. */
function methodRisk(method: string): RiskClass {
  if (method === 'GET' || method === 'HEAD') return 'read';
  return method === 'DELETE' ? 'destructive' : 'write';
}

/** The JSON Schema of a database tool's arguments. */
const QUERY_SCHEMA = {
  type: 'object',
  properties: {
    sql: { type: 'string', description: 'One SQL statement, run as this task\'s own database role (it holds only the grants the task declared)' },
    params: { type: 'array', description: 'Positional parameters ($1, $2, …)', items: { type: ['string', 'number', 'boolean', 'null'] } },
  },
  required: ['sql'],
};

/**
 * Tools Mandate itself provides for an upstream that is not an MCP server: one per HTTP method of
 * an API (`<upstream>.GET`, reached at `/http/<upstream>/…`), or `query` and `connect` of a
 * database (executed by Mandate as the task's own role). They are defined by the config alone.
 */
function builtInTools(upstream: string, u: UpstreamConfig): ToolSpec[] {
  const prefix = prefixOf(upstream, u);
  const base = { upstream, tags: [] as string[], sensitive: [] as string[], discovered: true, blocked: null, kind: u.kind, resources: {} };
  if (u.kind === 'http') {
    return (u.methods ?? [...HTTP_METHODS]).map((method) => {
      const cfg = u.tools[method];
      return {
        ...base,
        name: `${prefix}${method}`,
        remoteName: method,
        method,
        description: cfg?.description ?? `${method} requests to the ${upstream} API (${u.description ?? u.url ?? ''})`.trim(),
        risk: cfg?.risk ?? methodRisk(method),
        classification: cfg?.classification ?? 'internal',
        tags: cfg?.tags ?? [],
        // The JSON body's schema, when the config gives one (policy sees the body as `context.args`).
        inputSchema: cfg?.inputSchema,
        additionalArguments: cfg?.additionalArguments ?? u.additionalArguments,
        trust: cfg?.trust ?? u.trust,
      };
    });
  }
  const q = u.tools.query;
  const c = u.tools.connect;
  return [
    {
      ...base,
      name: `${prefix}query`,
      remoteName: 'query',
      description: q?.description ?? `Run one SQL statement on ${upstream} as this task's own short-lived database role (only the privileges the task declared)`,
      risk: q?.risk ?? 'write',
      classification: q?.classification ?? 'internal',
      tags: q?.tags ?? [],
      inputSchema: QUERY_SCHEMA,
      additionalArguments: 'refuse',
      trust: q?.trust ?? u.trust,
    },
    {
      ...base,
      name: `${prefix}connect`,
      remoteName: 'connect',
      description: c?.description ?? `A connection string for this task's own ${upstream} database role (valid until the task ends; only if policy allows an agent to hold it)`,
      risk: c?.risk ?? 'admin',
      classification: c?.classification ?? 'secret',
      tags: c?.tags ?? [],
      inputSchema: { type: 'object', properties: {} },
      additionalArguments: 'refuse',
    },
  ];
}

export class ToolCatalog implements ToolLookup {
  private tools = new Map<string, ToolSpec>();
  private readonly discovered = new Map<string, DiscoveredTool[]>();
  /** What was last pinned for upstreams not (yet) connected: known to policy, not callable. */
  private readonly pinned = new Map<string, DiscoveredTool[]>();
  private readonly blocked = new Map<string, Map<string, string>>();
  /** `upstream/tool` → why it is not offered (its name as agents see it clashes with another upstream's). */
  readonly clashes = new Map<string, string>();

  constructor(private readonly upstreams: Record<string, UpstreamConfig>) {
    this.rebuild();
  }

  static fromConfig(upstreams: Record<string, UpstreamConfig>): ToolCatalog {
    return new ToolCatalog(upstreams);
  }

  /**
   * Replaces what an upstream offers: its accepted (pinned) definitions, and the names of tools
   * whose definition changed and awaits acceptance (hidden and denied). Returns whether anything changed.
   */
  setDiscovered(upstream: string, tools: DiscoveredTool[], blocked: Map<string, string> = new Map()): boolean {
    const before = JSON.stringify(this.toolsOf(upstream));
    this.discovered.set(upstream, tools);
    this.blocked.set(upstream, blocked);
    this.rebuild();
    return JSON.stringify(this.toolsOf(upstream)) !== before;
  }

  /**
   * Seeds an upstream's tools from their pinned definitions, for as long as nothing was
   * discovered from it: policies and task scopes naming them stay valid while it is down, and
   * calls to them fail as "not connected" instead of the whole server refusing to start.
   */
  setPinned(upstream: string, tools: DiscoveredTool[]): void {
    this.pinned.set(upstream, tools);
    this.rebuild();
  }

  private rebuild(): void {
    const next = new Map<string, ToolSpec>();
    this.clashes.clear();
    for (const [upstream, u] of Object.entries(this.upstreams)) {
      if (u.kind === 'http' || u.kind === 'postgres') {
        for (const t of builtInTools(upstream, u)) next.set(t.name, t);
        continue;
      }
      const live = this.discovered.get(upstream);
      const found = new Map((live ?? []).map((t) => [t.name, t]));
      const known = live ? new Map<string, DiscoveredTool>() : new Map((this.pinned.get(upstream) ?? []).map((t) => [t.name, t]));
      const names = new Set([...Object.keys(u.tools), ...found.keys(), ...known.keys(), ...(this.blocked.get(upstream)?.keys() ?? [])]);
      for (const name of names) {
        const cfg = u.tools[name];
        const d = found.get(name) ?? known.get(name);
        const risk: RiskClass = cfg?.risk ?? (u.trustAnnotations && d?.annotations ? riskFromAnnotations(d.annotations) : 'write');
        const full = `${prefixOf(upstream, u)}${name}`;
        const clash = next.get(full);
        if (clash && clash.upstream !== upstream) {
          // Another upstream already offers this name (prefixes allow it, e.g. an empty one):
          // the first keeps it, this one is refused, and says why.
          this.clashes.set(`${upstream}/${name}`, `tool ${JSON.stringify(full)} of upstream \`${upstream}\` has the same name as a tool of \`${clash.upstream}\`: it is not offered (set a distinct \`prefix\` on one of them)`);
          continue;
        }
        next.set(full, {
          name: full,
          upstream,
          remoteName: name,
          title: d?.title,
          description: cfg?.description ?? d?.description ?? '',
          risk,
          classification: cfg?.classification ?? 'internal',
          tags: cfg?.tags ?? [],
          sensitive: cfg?.sensitive ?? [],
          additionalArguments: cfg?.additionalArguments ?? u.additionalArguments ?? 'refuse',
          trust: cfg?.trust ?? u.trust,
          inputSchema: d?.inputSchema ?? cfg?.inputSchema,
          resources: { ...upstreamResources(u, d?.inputSchema ?? cfg?.inputSchema), ...(cfg?.resources ?? {}) },
          annotations: d?.annotations,
          outputSchema: d?.outputSchema,
          icons: d?.icons,
          meta: d?._meta,
          execution: d?.execution,
          discovered: found.has(name),
          blocked: this.blocked.get(upstream)?.get(name) ?? null,
        });
      }
    }
    this.tools = next;
  }

  getTool(name: string): ToolSpec | undefined {
    return this.tools.get(name);
  }

  listTools(): ToolSpec[] {
    return [...this.tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  toolsOf(upstream: string): ToolSpec[] {
    return this.listTools().filter((t) => t.upstream === upstream);
  }
}
