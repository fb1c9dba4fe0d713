// Per-task PostgreSQL roles against the machine's PostgreSQL (roles are cluster-wide: every role
// made here is dropped in afterAll), plus a private cluster with password authentication for what
// only password logins show (VALID UNTIL, the derived password).

import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { ManualClock } from '../core/clock.js';
import { MandateError } from '../core/errors.js';
import type { DbPrivilege } from '../config/schema.js';
import { DbRoleManager, type DbRoleManagerOptions, type DbUpstream } from './db-roles.js';

const execFile = promisify(execFileCb);

const BOUND: Record<string, DbPrivilege[]> = {
  'public.orders': ['SELECT', 'INSERT'],
  'public.customers': ['SELECT'],
  'reporting.*': ['SELECT'],
  'archive.*': ['SELECT'], // a schema that does not exist
};
const READER: Record<string, DbPrivilege[]> = { 'public.orders': ['SELECT'], 'reporting.*': ['SELECT'] };
const HOUR = 3_600_000;

async function failure(p: Promise<unknown>): Promise<MandateError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MandateError);
    return err as MandateError;
  }
  throw new Error('expected a failure');
}

/** Every manager a test makes; afterAll sweeps their roles and closes them. */
const managers: DbRoleManager[] = [];
function track(m: DbRoleManager): DbRoleManager {
  managers.push(m);
  return m;
}
async function sweepAll(list: DbRoleManager[]): Promise<void> {
  for (const m of list) {
    await m.sweep(async () => false).catch(() => undefined);
    await m.close();
  }
}

