// The agent SDK (`mandate/client`): what an agent developer needs in a few lines.
//
//   const agent = await MandateAgent.load('reporter.agent-key.json', 'http://127.0.0.1:7070');
//   const task = await agent.startTask({ intent: 'summarise Q3', tools: ['fs.read_text_file'], resources: ['file:///srv/reports/*'] });
//   task.endOnExit();
//   const mcp = await task.connect();            // an MCP SDK Client; every request carries a fresh DPoP proof
//   await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: '/srv/reports/q3.txt' } });
//   await task.end();
//
// Credentials are bound to a key the agent process generates (DPoP, RFC 9449): a copied
// credential is useless without it. Delegation hands a narrower task to another agent.

import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createClientAssertion, createDelegationTicket, loadAgentKey, type AgentKey } from './agent-key.js';
import { createDpopProof, type DpopKey } from './dpop.js';

export { createClientAssertion, createDelegationTicket, loadAgentKey, type AgentKey } from './agent-key.js';
export { createDpopProof, type DpopKey } from './dpop.js';

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

export interface ToolRequest {
  name: string;
  constraints?: Record<string, { eq?: string | number | boolean; in?: Array<string | number | boolean>; like?: string; min?: number; max?: number; absent?: true }>;
  max_calls?: number;
  /** A database tool (`<upstream>.query`): what the task's own role may do, e.g. `{ "public.orders": ["SELECT"] }`. */
  privileges?: Record<string, Array<'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE'>>;
}

export interface TaskRequest {
  intent: string;
  tools: Array<string | ToolRequest>;
  resources?: string[];
  /** Seconds (capped by the server). */
  ttl?: number;
}

/** An OAuth error from Mandate, with its code and any details (ids, reasons). */
export class MandateClientError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MandateClientError';
  }
  /** The task waits for a person's approval (`details.task_id`, `details.approval_id`). */
  get pending(): boolean {
    return this.error === 'authorization_pending';
  }
}

/** What a child agent gives its parent so the parent can delegate to it (once, within a minute). */
export interface DelegationTicket {
  /** The child's delegation ticket (`typ: delegation+jwt`, single use): proves the child takes part. */
  actorToken: string;
  /** The child's DPoP key thumbprint, as signed into the ticket: the child credential is bound to it. */
  dpopJkt?: string;
}

/** A credential issued to a child by delegation, for the child to `adopt`. */
export interface DelegatedGrant {
  access_token: string;
  token_type: string;
  task_id: string;
  expires_in: number;
  authorization_details: unknown[];
}

interface TokenResponse {
  access_token: string;
  token_type: string;
  task_id: string;
  expires_in: number;
  authorization_details: unknown[];
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface MandateAgentOptions {
  /** Mandate's base URL, e.g. http://127.0.0.1:7070 */
  url: string;
  key: AgentKey;
  /** Bind credentials to this key; default: a fresh ES256 key made for this process. `false`: Bearer credentials (only where the server allows them). */
  dpop?: DpopKey | false;
}

export class MandateAgent {
  readonly id: string;
  readonly url: string;
  /** The server's latest DPoP nonce, if it asks for them. */
  nonce: string | undefined;

  private constructor(
    private readonly key: AgentKey,
    readonly dpop: DpopKey | null,
    url: string,
  ) {
    this.id = key.agentId;
    this.url = url.replace(/\/+$/, '');
  }

  static async create(o: MandateAgentOptions): Promise<MandateAgent> {
    const dpop = o.dpop === false ? null : (o.dpop ?? (await generateDpopKey()));
    return new MandateAgent(o.key, dpop, o.url);
  }

  /** Loads the key file `mandate agent create` wrote. */
  static async load(keyFile: string, url: string, o: Omit<MandateAgentOptions, 'url' | 'key'> = {}): Promise<MandateAgent> {
    return MandateAgent.create({ ...o, url, key: await loadAgentKey(keyFile) });
  }

  get tokenEndpoint(): string {
    return `${this.url}/oauth/token`;
  }

  /** The thumbprint of this process's DPoP key (what credentials are bound to). */
  async dpopJkt(): Promise<string | undefined> {
    return this.dpop ? calculateJwkThumbprint(this.dpop.publicJwk) : undefined;
  }

  /** Starts a task; throws `MandateClientError` (`pending` when it waits for approval). */
  async startTask(t: TaskRequest): Promise<MandateTask> {
    const details = [{ type: 'mandate_task', intent: t.intent, tools: t.tools, resources: t.resources ?? [], ...(t.ttl ? { ttl: t.ttl } : {}) }];
    return this.fromToken(await this.token({ grant_type: 'client_credentials', authorization_details: JSON.stringify(details) }));
  }

