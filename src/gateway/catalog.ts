// The tool catalogue: every tool Mandate fronts, namespaced `<upstream>.<tool>`, with its risk
// class and data classification. Config is authoritative; tool annotations may fill a gap the
// config leaves (when the upstream is trusted to), and an unclassified tool is `write`.

import { prefixOf, type UpstreamConfig } from '../config/schema.js';
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
