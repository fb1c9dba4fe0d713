// The shared store: PostgreSQL through node-postgres. Several replicas use one database, so
// everything that must happen once (a call budget, a replay key, an approval, the audit chain)
// is made atomic in the database, never in this process.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { AuditSinkState, ReplayUse, TaskValueBatch } from '../types.js';
import { MandateError, q } from '../../core/errors.js';
import { ConflictError, NotFoundError, StorageUnavailableError } from '../errors.js';
import { GENESIS_HASH } from '../types.js';
import {
  agentFromRow,
  approvalFromRow,
  auditFromRow,
  authorizationCodeFromRow,
  oauthClientFromRow,
  pinFromRow,
  policyFromRow,
  refreshTokenFromRow,
  taskFromRow,
  tokenFromRow,
  userFromRow,
  type Row,
} from '../rows.js';
import type {
  Agent,
  AgentPatch,
  AgentStatus,
  ApiToken,
  Approval,
  ApprovalDecision,
  ApprovalDecisionResult,
  ApprovalFilter,
  ApprovalKind,
  ApprovalStatus,
  AuditEvent,
  AuditEventInput,
  AuditQuery,
  AuthorizationCode,
  CallCharge,
  CallConsumption,
  ChainHasher,
  McpSessionRecord,
  OAuthClient,
  PolicyVersion,
  RefreshToken,
  Revocation,
  Store,
  Task,
  TaskFilter,
  TaskStatus,
  ToolPin,
  User,
  UserStatus,
} from '../types.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/postgres/', import.meta.url));

/** Held (session lock) for a whole migration run, so replicas starting together migrate once. */
const MIGRATION_LOCK = '5575859191072187697'; // 'Mandate1'
/** Held (transaction lock) while the audit head is read and extended, so the chain never forks. */
const AUDIT_LOCK = '5575859190535382132'; // 'MandAudt'


export interface PostgresStoreOptions {
  /** postgres://user:pass@host:port/db (may carry ?sslmode=…, which pg parses). */
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** statement_timeout of every connection (default 5000; 0 leaves the server's). */
  statementTimeoutMs?: number;
  /** How long to wait for a connection (default 5000). */
  connectTimeoutMs?: number;
  /** TLS; overrides the URL's ssl parameters when given (default: whatever the URL says). */
  ssl?: { mode: 'disable' | 'require' | 'verify-full'; ca?: string };
  /** A schema to create (if missing) and use as search_path on every connection. */
  schema?: string;
  /** application_name, shown in pg_stat_activity (default 'mandate'). */
  applicationName?: string;
  /** Apply pending migrations at open (default true). */
  migrate?: boolean;
}

// Timestamps and counters are BIGINT: read back as numbers, per client, without touching the
// process-wide pg.types other code may rely on.
const INT8_OID = 20;
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ident = (s: string) => `"${s}"`;

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

function sslOptions(s: NonNullable<PostgresStoreOptions['ssl']>): false | Record<string, unknown> {
  switch (s.mode) {
    case 'disable':
      return false;
    case 'require':
      // As libpq: encrypted, and verified against the CA only when one is given (no host check).
      return s.ca ? { ca: s.ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
    case 'verify-full':
      return s.ca ? { ca: s.ca } : {};
  }
}

/** pg connection config shared with other modules (the LISTEN/NOTIFY client uses it): url, ssl, timeouts, search_path, int8 parsed as Number. */
export function pgClientConfig(opts: PostgresStoreOptions): pg.ClientConfig {
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
    throw new MandateError('config_invalid', `PostgreSQL schema ${q(opts.schema)}: expected letters, digits and _ (not starting with a digit)`);
  }
  let connectionString = opts.url;
  let ssl = opts.ssl ? sslOptions(opts.ssl) : undefined;
  const startup: string[] = [];
  // pg lets the URL's parameters override the config object, so the ones we set ourselves are
  // taken out of the URL (and merged) rather than silently lost.
  const u = parseUrl(opts.url);
  if (u) {
    let changed = false;
    const urlOptions = u.searchParams.get('options');
    if (opts.schema && urlOptions !== null) {
      startup.push(urlOptions);
      u.searchParams.delete('options');
      changed = true;
    }
    if (opts.ssl) {
      if (ssl) {
        for (const [param, key] of [['sslcert', 'cert'], ['sslkey', 'key']] as const) {
          const file = u.searchParams.get(param);
          if (file) ssl[key] = readFileSync(file, 'utf8');
        }
      }
      for (const k of ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat']) {
        if (u.searchParams.has(k)) {
          u.searchParams.delete(k);
          changed = true;
        }
      }
    }
    if (changed) connectionString = u.toString();
  }
  if (opts.schema) startup.push(`-c search_path=${ident(opts.schema)}`);
  return {
    connectionString,
    ...(ssl !== undefined ? { ssl } : {}),
    statement_timeout: opts.statementTimeoutMs ?? 5000,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    application_name: opts.applicationName ?? 'mandate',
    // A replica must notice a database that vanished without closing the connection.
    keepAlive: true,
    ...(startup.length ? { options: startup.join(' ') } : {}),
    types: TYPES,
  };
}

/** Where the database is, for messages: host:port, never the URL (it may hold the password). */
interface Where {
  server: string;
  scrub: (s: string) => string;
}

function whereOf(url: string): Where {
  const u = parseUrl(url);
  if (!u) return { server: 'the configured server', scrub: (s) => s };
  const host = u.searchParams.get('host') || u.hostname || 'localhost';
  const port = u.searchParams.get('port') || u.port || '5432';
  const secrets = [u.password, safeDecode(u.password)].filter((p) => p.length >= 3);
  return {
    server: `${host}:${port}`,
    // Belt and braces: no message of ours carries the password even if a driver message did.
    scrub: (s) => secrets.reduce((acc, p) => acc.split(p).join('***'), s),
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

interface PgErrorLike {
  code?: string;
  message?: string;
  errors?: unknown[];
}

const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);
const TLS_CODES = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);
const CONNECTION_LOST = /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection ended unexpectedly/i;
const RESUMES = 'Mandate refuses decisions until it is back and resumes by itself';

function shortCause(err: unknown): string {
  const e = (err ?? {}) as PgErrorLike;
  if (e.code && NET_CODES.has(e.code)) return e.code;
  const first = e.errors?.[0] as PgErrorLike | undefined;
  let m = e.message || first?.message || e.code || String(err);
  m = m.replace(/[\r\n\t]/g, ' ');
  return m.length > 160 ? `${m.slice(0, 157)}...` : m;
}

/** What a driver or server error means for an operator, and what to do about it. */
function faultOf(err: unknown, server: string): { cause: string; fix: string } | null {
  const e = (err ?? {}) as PgErrorLike;
  const code = e.code ?? '';
  const msg = e.message ?? '';
  const short = shortCause(err);
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_OSSL') || /SSL|TLS|certificate/.test(msg)) {
    return { cause: `the TLS connection to PostgreSQL at ${server} failed (${short})`, fix: 'check the ssl mode and CA certificate of the store settings' };
  }
  if (NET_CODES.has(code) || CONNECTION_LOST.test(msg) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
    return { cause: `PostgreSQL at ${server} is unreachable (${short})`, fix: `check that the database is running and reachable — ${RESUMES}` };
  }
  if (code === '57014') {
    return { cause: `PostgreSQL at ${server} did not finish in time (${short})`, fix: `look for locks or long transactions holding it up (pg_stat_activity) and for server load — ${RESUMES}` };
  }
  if (code === '25006') {
    return { cause: `PostgreSQL at ${server} is read-only (${short})`, fix: `point Mandate at the primary (a standby, or a failover in progress, accepts no writes) — ${RESUMES}` };
  }
  if (code === '53300') {
    return { cause: `PostgreSQL at ${server} has no free connection slot (${short})`, fix: `raise max_connections or lower the pool size of the replicas — ${RESUMES}` };
  }
  if (code.startsWith('53')) {
    return { cause: `PostgreSQL at ${server} is out of resources (${short})`, fix: `free disk space or memory on the database server — ${RESUMES}` };
  }
  if (code === '28P01' || code === '28000') {
    return { cause: `PostgreSQL at ${server} refused the login (${short})`, fix: 'check the user and password of the database URL' };
  }
  if (code === '3D000') return { cause: `PostgreSQL at ${server}: ${short}`, fix: 'create the database, or fix its name in the database URL' };
  if (/Cannot use a pool after calling end/.test(msg)) return { cause: 'the PostgreSQL store is closed', fix: 'nothing more is recorded while Mandate shuts down' };
  return null;
}

