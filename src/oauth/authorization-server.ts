// The standard MCP authorization flow (OAuth 2.1 authorization code with PKCE, RFC 8707 resource
// indicators, RFC 7591 registration or Client ID Metadata Documents), for stock MCP clients that
// know nothing of Mandate. What they get is still a task: a person chooses, on the consent page,
// which of the operator's task templates the client may do and for how long; `startTask` policy
// decides as for any agent; the credential acts for that person (`sub`) through the client's own
// identity (`act.sub`, an agent whose owner is the person), ends with the task, and so do its
// refresh tokens (single use, rotated, bound to the task and to a DPoP key when one was used).
//
// Mandate's own endpoints rather than a library (docs/architecture.md says why): the grant is a
// task, not a scope string, and every step has to go through Mandate's task service, policy,
// audit and store (several replicas), which general-purpose providers would wrap, not replace.

import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { MandateConfig } from '../config/load.js';
import type { TaskTemplate } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import type { ToolLookup } from '../core/tool.js';
import type { Agent, OAuthClient, Store, User } from '../storage/types.js';
import type { CredentialService } from '../tasks/credentials.js';
import { toolOfGrant } from '../tasks/scope.js';
import type { TaskService } from '../tasks/task-service.js';
import { readFileSync } from 'node:fs';
import { fetchClientMetadata, isClientIdUrl, parseRegistration, redirectUriAllowed, type ClientMetadata } from './client-metadata.js';
import type { ClientView, TemplateView } from './consent-page.js';

export const MANDATE_SCOPE = 'mandate:task';

/** An OAuth error for the client (RFC 6749 §5.2 / §4.1.2.1): `error` is the OAuth code. */
export class OAuthFlowError extends MandateError {
  constructor(
    readonly oauthError: string,
    message: string,
    status = 400,
  ) {
    super(oauthError === 'invalid_client' ? 'invalid_client' : oauthError === 'invalid_grant' ? 'invalid_grant' : oauthError === 'invalid_scope' ? 'invalid_scope' : oauthError === 'invalid_target' ? 'invalid_target' : oauthError === 'access_denied' ? 'access_denied' : 'invalid_request', message, { status, details: { oauthError } });
  }
}

export interface AuthorizationServerDeps {
  config: MandateConfig;
  store: Store;
  tasks: TaskService;
  credentials: CredentialService;
  audit: AuditLog;
  clock: Clock;
  tools: ToolLookup;
  endpoints: { base: string; mcp: string; issuer: string };
}

