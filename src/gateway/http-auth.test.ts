// The upstream credential Mandate adds to forwarded REST calls, against the real fixture API:
// each scheme, the OAuth client-credentials token (cache, expiry, sharing, invalidation) and the
// token endpoint answers that must be refused without showing a secret.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { REDACTED, redactText } from '../audit/redact.js';
import type { HttpAuthConfig } from '../config/schema.js';
import { MandateError } from '../core/errors.js';
import { startRestApi, type RestApi, type RestApiOptions } from '../../test/fixtures/http-api/server.js';
import { UpstreamAuth, type SecretSource } from './http-auth.js';

const started: RestApi[] = [];
async function api(opts: RestApiOptions): Promise<RestApi> {
  const a = await startRestApi(opts);
  started.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.close()));
});

/** A fresh value per test, so the process-wide redaction registry cannot make a test pass. */
const fresh = (label: string) => `${label}-${randomBytes(9).toString('base64url')}`;

function secrets(values: Record<string, string>): SecretSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    get: async (name) => {
      reads.push(name);
      const v = values[name];
      if (v === undefined) throw new Error(`no secret ${name}`);
      return v;
    },
  };
}

/** A clock tests move by hand (token expiry). */
function clock() {
  let t = Date.UTC(2026, 0, 1);
  return { now: () => t, advance: (seconds: number) => void (t += seconds * 1000) };
}

async function call(a: RestApi, path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${a.url}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

async function rejection(p: Promise<unknown>): Promise<MandateError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MandateError);
  return err as MandateError;
}

const oauth = (a: RestApi, over: Partial<Extract<HttpAuthConfig, { type: 'oauth2' }>> = {}): HttpAuthConfig => ({
  type: 'oauth2',
  tokenUrl: `${a.url}/oauth/token`,
  clientId: 'mandate-client',
  secret: 'client',
  clientAuth: 'basic',
  ...over,
});

describe('static upstream credentials', () => {
  it('adds nothing without auth config', async () => {
    const auth = new UpstreamAuth('open', undefined, secrets({}));
    expect(await auth.headers()).toEqual({});
    expect(auth.invalidate()).toBe(false);
  });

  it('bearer: `authorization: Bearer <secret>`, accepted by the API', async () => {
    const token = fresh('static');
    const a = await api({ token });
    const auth = new UpstreamAuth('reports', { type: 'bearer', secret: 'api-token' }, secrets({ 'api-token': token }));
    const h = await auth.headers();
    expect(h).toEqual({ authorization: `Bearer ${token}` });
    expect(await call(a, '/v1/reports', h)).toBe(200);
    expect(await call(a, '/v1/reports', {})).toBe(401);
    // A static secret would be refused again: retrying cannot help.
    expect(auth.invalidate()).toBe(false);
  });

  it('header: `<name>: <prefix><secret>` with a lower-case name', async () => {
    const key = fresh('key');
    const a = await api({ apiKey: { header: 'X-Api-Key', value: `Key ${key}` } });
    const auth = new UpstreamAuth('reports', { type: 'header', name: 'X-Api-Key', secret: 'k', prefix: 'Key ' }, secrets({ k: key }));
    const h = await auth.headers();
    expect(h).toEqual({ 'x-api-key': `Key ${key}` });
    expect(await call(a, '/v1/reports', h)).toBe(200);
  });

  it('basic: `authorization: Basic base64(user:secret)`', async () => {
    const password = `${fresh('pw')}:é`;
    const a = await api({ basic: { username: 'reporter', password } });
    const auth = new UpstreamAuth('reports', { type: 'basic', username: 'reporter', secret: 'pw' }, secrets({ pw: password }));
    const h = await auth.headers();
    const encoded = Buffer.from(`reporter:${password}`, 'utf8').toString('base64');
    expect(h).toEqual({ authorization: `Basic ${encoded}` });
    expect(await call(a, '/v1/reports', h)).toBe(200);
    // The encoded form is the password too: an upstream echoing it back shows the marker.
    expect(redactText(encoded)).toBe(REDACTED);
  });

  it('registers every secret it reads for redaction', async () => {
    const token = fresh('registered');
    await new UpstreamAuth('reports', { type: 'bearer', secret: 't' }, secrets({ t: token })).headers();
    expect(redactText(`upstream said ${token}`)).toBe(`upstream said ${REDACTED}`);
  });

  it.each([
    // A secret with a line break would end the header and inject others (response splitting).
    ['a line break', 'abc\r\nx-admin: true'],
    ['a NUL', 'abc\0def'],
  ])('refuses a secret holding %s, without showing it', async (_n, value) => {
    const auth = new UpstreamAuth('reports', { type: 'bearer', secret: 'bad' }, secrets({ bad: value }));
    const err = await rejection(auth.headers());
    expect(err.code).toBe('secret_unavailable');
    expect(err.message).toBe('upstream `reports`: secret `bad` holds a line break or NUL and cannot be sent in an HTTP header');
  });

  it('refuses a basic username with a colon (the upstream would read another user)', () => {
    expect(() => new UpstreamAuth('reports', { type: 'basic', username: 'a:b', secret: 'pw' }, secrets({}))).toThrow(/username must not contain `:`/);
  });
});

