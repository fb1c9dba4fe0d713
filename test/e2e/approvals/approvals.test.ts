// Step-up approvals bound to one exact action, and break-glass, end to end: the real MCP SDK
// client through the gateway, people deciding over the management API, webhooks received and
// verified, time moved with a manual clock.

import { appendFileSync, cpSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { verifyWebhookSignature, SIGNATURE_HEADER } from '../../../src/approvals/webhooks.js';
import { ManualClock } from '../../../src/core/clock.js';
import { connectAgent, startGateway, text, type GatewayEnv } from '../../helpers/gateway.js';
import { PATIENCE, REPO, createTestAgent, requestTask, startTask, taskDetails, type TestAgent } from '../../helpers/server.js';

const WEBHOOK_SECRET = 'whsec-test-0123456789abcdef';
const clock = new ManualClock(Date.now());
let env: GatewayEnv;
let agent: TestAgent;
let hookServer: Server;
let policyDir: string;
const hooks: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
const tokens: Record<string, string> = {};

async function user(name: string, email: string, roles: string[]): Promise<string> {
  const r = await env.s.api('POST', '/api/v1/users', { name, email, roles });
  expect(r.status).toBe(201);
  return r.body.token as string;
}

const approve = (id: string, who: string, reason?: string) => env.s.api('POST', `/api/v1/approvals/${id}/approve`, reason ? { reason } : {}, { token: tokens[who]! });
const deny = (id: string, who: string, reason?: string) => env.s.api('POST', `/api/v1/approvals/${id}/deny`, reason ? { reason } : {}, { token: tokens[who]! });
const approvalIdIn = (s: string) => /(apr_[A-Za-z0-9]+)/.exec(s)?.[1];

async function toolCallEvents(taskId: string) {
  const events = await env.s.m.store.listAudit({ taskId, limit: 1000 });
  return events.filter((e) => e.type === 'tool.call');
}

beforeAll(async () => {
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
  const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
  process.env.TEST_WEBHOOK_SECRET = WEBHOOK_SECRET;
  policyDir = mkdtempSync(join(tmpdir(), 'mandate-approval-policies-'));
  cpSync(`${REPO}/test/fixtures/approvals/policies`, policyDir, { recursive: true });
  env = await startGateway(
    `
approvals:
  wait: 1
  ttl: 300
  groups:
    owner: { webhook: { url: "${hookUrl}", secret: "\${TEST_WEBHOOK_SECRET}" } }
    security: { webhook: { url: "${hookUrl}", secret: "\${TEST_WEBHOOK_SECRET}", format: slack } }
  breakglass: { approvers: ["role:security"], quorum: 2, maxTtl: 600 }
`,
    { policies: policyDir, clock },
  );
  agent = await createTestAgent(env.s, { owner: 'alice@corp.example' });
  tokens.alice = await user('Alice Owner', 'alice@corp.example', []);
  tokens.bob = await user('Bob Sec', 'bob@corp.example', ['security']);
  tokens.carol = await user('Carol Sec', 'carol@corp.example', ['security']);
  tokens.dave = await user('Dave Sec', 'dave@corp.example', ['security']);
  tokens.mallory = await user('Mallory', 'mallory@corp.example', []);
}, 60_000);

afterAll(async () => {
  await env?.close();
  await new Promise<void>((r) => hookServer.close(() => r()));
});

describe('a tool call that needs approval', () => {
  let client: Client;
  let taskId: string;
  beforeAll(async () => {
    const t = await startTask(env.s, agent, ['stdio.fetch', 'stdio.echo']);
    taskId = t.taskId;
    client = await connectAgent(env.s, t.token);
  });
  afterAll(async () => client.close());

  it('becomes a pending approval; approving lets exactly that call run once, and a replay needs a new approval', async () => {
    const first = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/a' } });
    expect(first.isError).toBe(true);
    expect(text(first)).toMatch(/approval required: fetching a URL needs the agent owner's approval .*Approval apr_\w+ is pending.*retry this identical/);
    const id = approvalIdIn(text(first))!;
    const shown = await env.s.api('GET', `/api/v1/approvals/${id}`, undefined, { token: tokens.alice! });
    expect(shown.body).toMatchObject({ status: 'pending', kind: 'tool_call', tool: 'stdio.fetch', args: { url: 'https://example.com/a' }, approvers: ['owner'], quorum: 1, agent: agent.id, task: taskId });

    expect((await approve(id, 'alice', 'looks fine')).body).toMatchObject({ status: 'approved' });
    const run = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/a' } });
    expect(text(run)).toBe('fetched https://example.com/a');
    expect((await env.s.api('GET', `/api/v1/approvals/${id}`)).body.status).toBe('used');
    const reapprove = await approve(id, 'alice');
    expect(reapprove.status).toBe(409);
    expect(reapprove.body.error_description).toMatch(/already used \(approvals are single-use\)/);

    // Replay attack: the identical call again is not covered by the used approval.
    const replay = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/a' } });
    expect(replay.isError).toBe(true);
    const again = approvalIdIn(text(replay))!;
    expect(again).not.toBe(id);
    const calls = await toolCallEvents(taskId);
    expect(calls.filter((e) => e.outcome === 'success' && (e.data as { tool: string }).tool === 'stdio.fetch')).toHaveLength(1);
    const used = calls.find((e) => e.outcome === 'success')!;
    expect(used.data).toMatchObject({ approval: id });
  });

  it('does not cover the same tool with other arguments (argument substitution)', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/b' } });
    const id = approvalIdIn(text(a))!;
    await approve(id, 'alice');
    const other = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://evil.example/exfil' } });
    expect(other.isError).toBe(true);
    expect(approvalIdIn(text(other))).not.toBe(id);
    expect((await env.s.api('GET', `/api/v1/approvals/${id}`)).body.status).toBe('approved');
  });

  it('completes a held-open call when the approval arrives during the wait, with progress while it waits', async () => {
    // The gateway holds the call for `approvals.wait` of real time; this test approves during
    // that hold, so the hold must outlast a busy machine (the other tests keep 1 s).
    const saved = env.s.m.config.approvals.wait;
    env.s.m.config.approvals.wait = PATIENCE / 1000;
    onTestFinished(() => void (env.s.m.config.approvals.wait = saved));
    const progress: string[] = [];
    const pending = client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/held' } }, undefined, { onprogress: (p) => void progress.push(String(p.message)) });
    const held = async () => (await env.s.m.approvals.list({ status: 'pending', taskId })).find((a) => (a.args as { url?: string }).url === 'https://example.com/held')?.id;
    await expect.poll(held, { timeout: PATIENCE }).toBeDefined();
    const id = await held();
    await approve(id!, 'alice');
    const r = await pending;
    expect(text(r)).toBe('fetched https://example.com/held');
    expect(progress[0]).toMatch(/waiting for approval apr_/);
  });

  it('tells the agent when a person denies, and the call never runs', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/no' } });
    const id = approvalIdIn(text(a))!;
    expect((await deny(id, 'alice', 'not needed for this task')).body.status).toBe('denied');
    const b = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/no' } });
    expect(b.isError).toBe(true);
    // A denied approval is final; asking again makes a fresh request rather than running.
    expect(text(b)).toMatch(/approval required|refused approval/);
    expect((await approve(id, 'alice')).status).toBe(409);
  });

  it('runs exactly one of two identical calls racing for one approval (double spend)', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/race' } });
    const id = approvalIdIn(text(a))!;
    await approve(id, 'alice');
    const [x, y] = await Promise.all([
      client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/race' } }),
      client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/race' } }),
    ]);
    const ran = [x, y].filter((r) => text(r) === 'fetched https://example.com/race');
    expect(ran).toHaveLength(1);
    const runs = (await toolCallEvents(taskId)).filter((e) => e.outcome === 'success' && (e.data as { args: { url?: string } }).args.url === 'https://example.com/race');
    expect(runs).toHaveLength(1);
  });

  it("does not cover the child's identical call after delegation (approvals never pass down)", async () => {
    const { MandateAgent } = await import('../../../src/client/index.js');
    const parentSdk = await MandateAgent.create({ url: env.s.url, key: { agentId: agent.id, kid: agent.kid, alg: 'ES256', privateKey: agent.privateKey }, dpop: false });
    const childTest = await createTestAgent(env.s, { owner: 'alice@corp.example' });
    const childSdk = await MandateAgent.create({ url: env.s.url, key: { agentId: childTest.id, kid: childTest.kid, alg: 'ES256', privateKey: childTest.privateKey }, dpop: false });
    const parentTask = await parentSdk.startTask({ intent: 'research', tools: ['stdio.fetch'], ttl: 300 });
    const pc = await parentTask.connect();
    const first = await pc.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/family' } });
    const id = approvalIdIn(text(first))!;
    await approve(id, 'alice');
    const child = childSdk.adopt(await parentTask.delegate(await childSdk.delegationTicket(), { tools: ['stdio.fetch'], ttl: 120 }));
    const cc = await child.connect();
    const r = await cc.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/family' } });
    expect(r.isError).toBe(true);
    expect(approvalIdIn(text(r))).not.toBe(id);
    expect((await env.s.api('GET', `/api/v1/approvals/${id}`)).body.status).toBe('approved');
    await Promise.all([pc.close(), cc.close()]);
  });

  it('refuses an approval that expired before use', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/late' } });
    const id = approvalIdIn(text(a))!;
    await approve(id, 'alice');
    clock.advance(301_000); // past approvals.ttl
    await env.s.m.sweep();
    expect((await env.s.api('GET', `/api/v1/approvals/${id}`)).body.status).toBe('expired');
    const late = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/late' } });
    expect(late.isError).toBe(true);
    expect(approvalIdIn(text(late))).not.toBe(id);
    expect((await approve(id, 'alice')).status).toBe(409);
  });

  it('accepts decisions only from eligible people with personal tokens', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/who' } });
    const id = approvalIdIn(text(a))!;
    // An agent approving its own call with its task credential.
    const t = await startTask(env.s, agent, ['stdio.echo']);
    const byAgent = await env.s.api('POST', `/api/v1/approvals/${id}/approve`, {}, { token: t.token });
    expect(byAgent.status).toBe(401);
    expect(byAgent.body.error_description).toMatch(/agent credentials are not accepted/);
    const byAdmin = await env.s.api('POST', `/api/v1/approvals/${id}/approve`, {});
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.error_description).toMatch(/only a person/);
    const byStranger = await approve(id, 'mallory');
    expect(byStranger.status).toBe(403);
    expect(byStranger.body.error_description).toMatch(/not an approver .* needs owner/);
    expect((await env.s.api('POST', '/api/v1/approvals/apr_nope/approve', {}, { token: tokens.alice! })).status).toBe(404);
    expect((await env.s.api('GET', `/api/v1/approvals/${id}`)).body.status).toBe('pending');
  });

  it('keeps exactly one decision per person when the endpoint is hammered concurrently', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/hammer' } });
    const id = approvalIdIn(text(a))!;
    const results = await Promise.all(Array.from({ length: 20 }, () => approve(id, 'alice')));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    const after = await env.s.api('GET', `/api/v1/approvals/${id}`);
    expect(after.body.decisions).toHaveLength(1);
  });

  it('voids an approval when the policy set changes before it is used', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/policy-change' } });
    const id = approvalIdIn(text(a))!;
    await approve(id, 'alice');
    appendFileSync(join(policyDir, 'approvals.cedar'), '\n@id("extra.harmless") permit (principal is Agent, action == Action::"readResource", resource);\n');
    const reload = await env.s.api('POST', '/api/v1/policies/reload', {});
    expect(reload.status).toBe(200);
    await expect.poll(async () => (await env.s.api('GET', `/api/v1/approvals/${id}`)).body, { timeout: PATIENCE }).toMatchObject({ status: 'expired', endReason: 'policy changed' });
    const r = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/policy-change' } });
    expect(r.isError).toBe(true);
    expect(approvalIdIn(text(r))).not.toBe(id);
  });

  it('does not cover the identical call in another task', async () => {
    const a = await client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/other-task' } });
    const id = approvalIdIn(text(a))!;
    await approve(id, 'alice');
    const t2 = await startTask(env.s, agent, ['stdio.fetch']);
    const c2 = await connectAgent(env.s, t2.token);
    const r = await c2.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/other-task' } });
    expect(r.isError).toBe(true);
    expect(approvalIdIn(text(r))).not.toBe(id);
    await c2.close();
  });
});

