// The composition root: builds every service from the configuration, wires lifecycle hooks
// (suspension revokes tasks, reloads clear caches), and owns start and shutdown.

import { Tracing } from './observability/tracing.js';
import { ReplayBatcher } from './identity/replay-batch.js';
import { Metrics } from './observability/metrics.js';
import { READS_PROVENANCE } from './policy/compile.js';
import { ProvenanceTracker } from './provenance/tracker.js';
import { MANDATE_VERSION } from './core/version.js';
import { canonicalJson } from './core/canonical-json.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ApprovalService } from './approvals/approval-service.js';
import { WebhookNotifier } from './approvals/webhooks.js';
import { AuditLog } from './audit/audit-log.js';
import { createSinkRunner, type SinkRunner } from './audit/sinks/index.js';
import { publicUrlOf, type MandateConfig } from './config/load.js';
import { systemClock, type Clock } from './core/clock.js';
import { EventBus } from './events/bus.js';
import { CallAuthorizer } from './gateway/authorize.js';
import { ToolCatalog } from './gateway/catalog.js';
import { McpGateway } from './gateway/mcp-gateway.js';
import { HttpApiGateway } from './gateway/http-api.js';
import { AuthorizationServer } from './oauth/authorization-server.js';
import { ToolPins } from './gateway/pins.js';
import { UpstreamManager } from './gateway/upstreams.js';
import { buildApp } from './http/app.js';
import { ensureAdminToken } from './identity/admin-token.js';
import { AgentService } from './identity/agent-service.js';
import { ApiTokenService } from './identity/api-tokens.js';
import { ClientAssertionVerifier } from './identity/client-assertion.js';
import { DpopVerifier } from './identity/dpop.js';
import { BackgroundFaults } from './core/faults.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageUnavailableError } from './storage/errors.js';
import { MandateError, q } from './core/errors.js';
import { registerSecretValues } from './audit/redact.js';
import { secretRefsOf, secretValuesOf } from './gateway/upstream-client.js';
import { UserService } from './identity/users.js';
import { SecretBroker } from './secrets/broker.js';
import { DbRoleManager } from './secrets/db-roles.js';
import { loadOrCreateRoleKey, TaskDatabases } from './secrets/task-databases.js';
import { expandEnv, expandValue } from './gateway/upstream-client.js';
import { SigningKeys } from './identity/signing-keys.js';
import { AccessRequests } from './pdp/access-request.js';
import { AuthzenPdp } from './pdp/authzen.js';
import { EntityStore } from './policy/entity-store.js';
import { PolicyService } from './policy/policy-service.js';
import { isPostgresUrl, openStore, postgresOptions } from './storage/index.js';
import { pgClientConfig } from './storage/postgres/postgres-store.js';
import { PgListener, type StoreEvent } from './events/pg-listener.js';
import type { Store } from './storage/types.js';
import { CredentialService } from './tasks/credentials.js';
import { RevocationList } from './tasks/revocation.js';
import { TaskService } from './tasks/task-service.js';

/** The URLs Mandate is reached at; known once the server listens (the port may be ephemeral). */
export class Endpoints {
  base = '';
  get issuer(): string {
    return this.base;
  }
  get token(): string {
    return `${this.base}/oauth/token`;
  }
  get mcp(): string {
    return `${this.base}/mcp`;
  }
  /** The audience of delegation tickets: no login endpoint accepts it. */
  get delegation(): string {
    return `${this.base}/oauth/token#delegation`;
  }
}

export interface MandateOptions {
  config: MandateConfig;
  clock?: Clock;
  logger?: Logger;
  /** Connect to upstream MCP servers (false for offline CLI work on the store). Default true. */
  connectUpstreams?: boolean;
  /** Start even if the policy files do not validate, deciding with an empty set (deny all): for the offline CLI. */
  tolerateInvalidPolicies?: boolean;
  /** How long start waits for upstreams to connect before serving (slower ones finish in the background). Default 20 s. */
  upstreamStartWaitMs?: number;
}

