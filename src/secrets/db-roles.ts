// Per-task PostgreSQL roles: a task granted a database tool gets a role of its own, created with
// the grants the task declared and `VALID UNTIL` its expiry, used for the task's queries, and
// dropped at task end (a sweeper drops what a crash or restart left behind).
//
// Design:
// - Mandate *logs in* as the task role (its own pool per role) instead of `SET ROLE` on an admin
//   connection: `SET ROLE` is undone by the agent's own SQL (`RESET ROLE`), and a session whose
//   login is the task role, with no memberships and NOINHERIT, has nothing to escalate to.
// - Passwords are derived, HMAC-SHA256(key, role), never stored: every replica sharing the key can
//   act as any task's role, and nothing secret sits in a table. PostgreSQL is sent a SCRAM
//   verifier, never the password, so `log_statement = ddl` or a statement in an error report
//   does not leak it.
// - Every role carries an instance tag (derived from the key) in its name hash and its comment:
//   several deployments or test runs may share one cluster, and the sweeper only ever touches
//   roles of its own deployment.
// - Creation, grants and drops of all tasks of one database are serialised on an advisory lock:
//   concurrent GRANTs on one table fail with `tuple concurrently updated`, and two replicas
//   dropping one role must not both try.
// - Each query() is one autocommit statement on the extended protocol (one statement only), and
//   the session is reset afterwards (ROLLBACK if needed, DISCARD ALL): an agent's `BEGIN`,
//   `SET statement_timeout = 0`, temp tables or prepared statements do not outlive the call.
// - VALID UNTIL is checked by PostgreSQL only for password authentication (not `trust`, `peer`,
//   `cert`); query() also refuses once the role's expiry has passed, by the injected clock.
//   Under `trust` the derived password protects nothing either: pg_hba.conf must ask task roles
//   (`/^mandate_t_`) for a password, and should admit them only from Mandate's hosts, since
//   PostgreSQL lets any role change its own password (`ALTER ROLE CURRENT_USER PASSWORD …`).
// - `schema.*` is granted ON ALL TABLES IN SCHEMA: tables that exist when the task starts.
//
// sweep() tries every upstream and every role, then throws one `storage_unavailable` error
// naming the upstreams or roles that failed (details.dropped lists what was dropped anyway).

import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from 'pino';
import { DB_PRIVILEGES, type DbPrivilege } from '../config/schema.js';
import { MandateError, q, type ErrorCode } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { registerSecretValues } from '../audit/redact.js';

const pbkdf2Async = promisify(pbkdf2);

export interface DbUpstream {
  /** Upstream name in mandate.yaml, e.g. 'warehouse'. */
  name: string;
  /** Administrative connection URL (`postgres://user:password@host:port/db`); its role can CREATE ROLE. */
  connection: string;
  /** Upper bound of what any task may be granted. */
  privileges: Record<string, DbPrivilege[]>;
  /** Rows returned by query() at most (more: `truncated: true`). */
  maxRows: number;
  /** Per statement, enforced by PostgreSQL. */
  statementTimeoutMs: number;
}

export interface DbRoleManagerOptions {
  upstreams: DbUpstream[];
  /** 32+ random bytes shared by all replicas of one deployment (task role passwords derive from it). */
  key: Buffer;
  /** Marks this deployment's roles; default `DbRoleManager.instanceTag(key)`. */
  instance?: string;
  logger?: Logger;
  /** For query()'s expiry check and sweep()'s default `now`. */
  clock?: Clock;
}

export interface TaskRoleSpec {
  upstream: string;
  taskId: string;
  agentId: string;
  /** ms since the epoch */
  expiresAt: number;
  privileges: Record<string, DbPrivilege[]>;
}

export interface TaskRoleInfo {
  role: string;
  upstream: string;
  taskId: string;
  agentId: string;
  expiresAt: number;
  instance: string;
}

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
  rowCount: number;
  truncated: boolean;
  command: string;
}

