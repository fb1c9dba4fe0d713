// Databases as task-scoped secrets: the glue between tasks and their PostgreSQL roles. A task
// granted `<db>.query` or `<db>.connect` gets a role of its own when it becomes active (with
// exactly the privileges it declared, inside the upstream's bound, `VALID UNTIL` its expiry);
// the role goes when the task ends, is revoked, expires, or its agent is suspended — on whichever
// replica hears of it first — and a sweep drops whatever a crash left behind. Every creation and
// removal is in the audit log. `<db>.query` runs as the role (the agent never holds a password);
// `<db>.connect` hands the agent a connection string, only where policy permits that tool.

import { randomBytes } from 'node:crypto';
import { linkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readSecretFileChecked } from './file.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DbPrivilege } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import type { ToolLookup, ToolSpec } from '../core/tool.js';
import type { Task, TaskScope, TaskStore } from '../storage/types.js';
import { toolOfGrant } from '../tasks/scope.js';
import type { TaskProvisioner } from '../tasks/task-service.js';
import type { DbRoleManager } from './db-roles.js';

export interface TaskDatabasesDeps {
  roles: DbRoleManager;
  tools: ToolLookup;
  /** Names of the upstreams of kind `postgres`. */
  upstreams: string[];
  audit: AuditLog;
  store: Pick<TaskStore, 'getTask'>;
  clock: Clock;
}

export class TaskDatabases implements TaskProvisioner {
  constructor(private readonly d: TaskDatabasesDeps) {}

  /** Per database upstream, the privileges a scope declares (all its grants of that upstream's tools together). */
  wanted(scope: TaskScope): Map<string, Record<string, DbPrivilege[]>> {
    const out = new Map<string, Record<string, DbPrivilege[]>>();
    for (const g of scope.tools) {
      const tool = toolOfGrant(g.name, this.d.tools);
      if (tool?.kind !== 'postgres' || !g.privileges) continue;
      const merged = out.get(tool.upstream) ?? {};
      for (const [obj, privs] of Object.entries(g.privileges)) merged[obj] = [...new Set([...(merged[obj] ?? []), ...privs])].sort() as DbPrivilege[];
      out.set(tool.upstream, merged);
    }
    return out;
  }

  check(scope: TaskScope): string[] {
    const problems: string[] = [];
    for (const [upstream, privs] of this.wanted(scope)) for (const p of this.d.roles.outsideBound(upstream, privs)) problems.push(`database ${q(upstream)}: ${p}`);
    return problems;
  }

  async activate(task: Task): Promise<void> {
    for (const [upstream, privileges] of this.wanted(task.scope)) {
      const info = await this.d.roles.create({ upstream, taskId: task.id, agentId: task.agentId, expiresAt: task.expiresAt, privileges });
      await this.d.audit.record({ type: 'db.role.create', actor: 'system', agentId: task.agentId, taskId: task.id, outcome: 'success', data: { upstream, role: info.role, privileges, validUntil: new Date(task.expiresAt).toISOString() } });
    }
  }

  /** The task ended (any way): its roles go, with their sessions. Only the replica that really dropped one records it. */
  async taskEnded(taskId: string, reason: string): Promise<void> {
    // Only the databases the task was granted (most tasks have none: no round trip for them);
    // a task the store does not know is tried everywhere, and the sweep backs this up.
    const task = await this.d.store.getTask(taskId);
    const upstreams = task ? [...this.wanted(task.scope).keys()] : this.d.upstreams;
    for (const upstream of upstreams) {
      const role = this.d.roles.roleName(upstream, taskId);
      if (await this.d.roles.drop(upstream, taskId)) {
        await this.d.audit.record({ type: 'db.role.drop', actor: 'system', agentId: task?.agentId ?? null, taskId, outcome: 'success', data: { upstream, role, reason } });
      }
    }
  }

  /** Roles whose task is not live any more (a crash or restart missed its end): dropped and recorded. */
  async sweep(): Promise<number> {
    const now = this.d.clock.now();
    const dropped = await this.d.roles.sweep(async (taskId) => {
      const t = await this.d.store.getTask(taskId);
      return Boolean(t && t.status === 'active' && t.expiresAt > now);
    }, now);
    for (const r of dropped) {
      await this.d.audit.record({ type: 'db.role.drop', actor: 'system', agentId: r.agentId, taskId: r.taskId, outcome: 'success', data: { upstream: r.upstream, role: r.role, reason: 'swept: its task is no longer active' } });
    }
    return dropped.length;
  }

  /** `<db>.query` and `<db>.connect`, executed by Mandate for the task. */
  async run(tool: ToolSpec, task: Task, args: Record<string, unknown>): Promise<CallToolResult> {
    if (tool.remoteName === 'connect') {
      const url = this.d.roles.connectionString(tool.upstream, task.id);
      return {
        content: [{ type: 'text', text: `${url}\n(valid until ${new Date(task.expiresAt).toISOString()} or until the task ends; only the task's declared privileges)` }],
        structuredContent: { connectionString: url, validUntil: new Date(task.expiresAt).toISOString() },
      };
    }
    const sql = args.sql;
    const params = args.params ?? [];
    if (typeof sql !== 'string' || !sql.trim()) throw new MandateError('invalid_request', '`sql` must be one SQL statement');
    if (!Array.isArray(params)) throw new MandateError('invalid_request', '`params` must be an array');
    try {
      const r = await this.d.roles.query(tool.upstream, task.id, sql, params);
      const summary = `${r.command} ${r.rowCount}${r.truncated ? ` (first ${r.rows.length} rows shown)` : ''}`;
      return { content: [{ type: 'text', text: `${summary}\n${JSON.stringify(r.rows)}` }], structuredContent: { ...r } };
    } catch (err) {
      // What PostgreSQL said (permission denied, syntax) is the agent's to read and adapt to.
      if (err instanceof MandateError && err.code !== 'storage_unavailable' && err.code !== 'upstream_unavailable') return { content: [{ type: 'text', text: err.message }], isError: true };
      throw err;
    }
  }
}

/**
 * The key task-role passwords derive from: `db-role-key` in the data directory (0600), made on
 * first use. Replicas share the data directory's keys (as they share the signing keys), so any of
 * them can act as any task's role; two starting at once agree on one file (exclusive create).
 */
export function loadOrCreateRoleKey(dataDir: string): Buffer {
  const path = join(dataDir, 'db-role-key');
  // Written whole under a temporary name, then linked into place (atomic, fails if it exists).
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  const text = readSecretFileChecked('db-role-key', path);
  const key = Buffer.from(text, 'base64url');
  if (key.length < 32) throw new MandateError('config_invalid', `${path} holds ${key.length} bytes; a database role key needs 32 (delete it to make a new one, which ends every task's database access)`);
  return key;
}
