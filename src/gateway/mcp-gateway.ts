// The MCP endpoint agents connect to (`/mcp`, streamable HTTP). Every HTTP request is checked
// against DNS rebinding and authenticated with the task credential; sessions are bound to the
// task that opened them and close when it ends. What a session may see and call is decided
// here and in the one authorizer; the data path of a call is `call-tool.ts`.

import { Enforcement } from './observe.js';
import { Tracing } from '../observability/tracing.js';
import { Metrics } from '../observability/metrics.js';
import type { ProvenanceTracker } from '../provenance/tracker.js';
import { randomUUID } from 'node:crypto';
import { isInitializeRequest, type Prompt, type Resource, type ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import { redactSecrets } from '../audit/redact.js';
import type { MandateConfig } from '../config/load.js';
import { prefixOf } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import type { Classification, ToolSpec } from '../core/tool.js';
import type { Decision } from '../policy/engine.js';
import type { PolicyService } from '../policy/policy-service.js';
import { Lru } from '../core/lru.js';
import type { Agent, AgentStore, CallBudgetStore, McpSessionStore, Store, Task, TaskStore } from '../storage/types.js';
import { holderOf, type CredentialService } from '../tasks/credentials.js';
import type { RevocationList } from '../tasks/revocation.js';
import { globMatch, normaliseResource } from '../tasks/resource-uri.js';
import type { ApprovalService } from '../approvals/approval-service.js';
import { DpopError, type DpopVerifier } from '../identity/dpop.js';
import type { BackgroundFaults } from '../core/faults.js';
import { Slots } from '../core/slots.js';
import { AgentSession } from './agent-session.js';
import { readBody } from './read-body.js';
import { AgentHttpTransport } from './http-transport.js';
import type { CallAuthorizer } from './authorize.js';
import type { ToolCatalog } from './catalog.js';
import type { UpstreamManager } from './upstreams.js';
import type { TaskDatabases } from '../secrets/task-databases.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * What every session of one task shares: the task (with its taint), the tasks above it (whose
 * budgets each call also spends), and per-tool call counts. The counts are a cache of the store's
 * (read at open, refreshed by every charge); the budget itself is enforced by the store.
 */
export interface TaskState {
  task: Task;
  /** A delegated task's ancestors, nearest first. */
  above: Task[];
  calls: Map<string, number>;
  visible?: { key: string; tools: ToolSpec[] };
}

export interface GatewayDeps {
  config: MandateConfig;
  tools: ToolCatalog;
  upstreams: UpstreamManager;
  authorizer: CallAuthorizer;
  policy: PolicyService;
  credentials: CredentialService;
  revocations: RevocationList;
  store: Pick<TaskStore, 'getTask' | 'addTaskLabels'> & Pick<AgentStore, 'getAgent'> & CallBudgetStore & McpSessionStore & Pick<Store, 'dialect'>;
  audit: AuditLog;
  clock: Clock;
  endpoints: { base: string; mcp: string };
  approvals: ApprovalService;
  dpop: DpopVerifier;
  faults: BackgroundFaults;
  logger?: Logger | undefined;
  /** OpenTelemetry spans (off: every call is a no-op). */
  tracing?: Tracing | undefined;
  /** Prometheus metrics (off: every call is a no-op). */
  metrics?: Metrics | undefined;
  /** Provenance of argument values (null: off). */
  provenance?: ProvenanceTracker | null | undefined;
}

export class McpGateway {
  readonly sessions = new Map<string, AgentSession>();
  private readonly states = new Map<string, TaskState>();
  private catalogVersion = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  readonly tools: ToolCatalog;
  readonly authorizer: CallAuthorizer;
  /** Observe mode: which policy denials only get recorded (see observe.ts). */
  readonly enforcement: Enforcement;
  readonly tracing: Tracing;
  readonly metrics: Metrics;
  readonly provenance: ProvenanceTracker | null;
  readonly credentials: CredentialService;
  readonly upstreams: UpstreamManager;
  readonly audit: AuditLog;
  readonly endpoints: { base: string; mcp: string };
  readonly logger: Logger | undefined;
  readonly baseDir: string;
  readonly approvals: ApprovalService;
  readonly faults: BackgroundFaults;
  private readonly processSlots: Slots;

