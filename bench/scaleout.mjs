// Scale-out on PostgreSQL, both backends in the same run:
//  1. AuthZEN decisions/s (each one audited before it is answered), one replica, SQLite vs PostgreSQL;
//  2. MCP tool calls/s through the gateway (credential, budget, decision, audit, forward), one
//     replica, SQLite vs PostgreSQL;
//  3. how long a revocation made on one of three replicas takes to be refused on the other two
//     (p50/p99; budget p99 < 100 ms);
//  4. audit appends/s with the hash chain (the batching writer, many concurrent recorders), SQLite
//     vs PostgreSQL (budget >= 10,000/s).
// PostgreSQL: MANDATE_BENCH_PG (default postgres://postgres@127.0.0.1:5432); a database is
// created for the run and dropped after it.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createClientAssertion } from '../dist/client/agent-key.js';
import { AuditLog } from '../dist/audit/audit-log.js';
import { systemClock } from '../dist/core/clock.js';
import { PostgresStore } from '../dist/storage/postgres/postgres-store.js';
import { SqliteStore } from '../dist/storage/sqlite/sqlite-store.js';
import { cpus, freePort, hasTaskset, load, percentile, pinned, start, stop, waitHttp } from './lib/proc.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const PG = process.env.MANDATE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432';
const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS ?? 100);
const AUDIT_EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 50_000);
const SERVER_CPU = 0;
const LOAD_CPU = cpus > 1 ? 1 : 0;

async function withAdmin(fn) {
  const c = new pg.Client({ connectionString: `${PG}/postgres` });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function createDatabase(name) {
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  return { url: `${PG}/${name}`, drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)) };
}

function serve(cfg, dataDir, port, cpu = SERVER_CPU) {
  const [cmd, args] = pinned(cpu, process.execPath, [join(ROOT, 'dist/cli/main.js'), '--config', cfg, '--data-dir', dataDir, 'serve', '--port', String(port)]);
  return start(cmd, args);
}

async function registerAgent(base, admin, name) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const created = await fetch(`${base}/api/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, owner: 'o@corp.example', purpose: 'bench', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }) }).then((r) => r.json());
  return { agentId: created.id, kid, alg: 'ES256', privateKey };
}

async function startTask(tokenEndpoint, key, tools) {
  const assertion = await createClientAssertion(key, tokenEndpoint);
  const details = [{ type: 'mandate_task', intent: 'benchmark', tools, ttl: 600 }];
  const tok = await fetch(tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, authorization_details: JSON.stringify(details) }) }).then((r) => r.json());
  if (!tok.access_token) throw new Error(`task start failed: ${JSON.stringify(tok)}`);
  return tok;
}

const storeLine = (url) => (url ? `store: { url: "${url}" }` : '');

/** 1. AuthZEN evaluations/s on one replica with this store. */
async function decisionsOn(tmp, label, url, casesFile) {
  const fixture = join(ROOT, 'test/fixtures/authzen');
  const cfg = join(tmp, `${label}-pdp.yaml`);
  writeFileSync(cfg, ['trustDomain: bench.local', `policies: { dir: ${join(fixture, 'policies')}, schema: ${join(fixture, 'interop.cedarschema')} }`, `entities: [ ${join(fixture, 'users.json')} ]`, 'authzen: { types: { identity: User } }', 'logging: { level: warn }', storeLine(url)].join('\n'));
  const port = await freePort();
  const dataDir = join(tmp, `${label}-pdp`);
  const child = serve(cfg, dataDir, port);
  try {
    await waitHttp(`http://127.0.0.1:${port}/readyz`, { child, timeoutMs: 30_000 });
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    return await load(LOAD_CPU, `http://127.0.0.1:${port}/access/v1/evaluation`, casesFile, { concurrency: CONCURRENCY, seconds: SECONDS, authorization: `Bearer ${token}` });
  } finally {
    await stop(child);
  }
}