function translate(err: unknown, what: string, where: Where): never {
  if (err instanceof MandateError) throw err;
  const code = (err as PgErrorLike | null)?.code ?? '';
  // Class 23: unique, foreign key, check, not null (as SQLite's SQLITE_CONSTRAINT_*).
  if (/^23[0-9A-Z]{3}$/.test(code)) throw new ConflictError(where.scrub(`${what}: already exists or violates a constraint`), err);
  const fault = faultOf(err, where.server);
  if (fault) throw new StorageUnavailableError(where.scrub(`storage unavailable (${what}): ${fault.cause}; ${fault.fix}`), err);
  throw err;
}

/** A connection that died under us (a server restart, a killed backend): nothing of the statement happened. */
function isStale(err: unknown): boolean {
  const e = (err ?? {}) as PgErrorLike;
  return e.code === '57P01' || e.code === '57P02' || e.code === 'ECONNRESET' || e.code === 'EPIPE' || /Connection terminated unexpectedly|not queryable/.test(e.message ?? '');
}

const isRetryable = (err: unknown) => {
  const code = (err as PgErrorLike | null)?.code;
  return code === '40P01' || code === '40001';
};

/** SQLite reads a negative LIMIT as none; PostgreSQL's spelling of none is NULL. */
const sqlLimit = (n: number) => (n < 0 ? null : n);

/** Thrown inside a transaction to roll it back and still return a value. */
class Rollback<T> {
  constructor(readonly value: T) {}
}

// ---- migrations

function migrationFiles(dir: string): Array<{ version: number; file: string }> {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((file) => ({ version: Number.parseInt(file.split('_')[0] ?? '', 10), file }));
}