/** A validated authorization request: the client and redirect URI are trustworthy (errors may go back to it). */
export interface AuthorizationRequest {
  client: OAuthClient;
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string;
  resource: string;
  dpopJkt: string | undefined;
  /** What the forms carry along. */
  params: Record<string, string>;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  refresh_token: string;
  scope: string;
  task_id: string;
  authorization_details: unknown[];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export class AuthorizationServer {
  private readonly ca: Buffer | undefined;

  constructor(private readonly d: AuthorizationServerDeps) {
    const file = d.config.oauth.clientIdMetadataDocuments.caFile;
    this.ca = file ? readFileSync(file) : undefined;
  }

  // ------------------------------------------------------------------ clients

  /** RFC 7591 registration: a public client (PKCE), rate-limited per source address. */
  async register(body: unknown, source: string): Promise<Record<string, unknown>> {
    const reg = this.d.config.oauth.registration;
    if (!reg.enabled) throw new OAuthFlowError('invalid_request', 'dynamic client registration is turned off here (oauth.registration.enabled): use a Client ID Metadata Document (an https client_id URL)', 403);
    const now = this.d.clock.now();
    const recent = await this.d.store.countOAuthClientsSince(source, now - 3600_000);
    if (recent >= reg.perHour) throw new OAuthFlowError('invalid_request', `too many registrations from this address (${recent} in the last hour, limit ${reg.perHour}: oauth.registration.perHour); reuse a registered client id`, 429);
    const meta = parseRegistration(body);
    const id = `mcl_${randomBytes(16).toString('base64url')}`;
    const client: OAuthClient = { id, kind: 'dcr', name: meta.clientName, redirectUris: meta.redirectUris, metadata: meta.raw, createdAt: now, createdBy: source, revokedAt: null, fetchedAt: null };
    await this.d.store.putOAuthClient(client);
    await this.d.audit.record({ type: 'oauth.register', actor: source, outcome: 'success', data: { clientId: id, name: meta.clientName, redirectUris: meta.redirectUris } });
    return {
      client_id: id,
      client_id_issued_at: Math.floor(now / 1000),
      client_name: meta.clientName,
      redirect_uris: meta.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(meta.scope ? { scope: meta.scope } : {}),
    };
  }

  /** The client behind `clientId`: registered here, or a metadata document fetched (and cached) from its URL. */
  async client(clientId: string): Promise<OAuthClient> {
    if (!clientId) throw new OAuthFlowError('invalid_request', '`client_id` is required');
    if (clientId.length > 2048) throw new OAuthFlowError('invalid_client', '`client_id` is too long');
    const cimd = this.d.config.oauth.clientIdMetadataDocuments;
    const now = this.d.clock.now();
    const known = await this.d.store.getOAuthClient(clientId);
    if (known?.revokedAt) throw new OAuthFlowError('invalid_client', `client ${q(clientId)} was revoked by an administrator`, 401);
    if (known && (known.kind === 'dcr' || (known.fetchedAt ?? 0) + cimd.cacheTtl * 1000 > now)) return known;
    if (!isClientIdUrl(clientId, { allowHttpHosts: cimd.allowHttpHosts })) {
      throw new OAuthFlowError('invalid_client', `unknown client ${q(clientId)}: register it (POST /oauth/register) or use an https client id metadata document URL`, 401);
    }
    if (!cimd.enabled) throw new OAuthFlowError('invalid_client', 'client id metadata documents are turned off here (oauth.clientIdMetadataDocuments.enabled): register the client instead', 401);
    let meta: ClientMetadata;
    try {
      meta = await fetchClientMetadata(clientId, { ...(this.ca ? { ca: this.ca } : {}), allowHttpHosts: cimd.allowHttpHosts, allowPrivateAddresses: cimd.allowPrivateAddresses });
    } catch (err) {
      if (err instanceof MandateError) throw new OAuthFlowError('invalid_client', err.message, 401);
      throw err;
    }
    const client: OAuthClient = { id: clientId, kind: 'cimd', name: meta.clientName, redirectUris: meta.redirectUris, metadata: meta.raw, createdAt: known?.createdAt ?? now, createdBy: null, revokedAt: null, fetchedAt: now };
    await this.d.store.putOAuthClient(client);
    return client;
  }

  view(req: AuthorizationRequest): ClientView {
    const uri = req.client.metadata.client_uri;
    return { id: req.client.id, name: req.client.name, kind: req.client.kind, clientUri: typeof uri === 'string' && uri.startsWith('https://') ? uri : undefined, redirectUri: req.redirectUri };
  }

  // ------------------------------------------------------------------ /authorize

  /**
   * Step one: the client and its redirect URI. Until both check out nothing is redirected
   * anywhere (an open redirector would hand codes or errors to whoever asks); these errors are
   * shown to the person instead. Other problems go back to the client as OAuth errors.
   */
  async request(p: Record<string, string | undefined>): Promise<AuthorizationRequest> {
    const client = await this.client(p.client_id ?? '');
    const redirectUri = p.redirect_uri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
    if (!redirectUri) throw new OAuthFlowError('invalid_request', 'redirect_uri is required: this client has several');
    if (!redirectUriAllowed(client.redirectUris, redirectUri)) throw new OAuthFlowError('invalid_request', `redirect_uri ${q(redirectUri)} is not one this client registered`);
    const req: AuthorizationRequest = {
      client,
      redirectUri,
      state: p.state,
      codeChallenge: p.code_challenge ?? '',
      resource: p.resource ?? this.d.endpoints.mcp,
      dpopJkt: p.dpop_jkt,
      params: Object.fromEntries(Object.entries(p).filter(([k, v]) => v !== undefined && AUTHORIZE_PARAMS.has(k))) as Record<string, string>,
    };
    return req;
  }

  /** What the client asked for, checked; throws an OAuthFlowError to be sent back to its redirect URI. */
  checkRequest(req: AuthorizationRequest, p: Record<string, string | undefined>): void {
    if (p.response_type !== 'code') throw new OAuthFlowError('unsupported_response_type', `response_type ${q(p.response_type ?? '(none)')} is not supported: use \`code\``);
    if (!p.code_challenge) throw new OAuthFlowError('invalid_request', 'PKCE is required: send code_challenge (S256)');
    if (p.code_challenge_method !== 'S256') throw new OAuthFlowError('invalid_request', `code_challenge_method ${q(p.code_challenge_method ?? '(none)')} is not supported: use S256`);
    if (!CHALLENGE.test(p.code_challenge)) throw new OAuthFlowError('invalid_request', 'code_challenge must be the base64url SHA-256 of the verifier (43 characters)');
    if (req.resource !== this.d.endpoints.mcp) throw new OAuthFlowError('invalid_target', `resource ${q(req.resource)} is not served here (this server protects ${q(this.d.endpoints.mcp)})`);
    if (p.scope && !p.scope.split(' ').every((s) => s === MANDATE_SCOPE)) throw new OAuthFlowError('invalid_scope', `scope ${q(p.scope)} is not offered: the only scope is \`${MANDATE_SCOPE}\`; what the client may do is chosen as a task on the consent page`);
    if (req.dpopJkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(req.dpopJkt)) throw new OAuthFlowError('invalid_request', 'dpop_jkt must be a JWK SHA-256 thumbprint (RFC 9449 §10)');
  }

  /** Where an error or a code goes back (RFC 9207 `iss` included). */
  redirect(req: AuthorizationRequest, params: Record<string, string>): string {
    const u = new URL(req.redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (req.state !== undefined) u.searchParams.set('state', req.state);
    u.searchParams.set('iss', this.d.endpoints.issuer);
    return u.toString();
  }

  templates(): TemplateView[] {
    return Object.entries(this.d.config.taskTemplates).map(([id, t]) => ({
      id,
      title: t.title,
      intent: t.intent,
      ttl: Math.min(t.ttl, this.d.config.tasks.maxTtl),
      resources: t.resources,
      tools: t.tools.map((g) => {
        const grant = typeof g === 'string' ? g : String((g as { name?: unknown }).name ?? '');
        const tool = toolOfGrant(grant, this.d.tools);
        const obj = typeof g === 'string' ? {} : (g as Record<string, unknown>);
        const detail = [obj.constraints ? `constrained: ${Object.keys(obj.constraints as object).join(', ')}` : '', obj.max_calls ? `at most ${obj.max_calls} calls` : '', obj.privileges ? `database: ${Object.entries(obj.privileges as Record<string, string[]>).map(([k, v]) => `${v.join('/')} on ${k}`).join('; ')}` : ''].filter(Boolean).join('; ');
        return { grant, upstream: tool?.upstream ?? '?', risk: tool?.risk ?? 'unknown', classification: tool?.classification ?? 'unknown', detail };
      }),
    }));
  }

  /**
   * The person's decision. Allow: the client's identity for this person (made on first use), a
   * task from the chosen template (policy decides), and a one-time code for it. Returns where the
   * browser goes next.
   */
  async decide(req: AuthorizationRequest, user: User, form: Record<string, string | undefined>): Promise<string> {
    if (form.decision !== 'allow') {
      await this.d.audit.record({ type: 'oauth.consent', actor: `user:${user.email}`, outcome: 'denied', data: { clientId: req.client.id, reason: 'the person denied it' } });
      return this.redirect(req, { error: 'access_denied', error_description: 'the person did not allow it' });
    }
    const tpl: TaskTemplate | undefined = form.template ? this.d.config.taskTemplates[form.template] : undefined;
    if (!tpl) throw new OAuthFlowError('invalid_request', `choose one of the offered tasks (got ${q(form.template ?? '(none)')})`);
    const ttl = Math.min(Number(form.ttl) || tpl.ttl, tpl.ttl, this.d.config.tasks.maxTtl);
    const intent = form.intent?.trim() ? form.intent.trim().slice(0, 2000) : tpl.intent;
    const agent = await this.clientIdentity(req.client, user);
    let taskId: string;
    try {
      const started = await this.d.tasks.start(agent, JSON.stringify([{ type: 'mandate_task', intent, tools: tpl.tools, resources: tpl.resources, ttl }]), req.resource, { actingFor: `user:${user.email}`, ...(req.dpopJkt ? { jkt: req.dpopJkt } : {}) });
      taskId = started.task.id;
    } catch (err) {
      if (err instanceof MandateError && (err.code === 'invalid_scope' || err.code === 'authorization_pending' || err.code === 'invalid_authorization_details')) {
        await this.d.audit.record({ type: 'oauth.consent', actor: `user:${user.email}`, agentId: agent.id, outcome: 'denied', data: { clientId: req.client.id, template: form.template, reason: err.message } });
        return this.redirect(req, { error: 'access_denied', error_description: `the task was refused: ${err.message}`.slice(0, 500) });
      }
      throw err;
    }
    const code = randomBytes(32).toString('base64url');
    const now = this.d.clock.now();
    await this.d.store.putAuthorizationCode({ codeHash: sha256(code), clientId: req.client.id, redirectUri: req.redirectUri, codeChallenge: req.codeChallenge, resource: req.resource, taskId, userId: user.id, jkt: req.dpopJkt ?? null, expiresAt: now + this.d.config.oauth.codeTtl * 1000, usedAt: null });
    await this.d.audit.record({ type: 'oauth.consent', actor: `user:${user.email}`, agentId: agent.id, taskId, outcome: 'success', data: { clientId: req.client.id, clientName: req.client.name, template: form.template, ttl, actingFor: `user:${user.email}` } });
    return this.redirect(req, { code });
  }

  /**
   * The identity a client acts under for one person: an agent (no keys: it can only be reached
   * through this flow) whose owner is the person, in `oauth.clientEnvironment`, labelled
   * `oauth-client`. Policies, approvals (`@approval("owner")` goes to the person) and audit treat
   * it as any agent. Suspending it stops this client for this person.
   */
  async clientIdentity(client: OAuthClient, user: User): Promise<Agent> {
    const name = `${identityPrefix(client.id)}${createHash('sha256').update(user.id).digest('hex').slice(0, 12)}`;
    const id = `spiffe://${this.d.config.trustDomain}/agent/${name}`;
    const have = await this.d.store.getAgent(id);
    if (have) {
      if (have.status !== 'active') throw new OAuthFlowError('access_denied', `this client's identity for you (${have.id}) is ${have.status}`, 403);
      return have;
    }
    const now = this.d.clock.now();
    const agent: Agent = {
      id,
      name,
      owner: user.email,
      purpose: `OAuth client ${JSON.stringify(client.name)} (${client.id}) acting for ${user.email}`.slice(0, 500),
      environment: this.d.config.oauth.clientEnvironment,
      status: 'active',
      reviewBy: null,
      jwks: { keys: [] },
      labels: ['oauth-client'],
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.d.store.insertAgent(agent);
      await this.d.audit.record({ type: 'agent.create', actor: `user:${user.email}`, agentId: id, outcome: 'success', data: { owner: user.email, purpose: agent.purpose, environment: agent.environment, oauthClient: client.id } });
    } catch (err) {
      if ((err as MandateError).code !== 'conflict') throw err;
    }
    return (await this.d.store.getAgent(id))!;
  }

  // ------------------------------------------------------------------ /oauth/token

  /** `grant_type=authorization_code`: code, PKCE verifier, redirect URI, client, resource, DPoP key. */
  async exchangeCode(p: Record<string, string | undefined>, proofJkt: string | undefined): Promise<TokenResponse> {
    if (!p.code) throw new OAuthFlowError('invalid_request', '`code` is required');
    if (!p.code_verifier) throw new OAuthFlowError('invalid_request', '`code_verifier` is required (PKCE)');
    if (!VERIFIER.test(p.code_verifier)) throw new OAuthFlowError('invalid_request', '`code_verifier` must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)');
    const client = await this.client(p.client_id ?? '');
    const now = this.d.clock.now();
    const code = await this.d.store.consumeAuthorizationCode(sha256(p.code), now);
    if (code && 'reused' in code) {
      // A code used twice was stolen or replayed: what was issued from it ends (OAuth 2.1 §4.1.3).
      await this.d.tasks.revoke(code.reused.taskId, 'system', 'authorization code used twice').catch(() => undefined);
      throw new OAuthFlowError('invalid_grant', 'this authorization code was already used; the task it granted has been ended');
    }
    if (!code) throw new OAuthFlowError('invalid_grant', 'the authorization code is unknown or expired: start the authorization again');
    const fail = async (message: string) => {
      await this.d.tasks.revoke(code.taskId, 'system', `authorization code refused: ${message}`).catch(() => undefined);
      throw new OAuthFlowError('invalid_grant', message);
    };
    if (code.clientId !== client.id) await fail('the authorization code was issued to another client');
    if ((p.redirect_uri ?? code.redirectUri) !== code.redirectUri) await fail('redirect_uri does not match the authorization request');
    if (sha256(p.code_verifier) !== code.codeChallenge) await fail('code_verifier does not match the code_challenge (PKCE)');
    if (p.resource !== undefined && p.resource !== code.resource) throw new OAuthFlowError('invalid_target', `resource ${q(p.resource)} differs from the authorization request's ${q(code.resource)}`);
    if (code.jkt && proofJkt !== code.jkt) await fail('this code is bound to a DPoP key (dpop_jkt): send a DPoP proof made with that key');
    const jkt = proofJkt ?? undefined;
    return this.issue(client, code.taskId, code.userId, code.resource, jkt, null);
  }

  /** `grant_type=refresh_token`: single use; a replayed one ends its whole family and the task. */
  async refresh(p: Record<string, string | undefined>, proofJkt: string | undefined): Promise<TokenResponse> {
    if (!p.refresh_token) throw new OAuthFlowError('invalid_request', '`refresh_token` is required');
    const client = await this.client(p.client_id ?? '');
    const now = this.d.clock.now();
    const hash = sha256(p.refresh_token);
    const rt = await this.d.store.useRefreshToken(hash, now);
    if (rt && 'reused' in rt) {
      // A rotated token came back: one of two parties holding it is not the client. End it all.
      await this.d.store.revokeRefreshFamily(rt.reused.family, now);
      await this.d.tasks.revoke(rt.reused.taskId, 'system', 'refresh token replayed').catch(() => undefined);
      throw new OAuthFlowError('invalid_grant', 'this refresh token was already used (refresh tokens are single use); its task has been ended');
    }
    if (!rt) throw new OAuthFlowError('invalid_grant', 'the refresh token is unknown, expired, or its task has ended: authorize again');
    if (rt.clientId !== client.id) throw new OAuthFlowError('invalid_grant', 'the refresh token was issued to another client');
    if (rt.jkt && proofJkt !== rt.jkt) throw new OAuthFlowError('invalid_grant', 'this refresh token is bound to a DPoP key: send a DPoP proof made with it');
    const task = await this.d.store.getTask(rt.taskId);
    if (!task || task.status !== 'active' || task.expiresAt <= now) throw new OAuthFlowError('invalid_grant', `the task of this refresh token has ${task?.status === 'active' ? 'expired' : (task?.status ?? 'gone')}: authorize again`);
    const agent = await this.d.store.getAgent(task.agentId);
    const user = agent ? await this.d.store.getUser(agent.owner) : null;
    return this.issue(client, rt.taskId, user?.id ?? '', this.d.endpoints.mcp, rt.jkt ?? undefined, rt.family);
  }

  /** Is `agent` the identity of OAuth client `clientId` (for some person)? */
  isIdentityOf(agent: Agent, clientId: string): boolean {
    return agent.labels.includes('oauth-client') && agent.name.startsWith(identityPrefix(clientId));
  }

  private async issue(client: OAuthClient, taskId: string, _userId: string, resource: string, jkt: string | undefined, family: string | null): Promise<TokenResponse> {
    const task = await this.d.store.getTask(taskId);
    if (!task) throw new OAuthFlowError('invalid_grant', 'the task is gone');
    const agent = await this.d.store.getAgent(task.agentId);
    if (!agent) throw new OAuthFlowError('invalid_grant', "the client's identity is gone");
    const got = await this.d.tasks.credentialFor(agent, taskId, resource, { ...(jkt ? { jkt } : {}), actingFor: `user:${agent.owner}` });
    const refresh = randomBytes(32).toString('base64url');
    const now = this.d.clock.now();
    await this.d.store.putRefreshToken({ tokenHash: sha256(refresh), family: family ?? `rtf_${randomBytes(12).toString('base64url')}`, taskId, clientId: client.id, jkt: jkt ?? null, createdAt: now, expiresAt: task.expiresAt, usedAt: null });
    return {
      access_token: got.credential.token,
      token_type: jkt ? 'DPoP' : 'Bearer',
      expires_in: Math.max(1, Math.round((got.credential.expiresAt - now) / 1000)),
      refresh_token: refresh,
      scope: MANDATE_SCOPE,
      task_id: taskId,
      authorization_details: [got.authorizationDetails],
    };
  }
}

function identityPrefix(clientId: string): string {
  return `oauth-${createHash('sha256').update(clientId).digest('hex').slice(0, 12)}-`;
}

/** Parameters of an authorization request that the forms carry along. */
const AUTHORIZE_PARAMS = new Set(['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method', 'state', 'scope', 'resource', 'dpop_jkt']);