describe('OAuth 2.0 client credentials', () => {
  it.each(['basic', 'post'] as const)('client authentication `%s` gets a token the API accepts', async (clientAuth) => {
    // Characters that RFC 6749 §2.3.1 form-urlencodes before base64 (`:` would split the pair otherwise).
    const clientSecret = `${fresh('cs')} :+/&=%é`;
    const a = await api({ oauth: { clientId: 'mandate client', clientSecret } });
    const auth = new UpstreamAuth('reports', oauth(a, { clientId: 'mandate client', clientAuth, scope: 'reports:read', audience: 'https://reports.example' }), secrets({ client: clientSecret }));
    const h = await auth.headers();
    expect(h.authorization).toMatch(/^Bearer fx_/);
    expect(await call(a, '/v1/reports', h)).toBe(200);

    const tokenReq = a.requests.find((r) => r.path === '/oauth/token')!;
    expect(tokenReq.method).toBe('POST');
    expect(tokenReq.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(tokenReq.body);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('scope')).toBe('reports:read');
    expect(form.get('audience')).toBe('https://reports.example');
    if (clientAuth === 'basic') {
      expect(tokenReq.headers.authorization).toMatch(/^Basic /);
      expect(form.has('client_id') || form.has('client_secret')).toBe(false);
    } else {
      expect(tokenReq.headers.authorization).toBeUndefined();
      expect(form.get('client_id')).toBe('mandate client');
      expect(form.get('client_secret')).toBe(clientSecret);
    }
    // The client secret and the access token are both redacted from now on.
    expect(redactText(clientSecret)).toBe(REDACTED);
    expect(redactText(h.authorization!.slice('Bearer '.length))).toBe(REDACTED);
  });

  it('caches the token until shortly before it expires, then fetches a new one', async () => {
    const clientSecret = fresh('cs');
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret, expiresIn: 3600 } });
    const c = clock();
    const auth = new UpstreamAuth('reports', oauth(a), secrets({ client: clientSecret }), { now: c.now });
    const first = await auth.headers();
    // Renewed `min(30, expires_in / 10)` seconds early: 3570 s for a one-hour token.
    c.advance(3569);
    expect(await auth.headers()).toEqual(first);
    expect(a.tokenRequests).toBe(1);
    c.advance(1);
    const second = await auth.headers();
    expect(a.tokenRequests).toBe(2);
    expect(second.authorization).not.toBe(first.authorization);
    expect(await call(a, '/v1/reports', second)).toBe(200);
  });

  it('keeps a token without `expires_in` for 300 s less a tenth, and takes `bearer` in any case', async () => {
    const clientSecret = fresh('cs');
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret, tokenResponse: { body: JSON.stringify({ access_token: 'tok-default-0123456789', token_type: 'bearer' }) } } });
    const c = clock();
    const auth = new UpstreamAuth('reports', oauth(a), secrets({ client: clientSecret }), { now: c.now });
    expect(await auth.headers()).toEqual({ authorization: 'Bearer tok-default-0123456789' });
    c.advance(269);
    await auth.headers();
    expect(a.tokenRequests).toBe(1);
    c.advance(1);
    await auth.headers();
    expect(a.tokenRequests).toBe(2);
  });

  it('shares one token request among concurrent callers', async () => {
    const clientSecret = fresh('cs');
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret } });
    const auth = new UpstreamAuth('reports', oauth(a), secrets({ client: clientSecret }));
    const all = await Promise.all(Array.from({ length: 8 }, () => auth.headers()));
    expect(a.tokenRequests).toBe(1);
    expect(new Set(all.map((h) => h.authorization)).size).toBe(1);
  });

  it('invalidate() after a 401 forgets the token, and the next one is accepted', async () => {
    const clientSecret = fresh('cs');
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret } });
    const auth = new UpstreamAuth('reports', oauth(a), secrets({ client: clientSecret }));
    // Nothing cached yet: a retry would not change anything.
    expect(auth.invalidate()).toBe(false);
    const first = await auth.headers();
    a.revokeTokens();
    expect(await call(a, '/v1/reports', first)).toBe(401);
    expect(auth.invalidate()).toBe(true);
    const second = await auth.headers();
    expect(a.tokenRequests).toBe(2);
    expect(second.authorization).not.toBe(first.authorization);
    expect(await call(a, '/v1/reports', second)).toBe(200);
  });
});

