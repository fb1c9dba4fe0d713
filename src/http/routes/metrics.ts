// The Prometheus scrape endpoint (`metrics.path`, `/metrics` by default). Not registered when
// metrics are off (a 404 like any unknown path). With `metrics.token` set, a scraper must send it
// as a bearer token: a credential for this endpoint only.

import type { FastifyInstance } from 'fastify';
import type { Mandate } from '../../mandate.js';
import { errorBody } from '../error-handler.js';

export function registerMetricsRoutes(app: FastifyInstance, m: Mandate): void {
  if (!m.metrics.enabled) return;
  const path = m.config.metrics.path;
  app.get(path, async (req, reply) => {
    if (!m.metrics.mayScrape(req.headers.authorization)) {
      return reply
        .status(401)
        .header('WWW-Authenticate', 'Bearer realm="mandate-metrics"')
        .send(errorBody('unauthorized', `${path} needs the scrape token (metrics.token) as \`Authorization: Bearer <token>\``));
    }
    const text = await m.metrics.scrape();
    return reply.header('content-type', m.metrics.contentType).send(text);
  });
}
