// Prometheus metrics at /metrics, read with the Prometheus project's own text-format parser
// (test/helpers/prometheus.ts): a known set of calls — allowed, denied by policy, by scope and by
// budget, held for approval — over MCP, an HTTP API, AuthZEN and the token endpoint, and the
// counters, histogram counts and gauges must say exactly that. The scrape carries no argument
// value, id or secret; a scrape token, when configured, is required; metrics off is a 404.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRestApi, type RestApi } from '../../fixtures/http-api/server.js';
import { connectAgent, text } from '../../helpers/gateway.js';
import { parsePrometheusText, samplesOf, type Family } from '../../helpers/prometheus.js';
import { createTestAgent, REPO, requestTask, startTask, startTestServer, taskDetails, type TestServer } from '../../helpers/server.js';

const METRICS_TOKEN = 'metrics-scrape-token-5d8e2a9c41';
const API_TOKEN = 'api-token-metrics-3b7f0e';
/** An argument value an agent sends (it may be a secret): it must never become a label. */
const ARG = 'sk-live-metrics-arg-7c1d94';

const POLICIES = `
@id("start.any") permit (principal is Agent, action == Action::"startTask", resource);
@id("start.no-die") forbid (principal, action == Action::"startTask", resource == Tool::"stdio.die");
@id("call.read") permit (principal is Agent, action in Action::"read", resource);
@id("call.write") permit (principal is Agent, action in Action::"write", resource);
@id("call.egress") permit (principal is Agent, action in Action::"egress", resource);
@id("no.secret") @reason("the confidential report is not for agents")
forbid (principal, action == Action::"stdio.secret_report", resource);
@id("approve.fetch") @approval("owner") @reason("fetching a URL needs the owner's approval")
forbid (principal, action == Action::"stdio.fetch", resource);
`;

let s: TestServer;
let off: TestServer;
let api: RestApi;

function config(dir: string, extra: string, policies = POLICIES): string {
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.cedar'), policies);
  const path = join(dir, 'mandate.yaml');
  writeFileSync(path, `trustDomain: metrics.test\npolicies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }\napprovals: { wait: 0 }\n${extra}`);
  return path;
}

