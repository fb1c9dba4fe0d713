// The standard MCP authorization flow, driven by the MCP SDK's own OAuth client (`auth()` and an
// `OAuthClientProvider`, unmodified) and a real headless browser (Debian's chromium through
// playwright-core) on the consent page: discovery (401 → RFC 9728 → RFC 8414), registration by
// Dynamic Client Registration and by a Client ID Metadata Document (an https fixture), sign-in with
// a personal token, the person choosing a task, code + PKCE, `/mcp` calls inside the chosen task
// (allowed) and outside it (denied), refresh (rotation; a replayed refresh token ends the task),
// and the task's end (refresh refused afterwards).

import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../../helpers/browser.js';
import { startHttpsFixture } from '../../helpers/https-fixture.js';
import { REPO, startTestServer, type TestServer } from '../../helpers/server.js';
import { text } from '../../helpers/gateway.js';

let s: TestServer;
let browser: Browser;
let callback: Server;
let callbackUrl: string;
const codes: string[] = [];
let cimd: Awaited<ReturnType<typeof startHttpsFixture>>;
let aliceToken: string;

/** An OAuthClientProvider as an application would write it: it keeps what the SDK gives it. */
class Provider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  constructor(readonly clientMetadataUrl?: string) {}
  get redirectUrl() {
    return callbackUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Stock MCP client', redirect_uris: [callbackUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(i: OAuthClientInformationMixed) {
    this.info = i;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

beforeAll(async () => {
  callback = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const code = u.searchParams.get('code');
    if (code) codes.push(code);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(code ? 'authorized: you can close this window' : `error: ${u.searchParams.get('error')}: ${u.searchParams.get('error_description')}`);
  });
  await new Promise<void>((r) => callback.listen(0, '127.0.0.1', r));
  callbackUrl = `http://127.0.0.1:${(callback.address() as { port: number }).port}/callback`;
  cimd = await startHttpsFixture({});
  const dir = mkdtempSync(join(tmpdir(), 'mandate-mcp-oauth-'));
  writeFileSync(join(dir, 'ca.pem'), cimd.ca);
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource) when { principal.environment == "interactive" };\n');
  const config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: oauth.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
oauth:
  clientEnvironment: interactive
  clientIdMetadataDocuments: { caFile: ${join(dir, 'ca.pem')}, allowPrivateAddresses: true }
taskTemplates:
  echo-only:
    title: Echo messages
    intent: echo what I ask
    tools: [{ name: stdio.echo, max_calls: 10 }]
    ttl: 900
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
    tools:
      echo: { risk: read }
      secret_report: { risk: read, classification: confidential }
