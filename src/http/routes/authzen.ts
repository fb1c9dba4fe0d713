// AuthZEN Authorization API 1.0 over HTTP: single and batch evaluation and the PDP metadata.

import type { FastifyInstance } from 'fastify';
import { MandateError } from '../../core/errors.js';
import type { Mandate } from '../../mandate.js';
import { evaluationRequestSchema, evaluationsRequestSchema } from '../../pdp/authzen.js';
import { requireCaller } from '../auth.js';
import { zodToMessage } from '../error-handler.js';

function requireObject(body: unknown): void {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new MandateError('invalid_request', 'request body must be a JSON object');
}

export function registerAuthzenRoutes(app: FastifyInstance, m: Mandate): void {
  app.post('/access/v1/evaluation', async (req) => {
    const caller = await requireCaller(m, req, ['admin', 'pep']);
    requireObject(req.body);
    const parsed = evaluationRequestSchema.safeParse(req.body);
    if (!parsed.success) throw new MandateError('invalid_request', zodToMessage(parsed.error));
    return m.pdp.evaluate(parsed.data, caller.name);
  });

  app.post('/access/v1/evaluations', async (req) => {
    const caller = await requireCaller(m, req, ['admin', 'pep']);
    requireObject(req.body);
    const parsed = evaluationsRequestSchema.safeParse(req.body);
    if (!parsed.success) throw new MandateError('invalid_request', zodToMessage(parsed.error));
    return m.pdp.evaluations(parsed.data, caller.name);
  });

  app.get('/.well-known/authzen-configuration', async () => ({
    policy_decision_point: m.endpoints.base,
    access_evaluation_endpoint: `${m.endpoints.base}/access/v1/evaluation`,
    access_evaluations_endpoint: `${m.endpoints.base}/access/v1/evaluations`,
  }));
}