beforeAll(async () => {
  api = await startRestApi({ token: API_TOKEN });
  process.env.TEST_METRICS_TOKEN = METRICS_TOKEN;
  const dir = mkdtempSync(join(tmpdir(), 'mandate-metrics-'));
  writeFileSync(join(dir, 'api-token'), API_TOKEN, { mode: 0o600 });
  s = await startTestServer({
    config: config(
      dir,
      `metrics: { token: "\${TEST_METRICS_TOKEN}" }
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
    ),
  });
  off = await startTestServer({ config: config(mkdtempSync(join(tmpdir(), 'mandate-metrics-off-')), 'metrics: { enabled: false }\n', 'permit (principal is Agent, action == Action::"startTask", resource);\n') });
});
afterAll(async () => {
  await s?.close();
  await off?.close();
  await api?.close();
});

const scrape = (server: TestServer, token: string | null = METRICS_TOKEN) => fetch(`${server.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

/** `{surface|decision|reason_class: count}` of mandate_decisions_total. */
function decisions(families: Family[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samplesOf(families, 'mandate_decisions_total')) out[`${x.labels.surface}|${x.labels.decision}|${x.labels.reason_class}`] = x.value;
  return out;
}

/** `{surface|outcome: count}` of a histogram's `_count` series. */
function counts(families: Family[], histogram: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samplesOf(families, `${histogram}_count`)) out[`${x.labels.surface}|${x.labels.outcome}`] = x.value;
  return out;
}

describe('metrics', () => {
  it('count every decision, call and wait exactly, by bounded labels only, and leak no argument, id or secret', async () => {
    const agent = await createTestAgent(s);
    const t = await startTask(s, agent, [{ name: 'stdio.echo', max_calls: 3 }, 'stdio.secret_report', 'stdio.fetch', 'reports.GET /v1/reports/*'], { resources: [] });
    // A task start policy refuses: a token-endpoint deny.
    const refused = await requestTask(s, agent, taskDetails(['stdio.die'], { resources: [] }));
    expect(refused.status).toBe(400);

    const client = await connectAgent(s, t.token);
    for (let i = 0; i < 3; i++) expect(text(await client.callTool({ name: 'stdio.echo', arguments: { text: ARG } }))).toBe(`echo: ${ARG}`);
    const overBudget = await client.callTool({ name: 'stdio.echo', arguments: { text: ARG } });
    expect(text(overBudget)).toMatch(/reached the task's limit of 3 calls/);
    for (let i = 0; i < 2; i++) expect(text(await client.callTool({ name: 'stdio.secret_report', arguments: {} }))).toMatch(/not for agents/);
    expect(text(await client.callTool({ name: 'stdio.whoami', arguments: {} }))).toMatch(/outside the task's scope/);
    for (const url of ['https://a.example/x', 'https://b.example/y']) expect(text(await client.callTool({ name: 'stdio.fetch', arguments: { url } }))).toMatch(/^approval required/);
    await client.close();

    const http = (path: string) => fetch(`${s.url}/http/reports${path}`, { headers: { authorization: `Bearer ${t.token}` } });
    expect((await http('/v1/reports/q3')).status).toBe(200);
    expect((await http('/v1/reports/q1')).status).toBe(200);
    expect((await http('/admin/users')).status).toBe(403);

    const evaluate = async (subject: string, tool: string, args: Record<string, unknown>) =>
      (await s.api<{ decision: boolean }>('POST', '/access/v1/evaluation', { subject: { type: 'identity', id: subject }, action: { name: 'tools/call' }, resource: { type: 'tool', id: tool }, context: { task_id: t.taskId, arguments: args } })).body.decision;
    expect(await evaluate(agent.id, 'stdio.echo', { text: ARG })).toBe(true);
    expect(await evaluate(agent.id, 'stdio.secret_report', {})).toBe(false);
    expect(await evaluate('spiffe://metrics.test/agent/nobody', 'stdio.echo', { text: ARG })).toBe(false);

    const res = await scrape(s);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await res.text();
    const families = parsePrometheusText(body);

    expect(decisions(families)).toEqual({
      'mcp|allow|policy': 3,
      'mcp|deny|budget': 1,
      'mcp|deny|policy': 2,
      'mcp|deny|scope': 1,
      'mcp|approval_required|approval': 2,
      'http|allow|policy': 2,
      'http|deny|scope': 1,
      'authzen|allow|policy': 1,
      'authzen|deny|policy': 1,
      'authzen|deny|input': 1,
      'token|allow|policy': 1,
      'token|deny|policy': 1,
    });
    const calls = { 'mcp|success': 3, 'mcp|denied': 4, 'mcp|approval_pending': 2, 'http|success': 2, 'http|denied': 1 };
    expect(counts(families, 'mandate_tool_call_duration_seconds')).toEqual(calls);
    expect(counts(families, 'mandate_tool_call_overhead_seconds')).toEqual(calls);
    // Every call lies in the last bucket, and Mandate's share never exceeds the whole.
    for (const [key, n] of Object.entries(calls)) {
      const [surface, outcome] = key.split('|') as [string, string];
      expect(samplesOf(families, 'mandate_tool_call_duration_seconds_bucket', { surface, outcome, le: '+Inf' })[0]!.value).toBe(n);
      const total = samplesOf(families, 'mandate_tool_call_duration_seconds_sum', { surface, outcome })[0]!.value;
      expect(samplesOf(families, 'mandate_tool_call_overhead_seconds_sum', { surface, outcome })[0]!.value).toBeLessThanOrEqual(total);
    }

    expect(samplesOf(families, 'mandate_active_tasks').map((x) => x.value)).toEqual([1]);
    expect(samplesOf(families, 'mandate_approvals_pending').map((x) => x.value)).toEqual([2]);
    // The MCP upstream is connected; an HTTP API has no standing connection to report.
    expect(samplesOf(families, 'mandate_upstream_up').map((x) => [x.labels.upstream, x.value])).toEqual([['stdio', 1]]);
    expect(samplesOf(families, 'mandate_audit_append_duration_seconds_count')[0]!.value).toBeGreaterThan(0);
    expect(samplesOf(families, 'mandate_store_errors_total')).toEqual([]);
    expect(samplesOf(families, 'process_cpu_user_seconds_total')).toHaveLength(1);

    // No argument value, credential, id or secret, anywhere in the scrape.
    for (const secret of [ARG, METRICS_TOKEN, API_TOKEN, t.token, t.taskId, agent.id, 'a.example']) expect(body).not.toContain(secret);
    const mandate = families.filter((f) => f.name.startsWith('mandate_')).flatMap((f) => f.samples);
    const allowed: Record<string, Set<string>> = {
      surface: new Set(['mcp', 'http', 'authzen', 'token']),
      decision: new Set(['allow', 'deny', 'approval_required', 'would_deny']),
      reason_class: new Set(['policy', 'scope', 'budget', 'revoked', 'suspended', 'approval', 'provenance', 'pin', 'input', 'error']),
      outcome: new Set(['success', 'tool_error', 'upstream_error', 'denied', 'approval_pending', 'error']),
      upstream: new Set(['stdio', 'reports']),
    };
    for (const x of mandate) for (const [k, v] of Object.entries(x.labels)) if (k !== 'le') expect(allowed[k]?.has(v), `${x.name}{${k}="${v}"}`).toBe(true);
    expect(s.logs.join('\n')).not.toContain(METRICS_TOKEN);
  });

  it('want the scrape token when one is configured (a scraper without it learns nothing)', async () => {
    for (const token of [null, 'wrong-token', `${METRICS_TOKEN}x`]) {
      const r = await scrape(s, token);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="mandate-metrics"');
      const body = (await r.json()) as { error: string; error_description: string };
      expect(body.error).toBe('unauthorized');
      expect(body.error_description).toMatch(/needs the scrape token \(metrics\.token\)/);
    }
    // An admin credential is not a scrape credential.
    expect((await scrape(s, s.adminToken)).status).toBe(401);
    expect((await scrape(s)).status).toBe(200);
  });

  it('refuse to start with a scrape token that expands to nothing (the endpoint would be open while the config says it is not)', async () => {
    process.env.TEST_METRICS_EMPTY = '';
    delete process.env.TEST_METRICS_UNSET;
    const policies = 'permit (principal is Agent, action == Action::"startTask", resource);\n';
    await expect(startTestServer({ config: config(mkdtempSync(join(tmpdir(), 'mandate-metrics-empty-')), 'metrics: { token: "${TEST_METRICS_EMPTY}" }\n', policies) })).rejects.toThrow(/metrics\.token is empty once expanded/);
    await expect(startTestServer({ config: config(mkdtempSync(join(tmpdir(), 'mandate-metrics-unset-')), 'metrics: { token: "${TEST_METRICS_UNSET}" }\n', policies) })).rejects.toThrow(/metrics\.token: environment variable `TEST_METRICS_UNSET` is not set/);
  });

  it('are a 404 when off, and nothing is registered or counted', async () => {
    const r = await scrape(off, null);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: string }).error).toBe('not_found');
    expect(off.m.metrics.enabled).toBe(false);
    expect(off.m.metrics.registry.getMetricsAsArray()).toEqual([]);
  });
});
