// Liveness and readiness for orchestrators.

import type { FastifyInstance } from 'fastify';
import type { Mandate } from '../../mandate.js';
import { errorBody } from '../error-handler.js';

export function registerHealthRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await m.store.ping();
      return { status: 'ready', policyVersion: m.policy.version };
    } catch {
      return reply.status(503).send(errorBody('storage_unavailable', 'storage is unreachable'));
    }
  });
}
