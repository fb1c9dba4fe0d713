// The HTTP API enforcement point and per-task database roles.
// 1. The same REST call (GET /v1/reports/<id>, a small JSON answer) through a do-nothing proxy
//    (the floor for any HTTP hop on this machine) and through Mandate's /http/<upstream>/…
//    (credential check, path resolution, task scope, Cedar, write-ahead and outcome audit records,
//    budget, the API token added from a named secret), sequentially, interleaved in blocks of 50:
//    p50/p99 of each, the added latency and the ratio.
// 2. Task start (client assertion → task credential at /oauth/token) with only an API grant, and
//    with a database grant too (a PostgreSQL role created with its grants before the credential
//    is issued): p50/p99 of each, needs the machine's PostgreSQL (skipped with a note otherwise).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import pg from 'pg';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createClientAssertion } from '../dist/client/agent-key.js';
import { DbRoleManager } from '../dist/secrets/db-roles.js';
import { freePort, percentile, pinned, start, stop, waitHttp } from './lib/proc.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const STARTS = Number(process.env.BENCH_TASK_STARTS ?? 100);
const PG = process.env.MANDATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

const summary = (lat) => {
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), n: lat.length };
};
const fmt = (s) => `p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  (n=${s.n})`;

const agentOpt = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(url, headers) {
  return new Promise((resolveGet, reject) => {
    const req = http.get(url, { agent: agentOpt, headers }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolveGet(n) : reject(new Error(`HTTP ${res.statusCode} from ${url}`))));
    });
    req.on('error', reject);
  });
}

