// The governance loop's access review and observe mode, against a history built through the real
// server and the real MCP client, on an injected clock (60 days pass without sleeping):
// - the review's numbers are checked exactly: grants used and never used, tools always denied,
//   an agent past its review date, a stale one, an orphaned one (owner unknown) and one whose
//   owner was disabled, approvals asked/approved/denied and their time to decide;
// - `review accept` records who reviewed and moves the date; only the owner or security/admin;
// - observe mode (for one agent) lets through and records as would-deny what policy would deny or
//   hold for approval, while the task's scope and a `forbid` marked `@enforce` still refuse
//   (the attack: an agent in observe mode reaching outside its task, or a hard limit).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import type { Review } from '../../../src/governance/review.js';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestAgent, PATIENCE, REPO, startTask, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

const DAY = 86_400_000;
const START = Date.parse('2026-09-01T09:00:00Z');
let s: TestServer;
let clock: ManualClock;
const tokens: Record<string, string> = {};
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

beforeAll(async () => {
  clock = new ManualClock(START);
  const dir = mkdtempSync(join(tmpdir(), 'mandate-review-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'p.cedar'),
    `permit (principal is Agent, action == Action::"startTask", resource);
permit (principal is Agent, action in Action::"read", resource);
permit (principal is Agent, action in Action::"egress", resource);
@id("fetch-needs-owner") @reason("fetching needs the owner's yes") @approval("owner")
forbid (principal, action == Action::"stdio.fetch", resource);
@id("no-whoami") @reason("whoami is not for agents")
forbid (principal, action == Action::"stdio.whoami", resource);
@id("never-leak-env") @reason("the environment holds secrets") @enforce("even in observe mode")
forbid (principal, action == Action::"stdio.leak_env", resource);
`,
  );
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: review.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
approvals: { wait: 120 }
enforcement: { agents: { observer: observe } }
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
`,
  );
  s = await startTestServer({ config, clock });
  for (const [name, roles] of [['Alice', []], ['Carol', []], ['Sam', ['security']]] as const) {
    tokens[name] = (await s.api('POST', '/api/v1/users', { name, email: `${name.toLowerCase()}@corp.example`, roles })).body.token as string;
  }
});
afterAll(async () => {
  await s?.close();
});

async function agentWith(over: { name: string; owner: string; reviewBy?: string }): Promise<string> {
  return (await createTestAgent(s, over)).id;
}

async function pending(tool: string): Promise<string> {
  const end = Date.now() + PATIENCE;
  for (;;) {
    const a = (await s.m.approvals.list({ status: 'pending' })).find((x) => x.tool === tool);
    if (a) return a.id;
    if (Date.now() > end) throw new Error(`no approval for ${tool}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('access review', () => {
  let reporter: TestAgent;
  let dormant: string;
  let ghost: string;
  let carols: string;

  beforeAll(async () => {
    // Day 0: three agents that will do nothing, one of them due for review on day 30.
    dormant = await agentWith({ name: 'dormant', owner: 'alice@corp.example', reviewBy: day(START + 30 * DAY) });
    ghost = await agentWith({ name: 'ghost', owner: 'nobody@corp.example' });
    carols = await agentWith({ name: 'carols-bot', owner: 'carol@corp.example' });
    clock.advance(60 * DAY);
    // Day 60: Carol leaves (disabled); the reporter works.
    const carol = (await s.api<{ users: Array<{ id: string; email: string }> }>('GET', '/api/v1/users')).body.users.find((u) => u.email === 'carol@corp.example')!;
    expect((await s.api('POST', `/api/v1/users/${carol.id}/disable`, {})).status).toBe(200);
    reporter = await createTestAgent(s, { name: 'reporter', owner: 'alice@corp.example' });
    const t = await startTask(s, reporter, ['stdio.echo', 'stdio.fetch', 'stdio.log'], { resources: [] });
    const client = await connectAgent(s, t.token);
    for (const x of ['a', 'b', 'c']) expect(text(await client.callTool({ name: 'stdio.echo', arguments: { text: x } }))).toBe(`echo: ${x}`);
    // Out of scope twice: always denied.
    for (let i = 0; i < 2; i++) expect((await client.callTool({ name: 'stdio.secret_report', arguments: {} })).isError).toBe(true);
    // One fetch approved after 30 s (by the clock), one denied at once.
    const alice = (await s.m.store.getUser('alice@corp.example'))!;
    const first = client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://partner.example/1' } });
    const a1 = await pending('stdio.fetch');
    clock.advance(30_000);
    await s.m.approvals.decide(a1, { role: 'user', name: 'user:alice@corp.example', user: alice }, 'approve', 'fine');
    expect(text(await first)).toBe('fetched https://partner.example/1');
    const second = client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://partner.example/2' } });
    const a2 = await pending('stdio.fetch');
    clock.advance(10_000);
    await s.m.approvals.decide(a2, { role: 'user', name: 'user:alice@corp.example', user: alice }, 'deny', 'no');
    expect(text(await second)).toMatch(/refused approval/);
    await client.close();
    await s.m.audit.drain();
  });

  it('counts granted against used per agent, and finds the overdue, stale and orphaned agents', async () => {
    const r = await s.api<Review>('GET', '/api/v1/review?since=90d&staleDays=30');
    expect(r.status).toBe(200);
    const rep = r.body.agents.find((a) => a.id === reporter.id)!;
    expect(rep.tasksInWindow).toBe(1);
    const tool = (n: string) => rep.tools.find((t) => t.tool === n);
    expect(tool('stdio.echo')).toMatchObject({ tasks: 1, calls: 3, denied: 0 });
    expect(tool('stdio.fetch')).toMatchObject({ tasks: 1, calls: 1, denied: 1 });
    expect(tool('stdio.log')).toMatchObject({ tasks: 1, calls: 0, denied: 0 });
    expect(tool('stdio.secret_report')).toMatchObject({ tasks: 0, calls: 0, denied: 2 });
    expect(rep.neverUsed).toEqual(['stdio.log']);
    expect(rep.alwaysDenied).toEqual(['stdio.secret_report']);
    expect(rep).toMatchObject({ stale: false, overdue: false, orphaned: false, ownerStatus: 'active' });
    expect(rep.grantableByPolicy).toContain('stdio.echo');
    expect(rep.grantableByPolicy).toContain('stdio.fetch');

    const find = (id: string) => r.body.agents.find((a) => a.id === id)!;
    expect(find(dormant)).toMatchObject({ overdue: true, stale: true, orphaned: false, lastTaskAt: null });
    expect(find(ghost)).toMatchObject({ orphaned: true, ownerStatus: 'unknown', stale: true });
    expect(find(carols)).toMatchObject({ orphaned: true, ownerStatus: 'disabled' });

    const kinds = (id: string) => r.body.findings.filter((f) => f.agent === id).map((f) => f.kind).sort();
    expect(kinds(reporter.id)).toEqual(['always_denied', 'never_used']);
    expect(kinds(dormant)).toEqual(['overdue_review', 'stale']);
    expect(kinds(ghost)).toEqual(['orphaned', 'stale']);
    expect(r.body.approvals).toMatchObject({ asked: 2, approved: 1, denied: 1, expired: 0, pending: 0 });
    // Times to decide: 30 s and 10 s (nearest-rank percentiles).
    expect(r.body.approvals).toMatchObject({ medianDecideMs: 10_000, p90DecideMs: 30_000 });
    expect(r.body.owners.find((o) => o.owner === 'nobody@corp.example')).toMatchObject({ ownerStatus: 'unknown', agents: 1 });
  });

  it('an owner sees only their own agents; security sees everyone', async () => {
    const mine = await s.api<Review>('GET', '/api/v1/review?since=90d', undefined, { token: tokens.Alice });
    expect(mine.status).toBe(200);
    expect(mine.body.agents.map((a) => a.name).sort()).toEqual(['dormant', 'reporter']);
    const other = await s.api('GET', '/api/v1/review?owner=nobody@corp.example', undefined, { token: tokens.Alice });
    expect(other.status).toBe(403);
    const all = await s.api<Review>('GET', '/api/v1/review?since=90d', undefined, { token: tokens.Sam });
    expect(all.body.agents.length).toBeGreaterThanOrEqual(4);
  });

  it('review accept records who reviewed and moves the date; someone else\'s agent is refused', async () => {
    const r = await s.api<{ reviewBy: string; reviewedBy: string }>('POST', '/api/v1/review/accept', { agent: 'dormant', next: 30, note: 'still needed for Q4' }, { token: tokens.Alice });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ reviewBy: day(clock.now() + 30 * DAY), reviewedBy: 'user:alice@corp.example' });
    const events = await s.m.store.listAudit({ type: 'review.accept', agentId: dormant, limit: 5 });
    expect(events[0]).toMatchObject({ actor: 'user:alice@corp.example', data: { previousReviewBy: day(START + 30 * DAY), reviewBy: r.body.reviewBy, note: 'still needed for Q4' } });
    const after = await s.api<Review>('GET', `/api/v1/review?agent=${encodeURIComponent(dormant)}`);
    expect(after.body.agents[0]!.overdue).toBe(false);
    expect((await s.api('POST', '/api/v1/review/accept', { agent: 'ghost' }, { token: tokens.Alice })).status).toBe(403);
    expect((await s.api('POST', '/api/v1/review/accept', { agent: 'dormant', next: '2020-01-01' })).status).toBe(400);
    expect((await s.api('GET', '/api/v1/review?since=last-tuesday')).body).toMatchObject({ error_description: expect.stringMatching(/is not a time: give a duration such as 30d/) });
  });
});

describe('observe mode', () => {
  it('runs what policy would deny or hold, recorded as would-deny; scope and @enforce forbids still refuse', async () => {
    const observer = await createTestAgent(s, { name: 'observer', owner: 'alice@corp.example' });
    const strict = await createTestAgent(s, { owner: 'alice@corp.example' });
    const tools = ['stdio.whoami', 'stdio.fetch', 'stdio.leak_env', 'stdio.echo'];
    const o = await connectAgent(s, (await startTask(s, observer, tools, { resources: [] })).token);
    const e = await connectAgent(s, (await startTask(s, strict, tools, { resources: [] })).token);

    // Denied by policy: runs for the observer, refused for the enforced agent.
    const whoami = await o.callTool({ name: 'stdio.whoami', arguments: {} });
    expect(whoami.isError).toBeFalsy();
    const refused = await e.callTool({ name: 'stdio.whoami', arguments: {} });
    expect(text(refused)).toMatch(/denied by Mandate: whoami is not for agents/);
    // Held for approval: runs at once for the observer, nobody is asked.
    expect(text(await o.callTool({ name: 'stdio.fetch', arguments: { url: 'https://partner.example/o' } }))).toBe('fetched https://partner.example/o');
    expect((await s.m.approvals.list({ status: 'pending' })).filter((a) => a.agentId === observer.id)).toEqual([]);
    // Hard limits hold: a forbid marked @enforce, and the task's scope.
    expect(text(await o.callTool({ name: 'stdio.leak_env', arguments: {} }))).toMatch(/denied by Mandate: the environment holds secrets/);
    expect((await o.callTool({ name: 'stdio.secret_report', arguments: {} })).isError).toBe(true);
    await s.m.audit.drain();

    const calls = await s.m.store.listAudit({ agentId: observer.id, type: 'tool.call', limit: 50 });
    const of = (tool: string) => calls.filter((c) => (c.data as { tool: string }).tool === tool);
    expect(of('stdio.whoami')[0]).toMatchObject({ decision: 'allow', outcome: 'success', data: { policyIds: ['mandate:observe'], wouldDeny: { decision: 'deny', policyIds: ['no-whoami'] } } });
    expect(of('stdio.fetch')[0]).toMatchObject({ decision: 'allow', data: { wouldDeny: { decision: 'approval_required' } } });
    expect(of('stdio.leak_env')[0]).toMatchObject({ decision: 'deny', data: { policyIds: ['never-leak-env'] } });
    expect(of('stdio.secret_report')[0]!.decision).toBe('deny');
    expect((of('stdio.leak_env')[0]!.data as { wouldDeny?: unknown }).wouldDeny).toBeUndefined();
    // The switch itself was recorded when the server started with it.
    const [mode] = await s.m.store.listAudit({ type: 'enforcement.mode', limit: 5 });
    expect(mode).toMatchObject({ actor: 'system', data: { mode: 'enforce', agents: { observer: 'observe' } } });
    // And the review shows it.
    const r = await s.api<Review>('GET', `/api/v1/review?agent=observer`);
    expect(r.body.findings.filter((f) => f.kind === 'would_deny').map((f) => f.detail).sort()).toEqual(['stdio.fetch: 1 call(s) ran in observe mode that policy would deny', 'stdio.whoami: 1 call(s) ran in observe mode that policy would deny']);
    await o.close();
    await e.close();
  });
});
