// Starts the real Mandate server on an ephemeral port over a fresh data directory, with real
// agents (key pairs, client assertions) for end-to-end tests.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/core/clock.js';
import { createMandate, type Mandate } from '../../src/mandate.js';

export const REPO = resolve(import.meta.dirname, '../..');
/**
 * How long a test waits for something that must happen (a server to start, a poll to turn
 * true): a guard against a hang, never a speed assertion. Waits end as soon as the condition
 * holds, so this costs nothing when things work; it is long so that a busy machine never fails.
 */
export const PATIENCE = 120_000;
export const DEMO_CONFIG = join(REPO, 'mandate.yaml');

export interface TestServer {
  m: Mandate;
  url: string;
  port: number;
  adminToken: string;
  dataDir: string;
  logs: string[];
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, opts?: { token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Headers }>;
  form<T = Record<string, unknown>>(path: string, params: Record<string, string>, opts?: { token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: T }>;
  restart(): Promise<TestServer>;
  close(): Promise<void>;
}

export interface StartOptions {
  config?: string;
  clock?: Clock;
  dataDir?: string;
  /** Keep the data directory on close (for restart tests). */
  keepData?: boolean;
  /** Listen on this port (a restart keeps its URL, so the issuer stays the same). */
  port?: number;
  /** Internal: the data directory was made by this helper (a restart inherits it). */
  ownsDataDir?: boolean;
}

export async function startTestServer(opts: StartOptions = {}): Promise<TestServer> {
  const ownsDataDir = opts.ownsDataDir ?? !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'mandate-e2e-'));
  const config = loadConfig({ configPath: opts.config ?? DEMO_CONFIG, dataDir, port: opts.port ?? 0, env: {} });
  const logs: string[] = [];
  const logger: Logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  );
  // Tests see every upstream's tools from the first request, however busy the machine.
  const m = await createMandate({ config, clock: opts.clock, logger, upstreamStartWaitMs: PATIENCE });
  const { port, url } = await m.listen();
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();

  const s: TestServer = {
    m,
    url,
    port,
    adminToken,
    dataDir,
    logs,
    async api(method, path, body, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const token = o.token === undefined ? adminToken : o.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${url}${path}`, { method, headers, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as never, headers: res.headers };
    },
    async form(path, params, o = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...(o.headers ?? {}) };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as never };
    },
    async restart() {
      await m.close();
      return startTestServer({ ...opts, dataDir, port, ownsDataDir });
    },
    async close() {
      await m.close();
      if (!opts.keepData && ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return s;
}

export interface TestAgent {
  id: string;
  name: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
}

let counter = 0;

export async function createTestAgent(s: TestServer, over: Partial<{ name: string; environment: string; owner: string; purpose: string; reviewBy: string }> = {}): Promise<TestAgent> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const name = over.name ?? `agent-${process.pid}-${++counter}`;
  const res = await s.api('POST', '/api/v1/agents', {
    name,
    owner: over.owner ?? 'alice@corp.example',
    purpose: over.purpose ?? 'end-to-end testing',
    environment: over.environment ?? 'dev',
    ...(over.reviewBy ? { reviewBy: over.reviewBy } : {}),
    jwks: { keys: [{ ...publicJwk, kid }] },
  });
  if (res.status !== 201) throw new Error(`agent create failed: ${JSON.stringify(res.body)}`);
  return { id: res.body.id as string, name, privateKey, publicJwk, kid };
}

export interface AssertionOverrides {
  aud?: string;
  iss?: string;
  sub?: string;
  iat?: number;
  exp?: number;
  nbf?: number;
  jti?: string | null;
  kid?: string;
  key?: CryptoKey;
  alg?: string;
}

export async function clientAssertion(s: TestServer, agent: TestAgent, o: AssertionOverrides = {}): Promise<string> {
  const now = Math.floor(s.m.clock.now() / 1000);
  const jwt = new SignJWT(o.nbf !== undefined ? { nbf: o.nbf } : {})
    .setProtectedHeader({ alg: o.alg ?? 'ES256', kid: o.kid ?? agent.kid })
    .setIssuer(o.iss ?? agent.id)
    .setSubject(o.sub ?? agent.id)
    .setAudience(o.aud ?? `${s.url}/oauth/token`)
    .setIssuedAt(o.iat ?? now)
    .setExpirationTime(o.exp ?? now + 60);
  if (o.jti !== null) jwt.setJti(o.jti ?? `jti-${Math.random().toString(36).slice(2)}-${++counter}`);
  return jwt.sign(o.key ?? agent.privateKey);
}

export function taskDetails(tools: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify([{ type: 'mandate_task', intent: 'summarise the weekly reports', tools, resources: ['file:///srv/demo/sandbox/reports/*'], ...extra }]);
}

export async function requestTask(s: TestServer, agent: TestAgent, details: string, assertion?: string) {
  return s.form<Record<string, unknown>>('/oauth/token', {
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion ?? (await clientAssertion(s, agent)),
    authorization_details: details,
  });
}

export async function startTask(s: TestServer, agent: TestAgent, tools: unknown[] = ['fs.read_text_file'], extra: Record<string, unknown> = {}) {
  const r = await requestTask(s, agent, taskDetails(tools, extra));
  if (r.status !== 200) throw new Error(`task start failed: ${JSON.stringify(r.body)}`);
  return { token: r.body.access_token as string, taskId: r.body.task_id as string, body: r.body };
}

/** A loopback port nothing listens on (so the CLI falls back to the store, or a server can take it). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * The AuthZEN interop vectors: `../shared/conformance/authzen` beside the project when it is
 * there (the source of truth), else the unchanged copy in test/fixtures/authzen/vectors.
 */
export const SHARED_VECTORS = join(REPO, '..', 'shared', 'conformance', 'authzen');
export const VENDORED_VECTORS = join(REPO, 'test', 'fixtures', 'authzen', 'vectors');
export function vectorsDir(): string {
  return existsSync(join(SHARED_VECTORS, 'todo-decisions-1_0-02.json')) ? SHARED_VECTORS : VENDORED_VECTORS;
}