async function compare(fnA, fnB, n) {
  for (let i = 0; i < 200; i++) {
    await fnA(i);
    await fnB(i);
  }
  const a = [];
  const b = [];
  for (let done = 0; done < n; done += 50) {
    for (let i = done; i < done + 50; i++) {
      const t = process.hrtime.bigint();
      await fnA(i);
      a.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    for (let i = done; i < done + 50; i++) {
      const t = process.hrtime.bigint();
      await fnB(i);
      b.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  return { a: summary(a), b: summary(b) };
}

export async function httpApi(log = console.log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-http-'));
  const children = [];
  const token = `bench-api-${randomBytes(12).toString('hex')}`;
  let pgAdmin = null;
  const dbName = `mandate_bench_${randomBytes(4).toString('hex')}`;
  try {
    // The API, on CPU 1.
    const apiPort = await freePort();
    const [acmd, aargs] = pinned(1, process.execPath, [join(ROOT, 'bench/servers/rest-api.mjs'), String(apiPort), token]);
    const api = start(acmd, aargs);
    children.push(api);
    // The floor: a do-nothing proxy to it, on CPU 0 (where Mandate runs).
    const pxPort = await freePort();
    const [pcmd, pargs] = pinned(0, process.execPath, [join(ROOT, 'bench/servers/raw-proxy.mjs'), String(pxPort), String(apiPort)]);
    const proxy = start(pcmd, pargs);
    children.push(proxy);

    // A database for the task-start comparison, when PostgreSQL is there.
    let dbUrl = null;
    try {
      pgAdmin = new pg.Client({ connectionString: `${PG}/postgres`, connectionTimeoutMillis: 3000 });
      await pgAdmin.connect();
      await pgAdmin.query(`CREATE DATABASE ${dbName}`);
      const seed = new pg.Client({ connectionString: `${PG}/${dbName}` });
      await seed.connect();
      await seed.query('CREATE TABLE orders (id int PRIMARY KEY, total numeric)');
      await seed.end();
      dbUrl = `${PG}/${dbName}`;
    } catch (err) {
      await pgAdmin?.end().catch(() => undefined);
      pgAdmin = null;
      log(`  (no PostgreSQL at ${PG}: ${err.message}; task start with a database role is not measured)`);
    }

    // Mandate, on CPU 0.
    const port = await freePort();
    const dir = join(tmp, 'mandate');
    mkdirSync(join(dir, 'policies'), { recursive: true });
    writeFileSync(join(dir, 'policies', 'bench.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
    const cfg = join(dir, 'mandate.yaml');
    writeFileSync(
      cfg,
      [
        'trustDomain: bench.local',
        'logging: { level: warn }',
        `policies: { dir: ${join(dir, 'policies')}, schema: ${join(ROOT, 'policies/mandate.cedarschema')} }`,
        'secrets:',
        '  api_token: { env: BENCH_API_TOKEN }',
        'upstreams:',
        '  reports:',
        '    kind: http',
        `    url: http://127.0.0.1:${apiPort}`,
        '    auth: { type: bearer, secret: api_token }',
        '    methods: [GET]',
        ...(dbUrl ? ['  warehouse:', '    kind: postgres', `    connection: ${dbUrl}`, '    privileges: { "public.orders": [SELECT] }', '    tools: { query: { risk: read } }'] : []),
      ].join('\n'),
    );
    const dataDir = join(dir, 'data');
    const [mcmd, margs] = pinned(0, process.execPath, [join(ROOT, 'dist/cli/main.js'), '--config', cfg, '--data-dir', dataDir, 'serve', '--port', String(port)]);
    const mandate = start(mcmd, margs, { env: { ...process.env, BENCH_API_TOKEN: token } });
    children.push(mandate);
    const base = `http://127.0.0.1:${port}`;
    await waitHttp(`${base}/healthz`, { child: mandate });
    await waitHttp(`http://127.0.0.1:${pxPort}/`, { child: proxy });

    const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const created = await fetch(`${base}/api/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', owner: 'o@corp.example', purpose: 'bench', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }) }).then((r) => r.json());
    const key = { agentId: created.id, kid, alg: 'ES256', privateKey };
    const startTask = async (tools) => {
      const assertion = await createClientAssertion(key, `${base}/oauth/token`);
      const details = [{ type: 'mandate_task', intent: 'benchmark', tools, ttl: 600 }];
      const r = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, authorization_details: JSON.stringify(details) }) }).then((x) => x.json());
      if (!r.access_token) throw new Error(`task start failed: ${JSON.stringify(r)}`);
      return r;
    };
    const endTask = (t) => fetch(`${base}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${t.access_token}` }, body: new URLSearchParams({ token: t.access_token }) });

    // 1. The enforcement point against the floor.
    const task = await startTask(['reports.GET /v1/reports/*']);
    const viaProxy = (i) => get(`http://127.0.0.1:${pxPort}/v1/reports/r${i % 10}`, { authorization: `Bearer ${token}` });
    const viaMandate = (i) => get(`${base}/http/reports/v1/reports/r${i % 10}`, { authorization: `Bearer ${task.access_token}` });
    const r = await compare(viaProxy, viaMandate, CALLS);
    log('HTTP API enforcement point: GET /v1/reports/<id>, sequential, interleaved in blocks of 50');
    log(`  do-nothing proxy (floor)    ${fmt(r.a)}`);
    log(`  Mandate /http/reports/…     ${fmt(r.b)}`);
    log(`  added by Mandate over the floor: p50 +${(r.b.p50 - r.a.p50).toFixed(3)} ms, p99 +${(r.b.p99 - r.a.p99).toFixed(3)} ms; ratio p50 ${(r.b.p50 / r.a.p50).toFixed(2)}x`);
    await endTask(task);

    // 2. Task start with and without a database role (interleaved, each task ended after).
    if (dbUrl) {
      const plain = [];
      const withDb = [];
      const time = async (tools, into) => {
        const t0 = process.hrtime.bigint();
        const t = await startTask(tools);
        into.push(Number(process.hrtime.bigint() - t0) / 1e6);
        await endTask(t);
      };
      for (let i = 0; i < 10; i++) {
        await time(['reports.GET /v1/reports/*'], []);
        await time([{ name: 'warehouse.query', privileges: { 'public.orders': ['SELECT'] } }], []);
      }
      for (let i = 0; i < STARTS; i++) {
        await time(['reports.GET /v1/reports/*'], plain);
        await time(['reports.GET /v1/reports/*', { name: 'warehouse.query', privileges: { 'public.orders': ['SELECT'] } }], withDb);
      }
      const a = summary(plain);
      const b = summary(withDb);
      log('Task start (client assertion → credential at /oauth/token), interleaved');
      log(`  API grant only              ${fmt(a)}`);
      log(`  + a database role           ${fmt(b)}`);
      log(`  a role adds p50 +${(b.p50 - a.p50).toFixed(3)} ms (ratio ${(b.p50 / a.p50).toFixed(2)}x): CREATE ROLE … VALID UNTIL, GRANTs, and its audit record, before the credential`);
    }
  } finally {
    for (const c of children.reverse()) await stop(c);
    if (pgAdmin) {
      // Roles are cluster-wide: whatever this run left (normally nothing) goes with its database.
      // Only this run's (the instance tag of its key): other deployments may share the cluster.
      let instance = null;
      try {
        instance = DbRoleManager.instanceTag(Buffer.from(readFileSync(join(tmp, 'mandate', 'data', 'db-role-key'), 'utf8').trim(), 'base64url'));
      } catch {
        /* no key: no roles were made */
      }
      const left = instance ? await pgAdmin.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'mandate_t_%' AND shobj_description(oid, 'pg_authid') LIKE $1", [`%"instance":"${instance}"%`]).catch(() => ({ rows: [] })) : { rows: [] };
      await pgAdmin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      for (const { rolname } of left.rows) await pgAdmin.query(`DROP ROLE IF EXISTS ${rolname}`).catch(() => undefined);
      await pgAdmin.end().catch(() => undefined);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await httpApi();
