// The shape of `mandate.yaml`, validated with zod so a bad file fails with the key and the
// expectation named.

import { z } from 'zod';
import { defaults } from './defaults.js';

export const RISK_CLASSES = ['read', 'write', 'destructive', 'egress', 'admin'] as const;
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'secret'] as const;
export type RiskClass = (typeof RISK_CLASSES)[number];
export type Classification = (typeof CLASSIFICATIONS)[number];

/** How an argument names a resource: `path` → `file://<normalised path>`, `url` as is, `email` → `mailto:`, `uri` as is. */
export const RESOURCE_KINDS = ['path', 'url', 'email', 'uri'] as const;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, `_` and `-`, starting with a letter or digit');

export const toolConfigSchema = z
  .object({
    description: z.string().optional(),
    risk: z.enum(RISK_CLASSES).optional(),
    classification: z.enum(CLASSIFICATIONS).optional(),
    tags: z.array(z.string()).default([]),
    /** JSON Schema of the arguments (discovered from the upstream when it is connected). */
    inputSchema: z.record(z.string(), z.unknown()).optional(),
    /** Which arguments name resources, and how: `{ path: path }`. */
    resources: z.record(z.string(), z.enum(RESOURCE_KINDS)).default({}),
    /** Arguments redacted wherever an approval shows the call (approval records, webhooks, CLI). */
    sensitive: z.array(z.string()).default([]),
    /** `allow`: forward arguments the input schema does not declare (policy cannot see them); default `refuse`. */
    additionalArguments: z.enum(['allow', 'refuse']).optional(),
    /** `observe`: calls of this tool that policy would deny run and are audited as would-deny (see `enforcement`); overrides the upstream's `mode`. */
    mode: z.enum(['enforce', 'observe']).optional(),
    /** Whose words its results are: `trusted` (this organisation's own records) or `untrusted` (content others wrote: mail, web, files, chat, search); overrides the upstream's `trust`. */
    trust: z.enum(['trusted', 'untrusted']).optional(),
  })
  .strict();

const webhookSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    /** Shared secret for the HMAC-SHA256 signature (`${NAME}` reads it from the environment). */
    secret: z.string().min(16, 'a webhook secret needs at least 16 characters'),
    /** `json`: Mandate's payload; `slack`: a Slack-compatible `{ "text": … }` body (signed the same way). */
    format: z.enum(['json', 'slack']).default('json'),
  })
  .strict();

