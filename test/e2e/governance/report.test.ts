// The framework report against a history built through the real server and the real MCP client,
// on an injected clock, in a deployment that deliberately leaves one control out: production
// agents may hold bearer (not key-bound) credentials (`credentials.bearerEnvironments` includes
// `prod`). The report must mark exactly the items that rely on key-bound credentials as gaps (and
// nothing else), while the controls this deployment does configure (an audit sink, an approval
// gate on the one high-risk tool, enforce mode) show as in force; the evidence counts must equal
// the calls made; the API refuses anonymous callers, PEP tokens and agents, and keeps an owner to
// their own agents. The HTML is opened in headless Chromium: no request beyond the page itself,
// no console error (the console page too, under its CSP), printed to a PDF of several pages and
// a PNG (and the HTML itself) in test-results/report/ (not committed).

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { FRAMEWORKS } from '../../../src/governance/frameworks.js';
import type { Report } from '../../../src/governance/report.js';
import { openSqlite } from '../../../src/storage/sqlite/driver.js';
import { launchBrowser } from '../../helpers/browser.js';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestAgent, PATIENCE, REPO, startTask, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

const START = Date.parse('2026-10-05T08:00:00Z');
const OUT = join(REPO, 'test-results', 'report');
let s: TestServer;
let clock: ManualClock;
const tokens: Record<string, string> = {};
let reporter: TestAgent;
let payments: TestAgent;
let opsBot: TestAgent;

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  clock = new ManualClock(START);
  const dir = mkdtempSync(join(tmpdir(), 'mandate-report-'));
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
`,
  );
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: report.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
approvals: { wait: 120 }
# The control left out on purpose: production agents may hold bearer credentials.
credentials: { bearerEnvironments: [dev, test, prod] }
audit: { sinks: { archive: { type: file, path: ${join(dir, 'audit.jsonl')} } } }
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
  tokens.pep = (await s.api('POST', '/api/v1/tokens', { name: 'gateway-pep', role: 'pep' })).body.token as string;

  // The history: two agents of Alice's working (one in dev, one in prod with a bearer credential),
  // one of Carol's suspended without ever working.
  reporter = await createTestAgent(s, { name: 'reporter', owner: 'alice@corp.example', environment: 'dev' });
  payments = await createTestAgent(s, { name: 'payments', owner: 'alice@corp.example', environment: 'prod' });
  opsBot = await createTestAgent(s, { name: 'ops-bot', owner: 'carol@corp.example', environment: 'prod' });
  const alice = (await s.m.store.getUser('alice@corp.example'))!;
  const asAlice = { role: 'user' as const, name: 'user:alice@corp.example', user: alice };

  const t1 = await startTask(s, reporter, ['stdio.echo', 'stdio.fetch', 'stdio.whoami'], { resources: [] });
  const c1 = await connectAgent(s, t1.token);
  for (const x of ['a', 'b', 'c']) expect(text(await c1.callTool({ name: 'stdio.echo', arguments: { text: x } }))).toBe(`echo: ${x}`);
  expect(text(await c1.callTool({ name: 'stdio.whoami', arguments: {} }))).toMatch(/denied by Mandate: whoami is not for agents/);
  for (let i = 0; i < 2; i++) expect((await c1.callTool({ name: 'stdio.secret_report', arguments: {} })).isError).toBe(true);
  // Two fetches held for Alice: one approved after 30 s, one refused after 10 s.
  const first = c1.callTool({ name: 'stdio.fetch', arguments: { url: 'https://partner.example/1' } });
  const a1 = await pending('stdio.fetch');
  clock.advance(30_000);
  await s.m.approvals.decide(a1, asAlice, 'approve', 'fine');
  expect(text(await first)).toBe('fetched https://partner.example/1');
  const second = c1.callTool({ name: 'stdio.fetch', arguments: { url: 'https://partner.example/2' } });
  const a2 = await pending('stdio.fetch');
  clock.advance(10_000);
  await s.m.approvals.decide(a2, asAlice, 'deny', 'no');
  expect(text(await second)).toMatch(/refused approval/);
  await c1.close();

  // The production agent, on a bearer credential (allowed here, which is the gap).
  const t2 = await startTask(s, payments, ['stdio.echo'], { resources: [] });
  expect(t2.body.token_type).toBe('Bearer');
  const c2 = await connectAgent(s, t2.token);
  for (const x of ['p', 'q']) expect(text(await c2.callTool({ name: 'stdio.echo', arguments: { text: x } }))).toBe(`echo: ${x}`);
  expect((await c2.callTool({ name: 'stdio.fetch', arguments: { url: 'https://elsewhere.example/' } })).isError).toBe(true);
  await c2.close();
  expect((await s.api('POST', `/api/v1/tasks/${t2.taskId}/revoke`, { reason: 'report test' })).status).toBe(200);
  expect((await s.api('POST', `/api/v1/agents/${encodeURIComponent(opsBot.id)}/suspend`, { reason: 'report test' })).status).toBe(200);
  clock.advance(60_000);
  await s.m.audit.drain();
});
afterAll(async () => {
  await s?.close();
});

async function pending(tool: string): Promise<string> {
  const end = Date.now() + PATIENCE;
  for (;;) {
    const a = (await s.m.approvals.list({ status: 'pending' })).find((x) => x.tool === tool);
    if (a) return a.id;
    if (Date.now() > end) throw new Error(`no approval for ${tool}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const item = (r: Report, id: string) => r.frameworks.flatMap((f) => f.items).find((i) => i.id === id)!;
