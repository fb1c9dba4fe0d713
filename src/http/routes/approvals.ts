// People, approvals and break-glass over the management API. Approving and denying take a
// personal user token (never an agent credential, never the admin or a PEP token): an approval
// is a named person's decision.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Mandate } from '../../mandate.js';
import { publicUser } from '../../identity/users.js';
import type { Approval } from '../../storage/types.js';
import { requireAdmin, requireCaller } from '../auth.js';
import { parseWith } from './validate.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function approvalView(a: Approval) {
  return {
    id: a.id,
    kind: a.kind,
    status: a.status,
    agent: a.agentId,
    task: a.taskId,
    requester: a.requester,
    tool: a.tool,
    args: a.args,
    intent: a.intent,
    reason: a.reason,
    policyIds: a.policyIds,
    policyVersion: a.policyVersion,
    approvers: a.approvers,
    quorum: a.quorum,
    decisions: a.decisions.map((d) => ({ ...d, at: iso(d.at) })),
    actionHash: a.actionHash,
    createdAt: iso(a.createdAt),
    expiresAt: iso(a.expiresAt),
    decidedAt: iso(a.decidedAt),
    usedAt: iso(a.usedAt),
    endReason: a.endReason,
  };
}

const userView = (u: Parameters<typeof publicUser>[0]) => {
  const p = publicUser(u);
  return { ...p, createdAt: iso(p.createdAt), updatedAt: iso(p.updatedAt) };
};

export function registerApprovalRoutes(app: FastifyInstance, m: Mandate): void {
  // ---- users (admins manage them)
  app.get('/api/v1/users', async (req) => {
    await requireAdmin(m, req);
    return { users: (await m.users.list()).map(userView) };
  });
  app.post('/api/v1/users', async (req, reply) => {
    const caller = await requireAdmin(m, req);
    const body = parseWith(z.object({ name: z.string(), email: z.string(), roles: z.array(z.string()).default([]) }).strict(), req.body);
    const { user, token } = await m.users.create(body, caller.name);
    return reply.status(201).send({ ...userView(user), token });
  });
  app.post<{ Params: { id: string } }>('/api/v1/users/:id/disable', async (req) => {
    const caller = await requireAdmin(m, req);
    return userView(await m.users.setStatus(req.params.id, 'disabled', caller.name));
  });
  app.post<{ Params: { id: string } }>('/api/v1/users/:id/enable', async (req) => {
    const caller = await requireAdmin(m, req);
    return userView(await m.users.setStatus(req.params.id, 'active', caller.name));
  });
  app.post<{ Params: { id: string } }>('/api/v1/users/:id/token', async (req, reply) => {
    const caller = await requireAdmin(m, req);
    const { user, token } = await m.users.rotateToken(req.params.id, caller.name);
    return reply.status(201).send({ ...userView(user), token });
  });
  app.get('/api/v1/me', async (req) => {
    const caller = await requireCaller(m, req, ['admin', 'pep', 'user']);
    return { name: caller.name, role: caller.role, ...(caller.user ? { user: userView(caller.user) } : {}) };
  });

  // ---- approvals
  const listQuery = z
    .object({
      status: z.enum(['pending', 'approved', 'denied', 'expired', 'used']).optional(),
      kind: z.enum(['tool_call', 'task_start', 'breakglass', 'authzen', 'task_amend']).optional(),
      task: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    })
    .strict();
  app.get('/api/v1/approvals', async (req) => {
    await requireCaller(m, req, ['admin', 'user']);
    const q = parseWith(listQuery, req.query ?? {}, 'query');
    const list = await m.approvals.list({ ...(q.status ? { status: q.status } : {}), ...(q.kind ? { kind: q.kind } : {}), ...(q.task ? { taskId: q.task } : {}), limit: q.limit });
    return { approvals: list.map(approvalView) };
  });
  app.get<{ Params: { id: string } }>('/api/v1/approvals/:id', async (req) => {
    await requireCaller(m, req, ['admin', 'user']);
    return approvalView(await m.approvals.get(req.params.id));
  });
  const decisionBody = z.object({ reason: z.string().max(1000).optional() }).strict();
  for (const decision of ['approve', 'deny'] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/approvals/:id/${decision}`, async (req) => {
      const caller = await requireCaller(m, req, ['user', 'admin', 'pep']);
      const body = parseWith(decisionBody, req.body ?? {});
      return approvalView(await m.approvals.decide(req.params.id, caller, decision, body.reason ?? null));
    });
  }

  // ---- break-glass
  app.post('/api/v1/breakglass', async (req, reply) => {
    const caller = await requireCaller(m, req, ['user', 'admin', 'pep']);
    const body = parseWith(
      z.object({ agent: z.string(), tools: z.array(z.string()).min(1), reason: z.string(), ttl: z.number().int(), resources: z.array(z.string()).optional() }).strict(),
      req.body,
    );
    const { approval, task } = await m.approvals.requestBreakGlass(caller, { agentId: body.agent, tools: body.tools, reason: body.reason, ttl: body.ttl, ...(body.resources ? { resources: body.resources } : {}) });
    return reply.status(201).send({ approval: approvalView(approval), task: { id: task.id, status: task.status } });
  });
  app.get<{ Params: { id: string } }>('/api/v1/breakglass/:id/report', async (req) => {
    await requireCaller(m, req, ['admin', 'user']);
    const r = await m.approvals.breakGlassReport(req.params.id);
    return {
      approval: approvalView(r.approval),
      task: r.task ? { id: r.task.id, agent: r.task.agentId, status: r.task.status, tools: r.task.scope.tools.map((t) => t.name), createdAt: iso(r.task.createdAt), expiresAt: iso(r.task.expiresAt), endedAt: iso(r.task.endedAt), endReason: r.task.endReason } : null,
      events: r.events.map((e) => ({ seq: e.seq, ts: iso(e.ts), type: e.type, actor: e.actor, decision: e.decision, outcome: e.outcome, data: e.data })),
    };
  });
}