describe('DbRoleManager', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const key = randomBytes(32);
  let m: DbRoleManager;
  const expiresAt = Date.now() + HOUR;
  let n = 0;
  const task = (): string => `task-${++n}`;

  const upstream = (over: Partial<DbUpstream> = {}): DbUpstream => ({ name: 'warehouse', connection: db.url, privileges: BOUND, maxRows: 3, statementTimeoutMs: 5000, ...over });
  const newManager = (over: Partial<DbRoleManagerOptions> = {}, up: Partial<DbUpstream> = {}): DbRoleManager =>
    track(new DbRoleManager({ upstreams: [upstream(up)], key, ...over }));
  const roleRow = async (role: string) =>
    (
      await admin.query<{ rolcanlogin: boolean; rolinherit: boolean; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; rolconnlimit: number; rolvaliduntil: Date | null; comment: string | null; memberships: string }>(
        `SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolconnlimit, rolvaliduntil, shobj_description(oid, 'pg_authid') AS comment,
                (SELECT count(*) FROM pg_auth_members WHERE member = r.oid) AS memberships
           FROM pg_roles r WHERE rolname = $1`,
        [role],
      )
    ).rows[0];

  beforeAll(async () => {
    db = await createTestDatabase('mandate_dbroles');
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`
      CREATE TABLE public.orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2) NOT NULL, placed_at timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z', note bytea);
      INSERT INTO public.orders (customer, total, note) SELECT 'c' || i, i * 10.5, '\\x0102'::bytea FROM generate_series(1, 5) i;
      CREATE TABLE public.customers (id int PRIMARY KEY, name text, card text);
      INSERT INTO public.customers VALUES (1, 'Ada', '4111-1111');
      CREATE SEQUENCE public.other_seq;
      CREATE SCHEMA reporting;
      CREATE TABLE reporting.daily (day date, revenue bigint);
      INSERT INTO reporting.daily VALUES ('2026-01-01', 9007199254740993);
      CREATE TABLE reporting.weekly (week int, revenue bigint);
      INSERT INTO reporting.weekly VALUES (1, 7);
    `);
    m = newManager();
  });

  afterAll(async () => {
    await sweepAll(managers);
    // Belt and braces: nothing of this run's deployments may outlive it in the shared cluster.
    const left = await admin.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE $1`, [`%"instance":"${m.instance}"%`]);
    expect(left.rows).toEqual([]);
    await admin.end();
    await db.drop();
  });

  it('names roles per deployment, upstream and task, within PostgreSQL limits', () => {
    const replica = new DbRoleManager({ upstreams: [], key });
    const other = new DbRoleManager({ upstreams: [], key: randomBytes(32) });
    expect(DbRoleManager.instanceTag(key)).toMatch(/^[0-9a-f]{12}$/);
    expect(m.instance).toBe(DbRoleManager.instanceTag(key));
    const r = m.roleName('warehouse', 'task-a');
    expect(r).toMatch(/^mandate_t_[0-9a-f]{24}$/);
    expect(replica.roleName('warehouse', 'task-a')).toBe(r);
    expect(other.roleName('warehouse', 'task-a')).not.toBe(r);
    expect(m.roleName('warehouse', 'task-b')).not.toBe(r);
    expect(m.roleName('crm', 'task-a')).not.toBe(r);
  });

  it('refuses a bad configuration without echoing the connection URL', () => {
    expect(() => new DbRoleManager({ upstreams: [], key: randomBytes(16) })).toThrow(/at least 32 random bytes/);
    const bad = (connection: string) => () => new DbRoleManager({ upstreams: [upstream({ connection })], key });
    expect(bad('mysql://root:Hunter2Secret@db/x')).toThrow(/database upstream `warehouse`: `connection` must be a postgres:\/\/ URL$/);
    expect(bad('postgres://root:Hunter2Secret@db')).toThrow(/must name a host and a database/);
    for (const c of ['mysql://root:Hunter2Secret@db/x', 'postgres://root:Hunter2Secret@db']) {
      try {
        bad(c)();
      } catch (err) {
        expect((err as MandateError).code).toBe('config_invalid');
        expect(inspect(err)).not.toContain('Hunter2Secret');
      }
    }
    expect(() => new DbRoleManager({ upstreams: [upstream({ privileges: { 'Public.Orders': ['SELECT'] } })], key })).toThrow(/privileges key `Public.Orders`/);
  });

  // Each case: what an over-reaching task (or a config mistake) asks for, and why it is refused.
  const boundCases: Array<[string, Record<string, DbPrivilege[]>, RegExp | null]> = [
    ['within the bound', { 'public.orders': ['SELECT', 'INSERT'] }, null],
    ['a table covered by `schema.*` in the bound', { 'reporting.daily': ['SELECT'] }, null],
    ['`schema.*` when the bound has `schema.*`', { 'reporting.*': ['SELECT'] }, null],
    // a task widening its grants beyond what the operator allowed on a table
    ['DELETE on a table the bound allows SELECT/INSERT', { 'public.orders': ['DELETE'] }, /`public.orders`: DELETE is outside what database upstream `warehouse` allows/],
    // a task reaching a table the operator never listed
    ['a table the bound does not name', { 'public.payroll': ['SELECT'] }, /`public.payroll`: SELECT is outside/],
    // a task asking for a whole schema when only some of its tables are allowed (future tables too)
    ['`schema.*` when the bound names only tables', { 'public.*': ['SELECT'] }, /`public.\*`: SELECT is outside/],
    // a write on a schema the operator opened read-only
    ['UPDATE under a read-only `schema.*`', { 'reporting.daily': ['UPDATE'] }, /`reporting.daily`: UPDATE is outside/],
    // quoting games: upper case would name a different (quoted) object
    ['an identifier that is not lower-case', { 'Public.Orders': ['SELECT'] }, /`Public.Orders` is not `schema.table` or `schema.\*`/],
    // privileges the design never grants (TRUNCATE, REFERENCES, TRIGGER)
    ['a privilege outside SELECT/INSERT/UPDATE/DELETE', { 'public.orders': ['TRUNCATE' as DbPrivilege] }, /unknown privilege `TRUNCATE`/],
    ['no privileges', { 'public.orders': [] }, /`public.orders` names no privileges/],
  ];
  it.each(boundCases)('outsideBound: %s', (_name, requested, problem) => {
    const problems = m.outsideBound('warehouse', requested);
    if (problem === null) expect(problems).toEqual([]);
    else expect(problems.join('; ')).toMatch(problem);
  });

  it('an agent cannot get grants beyond the upstream bound: create() refuses and makes no role', async () => {
    expect(m.outsideBound('nowhere', { 'public.orders': ['SELECT'] })).toEqual(['unknown database upstream `nowhere`']);
    const t = task();
    const err = await failure(m.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt, privileges: { 'public.customers': ['SELECT', 'DELETE'] } }));
    expect(err.code).toBe('invalid_scope');
    expect(err.message).toMatch(/^task `task-\d+`: `public.customers`: DELETE is outside what database upstream `warehouse` allows$/);
    expect(await roleRow(m.roleName('warehouse', t))).toBeUndefined();
  });

  it('creates a login role with VALID UNTIL the task expiry, no memberships and a comment naming the task', async () => {
    const t = task();
    const info = await m.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt, privileges: READER });
    expect(info).toEqual({ role: m.roleName('warehouse', t), upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt, instance: m.instance });
    const row = (await roleRow(info.role))!;
    expect(row).toMatchObject({ rolcanlogin: true, rolinherit: false, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolconnlimit: 5, memberships: '0' });
    expect(row.rolvaliduntil?.getTime()).toBe(expiresAt);
    expect(JSON.parse(row.comment!)).toEqual({ mandate: 1, instance: m.instance, upstream: 'warehouse', task: t, agent: 'agent-1', expiresAt });
    expect((await m.list('warehouse')).find((i) => i.taskId === t)).toEqual(info);
  });

  describe('queries as the task role', () => {
    let reader: string;
    let writer: string;
    beforeAll(async () => {
      reader = task();
      writer = task();
      await m.create({ upstream: 'warehouse', taskId: reader, agentId: 'agent-1', expiresAt, privileges: READER });
      await m.create({ upstream: 'warehouse', taskId: writer, agentId: 'agent-1', expiresAt, privileges: { 'public.orders': ['SELECT', 'INSERT'] } });
    });

    it('returns granted rows as JSON-safe values, at most maxRows of them', async () => {
      const r = await m.query('warehouse', reader, 'SELECT id, customer, total, placed_at, note FROM public.orders ORDER BY id');
      expect(r).toMatchObject({ columns: ['id', 'customer', 'total', 'placed_at', 'note'], rowCount: 5, truncated: true, command: 'SELECT' });
      expect(r.rows).toEqual([1, 2, 3].map((i) => ({ id: i, customer: `c${i}`, total: (i * 10.5).toFixed(2), placed_at: '2026-01-01T00:00:00.000Z', note: 'AQI=' })));
      const one = await m.query('warehouse', reader, 'SELECT customer FROM public.orders WHERE id = $1', [2]);
      expect(one).toEqual({ columns: ['customer'], rows: [{ customer: 'c2' }], rowCount: 1, truncated: false, command: 'SELECT' });
    });

    it('a `schema.*` grant covers every table of that schema (int8 stays a string)', async () => {
      expect((await m.query('warehouse', reader, 'SELECT day, revenue FROM reporting.daily')).rows).toEqual([{ day: new Date(2026, 0, 1).toISOString(), revenue: '9007199254740993' }]);
      expect((await m.query('warehouse', reader, 'SELECT week FROM reporting.weekly')).rows).toEqual([{ week: 1 }]);
    });

    // Each case: SQL an agent (or an injection in its input) might send, the attack, and the refusal.
    const attacks: Array<[string, string, 'forbidden' | 'invalid_request', RegExp]> = [
      ['reading a table outside the task scope', 'SELECT * FROM public.customers', 'forbidden', /permission denied for table customers/],
      ['writing with a read-only grant (INSERT)', "INSERT INTO public.orders (customer, total) VALUES ('x', 1)", 'forbidden', /permission denied for table orders/],
      ['writing with a read-only grant (UPDATE)', 'UPDATE public.orders SET total = 0', 'forbidden', /permission denied for table orders/],
      ['writing with a read-only grant (DELETE)', 'DELETE FROM public.orders', 'forbidden', /permission denied for table orders/],
      ['smuggling a second statement after a granted one', 'SELECT 1; DROP TABLE public.orders', 'invalid_request', /cannot insert multiple commands into a prepared statement/],
      ['escalating with SET ROLE to the admin', 'SET ROLE postgres', 'forbidden', /permission denied to set role "postgres"/],
      ['escalating with SET SESSION AUTHORIZATION', 'SET SESSION AUTHORIZATION postgres', 'forbidden', /permission denied to set session authorization/],
      ['planting objects in schema public (CREATE TABLE)', 'CREATE TABLE public.planted (a int)', 'forbidden', /permission denied for schema public/],
      ['planting objects in a granted schema', 'CREATE TABLE reporting.planted (a int)', 'forbidden', /permission denied for schema reporting/],
      ['granting itself more', 'GRANT SELECT ON public.customers TO CURRENT_USER', 'forbidden', /permission denied for table customers/],
      ['minting a new role', 'CREATE ROLE planted LOGIN', 'forbidden', /permission denied to create role/],
      ['reading server files', "SELECT pg_read_file('/etc/passwd')", 'forbidden', /permission denied for function pg_read_file/],
      ['running a program on the server', "COPY public.orders TO PROGRAM 'id'", 'forbidden', /pg_execute_server_program role to COPY to or from an external program/],
      ['using a sequence it was not given', "SELECT nextval('public.other_seq')", 'forbidden', /permission denied for sequence other_seq/],
    ];
    it.each(attacks)('an agent cannot succeed at %s', async (_attack, sql, code, message) => {
      const err = await failure(m.query('warehouse', reader, sql));
      expect(err.code).toBe(code);
      expect(err.message).toMatch(/^database upstream `warehouse`: task `task-\d+`: /);
      expect(err.message).toMatch(message);
    });

    it('the smuggled second statement did not run (the table is still there)', async () => {
      expect((await admin.query('SELECT count(*)::int AS n FROM public.orders')).rows[0].n).toBeGreaterThanOrEqual(5);
    });

    it('an agent cannot escalate with RESET ROLE: the login itself is the task role', async () => {
      await m.query('warehouse', reader, 'RESET ROLE');
      const who = await m.query('warehouse', reader, 'SELECT current_user AS cu, session_user AS su');
      expect(who.rows).toEqual([{ cu: m.roleName('warehouse', reader), su: m.roleName('warehouse', reader) }]);
      const err = await failure(m.query('warehouse', reader, 'SELECT * FROM public.customers'));
      expect(err.message).toMatch(/permission denied for table customers/);
    });

    it('INSERT granted on a table with a serial column works (its sequence comes with it)', async () => {
      const r = await m.query('warehouse', writer, 'INSERT INTO public.orders (customer, total) VALUES ($1, $2) RETURNING customer', ['w', 1]);
      expect(r).toMatchObject({ rows: [{ customer: 'w' }], rowCount: 1, command: 'INSERT', truncated: false });
    });

    it('an agent cannot lift its statement timeout or keep a transaction open across calls', async () => {
      // SET statement_timeout = 0 would let the next call run unbounded; BEGIN would hold locks between calls.
      await m.query('warehouse', writer, 'SET statement_timeout = 0');
      expect((await m.query('warehouse', writer, 'SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '5s' }]);
      await m.query('warehouse', writer, 'BEGIN');
      await m.query('warehouse', writer, "INSERT INTO public.orders (customer, total) VALUES ('autocommit', 1)");
      await m.query('warehouse', writer, 'ROLLBACK'); // nothing to roll back: every call commits on its own
      expect((await admin.query(`SELECT count(*)::int AS n FROM public.orders WHERE customer = 'autocommit'`)).rows[0].n).toBe(1);
      await m.query('warehouse', writer, 'CREATE TEMP TABLE scratch (a int)');
      expect((await failure(m.query('warehouse', writer, 'SELECT * FROM scratch'))).message).toMatch(/relation "scratch" does not exist/);
    });

    it('an agent cannot wedge a pooled connection with COPY FROM STDIN', async () => {
      const err = await failure(m.query('warehouse', writer, 'COPY public.orders (customer, total) FROM STDIN'));
      expect(err.code).toBe('invalid_request');
      expect(err.message).toMatch(/COPY FROM STDIN is not supported: send rows with INSERT/);
      for (let i = 0; i < 3; i++) expect((await m.query('warehouse', writer, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });

    it('an agent cannot run a query past statementTimeoutMs', async () => {
      const fast = newManager({}, { statementTimeoutMs: 200 });
      const err = await failure(fast.query('warehouse', reader, 'SELECT pg_sleep(30)'));
      expect(err.code).toBe('invalid_request');
      expect(err.message).toMatch(/canceling statement due to statement timeout/);
      expect(err.details).toEqual({ sqlstate: '57014' });
    });

    it('connectionString() logs in as the task role, with the same limits', async () => {
      const c = new pg.Client({ connectionString: m.connectionString('warehouse', reader) });
      await c.connect();
      try {
        expect((await c.query('SELECT current_user AS u')).rows).toEqual([{ u: m.roleName('warehouse', reader) }]);
        await expect(c.query('SELECT * FROM public.customers')).rejects.toThrow(/permission denied for table customers/);
      } finally {
        await c.end();
      }
      const url = new URL(m.connectionString('warehouse', reader));
      expect(url.username).toBe(m.roleName('warehouse', reader));
      expect(url.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(`${url.host}${url.pathname}`).toBe(`${new URL(db.url).host}/${db.name}`);
    });

    it('errors never carry the derived password', async () => {
      const password = new URL(m.connectionString('warehouse', reader)).password;
      const errs = [
        await failure(m.query('warehouse', reader, 'SELECT * FROM public.customers')),
        await failure(m.query('warehouse', reader, 'SELEC broken')),
        await failure(m.query('warehouse', 'never-created', 'SELECT 1')),
        await failure(m.create({ upstream: 'warehouse', taskId: reader, agentId: 'agent-1', expiresAt, privileges: { 'reporting.missing': ['SELECT'] } })),
      ];
      for (const e of errs) expect(inspect(e, { depth: 10 })).not.toContain(password);
      expect(errs[2]!.code).toBe('not_found');
    });
  });

  it('create() with a table that does not exist names it and leaves no role behind', async () => {
    const cases: Array<[string, Record<string, DbPrivilege[]>]> = [
      ['reporting.missing', { 'public.orders': ['SELECT'], 'reporting.missing': ['SELECT'] }],
      ['archive.*', { 'archive.*': ['SELECT'] }],
    ];
    for (const [object, privileges] of cases) {
      const t = task();
      const err = await failure(m.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt, privileges }));
      expect(err.code).toBe('invalid_scope');
      expect(err.message).toContain(`\`${object}\` does not exist on database upstream \`warehouse\` (127.0.0.1:5432/${db.name})`);
      expect(await roleRow(m.roleName('warehouse', t))).toBeUndefined();
    }
  });

  it('create() again for the same task is not an error, and a narrower spec really narrows', async () => {
    const t = task();
    const spec = { upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt, privileges: READER };
    const first = await m.create(spec);
    const replica = newManager();
    expect(await replica.create(spec)).toEqual(first);
    expect((await m.query('warehouse', t, 'SELECT count(*)::int AS n FROM reporting.weekly')).rows).toEqual([{ n: 1 }]);
    await m.create({ ...spec, privileges: { 'public.orders': ['SELECT'] }, expiresAt: expiresAt + 1000 });
    expect((await failure(m.query('warehouse', t, 'SELECT * FROM reporting.weekly'))).message).toMatch(/permission denied for schema reporting/);
    expect((await roleRow(first.role))!.rolvaliduntil?.getTime()).toBe(expiresAt + 1000);
    // another agent cannot take over a task's role by naming its task id
    const err = await failure(m.create({ ...spec, agentId: 'agent-2' }));
    expect(err.code).toBe('conflict');
  });

  it('query() refuses once the task expired, even where PostgreSQL does not check VALID UNTIL (trust)', async () => {
    const clock = new ManualClock(Date.now());
    const timed = newManager({ clock });
    const t = task();
    await timed.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt: clock.now() + 60_000, privileges: READER });
    expect((await timed.query('warehouse', t, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    clock.advance(60_000);
    const err = await failure(timed.query('warehouse', t, 'SELECT 1 AS one'));
    expect(err.code).toBe('expired_token');
    expect(err.message).toMatch(/^task `task-\d+`'s database role on upstream `warehouse` expired at /);
    // extended by another replica: the refusal is re-checked against the role, not a stale cache
    await m.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt: clock.now() + 60_000, privileges: READER });
    expect((await timed.query('warehouse', t, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('drop() ends the open sessions of the role: a leaked connection dies with the task', async () => {
    const t = task();
    const info = await m.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt, privileges: READER });
    await m.query('warehouse', t, 'SELECT 1'); // a pooled session of Mandate's own
    const leaked = new pg.Client({ connectionString: m.connectionString('warehouse', t) });
    const leakedErrors: Error[] = [];
    leaked.on('error', (e) => leakedErrors.push(e));
    await leaked.connect();
    await leaked.query('SELECT 1');
    expect(await m.drop('warehouse', t)).toBe(true);
    await expect(leaked.query('SELECT * FROM public.orders')).rejects.toThrow();
    await leaked.end().catch(() => undefined);
    expect(await roleRow(info.role)).toBeUndefined();
    expect((await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [info.role])).rows[0].n).toBe(0);
    expect((await failure(m.query('warehouse', t, 'SELECT 1'))).code).toBe('not_found');
  });

  it('drop() is idempotent, also when two replicas drop the same role at once', async () => {
    const t1 = task();
    await m.create({ upstream: 'warehouse', taskId: t1, agentId: 'agent-1', expiresAt, privileges: READER });
    expect(await m.drop('warehouse', t1)).toBe(true);
    expect(await m.drop('warehouse', t1)).toBe(false);
    const t2 = task();
    await m.create({ upstream: 'warehouse', taskId: t2, agentId: 'agent-1', expiresAt, privileges: READER });
    const replica = newManager();
    const results = await Promise.all([m.drop('warehouse', t2), replica.drop('warehouse', t2), m.drop('warehouse', t2)]);
    expect(results.sort()).toEqual([false, false, true]);
    expect(await roleRow(m.roleName('warehouse', t2))).toBeUndefined();
  });

  it("sweep() drops ended and expired tasks' roles, never a live task's or another deployment's", async () => {
    const now = Date.now();
    const [live, ended, expired] = [task(), task(), task()];
    const other = newManager({ key: randomBytes(32) });
    for (const t of [live, ended]) await m.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt: now + HOUR, privileges: READER });
    await m.create({ upstream: 'warehouse', taskId: expired, agentId: 'agent-1', expiresAt: now - 1000, privileges: READER });
    // another deployment on the same cluster, even with the same task id
    const foreign = await other.create({ upstream: 'warehouse', taskId: ended, agentId: 'agent-1', expiresAt: now + HOUR, privileges: READER });

    const dropped = await m.sweep(async (id) => id !== ended, now);
    expect(dropped.map((d) => d.taskId).sort()).toEqual([ended, expired].sort());
    expect(await roleRow(m.roleName('warehouse', live))).toBeDefined();
    expect(await roleRow(foreign.role)).toBeDefined();
    expect((await other.list('warehouse')).map((i) => i.taskId)).toEqual([ended]);
    expect((await m.list('warehouse')).map((i) => i.taskId)).toContain(live);
    expect((await m.list('warehouse')).map((i) => i.taskId)).not.toContain(ended);
  });

  it('sweep() keeps a role whose liveness cannot be checked, and says so', async () => {
    const t = task();
    await m.create({ upstream: 'warehouse', taskId: t, agentId: 'agent-1', expiresAt, privileges: READER });
    const err = await failure(
      m.sweep(async (id) => {
        if (id === t) throw new Error('task store down');
        return true;
      }),
    );
    expect(err.code).toBe('storage_unavailable');
    expect(err.message).toMatch(new RegExp(`^sweeping task database roles: role \`${m.roleName('warehouse', t)}\` of task \`${t}\`: task store down$`));
    expect(err.details).toEqual({ dropped: [] });
    expect(await roleRow(m.roleName('warehouse', t))).toBeDefined();
  });

  it('an unreachable admin connection is named host:port/db, never with its password', async () => {
    const secret = `Adm1n-${randomBytes(8).toString('hex')}`;
    const down = track(new DbRoleManager({ upstreams: [{ ...upstream(), name: 'down', connection: `postgres://postgres:${secret}@127.0.0.1:1/shop` }], key }));
    const errs = [
      await failure(down.create({ upstream: 'down', taskId: 'x', agentId: 'a', expiresAt, privileges: {} })),
      await failure(down.query('down', 'x', 'SELECT 1')),
      await failure(down.drop('down', 'x')),
      await failure(down.list('down')),
      await failure(down.sweep(async () => false)),
    ];
    for (const e of errs) {
      expect(e.code).toBe('storage_unavailable');
      expect(e.message).toContain('database upstream `down` (127.0.0.1:1/shop) is unreachable: ');
      expect(inspect(e, { depth: 10 })).not.toContain(secret);
    }
    expect(down.connectionString('down', 'x')).not.toContain(secret);
  });
});

