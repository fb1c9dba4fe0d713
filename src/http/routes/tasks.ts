// Management API for tasks: list, show, revoke (cascades to child tasks).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Mandate } from '../../mandate.js';
import type { Task } from '../../storage/types.js';
import { requireAdmin } from '../auth.js';
import { parseWith } from './validate.js';

export function taskView(t: Task, live: boolean): Record<string, unknown> {
  return {
    ...t,
    live,
    createdAt: new Date(t.createdAt).toISOString(),
    expiresAt: new Date(t.expiresAt).toISOString(),
    endedAt: t.endedAt ? new Date(t.endedAt).toISOString() : null,
  };
}

const listQuery = z
  .object({
    agent: z.string().optional(),
    status: z.enum(['pending_approval', 'active', 'completed', 'failed', 'expired', 'revoked']).optional(),
    parent: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  })
  .strict();

export function registerTaskRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/api/v1/tasks', async (req) => {
    await requireAdmin(m, req);
    const q = parseWith(listQuery, req.query, 'query');
    const agentId = q.agent ? (await m.agents.get(q.agent)).id : undefined;
    const tasks = await m.tasks.list({ agentId, status: q.status, parentId: q.parent, limit: q.limit });
    return { tasks: tasks.map((t) => taskView(t, m.tasks.isLive(t))) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/tasks/:id', async (req) => {
    await requireAdmin(m, req);
    const t = await m.tasks.get(req.params.id);
    return taskView(t, m.tasks.isLive(t));
  });

  app.post<{ Params: { id: string } }>('/api/v1/tasks/:id/revoke', async (req) => {
    const caller = await requireAdmin(m, req);
    const body = parseWith(z.object({ reason: z.string().max(500).optional() }).strict(), req.body ?? {});
    const before = await m.tasks.get(req.params.id);
    const ended = before.status !== 'active' && before.status !== 'pending_approval';
    const t = await m.tasks.revoke(req.params.id, caller.name, body.reason ? `revoked by ${caller.name}: ${body.reason}` : `revoked by ${caller.name}`);
    const fresh = await m.tasks.get(t.id);
    // Revoking a task that had already ended changes nothing; the caller is told so.
    return { ...taskView(fresh, m.tasks.isLive(fresh)), alreadyEnded: ended };
  });
}