describe('webhooks', () => {
  it('signs each payload so the receiver can verify it, and a tampered or stale one fails', async () => {
    hooks.length = 0;
    const t = await startTask(env.s, agent, ['stdio.fetch']);
    const c = await connectAgent(env.s, t.token);
    const r = await c.callTool({ name: 'stdio.fetch', arguments: { url: 'https://example.com/hook' } });
    const id = approvalIdIn(text(r))!;
    await c.close();
    await env.s.m.webhooks.drain();
    const hook = hooks.find((h) => h.body.includes(id))!;
    expect(hook).toBeDefined();
    const payload = JSON.parse(hook.body);
    expect(payload).toMatchObject({ event: 'approval.requested', approval: { id, tool: 'stdio.fetch', args: { url: 'https://example.com/hook' }, approvers: ['owner'] } });
    const sig = hook.headers[SIGNATURE_HEADER] as string;
    const t0 = Number(/t=(\d+)/.exec(sig)![1]);
    expect(verifyWebhookSignature(WEBHOOK_SECRET, sig, hook.body, t0)).toEqual({ ok: true, timestamp: t0 });
    // Tampering: an attacker rewrites the URL the approver sees.
    const tampered = hook.body.replace('https://example.com/hook', 'https://example.com/safe');
    expect(verifyWebhookSignature(WEBHOOK_SECRET, sig, tampered, t0)).toMatchObject({ ok: false, reason: /does not match/ });
    // Replay: the same signed request an hour later.
    expect(verifyWebhookSignature(WEBHOOK_SECRET, sig, hook.body, t0 + 3600)).toMatchObject({ ok: false, reason: /window/ });
    expect(verifyWebhookSignature('another-secret-0000', sig, hook.body, t0)).toMatchObject({ ok: false });
    const deliveries = (await env.s.m.store.listAudit({ type: 'webhook.delivery', limit: 100 })).filter((e) => e.outcome === 'delivered');
    expect(deliveries.length).toBeGreaterThan(0);
    // The webhook secret appears nowhere in audit.
    const all = await env.s.m.store.listAudit({ limit: 10_000 });
    expect(JSON.stringify(all)).not.toContain(WEBHOOK_SECRET);
  });
});