describe('token endpoint answers that are refused', () => {
  it('a 401 `invalid_client` names the endpoint and the error, never the secret, and is not cached', async () => {
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret: fresh('right') } });
    const wrong = fresh('wrong');
    const auth = new UpstreamAuth('reports', oauth(a), secrets({ client: wrong }));
    const err = await rejection(auth.headers());
    expect(err.code).toBe('upstream_unavailable');
    expect(err.message).toBe(`upstream \`reports\`: token endpoint ${a.url}/oauth/token answered 401: \`invalid_client\` (\`client authentication failed\`)`);
    const basic = Buffer.from(`mandate-client:${wrong}`).toString('base64');
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(basic);
    // A failure is not remembered: the next call asks again.
    await rejection(auth.headers());
    expect(a.tokenRequests).toBe(2);
  });

  it('a client secret echoed in `error_description` is taken out', async () => {
    const clientSecret = 'short';
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret, tokenResponse: { status: 400, body: JSON.stringify({ error: 'invalid_request', error_description: `secret short is weak` }) } } });
    const err = await rejection(new UpstreamAuth('reports', oauth(a, { clientAuth: 'post' }), secrets({ client: clientSecret })).headers());
    expect(err.message).toBe(`upstream \`reports\`: token endpoint ${a.url}/oauth/token answered 400: \`invalid_request\` (\`secret ${REDACTED} is weak\`)`);
  });

  it.each([
    // A DPoP or MAC token is not a bearer token: sent as one it would fail or be misused.
    ['a token type other than Bearer', { body: JSON.stringify({ access_token: 'tok-mac-0123456789', token_type: 'mac', expires_in: 60 }) }, /issued a token of type `mac`: only `Bearer` is supported$/],
    ['no token type', { body: JSON.stringify({ access_token: 'tok-none-0123456789', expires_in: 60 }) }, /issued a token of type `none`/],
    ['no access token', { body: JSON.stringify({ token_type: 'Bearer' }) }, /answered without an `access_token`$/],
    // A token with a line break would inject headers into every forwarded request.
    ['a token with a line break', { body: JSON.stringify({ access_token: 'tok\r\nx-admin: 1', token_type: 'Bearer' }) }, /cannot be sent in an Authorization header$/],
    ['a body that is not JSON', { body: '<html>login</html>' }, /answered 200 with a body that is not a JSON object$/],
    ['a negative expires_in', { body: JSON.stringify({ access_token: 'tok-neg-0123456789', token_type: 'Bearer', expires_in: -5 }) }, /`expires_in` that is not a non-negative number: `-5`$/],
    // A redirect would carry the client credentials to wherever the endpoint points.
    ['a redirect', { status: 302, headers: { location: 'http://example.invalid/steal' } }, /answered 302 \(a redirect\): refused/],
    // Read no further than 64 KiB: whatever sends more is not a token endpoint.
    ['a body over 64 KiB (declared)', { body: 'x'.repeat(70_000) }, /answered 200 with more than 65536 bytes$/],
    ['a body over 64 KiB (chunked)', { headers: { 'transfer-encoding': 'chunked' }, body: 'x'.repeat(70_000) }, /answered 200 with more than 65536 bytes$/],
  ])('refuses %s', async (_n, tokenResponse, message) => {
    const clientSecret = fresh('cs');
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret, tokenResponse } });
    const err = await rejection(new UpstreamAuth('reports', oauth(a), secrets({ client: clientSecret })).headers());
    expect(err.code).toBe('upstream_unavailable');
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`token endpoint ${a.url}/oauth/token`);
    expect(err.message).not.toMatch(/tok-/);
    expect(err.message).not.toContain(clientSecret);
  });

  it('does not follow a redirect to another token endpoint', async () => {
    const clientSecret = fresh('cs');
    const elsewhere = await api({ oauth: { clientId: 'mandate-client', clientSecret } });
    const a = await api({ oauth: { clientId: 'mandate-client', clientSecret, tokenResponse: { status: 307, headers: { location: `${elsewhere.url}/oauth/token` } } } });
    await rejection(new UpstreamAuth('reports', oauth(a), secrets({ client: clientSecret })).headers());
    expect(elsewhere.requests).toEqual([]);
  });

  it('names an unreachable endpoint without its query', async () => {
    const a = await api({});
    const url = `${a.url}/oauth/token?key=query-secret`;
    await a.close();
    started.splice(started.indexOf(a), 1);
    const err = await rejection(new UpstreamAuth('reports', { type: 'oauth2', tokenUrl: url, clientId: 'c', secret: 'client', clientAuth: 'basic' }, secrets({ client: fresh('cs') })).headers());
    expect(err.code).toBe('upstream_unavailable');
    expect(err.message).toBe(`upstream \`reports\`: token endpoint ${a.url}/oauth/token is unreachable: ECONNREFUSED`);
  });

  it('refuses a token URL with a user or password (fetch would quote it in its error)', () => {
    const make = () => new UpstreamAuth('reports', { type: 'oauth2', tokenUrl: 'https://u:pw@auth.example/token', clientId: 'c', secret: 'client', clientAuth: 'basic' }, secrets({}));
    expect(make).toThrow(MandateError);
    expect(make).toThrow('upstream `reports`: `tokenUrl` must not contain a user or password: name the client secret in `secret`');
  });
});