const OBJECT = /^[a-z_][a-z0-9_$]{0,62}\.(\*|[a-z_][a-z0-9_$]{0,62})$/;
const ROLE_PREFIX = 'mandate_t_';
const CONNECTION_LIMIT = 5;
const SCRAM_ITERATIONS = 4096;
const ADMIN_STATEMENT_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
const TASK_POOL_IDLE_MS = 10_000;
/** How long drop() waits for a terminated session to be gone before dropping the role. */
const TERMINATE_WAIT_MS = 5_000;
// pg_advisory_lock(int4, int4): 'mand', 'dbr1'. Advisory locks are per database, as grants are.
const LOCK = '1835101796, 1684173361';
const REDACTED = '[redacted]';
/** Beyond the statement timeout, how long an unanswered statement is waited for (a stuck network). */
const STUCK_MARGIN_MS = 5_000;

interface Upstream extends DbUpstream {
  /** `host:port/db`, for messages (never the URL: it may hold the admin password). */
  where: string;
  url: URL;
  adminPassword: string;
  admin: pg.Pool;
}

interface TaskPool {
  pool: pg.Pool;
  taskId: string;
  expiresAt: number;
}

interface RoleComment {
  mandate: 1;
  instance: string;
  upstream: string;
  task: string;
  agent: string;
  expiresAt: number;
}

/**
 * pg answers `COPY … FROM STDIN` with CopyFail but, on the extended protocol, never sends the Sync
 * the server then waits for (it ignored the pipelined one while in copy mode): the connection
 * would hang. This statement sends it.
 */
class AgentStatement extends pg.Query {
  handleCopyInResponse(connection: { sendCopyFail(msg: string): void; sync(): void }): void {
    connection.sendCopyFail('COPY FROM STDIN is not supported: send rows with INSERT');
    connection.sync();
  }
}

const sha256hex = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802, 7677), as PostgreSQL stores it. */
async function scramVerifier(password: string): Promise<string> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const ident = (s: string): string => pg.escapeIdentifier(s);
const literal = (s: string): string => pg.escapeLiteral(s);

/** `schema.table` → `"schema"."table"`; `schema.*` → `"schema"`. */
function splitObject(key: string): { schema: string; table: string | null } {
  const dot = key.indexOf('.');
  const table = key.slice(dot + 1);
  return { schema: key.slice(0, dot), table: table === '*' ? null : table };
}

function normalisePrivileges(privs: readonly DbPrivilege[]): DbPrivilege[] {
  return DB_PRIVILEGES.filter((p) => privs.includes(p));
}

/** A row value as JSON can carry it (int8 and numeric stay the strings pg returns). */
function jsonSafe(v: unknown, depth = 0): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (depth > 32 || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x, depth + 1);
  return out;
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function parseComment(text: unknown): RoleComment | null {
  if (typeof text !== 'string') return null;
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof c !== 'object' || c === null) return null;
  const o = c as Record<string, unknown>;
  if (o.mandate !== 1 || typeof o.instance !== 'string' || typeof o.upstream !== 'string' || typeof o.task !== 'string' || typeof o.agent !== 'string' || typeof o.expiresAt !== 'number') return null;
  return { mandate: 1, instance: o.instance, upstream: o.upstream, task: o.task, agent: o.agent, expiresAt: o.expiresAt };
}

export class DbRoleManager {
  readonly instance: string;
  private readonly key: Buffer;
  private readonly upstreams = new Map<string, Upstream>();
  private readonly pools = new Map<string, TaskPool>();
  private readonly logger: Logger | undefined;
  private readonly clock: Clock;
  private closed = false;

