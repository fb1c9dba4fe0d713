// Management API for PEP tokens (enforcement points calling the PDP and introspection).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Mandate } from '../../mandate.js';
import type { ApiToken } from '../../storage/types.js';
import { requireAdmin } from '../auth.js';
import { parseWith } from './validate.js';

const view = (t: ApiToken) => ({ id: t.id, name: t.name, role: t.role, createdAt: new Date(t.createdAt).toISOString(), revokedAt: t.revokedAt ? new Date(t.revokedAt).toISOString() : null });

export function registerTokenRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/api/v1/tokens', async (req) => {
    await requireAdmin(m, req);
    return { tokens: (await m.apiTokens.list()).map(view) };
  });
  app.post('/api/v1/tokens', async (req, reply) => {
    const caller = await requireAdmin(m, req);
    const body = parseWith(z.object({ name: z.string(), role: z.enum(['pep', 'admin']).default('pep') }).strict(), req.body);
    const { token, record } = await m.apiTokens.create(body.name, body.role, caller.name);
    return reply.status(201).send({ ...view(record), token });
  });
  app.post<{ Params: { id: string } }>('/api/v1/tokens/:id/revoke', async (req) => {
    const caller = await requireAdmin(m, req);
    return view(await m.apiTokens.revoke(req.params.id, caller.name));
  });
}