export const approvalsConfigSchema = z
  .object({
    /** How long an approval request stays open, in seconds (default 15 minutes). */
    ttl: z.number().int().min(10).max(7 * 24 * 3600).default(900),
    /** How long the gateway holds an approval-gated call open waiting for a decision, in seconds. */
    wait: z.number().min(0).max(600).default(30),
    /** Approver groups: `owner` (the agent's owner) or a role given to users; each may have a webhook. */
    groups: z.record(z.string(), z.object({ webhook: webhookSchema.optional() }).strict()).default({}),
    breakglass: z
      .object({
        /** Who may approve break-glass requests (`owner`, `role:<name>`). */
        approvers: z.array(z.string().regex(/^(owner|role:[A-Za-z0-9_.-]+)$/, '`owner` or `role:<name>`')).min(1).default(['role:security']),
        /** Distinct approvers needed, none of them the requester. */
        quorum: z.number().int().min(1).max(10).default(2),
        /** Hard cap on a break-glass task's lifetime, in seconds (default 1 hour). */
        maxTtl: z.number().int().min(60).max(24 * 3600).default(3600),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** Where one named secret is read from: exactly one of `env`, `file`, `vault`. */
export const secretSourceSchema = z
  .object({
    /** An environment variable of Mandate's process. */
    env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
    /** A file only its owner may read (0600/0400); trailing newlines dropped. */
    file: z.string().min(1).optional(),
    /** One key of a Vault/OpenBao KV v2 secret (needs the top-level `vault`). */
    vault: z.object({ path: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    /** Seconds the value is kept before it is read again (default 300). */
    ttl: z.number().int().min(1).max(86_400).optional(),
  })
  .strict()
  .refine((s) => [s.env, s.file, s.vault].filter((x) => x !== undefined).length === 1, { message: 'a secret has exactly one of `env`, `file` or `vault`' });

export const vaultConfigSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    mount: z.string().min(1).default('secret'),
    tokenFile: z.string().min(1).optional(),
    appRole: z.object({ roleId: z.string().min(1), secretIdFile: z.string().min(1), mount: z.string().min(1).default('approle') }).strict().optional(),
    namespace: z.string().min(1).optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  })
  .strict()
  .refine((v) => (v.tokenFile === undefined) !== (v.appRole === undefined), { message: '`vault` authenticates with exactly one of `tokenFile` or `appRole`' });

/** HTTP methods an upstream of kind `http` may be called with; each is a tool (`<upstream>.<METHOD>`). */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
/** What a per-task database role may be granted on a table (`schema.table`) or every table of a schema (`schema.*`). */
export const DB_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
export type DbPrivilege = (typeof DB_PRIVILEGES)[number];
/** `schema.table` or `schema.*` (lower-case identifiers, as PostgreSQL folds unquoted names). */
const DB_OBJECT = /^[a-z_][a-z0-9_$]{0,62}\.(\*|[a-z_][a-z0-9_$]{0,62})$/;
export const dbPrivilegesSchema = z.record(z.string(), z.array(z.enum(DB_PRIVILEGES)).min(1).max(4)).superRefine((r, ctx) => {
  for (const k of Object.keys(r)) {
    if (!DB_OBJECT.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `${JSON.stringify(k)} is not \`schema.table\` or \`schema.*\` (lower-case identifiers)` });
  }
});

/** How Mandate authenticates to an HTTP API upstream, with a named secret (never seen by agents). */
export const httpAuthSchema = z.discriminatedUnion('type', [
  /** `Authorization: Bearer <secret>`. */
  z.object({ type: z.literal('bearer'), secret: z.string().min(1) }).strict(),
  /** `<name>: <prefix><secret>` (e.g. `X-Api-Key`). */
  z.object({ type: z.literal('header'), name: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), secret: z.string().min(1), prefix: z.string().default('') }).strict(),
  /** `Authorization: Basic base64(<username>:<secret>)`. */
  z.object({ type: z.literal('basic'), username: z.string().min(1), secret: z.string().min(1) }).strict(),
  /** OAuth 2.0 client credentials (RFC 6749 §4.4) against the upstream's token endpoint; the token is cached until shortly before it expires. */
  z
    .object({
      type: z.literal('oauth2'),
      tokenUrl: z.url({ protocol: /^https?$/ }),
      clientId: z.string().min(1),
      /** The named secret holding the client secret. */
      secret: z.string().min(1),
      scope: z.string().optional(),
      audience: z.string().optional(),
      /** How the client authenticates at the token endpoint. */
      clientAuth: z.enum(['basic', 'post']).default('basic'),
    })
    .strict(),
]);
export type HttpAuthConfig = z.infer<typeof httpAuthSchema>;

export const upstreamConfigSchema = z
  .object({
    description: z.string().optional(),
    /** `mcp`: an MCP server (stdio `command` or streamable-HTTP `url`); `http`: a REST API at `url`, reached by agents at
     *  `/http/<name>/…`; `postgres`: a database where each task gets its own short-lived role. */
    kind: z.enum(['mcp', 'http', 'postgres']).default('mcp'),
    /** `http`: how Mandate authenticates to the API (the agent never holds the credential). */
    auth: httpAuthSchema.optional(),
    /** `http`: the methods agents may use (each a tool `<name>.<METHOD>`). */
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
    /** `http`: request headers of the agent passed on besides the safe default set (never Authorization, Cookie or hop-by-hop ones). */
    forwardHeaders: z.array(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name')).default([]),
    /** `postgres`: the administrative connection (`postgres://user:${secret:name}@host:port/db`), used only to create and drop task roles. */
    connection: z.string().regex(/^postgres(ql)?:\/\//, 'a `postgres://` URL').optional(),
    /** `postgres`: the most any task may be granted (`{ "public.*": [SELECT] }`); a task declares its own grants inside it. */
    privileges: dbPrivilegesSchema.optional(),
    /** `postgres`: how many rows `<name>.query` returns at most. */
    maxRows: z.number().int().min(1).max(100_000).default(1000),
    /** stdio upstream: the command Mandate starts (and restarts if it crashes). */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    /** Environment for the command; `${NAME}` takes NAME from Mandate's environment (secrets stay out of the file). */
    env: z.record(z.string(), z.string()).default({}),
    /** Working directory of the command (default: the config file's directory). */
    cwd: z.string().optional(),
    /** Streamable-HTTP upstream. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** Headers sent upstream (e.g. its credentials); `${NAME}` expands from the environment. Never shown to agents. */
    headers: z.record(z.string(), z.string()).default({}),
    /** `session`: each agent session gets its own upstream connection (isolation, server-to-client
     *  requests relayed); `shared`: one connection for all (no sampling/elicitation/roots relay). */
    sharing: z.enum(['session', 'shared']).default('session'),
    /** Per-call timeout in seconds (default: gateway.callTimeout). */
    timeout: z.number().positive().max(3600).optional(),
    /** Largest accepted result in bytes (default: gateway.maxResultBytes). */
    maxResultBytes: z.number().int().positive().optional(),
    /** Let tool annotations (readOnlyHint …) classify tools the config leaves unclassified. */
    trustAnnotations: z.boolean().default(true),
    /** Resource arguments for every tool of this upstream that has them (`{ path: path, url: url }`);
     *  a tool's own `resources` adds to and overrides these. */
    resources: z.record(z.string(), z.enum(RESOURCE_KINDS)).default({}),
    /** Default for this upstream's tools: forward arguments their input schema does not declare (`allow`) or refuse them. */
    additionalArguments: z.enum(['allow', 'refuse']).default('refuse'),
    /** What agents see before this upstream's tool and prompt names (default `<name>.`; `<name>_` or empty for clients that want other names). */
    prefix: z.string().regex(/^[A-Za-z0-9_.-]*$/, 'a prefix uses letters, digits, `_`, `.` and `-` (or is empty)').optional(),
    tools: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'tool names use letters, digits, `_`, `.` and `-`'), toolConfigSchema).default({}),
    /** `observe`: calls of this upstream's tools that policy would deny run and are audited as would-deny (see `enforcement`). */
    mode: z.enum(['enforce', 'observe']).optional(),
    /** Default `trust` of its tools' results (`untrusted` unless set: see provenance in docs/policies.md). */
    trust: z.enum(['trusted', 'untrusted']).default('untrusted'),
  })
  .strict()
  .refine((u) => !(u.command && u.url), { message: 'an upstream has either `command` (stdio) or `url` (streamable HTTP), not both' })
  .superRefine((u, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (u.kind === 'http') {
      if (!u.url) problem('url', 'an upstream of kind `http` needs `url`: the base URL of the API');
      if (u.command) problem('command', 'an upstream of kind `http` is reached at `url`, not started with `command`');
      for (const t of Object.keys(u.tools)) if (!(HTTP_METHODS as readonly string[]).includes(t)) problem('tools', `tool ${JSON.stringify(t)} of an \`http\` upstream must be an HTTP method (${HTTP_METHODS.join(', ')})`);
    } else if (u.auth) problem('auth', '`auth` is for upstreams of kind `http` (MCP upstreams take `headers` or `env`)');
    if (u.kind === 'postgres') {
      if (!u.connection) problem('connection', 'an upstream of kind `postgres` needs `connection`: an administrative `postgres://` URL that may create roles');
      if (!u.privileges) problem('privileges', 'an upstream of kind `postgres` needs `privileges`: the most a task may be granted, e.g. `{ "public.*": [SELECT] }`');
      if (u.command || u.url) problem('connection', 'an upstream of kind `postgres` is reached with `connection`, not `command` or `url`');
      for (const t of Object.keys(u.tools)) if (t !== 'query' && t !== 'connect') problem('tools', `tool ${JSON.stringify(t)} of a \`postgres\` upstream must be \`query\` or \`connect\``);
    } else if (u.connection || u.privileges) problem('connection', '`connection` and `privileges` are for upstreams of kind `postgres`');
    if (u.kind === 'mcp' && u.methods) problem('methods', '`methods` is for upstreams of kind `http`');
  });

/** A preset task the consent page offers to a person authorizing an MCP client (`taskTemplates.<id>`). */
export const taskTemplateSchema = z
  .object({
    /** What the person reads on the consent page. */
    title: z.string().min(1).max(200),
    /** The task's intent (the person may edit it). */
    intent: z.string().min(1).max(2000),
    /** Tool grants, exactly as in `authorization_details` (names, constraints, call limits, privileges). */
    tools: z.array(z.union([z.string().min(1), z.record(z.string(), z.unknown())])).min(1).max(256),
    /** Resource patterns the task may touch. */
    resources: z.array(z.string().min(1)).max(256).default([]),
    /** The longest the person may choose, in seconds (capped by `tasks.maxTtl`). */
    ttl: z.number().int().min(60).max(86_400 * 30).default(600),
  })
  .strict();

export const oauthConfigSchema = z
  .object({
    /** Dynamic Client Registration (RFC 7591) at `/oauth/register`. */
    registration: z
      .object({
        enabled: z.boolean().default(true),
        /** Registrations accepted per source address per hour. */
        perHour: z.number().int().min(1).max(10_000).default(20),
      })
      .strict()
      .prefault({}),
    /** Client ID Metadata Documents: `https` client ids fetched from their URL. */
    clientIdMetadataDocuments: z
      .object({
        enabled: z.boolean().default(true),
        /** PEM file of extra CAs to trust when fetching them (private PKI, tests). */
        caFile: z.string().min(1).optional(),
        /** Hosts fetched over plain http (tests only; never in production). */
        allowHttpHosts: z.array(z.string()).default([]),
        /** Fetch documents from loopback and private addresses (off: anyone could make Mandate fetch internal URLs). */
        allowPrivateAddresses: z.boolean().default(false),
        /** Seconds a fetched document is used before it is fetched again. */
        cacheTtl: z.number().int().min(0).max(86_400).default(300),
      })
      .strict()
      .prefault({}),
    /** The `environment` of the identity a client gets when it acts for a person (policies see it as `principal.environment`). */
    clientEnvironment: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a short lower-case name').default('interactive'),
    /** Seconds an authorization code is valid. */
    codeTtl: z.number().int().min(10).max(600).default(60),
    /** Seconds a person stays logged in on the consent page. */
    sessionTtl: z.number().int().min(60).max(86_400).default(3600),
  })
  .strict();

/** An audit sink writing JSON Lines to a file, rotated by size (src/audit/sinks/file-sink.ts). */
export const fileSinkSchema = z
  .object({
    type: z.literal('file'),
    /** The file (relative to the config file's directory); rotated ones get `.1`, `.2`, … */
    path: z.string().min(1),
    /** Rotate once the file would grow past this many bytes. */
    maxBytes: z.number().int().min(1024).default(100 * 1024 * 1024),
    /** Files kept in all, the current one included (the oldest goes at rotation). */
    keep: z.number().int().min(2).max(10_000).default(10),
  })
  .strict();

/** An audit sink POSTing batches to a collector or SIEM (src/audit/sinks/http-sink.ts). */
export const httpSinkSchema = z
  .object({
    type: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    /** Sent with every batch; `${NAME}` from the environment, `${secret:<name>}` a named secret. */
    headers: z.record(z.string(), z.string()).default({}),
    /** `jsonl`: one event per line; `otlp`: OTLP/HTTP logs JSON. */
    format: z.enum(['jsonl', 'otlp']).default('jsonl'),
    /** Events per request. */
    batch: z.number().int().min(1).max(10_000).default(500),
    /** Seconds one request may take. */
    timeout: z.number().positive().max(300).default(10),
  })
  .strict();

export const auditSinkSchema = z.discriminatedUnion('type', [fileSinkSchema, httpSinkSchema]);

/** People sign in on the consent page through their company's OpenID Connect provider. */
export const oidcLoginSchema = z
  .object({
    /** The provider's issuer URL (its `/.well-known/openid-configuration` is read). */
    issuer: z.url({ protocol: /^https?$/ }),
    clientId: z.string().min(1),
    /** The named secret holding the client secret (`client_secret_basic`). */
    secret: z.string().min(1),
    /** What the button says (`Sign in with <name>`). */
    name: z.string().min(1).max(60).default('your company account'),
    scopes: z.string().default('openid email profile'),
    /** The ID token claim matched to a Mandate user's email. */
    emailClaim: z.string().default('email'),
    /** Refuse an email the provider does not say is verified (`email_verified`). */
    requireVerifiedEmail: z.boolean().default(true),
  })
  .strict();

export const configSchema = z
  .object({
    trustDomain: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'a lower-case DNS-style name, e.g. `corp.example`')
      .default(defaults.trustDomain),
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    server: z
      .object({
        host: z.string().default(defaults.server.host),
        port: z.number().int().min(0).max(65535).default(defaults.server.port),
        bodyLimit: z.number().int().min(1024).max(64 * 1024 * 1024).default(defaults.server.bodyLimit),
        trustProxy: z.boolean().default(defaults.server.trustProxy),
        headersTimeout: z.number().positive().max(600).default(defaults.server.headersTimeout),
        requestTimeout: z.number().positive().max(3600).default(defaults.server.requestTimeout),
        keepAliveTimeout: z.number().positive().max(600).default(defaults.server.keepAliveTimeout),
        maxRequestsPerSocket: z.number().int().min(0).default(defaults.server.maxRequestsPerSocket),
        maxConnectionsPerClient: z.number().int().min(1).default(defaults.server.maxConnectionsPerClient),
        maxConnections: z.number().int().min(1).default(defaults.server.maxConnections),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        url: z.string().min(1).optional(),
        poolSize: z.number().int().min(1).max(1000).default(defaults.store.poolSize),
        statementTimeoutMs: z.number().int().min(100).default(defaults.store.statementTimeoutMs),
        connectTimeoutMs: z.number().int().min(100).default(defaults.store.connectTimeoutMs),
        ssl: z.enum(['disable', 'require', 'verify-full']).optional(),
        sslCa: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        lowDiskMb: z.number().min(0).default(defaults.storage.lowDiskMb),
        minFreeMb: z.number().min(0).default(defaults.storage.minFreeMb),
      })
      .strict()
      .prefault({}),
    tasks: z
      .object({
        defaultTtl: z.number().int().min(1).default(defaults.tasks.defaultTtl),
        maxTtl: z.number().int().min(1).default(defaults.tasks.maxTtl),
        sweepInterval: z.number().positive().default(defaults.tasks.sweepInterval),
      })
      .strict()
      .prefault({}),
    credentials: z
      .object({
        bearerEnvironments: z.array(z.string()).default(defaults.credentials.bearerEnvironments),
        dpopMaxAge: z.number().int().min(5).max(600).default(defaults.credentials.dpopMaxAge),
        dpopNonce: z.boolean().default(defaults.credentials.dpopNonce),
        maxDelegationDepth: z.number().int().min(0).max(10).default(defaults.credentials.maxDelegationDepth),
        delegationTicketMaxAge: z.number().int().min(5).max(600).default(defaults.credentials.delegationTicketMaxAge),
      })
      .strict()
      .prefault({}),
    identity: z
      .object({
        assertionMaxAge: z.number().int().min(1).max(3600).default(defaults.identity.assertionMaxAge),
        clockSkew: z.number().int().min(0).max(300).default(defaults.identity.clockSkew),
        algorithms: z
          .array(z.enum(['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']))
          .min(1)
          .default(defaults.identity.algorithms as never),
      })
      .strict()
      .prefault({}),
    policies: z
      .object({
        dir: z.string().default(defaults.policies.dir),
        schema: z.string().default(defaults.policies.schema),
        decisionCache: z.number().int().min(0).default(defaults.policies.decisionCache),
      })
      .strict()
      .prefault({}),
    entities: z.array(z.string()).default([]),
    authzen: z
      .object({ types: z.record(z.string(), z.string()).default({}) })
      .strict()
      .prefault({}),
    upstreams: z.record(name, upstreamConfigSchema).default({}),
    secrets: z.record(name, secretSourceSchema).default({}),
    vault: vaultConfigSchema.optional(),
    gateway: z
      .object({
        /** Per-call timeout in seconds. */
        callTimeout: z.number().positive().max(3600).default(60),
        /** Largest tool result passed back to an agent, in bytes. */
        maxResultBytes: z.number().int().positive().default(4 * 1024 * 1024),
        /** Origins (scheme://host:port) browsers may call /mcp from; others are refused (DNS rebinding). */
        allowedOrigins: z.array(z.string()).default([]),
        /** Extra Host header values accepted at /mcp besides the public URL's host and loopback. */
        allowedHosts: z.array(z.string()).default([]),
        /** Close an agent session idle this long (seconds). */
        sessionIdleTimeout: z.number().positive().default(900),
        /** A `tools/call` of a tool the task never declared: `tool_error` (a readable tool result a
         *  model can adapt to) or `insufficient_scope` (HTTP 403 with `WWW-Authenticate`, per the MCP
         *  authorization spec's scope challenge, so a client can start a task that includes it). */
        outOfScope: z.enum(['tool_error', 'insufficient_scope']).default('tool_error'),
        maxSessionsPerTask: z.number().int().min(1).default(defaults.gateway.maxSessionsPerTask),
        maxSessionsPerAgent: z.number().int().min(1).default(defaults.gateway.maxSessionsPerAgent),
        maxUpstreamProcesses: z.number().int().min(1).default(defaults.gateway.maxUpstreamProcesses),
        upstreamQueueWait: z.number().min(0).max(600).default(defaults.gateway.upstreamQueueWait),
      })
      .strict()
      .prefault({}),
    approvals: approvalsConfigSchema.prefault({}),
    /** OpenTelemetry traces (token, tool call, decision, upstream spans) to an OTLP/HTTP collector. */
    tracing: z
      .object({
        enabled: z.boolean().default(false),
        /** The collector's OTLP/HTTP traces endpoint. */
        endpoint: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:4318/v1/traces'),
        /** Headers sent to the collector (`${NAME}` from the environment, e.g. an API key). */
        headers: z.record(z.string(), z.string()).default({}),
        serviceName: z.string().min(1).default('mandate'),
        /** Share of new traces kept (0–1); a trace an agent started follows the agent's sampling decision. */
        sampleRatio: z.number().min(0).max(1).default(1),
      })
      .strict()
      .prefault({}),
    /** Prometheus metrics (decisions, tool-call latency, tasks, approvals, upstreams, store errors), for a scraper. */
    metrics: z
      .object({
        enabled: z.boolean().default(true),
        /** Where they are served (not `/mcp`, `/http/…` or a path the API uses). */
        path: z
          .string()
          .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'expected an absolute path like `/metrics`')
          .refine((p) => !/^\/(mcp|http|api|access|oauth|authorize|console|healthz|readyz|favicon\.ico|\.well-known)(\/|$)/.test(p), 'this path belongs to another endpoint')
          .default('/metrics'),
        /** Bearer token a scraper must send (`${NAME}` from the environment); unset: no token asked. */
        token: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** Provenance of argument values: which values tool results showed a task, for `context.provenance` and `context.untrustedArgs`. */
    provenance: z
      .object({
        enabled: z.boolean().default(true),
        /** Values kept per task (and the tasks delegated from it). */
        maxValuesPerTask: z.number().int().min(100).max(1_000_000).default(50_000),
        /** Values taken from one tool result. */
        maxValuesPerResult: z.number().int().min(10).max(100_000).default(2_000),
      })
      .strict()
      .prefault({}),
    /** Audit streaming: sinks the log is delivered to, and signed checkpoints of its head. */
    audit: z
      .object({
        sinks: z.record(name, auditSinkSchema).default({}),
        /** A signed checkpoint of the chain head is recorded after `every` events or `interval` seconds (0: never), and at each file rotation. */
        checkpoint: z
          .object({
            every: z.number().int().min(0).default(1000),
            interval: z.number().min(0).default(3600),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Observe before enforcing: where policy's denials are only recorded. The most specific
     *  setting wins: the tool's `mode`, then its upstream's, then the agent's here, then `mode`.
     *  The task's scope, tool pinning, input schemas and `forbid`s marked `@enforce` always hold. */
    enforcement: z
      .object({
        /** Default for every call. */
        mode: z.enum(['enforce', 'observe']).default('enforce'),
        /** Per agent (its id or name). */
        agents: z.record(z.string(), z.enum(['enforce', 'observe'])).default({}),
      })
      .strict()
      .prefault({}),
    /** The standard MCP authorization flow (authorization code with PKCE) for stock MCP clients. */
    oauth: oauthConfigSchema.prefault({}),
    /** How people sign in on the consent page besides their personal token. */
    auth: z.object({ oidc: oidcLoginSchema.optional() }).strict().prefault({}),
    /** Tasks a person may choose on the consent page when an MCP client asks to act for them. */
    taskTemplates: z.record(name, taskTemplateSchema).default({}),
    logging: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Two upstreams with one prefix could offer the same name: which one would a call reach?
    const seen = new Map<string, string>();
    for (const [name, u] of Object.entries(c.upstreams)) {
      const p = prefixOf(name, u);
      const other = seen.get(p);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['upstreams', name, 'prefix'], message: `upstreams \`${other}\` and \`${name}\` both name their tools with the prefix ${JSON.stringify(p)}: give one of them its own \`prefix\`` });
      seen.set(p, name);
    }
  });

/** The prefix of an upstream's tool and prompt names as agents see them: `prefix`, or `<name>.`. */
export function prefixOf(name: string, u: { prefix?: string | undefined }): string {
  return u.prefix ?? `${name}.`;
}

export type MandateConfigFile = z.infer<typeof configSchema>;
export type ToolConfig = z.infer<typeof toolConfigSchema>;
export type ApprovalsConfig = z.infer<typeof approvalsConfigSchema>;
export type UpstreamConfig = z.infer<typeof upstreamConfigSchema>;
export type TaskTemplate = z.infer<typeof taskTemplateSchema>;
export type OAuthConfig = z.infer<typeof oauthConfigSchema>;
export type AuditSinkConfig = z.infer<typeof auditSinkSchema>;
