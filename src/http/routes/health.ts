// Liveness and readiness for orchestrators. Ready means "can record a decision": the store is
// trusted, its file is the one that was opened, and a write commits; not merely "can read".

import type { FastifyInstance } from 'fastify';
import type { Mandate } from '../../mandate.js';
import { errorBody } from '../error-handler.js';

export function registerHealthRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await m.store.probe(m.clock.now());
    } catch (err) {
      return reply.status(503).send(errorBody('storage_unavailable', (err as Error).message));
    }
    // A replica that may have missed another replica's changes is not ready until it caught up.
    if (m.listener?.untrusted) return reply.status(503).send(errorBody('storage_unavailable', `this replica ${m.listener.untrusted}`));
    const free = await m.store.freeBytes().catch(() => null);
    const MB = 1024 * 1024;
    if (free !== null && free < m.config.storage.minFreeMb * MB) {
      return reply.status(503).send(errorBody('storage_unavailable', `the data volume has ${Math.floor(free / MB)} MB free, under storage.minFreeMb (${m.config.storage.minFreeMb} MB): decisions that cannot be recorded are refused; free space on the data volume (docs/operations.md: disk budget)`));
    }
    const low = free !== null && free < m.config.storage.lowDiskMb * MB;
    return {
      status: 'ready',
      policyVersion: m.policy.version,
      ...(free !== null ? { diskFreeMb: Math.floor(free / (1024 * 1024)) } : {}),
      ...(low ? { warnings: [`the data volume has less than ${m.config.storage.lowDiskMb} MB free: writes will soon fail and Mandate will refuse to decide (docs/operations.md: disk budget)`] } : {}),
      backgroundFaults: m.faults.total,
      store: m.store.dialect,
    };
  });
}