describe('a task start that needs approval', () => {
  it('waits as pending_approval; once approved the agent gets its credential for that task', async () => {
    const r = await requestTask(env.s, agent, taskDetails(['stdio.secret_report']));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'authorization_pending' });
    const taskId = r.body.task_id as string;
    const approvalId = r.body.approval_id as string;
    expect((await env.s.api('GET', `/api/v1/tasks/${taskId}`)).body.status).toBe('pending_approval');
    const early = await requestTask(env.s, agent, JSON.stringify([{ type: 'mandate_task', task_id: taskId }]));
    expect(early.body.error).toBe('authorization_pending');
    // The owner is not security: refused.
    expect((await approve(approvalId, 'alice')).status).toBe(403);
    expect((await approve(approvalId, 'bob')).body.status).toBe('used');
    const got = await requestTask(env.s, agent, JSON.stringify([{ type: 'mandate_task', task_id: taskId }]));
    expect(got.status).toBe(200);
    const c = await connectAgent(env.s, got.body.access_token as string);
    expect(text(await c.callTool({ name: 'stdio.secret_report', arguments: {} }))).toBe('Q4 layoffs: confidential');
    await c.close();
    // Another agent cannot pick up this task's credential.
    const other = await createTestAgent(env.s);
    const stolen = await requestTask(env.s, other, JSON.stringify([{ type: 'mandate_task', task_id: taskId }]));
    expect(stolen.body.error).toBe('invalid_grant');
  });
});

