// Client registration rules (RFC 7591), client id metadata document fetching (real HTTPS, a
// self-signed fixture; no mocks) and redirect URI matching: each refusal names its attack.

import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MandateError } from '../core/errors.js';
import { startHttpsFixture, type HttpsFixture } from '../../test/helpers/https-fixture.js';
import {
  MAX_METADATA_BYTES,
  fetchClientMetadata,
  isClientIdUrl,
  parseRegistration,
  redirectUriAllowed,
  type CimdFetchOptions,
} from './client-metadata.js';

function caught(fn: () => unknown): MandateError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MandateError);
    return err as MandateError;
  }
  throw new Error('expected a MandateError, nothing was thrown');
}

async function rejected(p: Promise<unknown>): Promise<MandateError> {
  const err = await p.then(
    () => {
      throw new Error('expected a MandateError, the promise resolved');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MandateError);
  return err as MandateError;
}

const CB = 'https://app.example/cb';

describe('parseRegistration', () => {
  it('accepts a minimal registration and fills the defaults', () => {
    const body = { redirect_uris: [CB], x_vendor_field: { kept: true } };
    const m = parseRegistration(body);
    expect(m).toEqual({
      clientName: 'app.example',
      redirectUris: [CB],
      grantTypes: ['authorization_code', 'refresh_token'],
      responseTypes: ['code'],
      raw: body,
    });
    expect(m.raw).not.toBe(body);
  });

  it('accepts every field and every kind of redirect URI', () => {
    const m = parseRegistration({
      redirect_uris: [
        'http://127.0.0.1/callback',
        'http://[::1]:8080/cb',
        'http://localhost:6274/oauth/callback?x=1',
        'com.example.app:/oauth2redirect',
        'https://app.example:8443/cb',
      ],
      client_name: 'Example Agent ✓',
      client_uri: 'https://app.example/',
      logo_uri: 'https://app.example/logo.png',
      scope: 'mcp:tools offline_access',
      software_id: '4NRB1-0XZABZI9E6-5SM3R',
      software_version: '2.1',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    });
    expect(m).toMatchObject({
      clientName: 'Example Agent ✓',
      clientUri: 'https://app.example/',
      logoUri: 'https://app.example/logo.png',
      scope: 'mcp:tools offline_access',
      softwareId: '4NRB1-0XZABZI9E6-5SM3R',
      softwareVersion: '2.1',
      grantTypes: ['authorization_code'],
    });
    expect(m.redirectUris).toHaveLength(5);
  });

  it('names a native app by its private-use scheme when it gives no name', () => {
    expect(parseRegistration({ redirect_uris: ['com.example.app:/cb'] }).clientName).toBe('com.example.app');
  });

  it('exports the metadata size limit for the caller to enforce', () => {
    expect(MAX_METADATA_BYTES).toBe(16_384);
  });

  // [title (the attack or mistake it stops), body, RFC 7591 error, message pattern]
  const refused: [string, unknown, 'invalid_redirect_uri' | 'invalid_client_metadata', RegExp][] = [
    ['no body object', null, 'invalid_client_metadata', /must be a JSON object/],
    ['an array body', [CB], 'invalid_client_metadata', /must be a JSON object/],
    ['missing redirect_uris', { client_name: 'x' }, 'invalid_client_metadata', /^`redirect_uris`: is required/],
    ['redirect_uris not an array', { redirect_uris: CB }, 'invalid_client_metadata', /^`redirect_uris`: must be an array/],
    ['empty redirect_uris', { redirect_uris: [] }, 'invalid_client_metadata', /^`redirect_uris`: must list at least one/],
    ['more than 10 redirect URIs', { redirect_uris: Array.from({ length: 11 }, (_, i) => `${CB}${i}`) }, 'invalid_client_metadata', /^`redirect_uris`: must list at most 10/],
    ['a redirect URI that is not a string', { redirect_uris: [42] }, 'invalid_redirect_uri', /^`redirect_uris\[0\]`: must be a string/],
    ['a relative redirect URI', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri', /`\/cb` is not an absolute URL/],
    // Code injection into the fragment / token leakage through a fragment the page script reads.
    ['a fragment', { redirect_uris: [`${CB}#frag`] }, 'invalid_redirect_uri', /^`redirect_uris\[0\]`: `https:\/\/app.example\/cb#frag` must not contain a fragment/],
    ['an empty fragment', { redirect_uris: [`${CB}#`] }, 'invalid_redirect_uri', /must not contain a fragment/],
    // Code interception in transit: plain http to a remote host.
    ['http to a remote host (code interception)', { redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri', /uses http: only loopback hosts .* may use http/],
    // A host that starts like a loopback address but resolves anywhere.
    ['a loopback look-alike host 127.0.0.1.evil.com', { redirect_uris: ['http://127.0.0.1.evil.com/cb'] }, 'invalid_redirect_uri', /uses http: only loopback hosts/],
    ['a loopback look-alike host localhost.evil.com', { redirect_uris: ['http://localhost.evil.com/cb'] }, 'invalid_redirect_uri', /uses http: only loopback hosts/],
    // `127.1` is 127.0.0.1 to a parser but would escape the loopback port rule's exact host match.
    ['a loopback address in a non-standard form', { redirect_uris: ['http://127.1/cb'] }, 'invalid_redirect_uri', /uses http: only loopback hosts/],
    // Host confusion: `app.example@evil.com` sends the browser to evil.com.
    ['userinfo that hides the real host (host confusion)', { redirect_uris: ['https://app.example@evil.com/cb'] }, 'invalid_redirect_uri', /must not contain userinfo/],
    ['userinfo with a password', { redirect_uris: ['https://u:p@app.example/cb'] }, 'invalid_redirect_uri', /must not contain userinfo/],
    ['an empty userinfo', { redirect_uris: ['https://@app.example/cb'] }, 'invalid_redirect_uri', /must not contain userinfo/],
    // Parser differential: `\` is `/` to a browser, a literal to other parsers.
    ['a backslash (parser differential)', { redirect_uris: ['https://app.example\\@evil.com/cb'] }, 'invalid_redirect_uri', /must not contain whitespace, control characters or `\\`/],
    ['whitespace', { redirect_uris: ['https://app.example/c b'] }, 'invalid_redirect_uri', /must not contain whitespace/],
    ['https without a host', { redirect_uris: ['https:/cb'] }, 'invalid_redirect_uri', /must be an absolute URL with a host/],
    // XSS through the redirect: the browser would run the "callback".
    ['a javascript: URI (XSS)', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri', /scheme `javascript:` is not allowed/],
    ['a data: URI (XSS)', { redirect_uris: ['data:text/html,<script>alert(1)</script>'] }, 'invalid_redirect_uri', /scheme `data:` is not allowed/],
    ['a file: URI', { redirect_uris: ['file:///etc/passwd'] }, 'invalid_redirect_uri', /scheme `file:` is not allowed/],
    // RFC 8252 §7.1: a scheme without a domain is easy for another app to claim (scheme squatting).
    ['a private-use scheme not in reverse-domain form (scheme squatting)', { redirect_uris: ['myapp:/cb'] }, 'invalid_redirect_uri', /scheme `myapp:` is not allowed: .*reverse-domain form/],
    ['one bad URI among good ones', { redirect_uris: [CB, 'http://evil.example/cb'] }, 'invalid_redirect_uri', /^`redirect_uris\[1\]`: `http:\/\/evil.example\/cb` uses http/],
    // A confidential-client method without a secret we would check: the client must use PKCE.
    ['a confidential client auth method', { redirect_uris: [CB], token_endpoint_auth_method: 'client_secret_basic' }, 'invalid_client_metadata', /^`token_endpoint_auth_method`: `client_secret_basic` is not supported: Mandate registers public clients that use PKCE/],
    ['private_key_jwt', { redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', /public clients that use PKCE/],
    // Grants that skip the user's consent or the browser.
    ['the client_credentials grant', { redirect_uris: [CB], grant_types: ['client_credentials'] }, 'invalid_client_metadata', /^`grant_types\[0\]`: `client_credentials` is not supported/],
    ['the implicit grant (token in the URL)', { redirect_uris: [CB], grant_types: ['authorization_code', 'implicit'] }, 'invalid_client_metadata', /^`grant_types\[1\]`: `implicit` is not supported/],
    ['grant_types without authorization_code', { redirect_uris: [CB], grant_types: ['refresh_token'] }, 'invalid_client_metadata', /^`grant_types`: must include `authorization_code`/],
    ['grant_types not an array', { redirect_uris: [CB], grant_types: 'authorization_code' }, 'invalid_client_metadata', /^`grant_types`: must be an array/],
    ['the token response type (implicit flow)', { redirect_uris: [CB], response_types: ['token'] }, 'invalid_client_metadata', /^`response_types\[0\]`: `token` is not supported: Mandate allows only `code`/],
    ['the id_token response type', { redirect_uris: [CB], response_types: ['code', 'id_token'] }, 'invalid_client_metadata', /^`response_types\[1\]`: `id_token` is not supported/],
    ['a client_name over 200 characters', { redirect_uris: [CB], client_name: 'a'.repeat(201) }, 'invalid_client_metadata', /^`client_name`: must be at most 200 characters/],
    ['a client_name with a NUL', { redirect_uris: [CB], client_name: 'Good\u0000Bad' }, 'invalid_client_metadata', /^`client_name`: must not contain control/],
    ['a client_name with a newline (consent page spoofing)', { redirect_uris: [CB], client_name: 'Claude\nVerified by Mandate' }, 'invalid_client_metadata', /^`client_name`: must not contain control/],
    // U+202E renders the rest reversed: the consent page would show another name.
    ['a client_name with a bidi override (consent page spoofing)', { redirect_uris: [CB], client_name: 'Good \u202Eevil' }, 'invalid_client_metadata', /^`client_name`: must not contain control or bidirectional-override/],
    ['an empty client_name', { redirect_uris: [CB], client_name: '' }, 'invalid_client_metadata', /^`client_name`: must not be empty/],
    ['a client_name that is not a string', { redirect_uris: [CB], client_name: 7 }, 'invalid_client_metadata', /^`client_name`: must be a string/],
    // The consent page links and loads these: no mixed content, no script URLs.
    ['an http client_uri', { redirect_uris: [CB], client_uri: 'http://app.example/' }, 'invalid_client_metadata', /^`client_uri`: `http:\/\/app.example\/` must be an absolute https URL/],
    ['a javascript: client_uri (XSS on the consent page)', { redirect_uris: [CB], client_uri: 'javascript:alert(1)' }, 'invalid_client_metadata', /^`client_uri`: .* must be an absolute https URL/],
    ['an http logo_uri', { redirect_uris: [CB], logo_uri: 'http://app.example/logo.png' }, 'invalid_client_metadata', /^`logo_uri`: .* must be an absolute https URL/],
    ['a logo_uri with userinfo', { redirect_uris: [CB], logo_uri: 'https://app.example@evil.com/logo.png' }, 'invalid_client_metadata', /^`logo_uri`: .* must not contain userinfo/],
    ['a scope with a quote', { redirect_uris: [CB], scope: 'read "write"' }, 'invalid_client_metadata', /^`scope`: must be space-separated scope tokens/],
    ['a scope with a double space', { redirect_uris: [CB], scope: 'read  write' }, 'invalid_client_metadata', /^`scope`: must be space-separated scope tokens/],
    ['a software_id that is not a string', { redirect_uris: [CB], software_id: 1 }, 'invalid_client_metadata', /^`software_id`: must be a string/],
    ['a software_version over 200 characters', { redirect_uris: [CB], software_version: '1'.repeat(201) }, 'invalid_client_metadata', /^`software_version`: must be at most 200/],
  ];

  it.each(refused)('refuses %s', (_title, body, oauthError, message) => {
    const err = caught(() => parseRegistration(body));
    expect(err.code).toBe('invalid_request');
    expect(err.status).toBe(400);
    expect(err.details).toEqual({ oauthError });
    expect(err.message).toMatch(message);
  });

  it('reports every problem at once, the redirect URI error first in the code', () => {
    const err = caught(() => parseRegistration({ redirect_uris: ['http://evil.example/cb'], client_name: '', grant_types: ['implicit'] }));
    expect(err.details).toEqual({ oauthError: 'invalid_redirect_uri' });
    expect(err.message).toContain('`redirect_uris[0]`:');
    expect(err.message).toContain('`client_name`:');
    expect(err.message).toContain('`grant_types[0]`:');
  });
});

describe('isClientIdUrl', () => {
  const cases: [string, string, boolean, CimdFetchOptions?][] = [
    ['an https URL with a path', 'https://app.example/client.json', true],
    ['a port and a query', 'https://app.example:8443/oauth/client?v=2', true],
    ['http (metadata in clear text, MITM-able)', 'http://app.example/client.json', false],
    ['http for a host allowed in tests', 'http://127.0.0.1:8080/client.json', true, { allowHttpHosts: ['127.0.0.1'] }],
    ['http for a host not in the test allowance', 'http://app.example/client.json', false, { allowHttpHosts: ['127.0.0.1'] }],
    ['no path', 'https://app.example', false],
    ['the root path only', 'https://app.example/', false],
    ['a fragment', 'https://app.example/client.json#x', false],
    ['an empty fragment', 'https://app.example/client.json#', false],
    ['userinfo (host confusion)', 'https://app.example@evil.com/client.json', false],
    ['an empty userinfo', 'https://@app.example/client.json', false],
    ['a `..` segment (path traversal to another document)', 'https://app.example/clients/../admin.json', false],
    ['a `.` segment', 'https://app.example/./client.json', false],
    ['an encoded `..` segment', 'https://app.example/clients/%2e%2E/admin.json', false],
    ['a non-normalised host (upper case)', 'https://APP.example/client.json', false],
    ['a backslash (parser differential)', 'https://app.example\\client.json', false],
    ['not a URL', 'my-client', false],
    ['another scheme', 'ftp://app.example/client.json', false],
  ];
  it.each(cases)('%s', (_title, id, ok, opts) => {
    expect(isClientIdUrl(id, opts)).toBe(ok);
  });
});

describe('fetchClientMetadata (real HTTPS)', () => {
  let fx: HttpsFixture;
  /** Trust the fixture's certificate and allow its loopback address; what each test varies comes on top. */
  let local: CimdFetchOptions;
  const doc = (clientId: string, extra: Record<string, unknown> = {}) => JSON.stringify({ client_id: clientId, client_name: 'Fixture Agent', redirect_uris: ['http://127.0.0.1/cb'], ...extra });
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    fx = await startHttpsFixture({});
    local = { ca: fx.ca, allowPrivateAddresses: true };
  });
  afterAll(async () => {
    await fx.close();
  });

  it('fetches and validates a document that names itself', async () => {
    const id = `${fx.url}/ok.json`;
    let headers: Record<string, string | string[] | undefined> = {};
    fx.setRoute('/ok.json', (req, res) => {
      headers = req.headers;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(doc(id, { logo_uri: 'https://app.example/logo.png', x_extra: 1 }));
    });
    const m = await fetchClientMetadata(id, local);
    expect(m).toMatchObject({ clientName: 'Fixture Agent', redirectUris: ['http://127.0.0.1/cb'], logoUri: 'https://app.example/logo.png' });
    expect(m.raw).toMatchObject({ client_id: id, x_extra: 1 });
    expect(headers.accept).toBe('application/json');
    expect(headers.cookie).toBeUndefined();
    expect(headers.authorization).toBeUndefined();
    expect(headers['accept-encoding']).toBeUndefined();
  });

  it('accepts the extra CA as a Buffer', async () => {
    const id = `${fx.url}/ok2.json`;
    fx.setRoute('/ok2.json', { headers: json, body: doc(id) });
    await expect(fetchClientMetadata(id, { ...local, ca: Buffer.from(fx.ca) })).resolves.toMatchObject({ clientName: 'Fixture Agent' });
  });

  // Open redirect / SSRF pivot: the document's host bounces the fetch to another URL.
  it('refuses a redirect and never fetches its target (redirect to another document)', async () => {
    const id = `${fx.url}/moved.json`;
    fx.setRoute('/moved.json', { status: 302, headers: { location: '/target.json' } });
    fx.setRoute('/target.json', { headers: json, body: doc(id) });
    const err = await rejected(fetchClientMetadata(id, local));
    expect(err.code).toBe('invalid_client');
    expect(err.message).toBe(`client metadata document \`${id}\`: answered with a redirect (HTTP 302 to \`/target.json\`): redirects are not followed`);
    expect(fx.requests).toContain('/moved.json');
    expect(fx.requests).not.toContain('/target.json');
  });

  // Memory exhaustion: a document far beyond the limit, announced by Content-Length.
  it('refuses a 1 MB document by its Content-Length without reading it (memory exhaustion)', async () => {
    const id = `${fx.url}/huge.json`;
    fx.setRoute('/huge.json', { headers: json, body: doc(id, { padding: 'x'.repeat(1024 * 1024) }) });
    const err = await rejected(fetchClientMetadata(id, local));
    expect(err.code).toBe('invalid_client');
    expect(err.message).toMatch(/: document is 10\d{5} bytes: at most 16384 accepted$/);
  });

  // Memory exhaustion without a Content-Length: the fetch must stop at the limit, not at the end.
  it('stops reading a streamed 1 MB document at the limit (memory exhaustion, no Content-Length)', async () => {
    const id = `${fx.url}/stream.json`;
    let sent = 0;
    let finished = false;
    const hungUp = new Promise<void>((resolve) => {
      fx.setRoute('/stream.json', (_req, res: ServerResponse) => {
        res.writeHead(200, json); // chunked: no length announced
        const head = `{"client_id":${JSON.stringify(id)},"padding":"`;
        res.write(head + 'x'.repeat(64 * 1024 - head.length));
        sent = 64 * 1024;
        // The rest of the 1 MB only after the client asks for more by reading: it never should.
        res.on('close', () => {
          finished = res.writableFinished;
          resolve();
        });
      });
    });
    const err = await rejected(fetchClientMetadata(id, local));
    expect(err.message).toBe(`client metadata document \`${id}\`: document is larger than 16384 bytes: not read further`);
    await hungUp; // the client hung up on a response that had not ended
    expect(finished).toBe(false);
    expect(sent).toBeLessThan(1024 * 1024);
  });

  it('honours a smaller maxBytes', async () => {
    const id = `${fx.url}/small-limit.json`;
    fx.setRoute('/small-limit.json', { headers: json, body: doc(id) });
    const err = await rejected(fetchClientMetadata(id, { ...local, maxBytes: 20 }));
    expect(err.message).toMatch(/document is \d+ bytes: at most 20 accepted$/);
  });

  // Content sniffing: an HTML page (or any file a user can upload) read as client metadata.
  it.each([
    ['text/html', 'text/html'],
    ['no content type', undefined],
    ['a JSON look-alike type', 'application/json-patch+json'],
    ['a non-UTF-8 charset', 'application/json; charset=utf-16'],
  ])('refuses %s (content-type confusion)', async (_title, type) => {
    const path = `/type-${encodeURIComponent(type ?? 'none')}.json`;
    const id = `${fx.url}${path}`;
    fx.setRoute(path, (_req, res) => {
      if (type) res.setHeader('content-type', type);
      res.writeHead(200).end(doc(id));
    });
    const err = await rejected(fetchClientMetadata(id, local));
    expect(err.code).toBe('invalid_client');
    expect(err.message).toBe(`client metadata document \`${id}\`: content type \`${type ?? '(none)'}\` is not \`application/json\``);
  });

  // Impersonation: a document at the attacker's URL claims a trusted client's id (its name, its logo).
  it('refuses a document whose client_id names another URL (client impersonation)', async () => {
    const id = `${fx.url}/attacker.json`;
    fx.setRoute('/attacker.json', { headers: json, body: doc('https://claude.ai/oauth/client.json', { client_name: 'Claude' }) });
    const err = await rejected(fetchClientMetadata(id, local));
    expect(err.code).toBe('invalid_client');
    expect(err.message).toBe(`client metadata document \`${id}\`: \`client_id\` \`https://claude.ai/oauth/client.json\` is not the document's URL: a document may only describe itself`);
  });

  it('refuses a document whose client_id differs only by a trailing slash or case (impersonation by near match)', async () => {
    const id = `${fx.url}/near.json`;
    fx.setRoute('/near.json', { headers: json, body: doc(`${id}/`) });
    await expect(fetchClientMetadata(id, local)).rejects.toThrow(/is not the document's URL/);
    fx.setRoute('/near.json', { headers: json, body: doc(id.toUpperCase()) });
    await expect(fetchClientMetadata(id, local)).rejects.toThrow(/is not the document's URL/);
  });

  it('refuses a document without client_id', async () => {
    const id = `${fx.url}/anon.json`;
    fx.setRoute('/anon.json', { headers: json, body: JSON.stringify({ redirect_uris: [CB] }) });
    await expect(fetchClientMetadata(id, local)).rejects.toThrow(`client metadata document \`${id}\`: \`client_id\` is missing: the document must name its own URL`);
  });

  it.each([
    ['missing redirect_uris', { redirect_uris: undefined }, /: `redirect_uris`: is required/],
    ['an http redirect URI to a remote host (code interception)', { redirect_uris: ['http://evil.example/cb'] }, /: `redirect_uris\[0\]`: `http:\/\/evil.example\/cb` uses http/],
    ['private_key_jwt (out of scope here)', { token_endpoint_auth_method: 'private_key_jwt' }, /: `token_endpoint_auth_method`: `private_key_jwt` is not supported: Mandate registers public clients/],
    ['a client_secret in a public document', { client_secret: 's3cret' }, /: must not contain `client_secret`/],
  ])('applies the registration rules: refuses %s', async (title, extra, message) => {
    const path = `/rules-${title.replace(/\W+/g, '-')}.json`;
    const id = `${fx.url}${path}`;
    fx.setRoute(path, { headers: json, body: doc(id, extra) });
    const err = await rejected(fetchClientMetadata(id, local));
    expect(err.code).toBe('invalid_client');
    expect(err.message.startsWith(`client metadata document \`${id}\`: `)).toBe(true);
    expect(err.message).toMatch(message);
  });

  it.each([
    ['invalid JSON', '{"client_id":', 'is not valid UTF-8 JSON'],
    ['a JSON array', '[]', 'must be a JSON object'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), 'is not valid UTF-8 JSON'],
  ])('refuses %s', async (title, body, problem) => {
    const path = `/bad-${title.replace(/\W+/g, '-')}.json`;
    const id = `${fx.url}${path}`;
    fx.setRoute(path, (_req, res) => res.writeHead(200, json).end(Buffer.from(body, 'latin1')));
    await expect(fetchClientMetadata(id, local)).rejects.toThrow(`client metadata document \`${id}\`: ${problem}`);
  });

  it('refuses a non-200 answer', async () => {
    const id = `${fx.url}/missing.json`;
    await expect(fetchClientMetadata(id, local)).rejects.toThrow(`client metadata document \`${id}\`: answered HTTP 404: expected 200`);
  });

  // Clear-text metadata can be rewritten in transit (redirect URIs included).
  it('refuses an http client id outside allowHttpHosts (downgrade to clear text), and fetches it inside', async () => {
    const server = createHttpServer((req, res) => {
      res.writeHead(200, json).end(doc(`http://127.0.0.1:${(server.address() as AddressInfo).port}${req.url}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const id = `http://127.0.0.1:${(server.address() as AddressInfo).port}/plain.json`;
      const err = await rejected(fetchClientMetadata(id, local));
      expect(err.code).toBe('invalid_client');
      expect(err.message).toBe(`client metadata document \`${id}\`: the client id must use https`);
      await expect(fetchClientMetadata(id, { ...local, allowHttpHosts: ['127.0.0.1'] })).resolves.toMatchObject({ clientName: 'Fixture Agent' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a client id that is not a fetchable URL without fetching', async () => {
    const before = fx.requests.length;
    const id = `${fx.url}/a/../ok.json`;
    await expect(fetchClientMetadata(id, local)).rejects.toThrow(`client metadata document \`${id}\`: the client id must not contain \`.\` or \`..\` path segments`);
    expect(fx.requests.length).toBe(before);
  });

  // Slowloris / resource exhaustion: a host that accepts and never answers must not hold a request.
  it('gives up on a server that never answers (hanging host), naming the timeout', async () => {
    const id = `${fx.url}/hang.json`;
    fx.setRoute('/hang.json', () => {});
    const err = await rejected(fetchClientMetadata(id, { ...local, timeoutMs: 200 }));
    expect(err.code).toBe('invalid_client');
    expect(err.message).toBe(`client metadata document \`${id}\`: no answer within 200 ms (timeout)`);
  });

  // Man in the middle: a certificate nobody vouches for.
  it('refuses an untrusted certificate (MITM)', async () => {
    const id = `${fx.url}/ok.json`;
    const before = fx.requests.length;
    const err = await rejected(fetchClientMetadata(id, { allowPrivateAddresses: true }));
    expect(err.code).toBe('invalid_client');
    expect(err.message).toMatch(new RegExp(`^client metadata document \`${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`: TLS certificate not trusted \\([A-Z_]+\\)$`));
    expect(err.message).not.toMatch(/\n\s+at /); // no stack trace
    expect(fx.requests.length).toBe(before); // the request never left the handshake
  });

  // SSRF: a client id is a URL anyone can make the server fetch; internal addresses are off limits.
  it('refuses a client id on a loopback IP by default, before connecting (SSRF)', async () => {
    const id = `${fx.url}/ok.json`;
    const before = fx.requests.length;
    await expect(fetchClientMetadata(id, { ca: fx.ca })).rejects.toThrow(`client metadata document \`${id}\`: host \`127.0.0.1\` resolves to a non-public address: not fetched`);
    expect(fx.requests.length).toBe(before);
  });

  it('refuses a host name that resolves to loopback by default, checking the address it connects to (SSRF, DNS rebinding)', async () => {
    const id = `${fx.url.replace('127.0.0.1', 'localhost')}/ok.json`;
    const before = fx.requests.length;
    const err = await rejected(fetchClientMetadata(id, { ca: fx.ca }));
    expect(err.message).toMatch(/: host `localhost` resolves to a non-public address \((127\.0\.0\.1|::1)\): not fetched$/);
    expect(fx.requests.length).toBe(before);
  });

  it.each(['https://169.254.169.254/latest/meta-data', 'https://10.0.0.1/client.json', 'https://[::ffff:7f00:1]/client.json', 'https://[fd00::1]/client.json'])(
    'refuses the internal address %s (SSRF to cloud metadata or the private network)',
    async (id) => {
      await expect(fetchClientMetadata(id, { timeoutMs: 1000 })).rejects.toThrow(/resolves to a non-public address: not fetched$/);
    },
  );

  it('names the network error code when nothing listens (ECONNREFUSED)', async () => {
    const server = createHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const id = `https://127.0.0.1:${port}/client.json`;
    await expect(fetchClientMetadata(id, local)).rejects.toThrow(`client metadata document \`${id}\`: cannot connect (ECONNREFUSED)`);
  });
});

describe('redirectUriAllowed', () => {
  const registered = [CB, 'http://127.0.0.1/callback', 'http://[::1]:8080/cb', 'http://localhost:3000/oauth?x=1', 'com.example.app:/cb'];
  const cases: [string, string, boolean][] = [
    ['an exact match', CB, true],
    ['an exact private-use scheme match', 'com.example.app:/cb', true],
    ['a loopback IPv4 redirect on another port (RFC 8252 §7.3)', 'http://127.0.0.1:51234/callback', true],
    ['a loopback IPv4 redirect with its registered (absent) port', 'http://127.0.0.1/callback', true],
    ['a loopback IPv6 redirect on another port', 'http://[::1]:40000/cb', true],
    ['a loopback IPv6 redirect without a port', 'http://[::1]/cb', true],
    ['localhost on another port, same query', 'http://localhost:49152/oauth?x=1', true],
    // Path traversal: the browser resolves `..` and lands on another page of the host.
    ['a dot-segment path escape (path traversal)', 'https://app.example/cb/../evil', false],
    ['an added query (parameter injection)', 'https://app.example/cb?x', false],
    ['an added empty query', 'https://app.example/cb?', false],
    ['a longer path', 'https://app.example/cb/more', false],
    ['a trailing slash', 'https://app.example/cb/', false],
    // A domain that starts with the registered host.
    ['a host-suffix domain (open redirect to an attacker domain)', 'https://app.example.evil.com/cb', false],
    ['userinfo that hides the real host', 'https://app.example@evil.com/cb', false],
    ['another scheme', 'http://app.example/cb', false],
    ['a case variant', 'https://APP.example/cb', false],
    ['a fragment', 'https://app.example/cb#x', false],
    ['a port on a non-loopback https redirect', 'https://app.example:444/cb', false],
    ['a loopback redirect with another path', 'http://127.0.0.1:51234/callback/../x', false],
    ['a loopback redirect with another query', 'http://localhost:49152/oauth?x=2', false],
    ['a loopback redirect on another loopback host', 'http://localhost:51234/callback', false],
    ['https instead of http on loopback', 'https://127.0.0.1:51234/callback', false],
    ['a loopback look-alike host', 'http://127.0.0.1.evil.com/callback', false],
    // `localhost:1234@evil.com` is userinfo; the host is evil.com.
    ['loopback as userinfo of another host', 'http://127.0.0.1:1234@evil.com/callback', false],
    ['an invalid port', 'http://127.0.0.1:99999/callback', false],
  ];
  it.each(cases)('%s', (_title, uri, ok) => {
    expect(redirectUriAllowed(registered, uri)).toBe(ok);
  });

  it('gives no port leniency to a non-loopback registration', () => {
    expect(redirectUriAllowed(['http://127.0.0.2/cb'], 'http://127.0.0.2:1234/cb')).toBe(false);
    expect(redirectUriAllowed([], 'http://127.0.0.1/cb')).toBe(false);
  });
});