  constructor(private readonly d: GatewayDeps) {
    this.faults = d.faults;
    this.processSlots = new Slots(d.config.gateway.maxUpstreamProcesses, 'upstream process slots (gateway.maxUpstreamProcesses)');
    this.tools = d.tools;
    this.authorizer = d.authorizer;
    this.enforcement = new Enforcement(d.config, d.policy);
    this.provenance = d.provenance ?? null;
    this.tracing = d.tracing ?? new Tracing({ enabled: false, endpoint: '', headers: {}, serviceName: 'mandate', sampleRatio: 1 }, '0');
    this.metrics = d.metrics ?? Metrics.off;
    this.credentials = d.credentials;
    this.upstreams = d.upstreams;
    this.audit = d.audit;
    this.endpoints = d.endpoints;
    this.logger = d.logger;
    this.baseDir = d.config.baseDir;
    this.approvals = d.approvals;
    // A task that ends takes its sessions (and their upstream connections) with it. Nobody
    // waits on these paths: a failure is counted and logged, never an unhandled rejection.
    d.revocations.onRevoked((r) => d.faults.guard('end sessions of a revoked task', this.endTask(r.taskId)));
    d.revocations.onAgentStopped((agentId) => {
      for (const [id, s] of this.sessions) if (s.agent.id === agentId) d.faults.guard('end sessions of a stopped agent', this.closeSession(id, 'agent stopped'));
    });
    d.upstreams.onChange((_upstream, change) => {
      if (change.tools) this.catalogVersion++;
      for (const s of this.sessions.values()) d.faults.guard('notify list change', s.notifyListChanged(change));
    });
    d.policy.onReload(() => {
      for (const s of this.sessions.values()) d.faults.guard('notify list change', s.notifyListChanged());
    });
    this.idleTimer = setInterval(() => this.closeIdle(), 30_000);
    this.idleTimer.unref();
  }

  // ---------------------------------------------------------------- HTTP