const control = (r: Report, id: string) => r.controls.find((c) => c.id === id)!;

describe('framework report', () => {
  it('marks exactly the items relying on key-bound credentials as gaps, and shows configured controls in force', async () => {
    const res = await s.api<Report>('GET', '/api/v1/report?since=7d&format=json');
    expect(res.status).toBe(200);
    const r = res.body;
    expect(control(r, 'key-bound')).toMatchObject({ state: 'off', summary: expect.stringMatching(/^bearer \(non-key-bound\) credentials allowed in production: credentials\.bearerEnvironments includes prod/) });
    expect(control(r, 'key-bound').facts).toContainEqual({ label: 'DPoP required for production agents', value: false });
    expect(control(r, 'key-bound').facts).toContainEqual({ label: 'bearer credentials issued to production agents', value: 1 });
    // No other control is off.
    expect(r.controls.filter((c) => c.state === 'off').map((c) => c.id)).toEqual(['key-bound']);
    // The gaps are exactly the items that rely on it, each because of it.
    const relying = FRAMEWORKS.flatMap((f) => f.items.filter((i) => i.controls.includes('key-bound')).map((i) => i.id)).sort();
    const gaps = r.frameworks.flatMap((f) => f.items.filter((i) => i.status === 'gap')).sort((a, b) => a.id.localeCompare(b.id));
    expect(gaps.map((i) => i.id)).toEqual(relying);
    expect(relying).toEqual(expect.arrayContaining(['ASI03', 'NHI4', 'NHI8']));
    for (const g of gaps) expect(g).toMatchObject({ gaps: ['key-bound'], why: expect.stringContaining('bearer (non-key-bound) credentials allowed in production') });
    expect(r.summary.gap).toBe(relying.length);
    // What this deployment does configure shows as in force.
    expect(control(r, 'audit-export')).toMatchObject({ state: 'on', summary: 'audit sinks configured: archive (file); signed checkpoints on' });
    expect(control(r, 'approval-gates')).toMatchObject({ state: 'on', summary: expect.stringMatching(/^approvals required for high-risk tools: yes/) });
    expect(control(r, 'enforcement')).toMatchObject({ state: 'on', summary: 'observe mode anywhere: no; every denial is enforced' });
    expect(control(r, 'inventory')).toMatchObject({ state: 'on', summary: 'agents without a known owner: 0 of 3' });
    expect(control(r, 'short-lived')).toMatchObject({ state: 'on', summary: 'max task TTL 600 s' });
    expect(item(r, 'MAP 3.5')).toMatchObject({ status: 'addressed' });
    expect(item(r, 'NHI7')).toMatchObject({ status: 'addressed' });
    expect(item(r, 'GOVERN 1.6')).toMatchObject({ status: 'addressed' });
    // Out of reach: said so, with the reason.
    expect(item(r, 'L1')).toMatchObject({ status: 'not_applicable', why: expect.stringMatching(/does not host, tune or call models/) });
    expect(item(r, 'ASI06')).toMatchObject({ status: 'partial', why: expect.stringMatching(/^within reach: memory lives in the agent/) });
  });

  it('counts the evidence of the calls made, exactly', async () => {
    const { body: r } = await s.api<Report>('GET', '/api/v1/report?since=7d');
    const e = r.evidence;
    // reporter: 3 echo + 1 whoami (denied) + 2 secret_report (out of scope) + 2 fetch (approval);
    // payments: 2 echo + 1 fetch (out of scope).
    expect(e.decisions).toEqual({ total: 11, allow: 5, approval: 2, deny: 4, wouldDeny: 0, withUntrustedValues: 0 });
    expect(e.denialsByReason).toHaveLength(2);
    expect(e.denialsByReason[0]).toMatchObject({ reason: expect.stringMatching(/^mandate:task-scope — /), count: 3 });
    expect(e.denialsByReason[1]).toEqual({ reason: 'no-whoami — whoami is not for agents', count: 1 });
    expect(e.approvals).toMatchObject({ asked: 2, approved: 1, denied: 1, expired: 0, used: 1, byKind: { tool_call: 2 }, forUntrustedValues: 0, medianDecideMs: 10_000, p90DecideMs: 30_000 });
    expect(e.tasks).toMatchObject({ started: 2, denied: 0, revoked: 1, delegated: 0 });
    expect(e.agents).toEqual({ suspended: 1, retired: 0, resumed: 0 });
    expect(e.breakGlass).toEqual({ requested: 0, started: 0 });
    expect(e.credentials).toEqual({ issued: 2, bearer: 2, bearerInProduction: 1 });
    // The chain, checked in the same pass, up to the head.
    const head = await s.m.store.auditHead();
    expect(e.chain).toMatchObject({ ok: true, broken: null, eventsChecked: e.eventsRead, linksChecked: e.eventsRead, linksNotChecked: 0 });
    expect(e.chain.head?.seq).toBeGreaterThanOrEqual(head!.seq - 2);
    expect(e.eventsRead).toBe((await s.m.store.listAudit({ since: r.window.since, until: r.window.until, limit: 100_000 })).length);
    // The timeline adds up to the totals, per day over the 7-day window.
    expect(e.timeline.bucket).toBe('day');
    const sum = (k: 'allow' | 'approval' | 'deny') => e.timeline.points.reduce((n, p) => n + p[k], 0);
    expect([sum('allow'), sum('approval'), sum('deny')]).toEqual([5, 2, 4]);
    expect(e.timeline.points.filter((p) => p.allow + p.approval + p.deny > 0).map((p) => new Date(p.start).toISOString())).toEqual(['2026-10-05T00:00:00.000Z']);
  });

  it('is a well-formed document: every framework item, with a status and a reason', async () => {
    const { body: r } = await s.api<Report>('GET', '/api/v1/report?since=7d&format=json');
    expect(r).toMatchObject({ kind: 'mandate.framework-report', schemaVersion: 1, scope: { owner: null, agents: 3 }, deployment: { trustDomain: 'report.test', store: 'sqlite', agents: { active: 2, suspended: 1, retired: 0 } } });
    expect(r.window.until - r.window.since).toBe(7 * 86_400_000 + 1);
    expect(r.frameworks.map((f) => [f.id, f.items.length])).toEqual([['owasp-asi', 10], ['owasp-nhi', 10], ['nist-ai-rmf', 15], ['csa-maestro', 7]]);
    expect(r.frameworks[0]!.items.map((i) => i.title)).toEqual(['Agent Goal Hijack', 'Tool Misuse & Exploitation', 'Identity & Privilege Abuse', 'Agentic Supply Chain Vulnerabilities', 'Unexpected Code Execution', 'Memory & Context Poisoning', 'Insecure Inter-Agent Communication', 'Cascading Failures', 'Human-Agent Trust Exploitation', 'Rogue Agents']);
    expect(r.frameworks[1]!.items.map((i) => i.id)).toEqual(['NHI1', 'NHI2', 'NHI3', 'NHI4', 'NHI5', 'NHI6', 'NHI7', 'NHI8', 'NHI9', 'NHI10']);
    for (const f of r.frameworks) {
      expect(Object.values(f.counts).reduce((a, b) => a + b, 0)).toBe(f.items.length);
      for (const i of f.items) {
        expect(['addressed', 'partial', 'gap', 'not_applicable']).toContain(i.status);
        expect(i.why.length).toBeGreaterThan(10);
        for (const c of i.controls) expect(['on', 'partial', 'off', 'unknown']).toContain(c.state);
        if (i.status !== 'not_applicable') expect(i.controls.length).toBeGreaterThan(0);
      }
    }
    expect(r.summary.addressed + r.summary.partial + r.summary.gap + r.summary.not_applicable).toBe(42);
    for (const c of r.controls) expect(c.summary.length).toBeGreaterThan(5);
    // Markdown carries the same content.
    const md = await s.api<string>('GET', '/api/v1/report?since=7d&format=md');
    expect(md.status).toBe(200);
    expect(md.headers.get('content-type')).toMatch(/^text\/markdown/);
    for (const g of r.frameworks.flatMap((f) => f.items.filter((i) => i.status === 'gap'))) expect(md.body).toContain(`**GAP ${g.id} ${g.title}**`);
    expect(md.body).toContain('| no-whoami — whoami is not for agents | 1 |');
    expect(md.body).toContain('| 2026-10-05 | 5 | 2 | 4 |');
    expect(md.body).toContain('### Key-bound credentials (DPoP) — OFF');
  });

  it('the API needs a person or the admin token; an owner sees only their own agents', async () => {
    // The attacks: reading the deployment's posture and history anonymously, with an
    // enforcement point's token, with an agent's credential, or as another owner.
    expect((await s.api('GET', '/api/v1/report', undefined, { token: null })).status).toBe(401);
    expect((await s.api('GET', '/api/v1/report', undefined, { token: tokens.pep })).status).toBe(403);
    const agentToken = (await startTask(s, reporter, ['stdio.echo'], { resources: [] })).token;
    expect((await s.api('GET', '/api/v1/report', undefined, { token: agentToken })).body).toMatchObject({ error: 'unauthorized', error_description: expect.stringMatching(/agent credentials are not accepted/) });
    expect((await s.api('GET', '/api/v1/report?owner=alice@corp.example', undefined, { token: tokens.Carol })).status).toBe(403);
    expect((await s.api('GET', '/api/v1/report?format=pdf')).status).toBe(400);

    const carol = await s.api<Report>('GET', '/api/v1/report?since=7d', undefined, { token: tokens.Carol });
    expect(carol.status).toBe(200);
    expect(carol.body.scope).toMatchObject({ owner: 'carol@corp.example', agents: 1 });
    expect(carol.body.evidence.decisions.total).toBe(0);
    expect(carol.body.evidence.agents.suspended).toBe(1);
    expect(carol.body.evidence.tasks.revoked).toBe(0);
    const alice = await s.api<Report>('GET', '/api/v1/report?since=7d', undefined, { token: tokens.Alice });
    expect(alice.body.scope).toMatchObject({ owner: 'alice@corp.example', agents: 2 });
    expect(alice.body.evidence.decisions.total).toBe(11);
    expect(alice.body.evidence.tasks.revoked).toBe(1);
    const sam = await s.api<Report>('GET', '/api/v1/report?since=7d&owner=carol@corp.example', undefined, { token: tokens.Sam });
    expect(sam.body.scope).toMatchObject({ owner: 'carol@corp.example', agents: 1 });
  });

  describe('in a browser', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('the HTML is self-contained: one request, no console errors, charts drawn; it prints to a multi-page PDF', async () => {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1100, height: 900 }, extraHTTPHeaders: { authorization: `Bearer ${s.adminToken}` } });
      const page = await context.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (q) => requests.push(q.url()));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      const url = `${s.url}/api/v1/report?since=7d&format=html`;
      const res = await page.goto(url);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'/);
      await page.waitForLoadState('load');
      expect(requests).toEqual([url]);
      expect(errors).toEqual([]);
      expect(await page.locator('#chart-decisions rect[fill="#2e7d32"]').count()).toBeGreaterThan(0);
      expect(await page.locator('#chart-decisions rect[fill="#c62828"]').count()).toBeGreaterThan(0);
      expect(await page.locator('#chart-denials rect').count()).toBe(2);
      expect(await page.locator('tr[data-status="gap"]').count()).toBeGreaterThan(0);
      expect(await page.textContent('#r-gaps')).toContain('Identity & Privilege Abuse');
      writeFileSync(join(OUT, 'report.html'), (await res!.text()));
      await page.screenshot({ path: join(OUT, 'report.png'), fullPage: true });
      await page.pdf({ path: join(OUT, 'report.pdf'), format: 'A4', printBackground: true });
      const pdf = readFileSync(join(OUT, 'report.pdf'));
      expect(statSync(join(OUT, 'report.pdf')).size).toBeGreaterThan(10_000);
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      // One page per framework at least (page breaks), plus summary, evidence and controls.
      const pages = pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g)?.length ?? 0;
      expect(pages).toBeGreaterThan(4);
      expect(requests).toEqual([url]);
      await context.close();
    });

    it('the console shows the same report inside its layout, under its CSP', async () => {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('request', (q) => {
        if (!q.url().startsWith(s.url)) errors.push(`external request ${q.url()}`);
      });
      await page.goto(`${s.url}/console/login`);
      await page.fill('#user_token', tokens.Sam!);
      await page.click('button[type=submit]');
      await page.waitForURL(`${s.url}/`);
      await page.click('nav a[href="/console/report"]');
      await page.waitForURL(`${s.url}/console/report`);
      await page.fill('#rp-since', '7d');
      await page.click('form.filters button[type=submit]');
      await page.waitForURL(/\/console\/report\?since=7d/);
      expect(await page.textContent('h1')).toBe('Framework report');
      expect(await page.locator('#chart-decisions').count()).toBe(1);
      expect(await page.textContent('#r-gaps')).toContain('Insecure Authentication');
      // The stylesheet applied (the CSP forbids inline styles): a gap badge is red.
      expect(await page.locator('.r-badge.r-s-gap').first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor)).toBe('rgb(187, 0, 0)');
      await page.screenshot({ path: join(OUT, 'console-report.png'), fullPage: true });
      const dl = await context.request.get(`${s.url}/console/report/export?since=7d&format=json`);
      expect(dl.status()).toBe(200);
      expect(((await dl.json()) as Report).scope.owner).toBeNull();
      expect(errors).toEqual([]);
      await context.close();
    });
  });
});

