// AuthZEN Authorization API 1.0 over HTTP: single and batch evaluation and the PDP metadata.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MandateError } from '../../core/errors.js';
import type { Mandate } from '../../mandate.js';
import { ACCESS_REQUEST_CAPABILITY, AccessRequestProblem, submissionSchema } from '../../pdp/access-request.js';
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
    access_request_endpoint: `${m.endpoints.base}/access/v1/requests`,
    jwks_uri: `${m.endpoints.base}/.well-known/jwks.json`,
    capabilities: [ACCESS_REQUEST_CAPABILITY],
  }));

  // ---- Access Request and Approval Profile (draft 1): submission, task status, no cancellation.
  const problem = (reply: FastifyReply, p: AccessRequestProblem) => reply.status(p.status).header('content-type', 'application/problem+json').send(p.body());
  const pep = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      return await requireCaller(m, req, ['admin', 'pep']);
    } catch (err) {
      const e = err as MandateError;
      await problem(reply, new AccessRequestProblem(e.status ?? 401, 'about:blank', e.status === 403 ? 'Forbidden' : 'Unauthorized', e.message));
      return null;
    }
  };
  app.post('/access/v1/requests', async (req, reply) => {
    const caller = await pep(req, reply);
    if (!caller) return reply;
    const parsed = submissionSchema.safeParse(req.body);
    if (!parsed.success) return problem(reply, new AccessRequestProblem(400, 'about:blank', 'Bad Request', zodToMessage(parsed.error)));
    try {
      const { status, approval } = await m.accessRequests.submit(parsed.data, caller.name);
      const body = m.accessRequests.task(approval);
      return reply.status(status).header('location', body.task.status_endpoint).send(body);
    } catch (err) {
      if (err instanceof AccessRequestProblem) return problem(reply, err);
      throw err;
    }
  });
  app.get<{ Params: { id: string } }>('/access/v1/requests/:id', async (req, reply) => {
    const caller = await pep(req, reply);
    if (!caller) return reply;
    const a = await m.store.getApproval(req.params.id);
    // Only the enforcement point that asked (or an admin) may read a task: a leaked id alone shows nothing.
    if (!a || a.kind !== 'authzen' || (caller.role !== 'admin' && a.requester !== caller.name)) {
      return problem(reply, new AccessRequestProblem(404, 'unknown_task', 'Unknown task', `no access request ${req.params.id} for this caller`));
    }
    return m.accessRequests.task(a);
  });
  app.post<{ Params: { id: string } }>('/access/v1/requests/:id/cancel', async (_req, reply) =>
    reply.status(405).header('allow', 'GET').header('content-type', 'application/problem+json').send({ type: 'about:blank', title: 'Method Not Allowed', status: 405, detail: 'cancellation is not supported: the request expires on its own, or an approver denies it' }),
  );
}
