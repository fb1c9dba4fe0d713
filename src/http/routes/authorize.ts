// The person-facing side of the MCP authorization flow: `/authorize` (sign in with a personal
// token, then choose the task a client may do), client registration (RFC 7591) and the admin view
// of registered clients. Pages are server-rendered HTML with a strict CSP (no script at all, styles
// from one file, forms only to here and to the client's redirect URI, never framed).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MandateError, q } from '../../core/errors.js';
import type { Mandate } from '../../mandate.js';
import { AuthorizationServer, OAuthFlowError, type AuthorizationRequest } from '../../oauth/authorization-server.js';
import { MAX_METADATA_BYTES } from '../../oauth/client-metadata.js';
import { CONSENT_CSS, consentPage, errorPage, loginPage } from '../../oauth/consent-page.js';
import { ConsentSessions } from '../../oauth/consent-session.js';
import { OidcLogin } from '../../oauth/oidc-login.js';
import { CONSOLE_OIDC_MARK, consoleSessions } from './console.js';
import { requireAdmin } from '../auth.js';
import { parseWith } from './validate.js';

type Params = Record<string, string | undefined>;

function strings(v: unknown): Params {
  const out: Params = {};
  if (!v || typeof v !== 'object') return out;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string') out[k] = x;
    else if (Array.isArray(x)) out[k] = '\u0000'; // a repeated parameter is refused below (RFC 6749 §3.1)
  }
  return out;
}

/** The Content-Security-Policy of a page whose forms may end at `redirectUri` (a form's redirect is checked against form-action). */
function csp(redirectUri?: string, also = ''): string {
  let target = also ? ` ${also}` : '';
  if (redirectUri) {
    try {
      const u = new URL(redirectUri);
      target = u.protocol === 'http:' || u.protocol === 'https:' ? ` ${u.origin}` : ` ${u.protocol}`;
    } catch {
      target = '';
    }
  }
  return `default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'${target}; frame-ancestors 'none'; base-uri 'none'`;
}