export interface Mandate {
  config: MandateConfig;
  clock: Clock;
  logger: Logger | undefined;
  store: Store;
  events: EventBus;
  audit: AuditLog;
  /** Audit streaming: delivers the log to the configured sinks, records signed checkpoints (started by `listen`). */
  auditSinks: SinkRunner;
  keys: SigningKeys;
  adminTokenPath: string;
  adminTokenCreated: boolean;
  apiTokens: ApiTokenService;
  users: UserService;
  approvals: ApprovalService;
  webhooks: WebhookNotifier;
  agents: AgentService;
  assertions: ClientAssertionVerifier;
  dpop: DpopVerifier;
  tools: ToolCatalog;
  pins: ToolPins;
  upstreams: UpstreamManager;
  gateway: McpGateway;
  policy: PolicyService;
  entities: EntityStore;
  revocations: RevocationList;
  credentials: CredentialService;
  tasks: TaskService;
  authorizer: CallAuthorizer;
  pdp: AuthzenPdp;
  accessRequests: AccessRequests;
  endpoints: Endpoints;
  /** Failures on background paths, counted and logged (never a crash). */
  faults: BackgroundFaults;
  /** Prometheus metrics of this Mandate (its own registry; off: every call is a no-op). */
  metrics: Metrics;
  /** Named secrets (env, files, Vault), the only holder of their values. */
  secrets: SecretBroker;
  /** The enforcement point for REST APIs (`/http/<upstream>/…`). */
  httpApi: HttpApiGateway;
  /** The standard MCP authorization flow (authorization code + PKCE, consent page, registration). */
  authorization: AuthorizationServer;
  /** Per-task database roles (null without upstreams of kind `postgres`). */
  databases: TaskDatabases | null;
  /** On PostgreSQL: the connection that hears other replicas' changes (null on SQLite). */
  listener: PgListener | null;
  /** Why the policy files were not loaded (only with `tolerateInvalidPolicies`), or null. */
  policyProblem: string | null;
  app: FastifyInstance;
  /** Runs one maintenance pass: expire tasks, prune replay and revocation entries. */
  sweep(): Promise<void>;
  listen(): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

export async function createMandate(opts: MandateOptions): Promise<Mandate> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, settings: config.store });
  let started: UpstreamManager | null = null;
  let startedListener: PgListener | null = null;
  let dbRoles: DbRoleManager | null = null;
  // Every secret the config takes from the environment is redacted by value wherever it shows up.
  registerSecretValues(Object.values(config.upstreams).flatMap((u) => secretValuesOf(u, process.env)));
  registerSecretValues(
    Object.values(config.approvals.groups).flatMap((g) => {
      const v = g.webhook?.secret;
      if (!v) return [];
      return [...v.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => process.env[m[1]!] ?? '').concat(v.includes('${') ? [] : [v]);
    }),
  );
  const faults = new BackgroundFaults((path, err) => opts.logger?.error({ path, error: (err as Error)?.message ?? String(err) }, 'background task failed'));
  try {
    const events = new EventBus();
    const secrets = new SecretBroker({ secrets: config.secrets, vault: config.vault, clock });
    // Metrics first: the store and the audit log report into them. The scrape token is a secret
    // like any other (redacted by value; a variable that is not set fails the start).
    const metricsToken = config.metrics.enabled && config.metrics.token !== undefined ? expandEnv(config.metrics.token, process.env, 'metrics.token') : null;
    // An empty token would leave the endpoint open while the config says it is not.
    if (metricsToken === '') throw new MandateError('config_invalid', 'metrics.token is empty once expanded: set the variable it names, or remove `metrics.token` to serve metrics without one');
    if (metricsToken) registerSecretValues([metricsToken]);
    const metrics = new Metrics({ enabled: config.metrics.enabled, token: metricsToken });
    const audit = new AuditLog(store, clock);
    if (metrics.enabled) {
      store.onUnavailable = (op) => metrics.storeError(op);
      audit.onAppended = (seconds) => metrics.auditAppend(seconds);
    }
    const keys = await SigningKeys.loadOrCreate(config.dataDir, clock.now());
    const admin = ensureAdminToken(config.dataDir);
    const tools = ToolCatalog.fromConfig(config.upstreams);
    const pins = new ToolPins(store, audit, clock);
    // Upstream tool lists change the catalogue and so the generated Cedar schema: recompile, and
    // keep the previous set if the new one does not validate (a policy naming a vanished tool, say).
    let policyRef: PolicyService | null = null;
    const upstreams = new UpstreamManager(config.upstreams, config.baseDir, tools, pins, async () => {
      if (!policyRef) return;
      try {
        const r = await policyRef.reload(tools.listTools());
        if (r.changed) events.emit('policy.reloaded', { version: r.version });
      } catch (err) {
        opts.logger?.error({ error: (err as Error).message }, 'tool catalogue changed but the policy set no longer validates; the previous set stays in force');
      }
    }, opts.logger);
    // `${secret:<name>}` in an upstream's env or headers must name a configured secret.
    for (const [name, u] of Object.entries(config.upstreams)) {
      for (const [kind, values] of [['env', u.env], ['header', u.headers]] as const) {
        for (const [k, v] of Object.entries(values)) {
          for (const ref of secretRefsOf(v)) {
            if (!secrets.has(ref)) throw new MandateError('config_invalid', `upstream ${q(name)} ${kind} ${q(k)} uses \`\${secret:${ref}}\`, which is not declared under \`secrets\` in mandate.yaml`);
          }
        }
      }
    }
    for (const [name, u] of Object.entries(config.upstreams)) {
      const refs = [...(u.auth ? [u.auth.secret] : []), ...(u.connection ? secretRefsOf(u.connection) : [])];
      for (const ref of refs) if (!secrets.has(ref)) throw new MandateError('config_invalid', `upstream ${q(name)} uses the secret ${q(ref)}, which is not declared under \`secrets\` in mandate.yaml`);
    }
    if (config.auth.oidc && !secrets.has(config.auth.oidc.secret)) throw new MandateError('config_invalid', `auth.oidc.secret names the secret ${q(config.auth.oidc.secret)}, which is not declared under \`secrets\` in mandate.yaml`);
    upstreams.secrets = (n) => secrets.get(n);
    started = upstreams;
    if (opts.connectUpstreams !== false) await upstreams.start(opts.upstreamStartWaitMs);
    else await upstreams.seedFromPins();
    const policyOpts = { policyDir: config.policyDir, schemaPath: config.schemaPath, decisionCache: config.policies.decisionCache };
    let policy: PolicyService;
    let policyProblem: string | null = null;
    try {
      policy = await PolicyService.create(policyOpts, tools.listTools(), store, clock);
    } catch (err) {
      // The CLI on the store (agents, audit, users, the kill switch) must work whatever the
      // policy files say: with an invalid set it runs on an empty one, which denies everything.
      if (!opts.tolerateInvalidPolicies || !(err instanceof MandateError) || err.code !== 'policy_invalid') throw err;
      policyProblem = err.message;
      policy = await PolicyService.create({ ...policyOpts, policyDir: mkdtempSync(join(tmpdir(), 'mandate-no-policies-')) }, tools.listTools(), null, clock);
    }
    policyRef = policy;
    const entities = EntityStore.fromFiles(config.entityFiles);
    const revocations = new RevocationList(store);
    await revocations.load(clock.now());
    events.on('task.revoked', (r) => revocations.remember(r));

    const endpoints = new Endpoints();
    const credentials = new CredentialService(keys, revocations, clock, () => endpoints.issuer);
    const tasks = new TaskService(store, policy, tools, credentials, revocations, audit, clock, config.tasks);
    const agents = new AgentService(store, audit, clock, config.trustDomain);
    agents.setHooks({ onDeactivated: async (id, reason, actor) => void (await tasks.revokeAllForAgent(id, reason, actor)) });
    agents.stop = (id, reason) => revocations.stopAgent(id, reason);
    agents.start = (id) => revocations.startAgent(id);
    // Single-use ids (DPoP proofs, client assertions) in group commits: one transaction per tick.
    const replay = new ReplayBatcher(store);
    const assertions = new ClientAssertionVerifier(store, replay, clock, {
      audiences: () => [endpoints.token, endpoints.issuer],
      algorithms: config.identity.algorithms,
      maxAge: config.identity.assertionMaxAge,
      clockSkew: config.identity.clockSkew,
      ticketAudience: () => endpoints.delegation,
      stopped: (id) => revocations.agentStopped(id),
      ticketMaxAge: config.credentials.delegationTicketMaxAge,
    });
    const apiTokens = new ApiTokenService(store, admin.hash, audit, clock);
    const dpop = new DpopVerifier(clock, { maxAge: config.credentials.dpopMaxAge, requireNonce: config.credentials.dpopNonce }, replay);
    const users = new UserService(store, audit, clock, () => apiTokens.invalidate());
    const webhooks = new WebhookNotifier(config.approvals, audit, clock, opts.logger);
    const approvals = new ApprovalService({ store, audit, clock, config: config.approvals, notifier: webhooks, tools, policyVersion: () => policy.version, baseUrl: () => endpoints.base, logger: opts.logger });
    tasks.setApprovals({
      forTaskStart: (task, agent, decisions, ttl) => approvals.forTaskStart(task, agent, decisions, ttl),
      forTask: async (taskId) => (await approvals.list({ taskId, limit: 1 }))[0] ?? null,
      windowMs: () => config.approvals.ttl * 1000,
      forTaskAmend: (p) => approvals.forTaskAmend(p),
      forAmendment: (taskId, hash) => approvals.forAmendment(taskId, hash),
      consumeAmendment: (id, hash) => store.consumeApproval(id, hash, clock.now()),
    });
    policy.onReload((version) => void approvals.policyChanged(version).catch((err) => opts.logger?.error({ err }, 'voiding approvals after a policy change failed')));
    const authorizer = new CallAuthorizer(policy, clock);
    const t = config.tracing;
    const tracing = new Tracing({ ...t, headers: Object.fromEntries(Object.entries(t.headers).map(([k, v]) => [k, expandEnv(v, process.env, `tracing.headers.${k}`)])) }, MANDATE_VERSION);
    const provenance = config.provenance.enabled ? new ProvenanceTracker(store, keys.derive('provenance'), { cap: config.provenance.maxValuesPerTask, perResult: config.provenance.maxValuesPerResult }) : null;
    const gateway = new McpGateway({ config, tools, upstreams, authorizer, policy, credentials, revocations, store, audit, clock, endpoints, approvals, dpop, faults, logger: opts.logger, tracing, metrics, provenance });
    tasks.metrics = metrics;
    metrics.collectFrom({
      activeTasks: () => store.countActiveTasks(clock.now()),
      pendingApprovals: () => store.countPendingApprovals(clock.now()),
      // HTTP APIs and databases have no standing connection to be up or down.
      upstreams: () => upstreams.status().filter((u) => u.kind === 'mcp').map((u) => ({ name: u.name, up: u.connected })),
      readsProvenance: (id) => READS_PROVENANCE.test(policy.current.policy(id)?.text ?? ''),
    });
    tasks.onAmended = (t) => gateway.taskAmended(t);
    if (provenance) tasks.provenanceOf = async (t, values) => ({ ...(await provenance.of(t, values)) });
    // A change of what is only observed is itself a security event: recorded once, by whichever
    // replica starts first with the new settings.
    {
      const settings = gateway.enforcement.settings();
      const [last] = await store.listAudit({ type: 'enforcement.mode', newestFirst: true, limit: 1 });
      if (!last ? gateway.enforcement.anyObserve : canonicalJson(last.data) !== canonicalJson(settings)) {
        await audit.record({ type: 'enforcement.mode', actor: 'system', outcome: 'success', data: settings });
        if (gateway.enforcement.anyObserve) opts.logger?.warn({ enforcement: settings }, 'observe mode is on: calls policy would deny run and are recorded as would-deny');
      }
    }
    // Databases whose access is a role per task, created at task start and dropped at its end.
    let databases: TaskDatabases | null = null;
    const dbUpstreams = Object.entries(config.upstreams).filter(([, u]) => u.kind === 'postgres');
    if (dbUpstreams.length) {
      const key = loadOrCreateRoleKey(config.dataDir);
      const resolved = [];
      for (const [name, u] of dbUpstreams) {
        resolved.push({ name, connection: await expandValue(u.connection!, process.env, `upstreams.${name}.connection`, (n) => secrets.get(n)), privileges: u.privileges!, maxRows: u.maxRows, statementTimeoutMs: (u.timeout ?? config.gateway.callTimeout) * 1000 });
      }
      dbRoles = new DbRoleManager({ upstreams: resolved, key, logger: opts.logger, clock });
      databases = new TaskDatabases({ roles: dbRoles, tools, upstreams: dbUpstreams.map(([n]) => n), audit, store, clock });
      tasks.addProvisioner(databases);
      gateway.databases = databases;
      const db = databases;
      // Every end of a task (end, revocation, expiry, suspension; here or on another replica) takes its roles.
      revocations.onRevoked((r) => faults.guard('drop database roles of an ended task', db.taskEnded(r.taskId, r.reason)));
      // What a crash or restart left behind goes now, and on every sweep.
      await db.sweep().catch((err) => opts.logger?.error({ error: (err as Error).message }, 'sweeping orphaned database roles failed; retried on the next maintenance pass'));
    }
    const authorization = new AuthorizationServer({ config, store, tasks, credentials, audit, clock, tools, endpoints });
    const httpApi = new HttpApiGateway({ gateway, upstreams: config.upstreams, secrets, bodyLimit: config.server.bodyLimit, callTimeoutMs: config.gateway.callTimeout * 1000, maxResultBytes: config.gateway.maxResultBytes });
    const accessRequests = new AccessRequests({ keys, approvals, clock, endpoint: () => `${endpoints.base}/access/v1/requests`, issuer: () => endpoints.issuer, windowSeconds: Math.min(config.approvals.ttl, 600) });
    const pdp = new AuthzenPdp({ policy, entities, agents: store, tasks: store, revocations, tools, authorizer, audit, clock, types: config.authzen.types, accessRequests, metrics });

    // Several replicas on one PostgreSQL database: what another replica changes (revocations,
    // suspensions, approvals, pins, policies, tokens) reaches this one over LISTEN/NOTIFY.
    let listener: PgListener | null = null;
    if (store.dialect === 'postgres' && isPostgresUrl(config.databaseUrl)) {
      const pinRefresh = new Map<string, NodeJS.Timeout>();
      const apply = (e: StoreEvent) => {
        if (e.k === 'revoked') revocations.remember({ taskId: e.task, revokedAt: e.at, expiresAt: e.exp, reason: e.reason });
        else if (e.k === 'agent') {
          if (e.status === 'active') revocations.startAgent(e.id);
          else revocations.stopAgent(e.id, `agent ${e.status}`);
        } else if (e.k === 'approval') faults.guard('approval decided elsewhere', approvals.changedElsewhere(e.id));
        else if (e.k === 'callers') apiTokens.invalidate();
        else if (e.k === 'policy') faults.guard('policy changed elsewhere', reloadPolicy('policy version stored by another replica'));
        else if (e.k === 'pins' && upstreams.names().includes(e.upstream) && !pinRefresh.has(e.upstream)) {
          // One accept writes a row per tool: re-read the upstream once for all of them.
          const t = setTimeout(() => {
            pinRefresh.delete(e.upstream);
            faults.guard('pins changed elsewhere', upstreams.refresh(e.upstream));
          }, 100);
          t.unref();
          pinRefresh.set(e.upstream, t);
        }
      };
      const reloadPolicy = async (why: string) => {
        const r = await policy.reload(tools.listTools());
        if (r.changed) {
          events.emit('policy.reloaded', { version: r.version });
          opts.logger?.info({ version: r.version, why }, 'policies reloaded');
        }
      };
      listener = new PgListener({
        client: () => ({ ...pgClientConfig({ ...postgresOptions(config.databaseUrl!, config.store), applicationName: 'mandate-events' }), keepAlive: true }),
        onEvent: apply,
        logger: opts.logger,
        onTrust: (reason) => {
          revocations.untrusted = reason;
          if (reason === null) opts.logger?.info('listening for other replicas\' changes; caught up with the store');
        },
        catchUp: async () => {
          // Everything an event could have said, re-read from the store.
          await revocations.load(clock.now());
          const stopped = new Map<string, string>();
          for (const status of ['suspended', 'retired'] as const) for (const a of await store.listAgents({ status })) stopped.set(a.id, a.status);
          for (const id of revocations.stoppedAgentIds()) if (!stopped.has(id) && !agents.hasPending(id)) revocations.startAgent(id);
          for (const [id, status] of stopped) revocations.stopAgent(id, `agent ${status}`);
          apiTokens.invalidate();
          await approvals.recheckWaits();
          if (policyProblem === null) await reloadPolicy('catching up with the store').catch((err) => opts.logger?.error({ error: (err as Error).message }, 'policy reload refused; the previous policy set stays in force'));
        },
      });
      startedListener = listener;
      await listener.start();
    }

    const auditSinks = createSinkRunner({ config, store, audit, keys, clock, secrets, logger: opts.logger, faults });
    let sweeper: NodeJS.Timeout | undefined;
    let sweeps = 0;
    const m: Mandate = {
      config,
      clock,
      logger: opts.logger,
      store,
      events,
      audit,
      auditSinks,
      keys,
      adminTokenPath: admin.path,
      adminTokenCreated: admin.created,
      apiTokens,
      users,
      approvals,
      webhooks,
      agents,
      assertions,
      dpop,
      tools,
      pins,
      upstreams,
      gateway,
      policy,
      entities,
      revocations,
      credentials,
      tasks,
      authorizer,
      pdp,
      accessRequests,
      endpoints,
      faults,
      metrics,
      secrets,
      httpApi,
      databases,
      authorization,
      listener,
      policyProblem,
      app: undefined as unknown as FastifyInstance,
      async sweep() {
        const now = clock.now();
        await approvals.sweep();
        await tasks.expireDue();
        await tasks.persistPending();
        await agents.persistPending();
        await store.pruneReplay(now);
        await revocations.prune(now);
        // Database roles whose task ended without this replica hearing of it (a crash, a restart).
        // Every 10th pass: each is a query on every database; ends heard of are handled at once anyway.
        if (databases && sweeps % 10 === 0) await databases.sweep().catch((err) => faults.note('sweep database roles', err));
        // Housekeeping every 30 passes: checkpoint the WAL, and say so while disk space runs low.
        if (++sweeps % 30 === 0) {
          // Session records that no task can use any more (ended, or older than any task may live).
          await store.pruneMcpSessions(now - (config.tasks.maxTtl + 60) * 1000);
          // Codes and refresh tokens past their life (a replayed one is recognised until then).
          await store.pruneOAuth(now - 24 * 3600_000);
          await store.pruneTaskValues();
          await store.checkpoint();
          const free = await store.freeBytes();
          if (free !== null && free < config.storage.lowDiskMb * 1024 * 1024) {
            opts.logger?.warn({ freeMb: Math.floor(free / (1024 * 1024)), lowDiskMb: config.storage.lowDiskMb }, 'the data volume is running out of space: free some before writes fail (Mandate then refuses to decide)');
          }
        }
      },
      async listen() {
        const address = await m.app.listen({ host: config.server.host, port: config.server.port });
        const port = Number(new URL(address).port) || config.server.port;
        endpoints.base = publicUrlOf(config, port);
        sweeper = setInterval(() => {
          faults.guard('maintenance sweep', m.sweep());
        }, config.tasks.sweepInterval * 1000);
        sweeper.unref();
        auditSinks.start();
        return { port, url: endpoints.base };
      },
      async close() {
        if (sweeper) clearInterval(sweeper);
        // Every part is closed even if another fails (a broken store must not keep upstream
        // processes or the port alive); the first failure is reported after.
        let first: unknown;
        for (const step of [async () => listener?.close(), () => gateway.close(), async () => dbRoles?.close(), () => webhooks.close(), () => m.app.close(), () => upstreams.close(), () => auditSinks.stop(), () => audit.drain(), () => tracing.close(), async () => metrics.close(), () => store.close()]) {
          try {
            await step();
          } catch (err) {
            first ??= err;
            faults.note('shutdown', err);
          }
        }
        if (first && !(first instanceof StorageUnavailableError)) throw first;
      },
    };
    endpoints.base = publicUrlOf(config);
    m.app = await buildApp(m);
    return m;
  } catch (err) {
    await startedListener?.close();
    await dbRoles?.close().catch(() => undefined);
    await started?.close();
    await store.close();
    throw err;
  }
}
