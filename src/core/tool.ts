// What the rest of Mandate knows about one tool, whatever upstream it comes from.

export type RiskClass = 'read' | 'write' | 'destructive' | 'egress' | 'admin';
export type Classification = 'public' | 'internal' | 'confidential' | 'secret';
export type ResourceKind = 'path' | 'url' | 'email' | 'uri';

export interface ToolSpec {
  /** Namespaced name: `<upstream>.<tool>`; also its Cedar action id. */
  name: string;
  upstream: string;
  description: string;
  risk: RiskClass;
  classification: Classification;
  tags: string[];
  /** JSON Schema of the arguments, if known. */
  inputSchema: Record<string, unknown> | undefined;
  /** JSON Schema of `structuredContent`, if the upstream declares one (pinned; results are checked against it). */
  outputSchema?: Record<string, unknown> | undefined;
  /** Shown to agents as the upstream declared them (not pinned: presentation only). */
  icons?: unknown[] | undefined;
  meta?: Record<string, unknown> | undefined;
  execution?: Record<string, unknown> | undefined;
  /** Arguments that name resources, and how to turn their values into resource URIs. */
  resources: Record<string, ResourceKind>;
  /** Arguments redacted wherever an approval shows the call. */
  sensitive?: string[];
  /** `allow`: arguments the input schema does not declare are forwarded; default: refused. */
  additionalArguments?: 'allow' | 'refuse';
  /** The tool's own name at its upstream (what is forwarded). */
  remoteName: string;
  title?: string | undefined;
  /** MCP annotations as the upstream declared them (informational; never loosen config). */
  annotations?: Record<string, unknown> | undefined;
  /** False for a tool known only from config (no upstream connection has offered it yet). */
  discovered: boolean;
  /** Where it runs: an MCP server's tool (default), a method of an HTTP API (`/http/<upstream>/…`), or a database tool Mandate executes. */
  kind?: 'mcp' | 'http' | 'postgres';
  /** `http`: the HTTP method this tool is. */
  method?: string;
  /** Why the tool is hidden and denied (its definition changed upstream and awaits acceptance), or null. */
  blocked: string | null;
  /** Whose words its results are (provenance); absent means `untrusted`. */
  trust?: 'trusted' | 'untrusted' | undefined;
}

export interface ToolLookup {
  getTool(name: string): ToolSpec | undefined;
  listTools(): ToolSpec[];
}
