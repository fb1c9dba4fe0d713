// Hostile and malformed input to the MCP authorization endpoints (/authorize, /oauth/token for
// codes and refresh tokens, /oauth/register, client id metadata documents). Each test names the
// attack; none may get a 500, a code it should not, or a redirect to where it should not. The
// person's part is posted over HTTP here (the browser-driven flow is mcp-authorization.test.ts).

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpsFixture } from '../../helpers/https-fixture.js';
import { REPO, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let cimd: Awaited<ReturnType<typeof startHttpsFixture>>;
let aliceToken: string;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  cimd = await startHttpsFixture({});
  const dir = mkdtempSync(join(tmpdir(), 'mandate-oauth-attacks-'));
  writeFileSync(join(dir, 'ca.pem'), cimd.ca);
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: oauth-attacks.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
oauth:
  registration: { perHour: 8 }
  clientIdMetadataDocuments: { caFile: ${join(dir, 'ca.pem')}, allowPrivateAddresses: true }
taskTemplates:
  echo:
    title: Echo
    intent: echo things
    tools: [stdio.echo]
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
    tools: { echo: { risk: read } }
`,
  );
  s = await startTestServer({ config });
  aliceToken = (await s.api('POST', '/api/v1/users', { name: 'Alice', email: 'alice@corp.example', roles: [] })).body.token as string;
});
afterAll(async () => {
  await s?.close();
  await cimd?.close();
});

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

async function register(body: unknown = { client_name: 'Attack test', redirect_uris: [REDIRECT] }): Promise<Response> {
  return fetch(`${s.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '1.2.3.4' }, body: JSON.stringify(body) });
}
let shared: string | undefined;
async function client(): Promise<string> {
  shared ??= ((await (await register()).json()) as { client_id: string }).client_id;
  return shared;
}

function authorizeUrl(p: Record<string, string>): string {
  return `${s.url}/authorize?${new URLSearchParams(p).toString()}`;
}

const cookieOf = (r: Response) => (r.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&#(\d+);/g, (_m, n) => String.fromCharCode(Number(n)));

/** Signs Alice in over HTTP; returns her consent-page cookie and the CSRF token for `url`. */
async function signIn(url: string): Promise<{ cookie: string; csrf: string; params: Record<string, string> }> {
  const login = await fetch(url);
  const html = await login.text();
  const loginCookie = cookieOf(login);
  const params = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&#(\d+);/g, (_x, n) => String.fromCharCode(Number(n)))]));
  const signed = await fetch(`${s.url}/authorize/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie }, body: new URLSearchParams({ ...params, user_token: aliceToken }) });
  expect(signed.status).toBe(303);
  const cookie = cookieOf(signed);
  const page = await (await fetch(url, { headers: { cookie } })).text();
  const { login_token: _l, ...rest } = params;
  return { cookie, csrf: field(page, 'csrf')!, params: rest };
}

async function getCode(clientId: string, pk = pkce(), extra: Record<string, string> = {}): Promise<{ code: string; verifier: string }> {
  const url = authorizeUrl({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: pk.challenge, code_challenge_method: 'S256', state: 'st', ...extra });
  const { cookie, csrf, params } = await signIn(url);
  const r = await fetch(`${s.url}/authorize/decision`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ ...params, csrf, template: 'echo', ttl: '600', decision: 'allow' }) });
  expect(r.status).toBe(303);
  const to = new URL(r.headers.get('location')!);
  expect(`${to.origin}${to.pathname}`).toBe(REDIRECT);
  return { code: to.searchParams.get('code')!, verifier: pk.verifier };
}

const token = (body: Record<string, string>) => fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });

describe('/authorize refuses to be an open redirector', () => {
  it('an unregistered redirect_uri gets an error page, never a redirect (code or error sent to an attacker)', async () => {
    const r = await fetch(authorizeUrl({ response_type: 'code', client_id: await client(), redirect_uri: 'https://evil.example/cb', code_challenge: pkce().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });
    expect(r.status).toBe(400);
    expect(r.headers.get('location')).toBeNull();
    expect(await r.text()).toMatch(/not one this client registered/);
  });

  it('an unknown client gets an error page, never a redirect', async () => {
    const r = await fetch(authorizeUrl({ response_type: 'code', client_id: 'mcl_nope', redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });
    expect(r.status).toBe(400);
    expect(r.headers.get('location')).toBeNull();
  });

  it('a redirect_uri that only looks like the registered one (path tricks, other host) is refused', async () => {
    for (const uri of [`${REDIRECT}/../evil`, `${REDIRECT}x`, 'http://127.0.0.1.evil.example:9/callback', `${REDIRECT}#frag`]) {
      const r = await fetch(authorizeUrl({ response_type: 'code', client_id: await client(), redirect_uri: uri, code_challenge: pkce().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });
      expect(r.status, uri).toBe(400);
      expect(r.headers.get('location'), uri).toBeNull();
    }
  });

  it('a parameter sent twice (parser confusion) is refused', async () => {
    const r = await fetch(`${s.url}/authorize?client_id=${await client()}&client_id=other&response_type=code`, { redirect: 'manual' });
    expect(r.status).toBe(400);
  });
});

