// Management API for policies: the current set, reload, validation, what-if, and the tool
// catalogue policies are written against.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MandateError } from '../../core/errors.js';
import { explain } from '../../gateway/explain.js';
import { suggestPolicies } from '../../governance/suggest.js';
import type { Mandate } from '../../mandate.js';
import { requireAdmin } from '../auth.js';
import { since } from './review.js';
import { parseWith } from './validate.js';

const explainSchema = z
  .object({
    agent: z.string().min(1),
    tool: z.string().min(1),
    args: z.record(z.string(), z.unknown()).optional(),
    task: z.string().optional(),
    intent: z.string().max(2000).optional(),
    action: z.enum(['call', 'startTask']).optional(),
  })
  .strict();

export function registerPolicyRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/api/v1/policies', async (req) => {
    await requireAdmin(m, req);
    const c = m.policy.current.compiled;
    return {
      version: c.version,
      versionNumber: m.policy.versionNumber,
      policies: c.policies.map((p) => ({ id: p.id, effect: p.effect, file: p.file, line: p.line, annotations: p.annotations })),
      warnings: c.warnings,
    };
  });

  app.post('/api/v1/policies/reload', async (req) => {
    const caller = await requireAdmin(m, req);
    try {
      const r = await m.policy.reload();
      await m.audit.record({ type: 'policy.reload', actor: caller.name, outcome: 'success', data: { ...r, versionNumber: m.policy.versionNumber } });
      if (r.changed) m.events.emit('policy.reloaded', { version: r.version });
      return { ...r, versionNumber: m.policy.versionNumber };
    } catch (err) {
      await m.audit.record({ type: 'policy.reload', actor: caller.name, outcome: 'failure', data: { error: (err as Error).message } });
      throw err;
    }
  });

  app.post('/api/v1/policies/validate', async (req) => {
    await requireAdmin(m, req);
    const body = parseWith(z.object({ files: z.record(z.string(), z.string()).optional() }).strict(), req.body ?? {});
    try {
      const c = m.policy.compile(body.files);
      return { valid: true, version: c.version, policies: c.policies.length, warnings: c.warnings };
    } catch (err) {
      if (err instanceof MandateError && err.code === 'policy_invalid') return { valid: false, errors: err.details?.errors ?? [err.message] };
      throw err;
    }
  });

  app.post('/api/v1/policies/explain', async (req) => {
    await requireAdmin(m, req);
    const body = parseWith(explainSchema, req.body);
    const agent = await m.agents.get(body.agent);
    const task = body.task ? await m.tasks.get(body.task) : undefined;
    return explain({ agent, tool: body.tool, args: body.args, task, intent: body.intent, action: body.action }, m);
  });

  // Least-privilege suggestions from what the agent ran (`mandate policy suggest`).
  app.post('/api/v1/policies/suggest', async (req) => {
    await requireAdmin(m, req);
    const body = parseWith(z.object({ agent: z.string().min(1), since: z.union([z.string().min(1), z.number().int().min(0)]).optional() }).strict(), req.body);
    const now = m.clock.now();
    return suggestPolicies(m, body.agent, { since: body.since === undefined ? now - 30 * 86_400_000 : typeof body.since === 'number' ? body.since : since(body.since, now), until: now + 1 });
  });

  app.get('/api/v1/tools', async (req) => {
    await requireAdmin(m, req);
    return { tools: m.tools.listTools() };
  });
}
