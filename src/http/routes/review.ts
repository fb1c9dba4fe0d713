// The access review API: `GET /api/v1/review` (granted vs used, findings, approval statistics)
// and the review actions: `POST /api/v1/review/accept` (the owner, or security/admin, confirms the
// agent still needs what it has: recorded, and its review date moves on). Suspending and retiring
// stay `POST /api/v1/agents/:id/suspend|retire`, which the CLI's `review` commands call too.
//
// Who reads what: the admin token and people with the `security` or `admin` role see every agent;
// anyone else with a personal token sees the agents they own.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MandateError, q } from '../../core/errors.js';
import { acceptReview, buildReview, daysFrom } from '../../governance/review.js';
import type { Caller } from '../../identity/api-tokens.js';
import type { Mandate } from '../../mandate.js';
import { requireCaller } from '../auth.js';
import { parseWith } from './validate.js';

const DAY = 86_400_000;

const reviewQuery = z
  .object({
    /** Milliseconds since the epoch, or a duration back from now (`30d`, `12h`). */
    since: z.string().optional(),
    until: z.coerce.number().int().min(0).optional(),
    staleDays: z.coerce.number().int().min(1).max(3650).optional(),
    agent: z.string().optional(),
    owner: z.string().optional(),
  })
  .strict();

/** `30d`, `12h`, `45m` back from `now`, or milliseconds since the epoch, or an ISO date. */
export function since(value: string, now: number): number {
  const d = /^(\d+)\s*([dhm])$/.exec(value.trim());
  if (d) return now - Number(d[1]) * { d: DAY, h: 3_600_000, m: 60_000 }[d[2] as 'd' | 'h' | 'm'];
  if (/^\d{10,}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isFinite(t)) return t;
  throw new MandateError('invalid_request', `\`since\` ${q(value)} is not a time: give a duration such as 30d or 12h, an ISO date, or milliseconds since the epoch`);
}

const sees = (c: Caller) => c.role === 'admin' || Boolean(c.user && (c.user.roles.includes('security') || c.user.roles.includes('admin')));

export function registerReviewRoutes(app: FastifyInstance, m: Mandate): void {
  const reviewer = (req: FastifyRequest) => requireCaller(m, req, ['admin', 'user']);

  app.get('/api/v1/review', async (req) => {
    const caller = await reviewer(req);
    const qy = parseWith(reviewQuery, req.query, 'query');
    const now = m.clock.now();
    const owner = sees(caller) ? qy.owner : caller.user!.email;
    if (!sees(caller) && qy.owner && qy.owner !== owner) throw new MandateError('forbidden', 'you may review the agents you own; the security and admin roles review everyone\'s');
    return buildReview(m, { since: qy.since ? since(qy.since, now) : now - 30 * DAY, until: qy.until ?? now + 1, staleDays: qy.staleDays ?? 30, agentId: qy.agent, owner });
  });

  app.post('/api/v1/review/accept', async (req) => {
    const caller = await reviewer(req);
    const body = parseWith(
      z
        .object({
          agent: z.string().min(1),
          /** The next review date (YYYY-MM-DD), or days from today (default 90). */
          next: z.union([z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD'), z.number().int().min(1).max(730)]).optional(),
          note: z.string().max(1000).optional(),
        })
        .strict(),
      req.body,
    );
    const agent = await m.agents.get(body.agent);
    if (!sees(caller) && agent.owner !== caller.user?.email) throw new MandateError('forbidden', `only ${agent.owner} (its owner) or a person with the security or admin role may accept the review of ${q(agent.name)}`);
    const next = typeof body.next === 'string' ? body.next : daysFrom(m.clock.now(), body.next ?? 90);
    const updated = await acceptReview(m, agent, caller.name, next, body.note ?? null, 'api');
    return { agent: updated.id, reviewBy: updated.reviewBy, reviewedBy: caller.name };
  });
}