describe('/authorize checks the request and tells the client', () => {
  it('missing PKCE, the plain method, a malformed challenge, another response type or resource: an OAuth error at the redirect URI', async () => {
    const base = { response_type: 'code', client_id: await client(), redirect_uri: REDIRECT, state: 'x' };
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'invalid_request'],
      [{ code_challenge: 'abc', code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge: 'short', code_challenge_method: 'S256' }, 'invalid_request'],
      [{ code_challenge: pkce().challenge, code_challenge_method: 'S256', response_type: 'token' }, 'unsupported_response_type'],
      [{ code_challenge: pkce().challenge, code_challenge_method: 'S256', resource: 'https://other.example/mcp' }, 'invalid_target'],
      [{ code_challenge: pkce().challenge, code_challenge_method: 'S256', scope: 'admin' }, 'invalid_scope'],
    ];
    for (const [extra, error] of cases) {
      const r = await fetch(authorizeUrl({ ...base, ...extra }), { redirect: 'manual' });
      expect(r.status, JSON.stringify(extra)).toBe(303);
      const to = new URL(r.headers.get('location')!);
      expect(to.searchParams.get('error'), JSON.stringify(extra)).toBe(error);
      expect(to.searchParams.get('state')).toBe('x');
      expect(to.searchParams.get('code')).toBeNull();
    }
  });

  it('pages carry a strict CSP (no script, no framing: clickjacking of the Allow button)', async () => {
    const r = await fetch(authorizeUrl({ response_type: 'code', client_id: await client(), redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/script-src/);
    expect(r.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('the consent forms', () => {
  it('a decision without the CSRF token (cross-site request forgery of "Allow") grants nothing', async () => {
    const url = authorizeUrl({ response_type: 'code', client_id: await client(), redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const { cookie, params } = await signIn(url);
    const r = await fetch(`${s.url}/authorize/decision`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ ...params, template: 'echo', decision: 'allow', csrf: 'forged' }) });
    expect(r.status).toBe(403);
    expect(r.headers.get('location')).toBeNull();
  });

  it('a sign-in posted without the page\'s login cookie (login CSRF) is refused', async () => {
    const r = await fetch(`${s.url}/authorize/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ response_type: 'code', client_id: await client(), redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256', user_token: aliceToken, login_token: 'x' }) });
    expect(r.status).toBe(403);
    expect(r.headers.get('set-cookie') ?? '').not.toMatch(/mandate_consent=[^;]/);
  });

  it('a wrong personal token (or the admin token) does not sign in', async () => {
    const url = authorizeUrl({ response_type: 'code', client_id: await client(), redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const login = await fetch(url);
    const html = await login.text();
    for (const t of ['not-a-token', s.adminToken]) {
      const r = await fetch(`${s.url}/authorize/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieOf(login) }, body: new URLSearchParams({ ...Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!])), user_token: t }) });
      expect(r.status).toBe(401);
    }
  });

  it('a task template that does not exist cannot be chosen (a forged form field)', async () => {
    const url = authorizeUrl({ response_type: 'code', client_id: await client(), redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const { cookie, csrf, params } = await signIn(url);
    const r = await fetch(`${s.url}/authorize/decision`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ ...params, csrf, template: 'everything', decision: 'allow' }) });
    expect(r.status).toBe(400);
    expect(r.headers.get('location')).toBeNull();
  });
});

