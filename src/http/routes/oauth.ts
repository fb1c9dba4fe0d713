// OAuth endpoints for agents and enforcement points: token (client_credentials with
// private_key_jwt and `mandate_task` authorization details), introspection (RFC 7662),
// revocation (RFC 7009) and the discovery documents.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MandateError, q } from '../../core/errors.js';
import { ClientAuthError, JWT_BEARER_ASSERTION, type AssertionUse, type AuthenticatedAgent } from '../../identity/client-assertion.js';
import { holderOf } from '../../tasks/credentials.js';
import type { Mandate } from '../../mandate.js';
import type { Agent } from '../../storage/types.js';
import { requireCaller } from '../auth.js';
import { MANDATE_SCOPE, OAuthFlowError } from '../../oauth/authorization-server.js';

function form(req: FastifyRequest): Record<string, string> {
  const ct = req.headers['content-type'] ?? '';
  if (!ct.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new MandateError('invalid_request', 'OAuth endpoints take `application/x-www-form-urlencoded` bodies', { status: 415 });
  }
  return (req.body ?? {}) as Record<string, string>;
}

function noStore(reply: FastifyReply): void {
  reply.header('Cache-Control', 'no-store');
  reply.header('Pragma', 'no-cache');
}

export function registerOAuthRoutes(app: FastifyInstance, m: Mandate): void {
  const ip = (req: FastifyRequest) => req.ip;

  /** The DPoP proof of a token-endpoint request, if any: its key's thumbprint. Audited when refused. */
  async function tokenEndpointProof(req: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
    if (m.dpop.requireNonce) reply.header('DPoP-Nonce', m.dpop.nonce());
    if (req.headers.dpop === undefined) return undefined;
    try {
      return (await m.dpop.verify(req.headers.dpop, { method: 'POST', url: m.endpoints.token })).jkt;
    } catch (err) {
      await m.audit.record({ type: 'auth.failure', actor: 'anonymous', outcome: 'failure', data: { method: 'dpop', reason: (err as Error).message, ip: ip(req) } });
      throw err;
    }
  }

  /**
   * The agent behind a resource request made with its own credential (revocation): `Bearer` for
   * unbound credentials, `DPoP` plus a proof by the bound key for bound ones.
   */
  async function credentialCaller(req: FastifyRequest, url: string) {
    const h = req.headers.authorization ?? '';
    const m1 = /^(Bearer|DPoP)\s+(\S+)\s*$/i.exec(h);
    if (!m1) return null;
    const scheme = m1[1]!.toLowerCase();
    const token = m1[2]!;
    const claims = await m.credentials.inspect(token);
    if (!claims) return null;
    if (claims.cnf?.jkt) {
      if (scheme !== 'dpop') throw new MandateError('invalid_token', 'this credential is bound to a key: present it as `Authorization: DPoP <credential>` with a DPoP proof');
      await m.dpop.verify(req.headers.dpop, { method: req.method, url, accessToken: token, jkt: claims.cnf.jkt });
    } else if (scheme === 'dpop') {
      throw new MandateError('invalid_token', 'this credential is not bound to a key: present it as `Authorization: Bearer`');
    }
    return claims;
  }

  /** private_key_jwt client authentication (or a delegation ticket), audited either way. */
  async function authenticateClient(req: FastifyRequest, params: Record<string, string>): Promise<Agent>;
  async function authenticateClient(req: FastifyRequest, params: Record<string, string>, use: 'delegation'): Promise<AuthenticatedAgent>;
  async function authenticateClient(req: FastifyRequest, params: Record<string, string>, use: AssertionUse = 'login'): Promise<Agent | AuthenticatedAgent> {
    const method = use === 'login' ? 'private_key_jwt' : 'delegation_ticket';
    try {
      if (params.client_assertion_type !== JWT_BEARER_ASSERTION) {
        throw new ClientAuthError(
          params.client_secret !== undefined
            ? 'client secrets are not accepted: agents authenticate with private_key_jwt (RFC 7523), never a static secret'
            : `\`client_assertion_type\` must be \`${JWT_BEARER_ASSERTION}\``,
          null,
        );
      }
      const verified = await m.assertions.verify(params.client_assertion ?? '', use === 'login' ? params.client_id : undefined, use);
      const { agent, jti, kid } = verified;
      await m.audit.record({ type: 'auth.success', actor: agent.id, agentId: agent.id, outcome: 'success', data: { method, assertionId: jti, kid: kid ?? null, ip: ip(req), ...(verified.jkt ? { dpopJkt: verified.jkt } : {}) } });
      return use === 'login' ? agent : verified;
    } catch (err) {
      if (err instanceof ClientAuthError) {
        await m.audit.record({ type: 'auth.failure', actor: err.agentId ?? 'anonymous', agentId: err.agentId, outcome: 'failure', data: { method, reason: err.message, ip: ip(req) } });
      }
      throw err;
    }
  }

  /**
   * Delegation, RFC 8693: the parent agent exchanges its task credential (`subject_token`, with a
   * DPoP proof by its key if the credential is bound) and the child's delegation ticket
   * (`actor_token`: single use, short-lived, signed by the child, naming the child's DPoP key)
   * for a narrower credential for the child, bound to the key the child signed into the ticket.
   */
  async function delegate(req: FastifyRequest, reply: FastifyReply, params: Record<string, string>) {
    if (!params.subject_token) throw new MandateError('invalid_request', '`subject_token` (the parent task credential) is required');
    if (!params.subject_token_type) throw new MandateError('invalid_request', `\`subject_token_type\` is required (RFC 8693 §2.1): \`${ACCESS_TOKEN_TYPE}\``);
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) throw new MandateError('invalid_request', `\`subject_token_type\` must be \`${ACCESS_TOKEN_TYPE}\``);
    let claims;
    try {
      claims = await m.credentials.verify(params.subject_token, m.endpoints.mcp);
    } catch (err) {
      await m.audit.record({ type: 'task.delegate', actor: 'anonymous', decision: 'deny', outcome: 'denied', data: { reason: `subject_token refused: ${(err as Error).message}` } });
      throw new MandateError('invalid_grant', `subject_token is not a live task credential: ${(err as Error).message}`);
    }
    const parentId = holderOf(claims);
    // The parent proves possession of a bound credential, as at any resource.
    if (claims.cnf?.jkt) {
      try {
        await m.dpop.verify(req.headers.dpop, { method: 'POST', url: m.endpoints.token, accessToken: params.subject_token, jkt: claims.cnf.jkt });
      } catch (err) {
        await m.audit.record({ type: 'task.delegate', actor: parentId, agentId: parentId, taskId: claims.task_id, decision: 'deny', outcome: 'denied', data: { reason: (err as Error).message } });
        throw err;
      }
    }
    // Client authentication presented on an exchange is verified, never ignored: it must be the parent's.
    if (params.client_assertion !== undefined || params.client_assertion_type !== undefined || params.client_secret !== undefined) {
      const client = await authenticateClient(req, params);
      if (client.id !== parentId) throw new MandateError('invalid_client', `the authenticated client ${q(client.id)} is not the holder of \`subject_token\` (${q(parentId)}): only the delegating agent may exchange its credential`);
    }
    const parent = await m.store.getTask(claims.task_id);
    const parentAgent = await m.store.getAgent(parentId);
    if (!parent || !parentAgent) throw new MandateError('invalid_grant', 'the parent task or agent no longer exists');
    if (parent.breakGlass) {
      await m.audit.record({ type: 'task.delegate', actor: parentId, agentId: parentId, taskId: parent.id, decision: 'deny', outcome: 'denied', data: { reason: 'break-glass tasks cannot delegate' } });
      throw new MandateError('invalid_grant', 'break-glass tasks cannot delegate: their elevation covers this agent and this emergency only');
    }
    if (!params.actor_token) throw new MandateError('invalid_request', "`actor_token` (the child agent's delegation ticket, from MandateAgent.delegationTicket()) is required: the child proves it takes part");
    if (params.actor_token_type && params.actor_token_type !== JWT_TOKEN_TYPE) throw new MandateError('invalid_request', `\`actor_token_type\` must be \`${JWT_TOKEN_TYPE}\``);
    // The child takes part through its ticket (single use, audited); its key binding comes from
    // the ticket, which the child signed, never from the parent.
    const ticket = await authenticateClient(req, { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: params.actor_token }, 'delegation');
    const child = ticket.agent;
    const jkt = ticket.jkt;
    if (params.dpop_jkt !== undefined && params.dpop_jkt !== jkt) {
      await m.audit.record({ type: 'task.delegate', actor: parentId, agentId: child.id, taskId: parent.id, decision: 'deny', outcome: 'denied', data: { reason: 'dpop_jkt differs from the key in the child\'s ticket' } });
      throw new MandateError('invalid_request', "`dpop_jkt` must match the DPoP key the child signed into its delegation ticket (`cnf.jkt`): a parent cannot choose the child's key");
    }
    if (!jkt && !m.config.credentials.bearerEnvironments.includes(child.environment)) {
      throw new MandateError('invalid_dpop_proof', `agents in \`${child.environment}\` get key-bound credentials only: the child's delegation ticket must name its DPoP key (\`cnf.jkt\`)`);
    }
    const audience = params.resource ?? params.audience ?? m.endpoints.mcp;
    if (audience !== m.endpoints.mcp) throw new MandateError('invalid_target', `\`resource\` ${q(audience)} is not served by this Mandate (expected ${q(m.endpoints.mcp)})`);
    const got = await m.tasks.delegate({ parent, parentAgent, child, rawDetails: params.authorization_details, audience, bind: jkt ? { jkt } : {}, maxDepth: m.config.credentials.maxDelegationDepth });
    noStore(reply);
    return {
      access_token: got.credential.token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: jkt ? 'DPoP' : 'Bearer',
      expires_in: Math.max(1, Math.round((got.credential.expiresAt - m.clock.now()) / 1000)),
      scope: 'mandate:task',
      task_id: got.task.id,
      authorization_details: [got.authorizationDetails],
      ...(got.warnings.length ? { warnings: got.warnings } : {}),
    };
  }

  app.post('/oauth/token', async (req, reply) => {
    noStore(reply);
    const params = form(req);
    const tracing = m.gateway.tracing;
    if (tracing.enabled) {
      const span = tracing.start('mandate.token', { 'oauth.grant_type': params.grant_type ?? '' }, tracing.parentFrom(req.headers as Record<string, unknown>));
      reply.raw.once('finish', () => tracing.end(span, { 'http.response.status_code': reply.statusCode }, reply.statusCode >= 400 ? `refused (${reply.statusCode})` : undefined));
    }
    if (!params.grant_type) throw new MandateError('invalid_request', '`grant_type` is required (client_credentials, authorization_code, refresh_token or token exchange)');
    if (params.grant_type === TOKEN_EXCHANGE) return delegate(req, reply, params);
    // The standard MCP flow (stock clients): a code from the consent page, then refresh tokens.
    if (params.grant_type === 'authorization_code' || params.grant_type === 'refresh_token') {
      const jkt = await tokenEndpointProof(req, reply);
      try {
        return params.grant_type === 'authorization_code' ? await m.authorization.exchangeCode(params, jkt) : await m.authorization.refresh(params, jkt);
      } catch (err) {
        if (err instanceof OAuthFlowError) {
          await m.audit.record({ type: 'oauth.token', actor: params.client_id ?? 'anonymous', outcome: 'denied', data: { grant: params.grant_type, reason: err.message, ip: ip(req) } });
          return reply.status(err.status === 401 ? 401 : 400).send({ error: err.oauthError, error_description: err.message });
        }
        throw err;
      }
    }
    if (params.grant_type !== 'client_credentials') {
      throw new MandateError('unsupported_grant_type', `grant type ${q(params.grant_type)} is not supported: agents use client_credentials with a client assertion; MCP clients authorization_code (then refresh_token)`);
    }
    // DPoP (RFC 9449): a proof with the request binds the credential to its key.
    const jkt = await tokenEndpointProof(req, reply);
    const agent = await authenticateClient(req, params);
    if (!jkt && !m.config.credentials.bearerEnvironments.includes(agent.environment)) {
      await m.audit.record({ type: 'task.deny', actor: agent.id, agentId: agent.id, decision: 'deny', outcome: 'denied', data: { reason: 'bearer credentials are not allowed in this environment' } });
      throw new MandateError('invalid_dpop_proof', `agents in \`${agent.environment}\` get key-bound credentials only: send a DPoP proof (RFC 9449) with this request (bearer credentials are allowed in: ${m.config.credentials.bearerEnvironments.join(', ') || 'no environment'})`);
    }
    const bind = jkt ? { jkt } : {};
    const tokenType = jkt ? 'DPoP' : 'Bearer';
    // RFC 8707: the credential's audience is the resource it is for; Mandate's MCP endpoint by default.
    const audience = params.resource ?? m.endpoints.mcp;
    if (audience !== m.endpoints.mcp) {
      throw new MandateError('invalid_target', `\`resource\` ${q(audience)} is not served by this Mandate (expected ${q(m.endpoints.mcp)})`);
    }
    // Coming back for a task that already exists (approved after waiting, or break-glass).
    // Asking to widen an existing task (`amend`): a person decides; once approved, the same task.
    const amend = amendmentOf(params.authorization_details);
    const existing = amend ? null : existingTaskId(params.authorization_details);
    if (amend) {
      const got = await m.tasks.amend(agent, amend.taskId, amend.amend, audience, bind);
      return {
        access_token: got.credential.token,
        token_type: tokenType,
        expires_in: Math.max(1, Math.round((got.credential.expiresAt - m.clock.now()) / 1000)),
        scope: 'mandate:task',
        task_id: got.task.id,
        authorization_details: [got.authorizationDetails],
      };
    }
    if (existing) {
      const got = await m.tasks.credentialFor(agent, existing, audience, bind);
      return {
        access_token: got.credential.token,
        token_type: tokenType,
        expires_in: Math.max(1, Math.round((got.credential.expiresAt - m.clock.now()) / 1000)),
        scope: 'mandate:task',
        task_id: got.task.id,
        authorization_details: [got.authorizationDetails],
      };
    }
    const started = await m.tasks.start(agent, params.authorization_details, audience, bind);
    return {
      access_token: started.credential.token,
      token_type: tokenType,
      // The granted lifetime, from issuance (a slow response must not report a shorter one).
      expires_in: Math.round((started.task.expiresAt - started.task.createdAt) / 1000),
      scope: 'mandate:task',
      task_id: started.task.id,
      authorization_details: [started.authorizationDetails],
      ...(started.warnings.length ? { warnings: started.warnings } : {}),
    };
  });

  app.post('/oauth/introspect', async (req, reply) => {
    noStore(reply);
    await requireCaller(m, req, ['admin', 'pep']);
    const params = form(req);
    if (!params.token) throw new MandateError('invalid_request', '`token` is required');
    const claims = await m.credentials.inspect(params.token);
    if (!claims) return { active: false };
    const task = await m.store.getTask(claims.task_id);
    const live = claims.exp * 1000 > m.clock.now() && !m.credentials.endedBecause(claims) && task?.status === 'active';
    if (!live || !task) return { active: false };
    // Everything an enforcement point must enforce: the key binding (RFC 9449 §6.2), the
    // delegation chain (RFC 8693 §4.1), the task and its scope.
    return {
      active: true,
      iss: claims.iss,
      sub: claims.sub,
      client_id: claims.client_id,
      aud: claims.aud,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      scope: claims.scope,
      token_type: claims.cnf?.jkt ? 'DPoP' : 'Bearer',
      ...(claims.cnf ? { cnf: claims.cnf } : {}),
      ...(claims.act ? { act: claims.act } : {}),
      task_id: claims.task_id,
      authorization_details: claims.authorization_details,
      ...(task.breakGlass ? { break_glass: true } : {}),
    };
  });

  // RFC 7009: the agent revokes its own credential, which ends its task. The agent authenticates
  // with that credential (Bearer) or with a client assertion. Unknown tokens answer 200.
  app.post('/oauth/revoke', async (req, reply) => {
    noStore(reply);
    const params = form(req);
    if (!params.token) throw new MandateError('invalid_request', '`token` is required');
    let agentId: string;
    if (params.client_assertion) {
      agentId = (await authenticateClient(req, params)).id;
    } else {
      const own = await credentialCaller(req, `${m.endpoints.base}/oauth/revoke`);
      if (!own) throw new MandateError('invalid_client', 'authenticate with your task credential (`Authorization: Bearer <credential>`, or `DPoP <credential>` with a proof if it is key-bound) or a client assertion');
      agentId = holderOf(own);
    }
    const claims = await m.credentials.inspect(params.token);
    if (!claims) return reply.status(200).send({});
    if (holderOf(claims) !== agentId) throw new MandateError('unauthorized', 'a credential can only be revoked by the agent it was issued to', { status: 403 });
    await m.tasks.end(claims.task_id, agentId, 'ended by agent (credential revoked)');
    return reply.status(200).send({});
  });

  app.get('/.well-known/oauth-authorization-server', async () => ({
    issuer: m.endpoints.issuer,
    authorization_endpoint: `${m.endpoints.base}/authorize`,
    token_endpoint: m.endpoints.token,
    ...(m.config.oauth.registration.enabled ? { registration_endpoint: `${m.endpoints.base}/oauth/register` } : {}),
    client_id_metadata_document_supported: m.config.oauth.clientIdMetadataDocuments.enabled,
    scopes_supported: [MANDATE_SCOPE],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    introspection_endpoint: `${m.endpoints.base}/oauth/introspect`,
    revocation_endpoint: `${m.endpoints.base}/oauth/revoke`,
    jwks_uri: `${m.endpoints.base}/.well-known/jwks.json`,
    grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token', TOKEN_EXCHANGE],
    dpop_signing_alg_values_supported: ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'PS256'],
    // private_key_jwt for agents; `none` for public MCP clients (PKCE).
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: m.config.identity.algorithms,
    revocation_endpoint_auth_methods_supported: ['private_key_jwt'],
    introspection_endpoint_auth_methods_supported: ['bearer'],
    authorization_details_types_supported: ['mandate_task'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
  }));

  app.get('/.well-known/jwks.json', async () => m.keys.jwks());

  // RFC 9728 metadata for the MCP endpoint (the protected resource agents call).
  app.get('/.well-known/oauth-protected-resource', async () => ({
    resource: m.endpoints.mcp,
    authorization_servers: [m.endpoints.issuer],
    bearer_methods_supported: ['header'],
    scopes_supported: [MANDATE_SCOPE],
    resource_name: 'Mandate MCP gateway',
    authorization_details_types_supported: ['mandate_task'],
  }));
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** `[{"type":"mandate_task","task_id":"…"}]` names an existing task instead of asking for a new one. */
/** `[{"type":"mandate_task","task_id":…,"amend":{tools,resources}}]`: an amendment request, or null. */
function amendmentOf(raw: string | undefined): { taskId: string; amend: { tools?: unknown[]; resources?: string[] } } | null {
  if (!raw) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  const d = Array.isArray(v) && v.length === 1 ? (v[0] as Record<string, unknown> | null) : null;
  if (!d || typeof d !== 'object' || d.type !== 'mandate_task' || !('amend' in d)) return null;
  const extra = Object.keys(d).filter((k) => !['type', 'task_id', 'amend'].includes(k));
  if (extra.length) throw new MandateError('invalid_authorization_details', `an amendment takes \`task_id\` and \`amend\` only (got ${extra.map((k) => q(k)).join(', ')})`);
  if (typeof d.task_id !== 'string' || !d.task_id) throw new MandateError('invalid_authorization_details', 'an amendment names its task: `task_id`');
  const a = d.amend as Record<string, unknown> | null;
  if (!a || typeof a !== 'object' || Array.isArray(a)) throw new MandateError('invalid_authorization_details', '`amend` must be an object: `{"tools": [...], "resources": [...]}`');
  const unknown = Object.keys(a).filter((k) => k !== 'tools' && k !== 'resources');
  if (unknown.length) throw new MandateError('invalid_authorization_details', `\`amend\` takes \`tools\` and \`resources\` (got ${unknown.map((k) => q(k)).join(', ')})`);
  if (a.tools !== undefined && !Array.isArray(a.tools)) throw new MandateError('invalid_authorization_details', '`amend.tools` must be an array of grants');
  if (a.resources !== undefined && (!Array.isArray(a.resources) || a.resources.some((r) => typeof r !== 'string'))) throw new MandateError('invalid_authorization_details', '`amend.resources` must be an array of resource patterns');
  return { taskId: d.task_id, amend: { ...(a.tools ? { tools: a.tools as unknown[] } : {}), ...(a.resources ? { resources: a.resources as string[] } : {}) } };
}

function existingTaskId(raw: string | undefined): string | null {
  if (!raw) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null; // the normal parser reports it
  }
  if (!Array.isArray(v) || v.length !== 1) return null;
  const d = v[0] as Record<string, unknown> | null;
  if (!d || typeof d !== 'object' || d.type !== 'mandate_task' || !('task_id' in d)) return null;
  const extra = Object.keys(d).filter((k) => k !== 'type' && k !== 'task_id');
  if (extra.length) throw new MandateError('invalid_authorization_details', `with \`task_id\`, authorization_details takes nothing else (got ${extra.map((k) => q(k)).join(', ')})`);
  if (typeof d.task_id !== 'string' || !d.task_id) throw new MandateError('invalid_authorization_details', '`task_id` must be a task id string');
  return d.task_id;
}