`,
  );
  s = await startTestServer({ config });
  const alice = await s.api('POST', '/api/v1/users', { name: 'Alice', email: 'alice@corp.example', roles: [] });
  aliceToken = alice.body.token as string;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
  await cimd?.close();
  await new Promise((r) => callback?.close(r));
});

/** The person's part, in a real browser without JavaScript: sign in, choose the task, allow. */
async function consent(url: URL, o: { ttl?: string; deny?: boolean } = {}): Promise<string> {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    await page.goto(url.toString());
    await page.fill('input[name=user_token]', aliceToken);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/authorize\?/);
    expect(await page.textContent('body')).toContain('Stock MCP client');
    expect(await page.textContent('body')).toContain('stdio.echo');
    if (o.ttl) await page.selectOption('select[name=ttl]', o.ttl);
    const before = codes.length;
    await page.click(o.deny ? 'button[value=deny]' : 'button[value=allow]');
    await page.waitForURL(/\/callback\?/);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('iss')).toBe(s.url);
    if (o.deny) return landed.searchParams.get('error') ?? '';
    expect(codes.length).toBe(before + 1);
    return codes.at(-1)!;
  } finally {
    await context.close();
  }
}

/** Connects the stock way: the SDK transport with the provider; the first try needs authorization. */
async function authorizeAndConnect(provider: Provider): Promise<Client> {
  const first = new Client({ name: 'stock', version: '1' });
  await expect(first.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { authProvider: provider }))).rejects.toThrow(/Unauthorized/i);
  expect(provider.authorizationUrl).toBeDefined();
  const code = await consent(provider.authorizationUrl!);
  const transport = new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { authProvider: provider });
  await transport.finishAuth(code);
  const client = new Client({ name: 'stock', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { authProvider: provider }));
  return client;
}

const form = (body: Record<string, string>) => fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });

describe('a stock MCP client through the standard authorization flow', () => {
  it('discovers, registers (DCR), gets the person\'s consent for a task, and calls inside it only', async () => {
    const meta = await (await fetch(`${s.url}/.well-known/oauth-authorization-server`)).json();
    expect(meta).toMatchObject({ authorization_endpoint: `${s.url}/authorize`, registration_endpoint: `${s.url}/oauth/register`, code_challenge_methods_supported: ['S256'], client_id_metadata_document_supported: true });
    const provider = new Provider();
    const client = await authorizeAndConnect(provider);
    expect(provider.info?.client_id).toMatch(/^mcl_/);
    expect(provider.saved?.refresh_token).toBeTruthy();
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['stdio.echo']);
    expect(text(await client.callTool({ name: 'stdio.echo', arguments: { text: 'hi' } }))).toBe('echo: hi');
    const outside = await client.callTool({ name: 'stdio.secret_report', arguments: {} });
    expect(text(outside)).toMatch(/denied.*not in the task's scope/);
    // Audit shows both: the person (sub) and the client's identity (act).
    const claims = JSON.parse(Buffer.from(provider.saved!.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims.sub).toBe('user:alice@corp.example');
    expect(claims.act.sub).toMatch(/^spiffe:\/\/oauth\.test\/agent\/oauth-/);
    const events = await s.m.store.listAudit({ taskId: claims.task_id, limit: 100 });
    expect(events.find((e) => e.type === 'oauth.consent')?.data).toMatchObject({ actingFor: 'user:alice@corp.example', clientName: 'Stock MCP client' });
    await client.close();
  });

  it('registers by a Client ID Metadata Document (an https URL) when the server supports it', async () => {
    const id = `${cimd.url}/clients/stock.json`;
    cimd.setRoute('/clients/stock.json', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: id, client_name: 'Stock MCP client', redirect_uris: [callbackUrl], token_endpoint_auth_method: 'none' }) });
    const provider = new Provider(id);
    const client = await authorizeAndConnect(provider);
    expect(provider.info?.client_id).toBe(id);
    expect(text(await client.callTool({ name: 'stdio.echo', arguments: { text: 'cimd' } }))).toBe('echo: cimd');
    await client.close();
  });

  it('refresh tokens rotate; a replayed one (stolen) ends the task; after the task ends refresh is refused', async () => {
    const provider = new Provider();
    const client = await authorizeAndConnect(provider);
    await client.close();
    const first = provider.saved!;
    // The SDK refreshes when it has a refresh token and is asked to authorize again.
    expect(await auth(provider, { serverUrl: `${s.url}/mcp` })).toBe('AUTHORIZED');
    const second = provider.saved!;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    // The old refresh token again: refused, and the task (and so the new credential) ends.
    const replay = await form({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: provider.info!.client_id });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/already used.*task has been ended/) });
    const after = await fetch(`${s.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${second.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
    expect(after.status).toBe(401);
    const refused = await form({ grant_type: 'refresh_token', refresh_token: second.refresh_token!, client_id: provider.info!.client_id });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('the person can deny, and the client hears access_denied', async () => {
    const provider = new Provider();
    const first = new Client({ name: 'stock', version: '1' });
    await expect(first.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { authProvider: provider }))).rejects.toThrow(/Unauthorized/i);
    expect(await consent(provider.authorizationUrl!, { deny: true })).toBe('access_denied');
  });
});