describe('a refused task start', () => {
  it('ends the waiting task at once, and the agent is told it was denied', async () => {
    const r = await requestTask(env.s, agent, taskDetails(['stdio.secret_report']));
    const taskId = r.body.task_id as string;
    expect((await deny(r.body.approval_id as string, 'bob', 'not this week')).body.status).toBe('denied');
    expect((await env.s.api('GET', `/api/v1/tasks/${taskId}`)).body).toMatchObject({ status: 'revoked' });
    const again = await requestTask(env.s, agent, JSON.stringify([{ type: 'mandate_task', task_id: taskId }]));
    expect(again.body).toMatchObject({ error: 'access_denied' });
  });
});

describe('break-glass', () => {
  const request = (who: string, body: Record<string, unknown>) => env.s.api('POST', '/api/v1/breakglass', body, { token: tokens[who]! });

  it('needs two distinct approvers other than the requester, lifts default deny but not hard forbids, is flagged in audit, expires on time', async () => {
    hooks.length = 0;
    // Without break-glass, no policy permits a destructive tool.
    const normal = await startTask(env.s, agent, ['mem.delete_entities']);
    const nc = await connectAgent(env.s, normal.token);
    const refused = await nc.callTool({ name: 'mem.delete_entities', arguments: { entityNames: ['nobody'] } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/denied by Mandate/);
    await nc.close();

    const r = await request('bob', { agent: agent.id, tools: ['mem.delete_entities', 'mem.delete_relations'], reason: 'incident 42: purge poisoned memory', ttl: 300 });
    expect(r.status).toBe(201);
    const approval = r.body.approval as { id: string; quorum: number };
    const taskId = (r.body.task as { id: string }).id;
    expect(approval.quorum).toBe(2);
    // Self-approval.
    const self = await approve(approval.id, 'bob');
    expect(self.status).toBe(403);
    expect(self.body.error_description).toMatch(/no one approves their own request/);
    // Not eligible.
    expect((await approve(approval.id, 'alice')).status).toBe(403);
    expect((await approve(approval.id, 'carol')).body.status).toBe('pending');
    // The same person twice does not make two.
    expect((await approve(approval.id, 'carol')).status).toBe(409);
    const early = await requestTask(env.s, agent, JSON.stringify([{ type: 'mandate_task', task_id: taskId }]));
    expect(early.body.error).toBe('authorization_pending');
    expect((await approve(approval.id, 'dave')).body.status).toBe('used');

    const got = await requestTask(env.s, agent, JSON.stringify([{ type: 'mandate_task', task_id: taskId }]));
    expect(got.status).toBe(200);
    expect(got.body.expires_in).toBeLessThanOrEqual(300);
    const c = await connectAgent(env.s, got.body.access_token as string);
    const del = await c.callTool({ name: 'mem.delete_entities', arguments: { entityNames: ['nobody'] } });
    expect(del.isError).toBeFalsy();
    const rel = await c.callTool({ name: 'mem.delete_relations', arguments: { relations: [] } });
    expect(rel.isError).toBe(true);
    expect(text(rel)).toMatch(/relations are never deleted by agents/);
    const calls = await toolCallEvents(taskId);
    expect(calls.length).toBe(2);
    expect(calls.every((e) => (e.data as { breakGlass?: boolean }).breakGlass === true)).toBe(true);

    // It cannot delegate: a token exchange with its credential as subject is refused.
    const ex = await env.s.form('/oauth/token', { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: got.body.access_token as string, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    expect(ex.status).toBe(400);
    expect(ex.body).toMatchObject({ error: 'invalid_grant' });
    expect(String(ex.body.error_description)).toMatch(/break-glass/);

    // Expires on time.
    clock.advance(301_000);
    await env.s.m.sweep();
    expect((await env.s.api('GET', `/api/v1/tasks/${taskId}`)).body.status).toBe('expired');
    const after = await c.callTool({ name: 'mem.delete_entities', arguments: { entityNames: ['x'] } }).catch((e: Error) => e);
    expect(String(after instanceof Error ? after.message : text(after))).toMatch(/401|not active|revoked|expired|ended|denied/i);
    await c.close().catch(() => undefined);

    // Start and end were announced on every webhook; the report shows what it did.
    await new Promise((res) => setTimeout(res, 100));
    await env.s.m.webhooks.drain();
    const events = hooks.map((h) => (h.body.startsWith('{"text"') ? JSON.parse(h.body).text : JSON.parse(h.body).event) as string);
    expect(events.some((e) => /breakglass\.started|BREAK-GLASS ACTIVE/.test(e))).toBe(true);
    expect(events.some((e) => /breakglass\.ended|BREAK-GLASS ENDED/.test(e))).toBe(true);
    const report = await env.s.api('GET', `/api/v1/breakglass/${approval.id}/report`, undefined, { token: tokens.carol! });
    expect((report.body.events as Array<{ type: string }>).map((e) => e.type)).toEqual(expect.arrayContaining(['breakglass.request', 'approval.approve', 'breakglass.start', 'tool.call', 'task.expire', 'breakglass.end']));
  });

  it('refuses a lifetime over the hard cap, a bad reason, and requests made with the admin token', async () => {
    expect((await request('bob', { agent: agent.id, tools: ['mem.delete_entities'], reason: 'incident 43: cleanup', ttl: 601 })).body.error_description).toMatch(/over the break-glass cap of 600s/);
    expect((await request('bob', { agent: agent.id, tools: ['mem.delete_entities'], reason: 'x', ttl: 300 })).status).toBe(400);
    const admin = await env.s.api('POST', '/api/v1/breakglass', { agent: agent.id, tools: ['mem.delete_entities'], reason: 'incident 44: cleanup', ttl: 300 });
    expect(admin.status).toBe(403);
  });
});

describe('AuthZEN Access Request and Approval profile', () => {
  let pepToken: string;
  let otherPep: string;
  let taskId: string;
  const evaluate = (context: Record<string, unknown>, url = 'https://example.com/pep') =>
    env.s.api('POST', '/access/v1/evaluation', { subject: { type: 'identity', id: agent.id }, action: { name: 'tools/call' }, resource: { type: 'tool', id: 'stdio.fetch' }, context: { task_id: taskId, arguments: { url }, ...context } }, { token: pepToken });
  beforeAll(async () => {
    pepToken = (await env.s.api('POST', '/api/v1/tokens', { name: 'api-gateway', role: 'pep' })).body.token as string;
    otherPep = (await env.s.api('POST', '/api/v1/tokens', { name: 'other-pep', role: 'pep' })).body.token as string;
    taskId = (await startTask(env.s, agent, ['stdio.fetch'])).taskId;
  });

  it('publishes the access request endpoint and keys in the PDP metadata', async () => {
    const meta = await env.s.api('GET', '/.well-known/authzen-configuration');
    expect(meta.body).toMatchObject({ access_request_endpoint: `${env.s.url}/access/v1/requests`, jwks_uri: `${env.s.url}/.well-known/jwks.json`, capabilities: ['urn:openid:authzen:capability:access-request'] });
  });

  it('turns approval_required into a requestable denial, a task, and a single-use allow on re-evaluation', async () => {
    const denied = await evaluate({});
    expect(denied.body.decision).toBe(false);
    const ctx = denied.body.context as Record<string, any>;
    expect(ctx.reason).toBe('approval_required');
    expect(ctx.access_request).toMatchObject({ endpoint: `${env.s.url}/access/v1/requests`, expires_at: expect.any(String), binding_token: expect.any(String) });

    const submission = { subject: { type: 'identity', id: agent.id }, action: { name: 'tools/call' }, resource: { type: 'tool', id: 'stdio.fetch' }, context: { task_id: taskId, arguments: { url: 'https://example.com/pep' }, business_justification: 'customer escalation' }, denial: { expires_at: ctx.access_request.expires_at, binding_token: ctx.access_request.binding_token } };
    const sub = await env.s.api('POST', '/access/v1/requests', submission, { token: pepToken });
    expect(sub.status).toBe(201);
    const task = (sub.body as any).task;
    expect(task).toMatchObject({ status: 'pending', status_endpoint: `${env.s.url}/access/v1/requests/${task.id}` });
    // Submitting again finds the same task.
    expect(((await env.s.api('POST', '/access/v1/requests', submission, { token: pepToken })).body as any).task.id).toBe(task.id);
    // Another enforcement point cannot read it (a leaked handle shows nothing).
    expect((await env.s.api('GET', `/access/v1/requests/${task.id}`, undefined, { token: otherPep })).status).toBe(404);
    // Still pending: re-evaluation says retry.
    const early = await evaluate({ approval: { id: task.id } });
    expect(early.body).toMatchObject({ decision: false, context: { reason: 'grant_pending', next_action: 'retry' } });

    expect((await approve(task.id, 'alice')).body.status).toBe('approved');
    const done = await env.s.api('GET', `/access/v1/requests/${task.id}`, undefined, { token: pepToken });
    expect(done.body).toMatchObject({ task: { status: 'approved' }, result: { mode: 'reevaluate', approval: { id: task.id, approved_until: expect.any(String) } } });
    const approvalObj = (done.body as any).result.approval;

    // The approval does not cover other arguments.
    const other = await evaluate({ approval: approvalObj }, 'https://evil.example/');
    expect(other.body).toMatchObject({ decision: false, context: { reason: 'out_of_scope', next_action: 'request' } });
    const ok = await evaluate({ approval: approvalObj });
    expect(ok.body).toMatchObject({ decision: true, context: { approval: { id: task.id } } });
    // Single use: the same re-evaluation again is refused.
    const again = await evaluate({ approval: approvalObj });
    expect(again.body).toMatchObject({ decision: false, context: { reason: 'approval_expired' } });
  });

  it('rejects forged, mismatched and malformed submissions with problem details', async () => {
    const denied = await evaluate({}, 'https://example.com/forge');
    const ar = (denied.body.context as any).access_request;
    const base = { subject: { type: 'identity', id: agent.id }, action: { name: 'tools/call' }, resource: { type: 'tool', id: 'stdio.fetch' }, context: { task_id: taskId, arguments: { url: 'https://example.com/forge' } }, denial: { expires_at: ar.expires_at, binding_token: ar.binding_token } };
    // Swapping the resource after the denial (binding substitution).
    const swapped = await env.s.api('POST', '/access/v1/requests', { ...base, context: { ...base.context, arguments: { url: 'https://evil.example/' } } }, { token: pepToken });
    expect(swapped.status).toBe(400);
    expect(swapped.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(swapped.body).toMatchObject({ type: 'urn:openid:authzen:access-request:error:invalid_denial_binding' });
    // A token with a flipped signature byte.
    const sig = ar.binding_token.slice(-10);
    const forged = await env.s.api('POST', '/access/v1/requests', { ...base, denial: { ...base.denial, binding_token: ar.binding_token.slice(0, -10) + [...sig].reverse().join('') } }, { token: pepToken });
    expect(forged.body).toMatchObject({ type: 'urn:openid:authzen:access-request:error:invalid_denial_binding' });
    // No binding at all.
    const none = await env.s.api('POST', '/access/v1/requests', { ...base, denial: { expires_at: ar.expires_at } }, { token: pepToken });
    expect(none.status).toBe(400);
    // Not authenticated.
    expect((await env.s.api('POST', '/access/v1/requests', base, { token: null })).status).toBe(401);
    // Cancellation is not offered.
    expect((await env.s.api('POST', '/access/v1/requests/apr_x/cancel', {}, { token: pepToken })).status).toBe(405);
    // Too late.
    clock.advance(11 * 60_000);
    const late = await env.s.api('POST', '/access/v1/requests', base, { token: pepToken });
    expect(late.status).toBe(410);
    expect(late.body).toMatchObject({ type: 'urn:openid:authzen:access-request:error:expired_denial' });
  });
});

describe('bad input on the approval endpoints', () => {
  it('answers malformed requests with 4xx naming the problem, never a 500', async () => {
    const list = await env.s.api('GET', '/api/v1/approvals?status=maybe', undefined, { token: tokens.alice! });
    expect(list.status).toBe(400);
    expect(list.body.error_description).toMatch(/status/);
    const extra = await env.s.api('POST', '/api/v1/approvals/apr_x/approve', { reason: 'ok', force: true }, { token: tokens.alice! });
    expect(extra.status).toBe(400);
    expect(extra.body.error_description).toMatch(/force/);
    const bg = await env.s.api('POST', '/api/v1/breakglass', { agent: agent.id, tools: 'mem.delete_entities' }, { token: tokens.bob! });
    expect(bg.status).toBe(400);
    const unknownTool = await env.s.api('POST', '/api/v1/breakglass', { agent: agent.id, tools: ['nope.nothing'], reason: 'incident 45: testing', ttl: 300 }, { token: tokens.bob! });
    expect(unknownTool.status).toBe(400);
    expect(unknownTool.body.error_description).toMatch(/unknown tool/);
    const noAgent = await env.s.api('POST', '/api/v1/breakglass', { agent: 'spiffe://x/agent/none', tools: ['mem.delete_entities'], reason: 'incident 46: testing', ttl: 300 }, { token: tokens.bob! });
    expect(noAgent.status).toBe(404);
    const user = await env.s.api('POST', '/api/v1/users', { name: 'X', email: 'not-an-email' });
    expect(user.status).toBe(400);
    const dup = await env.s.api('POST', '/api/v1/users', { name: 'Bob again', email: 'bob@corp.example' });
    expect(dup.status).toBe(409);
    const byUser = await env.s.api('POST', '/api/v1/users', { name: 'Y', email: 'y@corp.example' }, { token: tokens.bob! });
    expect(byUser.status).toBe(403);
  });
});
