#!/usr/bin/env node
// `npm run demo`: a scripted agent, built on the MCP SDK client, working through Mandate in front
// of real MCP servers (the reference filesystem and memory servers), one step at a time.
// It starts its own Mandate (demo config, throwaway data directory), so it needs nothing else.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { MandateAgent } from 'mandate/client';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../dist/config/load.js';
import { upstreamConfigSchema } from '../dist/config/schema.js';
import { createMandate } from '../dist/mandate.js';
import { startReportsApi } from './servers/reports-api.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const SANDBOX = join(ROOT, 'demo/sandbox');
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
let n = 0;
const step = (what) => console.log(`\n${bold(`${++n}. ${what}`)}`);
const show = (s) => console.log(dim(`   ${String(s).split('\n').join('\n   ')}`));
const textOf = (r) => (r.content ?? []).map((c) => c.text ?? '').join('\n');

/** The pending approval for a fetch of `url` (the held call created it). */
async function waitForPending(m, url) {
  for (let i = 0; i < 100; i++) {
    const a = (await m.approvals.list({ status: 'pending' })).find((x) => x.args?.url === url);
    if (a) return a.id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no approval request appeared');
}

/** What `mandate approvals approve|deny <id>` does: a person's decision with their own token. */
async function decide(base, token, id, decision, reason) {
  const r = await fetch(`${base}/api/v1/approvals/${id}/${decision}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(reason ? { reason } : {}) });
  if (!r.ok) throw new Error(`${decision} failed: ${await r.text()}`);
}

const dataDir = mkdtempSync(join(tmpdir(), 'mandate-demo-'));
const config = loadConfig({ configPath: join(ROOT, 'mandate.yaml'), dataDir, port: 0, env: {} });
config.logging.level = 'silent';

// A REST API whose token only Mandate holds (a named secret, here from Mandate's environment).
const API_TOKEN = `demo-api-token-${randomBytes(8).toString('hex')}`;
process.env.DEMO_REPORTS_API_TOKEN = API_TOKEN;
const reportsApi = await startReportsApi(API_TOKEN);
config.secrets.reports_token = { env: 'DEMO_REPORTS_API_TOKEN' };
config.upstreams.reports = upstreamConfigSchema.parse({ kind: 'http', description: 'the reports REST API', url: reportsApi.url, auth: { type: 'bearer', secret: 'reports_token' }, methods: ['GET'] });
// A database where each task gets its own role: the machine's PostgreSQL when it is there.
const PG = process.env.MANDATE_DEMO_PG ?? 'postgres://postgres@127.0.0.1:5432';
const demoDb = `mandate_demo_${randomBytes(4).toString('hex')}`;
let pgAdmin = null;
try {
  pgAdmin = new pg.Client({ connectionString: `${PG}/postgres`, connectionTimeoutMillis: 3000 });
  await pgAdmin.connect();
  await pgAdmin.query(`CREATE DATABASE ${demoDb}`);
  const seed = new pg.Client({ connectionString: `${PG}/${demoDb}` });
  await seed.connect();
  await seed.query("CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric); INSERT INTO orders VALUES (1, 'acme', 120.50), (2, 'globex', 99.00); CREATE TABLE customers (id int PRIMARY KEY, email text); INSERT INTO customers VALUES (1, 'ceo@acme.example');");
  await seed.end();
  config.upstreams.warehouse = upstreamConfigSchema.parse({ kind: 'postgres', description: 'the orders warehouse', connection: `${PG}/${demoDb}`, privileges: { 'public.orders': ['SELECT'], 'public.customers': ['SELECT'] }, tools: { query: { risk: 'read', classification: 'confidential' } } });
} catch (err) {
  await pgAdmin?.end().catch(() => undefined);
  pgAdmin = null;
  console.log(dim(`(no PostgreSQL at ${PG}: ${err.message}; the database steps are skipped — set MANDATE_DEMO_PG to use another)`));
}
const m = await createMandate({ config });
const { url } = await m.listen();
console.log(`Mandate is running at ${url}, fronting ${m.tools.listTools().length} tools of ${m.upstreams.names().length} MCP servers (${m.upstreams.names().join(', ')}).`);

try {
  step('An admin registers two agents: workload identities with an owner, a purpose and a public key.');
  const register = async (name, purpose) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const a = await m.agents.create({ name, owner: 'alice@corp.example', purpose, environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }, 'demo');
    // The agent SDK (mandate/client): its key signs assertions; a per-process key binds credentials (DPoP).
    return MandateAgent.create({ url, key: { agentId: a.id, kid, alg: 'ES256', privateKey } });
  };
  const agent = await register('demo-reporter', 'summarise weekly reports');
  const executor = await register('demo-extractor', 'extract figures from reports');
  show(`${agent.id} (planner)\n${executor.id} (executor)`);

  step('The planner authenticates with a signed client assertion and starts a read-only task, declaring what it needs.');
  const task = await agent.startTask({ intent: 'summarise the Q3 report', tools: ['fs.read_text_file', 'fs.list_directory', 'web.fetch'], resources: [`file://${SANDBOX}/*`, 'https://api.partner.example/*'], ttl: 300 });
  show(`task ${task.id}: a ${task.tokenType} credential for ${Math.round((task.expiresAt - Date.now()) / 1000)}s, bound to this task and to a key that never leaves the agent`);

  step('It connects to Mandate with the MCP SDK client and lists its tools: it sees only the tools its task declared.');
  const client = await task.connect({ name: 'demo-agent', version: '1.0.0' });
  const { tools } = await client.listTools();
  show(`${tools.map((t) => t.name).join(', ')}   (of ${m.tools.listTools().length} tools Mandate fronts)`);

  step('It reads the Q3 report: inside its scope, and policy allows it.');
  const ok = await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } });
  show(textOf(ok));

  step('It tries to write a file: denied, the task never declared a write tool.');
  show(textOf(await client.callTool({ name: 'fs.write_file', arguments: { path: join(SANDBOX, 'reports/notes.txt'), content: 'hello' } })));

  step('It tries to read the salaries file in the same sandbox: denied by an argument policy (reports folder only).');
  show(textOf(await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'private/salaries.csv') } })));

  step("It fetches partner figures: policy wants the owner's yes to this exact call, so Mandate holds the call open.");
  const alice = await m.users.create({ name: 'Alice (agent owner)', email: 'alice@corp.example', roles: [] }, 'demo');
  const partnerUrl = 'https://api.partner.example/q3-figures';
  const held = client.callTool({ name: 'web.fetch', arguments: { url: partnerUrl } }, undefined, { onprogress: (p) => show(`progress: ${p.message}`) });
  const pendingId = await waitForPending(m, partnerUrl);
  show(`approval ${pendingId} is waiting; in another terminal the owner would run:`);
  show(`  MANDATE_TOKEN=<alice's token> mandate approvals approve ${pendingId}`);
  show('(this demo approves it for her now, over the same API)');
  await decide(url, alice.token, pendingId, 'approve');
  show(`→ ${textOf(await held)}`);

  step('It repeats the identical call: the approval was single-use, so this one needs a new yes; Alice says no.');
  const again = client.callTool({ name: 'web.fetch', arguments: { url: partnerUrl } });
  const secondId = await waitForPending(m, partnerUrl);
  await decide(url, alice.token, secondId, 'deny', 'already fetched once for this report');
  show(`→ ${textOf(await again)}`);

  step('It hands part of the work to the executor: a narrower task (one tool, the Q3 file only), bound to the executor\'s own key (token exchange).');
  const child = executor.adopt(await task.delegate(await executor.delegationTicket(), { intent: 'extract the Q3 revenue line', tools: ['fs.read_text_file'], resources: [`file://${SANDBOX}/reports/q3*`], ttl: 120 }));
  const claims = decodeJwt(child.credential);
  show(`child task ${child.id}, held by ${claims.act.sub}, acting for ${claims.sub}`);
  const childMcp = await child.connect({ name: 'demo-executor', version: '1.0.0' });
  show(`the executor sees: ${(await childMcp.listTools()).tools.map((t) => t.name).join(', ')}`);
  show(`→ ${textOf(await childMcp.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } })).split('\n')[0]}`);
  show(`→ ${textOf(await childMcp.callTool({ name: 'fs.list_directory', arguments: { path: join(SANDBOX, 'reports') } }))}`);

  step('Its work is done: the planner ends its task (RFC 7009); the delegated task ends with it.');
  await task.end();
  show('task ended');
  try {
    await childMcp.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } });
    show('unexpected: the executor could still call');
    process.exitCode = 1;
  } catch (err) {
    show(`executor refused: ${String(err.message).replace(/\s+/g, ' ').slice(0, 240)}`);
  }

  step('Any further call with that credential is rejected: access ended with the task.');
  try {
    await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } });
    show('unexpected: the call went through');
    process.exitCode = 1;
  } catch (err) {
    show(`rejected: ${String(err.message).replace(/\s+/g, ' ').slice(0, 160)}`);
  }

  step('A second task: the reports REST API and the orders warehouse, with no key of its own for either.');
  const tools2 = ['reports.GET /v1/reports/*', ...(pgAdmin ? [{ name: 'warehouse.query', privileges: { 'public.orders': ['SELECT'] } }] : [])];
  const task2 = await agent.startTask({ intent: 'reconcile Q3 revenue with orders', tools: tools2, ttl: 300 });
  show(`task ${task2.id} declares: ${tools2.map((t) => (typeof t === 'string' ? t : `${t.name} (SELECT on public.orders)`)).join(', ')}`);
  const reports = task2.httpApi('reports');

  step('It calls the REST API through Mandate: /http/reports/v1/reports/q3. Mandate checks the path against the task and adds the API token.');
  const q3 = await reports('/v1/reports/q3');
  show(`HTTP ${q3.status}: ${await q3.text()}`);
  const last = reportsApi.seen.at(-1);
  show(`the API saw: ${last.method} ${last.path}, Authorization: Bearer ${last.authorization?.slice(7, 22)}… (Mandate's secret; the agent's process never had it)`);

  step('It tries the admin area of the same API, even with a `..` trick: denied, outside the declared paths; nothing reached the API.');
  const before = reportsApi.seen.length;
  for (const path of ['/admin/users', '/v1/reports/%2e%2e/%2e%2e/admin/users']) {
    const r = await reports(path);
    show(`${path} → HTTP ${r.status}: ${(await r.json()).error_description}`);
  }
  show(`requests that reached the API: ${reportsApi.seen.length - before}`);

  if (pgAdmin) {
    step('It queries the warehouse: Mandate created a PostgreSQL role for this task alone (SELECT on orders, VALID UNTIL the task ends) and runs the query as it.');
    const dbClient = await task2.connect({ name: 'demo-agent', version: '1.0.0' });
    const roles = await pgAdmin.query("SELECT rolname, rolvaliduntil FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE $1", [`%${task2.id}%`]);
    show(`role ${roles.rows[0]?.rolname}, valid until ${roles.rows[0]?.rolvaliduntil?.toISOString()}`);
    const rows = await dbClient.callTool({ name: 'warehouse.query', arguments: { sql: 'SELECT id, customer, total FROM orders ORDER BY id' } });
    show(textOf(rows));
    step('It tries to read the customers table: PostgreSQL itself refuses, the role holds only what the task declared.');
    show(textOf(await dbClient.callTool({ name: 'warehouse.query', arguments: { sql: 'SELECT email FROM customers' } })));
    await dbClient.close().catch(() => undefined);
  }

  step('The task ends: its credential stops working and its database role is dropped.');
  await task2.end();
  show(`the API call now: HTTP ${(await reports('/v1/reports/q3')).status}`);
  if (pgAdmin) {
    // The role goes first, then its `db.role.drop` audit record: wait for the record.
    let left = 1;
    let recorded = false;
    for (let i = 0; i < 200 && (left || !recorded); i++) {
      left = (await pgAdmin.query("SELECT 1 FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE $1", [`%${task2.id}%`])).rowCount;
      recorded = (await m.store.listAudit({ taskId: task2.id, limit: 100 })).some((e) => e.type === 'db.role.drop');
      if (left || !recorded) await new Promise((r) => setTimeout(r, 50));
    }
    show(left ? 'unexpected: the role is still there' : `the role is gone${recorded ? '' : ' (but its audit record is missing)'}`);
    if (left || !recorded) process.exitCode = 1;
  }

  step('The audit log recorded every step, hash-chained:');
  await m.audit.drain();
  for (const e of (await m.audit.list({})).filter((x) => x.agentId === agent.id || x.agentId === executor.id)) {
    const why = e.data.reasons?.[0] ?? e.data.reason ?? '';
    show(`${String(e.seq).padStart(3)} ${e.type.padEnd(16)} ${String(e.outcome ?? '').padEnd(9)} ${e.data.tool ?? e.data.role ?? ''}${e.data.http ? ` ${e.data.http.path}` : ''} ${why ? `— ${String(why).slice(0, 80)}` : ''}`);
  }
  const v = await m.audit.verify();
  show(v.ok ? `chain intact (${v.checked} events)` : `chain BROKEN at ${v.broken.seq}`);
  await client.close().catch(() => undefined);
} finally {
  await m.close();
  await reportsApi.close();
  if (pgAdmin) {
    await pgAdmin.query(`DROP DATABASE IF EXISTS ${demoDb} WITH (FORCE)`).catch(() => undefined);
    await pgAdmin.end().catch(() => undefined);
  }
  rmSync(dataDir, { recursive: true, force: true });
}