describe('/oauth/token for codes', () => {
  it('a wrong PKCE verifier (a stolen code without its verifier) is refused and the task ends', async () => {
    const { code } = await getCode(await client());
    const r = await token({ grant_type: 'authorization_code', code, code_verifier: pkce().verifier, client_id: await client(), redirect_uri: REDIRECT });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/PKCE/) });
  });

  it('a code used twice (replay) is refused, and the credential issued from it dies', async () => {
    const { code, verifier } = await getCode(await client());
    const ok = await token({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: await client(), redirect_uri: REDIRECT });
    expect(ok.status).toBe(200);
    const { access_token } = (await ok.json()) as { access_token: string };
    const again = await token({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: await client(), redirect_uri: REDIRECT });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/already used/) });
    const introspect = await s.form('/oauth/introspect', { token: access_token }, { token: s.adminToken });
    expect(introspect.body).toMatchObject({ active: false });
  });

  it('a code exchanged by another client, or with another redirect_uri, is refused', async () => {
    const other = ((await (await register({ client_name: 'Other', redirect_uris: [REDIRECT] })).json()) as { client_id: string }).client_id;
    const a = await getCode(await client());
    expect((await token({ grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier, client_id: other, redirect_uri: REDIRECT })).status).toBe(400);
    const b = await getCode(await client());
    expect((await token({ grant_type: 'authorization_code', code: b.code, code_verifier: b.verifier, client_id: await client(), redirect_uri: 'http://127.0.0.1:9/other' })).status).toBe(400);
  });

  it('garbage in every field gets an OAuth error, never a 500', async () => {
    for (const body of [{ grant_type: 'authorization_code' }, { grant_type: 'authorization_code', code: 'x', code_verifier: 'short', client_id: 'x' }, { grant_type: 'authorization_code', code: 'x'.repeat(10_000), code_verifier: 'a'.repeat(43), client_id: await client() }, { grant_type: 'refresh_token' }, { grant_type: 'refresh_token', refresh_token: 'nope', client_id: await client() }, { grant_type: 'refresh_token', refresh_token: 'nope', client_id: 'https://evil.example/\u0000' }]) {
      const r = await token(body as unknown as Record<string, string>);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBeLessThan(500);
      expect(((await r.json()) as { error: string }).error).toMatch(/^invalid_|unsupported/);
    }
  });
});

describe('refresh tokens', () => {
  it('die with their task: once the client ends the task, refresh is refused', async () => {
    const { code, verifier } = await getCode(await client());
    const t = (await (await token({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: await client(), redirect_uri: REDIRECT })).json()) as { access_token: string; refresh_token: string };
    const end = await fetch(`${s.url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${t.access_token}` }, body: new URLSearchParams({ token: t.access_token }) });
    expect(end.status).toBe(200);
    const r = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: await client() });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/task .* has completed|authorize again/) });
  });

  it('bound to a DPoP key when the client used one: a stolen refresh token without the key is refused', async () => {
    const { createDpopProof } = await import('../../../src/client/dpop.js');
    const { generateDpopKey } = await import('../../../src/client/index.js');
    const key = await generateDpopKey();
    const other = await generateDpopKey();
    const { code, verifier } = await getCode(await client());
    const proof = (k: typeof key) => createDpopProof(k, 'POST', `${s.url}/oauth/token`);
    const ok = await fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof(key) }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: await client(), redirect_uri: REDIRECT }) });
    const t = (await ok.json()) as { token_type: string; refresh_token: string };
    expect(t.token_type).toBe('DPoP');
    const refresh = (dpop?: string) => fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop ? { dpop } : {}) }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: shared! }) });
    const without = await refresh();
    expect(without.status).toBe(400);
    expect(((await without.json()) as { error_description: string }).error_description).toMatch(/bound to a DPoP key/);
  });

  it('a stolen DPoP-bound refresh token tried with the thief\'s key is refused, and the theft ends the task (the real holder must authorize again)', async () => {
    const { createDpopProof } = await import('../../../src/client/dpop.js');
    const { generateDpopKey } = await import('../../../src/client/index.js');
    const key = await generateDpopKey();
    const thief = await generateDpopKey();
    const { code, verifier } = await getCode(await client());
    const body = (b: Record<string, string>) => new URLSearchParams(b);
    const ok = await fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await createDpopProof(key, 'POST', `${s.url}/oauth/token`) }, body: body({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: await client(), redirect_uri: REDIRECT }) });
    const t = (await ok.json()) as { refresh_token: string };
    const stolen = await fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await createDpopProof(thief, 'POST', `${s.url}/oauth/token`) }, body: body({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: await client() }) });
    expect(stolen.status).toBe(400);
    const legit = await fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await createDpopProof(key, 'POST', `${s.url}/oauth/token`) }, body: body({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: await client() }) });
    // The thief's attempt used the token up: a rotated token is never honoured twice, and its task ended.
    expect(legit.status).toBe(400);
  });
});

