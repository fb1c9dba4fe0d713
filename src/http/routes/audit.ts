// Management API for the audit log: query, verify the hash chain, export as JSON Lines.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Mandate } from '../../mandate.js';
import { requireAdmin } from '../auth.js';
import { parseWith } from './validate.js';

const listQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
    task: z.string().optional(),
    agent: z.string().optional(),
    type: z.string().optional(),
    decision: z.enum(['allow', 'deny', 'approval_required']).optional(),
    /** Milliseconds since the epoch. */
    since: z.coerce.number().int().min(0).optional(),
    until: z.coerce.number().int().min(0).optional(),
    order: z.enum(['asc', 'desc']).optional(),
  })
  .strict();

export function registerAuditRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/api/v1/audit', async (req) => {
    await requireAdmin(m, req);
    const q = parseWith(listQuery, req.query, 'query');
    const events = await m.audit.list({ afterSeq: q.after, limit: q.limit ?? 100, taskId: q.task, agentId: q.agent, type: q.type, decision: q.decision, since: q.since, until: q.until, newestFirst: q.order === 'desc' });
    return { events };
  });

  app.post('/api/v1/audit/verify', async (req) => {
    await requireAdmin(m, req);
    await m.audit.drain();
    return m.audit.verify();
  });

  // Audit streaming: each sink's cursor, lag and last error, and the checkpoint schedule (no header values, no URL credentials).
  app.get('/api/v1/audit/sinks', async (req) => {
    await requireAdmin(m, req);
    return m.auditSinks.status();
  });

  app.get('/api/v1/audit/export', async (req, reply) => {
    await requireAdmin(m, req);
    const q = parseWith(listQuery.pick({ after: true }), req.query, 'query');
    reply.header('Content-Type', 'application/x-ndjson');
    let after = q.after ?? 0;
    const lines: string[] = [];
    for (;;) {
      const page = await m.audit.list({ afterSeq: after, limit: 5000 });
      if (page.length === 0) break;
      for (const e of page) lines.push(JSON.stringify(e));
      after = page[page.length - 1]!.seq;
    }
    return reply.send(lines.length ? `${lines.join('\n')}\n` : '');
  });
}
