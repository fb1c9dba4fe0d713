// The embedded store: better-sqlite3 in WAL mode. Calls are synchronous underneath and exposed
// through the same async interface as PostgreSQL so services never care which one they have.

import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { q } from '../../core/errors.js';
import { ConflictError, NotFoundError, StorageUnavailableError } from '../errors.js';
import { GENESIS_HASH } from '../types.js';
import { openSqlite, type SqliteDatabase, type SqliteStatement } from './driver.js';
import type { AuditSinkState, ReplayUse, TaskValueBatch } from '../types.js';
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

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/sqlite/', import.meta.url));


/** What a SQLite result code means for an operator, and what to do about it. */
function faultOf(code: string): { cause: string; fix: string; untrusted?: boolean } | null {
  if (code === 'SQLITE_FULL') return { cause: 'the disk holding the database is full', fix: 'free space on the data volume (docs/operations.md: disk budget)' };
  if (code.startsWith('SQLITE_READONLY')) return { cause: 'the database is read-only', fix: 'make the data directory and database file writable by the Mandate process' };
  if (code.startsWith('SQLITE_IOERR')) return { cause: `the disk reported an I/O error (${code})`, fix: 'check the data volume (dmesg, df); Mandate retries on its own once writes succeed' };
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return { cause: 'the database file is corrupted', fix: 'stop Mandate, move the file aside and restore it from a backup', untrusted: true };
  if (code === 'SQLITE_CANTOPEN') return { cause: 'the database file cannot be opened', fix: 'check that the data directory exists and is writable' };
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return { cause: 'the database is locked by another process', fix: 'retry; if it persists, look for another process holding the file' };
  return null;
}

export interface StoreTrust {
  /** Why the store must not be used to decide anything, or null. */
  untrusted: string | null;
}

function translate(err: unknown, what: string, trust?: StoreTrust): never {
  if (err instanceof StorageUnavailableError) throw err;
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_CONSTRAINT')) throw new ConflictError(`${what}: already exists or violates a constraint`, err);
  const fault = faultOf(code);
  if (fault) {
    if (fault.untrusted && trust && !trust.untrusted) trust.untrusted = `${fault.cause}: ${fault.fix}`;
    throw new StorageUnavailableError(`storage unavailable (${what}): ${fault.cause}; ${fault.fix}`, err);
  }
  throw err;
}

export function applySqliteMigrations(db: SqliteDatabase, dir: string = MIGRATIONS_DIR): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
  );
  const files = readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort();
  let count = 0;
  for (const file of files) {
    const version = Number.parseInt(file.split('_')[0] ?? '', 10);
    if (applied.has(version)) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(version, file, Date.now());
    }).immediate();
    count++;
  }
  return count;
}

export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. */
  path: string;
  readonly?: boolean;
}

