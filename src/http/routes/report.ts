// The framework report API: `GET /api/v1/report?since=&format=json|html|md` — which controls
// address each item of OWASP's Agentic and NHI Top 10s, NIST AI RMF and CSA MAESTRO, whether they
// are in force in this deployment, and the evidence from the audit log over the window.
//
// Who reads what (as for the access review): the admin token and people with the `security` or
// `admin` role get the deployment-wide report (and may narrow it to one `owner`); anyone else with
// a personal token gets the report over the agents they own. PEP tokens are refused.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MandateError } from '../../core/errors.js';
import { buildReport } from '../../governance/report.js';
import { REPORT_HTML_CSP, renderReport } from '../../governance/report-render.js';
import type { Caller } from '../../identity/api-tokens.js';
import type { Mandate } from '../../mandate.js';
import { requireCaller } from '../auth.js';
import { since } from './review.js';
import { parseWith } from './validate.js';

const DAY = 86_400_000;

const reportQuery = z
  .object({
    /** Window start: a duration back from now (`30d`, `12h`), an ISO date, or milliseconds since the epoch. */
    since: z.string().optional(),
    until: z.coerce.number().int().min(0).optional(),
    format: z.enum(['json', 'html', 'md']).default('json'),
    owner: z.string().optional(),
    staleDays: z.coerce.number().int().min(1).max(3650).optional(),
  })
  .strict();

const seesAll = (c: Caller) => c.role === 'admin' || Boolean(c.user && (c.user.roles.includes('security') || c.user.roles.includes('admin')));

export function registerReportRoutes(app: FastifyInstance, m: Mandate): void {
  app.get('/api/v1/report', async (req, reply) => {
    const caller = await requireCaller(m, req, ['admin', 'user']);
    const qy = parseWith(reportQuery, req.query, 'query');
    if (!seesAll(caller) && qy.owner && qy.owner !== caller.user!.email) throw new MandateError('forbidden', 'your report covers the agents you own; the security and admin roles report on everyone\'s');
    const now = m.clock.now();
    const from = qy.since ? since(qy.since, now) : now - 30 * DAY;
    const until = qy.until ?? now + 1;
    if (from >= until) throw new MandateError('invalid_request', '`since` must be before `until`');
    const report = await buildReport(m, { since: from, until, owner: seesAll(caller) ? (qy.owner ?? null) : caller.user!.email, staleDays: qy.staleDays });
    const { body, type } = renderReport(report, qy.format);
    if (qy.format === 'html') reply.header('content-security-policy', REPORT_HTML_CSP).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
    return reply.header('content-type', type).send(body);
  });
}
