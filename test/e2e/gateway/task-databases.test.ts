// Per-task database credentials end to end, on the machine's PostgreSQL: a task that declares
// `warehouse.query` with SELECT on one table gets a role of its own (VALID UNTIL its expiry, only
// that grant), queries through MCP without ever holding a password, and the role is gone after
// the task ends, after it expires, after its agent is suspended, and after `mandate serve` is
// killed with SIGKILL and started again (the sweep finds the orphan).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../../../src/storage/sqlite/driver.js';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { serveAgent, startServe } from '../../helpers/process.js';
import { createTestAgent, PATIENCE, REPO, requestTask, startTestServer, taskDetails, type TestServer } from '../../helpers/server.js';
import { ManualClock } from '../../../src/core/clock.js';
import { MandateAgent } from '../../../src/client/index.js';

let db: TestDatabase;
let dir: string;
let config: string;
let s: TestServer;
let clock: ManualClock;

async function sql<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

const rolesOf = (taskId: string) => sql<{ rolname: string; rolvaliduntil: Date | null; description: string | null }>("SELECT rolname, rolvaliduntil, shobj_description(oid, 'pg_authid') AS description FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE $1", [`%"task":"${taskId}"%`]);

async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + PATIENCE;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const QUERY_GRANT = { name: 'warehouse.query', privileges: { 'public.orders': ['SELECT'] } };

beforeAll(async () => {
  db = await createTestDatabase('mandate_taskdb');
  await sql(`CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric);
             INSERT INTO orders VALUES (1, 'acme', 120.5), (2, 'globex', 99);
             CREATE TABLE customers (id int PRIMARY KEY, email text);
             INSERT INTO customers VALUES (1, 'ceo@acme.example');`);
  dir = mkdtempSync(join(tmpdir(), 'mandate-taskdb-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'p.cedar'),
    `permit (principal is Agent, action == Action::"startTask", resource);
permit (principal is Agent, action == Action::"delegate", resource);
@id("call.query") permit (principal is Agent, action == Action::"warehouse.query", resource);
`,
  );
  config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: taskdb.test
logging: { level: debug }
tasks: { maxTtl: 3600 }
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
upstreams:
  warehouse:
    kind: postgres
    connection: ${db.url}
    privileges: { "public.orders": [SELECT, INSERT], "public.customers": [SELECT] }
    maxRows: 100
    tools:
      query: { classification: confidential }
`,
  );
  clock = new ManualClock(Date.now());
  s = await startTestServer({ config, clock });
}, PATIENCE);

afterAll(async () => {
  await s?.m.databases?.sweep().catch(() => undefined);
  await s?.close();
  // Roles are cluster-wide: nothing this file made may outlive it.
  for (const r of await sql<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE '%\"upstream\":\"warehouse\"%'")) {
    await sql(`DROP OWNED BY ${r.rolname}`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${r.rolname}`).catch(() => undefined);
  }
  await db?.drop();
});

async function start(tools: unknown[] = [QUERY_GRANT], ttl = 600) {
  const agent = await createTestAgent(s);
  const r = await requestTask(s, agent, taskDetails(tools, { ttl }));
  return { agent, r, token: r.body.access_token as string, taskId: r.body.task_id as string };
}

