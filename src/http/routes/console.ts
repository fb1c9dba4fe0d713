// The console at `/`. People sign in with their personal token or, when `auth.oidc` is set, the
// company's OpenID Connect provider; the session cookie is HttpOnly, SameSite=Strict, Secure
// outside plain-http deployments, and ends after `oauth.sessionTtl` of inactivity; every change
// is a form with a CSRF token bound to the session; the CSP allows only Mandate's own stylesheet,
// script and connections. Deciding, suspending, revoking, requesting break-glass and accepting a
// tool definition go through the same services (eligibility rules and audit) as the API and CLI.
//
// Roles: anyone signed in sees the approvals that are theirs to decide, the agents and policies;
// an agent's owner may stop it, end its tasks, read its audit and ask what-if about it; the
// `security` and `admin` roles may do so for every agent; accepting a changed tool definition
// takes `admin` (as the API does). The review and the framework report cover every agent for
// `security` and `admin`, and the person's own agents for everyone else.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MandateError } from '../../core/errors.js';
import { jsonDiff } from '../../core/json-diff.js';
import { acceptReview, buildReview, daysFrom } from '../../governance/review.js';
import { buildReport } from '../../governance/report.js';
import { REPORT_CSS, REPORT_HTML_CSP, renderReport } from '../../governance/report-render.js';
import { since as sinceOf } from './review.js';
import { explain, type Explanation } from '../../gateway/explain.js';
import type { Mandate } from '../../mandate.js';
import { ConsentSessions, type ConsentSession } from '../../oauth/consent-session.js';
import { OidcLogin } from '../../oauth/oidc-login.js';
import { LIVE_JS } from '../../console/live.js';
import {
  AUDIT_FILTERS,
  CONSOLE_CSS,
  agentPage,
  agentsPage,
  auditEventPage,
  auditPage,
  auditRegion,
  errorPage,
  fragment,
  inboxPage,
  inboxRegion,
  loginPage,
  pinStatus,
  policiesPage,
  reviewPage,
  reportPage,
  tasksPage,
  tasksRegion,
  toolsPage,
  type Flash,
  type GrantUse,
  type TaskRow,
  type Viewer,
} from '../../console/pages.js';
import type { Agent, Approval, AuditEvent, AuditQuery, Task, User } from '../../storage/types.js';

function csp(also?: string): string {
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'${also ? ` ${also}` : ''}; frame-ancestors 'none'; base-uri 'none'`;
}

function fields(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'string') out[k] = x;
  return out;
}

const staff = (user: User) => user.roles.includes('security') || user.roles.includes('admin');

/** May this person decide this approval? (The service checks again; this keeps the inbox to what is theirs.) */
function mayDecide(a: Approval, user: User, owner: string | null): boolean {
  if (a.requester === `user:${user.email}`) return false;
  if (a.decisions.some((d) => d.by === `user:${user.email}`)) return false;
  return a.approvers.some((x) => (x === 'owner' ? owner === user.email : x.startsWith('role:') && user.roles.includes(x.slice(5))));
}

/** May this person stop this agent, end its tasks, read its audit? Its owner, or the security or admin role. */
function mayManage(owner: string | null, user: User): boolean {
  return owner === user.email || staff(user);
}

/** The console's session cookie handling: one definition, used by the console and the company sign-in callback. */
export function consoleSessions(m: Mandate): ConsentSessions {
  return new ConsentSessions(m.keys.derive('console-session'), m.config.oauth.sessionTtl * 1000, m.endpoints.base.startsWith('https:'), { name: 'mandate_console', path: '/', sameSite: 'Strict' });
}

/** The marker in a company sign-in's round trip that sends it back to the console. */
export const CONSOLE_OIDC_MARK = { to: 'console' };

