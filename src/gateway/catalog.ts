// The tool catalogue: every tool Mandate fronts, namespaced `<upstream>.<tool>`, with its risk
// class and data classification. Config is authoritative; an unclassified tool is `write`.

import type { UpstreamConfig } from '../config/schema.js';
import type { ToolLookup, ToolSpec } from '../core/tool.js';

export class ToolCatalog implements ToolLookup {
  private tools = new Map<string, ToolSpec>();

  static fromConfig(upstreams: Record<string, UpstreamConfig>): ToolCatalog {
    const c = new ToolCatalog();
    for (const [upstream, u] of Object.entries(upstreams)) {
      for (const [name, t] of Object.entries(u.tools)) {
        c.tools.set(`${upstream}.${name}`, {
          name: `${upstream}.${name}`,
          upstream,
          description: t.description ?? '',
          risk: t.risk ?? 'write',
          classification: t.classification ?? 'internal',
          tags: t.tags,
          inputSchema: t.inputSchema,
          resources: t.resources,
        });
      }
    }
    return c;
  }

  getTool(name: string): ToolSpec | undefined {
    return this.tools.get(name);
  }

  listTools(): ToolSpec[] {
    return [...this.tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