function gatewayConfig(dir, url, extra = []) {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(join(dir, 'policies', 'bench.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
  const cfg = join(dir, 'mandate.yaml');
  writeFileSync(
    cfg,
    [
      'trustDomain: bench.local',
      `policies: { dir: ${join(dir, 'policies')}, schema: ${join(ROOT, 'policies/mandate.cedarschema')} }`,
      'logging: { level: warn }',
      storeLine(url),
      ...extra,
      'upstreams:',
      '  stdio:',
      `    command: ${process.execPath}`,
      `    args: [${join(ROOT, 'test/fixtures/upstreams/stdio-server.mjs')}]`,
      '    sharing: shared',
    ].join('\n'),
  );
  return cfg;
}

/** 2. Tool calls/s through one replica with this store: CONCURRENCY/2 MCP sessions calling echo in a closed loop. */
async function toolCallsOn(tmp, label, url) {
  const dir = join(tmp, `${label}-gw`);
  const cfg = gatewayConfig(dir, url);
  const port = await freePort();
  const child = serve(cfg, join(dir, 'data'), port);
  const clients = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHttp(`${base}/readyz`, { child, timeoutMs: 30_000 });
    const admin = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
    const key = await registerAgent(base, admin, 'bench');
    const tok = await startTask(`${base}/oauth/token`, key, ['stdio.echo']);
    const sessions = Math.max(1, CONCURRENCY / 2);
    for (let i = 0; i < sessions; i++) {
      const c = new Client({ name: `bench-${i}`, version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${tok.access_token}` } } }));
      clients.push(c);
    }
    let ok = 0;
    let failed = 0;
    const lat = [];
    const until = performance.now() + SECONDS * 1000;
    await Promise.all(
      clients.map(async (c, w) => {
        for (let i = 0; performance.now() < until; i++) {
          const t = performance.now();
          const r = await c.callTool({ name: 'stdio.echo', arguments: { text: `w${w}-${i}` } });
          lat.push(performance.now() - t);
          if (r.isError) failed++;
          else ok++;
        }
      }),
    );
    if (failed) throw new Error(`${label}: ${failed} tool calls failed`);
    lat.sort((a, b) => a - b);
    return { rps: Math.round(ok / SECONDS), p50_ms: percentile(lat, 0.5), p99_ms: percentile(lat, 0.99) };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stop(child);
  }
}

/** 3. Three replicas on one database: a revocation on replica 0, refused on 1 and 2 after how long. */
async function revocationDelay(tmp, url) {
  const dir = join(tmp, 'replicas');
  const ports = [await freePort(), await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${ports[0]}`;
  const cfg = gatewayConfig(dir, url, [`publicUrl: ${publicUrl}`, `gateway: { allowedHosts: [${ports.map((p) => `"127.0.0.1:${p}"`).join(', ')}] }`]);
  const dirs = ports.map((_, i) => join(dir, `replica-${i}`));
  const children = [];
  try {
    children.push(serve(cfg, dirs[0], ports[0], 0));
    await waitHttp(`http://127.0.0.1:${ports[0]}/readyz`, { child: children[0], timeoutMs: 30_000 });
    for (const d of dirs.slice(1)) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      for (const f of ['signing-keys.json', 'admin-token']) copyFileSync(join(dirs[0], f), join(d, f));
    }
    for (let i = 1; i < 3; i++) children.push(serve(cfg, dirs[i], ports[i], i % Math.max(1, cpus)));
    for (let i = 1; i < 3; i++) await waitHttp(`http://127.0.0.1:${ports[i]}/readyz`, { child: children[i], timeoutMs: 30_000 });
    const admin = readFileSync(join(dirs[0], 'admin-token'), 'utf8').trim();
    const key = await registerAgent(publicUrl, admin, 'revoker');
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } });
    const honoured = async (port, token) => {
      const r = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: init });
      await r.arrayBuffer();
      if (r.status !== 200 && r.status !== 401) throw new Error(`replica on ${port} answered ${r.status}`);
      return r.status === 200;
    };
    const delays = [];
    for (let n = 0; n < REVOCATIONS; n++) {
      const tok = await startTask(`${publicUrl}/oauth/token`, key, ['stdio.echo']);
      const task = JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url').toString()).task_id;
      for (const p of ports.slice(1)) if (!(await honoured(p, tok.access_token))) throw new Error('a fresh credential was refused');
      // From the moment the revocation is asked for on replica 0 until each other replica refuses.
      const t0 = performance.now();
      const revoked = fetch(`${publicUrl}/api/v1/tasks/${task}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
      await Promise.all(
        ports.slice(1).map(async (p) => {
          while (await honoured(p, tok.access_token)) {
            if (performance.now() - t0 > 30_000) throw new Error(`replica on ${p} still honours a revoked task after 30 s`);
          }
          delays.push(performance.now() - t0);
        }),
      );
      const res = await revoked;
      if (res.status !== 200) throw new Error(`revoke failed: ${res.status}`);
    }
    delays.sort((a, b) => a - b);
    return { p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), max: delays[delays.length - 1], n: delays.length };
  } finally {
    for (const c of children) await stop(c);
  }
}

/** 4. Audit appends/s with the chain: AUDIT_EVENTS records from 512 concurrent recorders, through the batching writer. */
async function auditAppends(store) {
  const audit = new AuditLog(store, systemClock);
  for (let i = 0; i < 1000; i++) await audit.record({ type: 'bench.warmup', actor: 'bench', data: { i } });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 512 }, async () => {
      while (next < AUDIT_EVENTS) {
        const i = next++;
        await audit.record({ type: 'tool.call', actor: 'spiffe://bench.local/agent/a', taskId: `task_${i % 97}`, outcome: 'allowed', data: { tool: 'fs.read_text_file', args: { path: `/srv/reports/${i}.txt` }, i } });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await audit.drain();
  const v = await audit.verify();
  if (!v.ok) throw new Error(`audit chain broken after the benchmark: ${JSON.stringify(v.broken)}`);
  return { perSecond: Math.round(AUDIT_EVENTS / seconds), verified: v.checked };
}

export async function scaleout(log = console.log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-scaleout-'));
  const name = `mandate_bench_${process.pid}`;
  const dbs = [];
  const newDb = async (suffix) => {
    const d = await createDatabase(`${name}_${suffix}`);
    dbs.push(d);
    return d.url;
  };
  try {
    const shared = join(ROOT, '..', 'shared/conformance/authzen/todo-decisions-1_0-02.json');
    const vectors = JSON.parse(readFileSync(existsSync(shared) ? shared : join(ROOT, 'test/fixtures/authzen/vectors/todo-decisions-1_0-02.json'), 'utf8'));
    const casesFile = join(tmp, 'cases.json');
    writeFileSync(casesFile, JSON.stringify(vectors.evaluation.map((c) => ({ body: c.request, expected: c.expected }))));

    const decisions = { sqlite: await decisionsOn(tmp, 'sqlite', null, casesFile), postgres: await decisionsOn(tmp, 'postgres', await newDb('pdp'), casesFile) };
    for (const [k, r] of Object.entries(decisions)) if (r.errors) throw new Error(`decisions on ${k}: ${r.errors} failed (${r.firstError})`);
    const calls = { sqlite: await toolCallsOn(tmp, 'sqlite', null), postgres: await toolCallsOn(tmp, 'postgres', await newDb('gw')) };
    const revocation = await revocationDelay(tmp, await newDb('replicas'));

    const sqliteStore = new SqliteStore({ path: join(tmp, 'audit.db') });
    const pgStore = await PostgresStore.open({ url: await newDb('audit') });
    let audit;
    try {
      audit = { sqlite: await auditAppends(sqliteStore), postgres: await auditAppends(pgStore) };
    } finally {
      await sqliteStore.close();
      await pgStore.close();
    }

    const row = (label, r) => `  ${label.padEnd(30)} ${String(r.rps).padStart(7)} /s   p50 ${r.p50_ms.toFixed(2)} ms   p99 ${r.p99_ms.toFixed(2)} ms`;
    log(`Scale-out: SQLite vs PostgreSQL ${(await withAdmin((c) => c.query('SHOW server_version'))).rows[0].server_version} (same run; ${hasTaskset && cpus > 1 ? 'server on CPU 0, load on CPU 1' : 'unpinned'}; ${SECONDS}s per load run)`);
    log(`  AuthZEN decisions, each audited before it is answered (${CONCURRENCY} connections, one replica):`);
    log(row('SQLite', decisions.sqlite));
    log(row('PostgreSQL', decisions.postgres));
    log(`    PostgreSQL / SQLite: ${(decisions.postgres.rps / decisions.sqlite.rps).toFixed(2)}x`);
    log(`  MCP tool calls through the gateway (${Math.max(1, CONCURRENCY / 2)} sessions, closed loop, one replica):`);
    log(row('SQLite', calls.sqlite));
    log(row('PostgreSQL', calls.postgres));
    log(`    PostgreSQL / SQLite: ${(calls.postgres.rps / calls.sqlite.rps).toFixed(2)}x`);
    log(`  Revocation on replica 0 refused on replicas 1 and 2 (${revocation.n} measurements, from the revoke request to the first refusal; budget p99 < 100 ms):`);
    log(`    p50 ${revocation.p50.toFixed(1)} ms   p99 ${revocation.p99.toFixed(1)} ms   max ${revocation.max.toFixed(1)} ms`);
    log(`  Audit appends with the hash chain (${AUDIT_EVENTS} events, 512 concurrent recorders, batching writer; chain verified after; budget >= 10,000/s):`);
    log(`    SQLite ${audit.sqlite.perSecond}/s   PostgreSQL ${audit.postgres.perSecond}/s`);
    return { decisions, calls, revocation, audit };
  } finally {
    for (const d of dbs) await d.drop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await scaleout();