  /**
   * One HTTP request to `/mcp`, on Node's own request and response (the hot path skips the web
   * framework). `body` is given when a framework already parsed it.
   */
  async handle(req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> {
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    // DNS rebinding: a browser tricked into calling us must not get through.
    const hostProblem = this.checkHostAndOrigin(req);
    if (hostProblem) return sendJson(res, 403, { error: 'forbidden', error_description: hostProblem });

    const authenticated = await this.authenticateRequest(req, res, this.endpoints.mcp);
    if (!authenticated) return;
    const { claims, token } = authenticated;

    if (req.method === 'POST' && body === undefined) {
      const read = await readJsonBody(req, this.d.config.server.bodyLimit);
      if ('problem' in read) return sendJson(res, read.status, { jsonrpc: '2.0', id: null, error: { code: read.code, message: read.problem } });
      body = read.body;
    }

    const sessionId = req.headers['mcp-session-id'];
    let session: AgentSession | undefined;
    if (typeof sessionId === 'string') {
      session = this.sessions.get(sessionId) ?? (await this.takeOver(sessionId, holderOf(claims), claims.task_id));
      if (!session) return sendJson(res, 404, { jsonrpc: '2.0', id: null, error: { code: -32001, message: `session ${q(sessionId)} not found (it ended or expired): initialize a new one` } });
      if (session.state.task.id !== claims.task_id) return sendJson(res, 403, { error: 'forbidden', error_description: 'this session belongs to another task' });
    } else {
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        return sendJson(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'no session: send `initialize` first (without an Mcp-Session-Id header)' } });
      }
      const crowded = this.sessionLimitProblem(holderOf(claims), claims.task_id);
      if (crowded) return sendJson(res, 429, { jsonrpc: '2.0', id: null, error: { code: -32000, message: crowded } });
      session = await this.openSession(holderOf(claims), claims.task_id);
      if (!session) return this.unauthorized(res, 'invalid_token', "the credential's task is not active");
    }
    session.lastSeen = Date.now();
    if (this.d.config.gateway.outOfScope === 'insufficient_scope' && req.method === 'POST') {
      const missing = outOfScopeTool(body, session.state.task);
      if (missing) {
        await this.audit.record({ type: 'tool.call', actor: session.agent.id, agentId: session.agent.id, taskId: session.state.task.id, decision: 'deny', outcome: 'denied', data: { tool: missing, reasons: [`tool ${q(missing)} is not in the task's scope`], policyIds: ['mandate:task-scope'], status: 403 } });
        this.metrics.decided('mcp', undefined, 'scope');
        const desc = `tool ${q(missing)} is not in this task's scope: start a task that declares it`;
        res.setHeader('www-authenticate', `Bearer error="insufficient_scope", scope="mandate:task", resource_metadata="${this.endpoints.base}/.well-known/oauth-protected-resource", error_description="${desc.replace(/["\\]/g, "'")}"`);
        return sendJson(res, 403, { error: 'insufficient_scope', error_description: desc });
      }
    }
    const authInfo = { token, clientId: claims.client_id, scopes: ['mandate:task'], expiresAt: claims.exp, extra: { taskId: claims.task_id } };
    await session.transport.handle(req, res, body, { authInfo });
  }

  /**
   * Every request carries the task credential: `Bearer`, or `DPoP` with a fresh proof (for `htu`)
   * by the key a bound credential names. A refusal is answered here (401 with the challenge) and
   * recorded; null is returned then.
   */
  async authenticateRequest(req: IncomingMessage, res: ServerResponse, htu: string): Promise<{ claims: Awaited<ReturnType<CredentialService['verify']>>; token: string } | null> {
    const h = req.headers.authorization;
    const m1 = h ? /^(Bearer|DPoP)\s+(\S+)\s*$/i.exec(h) : null;
    const token = m1?.[2];
    if (!token) {
      this.unauthorized(res, 'invalid_request', 'a task credential is required: `Authorization: Bearer <credential>` (or `DPoP <credential>` with a proof; POST /oauth/token starts a task)');
      return null;
    }
    const scheme = m1![1]!.toLowerCase();
    try {
      const claims = await this.credentials.verify(token, this.endpoints.mcp);
      if (claims.cnf?.jkt) {
        if (scheme !== 'dpop') throw new MandateError('invalid_token', 'this credential is bound to a key (DPoP): present it as `Authorization: DPoP <credential>` with a `DPoP` proof; a copied credential without its key is refused');
        await this.d.dpop.verify(req.headers.dpop, { method: req.method ?? 'GET', url: htu, accessToken: token, jkt: claims.cnf.jkt });
      } else if (scheme === 'dpop') {
        throw new MandateError('invalid_token', 'this credential is not key-bound: present it as `Authorization: Bearer <credential>`');
      }
      return { claims, token };
    } catch (err) {
      if (err instanceof MandateError && err.code === 'storage_unavailable') throw err;
      const message = err instanceof MandateError ? err.message : 'credential rejected';
      const seen = await this.credentials.inspect(token);
      await this.audit.record({ type: htu === this.endpoints.mcp ? 'mcp.reject' : 'http.reject', actor: seen ? holderOf(seen) : 'anonymous', agentId: seen ? holderOf(seen) : null, taskId: seen?.task_id ?? null, outcome: 'denied', data: { reason: message, method: req.method } });
      if (err instanceof DpopError) this.unauthorized(res, err.dpopCode, message, true);
      else this.unauthorized(res, 'invalid_token', message, scheme === 'dpop');
      return null;
    }
  }

  /** Why one more session for this task or agent is refused, or null. */
  private sessionLimitProblem(agentId: string, taskId: string): string | null {
    const g = this.d.config.gateway;
    let perTask = 0;
    let perAgent = 0;
    for (const s of this.sessions.values()) {
      if (s.state.task.id === taskId) perTask++;
      if (s.agent.id === agentId) perAgent++;
    }
    if (perTask >= g.maxSessionsPerTask) return `task ${q(taskId)} already has ${perTask} open sessions (gateway.maxSessionsPerTask): reuse one, or close one with DELETE /mcp`;
    if (perAgent >= g.maxSessionsPerAgent) return `agent ${q(agentId)} already has ${perAgent} open sessions (gateway.maxSessionsPerAgent): reuse one, or close one with DELETE /mcp`;
    return null;
  }

  /**
   * A session this process did not open but the store knows (opened on a replica that is gone, or
   * that the balancer no longer routes to): taken over for the same task only, with what its
   * `initialize` said. The credential of the request was already checked, as for any request.
   */
  private async takeOver(id: string, agentId: string, taskId: string): Promise<AgentSession | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id) || this.ended.get(id)) return undefined;
    const rec = await this.d.store.getMcpSession(id);
    if (!rec || rec.taskId !== taskId || rec.agentId !== agentId) return undefined;
    const pending = this.takingOver.get(id);
    if (pending) return pending;
    const p = (async () => {
      const session = await this.openSession(agentId, taskId, id);
      if (!session) return undefined;
      session.id = id;
      this.sessions.set(id, session);
      session.transport.restore(rec.init);
      await this.audit.record({ type: 'mcp.session', actor: agentId, agentId, taskId, outcome: 'taken over', data: { session: id } });
      return session;
    })();
    this.takingOver.set(id, p);
    try {
      return await p;
    } finally {
      this.takingOver.delete(id);
    }
  }

  private readonly takingOver = new Map<string, Promise<AgentSession | undefined>>();
  /** Sessions that ended here: not taken over again from a record the store may still hold. */
  private readonly ended = new Lru<string, true>(10_000);

  /**
   * The agent and the shared state of its active task (built once per task and process; counts
   * come from the store, so a restart or another replica never hands out a fresh budget), or
   * undefined when either is no longer active.
   */
  async taskState(agentId: string, taskId: string): Promise<{ agent: Agent; state: TaskState } | undefined> {
    const [agent, task] = await Promise.all([this.d.store.getAgent(agentId), this.d.store.getTask(taskId)]);
    if (!agent || agent.status !== 'active' || !task || task.status !== 'active' || task.agentId !== agent.id) return undefined;
    let state = this.states.get(task.id);
    if (!state) {
      const above: Task[] = [];
      for (const link of task.chain?.slice(1) ?? []) {
        const t = await this.d.store.getTask(link.task);
        if (!t) return undefined;
        above.push(t);
      }
      const counts = await this.d.store.callCounts(task.id);
      state = this.states.get(task.id) ?? { task, above, calls: new Map(Object.entries(counts)) };
      this.states.set(task.id, state);
    }
    return { agent, state };
  }

  private async openSession(agentId: string, taskId: string, existingId?: string): Promise<AgentSession | undefined> {
    const found = await this.taskState(agentId, taskId);
    if (!found) return undefined;
    const { agent, state } = found;
    const task = state.task;
    const session = new AgentSession(this, agent, state);
    const id = existingId ?? randomUUID();
    const transport = new AgentHttpTransport({
      sessionId: id,
      onInitialized: (init) => {
        session.id = id;
        this.sessions.set(id, session);
        this.d.faults.guard('audit session open', this.audit.record({ type: 'mcp.session', actor: agent.id, agentId: agent.id, taskId: task.id, outcome: 'open', data: { session: id } }));
        // Kept so that another replica can take the session over.
        this.d.faults.guard('record session', this.d.store.putMcpSession({ id, taskId: task.id, agentId: agent.id, init, createdAt: Date.now() }));
      },
      onSessionClosed: () => this.closeSession(id, 'closed by the agent'),
    });
    session.transport = transport;
    await session.server.connect(transport);
    return session;
  }

  /** Closes a session whatever the store says: the close happens even if its audit record cannot be written. */
  private async closeSession(id: string, why: string, ended = true): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    // A session that ended is forgotten (and never taken over here again, even if the store could
    // not forget it); one whose replica shuts down stays, for another to take over.
    if (ended) {
      this.ended.set(id, true);
      this.d.faults.guard('forget session', this.d.store.deleteMcpSession(id));
    }
    try {
      await this.audit.record({ type: 'mcp.session', actor: s.agent.id, agentId: s.agent.id, taskId: s.state.task.id, outcome: 'closed', data: { session: id, reason: why } });
    } finally {
      await s.close();
    }
  }

  /** A task ended: its sessions close, and so do those of every task delegated below it. */
  private async endTask(taskId: string): Promise<void> {
    for (const [key, st] of this.states) if (key === taskId || st.above.some((t) => t.id === taskId)) this.states.delete(key);
    for (const [id, s] of this.sessions) {
      if (s.state.task.id === taskId) await this.closeSession(id, 'task ended');
      else if (s.state.above.some((t) => t.id === taskId)) await this.closeSession(id, `task ${taskId}, which this task was delegated from, ended`);
    }
  }

  /** The idle reaper (every 30 s; public for tests). */
  closeIdle(now = Date.now()): void {
    const limit = this.d.config.gateway.sessionIdleTimeout * 1000;
    for (const [id, s] of this.sessions) if (now - s.lastSeen > limit) this.d.faults.guard('close idle session', this.closeSession(id, 'idle'));
  }

  private allowed: { base: string; hosts: Set<string>; origins: Set<string> } | undefined;

  checkHostAndOrigin(req: IncomingMessage): string | null {
    if (this.allowed?.base !== this.endpoints.base) {
      const base = new URL(this.endpoints.base);
      const port = base.port || (base.protocol === 'https:' ? '443' : '80');
      this.allowed = {
        base: this.endpoints.base,
        hosts: new Set([base.host, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, ...this.d.config.gateway.allowedHosts]),
        origins: new Set([base.origin, ...this.d.config.gateway.allowedOrigins]),
      };
    }
    const host = req.headers.host ?? '';
    if (!this.allowed.hosts.has(host)) return `host ${q(host)} is not served here (DNS rebinding protection); add it to gateway.allowedHosts if it is yours`;
    const origin = req.headers.origin;
    if (origin !== undefined && !this.allowed.origins.has(origin)) return `origin ${q(origin)} is not allowed (DNS rebinding protection); add it to gateway.allowedOrigins if it is yours`;
    return null;
  }

  private unauthorized(res: ServerResponse, error: string, description: string, dpop = false): void {
    const meta = `${this.endpoints.base}/.well-known/oauth-protected-resource`;
    const desc = description.replace(/["\\]/g, "'");
    // RFC 9449 §7.1: a DPoP challenge for DPoP problems (with a nonce when one is needed).
    const challenge = dpop
      ? `DPoP algs="ES256 ES384 EdDSA RS256 PS256", error="${error}", error_description="${desc}"`
      : `Bearer resource_metadata="${meta}", error="${error}", error_description="${desc}"`;
    if (dpop && this.d.dpop.requireNonce) res.setHeader('dpop-nonce', this.d.dpop.nonce());
    res.setHeader('www-authenticate', challenge);
    sendJson(res, 401, { error, error_description: description });
  }

  // ---------------------------------------------------------------- used by sessions

  visibleTools(agent: Agent, state: TaskState): ToolSpec[] {
    const key = `${this.d.policy.version}|${this.catalogVersion}|${state.task.labels.join(',')}|${state.task.scope.tools.map((t) => t.name).join(',')}`;
    if (state.visible?.key === key) return state.visible.tools;
    const tools = this.tools
      .listTools()
      .filter((t) => t.discovered && t.kind !== 'http' && this.upstreams.config(t.upstream) && this.authorizer.couldCall(agent, state.task, t));
    state.visible = { key, tools };
    return tools;
  }

  /** The resources in the task's scope; `own`: lists a session's own upstream connections gave it instead. */
  visibleResources(state: TaskState, own?: ReadonlyMap<string, Resource[]>): Resource[] {
    const out: Resource[] = [];
    for (const name of this.upstreams.names()) {
      for (const r of own?.get(name) ?? this.upstreams.resourcesOf(name).resources) {
        let uri: string;
        try {
          uri = normaliseResource(r.uri);
        } catch {
          continue;
        }
        if (state.task.scope.resources.some((p) => globMatch(p, uri))) out.push(r);
      }
    }
    return out;
  }

  /** Resource templates of the upstreams whose resources this task may read at all. */
  visibleTemplates(state: TaskState): ResourceTemplate[] {
    const out: ResourceTemplate[] = [];
    for (const name of this.upstreams.names()) {
      for (const t of this.upstreams.resourcesOf(name).templates) {
        // A template is shown when a URI it can produce may fall inside the task's resources:
        // its fixed prefix (up to the first `{`) is a prefix of, or matched by, a declared pattern.
        const fixed = t.uriTemplate.split('{')[0]!;
        if (state.task.scope.resources.some((p) => p.startsWith(fixed) || fixed.startsWith(p.split('*')[0]!) || globMatch(p, fixed))) out.push(t);
      }
    }
    return out;
  }

  /** Every upstream's prompts, named as agents see them; `own`: lists a session's own connections gave it instead. */
  visiblePrompts(own?: ReadonlyMap<string, Prompt[]>): Prompt[] {
    return this.upstreams.names().flatMap((u) => (own?.get(u) ?? this.upstreams.promptsOf(u)).map((p) => ({ ...p, name: `${this.promptPrefix(u)}${p.name}` })));
  }

  /** The prefix of an upstream's prompt (and tool) names as agents see them. */
  promptPrefix(upstream: string): string {
    const cfg = this.upstreams.config(upstream);
    return cfg ? prefixOf(upstream, cfg) : `${upstream}.`;
  }

  upstreamOfResource(uri: string): string | undefined {
    for (const name of this.upstreams.names()) {
      const { resources, templates } = this.upstreams.resourcesOf(name);
      if (resources.some((r) => r.uri === uri)) return name;
      if (templates.some((t) => globMatch(t.uriTemplate.replace(/\{[^}]*\}/g, '*'), uri))) return name;
    }
    return undefined;
  }

  resourceClassification(_upstream: string): Classification {
    return 'internal';
  }

  timeoutMs(upstream: string): number {
    return (this.upstreams.config(upstream)?.timeout ?? this.d.config.gateway.callTimeout) * 1000;
  }

  maxResultBytes(upstream: string): number {
    return this.upstreams.config(upstream)?.maxResultBytes ?? this.d.config.gateway.maxResultBytes;
  }

  approvalWaitMs(): number {
    return this.d.config.approvals.wait * 1000;
  }

  policyVersion(): string {
    return this.d.policy.version;
  }

  /** A slot for one more upstream process of a session (waits up to `gateway.upstreamQueueWait`). */
  upstreamSlot(): Promise<() => void> {
    return this.processSlots.acquire(this.d.config.gateway.upstreamQueueWait * 1000);
  }

  /**
   * Step 7 of the data path: one call of `tool` is charged to the task and every task above it,
   * atomically in the store, before anything is forwarded. Returns why it was refused, or null.
   */
  async chargeCall(state: TaskState, tool: string): Promise<string | null> {
    const line = [state.task, ...state.above];
    const charges = line.map((t) => ({ taskId: t.id, limit: t.scope.tools.find((g) => g.name === tool)?.max_calls ?? null }));
    const r = await this.d.store.consumeCall(tool, charges);
    if (!r.ok) {
      const own = r.exhausted === state.task.id;
      state.calls.set(tool, Math.max(state.calls.get(tool) ?? 0, own ? r.limit : 0));
      return own
        ? `tool ${q(tool)} reached the task's limit of ${r.limit} call${r.limit === 1 ? '' : 's'}`
        : `tool ${q(tool)}: the budget of ${r.limit} call${r.limit === 1 ? '' : 's'} of task ${q(r.exhausted)}, which this task was delegated from, is spent`;
    }
    state.calls.set(tool, r.used[0]!);
    return null;
  }

  /**
   * On a shared store (several replicas), what other replicas changed about this task since the
   * session opened: its taint and its call counts are read from the store before each decision,
   * so a confidential read on one replica stops egress on every other at once.
   */
  async refreshShared(state: TaskState): Promise<void> {
    if (this.d.store.dialect !== 'postgres') return;
    const [task, counts] = await Promise.all([this.d.store.getTask(state.task.id), this.d.store.callCounts(state.task.id)]);
    if (task && task.labels.some((l) => !state.task.labels.includes(l))) state.task = { ...state.task, labels: [...new Set([...state.task.labels, ...task.labels])].sort() };
    // An amendment approved through another replica: the scope as the store has it.
    if (task && (task.scopeVersion ?? 0) > (state.task.scopeVersion ?? 0)) state.task = { ...state.task, scope: task.scope, scopeVersion: task.scopeVersion! };
    for (const [tool, n] of Object.entries(counts)) if (n > (state.calls.get(tool) ?? 0)) state.calls.set(tool, n);
  }

  /** Whether any policy reads where argument values come from (the provenance lookup is skipped otherwise). */
  /** Whether the agent is suspended or retired in this process (a refused credential then counts as `suspended`, not `revoked`). */
  agentStopped(agentId: string): boolean {
    return this.d.revocations.agentStopped(agentId) !== undefined;
  }

  policyUsesProvenance(): boolean {
    return this.d.policy.current.compiled.usesProvenance === true;
  }

  /** An amendment was applied to a task: sessions here use its new scope from the next call. */
  taskAmended(task: Task): void {
    const state = this.states.get(task.id);
    if (state) state.task = { ...state.task, scope: task.scope, ...(task.scopeVersion ? { scopeVersion: task.scopeVersion } : {}) };
  }

  /** Per-task database roles (set when an upstream of kind `postgres` is configured). */
  databases: TaskDatabases | undefined;

  /** `<db>.query` / `<db>.connect`: run by Mandate as the task's own role. */
  async runDatabaseTool(tool: ToolSpec, task: Task, args: Record<string, unknown>): Promise<CallToolResult> {
    if (!this.databases) throw new MandateError('upstream_unavailable', `database upstream ${q(tool.upstream)} is not available`);
    return this.databases.run(tool, task, args);
  }

  /** Step 8 of the data path: the task carries the classification of what it read. */
  async taint(state: TaskState, classification: Classification): Promise<void> {
    if (state.task.labels.includes(classification)) return;
    state.task = { ...state.task, labels: [...state.task.labels, classification].sort() };
    state.task.labels = await this.d.store.addTaskLabels(state.task.id, [classification]);
  }

  /** Arguments as they go into audit: secret-looking values redacted, long values cut. */
  auditArgs(args: Record<string, unknown>): unknown {
    const cut = (v: unknown, depth: number): unknown => {
      if (typeof v === 'string') return v.length > 512 ? `${v.slice(0, 512)}…(${v.length} chars)` : v;
      if (depth > 4) return '…';
      if (Array.isArray(v)) return v.slice(0, 50).map((x) => cut(x, depth + 1));
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).slice(0, 50).map(([k, x]) => [k, cut(x, depth + 1)]));
      return v;
    };
    return cut(redactSecrets(args), 0);
  }

  describeUpstreamError(err: unknown, upstream: string | null): string {
    const e = err as { code?: number; message?: string };
    const who = upstream ? `upstream ${q(upstream)}` : 'upstream';
    if (e?.code === -32001 && /timed out/i.test(e.message ?? '')) return `${who} did not answer in time (the call was cancelled)`;
    if (/connection closed/i.test(e?.message ?? '')) return `${who} closed the connection during the call (it will be restarted)`;
    if (e?.code === -32603 && /invalid/i.test(e.message ?? '')) return `${who} returned an invalid response`;
    return `${who} failed: ${redactSecrets(String(e?.message ?? err)).slice(0, 500)}`;
  }

  async auditDecision(session: AgentSession, type: string, target: string, d: Decision): Promise<void> {
    await this.audit.record({
      type,
      actor: session.agent.id,
      agentId: session.agent.id,
      taskId: session.state.task.id,
      decision: d.decision,
      outcome: d.decision === 'allow' ? 'success' : 'denied',
      data: { target, decisionId: d.id, policyIds: d.policyIds, reasons: d.reasons, policyVersion: d.policyVersion },
    });
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    // Shutdown goes on whatever the store says (a session's closing record may not be writable).
    for (const id of [...this.sessions.keys()]) await this.closeSession(id, 'server shutting down', false).catch((err) => this.d.faults.note('close session at shutdown', err));
  }
}

/** The tool a single `tools/call` names when the task never declared it (else null). */
function outOfScopeTool(body: unknown, task: Task): string | null {
  const b = body as { method?: unknown; params?: { name?: unknown } } | null;
  if (!b || Array.isArray(b) || b.method !== 'tools/call' || typeof b.params?.name !== 'string') return null;
  return task.scope.tools.some((t) => t.name === b.params!.name) ? null : b.params.name;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) }).end(json);
}

type BodyRead = { body: unknown } | { problem: string; status: number; code: number };

/** Reads a JSON request body up to `limit` bytes; problems come back as JSON-RPC errors. */
async function readJsonBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json')) {
    req.resume();
    return { problem: `unsupported content type ${q(type || '(none)')}: MCP messages are application/json`, status: 415, code: -32600 };
  }
  const read = await readBody(req, limit);
  if ('problem' in read) return { problem: read.problem, status: read.status, code: read.status === 413 ? -32600 : -32700 };
  const text = read.body.toString('utf8');
  if (!text.trim()) return { problem: 'parse error: the request body is empty', status: 400, code: -32700 };
  try {
    return { body: JSON.parse(text) };
  } catch (err) {
    return { problem: `parse error: ${(err as Error).message}`, status: 400, code: -32700 };
  }
}