describe('a database role per task', () => {
  it('is created at task start with VALID UNTIL the task expiry, and queries run as it (the agent holds no password)', async () => {
    const { r, token, taskId } = await start();
    expect(r.status).toBe(200);
    const roles = await rolesOf(taskId);
    expect(roles).toHaveLength(1);
    const task = (await s.m.store.getTask(taskId))!;
    expect(Math.abs(roles[0]!.rolvaliduntil!.getTime() - task.expiresAt)).toBeLessThan(1000);
    const client = await connectAgent(s, token);
    const res = await client.callTool({ name: 'warehouse.query', arguments: { sql: 'SELECT id, customer FROM orders WHERE id = $1', params: [1] } });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ rows: [{ id: 1, customer: 'acme' }], rowCount: 1 });
    // Nothing the agent saw is a credential for the database.
    expect(JSON.stringify([res, await client.listTools()])).not.toMatch(/postgres:\/\/|password/i);
    const events = await s.m.store.listAudit({ taskId, limit: 100 });
    expect(events.find((e) => e.type === 'db.role.create')?.data).toMatchObject({ upstream: 'warehouse', role: roles[0]!.rolname, privileges: { 'public.orders': ['SELECT'] } });
    await client.close();
  });

  it('is usable only for the declared grants (an injected agent cannot read another table, write, or escalate)', async () => {
    const { token } = await start();
    const client = await connectAgent(s, token);
    const run = async (q: string) => client.callTool({ name: 'warehouse.query', arguments: { sql: q } });
    const other = await run('SELECT email FROM customers');
    expect(other.isError).toBe(true);
    expect(text(other)).toMatch(/permission denied/);
    expect(text(await run("INSERT INTO orders VALUES (9, 'evil', 1)"))).toMatch(/permission denied/);
    expect(text(await run('RESET ROLE; SELECT email FROM customers'))).toMatch(/multiple commands|cannot insert multiple/i);
    expect(text(await run('SET ROLE postgres'))).toMatch(/permission denied|must be member/);
    expect(text(await run('CREATE TABLE loot (x int)'))).toMatch(/permission denied/);
    await client.close();
  });

  it('a task asking for more than the upstream allows is refused before anything is created', async () => {
    const { r } = await start([{ name: 'warehouse.query', privileges: { 'public.customers': ['DELETE'] } }]);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/DELETE.*public\.customers|public\.customers.*DELETE/);
    const { r: r2 } = await start(['warehouse.query']);
    expect(r2.status).toBe(400);
    expect(JSON.stringify(r2.body)).toMatch(/declare what it may do/);
  });

  it('the connection string tool is denied unless policy permits it (default: the agent never holds the credential)', async () => {
    const { token } = await start([QUERY_GRANT, { name: 'warehouse.connect', privileges: { 'public.orders': ['SELECT'] } }]);
    const client = await connectAgent(s, token);
    const r = await client.callTool({ name: 'warehouse.connect', arguments: {} });
    expect(text(r)).toMatch(/denied/);
    expect(text(r)).not.toMatch(/postgres:\/\//);
    await client.close();
  });

  it('is gone once the task ends, with its open session terminated', async () => {
    const { taskId } = await start();
    const [role] = await rolesOf(taskId);
    // A session logged in as the role (as a policy-permitted connection string would give).
    const held = new pg.Client({ connectionString: s.m.databases!['d'].roles.connectionString('warehouse', taskId) });
    await held.connect();
    held.on('error', () => undefined);
    expect((await held.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(2);
    const revoke = await s.api('POST', `/api/v1/tasks/${taskId}/revoke`, { reason: 'done' });
    expect(revoke.status).toBe(200);
    // The role goes first, then its audit record.
    await until('the role to be dropped and recorded', async () => (await rolesOf(taskId)).length === 0 && (await s.m.store.listAudit({ taskId, limit: 100 })).some((e) => e.type === 'db.role.drop'));
    await expect(held.query('SELECT 1')).rejects.toThrow();
    await held.end().catch(() => undefined);
    const events = await s.m.store.listAudit({ taskId, limit: 100 });
    expect(events.find((e) => e.type === 'db.role.drop')?.data).toMatchObject({ role: role!.rolname, upstream: 'warehouse' });
  });

  it('is gone once the task expires', async () => {
    const { taskId } = await start([QUERY_GRANT], 60);
    expect(await rolesOf(taskId)).toHaveLength(1);
    clock.advance(61_000);
    await s.m.sweep();
    await until('the role of the expired task to be dropped', async () => (await rolesOf(taskId)).length === 0);
  });

  it('is gone once its agent is suspended (the kill switch)', async () => {
    const { agent, taskId } = await start();
    expect(await rolesOf(taskId)).toHaveLength(1);
    const suspended = await s.api('POST', `/api/v1/agents/${encodeURIComponent(agent.id)}/suspend`, { reason: 'test' });
    expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
    await until('the role of the suspended agent to be dropped', async () => (await rolesOf(taskId)).length === 0);
  });
});

describe('delegation', () => {
  // SDK agents sign their assertions and DPoP proofs with the real time, and a test above moved the
  // server's clock 61 s ahead: without this the proofs' age depended on how long the tests took.
  beforeEach(() => clock.set(Date.now()));
  it('a delegated task gets a role of its own, never with more than its parent\'s (escalation by delegation is refused)', async () => {
    const sdk = async () => {
      const a = await createTestAgent(s);
      return MandateAgent.create({ url: s.url, key: { agentId: a.id, kid: a.kid, alg: 'ES256', privateKey: a.privateKey } });
    };
    const [planner, worker] = [await sdk(), await sdk()];
    const parent = await planner.startTask({ intent: 'orders report', tools: [QUERY_GRANT as never] });
    await expect(parent.delegate(await worker.delegationTicket(), { tools: [{ name: 'warehouse.query', privileges: { 'public.orders': ['SELECT', 'INSERT'] } }] })).rejects.toThrow(/INSERT on `public.orders` is more than the parent's database role has/);
    await expect(parent.delegate(await worker.delegationTicket(), { tools: [{ name: 'warehouse.query', privileges: { 'public.customers': ['SELECT'] } }] })).rejects.toThrow(/more than the parent's/);
    const child = worker.adopt(await parent.delegate(await worker.delegationTicket(), { tools: [QUERY_GRANT as never] }));
    const [mine] = await rolesOf(parent.id);
    const [theirs] = await rolesOf(child.id);
    expect(theirs!.rolname).not.toBe(mine!.rolname);
    // The parent's end takes the child's task, and with it the child's role.
    await parent.end();
    await until('both roles to be dropped', async () => (await rolesOf(parent.id)).length + (await rolesOf(child.id)).length === 0);
  });
});

describe('after kill -9 and a restart', () => {
  it('the sweep drops the role of a task that ended while Mandate was down', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mandate-taskdb-serve-'));
    const srv = await startServe(config, dataDir);
    let restarted: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      const agent = await serveAgent(srv, 'killed');
      const t = await agent.startTask({ intent: 'orders report', tools: [QUERY_GRANT as never], ttl: 600 });
      expect(await rolesOf(t.id)).toHaveLength(1);
      srv.child.kill('SIGKILL');
      await srv.exited;
      // While it was down the task's time ran out (as if hours passed): nothing heard of it.
      const store = openSqlite(join(dataDir, 'mandate.db'));
      store.prepare('UPDATE tasks SET expires_at = ? WHERE id = ?').run(Date.now() - 1000, t.id);
      store.close();
      expect(await rolesOf(t.id)).toHaveLength(1);
      restarted = await startServe(config, dataDir);
      await until('the orphaned role to be swept', async () => (await rolesOf(t.id)).length === 0);
    } finally {
      await restarted?.stop();
      await srv.stop();
    }
  });
});