export function registerAuthorizeRoutes(app: FastifyInstance, m: Mandate): void {
  const as = m.authorization;
  const secure = () => m.endpoints.base.startsWith('https:');
  const sessions = new ConsentSessions(m.keys.derive('consent-session'), m.config.oauth.sessionTtl * 1000, m.endpoints.base.startsWith('https:'));
  const oidcCfg = m.config.auth.oidc;
  const oidc = oidcCfg ? new OidcLogin(oidcCfg, () => m.secrets.get(oidcCfg.secret), m.keys.derive('oidc-login'), () => `${m.endpoints.base}/authorize/oidc/callback`, secure(), () => m.clock.now()) : null;

  const page = (reply: FastifyReply, status: number, html: string, redirectUri?: string, also?: string) =>
    reply
      .status(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', csp(redirectUri, also))
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .send(html);

  /** Steps every /authorize request shares: a trustworthy client and redirect URI, then the rest of the request. */
  async function begin(reply: FastifyReply, p: Params): Promise<AuthorizationRequest | null> {
    const repeated = Object.entries(p).find(([, v]) => v === '\u0000');
    if (repeated) {
      page(reply, 400, errorPage('Invalid request', `parameter ${q(repeated[0])} was sent more than once`));
      return null;
    }
    let req: AuthorizationRequest;
    try {
      req = await as.request(p);
    } catch (err) {
      if (err instanceof MandateError) {
        page(reply, 400, errorPage('This application cannot be authorized', err.message));
        return null;
      }
      throw err;
    }
    try {
      as.checkRequest(req, p);
    } catch (err) {
      if (err instanceof OAuthFlowError) {
        reply.header('cache-control', 'no-store').redirect(as.redirect(req, { error: err.oauthError, error_description: err.message }), 303);
        return null;
      }
      throw err;
    }
    return req;
  }

  async function signedIn(r: FastifyRequest) {
    const s = sessions.read(r.headers, m.clock.now());
    if (!s) return null;
    const user = await m.store.getUser(s.user);
    return user && user.status === 'active' ? { session: s, user } : null;
  }

  app.get('/authorize/style.css', async (_req, reply) => reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSENT_CSS));

  app.get('/authorize', async (r, reply) => {
    const req = await begin(reply, strings(r.query));
    if (!req) return reply;
    const who = await signedIn(r);
    if (!who) {
      const { nonce, setCookie } = sessions.loginNonce(r.headers);
      if (setCookie) reply.header('set-cookie', setCookie);
      return page(reply, 200, loginPage({ client: as.view(req), params: req.params, loginToken: sessions.loginToken(nonce), oidc: oidc?.name }), undefined, oidc?.origin);
    }
    return page(reply, 200, consentPage({ client: as.view(req), user: `${who.user.name} <${who.user.email}>`, params: req.params, csrf: sessions.csrf(who.session), templates: as.templates() }), req.redirectUri);
  });

  app.post('/authorize/login', async (r, reply) => {
    const form = strings(r.body);
    const req = await begin(reply, form);
    if (!req) return reply;
    const { nonce } = sessions.loginNonce(r.headers);
    if (!sessions.checkLogin(r.headers, form.login_token)) {
      return page(reply, 403, loginPage({ client: as.view(req), params: req.params, loginToken: sessions.loginToken(nonce), oidc: oidc?.name, error: 'This sign-in form expired or did not come from this page: sign in again.' }), undefined, oidc?.origin);
    }
    const caller = form.user_token ? await m.apiTokens.authenticate(form.user_token) : null;
    if (!caller?.user || caller.user.status !== 'active') {
      await m.audit.record({ type: 'auth.failure', actor: 'anonymous', outcome: 'failure', data: { method: 'consent-login', reason: caller ? 'not a personal user token' : 'unknown token', ip: r.ip } });
      return page(reply, 401, loginPage({ client: as.view(req), params: req.params, loginToken: sessions.loginToken(nonce), oidc: oidc?.name, error: caller ? 'That is not a personal token: sign in with the token made for you by `mandate user create`.' : 'That token is not valid (or was revoked).' }));
    }
    await m.audit.record({ type: 'auth.success', actor: `user:${caller.user.email}`, outcome: 'success', data: { method: 'consent-login', ip: r.ip } });
    reply.header('set-cookie', sessions.open(caller.user.id, m.clock.now()));
    return reply.header('cache-control', 'no-store').redirect(`/authorize?${new URLSearchParams(req.params as Record<string, string>).toString()}`, 303);
  });

  // Company sign-in (auth.oidc): to the provider and back, then the same session as a token sign-in.
  app.post('/authorize/oidc', async (r, reply) => {
    if (!oidc) return page(reply, 404, errorPage('Not available', 'Company sign-in is not configured here (auth.oidc): sign in with your personal token.'));
    const form = strings(r.body);
    const req = await begin(reply, form);
    if (!req) return reply;
    if (!sessions.checkLogin(r.headers, form.login_token)) return page(reply, 403, errorPage('Request refused', 'This sign-in form expired or did not come from this page: go back and sign in again.'));
    try {
      const { location, setCookie } = await oidc.start(req.params);
      reply.header('set-cookie', setCookie);
      return reply.header('cache-control', 'no-store').redirect(location, 303);
    } catch (err) {
      if (err instanceof MandateError) return page(reply, 502, errorPage('Company sign-in unavailable', err.message));
      throw err;
    }
  });

  app.get('/authorize/oidc/callback', async (r, reply) => {
    if (!oidc) return page(reply, 404, errorPage('Not available', 'Company sign-in is not configured here (auth.oidc).'));
    let got: { email: string; params: Record<string, string> };
    try {
      got = await oidc.finish(r.headers, strings(r.query));
    } catch (err) {
      if (!(err instanceof MandateError)) throw err;
      await m.audit.record({ type: 'auth.failure', actor: 'anonymous', outcome: 'failure', data: { method: 'oidc', reason: err.message, ip: r.ip } });
      reply.header('set-cookie', oidc.clearCookie());
      return page(reply, err.status >= 500 ? 502 : 403, errorPage('Sign-in failed', err.message));
    }
    const user = await m.store.getUser(got.email);
    if (!user || user.status !== 'active') {
      await m.audit.record({ type: 'auth.failure', actor: `oidc:${got.email}`, outcome: 'failure', data: { method: 'oidc', reason: user ? `user ${user.status}` : 'no Mandate user with this email', ip: r.ip } });
      reply.header('set-cookie', oidc.clearCookie());
      return page(reply, 403, errorPage('Not a Mandate user', `${got.email} signed in at ${oidc.name}, but no active Mandate user has that email: an administrator adds you with \`mandate user create\`.`));
    }
    // A console sign-in (the console started it): a console session, back to the console.
    if (got.params.to === CONSOLE_OIDC_MARK.to && Object.keys(got.params).length === 1) {
      await m.audit.record({ type: 'auth.success', actor: `user:${user.email}`, outcome: 'success', data: { method: 'console-oidc', ip: r.ip } });
      reply.header('set-cookie', [consoleSessions(m).open(user.id, m.clock.now()), oidc.clearCookie()]);
      return reply.header('cache-control', 'no-store').redirect('/', 303);
    }
    await m.audit.record({ type: 'auth.success', actor: `user:${user.email}`, outcome: 'success', data: { method: 'oidc', ip: r.ip } });
    reply.header('set-cookie', [sessions.open(user.id, m.clock.now()), oidc.clearCookie()]);
    return reply.header('cache-control', 'no-store').redirect(`/authorize?${new URLSearchParams(got.params).toString()}`, 303);
  });

  app.post('/authorize/decision', async (r, reply) => {
    const form = strings(r.body);
    const req = await begin(reply, form);
    if (!req) return reply;
    const who = await signedIn(r);
    if (!who) return page(reply, 401, errorPage('Signed out', 'Your sign-in on this page ended: go back to the application and start again.'));
    if (!sessions.checkCsrf(who.session, form.csrf)) {
      await m.audit.record({ type: 'oauth.consent', actor: `user:${who.user.email}`, outcome: 'denied', data: { clientId: req.client.id, reason: 'CSRF token missing or wrong' } });
      return page(reply, 403, errorPage('Request refused', 'This form did not come from the consent page (its CSRF token is missing or wrong): nothing was granted.'));
    }
    try {
      const to = await as.decide(req, who.user, form);
      return reply.header('cache-control', 'no-store').redirect(to, 303);
    } catch (err) {
      if (err instanceof OAuthFlowError && err.oauthError === 'invalid_request') {
        return page(reply, 400, consentPage({ client: as.view(req), user: `${who.user.name} <${who.user.email}>`, params: req.params, csrf: sessions.csrf(who.session), templates: as.templates(), error: err.message }), req.redirectUri);
      }
      throw err;
    }
  });

  // RFC 7591: public clients register their redirect URIs.
  app.post('/oauth/register', { bodyLimit: MAX_METADATA_BYTES }, async (r, reply) => {
    reply.header('cache-control', 'no-store');
    if (!String(r.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      return reply.status(400).send({ error: 'invalid_client_metadata', error_description: 'send the client metadata as application/json (RFC 7591 §3.1)' });
    }
    try {
      return reply.status(201).send(await as.register(r.body, `ip:${r.ip}`));
    } catch (err) {
      if (err instanceof MandateError) {
        const oauthError = (err.details?.oauthError as string | undefined) ?? (err.status === 429 || err.status === 403 ? 'invalid_request' : 'invalid_client_metadata');
        return reply.status(err.status).send({ error: oauthError, error_description: err.message });
      }
      throw err;
    }
  });

  app.get('/api/v1/oauth/clients', async (r) => {
    await requireAdmin(m, r);
    const query = parseWith(z.object({ kind: z.enum(['dcr', 'cimd']).optional(), all: z.enum(['true', 'false']).optional() }).strict(), r.query ?? {}, 'query');
    const clients = await m.store.listOAuthClients({ ...(query.kind ? { kind: query.kind } : {}), includeRevoked: query.all === 'true', limit: 1000 });
    return { clients: clients.map((c) => ({ id: c.id, kind: c.kind, name: c.name, redirectUris: c.redirectUris, createdAt: new Date(c.createdAt).toISOString(), createdBy: c.createdBy, revokedAt: c.revokedAt ? new Date(c.revokedAt).toISOString() : null })) };
  });

  app.post<{ Params: { id: string } }>('/api/v1/oauth/clients/:id/revoke', async (r) => {
    const caller = await requireAdmin(m, r);
    const id = decodeURIComponent(r.params.id);
    if (!(await m.store.revokeOAuthClient(id, m.clock.now()))) throw new MandateError('not_found', `no registered client ${q(id)}`);
    // Its tasks end now (for every person it acted for); its refresh tokens are refused from now on.
    let ended = 0;
    for (const a of await m.store.listAgents({})) if (as.isIdentityOf(a, id)) ended += await m.tasks.revokeAllForAgent(a.id, `OAuth client ${id} revoked`, caller.name);
    await m.audit.record({ type: 'oauth.client.revoke', actor: caller.name, outcome: 'success', data: { clientId: id, tasksEnded: ended } });
    return { id, revoked: true, tasksEnded: ended };
  });
}

export { AuthorizationServer };
