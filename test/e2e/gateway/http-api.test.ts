// The HTTP API enforcement point end to end: a real REST API that requires an OAuth2 token (the
// client secret is an owner-only file read by the secret broker), Mandate in front of it at
// /http/reports/…, and agents with DPoP-bound task credentials from the SDK. Each test names the
// attack or mistake it stops.

import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { MandateAgent, type MandateTask } from '../../../src/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestAgent, REPO, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';
import { startRestApi, type RestApi } from '../../fixtures/http-api/server.js';

const CLIENT_SECRET = 'reports-client-secret-7f3a9c2e51b8';
let api: RestApi;
let s: TestServer;
let dir: string;

const POLICIES = `
permit (principal is Agent, action == Action::"startTask", resource);
@id("call.read") permit (principal is Agent, action in Action::"read", resource);
@id("call.write") permit (principal is Agent, action in Action::"write", resource);
@id("call.delete") permit (principal is Agent, action in Action::"destructive", resource);
@id("call.no-csv") @reason("CSV exports are not allowed")
forbid (principal, action == Action::"reports.GET", resource) when { context.http.query.contains("format=csv") };
@id("call.big-revenue") @reason("reports over 10M need review")
forbid (principal, action == Action::"reports.POST", resource) when { context.args has revenue && context.args.revenue > 10000000 };
@id("call.delete-approval") @reason("deleting a report needs its owner's approval") @approval("owner")
forbid (principal, action == Action::"reports.DELETE", resource);
`;

async function sdkAgent(agent: TestAgent): Promise<MandateAgent> {
  return MandateAgent.create({ url: s.url, key: { agentId: agent.id, kid: agent.kid, alg: 'ES256', privateKey: agent.privateKey } });
}

async function task(tools: unknown[]): Promise<{ task: MandateTask; call: (path: string, init?: RequestInit) => Promise<Response>; agent: TestAgent }> {
  const agent = await createTestAgent(s);
  const t = await (await sdkAgent(agent)).startTask({ intent: 'summarise the quarterly reports', tools: tools as never });
  return { task: t, call: t.httpApi('reports'), agent };
}