/** "2026-12-01 09:00" (UTC) or milliseconds → milliseconds; null if it is neither. */
function instant(s: string): number | null {
  if (/^\d{10,}$/.test(s)) return Number(s);
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s.replace(' ', 'T')}Z`);
  return Number.isFinite(t) ? t : null;
}

/** At most this many console event streams at once per replica (each polls the audit head). */
const MAX_STREAMS = 200;
/** …and per person (a few tabs), so one person cannot take them all. */
const MAX_STREAMS_PER_PERSON = 8;
const STREAM_POLL_MS = 400;
const STREAM_PING_MS = 15_000;

export function registerConsoleRoutes(app: FastifyInstance, m: Mandate): void {
  const sessions = consoleSessions(m);
  const oidcCfg = m.config.auth.oidc;
  const oidc = oidcCfg ? new OidcLogin(oidcCfg, () => m.secrets.get(oidcCfg.secret), m.keys.derive('oidc-login'), () => `${m.endpoints.base}/authorize/oidc/callback`, m.endpoints.base.startsWith('https:'), () => m.clock.now()) : null;

  const html = (reply: FastifyReply, status: number, body: string, also?: string) =>
    reply.status(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', csp(also)).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer').header('x-content-type-options', 'nosniff').send(body);

  interface Person {
    session: ConsentSession;
    user: User;
    viewer: Viewer;
  }

  /** The signed-in person (the session extended: an idle timeout), or a redirect to sign in. */
  async function person(r: FastifyRequest, reply: FastifyReply, opts: { extend: boolean } = { extend: true }): Promise<Person | null> {
    const s = sessions.read(r.headers, m.clock.now());
    const user = s ? await m.store.getUser(s.user) : null;
    if (!s || !user || user.status !== 'active') {
      reply.header('cache-control', 'no-store').redirect('/console/login', 303);
      return null;
    }
    // Automatic refreshes (live regions) do not count as activity: an open, unattended console
    // still signs out after the idle timeout.
    if (opts.extend) reply.header('set-cookie', sessions.extend(s, m.clock.now()));
    return { session: s, user, viewer: { label: `${user.name} <${user.email}>`, csrf: sessions.csrf(s) } };
  }

  /** A change: the signed-in person and the form, or null once a refusal (CSRF) is sent. */
  async function change(r: FastifyRequest, reply: FastifyReply): Promise<{ p: Person; form: Record<string, string> } | null> {
    const p = await person(r, reply);
    if (!p) return null;
    const form = fields(r.body);
    if (!sessions.checkCsrf(p.session, form.csrf)) {
      await html(reply, 403, errorPage('Request refused', 'This form did not come from the console (its CSRF token is missing or wrong): nothing was changed. Reload the page and try again.', p.viewer));
      return null;
    }
    return { p, form };
  }

  /** A service's refusal becomes the page's message; anything else is a real fault. */
  async function attempt(run: () => Promise<string>): Promise<Flash> {
    try {
      return { ok: true, text: await run() };
    } catch (err) {
      if (!(err instanceof MandateError) || err.status >= 500) throw err;
      return { ok: false, text: err.message };
    }
  }

  const owners = () => {
    const seen = new Map<string, string | null>();
    return async (agentId: string) => {
      if (!seen.has(agentId)) seen.set(agentId, (await m.store.getAgent(agentId))?.owner ?? null);
      return seen.get(agentId)!;
    };
  };

  async function inbox(user: User) {
    const ownerOf = owners();
    const out: Array<{ approval: Approval; owner: string | null }> = [];
    for (const a of await m.approvals.list({ status: 'pending', limit: 500 })) {
      if (a.expiresAt <= m.clock.now()) continue;
      const owner = await ownerOf(a.agentId);
      if (mayDecide(a, user, owner)) out.push({ approval: a, owner });
    }
    // Break-glass first: it is the loud one.
    return out.sort((x, y) => Number(y.approval.kind === 'breakglass') - Number(x.approval.kind === 'breakglass') || x.approval.createdAt - y.approval.createdAt);
  }

  // ---- static parts

  // Browsers ask for it on every page; an empty answer keeps the console free of 404s.
  app.get('/favicon.ico', async (_r, reply) => reply.status(204).header('cache-control', 'public, max-age=86400').send());
  app.get('/console/style.css', async (_r, reply) => reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS + REPORT_CSS));
  app.get('/console/live.js', async (_r, reply) => reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').header('x-content-type-options', 'nosniff').send(LIVE_JS));

  // ---- sign-in

  const loginForm = (r: FastifyRequest, reply: FastifyReply, status: number, error?: string) => {
    const { nonce, setCookie } = sessions.loginNonce(r.headers);
    if (setCookie) reply.header('set-cookie', setCookie);
    return html(reply, status, loginPage({ loginToken: sessions.loginToken(nonce), oidc: oidc?.name, error }), oidc?.origin);
  };

  app.get('/console/login', async (r, reply) => loginForm(r, reply, 200));

  app.post('/console/login', async (r, reply) => {
    const form = fields(r.body);
    if (!sessions.checkLogin(r.headers, form.login_token)) return loginForm(r, reply, 403, 'This sign-in form expired or did not come from this page: sign in again.');
    const caller = form.user_token ? await m.apiTokens.authenticate(form.user_token) : null;
    if (!caller?.user || caller.user.status !== 'active') {
      const why = form.user_token?.split('.').length === 3 ? 'an agent credential' : caller ? `a ${caller.role} token` : 'an unknown token';
      await m.audit.record({ type: 'auth.failure', actor: 'anonymous', outcome: 'failure', data: { method: 'console-login', reason: why, ip: r.ip } });
      return loginForm(r, reply, 401, `That is ${why}: only a person's own token signs in to the console.`);
    }
    await m.audit.record({ type: 'auth.success', actor: `user:${caller.user.email}`, outcome: 'success', data: { method: 'console-login', ip: r.ip } });
    // A new session id at every sign-in: a session planted before it (fixation) is worth nothing.
    reply.header('set-cookie', sessions.open(caller.user.id, m.clock.now()));
    return reply.header('cache-control', 'no-store').redirect('/', 303);
  });

  // Company sign-in: to the provider and back through /authorize/oidc/callback (one redirect URI
  // to register), which opens a console session (see authorize.ts).
  app.post('/console/oidc', async (r, reply) => {
    if (!oidc) return html(reply, 404, errorPage('Not available', 'Company sign-in is not configured here (auth.oidc): sign in with your personal token.'));
    if (!sessions.checkLogin(r.headers, fields(r.body).login_token)) return loginForm(r, reply, 403, 'This sign-in form expired or did not come from this page: sign in again.');
    try {
      const { location, setCookie } = await oidc.start(CONSOLE_OIDC_MARK);
      reply.header('set-cookie', setCookie);
      return reply.header('cache-control', 'no-store').redirect(location, 303);
    } catch (err) {
      if (err instanceof MandateError) return loginForm(r, reply, 502, `Company sign-in is unavailable: ${err.message}`);
      throw err;
    }
  });

  app.post('/console/logout', async (r, reply) => {
    const s = sessions.read(r.headers, m.clock.now());
    if (s && sessions.checkCsrf(s, fields(r.body).csrf)) reply.header('set-cookie', sessions.clear());
    return reply.header('cache-control', 'no-store').redirect('/console/login', 303);
  });

  // ---- live updates

  const streams = new Set<() => void>();
  const perPerson = new Map<string, number>();
  app.addHook('onClose', async () => {
    for (const end of [...streams]) end();
  });

  // A server-sent event stream that says "something changed" whenever the audit head moves (every
  // approval, decision, revocation and suspension writes there, on every replica: polling the
  // store's head sees changes made by other replicas too). The page then re-fetches its region.
  app.get('/console/events', async (r, reply) => {
    const s = sessions.read(r.headers, m.clock.now());
    if (!s || (await m.store.getUser(s.user))?.status !== 'active') return reply.status(401).header('cache-control', 'no-store').send({ error: 'unauthorized', message: 'sign in to the console first' });
    if (streams.size >= MAX_STREAMS || (perPerson.get(s.user) ?? 0) >= MAX_STREAMS_PER_PERSON) return reply.status(503).header('retry-after', '10').send({ error: 'unavailable', message: 'too many live console connections; the page still works with reloads' });
    reply.hijack();
    const res = reply.raw;
    let timer: NodeJS.Timeout | undefined;
    const end = () => {
      clearInterval(timer);
      if (streams.delete(end)) {
        const n = (perPerson.get(s.user) ?? 1) - 1;
        if (n > 0) perPerson.set(s.user, n);
        else perPerson.delete(s.user);
      }
      if (!res.writableEnded) res.end();
    };
    streams.add(end);
    perPerson.set(s.user, (perPerson.get(s.user) ?? 0) + 1);
    res.on('close', end);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    let last: number | null = null;
    let idle = 0;
    let ticking = false;
    const tick = async () => {
      if (ticking || res.writableEnded) return;
      ticking = true;
      try {
        // The session ends (idle timeout: the stream itself does not extend it; the person is
        // disabled): so does the stream, and the page goes back to sign-in.
        const user = await m.store.getUser(s.user);
        if (!user || user.status !== 'active' || s.exp <= m.clock.now()) {
          res.write('event: signout\ndata: {}\n\n');
          end();
          return;
        }
        const head = (await m.store.auditHead())?.seq ?? 0;
        if (last !== null && head !== last) {
          idle = 0;
          res.write(`event: change\ndata: {"seq":${head}}\n\n`);
        } else if ((idle += STREAM_POLL_MS) >= STREAM_PING_MS) {
          idle = 0;
          res.write(': ping\n\n');
        }
        last = head;
      } catch {
        // The store is unreachable for a moment: say nothing; the next tick tries again.
      } finally {
        ticking = false;
      }
    };
    timer = setInterval(() => void tick(), STREAM_POLL_MS);
    void tick();
  });

  // ---- approvals

  app.get('/', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    return html(reply, 200, inboxPage({ viewer: p.viewer, approvals: await inbox(p.user) }));
  });

  app.get('/console/live/inbox', async (r, reply) => {
    const p = await person(r, reply, { extend: false });
    if (!p) return reply;
    return html(reply, 200, fragment(inboxRegion({ csrf: p.viewer.csrf, approvals: await inbox(p.user) })));
  });

  app.post<{ Params: { id: string } }>('/console/approvals/:id', async (r, reply) => {
    const c = await change(r, reply);
    if (!c) return reply;
    const { p, form } = c;
    const decision = form.decision === 'approve' ? 'approve' : form.decision === 'deny' ? 'deny' : null;
    if (!decision) return html(reply, 400, errorPage('Invalid request', 'choose Approve or Deny', p.viewer));
    const flash = await attempt(async () => {
      const a = await m.approvals.decide(r.params.id, { role: 'user', name: `user:${p.user.email}`, user: p.user }, decision, form.reason?.trim() ? form.reason.trim().slice(0, 500) : null);
      return `${decision === 'approve' ? 'Approved' : 'Denied'} ${a.id} (now ${a.status}).`;
    });
    return html(reply, 200, inboxPage({ viewer: p.viewer, approvals: await inbox(p.user), flash }));
  });

  // ---- agents

  async function agentRows(user: User) {
    const out = [];
    for (const agent of await m.store.listAgents()) {
      const [last] = await m.store.listAudit({ agentId: agent.id, newestFirst: true, limit: 1 });
      out.push({ agent, canStop: mayManage(agent.owner, user), lastUse: last?.ts ?? null });
    }
    return out;
  }

  const today = () => new Date(m.clock.now()).toISOString().slice(0, 10);

  app.get('/console/agents', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    return html(reply, 200, agentsPage({ viewer: p.viewer, agents: await agentRows(p.user), today: today() }));
  });

  async function agentView(p: Person, agent: Agent, flash?: Flash) {
    const tasks: Array<{ task: Task; calls: Record<string, number> }> = [];
    const use = new Map<string, GrantUse>();
    for (const task of await m.store.listTasks({ agentId: agent.id, limit: 100 })) {
      const calls = await m.store.callCounts(task.id);
      tasks.push({ task, calls });
      for (const g of task.scope.tools) {
        const u = use.get(g.name) ?? { tool: g.name, tasks: 0, calls: 0, lastUsed: null };
        u.tasks += 1;
        u.calls += calls[g.name] ?? 0;
        use.set(g.name, u);
      }
    }
    const canRead = mayManage(agent.owner, p.user);
    const decisions = canRead ? (await m.store.listAudit({ agentId: agent.id, type: 'tool.call', newestFirst: true, limit: 25 })) : [];
    for (const e of decisions) {
      const u = use.get(String((e.data as { tool?: unknown }).tool ?? ''));
      if (u && e.decision === 'allow' && (u.lastUsed === null || e.ts > u.lastUsed)) u.lastUsed = e.ts;
    }
    tasks.sort((a, b) => b.task.createdAt - a.task.createdAt);
    const bg = m.config.approvals.breakglass;
    return agentPage({
      viewer: p.viewer,
      agent,
      canStop: canRead,
      canBreakGlass: true,
      tasks: tasks.slice(0, 25),
      use: [...use.values()].sort((a, b) => a.calls - b.calls || a.tool.localeCompare(b.tool)),
      decisions,
      breakglass: { maxTtl: bg.maxTtl, quorum: bg.quorum, approvers: bg.approvers },
      flash,
    });
  }

  app.get<{ Params: { id: string } }>('/console/agents/:id', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const agent = await m.store.getAgent(r.params.id);
    if (!agent) return html(reply, 404, errorPage('No such agent', `There is no agent ${r.params.id}.`, p.viewer));
    return html(reply, 200, await agentView(p, agent));
  });

  app.post('/console/agents/suspend', async (r, reply) => {
    const c = await change(r, reply);
    if (!c) return reply;
    const { p, form } = c;
    const agent = form.agent ? await m.store.getAgent(form.agent) : null;
    let flash: Flash;
    if (!agent) flash = { ok: false, text: 'no such agent' };
    else if (!mayManage(agent.owner, p.user)) flash = { ok: false, text: `only ${agent.owner} (its owner) or a person with the security or admin role may suspend ${agent.name}` };
    else if (form.confirm !== 'yes') flash = { ok: false, text: "tick the confirmation to suspend: it ends all of the agent's tasks at once" };
    else {
      await m.agents.setStatus(agent.id, 'suspended', `user:${p.user.email}`, 'suspended from the console');
      flash = { ok: true, text: `${agent.name} is suspended: its tasks ended and every credential it holds is refused.` };
    }
    const fresh = agent ? await m.store.getAgent(agent.id) : null;
    if (fresh && form.back?.startsWith('/console/agents/')) return html(reply, 200, await agentView(p, fresh, flash));
    return html(reply, 200, agentsPage({ viewer: p.viewer, agents: await agentRows(p.user), today: today(), flash }));
  });

  app.post('/console/agents/breakglass', async (r, reply) => {
    const c = await change(r, reply);
    if (!c) return reply;
    const { p, form } = c;
    const agent = form.agent ? await m.store.getAgent(form.agent) : null;
    if (!agent) return html(reply, 404, errorPage('No such agent', 'The agent of this break-glass request does not exist.', p.viewer));
    const ttl = Number(form.ttl);
    const flash = await attempt(async () => {
      const { approval, task } = await m.approvals.requestBreakGlass(
        { role: 'user', name: `user:${p.user.email}`, user: p.user },
        { agentId: agent.id, tools: (form.tools ?? '').split(',').map((t) => t.trim()).filter(Boolean), ttl: Number.isFinite(ttl) ? ttl : NaN, reason: form.reason ?? '' },
      );
      return `Break-glass requested: ${approval.id} for task ${task.id}. It starts once ${approval.quorum} other people approve it (${approval.approvers.join(' or ')}).`;
    });
    return html(reply, flash?.ok ? 200 : 400, await agentView(p, agent, flash));
  });

  // ---- tasks

  /** Live tasks, each delegated one under the task it came from. */
  async function taskRows(user: User): Promise<TaskRow[]> {
    const live = await m.store.listTasks({ status: 'active', limit: 500 });
    const ownerOf = owners();
    const byParent = new Map<string | null, Task[]>();
    const ids = new Set(live.map((t) => t.id));
    for (const t of live) {
      const key = t.parentId && ids.has(t.parentId) ? t.parentId : null;
      byParent.set(key, [...(byParent.get(key) ?? []), t]);
    }
    const out: TaskRow[] = [];
    const walk = async (parent: string | null, depth: number) => {
      for (const t of byParent.get(parent) ?? []) {
        out.push({ task: t, depth, calls: await m.store.callCounts(t.id), canEnd: mayManage(await ownerOf(t.agentId), user) });
        if (depth < 8) await walk(t.id, depth + 1);
      }
    };
    await walk(null, 0);
    return out;
  }

  app.get('/console/tasks', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    return html(reply, 200, tasksPage({ viewer: p.viewer, tasks: await taskRows(p.user) }));
  });

  app.get('/console/live/tasks', async (r, reply) => {
    const p = await person(r, reply, { extend: false });
    if (!p) return reply;
    return html(reply, 200, fragment(tasksRegion({ csrf: p.viewer.csrf, tasks: await taskRows(p.user) })));
  });

  app.post('/console/tasks/revoke', async (r, reply) => {
    const c = await change(r, reply);
    if (!c) return reply;
    const { p, form } = c;
    const task = form.task ? await m.store.getTask(form.task) : null;
    const owner = task ? ((await m.store.getAgent(task.agentId))?.owner ?? null) : null;
    let flash: Flash;
    if (!task) flash = { ok: false, text: 'no such task' };
    else if (!mayManage(owner, p.user)) flash = { ok: false, text: `only the owner of ${task.agentId} or a person with the security or admin role may end this task` };
    else if (form.confirm !== 'yes') flash = { ok: false, text: 'tick the confirmation to revoke the task' };
    else {
      await m.tasks.revoke(task.id, `user:${p.user.email}`, 'revoked from the console');
      flash = { ok: true, text: `${task.id} is revoked, with every task delegated from it.` };
    }
    return html(reply, 200, tasksPage({ viewer: p.viewer, tasks: await taskRows(p.user), flash }));
  });

  // ---- audit

  /**
   * The filtered events this person may read: everything for security and admin, otherwise the
   * events of the agents they own. Null with a message when a filter is malformed.
   */
  async function auditView(user: User, q: Record<string, string>, limit: number) {
    const filter = Object.fromEntries(AUDIT_FILTERS.map(([k]) => [k, (q[k] ?? '').trim()]).filter(([, v]) => v)) as Record<string, string>;
    const query: AuditQuery = { newestFirst: true, limit };
    if (filter.agent) query.agentId = filter.agent;
    if (filter.task) query.taskId = filter.task;
    if (filter.type) query.type = filter.type;
    if (filter.decision) query.decision = filter.decision;
    for (const k of ['since', 'until'] as const) {
      if (!filter[k]) continue;
      const t = instant(filter[k]);
      if (t === null) return { filter, events: [] as AuditEvent[], scope: null, error: `"${filter[k]}" is not a time: write it as 2026-12-01 09:00 (UTC) or an ISO 8601 instant` };
      query[k] = t;
    }
    let scope: string | null = null;
    let mine: Set<string> | null = null;
    if (!staff(user)) {
      mine = new Set((await m.store.listAgents()).filter((a) => a.owner === user.email).map((a) => a.id));
      scope = `You see the events of the ${mine.size} agent${mine.size === 1 ? '' : 's'} you own; the security and admin roles see everything.`;
      if (query.agentId && !mine.has(query.agentId)) return { filter, events: [], scope, error: null };
    }
    const tool = filter.tool;
    // Tool and ownership are not columns: read newest first, in pages, until enough match.
    const events: AuditEvent[] = [];
    let beforeSeq: number | undefined;
    for (let pages = 0; events.length < limit && pages < 50; pages++) {
      const page = await m.store.listAudit({ ...query, limit: 1000, ...(beforeSeq !== undefined ? { beforeSeq } : {}) });
      for (const e of page) {
        if (mine && !(e.agentId && mine.has(e.agentId))) continue;
        if (tool && (e.data as { tool?: unknown }).tool !== tool) continue;
        events.push(e);
        if (events.length >= limit) break;
      }
      if (page.length < 1000) break;
      beforeSeq = page[page.length - 1]!.seq;
    }
    return { filter, events, scope, error: null };
  }

  const filterQuery = (filter: Record<string, string>) => new URLSearchParams(filter).toString();

  app.get('/console/audit', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const q = fields(r.query);
    const v = await auditView(p.user, q, 200);
    const head = await m.store.auditHead();
    let verify = null;
    if (q.verify === '1') {
      await m.audit.drain();
      verify = await m.audit.verify();
    }
    return html(reply, v.error ? 400 : 200, auditPage({ viewer: p.viewer, events: v.events, filter: v.filter, query: filterQuery(v.filter), scope: v.scope, head, verify, error: v.error ?? undefined }));
  });

  app.get('/console/live/audit', async (r, reply) => {
    const p = await person(r, reply, { extend: false });
    if (!p) return reply;
    const v = await auditView(p.user, fields(r.query), 200);
    return html(reply, 200, fragment(auditRegion({ events: v.events, query: filterQuery(v.filter) })));
  });

  app.get('/console/audit/export', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const v = await auditView(p.user, fields(r.query), 100_000);
    if (v.error) return html(reply, 400, errorPage('Invalid filter', v.error, p.viewer));
    const body = v.events.reverse().map((e) => JSON.stringify(e)).join('\n');
    await m.audit.record({ type: 'audit.export', actor: `user:${p.user.email}`, outcome: 'success', data: { filter: v.filter, events: v.events.length, via: 'console' } });
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="mandate-audit-${today()}.jsonl"`)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(body ? `${body}\n` : '');
  });

  app.get<{ Params: { seq: string } }>('/console/audit/:seq', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const seq = Number(r.params.seq);
    const [event] = Number.isInteger(seq) && seq > 0 ? await m.store.listAudit({ afterSeq: seq - 1, limit: 1 }) : [];
    if (!event || event.seq !== seq) return html(reply, 404, errorPage('No such event', `There is no audit event #${r.params.seq}.`, p.viewer));
    if (!staff(p.user) && !(event.agentId && (await m.store.getAgent(event.agentId))?.owner === p.user.email)) return html(reply, 403, errorPage('Not yours to read', 'This event is about an agent you do not own; the security and admin roles read every event.', p.viewer));
    return html(reply, 200, auditEventPage({ viewer: p.viewer, event }));
  });

  // ---- policies and what-if

  const policiesView = (p: Person, whatIf: { agent: string; tool: string; args: string; task: string; action: string }, result?: Explanation, error?: string) => {
    const c = m.policy.current.compiled;
    return policiesPage({ viewer: p.viewer, version: c.version, versionNumber: m.policy.versionNumber, policies: c.policies, warnings: c.warnings, whatIf, result, error });
  };

  app.get('/console/policies', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const q = fields(r.query);
    return html(reply, 200, policiesView(p, { agent: q.agent ?? '', tool: q.tool ?? '', args: '{}', task: '', action: 'call' }));
  });

  app.post('/console/policies/whatif', async (r, reply) => {
    const c = await change(r, reply);
    if (!c) return reply;
    const { p, form } = c;
    const w = { agent: form.agent?.trim() ?? '', tool: form.tool?.trim() ?? '', args: form.args?.trim() || '{}', task: form.task?.trim() ?? '', action: form.action === 'startTask' ? 'startTask' : 'call' };
    const fail = (status: number, message: string) => html(reply, status, policiesView(p, w, undefined, message));
    let args: unknown;
    try {
      args = JSON.parse(w.args);
    } catch {
      return fail(400, 'The arguments are not JSON: write an object such as {"path": "/reports/q3.txt"}.');
    }
    if (!args || typeof args !== 'object' || Array.isArray(args)) return fail(400, 'The arguments must be a JSON object such as {"path": "/reports/q3.txt"}.');
    const agent = await m.store.getAgent(w.agent);
    if (!agent) return fail(404, `There is no agent ${w.agent}: give its full id (the agents page lists them).`);
    if (!mayManage(agent.owner, p.user)) return fail(403, `Only ${agent.owner} (its owner) or a person with the security or admin role may ask what-if about ${agent.name}.`);
    const task = w.task ? await m.store.getTask(w.task) : undefined;
    if (w.task && (!task || task.agentId !== agent.id)) return fail(404, `There is no task ${w.task} of ${agent.name}.`);
    try {
      return html(reply, 200, policiesView(p, w, explain({ agent, tool: w.tool, args: args as Record<string, unknown>, task: task ?? undefined, action: w.action as 'call' | 'startTask' }, m)));
    } catch (err) {
      if (!(err instanceof MandateError) || err.status >= 500) throw err;
      return fail(err.status, err.message);
    }
  });

  // ---- tools and pins

  async function toolsView(p: Person, flash?: Flash) {
    const pins = new Map<string, Awaited<ReturnType<typeof m.pins.list>>[number]>();
    for (const pin of await m.pins.list()) pins.set(`${pin.upstream}.${pin.tool}`, pin);
    const tools = m.tools.listTools().map((tool) => ({ tool, pin: tool.kind && tool.kind !== 'mcp' ? ('unpinned' as const) : pinStatus(pins.get(`${tool.upstream}.${tool.remoteName}`)) }));
    const pending = [...pins.values()]
      .filter((x) => x.pendingHash)
      .map((x) => ({ upstream: x.upstream, tool: x.tool, status: pinStatus(x), diff: jsonDiff(x.acceptedDefinition, x.pendingDefinition), pending: x.pendingDefinition, hash: x.pendingHash! }));
    return toolsPage({ viewer: p.viewer, tools, pending, canAccept: p.user.roles.includes('admin'), flash });
  }

  app.get('/console/tools', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    return html(reply, 200, await toolsView(p));
  });

  app.post('/console/tools/accept', async (r, reply) => {
    const c = await change(r, reply);
    if (!c) return reply;
    const { p, form } = c;
    let flash: Flash;
    if (!p.user.roles.includes('admin')) flash = { ok: false, text: 'accepting a tool definition takes the admin role' };
    else if (form.confirm !== 'yes') flash = { ok: false, text: 'tick the confirmation: you accept exactly the definition shown' };
    else if (!form.upstream || !form.tool) flash = { ok: false, text: 'name the upstream and the tool' };
    else
      flash = await attempt(async () => {
        const done = await m.pins.accept(form.upstream!, [form.tool!], `user:${p.user.email}`, form.hash ? { [form.tool!]: form.hash } : undefined);
        await m.upstreams.refresh(form.upstream!);
        return done.length ? `Accepted ${form.upstream}.${form.tool}: agents granted it see and may call it again.` : `${form.upstream}.${form.tool} had no change waiting (someone accepted it already).`;
      });
    return html(reply, flash?.ok ? 200 : 400, await toolsView(p, flash));
  });

  // ---- access review (the governance loop)

  async function reviewView(p: Person, sinceText: string, flash?: Flash) {
    const now = m.clock.now();
    let since: number;
    try {
      since = sinceOf(sinceText, now);
    } catch (err) {
      if (!(err instanceof MandateError)) throw err;
      return { status: 400, body: errorPage('Invalid window', err.message, p.viewer) };
    }
    const review = await buildReview(m, { since, until: now + 1, staleDays: 30, owner: staff(p.user) ? undefined : p.user.email });
    const mine = new Set(review.agents.filter((a) => a.owner === p.user.email).map((a) => a.id));
    return {
      status: flash && !flash.ok ? 400 : 200,
      body: reviewPage({ viewer: p.viewer, review, since: sinceText, scope: staff(p.user) ? null : 'You review the agents you own; the security and admin roles review everyone\'s.', canAccept: (id) => staff(p.user) || mine.has(id), flash }),
    };
  }

  app.get('/console/review', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const v = await reviewView(p, fields(r.query).since?.trim() || '30d');
    return html(reply, v.status, v.body);
  });

  app.post('/console/review/accept', async (r, reply) => {
    const c = await change(r, reply);
    if (!c) return reply;
    const { p, form } = c;
    const agent = form.agent ? await m.store.getAgent(form.agent) : null;
    const days = Number(form.next ?? '90');
    let flash: Flash;
    if (!agent) flash = { ok: false, text: 'no such agent' };
    else if (!mayManage(agent.owner, p.user)) flash = { ok: false, text: `only ${agent.owner} (its owner) or a person with the security or admin role may accept the review of ${agent.name}` };
    else if (!Number.isInteger(days) || days < 1 || days > 730) flash = { ok: false, text: 'the next review is 1 to 730 days away' };
    else
      flash = await attempt(async () => {
        const done = await acceptReview(m, agent, `user:${p.user.email}`, daysFrom(m.clock.now(), days), null, 'console');
        return `Review of ${agent.name} accepted; next review by ${done.reviewBy}.`;
      });
    const v = await reviewView(p, form.since?.trim() || '30d', flash);
    return html(reply, v.status, v.body);
  });

  // ---- framework report (the governance loop): the same report as GET /api/v1/report, for the
  // deployment (security and admin) or for the agents the person owns (everyone else).

  async function reportFor(p: Person, sinceText: string) {
    const now = m.clock.now();
    let from: number;
    try {
      from = sinceOf(sinceText, now);
    } catch (err) {
      if (!(err instanceof MandateError)) throw err;
      return { error: err.message };
    }
    const report = await buildReport(m, { since: from, until: now + 1, owner: staff(p.user) ? null : p.user.email });
    return { report, scope: staff(p.user) ? null : 'You see the report over the agents you own; the security and admin roles see the whole deployment.' };
  }

  app.get('/console/report', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const sinceText = fields(r.query).since?.trim() || '30d';
    const v = await reportFor(p, sinceText);
    if ('error' in v) return html(reply, 400, errorPage('Invalid window', v.error!, p.viewer));
    return html(reply, 200, reportPage({ viewer: p.viewer, report: v.report, since: sinceText, scope: v.scope }));
  });

  app.get('/console/report/export', async (r, reply) => {
    const p = await person(r, reply);
    if (!p) return reply;
    const q = fields(r.query);
    const format = q.format === 'md' || q.format === 'json' ? q.format : 'html';
    const v = await reportFor(p, q.since?.trim() || '30d');
    if ('error' in v) return html(reply, 400, errorPage('Invalid window', v.error!, p.viewer));
    const { body, type } = renderReport(v.report, format);
    const name = `mandate-report-${new Date(v.report.generatedAt).toISOString().slice(0, 10)}.${format}`;
    return reply
      .header('content-type', type)
      .header('content-security-policy', REPORT_HTML_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store')
      .header('content-disposition', `${format === 'html' ? 'inline' : 'attachment'}; filename="${name}"`)
      .send(body);
  });
}