/** Methods that do their own checks (or must work on a broken store, like closing it). */
const UNGUARDED = new Set(['constructor', 'ping', 'probe', 'close', 'freeBytes', 'checkpoint', 'guard', 'checkIdentity', 'failed', 'hotTx', 'grouped', 'commitGroup']);

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly db: SqliteDatabase;
  private readonly stmts: Record<string, SqliteStatement>;

  /** Why this store must not be used (corruption, the file deleted or replaced under us), or null. */
  readonly trust: StoreTrust = { untrusted: null };
  onUnavailable: ((op: string) => void) | null = null;
  private readonly path: string;
  private identity: { dev: number; ino: number } | null = null;
  private identityCheckedAt = 0;
  /**
   * Transactions on the per-call path, wrapped once: better-sqlite3 builds a new wrapper (and its
   * deferred/immediate/exclusive variants) on every `transaction()` call, ~17 µs each.
   */
  private readonly hot = new Map<string, unknown>();

  private hotTx<F extends (...args: never[]) => unknown>(name: string, fn: F): (...args: Parameters<F>) => ReturnType<F> {
    let t = this.hot.get(name) as ((...args: Parameters<F>) => ReturnType<F>) | undefined;
    if (!t) this.hot.set(name, (t = this.db.transaction(fn as never) as never));
    return t;
  }

  /**
   * Group commit for the per-call writes (audit appends, call budgets, single-use ids, provenance
   * values): every such write issued in the same tick runs in one IMMEDIATE transaction, each in
   * its own savepoint (one that fails is rolled back alone and rejects alone), and every caller is
   * answered after the COMMIT — so nobody is told "done" before the write is durable, and if the
   * commit fails every one of them hears it. On this machine a commit costs ~35 µs whatever it
   * carries; under load one commit now carries many calls' writes instead of each paying its own.
   */
  private group: Array<{ run: () => unknown; resolve: (v: never) => void; reject: (err: unknown) => void }> = [];
  private groupScheduled = false;
  private groupTx: ((ops: Array<{ run: () => unknown }>) => Array<{ ok: true; v: unknown } | { ok: false; err: unknown }>) & { immediate: (ops: Array<{ run: () => unknown }>) => Array<{ ok: true; v: unknown } | { ok: false; err: unknown }> } | null = null;

  private grouped<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.group.push({ run, resolve: resolve as (v: never) => void, reject });
      if (!this.groupScheduled) {
        this.groupScheduled = true;
        setImmediate(() => this.commitGroup());
      }
    });
  }

  private commitGroup(): void {
    this.groupScheduled = false;
    const ops = this.group;
    this.group = [];
    if (!ops.length) return;
    let results;
    try {
      this.groupTx ??= this.db.transaction((list: Array<{ run: () => unknown }>) =>
        list.map((op) => {
          try {
            // Each op is a transaction function: nested here, it runs in a savepoint.
            return { ok: true as const, v: op.run() };
          } catch (err) {
            return { ok: false as const, err };
          }
        }),
      ) as never;
      results = this.groupTx!.immediate(ops);
    } catch (err) {
      // Nothing of the group is durable (the commit failed, or the store is closed): all hear it.
      for (const op of ops) op.reject(err);
      return;
    }
    results.forEach((r, i) => (r.ok ? ops[i]!.resolve(r.v as never) : ops[i]!.reject(r.err)));
  }

  constructor(opts: SqliteStoreOptions) {
    this.path = opts.path;
    const memory = opts.path === ':memory:';
    const existed = !memory && existsSync(opts.path);
    if (!memory) {
      try {
        mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new StorageUnavailableError(`cannot create the data directory ${q(dirname(opts.path))} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check that the volume is mounted writable and Mandate may write there`, err);
      }
    }
    try {
      this.db = openSqlite(opts.path, { fileMustExist: false, timeout: 5000 });
    } catch (err) {
      throw new StorageUnavailableError(`cannot open database ${q(opts.path)}: ${(err as Error).message}; check that the data directory exists and is writable`, err);
    }
    try {
      // The store holds the audit log and token hashes: owner-only, like the key files beside it.
      if (!memory) chmodSync(opts.path, 0o600);
      // A file that is not a database, or a damaged one, is refused at start with what to do,
      // never run on until a later write trips over it.
      if (existed) {
        const check = this.db.pragma('quick_check', { simple: true }) as string;
        if (check !== 'ok') throw Object.assign(new Error(`integrity check failed: ${String(check).slice(0, 200)}`), { code: 'SQLITE_CORRUPT' });
      }
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a committed transaction survives a process crash (not an OS crash).
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      // The WAL is checkpointed every ~4 MB (1000 pages) and cut back to 16 MB after a
      // checkpoint, so it cannot grow without bound under steady load (docs/operations.md).
      this.db.pragma('wal_autocheckpoint = 1000');
      this.db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
      applySqliteMigrations(this.db);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const fault = faultOf(code);
      this.db.close();
      throw new StorageUnavailableError(
        fault ? `database ${q(opts.path)}: ${fault.cause}; ${fault.fix}` : `database ${q(opts.path)} cannot be used: ${(err as Error).message}`,
        err,
      );
    }
    if (!memory) {
      const st = statSync(opts.path);
      this.identity = { dev: st.dev, ino: st.ino };
    }
    const p = (sql: string) => this.db.prepare(sql);
    this.stmts = {
      insertAgent: p(`INSERT INTO agents (id, name, owner, purpose, environment, status, review_by, jwks, labels, created_at, updated_at)
        VALUES (@id, @name, @owner, @purpose, @environment, @status, @reviewBy, @jwks, @labels, @createdAt, @updatedAt)`),
      getAgent: p('SELECT * FROM agents WHERE id = ?'),
      insertTask: p(`INSERT INTO tasks (id, agent_id, parent_id, depth, intent, scope, status, labels, created_at, expires_at, ended_at, end_reason, decision_id, break_glass, chain)
        VALUES (@id, @agentId, @parentId, @depth, @intent, @scope, @status, @labels, @createdAt, @expiresAt, @endedAt, @endReason, @decisionId, @breakGlass, @chain)`),
      callUsed: p('SELECT used FROM task_calls WHERE task_id = ? AND tool = ?'),
      callCharge: p(`INSERT INTO task_calls (task_id, tool, used) VALUES (?, ?, 1)
        ON CONFLICT (task_id, tool) DO UPDATE SET used = used + 1 RETURNING used`),
      callCounts: p('SELECT tool, used FROM task_calls WHERE task_id = ?'),
      getTask: p('SELECT * FROM tasks WHERE id = ?'),
      expiredTasks: p(`SELECT * FROM tasks WHERE status IN ('active', 'pending_approval') AND expires_at <= ? ORDER BY expires_at LIMIT ?`),
      insertRevocation: p(`INSERT INTO revocations (task_id, revoked_at, expires_at, reason) VALUES (?, ?, ?, ?)
        ON CONFLICT (task_id) DO NOTHING`),
      listRevocations: p('SELECT * FROM revocations WHERE expires_at > ?'),
      pruneRevocations: p('DELETE FROM revocations WHERE expires_at <= ?'),
      replayGet: p('SELECT expires_at FROM replay WHERE key = ?'),
      replayUpsert: p('INSERT INTO replay (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at'),
      pruneReplay: p('DELETE FROM replay WHERE expires_at <= ?'),
      auditHead: p('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1'),
      insertAudit: p(`INSERT INTO audit_events (seq, id, ts, type, actor, agent_id, task_id, decision, outcome, data, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertPolicyVersion: p('INSERT INTO policy_versions (version, hash, created_at, source, files) VALUES (?, ?, ?, ?, ?)'),
      latestPolicyVersion: p('SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1'),
      getPolicyVersion: p('SELECT * FROM policy_versions WHERE version = ?'),
      insertApiToken: p('INSERT INTO api_tokens (id, name, role, token_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)'),
      findApiToken: p('SELECT * FROM api_tokens WHERE token_hash = ?'),
      listApiTokens: p('SELECT * FROM api_tokens ORDER BY created_at'),
      getApiToken: p('SELECT * FROM api_tokens WHERE id = ? OR name = ?'),
      revokeApiToken: p('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      putToolPin: p(`INSERT INTO tool_pins (upstream, tool, accepted_hash, accepted_definition, pending_hash, pending_definition, first_seen, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (upstream, tool) DO UPDATE SET accepted_hash = excluded.accepted_hash, accepted_definition = excluded.accepted_definition,
          pending_hash = excluded.pending_hash, pending_definition = excluded.pending_definition, updated_at = excluded.updated_at`),
    };
    // Every operation goes through one gate: refused on a store that cannot be trusted, and a
    // driver error becomes one that names the cause and the fix (a 503, never a bare 500).
    const self = this as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const name of Object.getOwnPropertyNames(SqliteStore.prototype)) {
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

  async ping(): Promise<void> {
    this.guard();
    try {
      this.db.prepare('SELECT 1').get();
    } catch (err) {
      translate(err, 'ping', this.trust);
    }
  }

  /**
   * Readiness: the store is trusted, its file is the one we opened, and a write commits.
   * Throws `StorageUnavailableError` naming the cause and the fix.
   */
  async probe(now: number): Promise<void> {
    this.checkIdentity(true);
    this.guard();
    try {
      this.db.prepare('INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at').run(now);
    } catch (err) {
      translate(err, 'write probe', this.trust);
    }
  }

  /** Free space on the volume that holds the database, in bytes (null for an in-memory store). */
  async freeBytes(): Promise<number | null> {
    if (this.path === ':memory:') return null;
    const st = statfsSync(dirname(this.path));
    return st.bavail * st.bsize;
  }

  /** A passive WAL checkpoint (never blocks writers); the WAL is truncated to its size limit after it. */
  async checkpoint(): Promise<void> {
    this.guard();
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch (err) {
      translate(err, 'checkpoint', this.trust);
    }
  }

  /** A driver error translated (see `translate`); a refusal as unavailable is told to `onUnavailable`. */
  private failed(err: unknown, op: string): never {
    try {
      translate(err, op, this.trust);
    } catch (e) {
      if (e instanceof StorageUnavailableError) this.onUnavailable?.(op);
      throw e;
    }
  }

  /** Refuses every use of a store that cannot be trusted (checked before each operation). */
  private guard(): void {
    this.checkIdentity(false);
    if (this.trust.untrusted) throw new StorageUnavailableError(`storage unavailable: ${this.trust.untrusted}`);
  }

  /**
   * A database file deleted or replaced while we run would take every later write with it
   * (they go to the unlinked file): checked at most once a second, and on every probe.
   */
  private checkIdentity(force: boolean): void {
    if (!this.identity || this.trust.untrusted) return;
    const now = Date.now();
    if (!force && now - this.identityCheckedAt < 1000) return;
    this.identityCheckedAt = now;
    let st: { dev: number; ino: number } | null = null;
    try {
      st = statSync(this.path);
    } catch {
      st = null;
    }
    if (!st) this.trust.untrusted = `the database file was deleted while Mandate was running, so nothing more can be recorded; recover it (copy it from /proc/${process.pid}/fd while Mandate still runs) or restore a backup, then restart Mandate`;
    else if (st.dev !== this.identity.dev || st.ino !== this.identity.ino) this.trust.untrusted = 'the database file was replaced while Mandate was running; restart Mandate to use the new file';
  }

  async close(): Promise<void> {
    // An untrusted store is left as it is: closing would checkpoint the write-ahead log into a
    // deleted or damaged file and remove the log that recovery needs.
    if (this.trust.untrusted) return;
    if (this.db.open) this.db.close();
  }

  // ---- agents
  async insertAgent(a: Agent): Promise<void> {
    try {
      this.stmts.insertAgent!.run({ ...a, jwks: JSON.stringify(a.jwks), labels: JSON.stringify(a.labels) });
    } catch (err) {
      translate(err, `agent ${q(a.id)}`);
    }
  }

  async getAgent(id: string): Promise<Agent | null> {
    const r = this.stmts.getAgent!.get(id) as Row | undefined;
    return r ? agentFromRow(r) : null;
  }

  async listAgents(filter: { status?: AgentStatus; owner?: string } = {}): Promise<Agent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status) {
      where.push('status = ?');
      args.push(filter.status);
    }
    if (filter.owner) {
      where.push('owner = ?');
      args.push(filter.owner);
    }
    const sql = `SELECT * FROM agents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(agentFromRow);
  }

  async updateAgent(id: string, patch: AgentPatch, now: number): Promise<Agent> {
    const cols: string[] = [];
    const args: Record<string, unknown> = { id, now };
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
      cols.push(`${col} = @${k}`);
      args[k] = k === 'jwks' || k === 'labels' ? JSON.stringify(v) : v;
    }
    const sql = `UPDATE agents SET ${[...cols, 'updated_at = @now'].join(', ')} WHERE id = @id`;
    let changes = 0;
    try {
      changes = this.db.prepare(sql).run(args).changes;
    } catch (err) {
      translate(err, `agent ${q(id)}`);
    }
    if (changes === 0) throw new NotFoundError(`agent ${q(id)} not found`);
    return (await this.getAgent(id))!;
  }

  // ---- tasks
  async insertTask(t: Task): Promise<void> {
    try {
      this.stmts.insertTask!.run({ ...t, scope: JSON.stringify(t.scope), labels: JSON.stringify(t.labels), breakGlass: t.breakGlass ? 1 : 0, chain: t.chain ? JSON.stringify(t.chain) : null });
    } catch (err) {
      translate(err, `task ${q(t.id)}`);
    }
  }

  async getTask(id: string): Promise<Task | null> {
    const r = this.stmts.getTask!.get(id) as Row | undefined;
    return r ? taskFromRow(r) : null;
  }

  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.agentId) {
      where.push('agent_id = ?');
      args.push(filter.agentId);
    }
    if (filter.status) {
      where.push('status = ?');
      args.push(filter.status);
    }
    if (filter.parentId) {
      where.push('parent_id = ?');
      args.push(filter.parentId);
    }
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 10_000);
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(taskFromRow);
  }

  async transitionTask(id: string, from: readonly TaskStatus[], to: TaskStatus, at: number, reason: string): Promise<Task | null> {
    if (from.length === 0) return null;
    const terminal = to !== 'active' && to !== 'pending_approval';
    const placeholders = from.map(() => '?').join(', ');
    const sql = terminal
      ? `UPDATE tasks SET status = ?, ended_at = ?, end_reason = ? WHERE id = ? AND status IN (${placeholders})`
      : `UPDATE tasks SET status = ? WHERE id = ? AND status IN (${placeholders})`;
    const args = terminal ? [to, at, reason, id, ...from] : [to, id, ...from];
    const changes = this.db.prepare(sql).run(...args).changes;
    if (changes === 0) {
      if (!(await this.getTask(id))) throw new NotFoundError(`task ${q(id)} not found`);
      return null;
    }
    return this.getTask(id);
  }

  async listExpiredTasks(now: number, limit: number): Promise<Task[]> {
    return (this.stmts.expiredTasks!.all(now, limit) as Row[]).map(taskFromRow);
  }

  async countActiveTasks(now: number): Promise<number> {
    return (this.db.prepare(`SELECT count(*) AS n FROM tasks WHERE status = 'active' AND expires_at > ?`).get(now) as { n: number }).n;
  }

  async addTaskLabels(id: string, labels: string[]): Promise<string[]> {
    return this.db.transaction(() => {
      const r = this.db.prepare('SELECT labels FROM tasks WHERE id = ?').get(id) as Row | undefined;
      if (!r) throw new NotFoundError(`task ${q(id)} not found`);
      const merged = [...new Set([...(JSON.parse(r.labels as string) as string[]), ...labels])].sort();
      this.db.prepare('UPDATE tasks SET labels = ? WHERE id = ?').run(JSON.stringify(merged), id);
      return merged;
    }).immediate();
  }

  // ---- call budgets
  async consumeCall(tool: string, charges: CallCharge[]): Promise<CallConsumption> {
    try {
      // IMMEDIATE: the counts are read and raised under the write lock, so two processes on one
      // file can never both take the last call.
      const tx = this.hotTx('consumeCall', (tool: string, charges: CallCharge[]): CallConsumption => {
        for (const c of charges) {
          if (c.limit === null) continue;
          const r = this.stmts.callUsed!.get(c.taskId, tool) as { used: number } | undefined;
          if ((r?.used ?? 0) >= c.limit) return { ok: false, exhausted: c.taskId, limit: c.limit };
        }
        return { ok: true, used: charges.map((c) => (this.stmts.callCharge!.get(c.taskId, tool) as { used: number }).used) };
      });
      return await this.grouped(() => tx(tool, charges));
    } catch (err) {
      translate(err, 'call budget');
    }
  }

  async callCounts(taskId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.stmts.callCounts!.all(taskId) as Array<{ tool: string; used: number }>) out[r.tool] = r.used;
    return out;
  }

  // ---- revocations
  async insertRevocation(r: Revocation): Promise<void> {
    this.stmts.insertRevocation!.run(r.taskId, r.revokedAt, r.expiresAt, r.reason);
  }

  async listRevocations(now: number): Promise<Revocation[]> {
    return (this.stmts.listRevocations!.all(now) as Row[]).map((r) => ({
      taskId: r.task_id as string,
      revokedAt: r.revoked_at as number,
      expiresAt: r.expires_at as number,
      reason: r.reason as string,
    }));
  }

  async pruneRevocations(now: number): Promise<number> {
    return this.stmts.pruneRevocations!.run(now).changes;
  }

  // ---- replay cache
  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    return (await this.useOnceMany([{ key, expiresAt, now }]))[0]!;
  }

  async useOnceMany(uses: ReplayUse[]): Promise<boolean[]> {
    if (!uses.length) return [];
    const tx = this.hotTx('useOnce', (uses: ReplayUse[]): boolean[] =>
      uses.map(({ key, expiresAt, now }) => {
        const r = this.stmts.replayGet!.get(key) as { expires_at: number } | undefined;
        if (r && r.expires_at > now) return false;
        this.stmts.replayUpsert!.run(key, expiresAt);
        return true;
      }),
    );
    return this.grouped(() => tx(uses));
  }

  async pruneReplay(now: number): Promise<number> {
    return this.stmts.pruneReplay!.run(now).changes;
  }

  // ---- audit
  async appendAudit(events: AuditEventInput[], hasher: ChainHasher): Promise<AuditEvent[]> {
    try {
      // IMMEDIATE: the head is read and extended under the write lock, so two processes
      // appending at once (server + offline CLI) can never fork the chain.
      const tx = this.hotTx('appendAudit', (events: AuditEventInput[], hasher: ChainHasher): AuditEvent[] => {
        const head = this.stmts.auditHead!.get() as { seq: number; hash: string } | undefined;
        let seq = head?.seq ?? 0;
        let prevHash = head?.hash ?? GENESIS_HASH;
        const out: AuditEvent[] = [];
        for (const e of events) {
          seq += 1;
          const partial = { ...e, seq, prevHash };
          const hash = hasher(prevHash, partial);
          this.stmts.insertAudit!.run(seq, e.id, e.ts, e.type, e.actor, e.agentId, e.taskId, e.decision, e.outcome, JSON.stringify(e.data), prevHash, hash);
          out.push({ ...partial, hash });
          prevHash = hash;
        }
        return out;
      });
      return await this.grouped(() => tx(events, hasher));
    } catch (err) {
      translate(err, 'audit append');
    }
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.afterSeq !== undefined) {
      where.push('seq > ?');
      args.push(query.afterSeq);
    }
    if (query.taskId) {
      where.push('task_id = ?');
      args.push(query.taskId);
    }
    if (query.agentId) {
      where.push('agent_id = ?');
      args.push(query.agentId);
    }
    if (query.type) {
      where.push('type = ?');
      args.push(query.type);
    }
    if (query.beforeSeq !== undefined) {
      where.push('seq < ?');
      args.push(query.beforeSeq);
    }
    if (query.decision) {
      where.push('decision = ?');
      args.push(query.decision);
    }
    if (query.since !== undefined) {
      where.push('ts >= ?');
      args.push(query.since);
    }
    if (query.until !== undefined) {
      where.push('ts < ?');
      args.push(query.until);
    }
    const limit = Math.min(Math.max(query.limit ?? 1000, 1), 100_000);
    const order = query.newestFirst ? 'DESC' : 'ASC';
    const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${order} LIMIT ${limit}`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(auditFromRow);
  }

  async auditHead(): Promise<{ seq: number; hash: string } | null> {
    const r = this.stmts.auditHead!.get() as { seq: number; hash: string } | undefined;
    return r ?? null;
  }

  // ---- policy versions
  async insertPolicyVersion(v: PolicyVersion): Promise<void> {
    try {
      this.stmts.insertPolicyVersion!.run(v.version, v.hash, v.createdAt, v.source, JSON.stringify(v.files));
    } catch (err) {
      translate(err, `policy version ${v.version}`);
    }
  }

  async latestPolicyVersion(): Promise<PolicyVersion | null> {
    const r = this.stmts.latestPolicyVersion!.get() as Row | undefined;
    return r ? policyFromRow(r) : null;
  }

  async getPolicyVersion(version: number): Promise<PolicyVersion | null> {
    const r = this.stmts.getPolicyVersion!.get(version) as Row | undefined;
    return r ? policyFromRow(r) : null;
  }

  // ---- API tokens
  async insertApiToken(t: ApiToken): Promise<void> {
    try {
      this.stmts.insertApiToken!.run(t.id, t.name, t.role, t.tokenHash, t.createdAt, t.revokedAt);
    } catch (err) {
      translate(err, `token ${q(t.name)}`);
    }
  }

  async findApiTokenByHash(hash: string): Promise<ApiToken | null> {
    const r = this.stmts.findApiToken!.get(hash) as Row | undefined;
    return r ? tokenFromRow(r) : null;
  }

  async listApiTokens(): Promise<ApiToken[]> {
    return (this.stmts.listApiTokens!.all() as Row[]).map(tokenFromRow);
  }

  async revokeApiToken(idOrName: string, at: number): Promise<ApiToken> {
    const r = this.stmts.getApiToken!.get(idOrName, idOrName) as Row | undefined;
    if (!r) throw new NotFoundError(`token ${q(idOrName)} not found`);
    this.stmts.revokeApiToken!.run(at, r.id);
    return tokenFromRow(this.stmts.getApiToken!.get(r.id, r.id) as Row);
  }
  async activateTask(id: string, expiresAt: number): Promise<Task | null> {
    const changes = this.db.prepare(`UPDATE tasks SET status = 'active', expires_at = ? WHERE id = ? AND status = 'pending_approval'`).run(expiresAt, id).changes;
    return changes ? this.getTask(id) : null;
  }

  async amendTaskScope(id: string, before: Task['scope'], after: Task['scope']): Promise<Task | null> {
    const changes = this.db.prepare(`UPDATE tasks SET scope = ?, scope_version = scope_version + 1 WHERE id = ? AND status = 'active' AND scope = ?`).run(JSON.stringify(after), id, JSON.stringify(before)).changes;
    return changes ? this.getTask(id) : null;
  }

  // ---- users
  async insertUser(u: User): Promise<void> {
    try {
      this.db
        .prepare('INSERT INTO users (id, name, email, roles, status, token_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(u.id, u.name, u.email, JSON.stringify(u.roles), u.status, u.tokenHash, u.createdAt, u.updatedAt);
    } catch (err) {
      translate(err, `user ${q(u.email)}`);
    }
  }

  async getUser(idOrEmail: string): Promise<User | null> {
    const r = this.db.prepare('SELECT * FROM users WHERE id = ? OR email = ?').get(idOrEmail, idOrEmail) as Row | undefined;
    return r ? userFromRow(r) : null;
  }

  async findUserByTokenHash(hash: string): Promise<User | null> {
    const r = this.db.prepare('SELECT * FROM users WHERE token_hash = ?').get(hash) as Row | undefined;
    return r ? userFromRow(r) : null;
  }

  async listUsers(): Promise<User[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY created_at, email').all() as Row[]).map(userFromRow);
  }

  async updateUser(id: string, patch: Partial<Pick<User, 'roles' | 'status' | 'tokenHash' | 'name'>>, now: number): Promise<User> {
    const u = await this.getUser(id);
    if (!u) throw new NotFoundError(`user ${q(id)} not found`);
    const next = { ...u, ...patch, updatedAt: now };
    try {
      this.db
        .prepare('UPDATE users SET name = ?, roles = ?, status = ?, token_hash = ?, updated_at = ? WHERE id = ?')
        .run(next.name, JSON.stringify(next.roles), next.status, next.tokenHash, now, u.id);
    } catch (err) {
      translate(err, `user ${q(u.email)}`);
    }
    return next;
  }

  // ---- approvals
  async insertApproval(a: Approval): Promise<void> {
    try {
      this.db
        .prepare(
          `INSERT INTO approvals (id, kind, action_hash, status, task_id, agent_id, requester, tool, args, intent, reason, policy_ids, policy_version,
             approvers, quorum, decisions, data, created_at, expires_at, decided_at, used_at, end_reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          a.id, a.kind, a.actionHash, a.status, a.taskId, a.agentId, a.requester, a.tool, JSON.stringify(a.args ?? null), a.intent, a.reason,
          JSON.stringify(a.policyIds), a.policyVersion, JSON.stringify(a.approvers), a.quorum, JSON.stringify(a.decisions), JSON.stringify(a.data),
          a.createdAt, a.expiresAt, a.decidedAt, a.usedAt, a.endReason,
        );
    } catch (err) {
      translate(err, `approval ${q(a.id)}`);
    }
  }

  async getApproval(id: string): Promise<Approval | null> {
    const r = this.db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
    return r ? approvalFromRow(r) : null;
  }

  async listApprovals(filter: ApprovalFilter = {}): Promise<Approval[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status) (where.push('status = ?'), args.push(filter.status));
    if (filter.taskId) (where.push('task_id = ?'), args.push(filter.taskId));
    if (filter.kind) (where.push('kind = ?'), args.push(filter.kind));
    const sql = `SELECT * FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as Row[]).map(approvalFromRow);
  }

  async findLiveApproval(actionHash: string, now: number): Promise<Approval | null> {
    const r = this.db
      .prepare(`SELECT * FROM approvals WHERE action_hash = ? AND status IN ('pending', 'approved') AND expires_at > ? ORDER BY status = 'approved' DESC, created_at DESC LIMIT 1`)
      .get(actionHash, now) as Row | undefined;
    return r ? approvalFromRow(r) : null;
  }

  async decideApproval(id: string, d: ApprovalDecision, now: number): Promise<ApprovalDecisionResult> {
    // One synchronous transaction: concurrent deciders are serialised by SQLite.
    return this.db.transaction((): ApprovalDecisionResult => {
      const r = this.db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
      if (!r) return { ok: false, approval: null, problem: 'not_found' };
      const a = approvalFromRow(r);
      if (a.status !== 'pending') return { ok: false, approval: a, problem: 'not_pending' };
      if (a.expiresAt <= now) return { ok: false, approval: a, problem: 'expired' };
      if (a.decisions.some((x) => x.by === d.by)) return { ok: false, approval: a, problem: 'already_decided' };
      const decisions = [...a.decisions, d];
      const approvals = decisions.filter((x) => x.decision === 'approve').length;
      const status: ApprovalStatus = d.decision === 'deny' ? 'denied' : approvals >= a.quorum ? 'approved' : 'pending';
      const decidedAt = status === 'pending' ? null : now;
      this.db.prepare('UPDATE approvals SET decisions = ?, status = ?, decided_at = ? WHERE id = ?').run(JSON.stringify(decisions), status, decidedAt, id);
      return { ok: true, approval: { ...a, decisions, status, decidedAt } };
    }).immediate();
  }

  async consumeApproval(id: string, actionHash: string, now: number): Promise<boolean> {
    const changes = this.db
      .prepare(`UPDATE approvals SET status = 'used', used_at = ? WHERE id = ? AND action_hash = ? AND status = 'approved' AND expires_at > ?`)
      .run(now, id, actionHash, now).changes;
    return changes === 1;
  }

  async expireApprovals(now: number): Promise<Approval[]> {
    return this.db.transaction(() => {
      const rows = this.db.prepare(`SELECT * FROM approvals WHERE status IN ('pending', 'approved') AND expires_at <= ?`).all(now) as Row[];
      this.db.prepare(`UPDATE approvals SET status = 'expired', end_reason = 'expired' WHERE status IN ('pending', 'approved') AND expires_at <= ?`).run(now);
      return rows.map((r) => ({ ...approvalFromRow(r), status: 'expired' as const, endReason: 'expired' }));
    }).immediate();
  }

  async countPendingApprovals(now: number): Promise<number> {
    return (this.db.prepare(`SELECT count(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > ?`).get(now) as { n: number }).n;
  }

  async voidApprovalsNotOf(policyVersion: string, now: number): Promise<Approval[]> {
    return this.db.transaction(() => {
      const sel = `SELECT * FROM approvals WHERE kind IN ('tool_call', 'authzen') AND status IN ('pending', 'approved') AND policy_version <> ? AND expires_at > ?`;
      const rows = this.db.prepare(sel).all(policyVersion, now) as Row[];
      const upd = this.db.prepare(`UPDATE approvals SET status = 'expired', end_reason = 'policy changed' WHERE id = ?`);
      for (const r of rows) upd.run(r.id);
      return rows.map((r) => ({ ...approvalFromRow(r), status: 'expired' as const, endReason: 'policy changed' }));
    }).immediate();
  }

  // ---- tool pins
  async listToolPins(upstream?: string): Promise<ToolPin[]> {
    const rows = upstream
      ? (this.db.prepare('SELECT * FROM tool_pins WHERE upstream = ? ORDER BY upstream, tool').all(upstream) as Row[])
      : (this.db.prepare('SELECT * FROM tool_pins ORDER BY upstream, tool').all() as Row[]);
    return rows.map(pinFromRow);
  }

  // ---- MCP sessions
  async putMcpSession(m: McpSessionRecord): Promise<void> {
    this.db.prepare('INSERT INTO mcp_sessions (id, task_id, agent_id, init, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(m.id, m.taskId, m.agentId, JSON.stringify(m.init), m.createdAt);
  }

  async getMcpSession(id: string): Promise<McpSessionRecord | null> {
    const r = this.db.prepare('SELECT * FROM mcp_sessions WHERE id = ?').get(id) as Row | undefined;
    return r ? { id: r.id as string, taskId: r.task_id as string, agentId: r.agent_id as string, init: JSON.parse(r.init as string), createdAt: r.created_at as number } : null;
  }

  async deleteMcpSession(id: string): Promise<void> {
    this.db.prepare('DELETE FROM mcp_sessions WHERE id = ?').run(id);
  }

  async pruneMcpSessions(before: number): Promise<number> {
    return this.db
      .prepare(`DELETE FROM mcp_sessions WHERE created_at < ? OR task_id IN (SELECT id FROM tasks WHERE status NOT IN ('active', 'pending_approval'))`)
      .run(before).changes;
  }

  // ---- OAuth authorization-code flow
  async putOAuthClient(c: OAuthClient): Promise<void> {
    // A replacement (a re-fetched CIMD document) keeps when and by whom the client was first
    // registered, and never lifts a revocation.
    this.db
      .prepare(
        `INSERT INTO oauth_clients (id, kind, name, redirect_uris, metadata, created_at, created_by, revoked_at, fetched_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, redirect_uris = excluded.redirect_uris, metadata = excluded.metadata,
           revoked_at = COALESCE(oauth_clients.revoked_at, excluded.revoked_at), fetched_at = excluded.fetched_at`,
      )
      .run(c.id, c.kind, c.name, JSON.stringify(c.redirectUris), JSON.stringify(c.metadata), c.createdAt, c.createdBy, c.revokedAt, c.fetchedAt);
  }

  async getOAuthClient(id: string): Promise<OAuthClient | null> {
    const r = this.db.prepare('SELECT * FROM oauth_clients WHERE id = ?').get(id) as Row | undefined;
    return r ? oauthClientFromRow(r) : null;
  }

  async listOAuthClients(filter: { kind?: 'dcr' | 'cimd'; includeRevoked?: boolean; limit?: number } = {}): Promise<OAuthClient[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.kind) (where.push('kind = ?'), args.push(filter.kind));
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    const limit = Math.min(Math.max(filter.limit ?? 1000, 1), 10_000);
    const sql = `SELECT * FROM oauth_clients ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, limit) as Row[]).map(oauthClientFromRow);
  }

  async revokeOAuthClient(id: string, at: number): Promise<boolean> {
    return this.db.prepare('UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?').run(at, id).changes === 1;
  }

  async countOAuthClientsSince(createdBy: string, since: number): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM oauth_clients WHERE created_by = ? AND created_at >= ?').get(createdBy, since) as { n: number }).n;
  }

  async putAuthorizationCode(c: AuthorizationCode): Promise<void> {
    try {
      this.db
        .prepare(
          `INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, code_challenge, resource, task_id, user_id, jkt, expires_at, used_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(c.codeHash, c.clientId, c.redirectUri, c.codeChallenge, c.resource, c.taskId, c.userId, c.jkt, c.expiresAt, c.usedAt);
    } catch (err) {
      translate(err, 'authorization code');
    }
  }

  async consumeAuthorizationCode(codeHash: string, now: number): Promise<AuthorizationCode | { reused: AuthorizationCode } | null> {
    // One conditional UPDATE takes the code, so two exchanges (two processes on one file) cannot
    // both win; only a loser reads the row again, to tell a replay from an unknown or expired code.
    const r = this.db.prepare('UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *').get(now, codeHash, now) as Row | undefined;
    if (r) return authorizationCodeFromRow(r);
    const prior = this.db.prepare('SELECT * FROM oauth_codes WHERE code_hash = ?').get(codeHash) as Row | undefined;
    return prior && prior.used_at != null ? { reused: authorizationCodeFromRow(prior) } : null;
  }

  async putRefreshToken(t: RefreshToken): Promise<void> {
    try {
      this.db
        .prepare('INSERT INTO oauth_refresh_tokens (token_hash, family, task_id, client_id, jkt, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(t.tokenHash, t.family, t.taskId, t.clientId, t.jkt, t.createdAt, t.expiresAt, t.usedAt);
    } catch (err) {
      translate(err, 'refresh token');
    }
  }

  async useRefreshToken(tokenHash: string, now: number): Promise<RefreshToken | { reused: RefreshToken } | null> {
    const r = this.db.prepare('UPDATE oauth_refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *').get(now, tokenHash, now) as Row | undefined;
    if (r) return refreshTokenFromRow(r);
    const prior = this.db.prepare('SELECT * FROM oauth_refresh_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return prior && prior.used_at != null ? { reused: refreshTokenFromRow(prior) } : null;
  }

  async revokeRefreshFamily(family: string, now: number): Promise<number> {
    return this.db.prepare('UPDATE oauth_refresh_tokens SET used_at = ? WHERE family = ? AND used_at IS NULL').run(now, family).changes;
  }

  async pruneOAuth(before: number): Promise<number> {
    return this.db.transaction(
      () =>
        this.db.prepare('DELETE FROM oauth_codes WHERE expires_at < ?').run(before).changes +
        this.db.prepare('DELETE FROM oauth_refresh_tokens WHERE expires_at < ?').run(before).changes,
    )();
  }

  private valueStmts: { count: SqliteStatement; insert: SqliteStatement; mark: SqliteStatement; bump: SqliteStatement } | null = null;

  async addTaskValues(taskId: string, keys: string[], source: number, origin: string, cap: number): Promise<number> {
    if (!keys.length) return 0;
    return (await this.addTaskValuesMany([{ taskId, keys, source, origin, cap }]))[0]!;
  }

  async addTaskValuesMany(batch: TaskValueBatch[]): Promise<number[]> {
    if (!batch.length) return [];
    const st = (this.valueStmts ??= {
      count: this.db.prepare('SELECT n FROM task_value_counts WHERE task_id = ?'),
      insert: this.db.prepare('INSERT OR IGNORE INTO task_values (task_id, key, sources, origin) VALUES (?, ?, ?, ?)'),
      mark: this.db.prepare('UPDATE task_values SET sources = sources | ? WHERE task_id = ? AND key = ? AND (sources & ?) = 0'),
      bump: this.db.prepare('INSERT INTO task_value_counts (task_id, n) VALUES (?, ?) ON CONFLICT (task_id) DO UPDATE SET n = n + excluded.n'),
    });
    const tx = this.hotTx('addTaskValues', (batch: TaskValueBatch[]): number[] =>
      batch.map(({ taskId, keys, source, origin, cap }) => {
        if (!keys.length) return 0;
        let n = (st.count.get(taskId) as { n: number } | undefined)?.n ?? 0;
        let added = 0;
        for (const k of keys) {
          if (n < cap && st.insert.run(taskId, k, source, origin).changes) {
            n++;
            added++;
          } else st.mark.run(source, taskId, k, source);
        }
        if (added) st.bump.run(taskId, added);
        return added;
      }),
    );
    return this.grouped(() => tx(batch));
  }

  async taskValues(taskId: string, keys: string[]): Promise<Map<string, { sources: number; origin: string }>> {
    const out = new Map<string, { sources: number; origin: string }>();
    if (!keys.length) return out;
    const rows = this.db.prepare(`SELECT key, sources, origin FROM task_values WHERE task_id = ? AND key IN (${keys.map(() => '?').join(',')})`).all(taskId, ...keys) as Array<{ key: string; sources: number; origin: string }>;
    for (const r of rows) out.set(r.key, { sources: r.sources, origin: r.origin });
    return out;
  }

  async pruneTaskValues(): Promise<number> {
    const live = "SELECT id FROM tasks WHERE status IN ('active', 'pending_approval')";
    return this.db.transaction(() => {
      this.db.prepare(`DELETE FROM task_value_counts WHERE task_id NOT IN (${live})`).run();
      return this.db.prepare(`DELETE FROM task_values WHERE task_id NOT IN (${live})`).run().changes;
    })();
  }

  async seedToolPins(upstream: string, pins: ToolPin[]): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM tool_pins WHERE upstream = ? LIMIT 1').get(upstream)) return false;
      const j = (v: unknown) => (v === null ? null : JSON.stringify(v));
      for (const p of pins) this.stmts.putToolPin!.run(upstream, p.tool, p.acceptedHash, j(p.acceptedDefinition), p.pendingHash, j(p.pendingDefinition), p.firstSeen, p.updatedAt);
      return true;
    }).immediate();
  }

  async putToolPin(p: ToolPin): Promise<void> {
    const j = (v: unknown) => (v === null ? null : JSON.stringify(v));
    this.stmts.putToolPin!.run(p.upstream, p.tool, p.acceptedHash, j(p.acceptedDefinition), p.pendingHash, j(p.pendingDefinition), p.firstSeen, p.updatedAt);
  }

  // ---- audit sinks (src/audit/sinks)
  async leaseAuditSink(name: string, holder: string, now: number, until: number): Promise<AuditSinkState | null> {
    // One statement: a new sink's row is made leased; an existing one changes hands only when
    // its lease is free or over (a process on the same file racing for it waits for the write lock).
    const r = this.db
      .prepare(
        `INSERT INTO audit_sinks (name, delivered_seq, holder, lease_until, created_at) VALUES (?, 0, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
           WHERE audit_sinks.holder IS NULL OR audit_sinks.holder = excluded.holder OR audit_sinks.lease_until <= ?
         RETURNING *`,
      )
      .get(name, holder, until, now, now) as Row | undefined;
    return r ? auditSinkFromRow(r) : null;
  }

  async advanceAuditSink(name: string, holder: string, from: number, to: number, now: number): Promise<boolean> {
    return (
      this.db
        .prepare('UPDATE audit_sinks SET delivered_seq = ?, delivered_at = ?, last_error = NULL, error_at = NULL WHERE name = ? AND holder = ? AND delivered_seq = ?')
        .run(to, now, name, holder, from).changes === 1
    );
  }

  async noteAuditSinkError(name: string, holder: string, error: string, now: number): Promise<void> {
    this.db.prepare('UPDATE audit_sinks SET last_error = ?, error_at = ? WHERE name = ? AND holder = ?').run(error, now, name, holder);
  }

  async releaseAuditSink(name: string, holder: string): Promise<void> {
    this.db.prepare('UPDATE audit_sinks SET lease_until = 0 WHERE name = ? AND holder = ?').run(name, holder);
  }

  async listAuditSinks(): Promise<AuditSinkState[]> {
    return (this.db.prepare('SELECT * FROM audit_sinks ORDER BY name').all() as Row[]).map(auditSinkFromRow);
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