  constructor(opts: DbRoleManagerOptions) {
    if (!Buffer.isBuffer(opts.key) || opts.key.length < 32) throw new MandateError('config_invalid', 'the database role key must be at least 32 random bytes');
    this.key = Buffer.from(opts.key);
    this.instance = opts.instance ?? DbRoleManager.instanceTag(opts.key);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(this.instance)) throw new MandateError('config_invalid', `database role instance tag ${q(this.instance)} must be 1-64 letters, digits, \`_\` or \`-\``);
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    for (const u of opts.upstreams) {
      if (this.upstreams.has(u.name)) throw new MandateError('config_invalid', `database upstream ${q(u.name)} is declared twice`);
      this.upstreams.set(u.name, this.openUpstream(u));
    }
  }

  /** First 12 hex characters of sha256(key). */
  static instanceTag(key: Buffer): string {
    return sha256hex(key).slice(0, 12);
  }

  roleName(upstream: string, taskId: string): string {
    return ROLE_PREFIX + sha256hex(`${this.instance}|${upstream}|${taskId}`).slice(0, 24);
  }

  outsideBound(upstream: string, requested: Record<string, DbPrivilege[]>): string[] {
    const up = this.upstreams.get(upstream);
    if (!up) return [`unknown database upstream ${q(upstream)}`];
    const problems: string[] = [];
    if (typeof requested !== 'object' || requested === null || Array.isArray(requested)) return ['database privileges must map `schema.table` or `schema.*` to privileges'];
    for (const [key, privs] of Object.entries(requested)) {
      if (!OBJECT.test(key)) {
        problems.push(`${q(key)} is not \`schema.table\` or \`schema.*\` (lower-case identifiers)`);
        continue;
      }
      if (!Array.isArray(privs) || privs.length === 0) {
        problems.push(`${q(key)} names no privileges`);
        continue;
      }
      const unknown = privs.filter((p) => !(DB_PRIVILEGES as readonly string[]).includes(p));
      if (unknown.length) {
        problems.push(`${q(key)}: unknown privilege ${unknown.map((p) => q(p)).join(', ')} (one of ${DB_PRIVILEGES.join(', ')})`);
        continue;
      }
      const { schema, table } = splitObject(key);
      // `schema.*` in the bound covers every table; a request for `schema.*` (every table, now
      // and at creation) needs `schema.*` in the bound, not a list of today's tables.
      const allowed = new Set<DbPrivilege>([...(up.privileges[`${schema}.*`] ?? []), ...(table === null ? [] : (up.privileges[key] ?? []))]);
      const beyond = normalisePrivileges(privs).filter((p) => !allowed.has(p));
      if (beyond.length) problems.push(`${q(key)}: ${beyond.join(', ')} is outside what database upstream ${q(upstream)} allows`);
    }
    return problems;
  }

  async create(spec: TaskRoleSpec): Promise<TaskRoleInfo> {
    const up = this.upstreamOf(spec.upstream);
    if (typeof spec.taskId !== 'string' || spec.taskId === '' || typeof spec.agentId !== 'string' || spec.agentId === '') throw new MandateError('invalid_request', 'a task role needs a task id and an agent id');
    if (!Number.isFinite(spec.expiresAt)) throw new MandateError('invalid_request', `task ${q(spec.taskId)}: expiry ${q(spec.expiresAt)} is not a time`);
    const problems = this.outsideBound(spec.upstream, spec.privileges);
    if (problems.length) throw new MandateError('invalid_scope', `task ${q(spec.taskId)}: ${problems.join('; ')}`, { details: { problems } });

    const role = this.roleName(spec.upstream, spec.taskId);
    const info: TaskRoleInfo = { role, upstream: up.name, taskId: spec.taskId, agentId: spec.agentId, expiresAt: spec.expiresAt, instance: this.instance };
    const comment: RoleComment = { mandate: 1, instance: this.instance, upstream: up.name, task: spec.taskId, agent: spec.agentId, expiresAt: spec.expiresAt };
    const attributes =
      `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT ${CONNECTION_LIMIT} ` +
      `PASSWORD ${literal(await scramVerifier(this.password(role)))} VALID UNTIL ${literal(new Date(spec.expiresAt).toISOString())}`;
    const r = ident(role);

    await this.withAdmin(up, 'create a task role', async (c) => {
      await c.query('BEGIN');
      try {
        await c.query(`SELECT pg_advisory_xact_lock(${LOCK})`);
        const existing = (await this.lookupRole(c, role))?.comment;
        if (existing === undefined) {
          await c.query(`CREATE ROLE ${r} ${attributes}`);
        } else {
          if (!existing || existing.instance !== this.instance || existing.upstream !== up.name || existing.task !== spec.taskId || existing.agent !== spec.agentId) {
            throw new MandateError('conflict', `database role ${q(role)} exists on upstream ${q(up.name)} (${up.where}) but is not task ${q(spec.taskId)}'s: drop it by hand if it is stale`);
          }
          // The same task again (a retry, or a second replica): bring the role to exactly this
          // spec; its old grants go first, so a narrower spec really narrows.
          await c.query(`ALTER ROLE ${r} ${attributes}`);
          await c.query(`DROP OWNED BY ${r}`);
        }
        await c.query(`COMMENT ON ROLE ${r} IS ${literal(JSON.stringify(comment))}`);
        const db = (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
        await c.query(`GRANT CONNECT ON DATABASE ${ident(db)} TO ${r}`);
        for (const [key, privs] of Object.entries(spec.privileges)) await this.grant(c, up, r, key, normalisePrivileges(privs));
        // Least privilege includes creating nothing: on databases from before PostgreSQL 15,
        // PUBLIC may still CREATE in schema public, which no per-role REVOKE can take back.
        const creatable = await c.query<{ nspname: string }>(
          `SELECT nspname FROM pg_namespace WHERE has_schema_privilege($1, oid, 'CREATE') ORDER BY nspname`,
          [role],
        );
        if (creatable.rows.length) {
          const schemas = creatable.rows.map((x) => x.nspname);
          throw new MandateError(
            'config_invalid',
            `database upstream ${q(up.name)} (${up.where}): every role may CREATE in schema ${schemas.map((s) => q(s)).join(', ')}: run \`REVOKE CREATE ON SCHEMA ${schemas.join(', ')} FROM PUBLIC\` so task roles cannot create objects`,
          );
        }
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
    const cached = this.pools.get(role);
    if (cached) cached.expiresAt = spec.expiresAt;
    this.logger?.info({ upstream: up.name, task: spec.taskId, role, expiresAt: new Date(spec.expiresAt).toISOString() }, 'task database role created');
    return info;
  }

  async drop(upstream: string, taskId: string): Promise<boolean> {
    const up = this.upstreamOf(upstream);
    const role = this.roleName(upstream, taskId);
    // Not awaited first: ending a pool waits for its running statements, which the termination
    // below cuts short.
    const closing = this.closePool(role);
    const r = ident(role);
    const dropped = await this.withAdmin(up, 'drop a task role', async (c, discard) => {
      // A session lock (not a transaction's): NOLOGIN must be committed before the sessions are
      // terminated, or one could log in again between the two.
      await c.query(`SELECT pg_advisory_lock(${LOCK})`);
      try {
        const found = await this.lookupRole(c, role);
        if (found === undefined) return false;
        const existing = found.comment;
        if (!existing || existing.instance !== this.instance || existing.upstream !== up.name || existing.task !== taskId) {
          throw new MandateError('conflict', `database role ${q(role)} on upstream ${q(up.name)} (${up.where}) is not task ${q(taskId)}'s: not dropped`);
        }
        await c.query(`ALTER ROLE ${r} NOLOGIN`);
        await c.query(`SELECT pg_terminate_backend(pid, ${TERMINATE_WAIT_MS}) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`, [role]);
        await c.query('BEGIN');
        try {
          // DROP OWNED revokes the role's grants in this database (and on the database itself).
          await c.query(`DROP OWNED BY ${r}`);
          await c.query(`DROP ROLE IF EXISTS ${r}`);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        return true;
      } catch (err) {
        // Dropped meanwhile by a replica holding another database's lock (two upstreams, one cluster).
        if (sqlState(err) === '42704') return false;
        throw err;
      } finally {
        // A connection that cannot unlock is closed instead: its lock goes with the session.
        await c.query(`SELECT pg_advisory_unlock(${LOCK})`).catch(discard);
      }
    });
    await closing;
    if (dropped) this.logger?.info({ upstream: up.name, task: taskId, role }, 'task database role dropped');
    return dropped;
  }

  async list(upstream: string): Promise<TaskRoleInfo[]> {
    const up = this.upstreamOf(upstream);
    const all = await this.withAdmin(up, 'list task roles', (c) => this.listOwn(c));
    return all.filter((i) => i.upstream === up.name);
  }

  async sweep(isLive: (taskId: string) => Promise<boolean>, now: number = this.clock.now()): Promise<TaskRoleInfo[]> {
    const dropped: TaskRoleInfo[] = [];
    const failures: string[] = [];
    const causes: unknown[] = [];
    let warned = false;
    for (const up of this.upstreams.values()) {
      let roles: TaskRoleInfo[];
      try {
        const all = await this.withAdmin(up, 'list task roles', (c) => this.listOwn(c));
        roles = all.filter((i) => i.upstream === up.name);
        const orphans = all.filter((i) => !this.upstreams.has(i.upstream));
        if (orphans.length && !warned) this.logger?.warn({ roles: orphans.map((o) => o.role), upstreams: [...new Set(orphans.map((o) => o.upstream))] }, 'task database roles of upstreams no longer configured: drop them by hand');
        warned ||= orphans.length > 0;
      } catch (err) {
        failures.push(`upstream ${q(up.name)}: ${messageOf(err)}`);
        causes.push(err);
        continue;
      }
      for (const info of roles) {
        try {
          const stale = now > info.expiresAt || !(await isLive(info.taskId));
          if (stale && (await this.drop(up.name, info.taskId))) dropped.push(info);
        } catch (err) {
          failures.push(`role ${q(info.role)} of task ${q(info.taskId)}: ${messageOf(err)}`);
          causes.push(err);
        }
      }
    }
    if (dropped.length) this.logger?.info({ roles: dropped.map((d) => d.role) }, 'swept task database roles');
    if (failures.length) {
      throw new MandateError('storage_unavailable', `sweeping task database roles: ${failures.join('; ')}`, {
        cause: new AggregateError(causes),
        details: { dropped: dropped.map((d) => d.role) },
      });
    }
    return dropped;
  }

  async query(upstream: string, taskId: string, sql: string, params: unknown[] = []): Promise<QueryResult> {
    const up = this.upstreamOf(upstream);
    if (typeof sql !== 'string' || sql.trim() === '') throw new MandateError('invalid_request', 'the SQL statement is empty');
    if (!Array.isArray(params)) throw new MandateError('invalid_request', 'SQL parameters must be an array');
    const role = this.roleName(upstream, taskId);
    const entry = await this.taskPool(up, role, taskId);

    let client: pg.PoolClient;
    try {
      client = await entry.pool.connect();
    } catch (err) {
      const state = sqlState(err);
      if (this.pools.get(role) === entry) await this.closePool(role);
      if (state?.startsWith('28')) {
        throw new MandateError('forbidden', `database upstream ${q(up.name)}: task ${q(taskId)}'s role cannot log in (expired, dropped, or its password changed): ${this.scrub(up, messageOf(err))}`, {
          details: { sqlstate: state },
        });
      }
      throw this.unreachable(up, err);
    }
    // A checked-out client has no error listener: a session terminated under it (drop() on
    // another replica) would otherwise crash the process.
    const onError = (err: Error): void => this.logger?.warn({ upstream: up.name, role, err: this.scrub(up, err.message) }, 'task database session failed');
    client.on('error', onError);
    let broken = false;
    try {
      return await this.run(up, client, sql, params);
    } catch (err) {
      broken = !sqlState(err) || /^(08|57P)/.test(sqlState(err)!);
      throw this.fromPg(up, err, `task ${q(taskId)}`);
    } finally {
      if (!broken) {
        try {
          if (client.getTransactionStatus() !== 'I') await client.query('ROLLBACK');
          await client.query('DISCARD ALL');
        } catch {
          broken = true;
        }
      }
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  connectionString(upstream: string, taskId: string): string {
    return this.taskUrl(this.upstreamOf(upstream), this.roleName(upstream, taskId));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.keys()].map((r) => this.closePool(r)));
    await Promise.all([...this.upstreams.values()].map((u) => u.admin.end().catch(() => undefined)));
  }

  // ---- internals

  private password(role: string): string {
    return createHmac('sha256', this.key).update(role).digest('base64url');
  }

  /** The admin URL with the task role's name and password instead of the admin's. */
  private taskUrl(up: Upstream, role: string): string {
    const u = new URL(up.url.href);
    u.username = role;
    u.password = this.password(role);
    // Credentials in the query string would override ours, and may be the admin's.
    for (const k of ['user', 'password']) u.searchParams.delete(k);
    return u.href;
  }

  private openUpstream(u: DbUpstream): Upstream {
    const where0 = `database upstream ${q(u.name)}`;
    let url: URL;
    try {
      url = new URL(u.connection);
    } catch {
      throw new MandateError('config_invalid', `${where0}: \`connection\` is not a URL (postgres://user:password@host:port/db)`);
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new MandateError('config_invalid', `${where0}: \`connection\` must be a postgres:// URL`);
    const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!url.hostname || !db) throw new MandateError('config_invalid', `${where0}: \`connection\` must name a host and a database (postgres://user:password@host:port/db)`);
    if (!Number.isInteger(u.maxRows) || u.maxRows < 1) throw new MandateError('config_invalid', `${where0}: \`maxRows\` must be a positive integer`);
    if (!Number.isInteger(u.statementTimeoutMs) || u.statementTimeoutMs < 1) throw new MandateError('config_invalid', `${where0}: \`statementTimeoutMs\` must be a positive integer`);
    for (const [key, privs] of Object.entries(u.privileges)) {
      if (!OBJECT.test(key)) throw new MandateError('config_invalid', `${where0}: privileges key ${q(key)} is not \`schema.table\` or \`schema.*\``);
      if (!Array.isArray(privs) || privs.some((p) => !(DB_PRIVILEGES as readonly string[]).includes(p))) {
        throw new MandateError('config_invalid', `${where0}: privileges of ${q(key)} must be among ${DB_PRIVILEGES.join(', ')}`);
      }
    }
    const adminPassword = decodeURIComponent(url.password) || url.searchParams.get('password') || '';
    // Defence in depth: wherever the admin password might surface, it is redacted.
    if (adminPassword) registerSecretValues([adminPassword]);
    const where = `${url.hostname}:${url.port || '5432'}/${db}`;
    const admin = new pg.Pool({
      connectionString: u.connection,
      max: 2,
      idleTimeoutMillis: TASK_POOL_IDLE_MS,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: ADMIN_STATEMENT_TIMEOUT_MS,
      application_name: 'mandate',
    });
    const up: Upstream = { ...u, privileges: { ...u.privileges }, where, url, adminPassword, admin };
    admin.on('error', (err) => this.logger?.warn({ upstream: u.name, err: this.scrub(up, err.message) }, 'idle admin database connection failed'));
    return up;
  }

  private upstreamOf(name: string): Upstream {
    const up = this.upstreams.get(name);
    if (!up) throw new MandateError('not_found', `unknown database upstream ${q(name)}`);
    return up;
  }

  /** Runs `fn` on an admin connection; connection failures name host:port/db, never the URL. */
  private async withAdmin<T>(up: Upstream, what: string, fn: (c: pg.PoolClient, discard: () => void) => Promise<T>): Promise<T> {
    if (this.closed) throw new MandateError('storage_unavailable', `database upstream ${q(up.name)}: the role manager is closed`);
    let c: pg.PoolClient;
    try {
      c = await up.admin.connect();
    } catch (err) {
      throw this.unreachable(up, err);
    }
    const onError = (err: Error): void => this.logger?.warn({ upstream: up.name, err: this.scrub(up, err.message) }, 'admin database session failed');
    c.on('error', onError);
    let broken = false;
    try {
      return await fn(c, () => {
        broken = true;
      });
    } catch (err) {
      const state = sqlState(err);
      broken ||= !(err instanceof MandateError) && (!state || /^(08|57P)/.test(state));
      throw this.adminError(up, err, what);
    } finally {
      c.removeListener('error', onError);
      // A connection that failed mid-way may still hold the advisory lock or a transaction.
      c.release(broken);
    }
  }

  private async grant(c: pg.PoolClient, up: Upstream, r: string, key: string, privs: DbPrivilege[]): Promise<void> {
    const { schema, table } = splitObject(key);
    try {
      await c.query(`GRANT USAGE ON SCHEMA ${ident(schema)} TO ${r}`);
      const target = table === null ? `ALL TABLES IN SCHEMA ${ident(schema)}` : `TABLE ${ident(schema)}.${ident(table)}`;
      await c.query(`GRANT ${privs.join(', ')} ON ${target} TO ${r}`);
      if (privs.includes('INSERT')) {
        // A `serial` column's default calls nextval(): INSERT needs its sequence. Identity
        // columns need nothing; other sequences stay out of reach.
        const seqs = await c.query<{ seq: string }>(
          `SELECT format('%I.%I', sn.nspname, s.relname) AS seq
             FROM pg_class s JOIN pg_namespace sn ON sn.oid = s.relnamespace
             JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype = 'a'
                 AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE s.relkind = 'S' AND tn.nspname = $1 AND ($2::text IS NULL OR t.relname = $2)`,
          [schema, table],
        );
        for (const { seq } of seqs.rows) await c.query(`GRANT USAGE ON SEQUENCE ${seq} TO ${r}`);
      }
    } catch (err) {
      const state = sqlState(err);
      if (state === '42P01' || state === '3F000') {
        throw new MandateError('invalid_scope', `${q(key)} does not exist on database upstream ${q(up.name)} (${up.where}): ${messageOf(err)}`, { cause: err, details: { object: key } });
      }
      throw err;
    }
  }

  /** undefined: no such role; `comment` null: a role by that name that Mandate did not make. */
  private async lookupRole(c: pg.PoolClient, role: string): Promise<{ comment: RoleComment | null; validUntil: number } | undefined> {
    const res = await c.query<{ comment: string | null; valid_until: Date | null }>(
      `SELECT shobj_description(oid, 'pg_authid') AS comment, rolvaliduntil AS valid_until FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    return { comment: parseComment(row.comment), validUntil: row.valid_until?.getTime() ?? Number.POSITIVE_INFINITY };
  }

  private async listOwn(c: pg.PoolClient): Promise<TaskRoleInfo[]> {
    const res = await c.query<{ rolname: string; comment: string | null }>(
      `SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname LIKE 'mandate\\_t\\_%' ORDER BY rolname`,
    );
    const out: TaskRoleInfo[] = [];
    for (const row of res.rows) {
      const c = parseComment(row.comment);
      if (!c || c.instance !== this.instance) continue;
      // A comment can be copied; the name is derived from instance, upstream and task.
      if (row.rolname !== this.roleName(c.upstream, c.task)) continue;
      out.push({ role: row.rolname, upstream: c.upstream, taskId: c.task, agentId: c.agent, expiresAt: c.expiresAt, instance: c.instance });
    }
    return out;
  }

  /** The pool logging in as `role`, checked against the role's comment the first time and at expiry. */
  private async taskPool(up: Upstream, role: string, taskId: string): Promise<TaskPool> {
    let entry = this.pools.get(role);
    if (!entry || this.clock.now() >= entry.expiresAt) {
      // First use in this process, or expired by what we knew (another replica may have extended it).
      const found = await this.withAdmin(up, 'look up a task role', (c) => this.lookupRole(c, role));
      if (found === undefined) {
        if (entry) await this.closePool(role);
        throw new MandateError('not_found', `no database role for task ${q(taskId)} on upstream ${q(up.name)}: the task was not granted this database, or it ended`);
      }
      const info = found.comment;
      if (!info || info.instance !== this.instance || info.upstream !== up.name || info.task !== taskId) {
        throw new MandateError('conflict', `database role ${q(role)} on upstream ${q(up.name)} is not task ${q(taskId)}'s`);
      }
      // The role's VALID UNTIL, not its comment: only the admin can change it.
      entry = this.pools.get(role);
      if (entry) entry.expiresAt = found.validUntil;
      else {
        entry = { pool: this.openTaskPool(up, role), taskId, expiresAt: found.validUntil };
        this.pools.set(role, entry);
      }
    }
    // PostgreSQL checks VALID UNTIL at password login only (not with trust, peer or cert).
    if (this.clock.now() >= entry.expiresAt) {
      throw new MandateError('expired_token', `task ${q(taskId)}'s database role on upstream ${q(up.name)} expired at ${new Date(entry.expiresAt).toISOString()}`);
    }
    return entry;
  }

  private openTaskPool(up: Upstream, role: string): pg.Pool {
    const pool = new pg.Pool({
      connectionString: this.taskUrl(up, role),
      max: 2,
      idleTimeoutMillis: TASK_POOL_IDLE_MS,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A startup parameter: DISCARD ALL after each call brings it back if the agent SET it.
      statement_timeout: up.statementTimeoutMs,
      application_name: 'mandate task',
    });
    pool.on('error', (err) => this.logger?.warn({ upstream: up.name, role, err: this.scrub(up, err.message) }, 'idle task database connection failed'));
    // A pool whose last connection closed holds nothing; forget it so roles dropped elsewhere do
    // not accumulate (the next query looks the role up again).
    pool.on('remove', () => {
      if (pool.totalCount === 0 && pool.waitingCount === 0 && this.pools.get(role)?.pool === pool) this.pools.delete(role);
    });
    return pool;
  }

  private async closePool(role: string): Promise<void> {
    const entry = this.pools.get(role);
    if (!entry) return;
    this.pools.delete(role);
    await entry.pool.end().catch(() => undefined);
  }

  /**
   * One statement, extended protocol, at most maxRows rows kept in memory (rows are taken one at
   * a time from the 'row' event; the rest are counted and dropped). A statement that does not
   * finish within the server's statement timeout plus a margin rejects, and its connection is
   * destroyed by the caller.
   */
  private async run(up: Upstream, client: pg.PoolClient, sql: string, params: unknown[]): Promise<QueryResult> {
    const rows: Record<string, unknown>[] = [];
    let seen = 0;
    // `queryMode: 'extended'`: pg only uses Parse/Bind/Execute when there are parameters, and
    // only that protocol refuses a string of several statements.
    const query = new AgentStatement({ text: sql, values: params, queryMode: 'extended' } as pg.QueryConfig);
    query.on('row', (row: Record<string, unknown>) => {
      seen++;
      if (rows.length < up.maxRows) rows.push(jsonSafe(row) as Record<string, unknown>);
    });
    let timer: NodeJS.Timeout | undefined;
    const result = await new Promise<pg.QueryResult>((resolve, reject) => {
      query.on('end', (r) => resolve(r as unknown as pg.QueryResult));
      query.on('error', reject);
      timer = setTimeout(() => reject(new Error(`no answer within ${up.statementTimeoutMs + STUCK_MARGIN_MS} ms`)), up.statementTimeoutMs + STUCK_MARGIN_MS);
      client.query(query);
    }).finally(() => clearTimeout(timer));
    return {
      columns: (result.fields ?? []).map((f) => f.name),
      rows,
      rowCount: result.rowCount ?? seen,
      truncated: seen > rows.length,
      command: result.command ?? '',
    };
  }

  private scrub(up: Upstream, s: string): string {
    let out = s;
    if (up.adminPassword.length >= 4) out = out.split(up.adminPassword).join(REDACTED);
    return out;
  }

  private unreachable(up: Upstream, err: unknown): MandateError {
    if (err instanceof MandateError) return err;
    return new MandateError('storage_unavailable', `database upstream ${q(up.name)} (${up.where}) is unreachable: ${this.scrub(up, messageOf(err))}`, { details: { sqlstate: sqlState(err) } });
  }

  private adminError(up: Upstream, err: unknown, what: string): MandateError {
    if (err instanceof MandateError) return err;
    const state = sqlState(err);
    if (!state || /^(08|53|57P)/.test(state)) return this.unreachable(up, err);
    // The admin role lacks a right, or the database refused: the operator's to fix, not the caller's.
    return new MandateError('internal', `database upstream ${q(up.name)} (${up.where}): cannot ${what}: ${this.scrub(up, messageOf(err))}`, { details: { sqlstate: state } });
  }

  /** What PostgreSQL said about the agent's statement, with a code the caller can act on. */
  private fromPg(up: Upstream, err: unknown, who: string): MandateError {
    if (err instanceof MandateError) return err;
    const state = sqlState(err);
    const msg = this.scrub(up, messageOf(err));
    if (!state || /^(08|53|57P)/.test(state)) return this.unreachable(up, err);
    let code: ErrorCode = 'invalid_request';
    if (state === '42501' || state.startsWith('28')) code = 'forbidden';
    return new MandateError(code, `database upstream ${q(up.name)}: ${who}: ${msg}`, { details: { sqlstate: state } });
  }
}
