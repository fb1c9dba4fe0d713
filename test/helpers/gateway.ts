// A Mandate with real upstreams for gateway tests — the reference filesystem and memory servers
// over stdio, the test server over stdio and over streamable HTTP — and agents connected with
// the real MCP SDK client.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { REPO, createTestAgent, startTestServer, type TestAgent, type TestServer } from './server.js';
import { UPSTREAM_SECRET, startHttpUpstream, type TestUpstream } from './upstream-server.js';

export interface GatewayEnv {
  s: TestServer;
  upstream: TestUpstream;
  sandbox: string;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Policy directory (default: the gateway test policies). */
  policies?: string;
  clock?: Clock;
  /** Data directory (default: a fresh temporary one), e.g. on a small mounted volume for fault tests. */
  dataDir?: string;
  /** More `gateway:` settings (the base sets callTimeout and maxResultBytes). */
  gateway?: Record<string, number | string>;
}

/** The secret the stdio test upstream gets in its environment (and must never leak). */
export const STDIO_SECRET = 'stdio-secret-4e8a1c9f0b';

export async function startGateway(extraYaml = '', opts: GatewayOptions = {}): Promise<GatewayEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-gw-'));
  const sandbox = join(dir, 'sandbox');
  mkdirSync(join(sandbox, 'reports'), { recursive: true });
  mkdirSync(join(sandbox, 'private'), { recursive: true });
  writeFileSync(join(sandbox, 'reports', 'q3.txt'), 'Q3 revenue grew 12%');
  writeFileSync(join(sandbox, 'private', 'salaries.csv'), 'alice,100');
  const upstream = await startHttpUpstream();
  process.env.TEST_UPSTREAM_SECRET = UPSTREAM_SECRET;
  process.env.TEST_STDIO_SECRET = STDIO_SECRET;
  const mod = (p: string) => join(REPO, p);
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `
trustDomain: gw.test
policies:
  dir: ${opts.policies ?? mod('test/fixtures/gateway/policies')}
  schema: ${mod('policies/mandate.cedarschema')}
gateway:
  callTimeout: 3
  maxResultBytes: 100000
${Object.entries(opts.gateway ?? {}).map(([k, v]) => `  ${k}: ${v}`).join('\n')}
upstreams:
  fs:
    command: ${process.execPath}
    args: [${mod('node_modules/@modelcontextprotocol/server-filesystem/dist/index.js')}, ${sandbox}]
    resources: { path: path, paths: path, source: path, destination: path }
    tools:
      read_text_file: { risk: read, classification: internal }
      write_file: { risk: write }
  mem:
    command: ${process.execPath}
    args: [${mod('node_modules/@modelcontextprotocol/server-memory/dist/index.js')}]
    env: { MEMORY_FILE_PATH: ${join(dir, 'memory.jsonl')} }
    sharing: shared
    tools:
      read_graph: { classification: confidential }
  stdio:
    command: ${process.execPath}
    args: [${mod('test/fixtures/upstreams/stdio-server.mjs')}]
    env: { TEST_STDIO_SECRET: "\${TEST_STDIO_SECRET}" }
    tools:
      secret_report: { classification: confidential }
  http:
    url: ${upstream.url}
    headers: { Authorization: "Bearer \${TEST_UPSTREAM_SECRET}" }
    resources: { url: url }
    tools:
      secret_report: { classification: confidential }
${extraYaml}
`,
  );
  const s = await startTestServer({ config, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
  return {
    s,
    upstream,
    sandbox,
    async close() {
      await s.close();
      await upstream.close();
    },
  };
}

export interface AgentClientOptions {
  capabilities?: ConstructorParameters<typeof Client>[1];
}

/** The real MCP SDK client, authenticated with a task credential. */
export async function connectAgent(s: TestServer, token: string, opts: AgentClientOptions = {}): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' }, opts.capabilities ?? {});
  const transport = new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return client;
}

export function text(result: unknown): string {
  const r = result as { content?: Array<{ type: string; text?: string }> };
  return (r.content ?? []).map((c) => c.text ?? '').join('\n');
}

/**
 * One gateway (and one agent) for a whole test file: `const g = useGateway();` then `g.env`,
 * `g.agent` inside tests.
 */
export function useGateway(): { env: GatewayEnv; agent: TestAgent } {
  const holder = {} as { env: GatewayEnv; agent: TestAgent };
  beforeAll(async () => {
    holder.env = await startGateway();
    holder.agent = await createTestAgent(holder.env.s);
  });
  afterAll(async () => holder.env?.close());
  return holder;
}