describe('mandate report (CLI)', () => {
  it('writes each format to a file from the running server', async () => {
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO, 'dist/cli/main.js'), '--url', s.url, '--token', s.adminToken, 'report', '--since', '7d', ...args]);
    for (const format of ['json', 'md', 'html'] as const) {
      const out = join(OUT, `cli-report.${format}`);
      const { stderr } = await cli('--format', format, '--out', out);
      expect(stderr).toMatch(new RegExp(`report written to .*cli-report\\.${format} \\(${format}, \\d+ bytes\\)`));
      const body = readFileSync(out, 'utf8');
      if (format === 'json') expect((JSON.parse(body) as Report).evidence.decisions.total).toBe(11);
      if (format === 'md') expect(body).toMatch(/^# Framework report — report\.test\n/);
      if (format === 'html') expect(body).toMatch(/^<!doctype html>.*<svg id="chart-decisions"/s);
    }
    const { stdout } = await cli('--json');
    expect((JSON.parse(stdout) as Report).kind).toBe('mandate.framework-report');
    await expect(cli('--format', 'pdf')).rejects.toMatchObject({ stderr: expect.stringMatching(/unknown format `pdf`: use html, json or md/) });
  });
});

describe('a tampered log', () => {
  // The attack: someone with disk access edits a denial into a success (dropping the append-only
  // triggers first). The report's pass re-hashes every event of the window and says so.
  it('turns the hash-chained audit control off, and the items relying on it into gaps', async () => {
    const db = openSqlite(join(s.dataDir, 'mandate.db'));
    db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
    const row = db.prepare("SELECT seq FROM audit_events WHERE type = 'tool.call' AND decision = 'deny' ORDER BY seq LIMIT 1").get() as { seq: number };
    db.prepare("UPDATE audit_events SET decision = 'allow', outcome = 'success' WHERE seq = ?").run(row.seq);
    db.close();
    const { body: r } = await s.api<Report>('GET', '/api/v1/report?since=7d');
    expect(r.evidence.chain).toMatchObject({ ok: false, broken: { seq: row.seq, reason: `event ${row.seq} was modified: its content does not match its hash` } });
    expect(control(r, 'audit-chain')).toMatchObject({ state: 'off', summary: `chain BROKEN at event #${row.seq}: event ${row.seq} was modified: its content does not match its hash` });
    expect(item(r, 'MEASURE 2.8')).toMatchObject({ status: 'gap', gaps: ['audit-chain'] });
    expect(item(r, 'ASI10')).toMatchObject({ status: 'gap', gaps: ['audit-chain'] });
  });
});