// ---- A private cluster with password authentication (the machine's trusts 127.0.0.1, and
// PostgreSQL checks VALID UNTIL and passwords only for password logins).

interface PasswordCluster {
  url: string;
  password: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A throwaway cluster with scram-sha-256 for every login, or why there cannot be one here. */
async function startPasswordCluster(): Promise<PasswordCluster | string> {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) return `no PostgreSQL server binaries under ${base}`;
  const bin = join(base, newest, 'bin');
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root: run the cluster as the postgres user then.
  const run = (cmd: string, args: string[]) => (asRoot ? execFile('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : execFile(join(bin, cmd), args));
  const dir = mkdtempSync(join(tmpdir(), 'mandate-scram-'));
  const password = `Adm1n-${randomBytes(12).toString('hex')}`;
  try {
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
      writeFileSync(join(dir, 'pw'), password);
      chownSync(join(dir, 'pw'), uid, gid);
    } else writeFileSync(join(dir, 'pw'), password);
    await run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${join(dir, 'pw')}`, '-E', 'UTF8', '--no-sync', '--no-instructions']);
    const port = await freePort();
    await run('pg_ctl', ['-D', join(dir, 'data'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(dir, 'log'), '-w', 'start']);
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      password,
      stop: async () => {
        await run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot start a private PostgreSQL cluster (${(err as Error).message.split('\n')[0]})`;
  }
}

const cluster = await startPasswordCluster();
const skipReason = typeof cluster === 'string' ? ` (skipped: ${cluster})` : '';

describe.skipIf(typeof cluster === 'string')(`DbRoleManager with password authentication${skipReason}`, () => {
  const c = cluster as PasswordCluster;
  const key = randomBytes(32);
  let m: DbRoleManager;
  let admin: pg.Client;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: c.url });
    await admin.connect();
    await admin.query('CREATE TABLE public.orders (id int); INSERT INTO public.orders VALUES (1), (2)');
    m = new DbRoleManager({ upstreams: [{ name: 'shop', connection: c.url, privileges: { 'public.*': ['SELECT'] }, maxRows: 10, statementTimeoutMs: 5000 }], key });
  });

  afterAll(async () => {
    await sweepAll([m]);
    await admin.end();
    await c.stop();
  });

  it('the derived password logs in (Mandate sends PostgreSQL a SCRAM verifier, never the password)', async () => {
    await m.create({ upstream: 'shop', taskId: 'p-1', agentId: 'agent-1', expiresAt: Date.now() + HOUR, privileges: { 'public.orders': ['SELECT'] } });
    expect((await m.query('shop', 'p-1', 'SELECT count(*)::int AS n FROM public.orders')).rows).toEqual([{ n: 2 }]);
    const client = new pg.Client({ connectionString: m.connectionString('shop', 'p-1') });
    await client.connect();
    expect((await client.query('SELECT current_user AS u')).rows).toEqual([{ u: m.roleName('shop', 'p-1') }]);
    await client.end();
    const stored = await admin.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [m.roleName('shop', 'p-1')]);
    expect(stored.rows[0]!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('a guessed password does not log in as a task role', async () => {
    const url = new URL(m.connectionString('shop', 'p-1'));
    url.password = new URL(new DbRoleManager({ upstreams: [{ name: 'shop', connection: c.url, privileges: {}, maxRows: 1, statementTimeoutMs: 1000 }], key: randomBytes(32) }).connectionString('shop', 'p-1')).password;
    const client = new pg.Client({ connectionString: url.href });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('a leaked connection string stops working at the task expiry: VALID UNTIL in the past refuses the login', async () => {
    await m.create({ upstream: 'shop', taskId: 'p-expired', agentId: 'agent-1', expiresAt: Date.now() - 1000, privileges: { 'public.orders': ['SELECT'] } });
    const client = new pg.Client({ connectionString: m.connectionString('shop', 'p-expired') });
    await expect(client.connect()).rejects.toThrow(/password authentication failed for user "mandate_t_[0-9a-f]{24}"/);
    expect((await failure(m.query('shop', 'p-expired', 'SELECT 1'))).code).toBe('expired_token');
  });

  it('errors never carry the admin password', async () => {
    const errs = [
      await failure(m.create({ upstream: 'shop', taskId: 'p-2', agentId: 'agent-1', expiresAt: Date.now() + HOUR, privileges: { 'public.missing': ['SELECT'] } })),
      await failure(m.query('shop', 'p-1', 'SELECT * FROM pg_authid')),
    ];
    expect(errs[0]!.message).toMatch(/`public.missing` does not exist on database upstream `shop` \(127.0.0.1:\d+\/postgres\)/);
    expect(errs[1]!.message).toMatch(/permission denied for table pg_authid/);
    for (const e of errs) expect(inspect(e, { depth: 10 })).not.toContain(c.password);
  });
});