async function appliedMigrations(c: pg.ClientBase): Promise<Array<{ version: number; name: string }>> {
  const exists = await c.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  if (!exists.rows[0]?.t) return [];
  return (await c.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
}

async function ensureSchema(c: pg.ClientBase | pg.Pool, schema: string | undefined): Promise<void> {
  if (!schema) return;
  // Looked up first: CREATE SCHEMA checks the CREATE right on the database even when the schema
  // exists, and a least-privileged role is often given a schema made for it.
  if ((await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount) return;
  try {
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
  } catch (err) {
    // Two replicas creating it at once: the loser sees a duplicate, which is what it wanted.
    const code = (err as PgErrorLike).code;
    if (code !== '23505' && code !== '42P06') throw err;
  }
}

/**
 * Applies (or with dryRun only lists) pending migrations from migrations/postgres/, under a
 * session advisory lock so replicas starting together migrate once. `applied`: the files this
 * call applied; `pending`: those still pending afterwards (with dryRun, what would be applied);
 * `already`: those applied before the call.
 */
export async function migratePostgres(
  opts: PostgresStoreOptions,
  o: { dryRun?: boolean; onProgress?: (file: string) => void } = {},
): Promise<{ applied: string[]; pending: string[]; already: string[] }> {
  return migrate(opts, o, 'migrate');
}

async function migrate(
  opts: PostgresStoreOptions,
  o: { dryRun?: boolean; onProgress?: (file: string) => void },
  what: string,
): Promise<{ applied: string[]; pending: string[]; already: string[] }> {
  const where = whereOf(opts.url);
  const client = new pg.Client(pgClientConfig(opts));
  // A connection dying between statements is reported by the statement; the event must not crash us.
  client.on('error', () => undefined);
  let current = 'connect';
  try {
    await client.connect();
    current = 'schema_migrations';
    // A migration (or waiting for another replica's) may rightly outlast the statement timeout.
    await client.query('SET statement_timeout = 0');
    const files = migrationFiles(MIGRATIONS_DIR);
    if (o.dryRun) {
      const done = await appliedMigrations(client);
      const versions = new Set(done.map((m) => m.version));
      return { applied: [], pending: files.filter((f) => !versions.has(f.version)).map((f) => f.file), already: done.map((m) => m.name) };
    }
    current = `create schema ${opts.schema ?? ''}`.trim();
    await ensureSchema(client, opts.schema);
    current = 'migration lock';
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      current = 'schema_migrations';
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const done = await appliedMigrations(client);
      const versions = new Set(done.map((m) => m.version));
      const applied: string[] = [];
      for (const { version, file } of files) {
        if (versions.has(version)) continue;
        current = file;
        o.onProgress?.(file);
        const sql = readFileSync(join(MIGRATIONS_DIR, file), 'utf8');
        // Each file in its own transaction: a failed one leaves the schema as the one before it.
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [version, file, Date.now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        applied.push(file);
      }
      return { applied, pending: [], already: done.map((m) => m.name) };
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => undefined);
    }
  } catch (err) {
    if (err instanceof MandateError) throw err;
    if (faultOf(err, where.server)) translate(err, what, where);
    throw new StorageUnavailableError(
      where.scrub(
        `cannot migrate PostgreSQL at ${where.server} (${current}: ${shortCause(err)}); check the database user's rights (and the migration), then start again — a failed migration is rolled back, those before it stay applied`,
      ),
      err,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}


// Text is ordered bytewise, as SQLite does, whatever the database's collation.
const C = 'COLLATE "C"';

/** Methods that do their own checks (or must work on a broken store, like closing it), and helpers. */
const UNGUARDED = new Set(['constructor', 'ping', 'probe', 'close', 'freeBytes', 'checkpoint', 'guard', 'fail', 'failed', 'read', 'exec', 'tx']);

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly pool: pg.Pool;
  /** Why this store must not be used, or null (kept for the Store contract; PostgreSQL sets none itself). */
  readonly trust = { untrusted: null as string | null };
  onUnavailable: ((op: string) => void) | null = null;
  private readonly where: Where;
  private closed = false;

  private constructor(pool: pg.Pool, where: Where) {
    this.pool = pool;
    this.where = where;
    // Every operation goes through one gate: refused on an untrusted store, and a driver error
    // becomes one that names the cause and the fix (a 503, never a bare 500).
    const self = this as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const name of Object.getOwnPropertyNames(PostgresStore.prototype)) {
      if (UNGUARDED.has(name) || typeof self[name] !== 'function') continue;
      const f = self[name]!;
      self[name] = async (...args: unknown[]) => {
        try {
          this.guard();
          return await f.apply(this, args);
        } catch (err) {
          this.failed(err, name);
        }
      };
    }
  }

  /** Connects (and migrates unless `migrate: false`); an unreachable database is a StorageUnavailableError naming host:port and the fix. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const where = whereOf(opts.url);
    const pool = new pg.Pool({ ...pgClientConfig(opts), max: opts.poolSize ?? 10 });
    // An idle connection dying (a server restart) is reported here; the pool drops it and opens
    // another on the next use. Without a listener it would crash the process.
    pool.on('error', () => undefined);
    try {
      if (opts.migrate ?? true) {
        await migrate(opts, {}, 'open');
      } else {
        await ensureSchema(pool, opts.schema);
      }
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof MandateError || faultOf(err, where.server)) translate(err, 'open', where);
      throw new StorageUnavailableError(where.scrub(`cannot use PostgreSQL at ${where.server} (${shortCause(err)}); check the database user's rights`), err);
    }
    return new PostgresStore(pool, where);
  }

  private guard(): void {
    if (this.trust.untrusted) throw new StorageUnavailableError(`storage unavailable: ${this.trust.untrusted}`);
  }

  private fail(err: unknown, what: string): never {
    translate(err, what, this.where);
  }

  /** The gate's translation: a refusal as unavailable is also told to `onUnavailable`, by method name. */
  private failed(err: unknown, op: string): never {
    try {
      translate(err, op, this.where);
    } catch (e) {
      if (e instanceof StorageUnavailableError) this.onUnavailable?.(op);
      throw e;
    }
  }

  /** A read: retried on another connection when the one it got had died under us. */
  private async read(sql: string, params: unknown[] = []): Promise<Row[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.pool.query<Row>(sql, params)).rows;
      } catch (err) {
        if (attempt < 2 && isStale(err)) continue;
        throw err;
      }
    }
  }

  /** A single-statement write: never retried (whether it committed is unknown when the connection dies). */
  private async exec(sql: string, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
    return this.pool.query<Row>(sql, params);
  }

  /**
   * A transaction on one connection. Retried on deadlock or serialisation failure, and when the
   * connection was found dead at BEGIN (nothing happened yet).
   */
  private async tx<T>(fn: (c: pg.PoolClient, begun: pg.QueryResult<Row>[]) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.pool.connect();
      let broken: unknown;
      // A checked-out client has no pool listener: its 'error' event would crash the process.
      const onError = (err: Error) => {
        broken = err;
      };
      c.on('error', onError);
      let begun = false;
      try {
        // `begin` may be several statements (simple protocol): their results are handed on.
        const r = (await c.query<Row>(begin)) as pg.QueryResult<Row> | pg.QueryResult<Row>[];
        begun = true;
        const out = await fn(c, Array.isArray(r) ? r : [r]);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        if (!begun) broken ??= err;
        else if (!broken) await c.query('ROLLBACK').catch((e: unknown) => (broken = e));
        if (err instanceof Rollback) return err.value as T;
        if (attempt < 4 && isRetryable(err)) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        if (attempt < 1 && !begun && isStale(err)) continue;
        throw err;
      } finally {
        c.removeListener('error', onError);
        // A broken connection is discarded, never handed to the next caller.
        c.release(broken instanceof Error ? broken : broken ? new Error(String(broken)) : undefined);
      }
    }
  }

  async ping(): Promise<void> {
    this.guard();
    try {
      await this.read('SELECT 1');
    } catch (err) {
      this.fail(err, 'ping');
    }
  }

  /** Readiness: a write commits. Throws `StorageUnavailableError` naming the cause and the fix. */
  async probe(now: number): Promise<void> {
    this.guard();
    try {
      await this.exec('INSERT INTO health (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at', [now]);
    } catch (err) {
      try {
        this.fail(err, 'write probe');
      } catch (e) {
        if (e instanceof StorageUnavailableError) throw e;
        throw new StorageUnavailableError(
          this.where.scrub(`storage unavailable (write probe): PostgreSQL at ${this.where.server} refused the write (${shortCause(err)}); check the database user's rights and that the schema is migrated`),
          err,
        );
      }
    }
  }

  async freeBytes(): Promise<number | null> {
    return null;
  }

  /** PostgreSQL manages its own write-ahead log. */
  async checkpoint(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // ---- agents
  async insertAgent(a: Agent): Promise<void> {
    try {
      await this.exec(
        `INSERT INTO agents (id, name, owner, purpose, environment, status, review_by, jwks, labels, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [a.id, a.name, a.owner, a.purpose, a.environment, a.status, a.reviewBy, JSON.stringify(a.jwks), JSON.stringify(a.labels), a.createdAt, a.updatedAt],
      );
    } catch (err) {
      this.fail(err, `agent ${q(a.id)}`);
    }
  }

  async getAgent(id: string): Promise<Agent | null> {
    const [r] = await this.read('SELECT * FROM agents WHERE id = $1', [id]);
    return r ? agentFromRow(r) : null;
  }

  async listAgents(filter: { status?: AgentStatus; owner?: string } = {}): Promise<Agent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    if (filter.owner) where.push(`owner = $${args.push(filter.owner)}`);
    const sql = `SELECT * FROM agents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name ${C}`;
    return (await this.read(sql, args)).map(agentFromRow);
  }

  async updateAgent(id: string, patch: AgentPatch, now: number): Promise<Agent> {
    const sets: string[] = [];
    const args: unknown[] = [];
    const map: Record<string, string> = {
      status: 'status',
      owner: 'owner',
      purpose: 'purpose',
      environment: 'environment',
      reviewBy: 'review_by',
      jwks: 'jwks',
      labels: 'labels',
    };
    for (const [k, col] of Object.entries(map)) {
      const v = (patch as Record<string, unknown>)[k];
      if (v === undefined) continue;
      sets.push(`${col} = $${args.push(k === 'jwks' || k === 'labels' ? JSON.stringify(v) : v)}`);
    }
    sets.push(`updated_at = $${args.push(now)}`);
    let rows: Row[] = [];
    try {
      rows = (await this.exec(`UPDATE agents SET ${sets.join(', ')} WHERE id = $${args.push(id)} RETURNING *`, args)).rows;
    } catch (err) {
      this.fail(err, `agent ${q(id)}`);
    }
    if (!rows[0]) throw new NotFoundError(`agent ${q(id)} not found`);
    return agentFromRow(rows[0]);
  }

  // ---- tasks
  async insertTask(t: Task): Promise<void> {
    try {
      await this.exec(
        `INSERT INTO tasks (id, agent_id, parent_id, depth, intent, scope, status, labels, created_at, expires_at, ended_at, end_reason, decision_id, break_glass, chain)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          t.id, t.agentId, t.parentId, t.depth, t.intent, JSON.stringify(t.scope), t.status, JSON.stringify(t.labels), t.createdAt, t.expiresAt,
          t.endedAt, t.endReason, t.decisionId, Boolean(t.breakGlass), t.chain ? JSON.stringify(t.chain) : null,
        ],
      );
    } catch (err) {
      this.fail(err, `task ${q(t.id)}`);
    }
  }

  async getTask(id: string): Promise<Task | null> {
    const [r] = await this.read('SELECT * FROM tasks WHERE id = $1', [id]);
    return r ? taskFromRow(r) : null;
  }

  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.agentId) where.push(`agent_id = $${args.push(filter.agentId)}`);
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    if (filter.parentId) where.push(`parent_id = $${args.push(filter.parentId)}`);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 10_000);
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id ${C} DESC LIMIT $${args.push(limit)}`;
    return (await this.read(sql, args)).map(taskFromRow);
  }

  async transitionTask(id: string, from: readonly TaskStatus[], to: TaskStatus, at: number, reason: string): Promise<Task | null> {
    if (from.length === 0) return null;
    const terminal = to !== 'active' && to !== 'pending_approval';
    // One conditional UPDATE: of two replicas ending the same task, exactly one sees a row.
    const { rows } = terminal
      ? await this.exec('UPDATE tasks SET status = $1, ended_at = $2, end_reason = $3 WHERE id = $4 AND status = ANY($5::text[]) RETURNING *', [to, at, reason, id, [...from]])
      : await this.exec('UPDATE tasks SET status = $1 WHERE id = $2 AND status = ANY($3::text[]) RETURNING *', [to, id, [...from]]);
    if (rows[0]) return taskFromRow(rows[0]);
    if (!(await this.read('SELECT 1 FROM tasks WHERE id = $1', [id]))[0]) throw new NotFoundError(`task ${q(id)} not found`);
    return null;
  }

  async countActiveTasks(now: number): Promise<number> {
    const [r] = await this.read(`SELECT count(*) AS n FROM tasks WHERE status = 'active' AND expires_at > $1`, [now]);
    return (r?.n as number | undefined) ?? 0;
  }

  async listExpiredTasks(now: number, limit: number): Promise<Task[]> {
    const rows = await this.read(`SELECT * FROM tasks WHERE status IN ('active', 'pending_approval') AND expires_at <= $1 ORDER BY expires_at, id ${C} LIMIT $2`, [now, sqlLimit(limit)]);
    return rows.map(taskFromRow);
  }

  async addTaskLabels(id: string, labels: string[]): Promise<string[]> {
    return this.tx(async (c) => {
      const r = (await c.query<Row>('SELECT labels FROM tasks WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!r) throw new NotFoundError(`task ${q(id)} not found`);
      const merged = [...new Set([...(JSON.parse(r.labels as string) as string[]), ...labels])].sort();
      await c.query('UPDATE tasks SET labels = $1 WHERE id = $2', [JSON.stringify(merged), id]);
      return merged;
    });
  }

  async activateTask(id: string, expiresAt: number): Promise<Task | null> {
    const { rows } = await this.exec(`UPDATE tasks SET status = 'active', expires_at = $1 WHERE id = $2 AND status = 'pending_approval' RETURNING *`, [expiresAt, id]);
    return rows[0] ? taskFromRow(rows[0]) : null;
  }

  async amendTaskScope(id: string, before: Task['scope'], after: Task['scope']): Promise<Task | null> {
    const { rows } = await this.exec(`UPDATE tasks SET scope = $1, scope_version = scope_version + 1 WHERE id = $2 AND status = 'active' AND scope = $3 RETURNING *`, [JSON.stringify(after), id, JSON.stringify(before)]);
    return rows[0] ? taskFromRow(rows[0]) : null;
  }

  // ---- call budgets
  async consumeCall(tool: string, charges: CallCharge[]): Promise<CallConsumption> {
    if (charges.length === 0) return { ok: true, used: [] };
    // One counter per task (the tightest limit if a task is named twice), in one fixed order, so
    // two replicas charging overlapping tasks lock the rows in the same order (no deadlock).
    const limits = new Map<string, number | null>();
    for (const ch of charges) {
      const had = limits.get(ch.taskId);
      limits.set(ch.taskId, had === undefined ? ch.limit : had === null ? ch.limit : ch.limit === null ? had : Math.min(had, ch.limit));
    }
    const ids = [...limits.keys()].sort();
    try {
      // One statement: atomic by itself and one round trip. A counter that would pass its limit
      // makes `mandate_budget_spent` raise (migrations/postgres/003), which undoes every counter.
      const statement = () => this.exec(
        `INSERT INTO task_calls AS t (task_id, tool, used)
         SELECT v.task_id, $1, CASE WHEN v.lim IS NOT NULL AND v.lim < 1 THEN mandate_budget_spent(v.task_id, v.lim) ELSE 1 END
           FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS v(task_id, lim, n) ORDER BY v.n
         ON CONFLICT (task_id, tool) DO UPDATE SET used = CASE
           WHEN (SELECT x.lim FROM unnest($2::text[], $3::bigint[]) AS x(task_id, lim) WHERE x.task_id = t.task_id) <= t.used
             THEN mandate_budget_spent(t.task_id, (SELECT x.lim FROM unnest($2::text[], $3::bigint[]) AS x(task_id, lim) WHERE x.task_id = t.task_id))
           ELSE t.used + 1 END
         RETURNING task_id, used`,
        [tool, ids, ids.map((id) => limits.get(id) ?? null)],
      );
      let r: pg.QueryResult<Row>;
      for (let attempt = 0; ; attempt++) {
        try {
          r = await statement();
          break;
        } catch (err) {
          // A deadlock or serialisation failure undid the whole statement: safe to run again.
          if (attempt < 4 && isRetryable(err)) continue;
          throw err;
        }
      }
      const now = new Map(r.rows.map((row) => [row.task_id as string, row.used as number]));
      return { ok: true, used: charges.map((ch) => now.get(ch.taskId) ?? 0) };
    } catch (err) {
      if ((err as { code?: string }).code === 'MDB01') {
        const d = JSON.parse((err as { detail?: string }).detail ?? '{}') as { task?: string; limit?: number };
        return { ok: false, exhausted: d.task ?? ids[0]!, limit: Number(d.limit ?? 0) };
      }
      this.fail(err, 'call budget');
    }
  }

  async callCounts(taskId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of await this.read(`SELECT tool, used FROM task_calls WHERE task_id = $1 ORDER BY tool ${C}`, [taskId])) out[r.tool as string] = r.used as number;
    return out;
  }

  // ---- revocations
  async insertRevocation(r: Revocation): Promise<void> {
    await this.exec('INSERT INTO revocations (task_id, revoked_at, expires_at, reason) VALUES ($1, $2, $3, $4) ON CONFLICT (task_id) DO NOTHING', [
      r.taskId,
      r.revokedAt,
      r.expiresAt,
      r.reason,
    ]);
  }

  async listRevocations(now: number): Promise<Revocation[]> {
    return (await this.read(`SELECT * FROM revocations WHERE expires_at > $1 ORDER BY expires_at, task_id ${C}`, [now])).map((r) => ({
      taskId: r.task_id as string,
      revokedAt: r.revoked_at as number,
      expiresAt: r.expires_at as number,
      reason: r.reason as string,
    }));
  }

  async pruneRevocations(now: number): Promise<number> {
    return (await this.exec('DELETE FROM revocations WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  // ---- replay cache
  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    // One statement: a key is taken when new or expired; a concurrent insert of the same key
    // waits for ours and then finds it unexpired.
    const { rowCount } = await this.exec(
      'INSERT INTO replay (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= $3 RETURNING key',
      [key, expiresAt, now],
    );
    return rowCount === 1;
  }

  async useOnceMany(uses: ReplayUse[]): Promise<boolean[]> {
    // In order, one statement each (a key twice in the batch: the second finds the first's row).
    const out: boolean[] = [];
    for (const u of uses) out.push(await this.useOnce(u.key, u.expiresAt, u.now));
    return out;
  }

  async pruneReplay(now: number): Promise<number> {
    return (await this.exec('DELETE FROM replay WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  // ---- audit
  async appendAudit(events: AuditEventInput[], hasher: ChainHasher): Promise<AuditEvent[]> {
    if (events.length === 0) return [];
    try {
      // The head is read and extended under one advisory lock, so appends from every replica
      // line up behind each other and the chain never forks; one INSERT carries the batch. BEGIN,
      // lock and head go in one round trip: in READ COMMITTED each statement takes a fresh
      // snapshot, so the head is read after the lock is held and sees every earlier append.
      return await this.tx(async (c, begun) => {
        const head = begun[2]?.rows[0];
        let seq = (head?.seq as number | undefined) ?? 0;
        let prevHash = (head?.hash as string | undefined) ?? GENESIS_HASH;
        const out: AuditEvent[] = [];
        const cols: unknown[][] = Array.from({ length: 12 }, () => []);
        for (const e of events) {
          seq += 1;
          const partial = { ...e, seq, prevHash };
          const hash = hasher(prevHash, partial);
          const row = [seq, e.id, e.ts, e.type, e.actor, e.agentId, e.taskId, e.decision, e.outcome, JSON.stringify(e.data), prevHash, hash];
          for (let i = 0; i < row.length; i++) cols[i]!.push(row[i]);
          out.push({ ...partial, hash });
          prevHash = hash;
        }
        await c.query(
          `INSERT INTO audit_events (seq, id, ts, type, actor, agent_id, task_id, decision, outcome, data, prev_hash, hash)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])`,
          cols,
        );
        return out;
      }, `BEGIN; SELECT pg_advisory_xact_lock(${AUDIT_LOCK}); SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`);
    } catch (err) {
      this.fail(err, 'audit append');
    }
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.afterSeq !== undefined) where.push(`seq > $${args.push(query.afterSeq)}`);
    if (query.taskId) where.push(`task_id = $${args.push(query.taskId)}`);
    if (query.agentId) where.push(`agent_id = $${args.push(query.agentId)}`);
    if (query.type) where.push(`type = $${args.push(query.type)}`);
    if (query.beforeSeq !== undefined) where.push(`seq < $${args.push(query.beforeSeq)}`);
    if (query.decision) where.push(`decision = $${args.push(query.decision)}`);
    if (query.since !== undefined) where.push(`ts >= $${args.push(query.since)}`);
    if (query.until !== undefined) where.push(`ts < $${args.push(query.until)}`);
    const limit = Math.min(Math.max(query.limit ?? 1000, 1), 100_000);
    const order = query.newestFirst ? 'DESC' : 'ASC';
    const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${order} LIMIT $${args.push(limit)}`;
    return (await this.read(sql, args)).map(auditFromRow);
  }

  async auditHead(): Promise<{ seq: number; hash: string } | null> {
    const [r] = await this.read('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    return r ? { seq: r.seq as number, hash: r.hash as string } : null;
  }

  // ---- policy versions
  async insertPolicyVersion(v: PolicyVersion): Promise<void> {
    try {
      await this.exec('INSERT INTO policy_versions (version, hash, created_at, source, files) VALUES ($1, $2, $3, $4, $5)', [
        v.version,
        v.hash,
        v.createdAt,
        v.source,
        JSON.stringify(v.files),
      ]);
    } catch (err) {
      this.fail(err, `policy version ${v.version}`);
    }
  }

  async latestPolicyVersion(): Promise<PolicyVersion | null> {
    const [r] = await this.read('SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1');
    return r ? policyFromRow(r) : null;
  }

  async getPolicyVersion(version: number): Promise<PolicyVersion | null> {
    const [r] = await this.read('SELECT * FROM policy_versions WHERE version = $1', [version]);
    return r ? policyFromRow(r) : null;
  }

  // ---- API tokens
  async insertApiToken(t: ApiToken): Promise<void> {
    try {
      await this.exec('INSERT INTO api_tokens (id, name, role, token_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        t.id,
        t.name,
        t.role,
        t.tokenHash,
        t.createdAt,
        t.revokedAt,
      ]);
    } catch (err) {
      this.fail(err, `token ${q(t.name)}`);
    }
  }

  async findApiTokenByHash(hash: string): Promise<ApiToken | null> {
    const [r] = await this.read('SELECT * FROM api_tokens WHERE token_hash = $1', [hash]);
    return r ? tokenFromRow(r) : null;
  }

  async listApiTokens(): Promise<ApiToken[]> {
    return (await this.read(`SELECT * FROM api_tokens ORDER BY created_at, id ${C}`)).map(tokenFromRow);
  }

  async revokeApiToken(idOrName: string, at: number): Promise<ApiToken> {
    const [r] = await this.read('SELECT id FROM api_tokens WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1', [idOrName]);
    if (!r) throw new NotFoundError(`token ${q(idOrName)} not found`);
    // Revoked once: a second revocation keeps the first instant.
    await this.exec('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, r.id]);
    const [t] = await this.read('SELECT * FROM api_tokens WHERE id = $1', [r.id]);
    if (!t) throw new NotFoundError(`token ${q(idOrName)} not found`);
    return tokenFromRow(t);
  }

  // ---- users
  async insertUser(u: User): Promise<void> {
    try {
      await this.exec('INSERT INTO users (id, name, email, roles, status, token_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
        u.id,
        u.name,
        u.email,
        JSON.stringify(u.roles),
        u.status,
        u.tokenHash,
        u.createdAt,
        u.updatedAt,
      ]);
    } catch (err) {
      this.fail(err, `user ${q(u.email)}`);
    }
  }

  async getUser(idOrEmail: string): Promise<User | null> {
    const [r] = await this.read('SELECT * FROM users WHERE id = $1 OR email = $1 ORDER BY (id = $1) DESC LIMIT 1', [idOrEmail]);
    return r ? userFromRow(r) : null;
  }

  async findUserByTokenHash(hash: string): Promise<User | null> {
    const [r] = await this.read('SELECT * FROM users WHERE token_hash = $1', [hash]);
    return r ? userFromRow(r) : null;
  }

  async listUsers(): Promise<User[]> {
    return (await this.read(`SELECT * FROM users ORDER BY created_at, email ${C}`)).map(userFromRow);
  }

  async updateUser(id: string, patch: Partial<Pick<User, 'roles' | 'status' | 'tokenHash' | 'name'>>, now: number): Promise<User> {
    const u = await this.getUser(id);
    if (!u) throw new NotFoundError(`user ${q(id)} not found`);
    const next = { ...u, ...patch, updatedAt: now };
    let rows: Row[] = [];
    try {
      rows = (
        await this.exec('UPDATE users SET name = $1, roles = $2, status = $3, token_hash = $4, updated_at = $5 WHERE id = $6 RETURNING *', [
          next.name,
          JSON.stringify(next.roles),
          next.status,
          next.tokenHash,
          now,
          u.id,
        ])
      ).rows;
    } catch (err) {
      this.fail(err, `user ${q(u.email)}`);
    }
    if (!rows[0]) throw new NotFoundError(`user ${q(id)} not found`);
    return userFromRow(rows[0]);
  }

  // ---- approvals
  async insertApproval(a: Approval): Promise<void> {
    try {
      await this.exec(
        `INSERT INTO approvals (id, kind, action_hash, status, task_id, agent_id, requester, tool, args, intent, reason, policy_ids, policy_version,
           approvers, quorum, decisions, data, created_at, expires_at, decided_at, used_at, end_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
        [
          a.id, a.kind, a.actionHash, a.status, a.taskId, a.agentId, a.requester, a.tool, JSON.stringify(a.args ?? null), a.intent, a.reason,
          JSON.stringify(a.policyIds), a.policyVersion, JSON.stringify(a.approvers), a.quorum, JSON.stringify(a.decisions), JSON.stringify(a.data),
          a.createdAt, a.expiresAt, a.decidedAt, a.usedAt, a.endReason,
        ],
      );
    } catch (err) {
      this.fail(err, `approval ${q(a.id)}`);
    }
  }

  async getApproval(id: string): Promise<Approval | null> {
    const [r] = await this.read('SELECT * FROM approvals WHERE id = $1', [id]);
    return r ? approvalFromRow(r) : null;
  }

  async listApprovals(filter: ApprovalFilter = {}): Promise<Approval[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    if (filter.taskId) where.push(`task_id = $${args.push(filter.taskId)}`);
    if (filter.kind) where.push(`kind = $${args.push(filter.kind)}`);
    const sql = `SELECT * FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id ${C} DESC LIMIT $${args.push(sqlLimit(filter.limit ?? 1000))}`;
    return (await this.read(sql, args)).map(approvalFromRow);
  }

  async findLiveApproval(actionHash: string, now: number): Promise<Approval | null> {
    const [r] = await this.read(
      `SELECT * FROM approvals WHERE action_hash = $1 AND status IN ('pending', 'approved') AND expires_at > $2
       ORDER BY status = 'approved' DESC, created_at DESC, id ${C} DESC LIMIT 1`,
      [actionHash, now],
    );
    return r ? approvalFromRow(r) : null;
  }

  async decideApproval(id: string, d: ApprovalDecision, now: number): Promise<ApprovalDecisionResult> {
    // The row is locked while the decision is weighed: deciders on several replicas go one at a time.
    return this.tx(async (c): Promise<ApprovalDecisionResult> => {
      const r = (await c.query<Row>('SELECT * FROM approvals WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!r) return { ok: false, approval: null, problem: 'not_found' };
      const a = approvalFromRow(r);
      if (a.status !== 'pending') return { ok: false, approval: a, problem: 'not_pending' };
      if (a.expiresAt <= now) return { ok: false, approval: a, problem: 'expired' };
      if (a.decisions.some((x) => x.by === d.by)) return { ok: false, approval: a, problem: 'already_decided' };
      const decisions = [...a.decisions, d];
      const approvals = decisions.filter((x) => x.decision === 'approve').length;
      const status: ApprovalStatus = d.decision === 'deny' ? 'denied' : approvals >= a.quorum ? 'approved' : 'pending';
      const decidedAt = status === 'pending' ? null : now;
      await c.query('UPDATE approvals SET decisions = $1, status = $2, decided_at = $3 WHERE id = $4', [JSON.stringify(decisions), status, decidedAt, id]);
      return { ok: true, approval: { ...a, decisions, status, decidedAt } };
    });
  }

  async consumeApproval(id: string, actionHash: string, now: number): Promise<boolean> {
    const { rowCount } = await this.exec(
      `UPDATE approvals SET status = 'used', used_at = $1 WHERE id = $2 AND action_hash = $3 AND status = 'approved' AND expires_at > $1`,
      [now, id, actionHash],
    );
    return rowCount === 1;
  }

  async expireApprovals(now: number): Promise<Approval[]> {
    const rows = await this.exec(
      `WITH done AS (
         UPDATE approvals SET status = 'expired', end_reason = 'expired' WHERE status IN ('pending', 'approved') AND expires_at <= $1 RETURNING *)
       SELECT * FROM done ORDER BY created_at, id ${C}`,
      [now],
    );
    return rows.rows.map(approvalFromRow);
  }

  async countPendingApprovals(now: number): Promise<number> {
    const [r] = await this.read(`SELECT count(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > $1`, [now]);
    return (r?.n as number | undefined) ?? 0;
  }

  async voidApprovalsNotOf(policyVersion: string, now: number): Promise<Approval[]> {
    const rows = await this.exec(
      `WITH done AS (
         UPDATE approvals SET status = 'expired', end_reason = 'policy changed'
         WHERE kind IN ('tool_call', 'authzen') AND status IN ('pending', 'approved') AND policy_version <> $1 AND expires_at > $2 RETURNING *)
       SELECT * FROM done ORDER BY created_at, id ${C}`,
      [policyVersion, now],
    );
    return rows.rows.map(approvalFromRow);
  }

  // ---- tool pins
  async listToolPins(upstream?: string): Promise<ToolPin[]> {
    const rows = upstream
      ? await this.read(`SELECT * FROM tool_pins WHERE upstream = $1 ORDER BY upstream ${C}, tool ${C}`, [upstream])
      : await this.read(`SELECT * FROM tool_pins ORDER BY upstream ${C}, tool ${C}`);
    return rows.map(pinFromRow);
  }

  // ---- MCP sessions
  async putMcpSession(m: McpSessionRecord): Promise<void> {
    await this.exec('INSERT INTO mcp_sessions (id, task_id, agent_id, init, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING', [m.id, m.taskId, m.agentId, JSON.stringify(m.init), m.createdAt]);
  }

  async getMcpSession(id: string): Promise<McpSessionRecord | null> {
    const r = (await this.read('SELECT * FROM mcp_sessions WHERE id = $1', [id]))[0];
    return r ? { id: r.id as string, taskId: r.task_id as string, agentId: r.agent_id as string, init: JSON.parse(r.init as string), createdAt: r.created_at as number } : null;
  }

  async deleteMcpSession(id: string): Promise<void> {
    await this.exec('DELETE FROM mcp_sessions WHERE id = $1', [id]);
  }

  async pruneMcpSessions(before: number): Promise<number> {
    const r = await this.exec(`DELETE FROM mcp_sessions WHERE created_at < $1 OR task_id IN (SELECT id FROM tasks WHERE status NOT IN ('active', 'pending_approval'))`, [before]);
    return r.rowCount ?? 0;
  }

  // ---- OAuth authorization-code flow
  async putOAuthClient(c: OAuthClient): Promise<void> {
    // A replacement (a re-fetched CIMD document) keeps when and by whom the client was first
    // registered, and never lifts a revocation.
    await this.exec(
      `INSERT INTO oauth_clients (id, kind, name, redirect_uris, metadata, created_at, created_by, revoked_at, fetched_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, redirect_uris = excluded.redirect_uris, metadata = excluded.metadata,
         revoked_at = COALESCE(oauth_clients.revoked_at, excluded.revoked_at), fetched_at = excluded.fetched_at`,
      [c.id, c.kind, c.name, JSON.stringify(c.redirectUris), JSON.stringify(c.metadata), c.createdAt, c.createdBy, c.revokedAt, c.fetchedAt],
    );
  }

  async getOAuthClient(id: string): Promise<OAuthClient | null> {
    const [r] = await this.read('SELECT * FROM oauth_clients WHERE id = $1', [id]);
    return r ? oauthClientFromRow(r) : null;
  }

  async listOAuthClients(filter: { kind?: 'dcr' | 'cimd'; includeRevoked?: boolean; limit?: number } = {}): Promise<OAuthClient[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.kind) where.push(`kind = $${args.push(filter.kind)}`);
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    const limit = Math.min(Math.max(filter.limit ?? 1000, 1), 10_000);
    const sql = `SELECT * FROM oauth_clients ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id ${C} DESC LIMIT $${args.push(limit)}`;
    return (await this.read(sql, args)).map(oauthClientFromRow);
  }

  async revokeOAuthClient(id: string, at: number): Promise<boolean> {
    const { rowCount } = await this.exec('UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2', [at, id]);
    return rowCount === 1;
  }

  async countOAuthClientsSince(createdBy: string, since: number): Promise<number> {
    const [r] = await this.read('SELECT count(*) AS n FROM oauth_clients WHERE created_by = $1 AND created_at >= $2', [createdBy, since]);
    return (r?.n as number | undefined) ?? 0;
  }

  async putAuthorizationCode(c: AuthorizationCode): Promise<void> {
    try {
      await this.exec(
        `INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, code_challenge, resource, task_id, user_id, jkt, expires_at, used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [c.codeHash, c.clientId, c.redirectUri, c.codeChallenge, c.resource, c.taskId, c.userId, c.jkt, c.expiresAt, c.usedAt],
      );
    } catch (err) {
      this.fail(err, 'authorization code');
    }
  }

  async consumeAuthorizationCode(codeHash: string, now: number): Promise<AuthorizationCode | { reused: AuthorizationCode } | null> {
    // One conditional UPDATE takes the code: of two replicas exchanging it at once, the second
    // waits for the first's row lock, then finds used_at set and takes nothing. Only a loser reads
    // the row again (after the winner committed), to tell a replay from an unknown or expired code.
    const { rows } = await this.exec('UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING *', [now, codeHash]);
    if (rows[0]) return authorizationCodeFromRow(rows[0]);
    const [prior] = await this.read('SELECT * FROM oauth_codes WHERE code_hash = $1', [codeHash]);
    return prior && prior.used_at !== null ? { reused: authorizationCodeFromRow(prior) } : null;
  }

  async putRefreshToken(t: RefreshToken): Promise<void> {
    try {
      await this.exec(
        'INSERT INTO oauth_refresh_tokens (token_hash, family, task_id, client_id, jkt, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [t.tokenHash, t.family, t.taskId, t.clientId, t.jkt, t.createdAt, t.expiresAt, t.usedAt],
      );
    } catch (err) {
      this.fail(err, 'refresh token');
    }
  }

  async useRefreshToken(tokenHash: string, now: number): Promise<RefreshToken | { reused: RefreshToken } | null> {
    const { rows } = await this.exec(
      'UPDATE oauth_refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING *',
      [now, tokenHash],
    );
    if (rows[0]) return refreshTokenFromRow(rows[0]);
    const [prior] = await this.read('SELECT * FROM oauth_refresh_tokens WHERE token_hash = $1', [tokenHash]);
    return prior && prior.used_at !== null ? { reused: refreshTokenFromRow(prior) } : null;
  }

  async revokeRefreshFamily(family: string, now: number): Promise<number> {
    return (await this.exec('UPDATE oauth_refresh_tokens SET used_at = $1 WHERE family = $2 AND used_at IS NULL', [now, family])).rowCount ?? 0;
  }

  async pruneOAuth(before: number): Promise<number> {
    // One statement: both deletes commit together.
    const [r] = (
      await this.exec(
        `WITH codes AS (DELETE FROM oauth_codes WHERE expires_at < $1 RETURNING 1), tokens AS (DELETE FROM oauth_refresh_tokens WHERE expires_at < $1 RETURNING 1)
         SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM tokens) AS n`,
        [before],
      )
    ).rows;
    return (r?.n as number | undefined) ?? 0;
  }

  async addTaskValues(taskId: string, keys: string[], source: number, origin: string, cap: number): Promise<number> {
    if (!keys.length) return 0;
    // One statement: values already there gain the source; new ones go in while the task is under
    // its cap (soft: two replicas adding at once may pass it by one batch), and the count follows.
    const [r] = (
      await this.exec(
        `WITH k AS (SELECT DISTINCT unnest($2::text[]) AS key),
              upd AS (UPDATE task_values t SET sources = t.sources | $3 FROM k WHERE t.task_id = $1 AND t.key = k.key AND (t.sources & $3) = 0 RETURNING 1),
              cnt AS (SELECT COALESCE((SELECT n FROM task_value_counts WHERE task_id = $1), 0) AS n),
              ins AS (INSERT INTO task_values (task_id, key, sources, origin)
                      SELECT $1, k.key, $3, $4 FROM k WHERE NOT EXISTS (SELECT 1 FROM task_values t WHERE t.task_id = $1 AND t.key = k.key)
                      LIMIT GREATEST($5::int - (SELECT n FROM cnt), 0)
                      ON CONFLICT (task_id, key) DO NOTHING RETURNING 1),
              bump AS (INSERT INTO task_value_counts (task_id, n) SELECT $1, count(*) FROM ins HAVING count(*) > 0
                       ON CONFLICT (task_id) DO UPDATE SET n = task_value_counts.n + EXCLUDED.n RETURNING 1)
         SELECT (SELECT count(*) FROM ins)::int AS n, (SELECT count(*) FROM upd)::int AS u, (SELECT count(*) FROM bump)::int AS b`,
        [taskId, keys, source, origin, cap],
      )
    ).rows;
    return (r?.n as number | undefined) ?? 0;
  }

  async addTaskValuesMany(batch: TaskValueBatch[]): Promise<number[]> {
    // One statement each, in order (each is atomic; a batch is a tick's worth of results).
    const out: number[] = [];
    for (const b of batch) out.push(await this.addTaskValues(b.taskId, b.keys, b.source, b.origin, b.cap));
    return out;
  }

  async taskValues(taskId: string, keys: string[]): Promise<Map<string, { sources: number; origin: string }>> {
    const out = new Map<string, { sources: number; origin: string }>();
    if (!keys.length) return out;
    for (const r of await this.read('SELECT key, sources, origin FROM task_values WHERE task_id = $1 AND key = ANY($2::text[])', [taskId, keys])) out.set(r.key as string, { sources: r.sources as number, origin: r.origin as string });
    return out;
  }

  async pruneTaskValues(): Promise<number> {
    const [r] = (
      await this.exec(
        `WITH live AS (SELECT id FROM tasks WHERE status IN ('active', 'pending_approval')),
              c AS (DELETE FROM task_value_counts WHERE task_id NOT IN (SELECT id FROM live) RETURNING 1),
              v AS (DELETE FROM task_values WHERE task_id NOT IN (SELECT id FROM live) RETURNING 1)
         SELECT (SELECT count(*) FROM v)::int AS n, (SELECT count(*) FROM c)::int AS c`,
        [],
      )
    ).rows;
    return (r?.n as number | undefined) ?? 0;
  }

    async seedToolPins(upstream: string, pins: ToolPin[]): Promise<boolean> {
    const j = (v: unknown) => (v === null ? null : JSON.stringify(v));
    return this.tx(async (c) => {
      // Replicas seeing an upstream for the first time together: one records, the rest see it all.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tool_pins:${upstream}`]);
      if ((await c.query('SELECT 1 FROM tool_pins WHERE upstream = $1 LIMIT 1', [upstream])).rowCount) return false;
      for (const p of pins) {
        await c.query(
          `INSERT INTO tool_pins (upstream, tool, accepted_hash, accepted_definition, pending_hash, pending_definition, first_seen, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [upstream, p.tool, p.acceptedHash, j(p.acceptedDefinition), p.pendingHash, j(p.pendingDefinition), p.firstSeen, p.updatedAt],
        );
      }
      return true;
    });
  }

  async putToolPin(p: ToolPin): Promise<void> {
    const j = (v: unknown) => (v === null ? null : JSON.stringify(v));
    await this.exec(
      `INSERT INTO tool_pins (upstream, tool, accepted_hash, accepted_definition, pending_hash, pending_definition, first_seen, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (upstream, tool) DO UPDATE SET accepted_hash = excluded.accepted_hash, accepted_definition = excluded.accepted_definition,
         pending_hash = excluded.pending_hash, pending_definition = excluded.pending_definition, updated_at = excluded.updated_at`,
      [p.upstream, p.tool, p.acceptedHash, j(p.acceptedDefinition), p.pendingHash, j(p.pendingDefinition), p.firstSeen, p.updatedAt],
    );
  }

  // ---- audit sinks (src/audit/sinks)
  async leaseAuditSink(name: string, holder: string, now: number, until: number): Promise<AuditSinkState | null> {
    // One statement: of replicas racing for a free or expired lease, the first takes the row
    // lock and the lease; the others wait, see the new holder's unexpired lease and take nothing.
    const { rows } = await this.exec(
      `INSERT INTO audit_sinks (name, delivered_seq, holder, lease_until, created_at) VALUES ($1, 0, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
         WHERE audit_sinks.holder IS NULL OR audit_sinks.holder = excluded.holder OR audit_sinks.lease_until <= $4
       RETURNING *`,
      [name, holder, until, now],
    );
    return rows[0] ? auditSinkFromRow(rows[0]) : null;
  }

  async advanceAuditSink(name: string, holder: string, from: number, to: number, now: number): Promise<boolean> {
    const { rowCount } = await this.exec(
      'UPDATE audit_sinks SET delivered_seq = $1, delivered_at = $2, last_error = NULL, error_at = NULL WHERE name = $3 AND holder = $4 AND delivered_seq = $5',
      [to, now, name, holder, from],
    );
    return rowCount === 1;
  }

  async noteAuditSinkError(name: string, holder: string, error: string, now: number): Promise<void> {
    await this.exec('UPDATE audit_sinks SET last_error = $1, error_at = $2 WHERE name = $3 AND holder = $4', [error, now, name, holder]);
  }

  async releaseAuditSink(name: string, holder: string): Promise<void> {
    await this.exec('UPDATE audit_sinks SET lease_until = 0 WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async listAuditSinks(): Promise<AuditSinkState[]> {
    return (await this.read(`SELECT * FROM audit_sinks ORDER BY name ${C}`)).map(auditSinkFromRow);
  }
}

function auditSinkFromRow(r: Row): AuditSinkState {
  return {
    name: r.name as string,
    cursor: Number(r.delivered_seq),
    holder: (r.holder as string | null) ?? null,
    leaseUntil: Number(r.lease_until),
    lastError: (r.last_error as string | null) ?? null,
    errorAt: r.error_at == null ? null : Number(r.error_at),
    deliveredAt: r.delivered_at == null ? null : Number(r.delivered_at),
    createdAt: Number(r.created_at),
  };
}
