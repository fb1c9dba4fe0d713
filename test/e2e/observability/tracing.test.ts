// OpenTelemetry traces, received by a collector fixture (OTLP/HTTP JSON, as an OpenTelemetry
// Collector would take them): a span per credential issued, per tool call (MCP and HTTP API) with
// the decision and the upstream call as children; the agent's W3C traceparent (MCP `_meta`, or
// the HTTP header) is the parent; the upstream receives the upstream span's context (MCP `_meta`,
// HTTP `traceparent`). No argument value reaches the collector (an argument may be a secret).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRestApi, type RestApi } from '../../fixtures/http-api/server.js';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestAgent, REPO, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Array<{ key: string; value: { stringValue?: string; boolValue?: boolean; intValue?: string | number } }>;
}

let s: TestServer;
let api: RestApi;
let collector: Server;
const bodies: string[] = [];
const keys: Array<string | undefined> = [];
const spans: OtlpSpan[] = [];

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(body);
      keys.push(req.headers['x-api-key'] as string | undefined);
      if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
        const doc = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const port = (collector.address() as { port: number }).port;
  api = await startRestApi({ token: 'api-token-9f3e' });
  process.env.TEST_COLLECTOR_KEY = 'collector-key-4b2a';
  const dir = mkdtempSync(join(tmpdir(), 'mandate-tracing-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
  writeFileSync(join(dir, 'api-token'), 'api-token-9f3e', { mode: 0o600 });
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: tracing.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
tracing: { enabled: true, endpoint: "http://127.0.0.1:${port}/v1/traces", headers: { x-api-key: "\${TEST_COLLECTOR_KEY}" }, serviceName: mandate-test }
secrets:
  api_token: { file: ${join(dir, 'api-token')} }
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
  reports:
    kind: http
    url: ${api.url}
    auth: { type: bearer, secret: api_token }
    methods: [GET]
    tools: { GET: { risk: read } }
`,
  );
  s = await startTestServer({ config });
});
afterAll(async () => {
  await s?.close();
  await api?.close();
  await new Promise((r) => collector?.close(r));
});

const attr = (sp: OtlpSpan, key: string) => {
  const v = sp.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.boolValue ?? v?.intValue;
};

describe('tracing', () => {
  it('follows a tool call from the agent\'s trace through the decision to the upstream, over MCP and an HTTP API', async () => {
    const agent = await createTestAgent(s);
    const t = await startTask(s, agent, ['stdio.whoami', 'stdio.echo', 'reports.GET /v1/reports/*'], { resources: [] });
    const client = await connectAgent(s, t.token);
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const agentSpan = '1122334455667788';
    const r = await client.callTool({ name: 'stdio.whoami', arguments: {}, _meta: { traceparent: `00-${traceId}-${agentSpan}-01` } });
    const got = /traceparent=00-([0-9a-f]{32})-([0-9a-f]{16})-01/.exec(text(r));
    expect(got?.[1]).toBe(traceId);
    const upstreamSpanId = got![2]!;
    expect(upstreamSpanId).not.toBe(agentSpan);
    await client.callTool({ name: 'stdio.echo', arguments: { text: 'sk-live-do-not-trace-me' } });
    await client.close();

    const httpTrace = '0f0e0d0c0b0a09080706050403020100';
    const res = await fetch(`${s.url}/http/reports/v1/reports/q3`, { headers: { authorization: `Bearer ${t.token}`, traceparent: `00-${httpTrace}-0102030405060708-01` } });
    expect(res.status, await res.clone().text()).toBe(200);
    const sent = api.requests.at(-1)!.headers.traceparent as string;
    expect(sent).toMatch(new RegExp(`^00-${httpTrace}-[0-9a-f]{16}-01$`));

    await s.m.gateway.tracing.flush();
    const call = spans.find((x) => x.name === 'mandate.tool_call' && x.traceId === traceId)!;
    expect(call).toBeDefined();
    expect(call.parentSpanId).toBe(agentSpan);
    expect(attr(call, 'mcp.tool')).toBe('stdio.whoami');
    expect(attr(call, 'mandate.decision')).toBe('allow');
    expect(attr(call, 'mandate.outcome')).toBe('success');
    const children = spans.filter((x) => x.traceId === traceId && x.parentSpanId === call.spanId).map((x) => x.name).sort();
    expect(children).toEqual(['mandate.decide', 'mandate.upstream']);
    expect(spans.find((x) => x.name === 'mandate.upstream' && x.traceId === traceId)!.spanId).toBe(upstreamSpanId);

    const httpCall = spans.find((x) => x.name === 'mandate.http_call' && x.traceId === httpTrace)!;
    expect(httpCall.parentSpanId).toBe('0102030405060708');
    const httpUp = spans.find((x) => x.name === 'mandate.upstream' && x.traceId === httpTrace)!;
    expect(sent.split('-')[2]).toBe(httpUp.spanId);

    expect(spans.some((x) => x.name === 'mandate.token' && attr(x, 'oauth.grant_type') === 'client_credentials')).toBe(true);
    // The collector's key (from the environment) is sent to it, and logged nowhere; arguments never leave in spans.
    expect(new Set(keys)).toEqual(new Set(['collector-key-4b2a']));
    expect(bodies.join('\n')).not.toContain('sk-live-do-not-trace-me');
    expect(s.logs.join('\n')).not.toContain('collector-key-4b2a');
  });
});