  /** A credential for an existing task of this agent (approved after waiting, or break-glass). */
  async resumeTask(taskId: string): Promise<MandateTask> {
    return this.fromToken(await this.token({ grant_type: 'client_credentials', authorization_details: JSON.stringify([{ type: 'mandate_task', task_id: taskId }]) }));
  }

  /**
   * Asks to widen an active task of this agent (tools to add or whose grant changes, resources to
   * add). A person decides: until then this throws a MandateClientError with `error`
   * `authorization_pending` (its `details.approval_id` names the approval); ask again with the same
   * amendment once approved to get a credential for the widened task (`access_denied` if refused).
   */
  async amendTask(taskId: string, amend: { tools?: TaskRequest['tools']; resources?: string[] }): Promise<MandateTask> {
    return this.fromToken(await this.token({ grant_type: 'client_credentials', authorization_details: JSON.stringify([{ type: 'mandate_task', task_id: taskId, amend }]) }));
  }

  /**
   * For delegation: what this (child) agent hands its parent. Good for one exchange within
   * `lifetimeSeconds` (at most the server's `credentials.delegationTicketMaxAge`); the credential
   * the parent obtains is bound to this process's DPoP key.
   */
  async delegationTicket(o: { lifetimeSeconds?: number } = {}): Promise<DelegationTicket> {
    const jkt = await this.dpopJkt();
    return { actorToken: await createDelegationTicket(this.key, this.tokenEndpoint, { jkt, ...o }), ...(jkt ? { dpopJkt: jkt } : {}) };
  }

  /** Takes up a credential a parent obtained for this agent by delegation. */
  adopt(grant: DelegatedGrant): MandateTask {
    return this.fromToken(grant);
  }

  private fromToken(r: TokenResponse): MandateTask {
    return new MandateTask(this, r);
  }

  private async token(form: Record<string, string>): Promise<TokenResponse> {
    const body = { ...form, client_assertion_type: ASSERTION_TYPE, client_assertion: await createClientAssertion(this.key, this.tokenEndpoint) };
    return this.post(this.tokenEndpoint, body);
  }

  /** POST a form to the token endpoint with a DPoP proof (retrying once with a server nonce). */
  async post(url: string, form: Record<string, string>, opts: { accessToken?: string; authorization?: string } = {}): Promise<TokenResponse> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (this.dpop) headers.dpop = await createDpopProof(this.dpop, 'POST', url, { ...(opts.accessToken !== undefined ? { accessToken: opts.accessToken } : {}), ...(this.nonce ? { nonce: this.nonce } : {}) });
      if (opts.authorization) headers.authorization = opts.authorization;
      // A client assertion is single-use: a retry needs a fresh one.
      if (attempt > 0 && form.client_assertion) form = { ...form, client_assertion: await createClientAssertion(this.key, this.tokenEndpoint) };
      const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form) });
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonce = nonce;
      const text = await res.text();
      const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      if (res.ok) return json as unknown as TokenResponse;
      if (json.error === 'use_dpop_nonce' && nonce && attempt === 0) continue;
      const { error, error_description, ...details } = json as { error?: string; error_description?: string };
      throw new MandateClientError(res.status, error ?? 'error', error_description ?? `HTTP ${res.status}`, details);
    }
  }
}

export class MandateTask {
  readonly id: string;
  readonly credential: string;
  readonly tokenType: string;
  readonly expiresAt: number;
  readonly authorizationDetails: unknown[];
  private ended = false;
  private exitHooks: Array<() => void> = [];

  constructor(
    readonly agent: MandateAgent,
    r: TokenResponse,
  ) {
    this.id = r.task_id;
    this.credential = r.access_token;
    this.tokenType = r.token_type;
    this.expiresAt = Date.now() + r.expires_in * 1000;
    this.authorizationDetails = r.authorization_details;
  }

  get bound(): boolean {
    return this.tokenType.toLowerCase() === 'dpop';
  }