describe('client registration', () => {
  it('bad metadata is refused with the RFC 7591 error naming the field', async () => {
    const r = await register({ client_name: 'x', redirect_uris: ['http://evil.example/cb'] });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'invalid_redirect_uri' });
    const secretClient = await register({ client_name: 'x', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' });
    expect(secretClient.status).toBe(400);
    expect(await secretClient.json()).toMatchObject({ error: 'invalid_client_metadata' });
    const huge = await fetch(`${s.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'x'.repeat(100_000), redirect_uris: [REDIRECT] }) });
    expect(huge.status).toBe(413);
  });

  it('an admin lists clients and revokes one: its tasks end and it can no longer get codes or refresh', async () => {
    const id = ((await (await register({ client_name: 'To revoke', redirect_uris: [REDIRECT] })).json()) as { client_id: string }).client_id;
    const { code, verifier } = await getCode(id);
    const t = (await (await token({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: id, redirect_uri: REDIRECT })).json()) as { access_token: string; refresh_token: string };
    const list = await s.api<{ clients: Array<{ id: string }> }>('GET', '/api/v1/oauth/clients');
    expect(list.body.clients.map((c) => c.id)).toContain(id);
    const revoked = await s.api('POST', `/api/v1/oauth/clients/${encodeURIComponent(id)}/revoke`);
    expect(revoked.body).toMatchObject({ revoked: true, tasksEnded: 1 });
    expect((await s.form('/oauth/introspect', { token: t.access_token }, { token: s.adminToken })).body).toMatchObject({ active: false });
    expect((await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: id })).status).toBe(401);
    expect((await fetch(authorizeUrl({ response_type: 'code', client_id: id, redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' })).status).toBe(400);
  });

  it('`mandate client list --json` and `client revoke` do the same from the CLI, a CIMD URL id included', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO, 'dist/cli/main.js'), '--data-dir', s.dataDir, '--url', s.url, ...args], { env: { ...process.env, MANDATE_TOKEN: s.adminToken } });
    const id = `${cimd.url}/clients/cli.json`;
    cimd.setRoute('/clients/cli.json', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: id, client_name: 'CLI test', redirect_uris: [REDIRECT] }) });
    await getCode(id);
    const listed = JSON.parse((await cli('client', 'list', '--json')).stdout) as Array<{ id: string; kind: string }>;
    expect(listed.find((c) => c.id === id)).toMatchObject({ kind: 'cimd' });
    expect((await cli('client', 'revoke', id)).stdout).toMatch(/revoked client .*cli\.json; 1 task\(s\) ended/);
    expect((await fetch(authorizeUrl({ response_type: 'code', client_id: id, redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' })).status).toBe(400);
  });
});

describe('client id metadata documents', () => {
  const attempt = (id: string) => fetch(authorizeUrl({ response_type: 'code', client_id: id, redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });

  it('a document URL that redirects is refused and its target never fetched (redirect to an attacker-chosen document)', async () => {
    cimd.setRoute('/redir.json', (_req, res) => res.writeHead(302, { location: '/target.json' }).end());
    cimd.setRoute('/target.json', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: `${cimd.url}/redir.json`, redirect_uris: [REDIRECT] }) });
    const r = await attempt(`${cimd.url}/redir.json`);
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/redirect/i);
    expect(cimd.requests).not.toContain('/target.json');
  });

  it('a huge document is refused without being read whole (memory exhaustion)', async () => {
    cimd.setRoute('/huge.json', { headers: { 'content-type': 'application/json' }, body: `{"client_id":"x","pad":"${'a'.repeat(1_000_000)}"}` });
    const r = await attempt(`${cimd.url}/huge.json`);
    expect(r.status).toBe(400);
  });

  it('a document claiming another client id (impersonation) is refused', async () => {
    cimd.setRoute('/liar.json', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: `${cimd.url}/honest.json`, client_name: 'Honest app', redirect_uris: [REDIRECT] }) });
    expect((await attempt(`${cimd.url}/liar.json`)).status).toBe(400);
  });

  it('an http (not https) client id is never fetched', async () => {
    const before = cimd.requests.length;
    const r = await attempt('http://127.0.0.1:9/client.json');
    expect(r.status).toBe(400);
    expect(cimd.requests.length).toBe(before);
  });
});

describe('registration floods', () => {
  it('a registration flood from one address is cut off (429) with what to do', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 12; i++) {
      last = await fetch(`${s.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: `flood ${i}`, redirect_uris: [REDIRECT] }) });
      if (last.status === 429) break;
    }
    expect(last!.status).toBe(429);
    expect(((await last!.json()) as { error_description: string }).error_description).toMatch(/too many registrations/);
  });
});
