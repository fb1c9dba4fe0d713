// The console at `/` (first part: sign-in, the approvals inbox, the agents page with the kill
// switch). People sign in with their personal token; the session cookie is HttpOnly,
// SameSite=Strict, Secure outside plain-http deployments, and ends after `oauth.sessionTtl` of
// inactivity; every change is a form with a CSRF token bound to the session; the CSP allows no
// script and nothing from elsewhere. Deciding and suspending go through the same services (and
// the same eligibility rules and audit) as the API and CLI.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MandateError } from '../../core/errors.js';
import type { Mandate } from '../../mandate.js';
import { ConsentSessions } from '../../oauth/consent-session.js';
import { CONSOLE_CSS, agentsPage, auditPage, errorPage, inboxPage, loginPage, tasksPage, type TaskRow } from '../../console/pages.js';
import type { Agent, Approval, Task, User } from '../../storage/types.js';

const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function fields(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** May this person decide this approval? (The service checks again; this keeps the inbox to what is theirs.) */
function mayDecide(a: Approval, user: User, owner: string | null): boolean {
  if (a.requester === `user:${user.email}`) return false;
  if (a.decisions.some((d) => d.by === `user:${user.email}`)) return false;
  return a.approvers.some((x) => (x === 'owner' ? owner === user.email : x.startsWith('role:') && user.roles.includes(x.slice(5))));
}

/** May this person suspend this agent? Its owner, or someone with the `security` or `admin` role. */
function mayStop(agent: Agent, user: User): boolean {
  return agent.owner === user.email || user.roles.includes('security') || user.roles.includes('admin');
}

export function registerConsoleRoutes(app: FastifyInstance, m: Mandate): void {
  const sessions = new ConsentSessions(m.keys.derive('console-session'), m.config.oauth.sessionTtl * 1000, m.endpoints.base.startsWith('https:'), { name: 'mandate_console', path: '/', sameSite: 'Strict' });

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply.status(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', CSP).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer').header('x-content-type-options', 'nosniff').send(body);

  /** The signed-in person (the session extended: an idle timeout), or a redirect to sign in. */
  async function person(r: FastifyRequest, reply: FastifyReply) {
    const s = sessions.read(r.headers, m.clock.now());
    const user = s ? await m.store.getUser(s.user) : null;
    if (!s || !user || user.status !== 'active') {
      reply.header('cache-control', 'no-store').redirect('/console/login', 303);
      return null;
    }
    reply.header('set-cookie', sessions.extend(s, m.clock.now()));
    return { session: s, user, csrf: sessions.csrf(s), label: `${user.name} <${user.email}>` };
  }

  async function inbox(user: User) {
    const out: Array<{ approval: Approval; owner: string | null }> = [];
    for (const a of await m.approvals.list({ status: 'pending', limit: 500 })) {
      const owner = (await m.store.getAgent(a.agentId))?.owner ?? null;
      if (mayDecide(a, user, owner)) out.push({ approval: a, owner });
    }
    // Break-glass first: it is the loud one.
    return out.sort((x, y) => Number(y.approval.kind === 'breakglass') - Number(x.approval.kind === 'breakglass') || x.approval.createdAt - y.approval.createdAt);
  }

  // Browsers ask for it on every page; an empty answer keeps the console free of 404s.
  app.get('/favicon.ico', async (_r, reply) => reply.status(204).header('cache-control', 'public, max-age=86400').send());

  app.get('/console/style.css', async (_r, reply) => reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS));

  app.get('/console/login', async (r, reply) => {
    const { nonce, setCookie } = sessions.loginNonce(r.headers);
    if (setCookie) reply.header('set-cookie', setCookie);
    return html(reply, 200, loginPage({ loginToken: sessions.loginToken(nonce) }));
  });

  app.post('/console/login', async (r, reply) => {
    const form = fields(r.body);
    const { nonce } = sessions.loginNonce(r.headers);
    if (!sessions.checkLogin(r.headers, form.login_token)) return html(reply, 403, loginPage({ loginToken: sessions.loginToken(nonce), error: 'This sign-in form expired or did not come from this page: sign in again.' }));
    const caller = form.user_token ? await m.apiTokens.authenticate(form.user_token) : null;
    if (!caller?.user || caller.user.status !== 'active') {
      const why = form.user_token?.split('.').length === 3 ? 'an agent credential' : caller ? `a ${caller.role} token` : 'an unknown token';
      await m.audit.record({ type: 'auth.failure', actor: 'anonymous', outcome: 'failure', data: { method: 'console-login', reason: why, ip: r.ip } });
      return html(reply, 401, loginPage({ loginToken: sessions.loginToken(nonce), error: `That is ${why}: only a person's own token signs in to the console.` }));
    }
    await m.audit.record({ type: 'auth.success', actor: `user:${caller.user.email}`, outcome: 'success', data: { method: 'console-login', ip: r.ip } });
    // A new session id at every sign-in: a session planted before it (fixation) is worth nothing.
    reply.header('set-cookie', sessions.open(caller.user.id, m.clock.now()));
    return reply.header('cache-control', 'no-store').redirect('/', 303);
  });

  app.post('/console/logout', async (r, reply) => {
    const s = sessions.read(r.headers, m.clock.now());
    if (s && sessions.checkCsrf(s, fields(r.body).csrf)) reply.header('set-cookie', sessions.clear());
    return reply.header('cache-control', 'no-store').redirect('/console/login', 303);
  });

  app.get('/', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    return html(reply, 200, inboxPage({ user: p.label, csrf: p.csrf, approvals: await inbox(p.user) }));
  });

  app.post<{ Params: { id: string } }>('/console/approvals/:id', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const form = fields(r.body);
    if (!sessions.checkCsrf(p.session, form.csrf)) return html(reply, 403, errorPage('Request refused', 'This form did not come from the console (its CSRF token is missing or wrong): nothing was decided.'));
    const decision = form.decision === 'approve' ? 'approve' : form.decision === 'deny' ? 'deny' : null;
    if (!decision) return html(reply, 400, errorPage('Invalid request', 'choose Approve or Deny'));
    let flash: { ok: boolean; text: string };
    try {
      const a = await m.approvals.decide(r.params.id, { role: 'user', name: `user:${p.user.email}`, user: p.user }, decision, form.reason?.trim() ? form.reason.trim().slice(0, 500) : null);
      flash = { ok: true, text: `${decision === 'approve' ? 'Approved' : 'Denied'} ${a.id} (now ${a.status}).` };
    } catch (err) {
      if (!(err instanceof MandateError) || err.status >= 500) throw err;
      flash = { ok: false, text: err.message };
    }
    return html(reply, 200, inboxPage({ user: p.label, csrf: p.csrf, approvals: await inbox(p.user), flash }));
  });

  app.get('/console/agents', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const agents = (await m.store.listAgents()).map((agent) => ({ agent, canStop: mayStop(agent, p.user) }));
    return html(reply, 200, agentsPage({ user: p.label, csrf: p.csrf, agents }));
  });

  /** Live tasks, each delegated one under the task it came from. */
  async function taskRows(user: User): Promise<TaskRow[]> {
    const live = await m.store.listTasks({ status: 'active', limit: 500 });
    const owners = new Map<string, string | null>();
    const ownerOf = async (agentId: string) => {
      if (!owners.has(agentId)) owners.set(agentId, (await m.store.getAgent(agentId))?.owner ?? null);
      return owners.get(agentId)!;
    };
    const byParent = new Map<string | null, Task[]>();
    const ids = new Set(live.map((t) => t.id));
    for (const t of live) {
      const key = t.parentId && ids.has(t.parentId) ? t.parentId : null;
      byParent.set(key, [...(byParent.get(key) ?? []), t]);
    }
    const out: TaskRow[] = [];
    const walk = async (parent: string | null, depth: number) => {
      for (const t of byParent.get(parent) ?? []) {
        const owner = await ownerOf(t.agentId);
        out.push({ task: t, depth, calls: await m.store.callCounts(t.id), canEnd: owner === user.email || user.roles.includes('security') || user.roles.includes('admin') });
        if (depth < 8) await walk(t.id, depth + 1);
      }
    };
    await walk(null, 0);
    return out;
  }

  app.get('/console/tasks', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    return html(reply, 200, tasksPage({ user: p.label, csrf: p.csrf, tasks: await taskRows(p.user) }));
  });

  app.post('/console/tasks/revoke', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const form = fields(r.body);
    if (!sessions.checkCsrf(p.session, form.csrf)) return html(reply, 403, errorPage('Request refused', 'This form did not come from the console (its CSRF token is missing or wrong): nothing was changed.'));
    const task = form.task ? await m.store.getTask(form.task) : null;
    const owner = task ? ((await m.store.getAgent(task.agentId))?.owner ?? null) : null;
    let flash: { ok: boolean; text: string };
    if (!task) flash = { ok: false, text: 'no such task' };
    else if (!(owner === p.user.email || p.user.roles.includes('security') || p.user.roles.includes('admin'))) flash = { ok: false, text: `only the owner of ${task.agentId} or a person with the security or admin role may end this task` };
    else if (form.confirm !== 'yes') flash = { ok: false, text: 'tick the confirmation to revoke the task' };
    else {
      await m.tasks.revoke(task.id, `user:${p.user.email}`, 'revoked from the console');
      flash = { ok: true, text: `${task.id} is revoked, with every task delegated from it.` };
    }
    return html(reply, 200, tasksPage({ user: p.label, csrf: p.csrf, tasks: await taskRows(p.user), flash }));
  });

  app.get('/console/audit', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const q = fields(r.query);
    const filter = Object.fromEntries(Object.entries({ agent: q.agent, task: q.task, type: q.type, decision: q.decision }).filter(([, v]) => v?.trim())) as Record<string, string>;
    let events = await m.store.listAudit({ newestFirst: true, limit: 2000, ...(filter.agent ? { agentId: filter.agent } : {}), ...(filter.task ? { taskId: filter.task } : {}), ...(filter.type ? { type: filter.type } : {}) });
    if (filter.decision) events = events.filter((e) => e.decision === filter.decision);
    const [last] = await m.store.listAudit({ newestFirst: true, limit: 1 });
    return html(reply, 200, auditPage({ user: p.label, csrf: p.csrf, events: events.slice(0, 200), filter, head: last ? { seq: last.seq, hash: last.hash } : null, verify: q.verify === '1' ? await m.audit.verify() : null }));
  });

  app.post('/console/agents/suspend', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const form = fields(r.body);
    if (!sessions.checkCsrf(p.session, form.csrf)) return html(reply, 403, errorPage('Request refused', 'This form did not come from the console (its CSRF token is missing or wrong): nothing was changed.'));
    const agent = form.agent ? await m.store.getAgent(form.agent) : null;
    let flash: { ok: boolean; text: string };
    if (!agent) flash = { ok: false, text: 'no such agent' };
    else if (!mayStop(agent, p.user)) flash = { ok: false, text: `only ${agent.owner} (its owner) or a person with the security or admin role may suspend ${agent.name}` };
    else if (form.confirm !== 'yes') flash = { ok: false, text: 'tick the confirmation to suspend: it ends all of the agent\'s tasks at once' };
    else {
      await m.agents.setStatus(agent.id, 'suspended', `user:${p.user.email}`, 'suspended from the console');
      flash = { ok: true, text: `${agent.name} is suspended: its tasks ended and every credential it holds is refused.` };
    }
    const agents = (await m.store.listAgents()).map((a) => ({ agent: a, canStop: mayStop(a, p.user) }));
    return html(reply, 200, agentsPage({ user: p.label, csrf: p.csrf, agents, flash }));
  });
}