  /** A `fetch` that presents this task's credential, with a fresh DPoP proof per request. */
  readonly fetch: FetchLike = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input.toString();
    const method = (init.method ?? 'GET').toUpperCase();
    for (let attempt = 0; ; attempt++) {
      const headers = new Headers(init.headers);
      if (this.bound && this.agent.dpop) {
        headers.set('authorization', `DPoP ${this.credential}`);
        headers.set('dpop', await createDpopProof(this.agent.dpop, method, url, { accessToken: this.credential, ...(this.agent.nonce ? { nonce: this.agent.nonce } : {}) }));
      } else {
        headers.set('authorization', `Bearer ${this.credential}`);
      }
      const res = await fetch(url, { ...init, headers });
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.agent.nonce = nonce;
      if (res.status === 401 && nonce && attempt === 0 && /use_dpop_nonce/.test(res.headers.get('www-authenticate') ?? '')) continue;
      return res;
    }
  };

  /**
   * A `fetch` for an HTTP API Mandate fronts (an upstream of kind `http`): paths are relative to
   * the API, e.g. `task.httpApi('reports')('/v1/reports?limit=2')`. Mandate checks each request
   * against the task and adds the API's credential; this process never holds it.
   */
  httpApi(upstream: string): (path: string, init?: RequestInit) => Promise<Response> {
    return (path, init) => this.fetch(`${this.agent.url}/http/${encodeURIComponent(upstream)}${path.startsWith('/') ? path : `/${path}`}`, init);
  }

  /** An MCP streamable-HTTP transport to Mandate's `/mcp` for the MCP SDK `Client`. */
  mcpTransport(): StreamableHTTPClientTransport {
    return new StreamableHTTPClientTransport(new URL(`${this.agent.url}/mcp`), { fetch: this.fetch });
  }

  /** An MCP SDK client connected through Mandate. */
  async connect(info: { name: string; version: string } = { name: this.agent.id, version: '1' }, capabilities: ConstructorParameters<typeof Client>[1] = {}): Promise<Client> {
    const client = new Client(info, capabilities);
    await client.connect(this.mcpTransport());
    return client;
  }

  /**
   * Delegates a narrower part of this task to another agent (RFC 8693): give it the child's
   * `delegationTicket()`, get back a grant for the child to `adopt`.
   */
  async delegate(ticket: DelegationTicket, t: TaskRequest | (Partial<TaskRequest> & { tools: TaskRequest['tools'] })): Promise<DelegatedGrant> {
    const details = [{ type: 'mandate_task', intent: t.intent ?? 'delegated', tools: t.tools, ...(t.resources ? { resources: t.resources } : {}), ...(t.ttl ? { ttl: t.ttl } : {}) }];
    const form: Record<string, string> = {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: this.credential,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      actor_token: ticket.actorToken,
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      authorization_details: JSON.stringify(details),
      ...(ticket.dpopJkt ? { dpop_jkt: ticket.dpopJkt } : {}),
    };
    return this.agent.post(this.agent.tokenEndpoint, form, this.bound ? { accessToken: this.credential } : {});
  }

  /** Asks to widen this task (see MandateAgent.amendTask); resolves to the task with its new credential once a person approved. */
  amend(amend: { tools?: TaskRequest['tools']; resources?: string[] }): Promise<MandateTask> {
    return this.agent.amendTask(this.id, amend);
  }

  /** Ends the task (RFC 7009): its credential, and any delegated below it, stop working. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    for (const off of this.exitHooks) off();
    this.exitHooks = [];
    const url = `${this.agent.url}/oauth/revoke`;
    const res = await this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: this.credential, token_type_hint: 'access_token' }) });
    if (!res.ok) throw new MandateClientError(res.status, 'revoke_failed', `ending task ${this.id} failed: HTTP ${res.status} ${await res.text()}`);
  }

  /** Ends the task when the process is about to exit, is interrupted or fails. */
  endOnExit(): this {
    const finish = (code: number) => () => {
      this.end()
        .catch(() => undefined)
        .finally(() => process.exit(code));
    };
    const onSigint = finish(130);
    const onSigterm = finish(143);
    const onBeforeExit = () => void this.end().catch(() => undefined);
    const onError = (err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      finish(1)();
    };
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    process.once('beforeExit', onBeforeExit);
    process.once('uncaughtException', onError);
    this.exitHooks.push(() => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      process.off('beforeExit', onBeforeExit);
      process.off('uncaughtException', onError);
    });
    return this;
  }
}

/** Runs `fn` inside a task and ends the task afterwards, whatever happens. */
export async function withTask<T>(agent: MandateAgent, t: TaskRequest, fn: (task: MandateTask) => Promise<T>): Promise<T> {
  const task = await agent.startTask(t);
  try {
    return await fn(task);
  } finally {
    await task.end().catch(() => undefined);
  }
}

/** A fresh ES256 key for DPoP, kept in memory for this process only. */
export async function generateDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk: JWK = await exportJWK(publicKey);
  return { privateKey, publicJwk: { ...publicJwk, kid: randomUUID() }, alg: 'ES256' };
}