beforeAll(async () => {
  api = await startRestApi({ oauth: { clientId: 'mandate', clientSecret: CLIENT_SECRET } });
  dir = mkdtempSync(join(tmpdir(), 'mandate-http-api-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.cedar'), POLICIES);
  writeFileSync(join(dir, 'client-secret'), `${CLIENT_SECRET}\n`);
  chmodSync(join(dir, 'client-secret'), 0o600);
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: http-api.test
logging: { level: debug }
credentials: { bearerEnvironments: [dev] }
approvals: { wait: 0 }
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
secrets:
  reports_client: { file: ${join(dir, 'client-secret')} }
upstreams:
  reports:
    kind: http
    description: the quarterly reports API
    url: ${api.url}
    auth: { type: oauth2, tokenUrl: ${api.url}/oauth/token, clientId: mandate, secret: reports_client }
    methods: [GET, HEAD, POST, DELETE]
    maxResultBytes: 65536
    timeout: 1
    tools:
      GET: { classification: confidential }
      POST:
        inputSchema:
          type: object
          properties: { title: { type: string }, revenue: { type: integer } }
          required: [title]
`,
  );
  s = await startTestServer({ config });
});
afterAll(async () => {
  await s?.close();
  await api?.close();
});

describe('the HTTP API enforcement point', () => {
  it('an agent reads the API through Mandate with a DPoP-bound task credential; the API sees Mandate\'s token, never the agent\'s credential', async () => {
    const { task: t, call } = await task(['reports.GET /v1/reports/*', 'reports.GET /v1/reports']);
    expect(t.bound).toBe(true);
    const before = api.requests.length;
    const r = await call('/v1/reports/q3');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ id: 'q3', title: 'Q3 revenue' });
    expect(r.headers.get('x-mandate-decision')).toMatch(/^dec_/);
    const list = await call('/v1/reports?limit=2');
    expect(((await list.json()) as { reports: unknown[] }).reports).toHaveLength(2);
    const seen = api.requests.slice(before).filter((x) => x.path !== '/oauth/token');
    expect(seen.map((x) => x.path)).toEqual(['/v1/reports/q3', '/v1/reports?limit=2']);
    for (const x of seen) {
      expect(String(x.headers.authorization)).toMatch(/^Bearer /);
      expect(String(x.headers.authorization)).not.toContain(t.credential);
      expect(x.headers.dpop).toBeUndefined();
      expect(JSON.stringify(x.headers)).not.toContain(t.credential);
    }
    expect(api.tokenRequests).toBeGreaterThanOrEqual(1);
  });

  it('a path outside the declared grants is denied and never reaches the API (reaching /admin with a reports task)', async () => {
    const { call } = await task(['reports.GET /v1/reports/*']);
    const before = api.requests.length;
    for (const path of ['/admin/users', '/v1/reports/../../admin/users', '/v1/reports/%2e%2e/%2e%2e/admin/users', '/v1/reports/..;/admin/users', '/v1/reports%2F..%2F..%2Fadmin/users']) {
      const r = await call(path);
      expect([400, 403], path).toContain(r.status);
      const body = (await r.json()) as { error_description: string };
      expect(body.error_description, path).toMatch(/not in the task's scope|not accepted|encoded slash/);
    }
    expect(api.requests.length).toBe(before);
  });

  it('a raw traversal sent on the socket (not normalised by a client) is resolved before the check', async () => {
    // fetch() resolves `..` itself; an attacker's client need not. A Bearer credential (dev) keeps the proof out of the way.
    const agent = await createTestAgent(s);
    const t = await (await MandateAgent.create({ url: s.url, key: { agentId: agent.id, kid: agent.kid, alg: 'ES256', privateKey: agent.privateKey }, dpop: false })).startTask({ intent: 'reports', tools: ['reports.GET /v1/reports/*'] });
    const before = api.requests.length;
    const { request } = await import('node:http');
    const raw = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const u = new URL(s.url);
        const req = request({ host: u.hostname, port: u.port, path, headers: { authorization: `Bearer ${t.credential}` } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const r = await raw('/http/reports/v1/reports/../../admin/users');
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/GET `\/admin\/users` is not in the task's scope/);
    const ok = await raw('/http/reports/v1/reports/./q1');
    expect(ok.status).toBe(200);
    expect(api.requests.slice(before).filter((x) => x.path !== '/oauth/token').map((x) => x.path)).toEqual(['/v1/reports/q1']);
  });

  it('a method the task did not declare is denied (a read-only task cannot DELETE)', async () => {
    const { call } = await task(['reports.GET /v1/reports/*']);
    const r = await call('/v1/reports/q1', { method: 'DELETE' });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error_description: string }).error_description).toMatch(/DELETE `\/v1\/reports\/q1` is not in the task's scope/);
    const put = await call('/v1/reports/q1', { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST, DELETE');
  });

  it('Cedar sees the request: a query parameter and a JSON body field are decided on (context.http, context.args)', async () => {
    const { call } = await task(['reports.GET /v1/reports', 'reports.POST /v1/reports']);
    const csv = await call('/v1/reports?format=csv');
    expect(csv.status).toBe(403);
    expect(((await csv.json()) as { error_description: string }).error_description).toMatch(/CSV exports are not allowed/);
    const small = await call('/v1/reports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Q4', revenue: 5 }) });
    expect(small.status).toBe(201);
    const big = await call('/v1/reports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Q4', revenue: 20_000_000 }) });
    expect(big.status).toBe(403);
    expect(((await big.json()) as { error_description: string }).error_description).toMatch(/reports over 10M need review/);
    // A field the method's schema does not declare is refused: policy could not see it.
    const extra = await call('/v1/reports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Q4', owner: 'mallory' }) });
    expect(extra.status).toBe(403);
  });

  it('the JSON body is forwarded exactly as it was checked (duplicate keys cannot smuggle a second value past policy)', async () => {
    const { call } = await task(['reports.POST /v1/reports']);
    const before = api.requests.length;
    // JSON.parse keeps the last duplicate; another parser may keep the first. Mandate sends what it checked.
    const r = await call('/v1/reports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"title":"Q4","revenue":20000000,"revenue":5}' });
    expect(r.status).toBe(201);
    expect(api.requests.slice(before).map((x) => x.body)).toEqual(['{"title":"Q4","revenue":5}']);
  });

  it('constraints and call limits of a grant hold (query.limit pinned, two calls)', async () => {
    const { call } = await task([{ name: 'reports.GET /v1/reports', constraints: { 'query.limit': { in: ['1', '2'] } }, max_calls: 2 }]);
    expect((await call('/v1/reports?limit=50')).status).toBe(403);
    expect((await call('/v1/reports?limit=1')).status).toBe(200);
    expect((await call('/v1/reports?limit=2')).status).toBe(200);
    const third = await call('/v1/reports?limit=1');
    expect(third.status).toBe(403);
    expect(((await third.json()) as { error_description: string }).error_description).toMatch(/limit of 2 calls/);
  });

  it("an API that echoes its credential never hands it to the agent (the upstream's token is redacted)", async () => {
    const { call } = await task(['reports.GET /echo']);
    const r = await call('/echo');
    expect(r.status).toBe(200);
    const text = await r.text();
    const sent = api.requests.at(-1)!.headers.authorization as string;
    expect(sent).toMatch(/^Bearer \S+/);
    expect(text).not.toContain(sent.slice('Bearer '.length));
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(CLIENT_SECRET);
  });

  it('a redirect to another host is neither followed nor passed on; one inside the API is rewritten to Mandate', async () => {
    const { call } = await task(['reports.GET /redirect/*']);
    const ext = await call('/redirect/external', { redirect: 'manual' });
    expect(ext.status).toBe(502);
    expect(ext.headers.get('location')).toBeNull();
    expect(((await ext.json()) as { error_description: string }).error_description).toMatch(/does not follow or pass on redirects to other hosts/);
    const int = await call('/redirect/internal', { redirect: 'manual' });
    expect(int.status).toBe(302);
    expect(int.headers.get('location')).toBe(`${s.url}/http/reports/v1/reports`);
  });

  it('an answer over the size limit and an API that does not answer in time are cut off with a clear error', async () => {
    const { call } = await task(['reports.GET /big', 'reports.GET /slow']);
    const big = await call('/big?bytes=200000');
    expect(big.status).toBe(502);
    expect(((await big.json()) as { error_description: string }).error_description).toMatch(/over the 65536-byte limit/);
    const slow = await call('/slow?ms=600000');
    expect(slow.status).toBe(504);
    expect(((await slow.json()) as { error_description: string }).error_description).toMatch(/did not answer in 1 s/);
  });

  it('a DELETE waits for the owner\'s approval of that exact request and runs once', async () => {
    const { call, task: t } = await task(['reports.DELETE /v1/reports/*']);
    const first = await call('/v1/reports/q2', { method: 'DELETE' });
    expect(first.status).toBe(403);
    const body = (await first.json()) as { error: string; approval_id: string };
    expect(body.error).toBe('approval_required');
    // Approval of q2 does not cover q1.
    const owner = await s.api('POST', '/api/v1/users', { name: 'Alice', email: 'alice@corp.example', roles: [] });
    const approve = await s.api('POST', `/api/v1/approvals/${body.approval_id}/approve`, {}, { token: owner.body.token as string });
    expect(approve.status).toBe(200);
    expect((await call('/v1/reports/q1', { method: 'DELETE' })).status).toBe(403);
    expect((await call('/v1/reports/q2', { method: 'DELETE' })).status).toBe(204);
    expect((await call('/v1/reports/q2', { method: 'DELETE' })).status).toBe(403);
    await t.end();
  });

  it('a credential without its DPoP key, a credential for an ended task, and no credential are refused (stolen or stale tokens)', async () => {
    const { task: t } = await task(['reports.GET /v1/reports/*']);
    const stolen = await fetch(`${s.url}/http/reports/v1/reports/q1`, { headers: { authorization: `Bearer ${t.credential}` } });
    expect(stolen.status).toBe(401);
    // A proof made by another key.
    const other = await MandateAgent.create({ url: s.url, key: { agentId: 'x', kid: 'x', alg: 'ES256', privateKey: (await generateKeyPair('ES256')).privateKey } });
    expect(other.dpop).not.toBeNull();
    const { createDpopProof } = await import('../../../src/client/dpop.js');
    const proof = await createDpopProof(other.dpop!, 'GET', `${s.url}/http/reports/v1/reports/q1`, { accessToken: t.credential });
    const wrongKey = await fetch(`${s.url}/http/reports/v1/reports/q1`, { headers: { authorization: `DPoP ${t.credential}`, dpop: proof } });
    expect(wrongKey.status).toBe(401);
    // A proof for /mcp replayed at /http (htu binds the proof to this URL).
    const mcpProof = await createDpopProof(t.agent.dpop!, 'GET', `${s.url}/mcp`, { accessToken: t.credential });
    expect((await fetch(`${s.url}/http/reports/v1/reports/q1`, { headers: { authorization: `DPoP ${t.credential}`, dpop: mcpProof } })).status).toBe(401);
    await t.end();
    expect((await t.httpApi('reports')('/v1/reports/q1')).status).toBe(401);
    expect((await fetch(`${s.url}/http/reports/v1/reports/q1`)).status).toBe(401);
    void exportJWK;
  });

  it('unknown upstreams and malformed requests get a clear 4xx, never a 500', async () => {
    const { call, task: t } = await task(['reports.POST /v1/reports']);
    expect((await t.fetch(`${s.url}/http/nope/x`)).status).toBe(404);
    const bad = await call('/v1/reports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"title":' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error_description: string }).error_description).toMatch(/JSON body does not parse/);
  });

  it('audit records the decision before forwarding and the outcome after; no secret or credential is in audit or the server log', async () => {
    const { call, task: t } = await task(['reports.GET /v1/reports/*']);
    expect((await call('/v1/reports/q1')).status).toBe(200);
    const events = await s.m.store.listAudit({ taskId: t.id, limit: 100 });
    const decision = events.find((e) => e.type === 'tool.decision');
    const outcome = events.find((e) => e.type === 'tool.call');
    expect(decision?.data).toMatchObject({ tool: 'reports.GET', grant: 'reports.GET /v1/reports/*', http: { method: 'GET', path: '/v1/reports/q1' } });
    expect(outcome?.data).toMatchObject({ status: 200, decisionEvent: decision!.id });
    expect(outcome!.seq).toBeGreaterThan(decision!.seq);
    const everything = JSON.stringify(await s.m.store.listAudit({ limit: 10_000 })) + s.logs.join('');
    expect(everything).not.toContain(CLIENT_SECRET);
    for (const req of api.requests) {
      const sent = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (sent) expect(everything).not.toContain(sent);
    }
    expect(everything).not.toContain(t.credential);
    // The task read confidential data (GET is classified so): it carries the label now.
    expect((await s.m.store.getTask(t.id))!.labels).toContain('confidential');
  });

  it('the agent\'s MCP tool list does not offer HTTP API methods (they are reached at /http only)', async () => {
    const { task: t } = await task(['reports.GET /v1/reports/*']);
    const client = await t.connect();
    const tools = await client.listTools();
    expect(tools.tools.map((x) => x.name)).toEqual([]);
    const r = await client.callTool({ name: 'reports.GET', arguments: {} });
    expect(JSON.stringify(r)).toMatch(/denied/);
    await client.close();
  });
});
