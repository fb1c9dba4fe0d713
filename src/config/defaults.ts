// Every configuration key with its default and a one-line reason. `mandate.yaml` overrides
// these; paths are relative to the directory of the config file.

export const defaults = {
  /** SPIFFE trust domain agents are named in: `spiffe://<trustDomain>/agent/<name>`. */
  trustDomain: 'mandate.local',
  /** Base URL agents and enforcement points use to reach Mandate; issuer and audiences derive from it.
   *  Default: `http://127.0.0.1:<port>`. */
  publicUrl: undefined as string | undefined,
  server: {
    /** Loopback by default: exposing Mandate is a deliberate act. */
    host: '127.0.0.1',
    port: 7070,
    /** Largest accepted request body in bytes. */
    bodyLimit: 1_048_576,
    /** Trust X-Forwarded-* headers (only behind a proxy you control). */
    trustProxy: false,
    /** Seconds a client has to send a request's headers (slow-header clients are cut off). */
    headersTimeout: 10,
    /** Seconds a client has to send a whole request, body included (slow-body clients are cut off). */
    requestTimeout: 30,
    /** Seconds an idle keep-alive connection stays open. */
    keepAliveTimeout: 5,
    /** Requests served on one connection before it is closed (0: no limit). */
    maxRequestsPerSocket: 1000,
    /** Open connections accepted from one client address; more are refused at once. */
    maxConnectionsPerClient: 128,
    /** Open connections accepted in all. */
    maxConnections: 4096,
  },
  store: {
    /** The database: unset for the embedded SQLite file in the data directory; `postgres://user@host:5432/db` for
     *  PostgreSQL (several replicas share it). `${VAR}` is taken from the environment; `MANDATE_DATABASE_URL` overrides. */
    url: undefined as string | undefined,
    /** PostgreSQL connections each replica keeps open. */
    poolSize: 10,
    /** Milliseconds one statement may run (a locked or stalled database fails fast, and the call is refused). */
    statementTimeoutMs: 5000,
    /** Milliseconds to wait for a connection to PostgreSQL. */
    connectTimeoutMs: 5000,
    /** TLS to PostgreSQL: `disable`, `require` (encrypted) or `verify-full` (encrypted, certificate and host checked). Unset: as the URL says. */
    ssl: undefined as 'disable' | 'require' | 'verify-full' | undefined,
    /** CA certificate (PEM file) that signs PostgreSQL's certificate, for `verify-full` with a private CA. */
    sslCa: undefined as string | undefined,
  },
  storage: {
    /** Warn in the log (and in /readyz) when the data volume has less free space than this, in MB. */
    lowDiskMb: 256,
    /** Not ready (/readyz 503) when the data volume has less free space than this, in MB: writes are about to fail. */
    minFreeMb: 8,
  },
  tasks: {
    /** TTL in seconds when a task does not ask for one. */
    defaultTtl: 600,
    /** Hard cap on a task's TTL in seconds: credentials live minutes, not hours. */
    maxTtl: 600,
    /** Seconds between sweeps that expire tasks and prune replay and revocation entries. */
    sweepInterval: 1,
  },
  credentials: {
    /** Environments whose agents may hold unbound (Bearer) credentials; every other environment
     *  (prod by default) must bind its credentials to a key with DPoP (RFC 9449). */
    bearerEnvironments: ['dev', 'test', 'staging'] as string[],
    /** Seconds a DPoP proof's `iat` may be away from now. */
    dpopMaxAge: 60,
    /** Require server nonces in DPoP proofs (`DPoP-Nonce`), which bounds pre-generated proofs. */
    dpopNonce: false,
    /** How deep delegation chains may go (a task an agent started itself has depth 0). */
    maxDelegationDepth: 3,
    /** Longest accepted lifetime of a delegation ticket (child → parent, single use), in seconds. */
    delegationTicketMaxAge: 120,
  },
  identity: {
    /** Longest accepted lifetime of a client assertion (exp - iat), in seconds (RFC 7523 asks for short). */
    assertionMaxAge: 300,
    /** Tolerated clock difference with agents, in seconds. */
    clockSkew: 30,
    /** Signature algorithms accepted for client assertions: asymmetric only, never `none` or HMAC. */
    algorithms: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as string[],
  },
  policies: {
    /** Directory of `*.cedar` policy files. */
    dir: './policies',
    /** Cedar schema (human format) the policies are validated against; tool actions are generated on top. */
    schema: './policies/mandate.cedarschema',
    /** Decision cache entries (a decision is a pure function of policy version and inputs); 0 disables. */
    decisionCache: 10_000,
  },
  /** Cedar JSON entity files (users, roles, groups …) the PDP reads attributes and parents from. */
  entities: [] as string[],
  authzen: {
    /** AuthZEN subject/resource type → Cedar entity type, where the default (same name, or the schema
     *  type matching case-insensitively) is not right. */
    types: {} as Record<string, string>,
  },
  /** Upstreams (MCP servers over stdio or streamable HTTP) and per-tool risk class, data
   *  classification and resource arguments. Keys: description, command, args, env, cwd, url,
   *  headers, sharing (session|shared), timeout, maxResultBytes, trustAnnotations, tools. */
  upstreams: {} as Record<string, unknown>,
  gateway: {
    /** Per-call timeout in seconds: a hung upstream returns an error, never blocks. */
    callTimeout: 60,
    /** Largest tool result passed back to an agent, in bytes. */
    maxResultBytes: 4 * 1024 * 1024,
    /** Browser origins allowed to call /mcp (DNS-rebinding protection refuses the rest). */
    allowedOrigins: [] as string[],
    /** Extra Host values accepted at /mcp besides the public URL's host and loopback. */
    allowedHosts: [] as string[],
    /** Seconds after which an idle agent session is closed (its upstream connections too). */
    sessionIdleTimeout: 900,
    /** Open MCP sessions one task may have at once. */
    maxSessionsPerTask: 16,
    /** Open MCP sessions all of one agent's tasks may have at once. */
    maxSessionsPerAgent: 64,
    /** Upstream processes (stdio, `sharing: session`) running at once across all sessions; a
     *  session that needs one more waits in a queue for up to `upstreamQueueWait` seconds. */
    maxUpstreamProcesses: 64,
    /** Seconds a call waits for an upstream process slot before it fails with a clear error. */
    upstreamQueueWait: 10,
  },
  logging: {
    /** pino level: fatal, error, warn, info, debug, trace, silent. */
    level: 'info',
  },
};
