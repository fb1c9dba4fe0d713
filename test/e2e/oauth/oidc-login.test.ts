// Company sign-in on the consent page (`auth.oidc`): a real browser goes to the OpenID Connect
// provider and back, and the person's email (verified) must be an active Mandate user. Attacks:
// a forged ID token, a callback this browser did not start (login CSRF), an unverified email, an
// account the administrator never created.

import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../../helpers/browser.js';
import { REPO, startTestServer, type TestServer } from '../../helpers/server.js';
import { startOidcProvider, type OidcProvider } from '../../fixtures/oidc/provider.js';

const CLIENT_SECRET = 'oidc-client-secret-5b1e7d3a';
let s: TestServer;
let idp: OidcProvider;
let browser: Browser;
let clientId: string;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  idp = await startOidcProvider({ id: 'mandate-consent', secret: CLIENT_SECRET });
  const dir = mkdtempSync(join(tmpdir(), 'mandate-oidc-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\n');
  writeFileSync(join(dir, 'oidc-secret'), CLIENT_SECRET);
  chmodSync(join(dir, 'oidc-secret'), 0o600);
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: oidc.test
logging: { level: debug }
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
secrets:
  sso: { file: ${join(dir, 'oidc-secret')} }
auth:
  oidc: { issuer: "${idp.issuer}", clientId: mandate-consent, secret: sso, name: Corp SSO }
taskTemplates:
  echo: { title: Echo, intent: echo things, tools: [stdio.echo] }
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
    tools: { echo: { risk: read } }
`,
  );
  s = await startTestServer({ config });
  await s.api('POST', '/api/v1/users', { name: 'Alice', email: 'alice@corp.example', roles: [] });
  clientId = ((await (await fetch(`${s.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'SSO test', redirect_uris: [REDIRECT] }) })).json()) as { client_id: string }).client_id;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
  await idp?.close();
});

const authorizeUrl = () => `${s.url}/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'), code_challenge_method: 'S256', state: 's1' })}`;

/** In a browser without JavaScript: "Sign in with Corp SSO", then whatever page comes back. */
async function viaSso(): Promise<{ status: number; text: string; url: string }> {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    await page.goto(authorizeUrl());
    const [res] = await Promise.all([page.waitForNavigation({ url: (u) => u.pathname.startsWith('/authorize') && !u.pathname.endsWith('/oidc') }), page.click('text=Sign in with Corp SSO')]);
    return { status: res?.status() ?? 0, text: (await page.textContent('body')) ?? '', url: page.url() };
  } finally {
    await context.close();
  }
}

describe('company sign-in (OpenID Connect) on the consent page', () => {
  it('a person with a Mandate account signs in at the provider and reaches the consent page', async () => {
    idp.signIn({ sub: 'u-1', email: 'Alice@corp.example' });
    const r = await viaSso();
    expect(r.text).toContain('Signed in as Alice <alice@corp.example>');
    expect(r.text).toContain('stdio.echo');
    const events = await s.m.store.listAudit({ limit: 1000 });
    expect(events.some((e) => e.type === 'auth.success' && (e.data as { method?: string }).method === 'oidc' && e.actor === 'user:alice@corp.example')).toBe(true);
    expect(JSON.stringify(events) + s.logs.join('')).not.toContain(CLIENT_SECRET);
  });

  it('an account the administrator never created does not get in (the provider alone grants nothing)', async () => {
    idp.signIn({ sub: 'u-2', email: 'mallory@corp.example' });
    const r = await viaSso();
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/no active Mandate user has that email/);
  });

  it('an unverified email is refused', async () => {
    idp.signIn({ sub: 'u-3', email: 'alice@corp.example', emailVerified: false });
    const r = await viaSso();
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/not say .* is verified/);
  });

  it('an ID token signed by another key (forged) is refused', async () => {
    idp.signIn({ sub: 'u-1', email: 'alice@corp.example' });
    idp.forgeNextToken();
    const r = await viaSso();
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/does not verify/);
  });

  it('a callback this browser did not start (login CSRF: an attacker\'s code planted in the victim\'s browser) is refused', async () => {
    const r = await fetch(`${s.url}/authorize/oidc/callback?code=attacker-code&state=whatever`, { redirect: 'manual' });
    expect(r.status).toBe(403);
    expect(await r.text()).toMatch(/did not start here/);
    expect(r.headers.get('set-cookie') ?? '').not.toMatch(/mandate_consent=[^;]/);
  });

  it('the provider refusing is shown as such', async () => {
    idp.signIn(null);
    const r = await viaSso();
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/provider refused: access_denied/);
  });
});

describe('company sign-in to the console', () => {
  it('"Sign in with Corp SSO" on the console opens a console session (not a consent one) and lands on the inbox', async () => {
    idp.signIn({ sub: 'u-1', email: 'alice@corp.example' });
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${s.url}/`);
      expect(page.url()).toBe(`${s.url}/console/login`);
      await Promise.all([page.waitForURL(`${s.url}/`), page.click('text=Sign in with Corp SSO')]);
      expect(await page.textContent('h1')).toBe('Approvals waiting for you');
      expect(await page.textContent('header')).toContain('alice@corp.example');
      const cookies = await context.cookies(s.url);
      expect(cookies.find((c) => c.name === 'mandate_console')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      expect(cookies.find((c) => c.name === 'mandate_consent')).toBeUndefined();
      const events = await s.m.store.listAudit({ type: 'auth.success', limit: 1000 });
      expect(events.some((e) => (e.data as { method?: string }).method === 'console-oidc' && e.actor === 'user:alice@corp.example')).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('a person the administrator never created does not reach the console through the provider', async () => {
    idp.signIn({ sub: 'u-2', email: 'mallory@corp.example' });
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${s.url}/console/login`);
      const [res] = await Promise.all([page.waitForNavigation({ url: (u) => u.pathname.startsWith('/authorize/oidc/callback') }), page.click('text=Sign in with Corp SSO')]);
      expect(res?.status()).toBe(403);
      expect((await context.cookies(s.url)).find((c) => c.name === 'mandate_console')).toBeUndefined();
      expect((await fetch(`${s.url}/`, { redirect: 'manual' })).status).toBe(303);
    } finally {
      await context.close();
    }
  });
});
