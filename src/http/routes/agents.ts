// Management API for the agent registry.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Mandate } from '../../mandate.js';
import type { Agent } from '../../storage/types.js';
import { requireAdmin } from '../auth.js';
import { parseWith } from './validate.js';

const createSchema = z
  .object({
    name: z.string(),
    owner: z.string(),
    purpose: z.string(),
    environment: z.string(),
    reviewBy: z.string().nullable().optional(),
    labels: z.array(z.string().max(64)).max(32).optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).strict(),
  })
  .strict();

const statusSchema = z.object({ reason: z.string().max(500).optional() }).strict();

export function agentView(a: Agent): Record<string, unknown> {
  return { ...a, createdAt: new Date(a.createdAt).toISOString(), updatedAt: new Date(a.updatedAt).toISOString() };
}

export function registerAgentRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/api/v1/agents', async (req) => {
    await requireAdmin(m, req);
    const query = parseWith(z.object({ status: z.enum(['active', 'suspended', 'retired']).optional(), owner: z.string().optional() }).strict(), req.query, 'query');
    return { agents: (await m.agents.list(query)).map(agentView) };
  });

  app.post('/api/v1/agents', async (req, reply) => {
    const caller = await requireAdmin(m, req);
    const body = parseWith(createSchema, req.body);
    const agent = await m.agents.create(body, caller.name);
    return reply.status(201).send(agentView(agent));
  });

  app.get<{ Params: { id: string } }>('/api/v1/agents/:id', async (req) => {
    await requireAdmin(m, req);
    return agentView(await m.agents.get(req.params.id));
  });

  for (const [verb, status] of [
    ['suspend', 'suspended'],
    ['resume', 'active'],
    ['retire', 'retired'],
  ] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/agents/:id/${verb}`, async (req) => {
      const caller = await requireAdmin(m, req);
      const body = parseWith(statusSchema, req.body ?? {});
      return agentView(await m.agents.setStatus(req.params.id, status, caller.name, body.reason));
    });
  }
}
