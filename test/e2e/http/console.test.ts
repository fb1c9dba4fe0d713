// The console in a real browser (headless Debian chromium, JavaScript off: the pages need none):
// sign in with a personal token, an agent's call held for approval appears in the inbox and is
// approved there (the agent's call then completes), a denial with a reason reaches the agent,
// suspending an agent ends its access; and the attacks: an agent credential or the admin token
// signing in as a person, a forged decision without the CSRF token, a planted session cookie.
// Screenshots at laptop and phone widths go to test-results/console/ (not committed).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../../helpers/browser.js';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestAgent, PATIENCE, REPO, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let browser: Browser;
let aliceToken: string;
const SHOTS = join(REPO, 'test-results', 'console');

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'mandate-console-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'p.cedar'),
    `permit (principal is Agent, action == Action::"startTask", resource);
permit (principal is Agent, action in Action::"read", resource);
permit (principal is Agent, action in Action::"egress", resource);
@id("fetch-needs-owner") @reason("fetching needs the owner's yes") @approval("owner")
forbid (principal, action == Action::"stdio.fetch", resource);
`,
  );
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: console.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
approvals: { wait: 120 }
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
`,
  );
  s = await startTestServer({ config });
  aliceToken = (await s.api('POST', '/api/v1/users', { name: 'Alice', email: 'alice@corp.example', roles: [] })).body.token as string;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signedIn(width = 1280): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('request', (r) => {
    if (!r.url().startsWith(s.url)) errors.push(`external request ${r.url()}`);
  });
  await page.goto(`${s.url}/`);
  expect(page.url()).toBe(`${s.url}/console/login`);
  await page.fill('#user_token', aliceToken);
  await page.click('button[type=submit]');
  await page.waitForURL(`${s.url}/`);
  (page as Page & { errors?: string[] }).errors = errors;
  return { context, page };
}

async function pendingFor(tool: string): Promise<string> {
  const end = Date.now() + PATIENCE;
  for (;;) {
    const a = (await s.m.approvals.list({ status: 'pending' })).find((x) => x.tool === tool);
    if (a) return a.id;
    if (Date.now() > end) throw new Error('no approval appeared');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the console', () => {
  it('an agent\'s held call appears in the inbox, is approved there, and the agent\'s call completes', async () => {
    const agent = await createTestAgent(s, { owner: 'alice@corp.example' });
    const t = await startTask(s, agent, ['stdio.fetch'], { resources: [] });
    const client = await connectAgent(s, t.token);
    const held = client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://partner.example/q3' } });
    const id = await pendingFor('stdio.fetch');
    const { context, page } = await signedIn();
    await page.reload();
    const card = page.locator('section', { hasText: id });
    await expect(card.textContent()).resolves.toContain('https://partner.example/q3');
    await page.screenshot({ path: join(SHOTS, 'inbox-laptop.png'), fullPage: true });
    await card.locator('input[name=reason]').fill('ok for the Q3 report');
    await card.locator('button[value=approve]').click();
    await page.waitForLoadState();
    expect(await page.textContent('[role=status]')).toMatch(/Approved apr_\w+ \(now approved\)/);
    expect(text(await held)).toBe('fetched https://partner.example/q3');
    // A denial with its reason reaches the agent.
    const again = client.callTool({ name: 'stdio.fetch', arguments: { url: 'https://partner.example/q4' } });
    const second = await pendingFor('stdio.fetch');
    await page.goto(`${s.url}/`);
    const card2 = page.locator('section', { hasText: second });
    await card2.locator('input[name=reason]').fill('not this one');
    await card2.locator('button[value=deny]').click();
    await page.waitForLoadState();
    expect(text(await again)).toMatch(/refused approval .* \(not this one\)/);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    // Every form control is labelled.
    await page.goto(`${s.url}/console/agents`);
    const unlabelled = await page.$$eval('input:not([type=hidden]), select, textarea', (els) => els.filter((e) => !(e as unknown as { labels?: { length: number } }).labels?.length).length);
    expect(unlabelled).toBe(0);
    await client.close();
    await context.close();
  });

  it('suspending an agent from the agents page (with confirmation) ends its access', async () => {
    const agent = await createTestAgent(s, { owner: 'alice@corp.example' });
    const t = await startTask(s, agent, ['stdio.echo']);
    const client = await connectAgent(s, t.token);
    expect(text(await client.callTool({ name: 'stdio.echo', arguments: { text: 'hi' } }))).toBe('echo: hi');
    for (const width of [1280, 390]) {
      const { context, page } = await signedIn(width);
      await page.goto(`${s.url}/console/agents`);
      await page.screenshot({ path: join(SHOTS, `agents-${width === 1280 ? 'laptop' : 'phone'}.png`), fullPage: true });
      await page.goto(`${s.url}/`);
      await page.screenshot({ path: join(SHOTS, `inbox-${width === 1280 ? 'laptop' : 'phone'}-empty.png`), fullPage: true });
      await context.close();
    }
    const { context, page } = await signedIn();
    await page.goto(`${s.url}/console/agents`);
    const row = page.locator('tr', { hasText: agent.name });
    await row.locator('input[name=confirm]').check();
    await row.locator('button', { hasText: 'Suspend' }).click();
    await page.waitForLoadState();
    expect(await page.textContent('[role=status]')).toContain('is suspended');
    await expect(client.callTool({ name: 'stdio.echo', arguments: { text: 'again' } })).rejects.toThrow(/stopped|suspended|ended/);
    const events = await s.m.store.listAudit({ agentId: agent.id, limit: 100 });
    expect(events.some((e) => e.type === 'agent.status' || e.type.startsWith('agent.'))).toBe(true);
    await context.close();
  });
});

describe('tasks and audit pages', () => {
  it('a live task is listed with its grants, calls used and delegation; revoking it there ends it', async () => {
    const agent = await createTestAgent(s, { owner: 'alice@corp.example' });
    const t = await startTask(s, agent, [{ name: 'stdio.echo', max_calls: 5 }]);
    const client = await connectAgent(s, t.token);
    await client.callTool({ name: 'stdio.echo', arguments: { text: 'one' } });
    const { context, page } = await signedIn();
    await page.goto(`${s.url}/console/tasks`);
    const row = page.locator('tr', { hasText: t.taskId });
    expect(await row.textContent()).toMatch(/stdio\.echo 1\/5/);
    await page.screenshot({ path: join(SHOTS, 'tasks-laptop.png'), fullPage: true });
    await row.locator('input[name=confirm]').check();
    await row.locator('button', { hasText: 'Revoke' }).click();
    await page.waitForLoadState();
    expect(await page.textContent('[role=status]')).toContain('is revoked');
    expect((await s.m.store.getTask(t.taskId))!.status).toBe('revoked');
    await expect(client.callTool({ name: 'stdio.echo', arguments: { text: 'two' } })).rejects.toThrow();
    // The audit page: filtered to this task, the revocation by Alice is there; the chain verifies.
    await page.goto(`${s.url}/console/audit?task=${encodeURIComponent(t.taskId)}&verify=1`);
    expect(await page.textContent('[role=status]')).toMatch(/Hash chain intact: \d+ events checked, head #\d+/);
    const body = (await page.textContent('tbody'))!;
    expect(body).toContain('task.revoke');
    expect(body).toContain('user:alice@corp.example');
    await page.goto(`${s.url}/console/audit?decision=deny`);
    await page.screenshot({ path: join(SHOTS, 'audit-laptop.png'), fullPage: true });
    await client.close();
    await context.close();
  });
});

describe('console attacks', () => {
  const login = async (token: string) => {
    const form = await fetch(`${s.url}/console/login`);
    const cookie = (form.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
    const loginToken = /name="login_token" value="([^"]+)"/.exec(await form.text())![1]!;
    return fetch(`${s.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ login_token: loginToken, user_token: token }) });
  };

  it('an agent credential or the admin token cannot sign in as a person', async () => {
    const agent = await createTestAgent(s);
    const t = await startTask(s, agent, ['stdio.echo']);
    for (const token of [t.token, s.adminToken]) {
      const r = await login(token);
      expect(r.status).toBe(401);
      expect(r.headers.get('set-cookie') ?? '').not.toMatch(/mandate_console=[^;]/);
    }
  });

  it('a decision posted without the session\'s CSRF token (cross-site request forgery) changes nothing', async () => {
    const ok = await login(aliceToken);
    const cookie = (ok.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
    const r = await fetch(`${s.url}/console/agents/suspend`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ agent: 'x', confirm: 'yes', csrf: 'forged' }) });
    expect(r.status).toBe(403);
  });

  it('a planted or forged session cookie is not a session (fixation), and a sign-in always makes a new one', async () => {
    const r = await fetch(`${s.url}/`, { redirect: 'manual', headers: { cookie: 'mandate_console=eyJ1c2VyIjoidXNyXzEifQ.forged' } });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/console/login');
    const a = await login(aliceToken);
    const b = await login(aliceToken);
    const value = (x: Response) => (x.headers.getSetCookie?.() ?? []).find((c) => c.startsWith('mandate_console='))!.split(';')[0];
    expect(value(a)).not.toBe(value(b));
    expect((a.headers.getSetCookie?.() ?? []).find((c) => c.startsWith('mandate_console='))).toMatch(/HttpOnly; SameSite=Strict/);
  });
});
