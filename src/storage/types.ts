// The records Mandate keeps and the narrow async stores that keep them. Services take the
// narrowest store they need; SQLite and PostgreSQL implement all of them (see conformance.ts).

/** The `prevHash` of the first audit event. */
export const GENESIS_HASH = '0'.repeat(64);

export type AgentStatus = 'active' | 'suspended' | 'retired';
export type TaskStatus = 'pending_approval' | 'active' | 'completed' | 'failed' | 'expired' | 'revoked';
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'expired', 'revoked'];

export interface PublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  [k: string]: unknown;
}

export interface Agent {
  /** `spiffe://<trust-domain>/agent/<name>` */
  id: string;
  name: string;
  owner: string;
  purpose: string;
  environment: string;
  status: AgentStatus;
  /** ISO date (YYYY-MM-DD) by which the owner must review the agent, or null. */
  reviewBy: string | null;
  jwks: { keys: PublicJwk[] };
  labels: string[];
  createdAt: number;
  updatedAt: number;
}

export type AgentPatch = Partial<Pick<Agent, 'status' | 'owner' | 'purpose' | 'environment' | 'reviewBy' | 'jwks' | 'labels'>>;

/** Argument constraint on one tool argument, as declared in a task's scope. */
export interface ArgConstraint {
  eq?: string | number | boolean;
  in?: Array<string | number | boolean>;
  like?: string;
  min?: number;
  max?: number;
  /** The argument must not be given. */
  absent?: true;
}

export interface ToolGrant {
  name: string;
  constraints?: Record<string, ArgConstraint>;
  max_calls?: number;
  /** A database tool (`<upstream>.query`/`.connect`): what the task's own role is granted (`{ "public.orders": ["SELECT"] }`). */
  privileges?: Record<string, Array<'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE'>>;
}

/** The granted scope of a task (`authorization_details` of type `mandate_task`). */
export interface TaskScope {
  tools: ToolGrant[];
  resources: string[];
}

export interface Task {
  id: string;
  agentId: string;
  parentId: string | null;
  depth: number;
  intent: string;
  scope: TaskScope;
  status: TaskStatus;
  /** Data classifications the task has read (taint). */
  labels: string[];
  createdAt: number;
  expiresAt: number;
  endedAt: number | null;
  endReason: string | null;
  /** The decision that started the task. */
  decisionId: string | null;
  /** An emergency task approved by several people: lifts default deny and approval gates, never delegates. */
  breakGlass?: boolean;
  /**
   * A delegated task's chain, this task's agent first, then each agent it acts for back to the
   * one that started the root task. Absent for a task an agent started itself. Every credential
   * of the task carries it (RFC 8693 `act`), whoever asks for the credential.
   */
  chain?: ChainLink[];
  /** How many amendments widened the task; credentials issued before the last one are refused. */
  scopeVersion?: number;
}

/** One agent in a delegation chain, with the task it held. */
export interface ChainLink {
  agent: string;
  task: string;
}

/** One task's share of a call: its budget for the tool (null: no limit, only counted). */
export interface CallCharge {
  taskId: string;
  limit: number | null;
}

/** What consuming a call did: the new count of each task, or which task's budget was spent. */
export type CallConsumption = { ok: true; used: number[] } | { ok: false; exhausted: string; limit: number };

export interface TaskFilter {
  agentId?: string;
  status?: TaskStatus;
  parentId?: string;
  limit?: number;
}

export interface Revocation {
  taskId: string;
  revokedAt: number;
  /** After this instant no credential of the task can be valid anyway; the row may be pruned. */
  expiresAt: number;
  reason: string;
}

export interface AuditEventInput {
  id: string;
  ts: number;
  type: string;
  /** Who caused the event: an agent id, `admin`, `token:<name>`, `system`. */
  actor: string;
  agentId: string | null;
  taskId: string | null;
  decision: string | null;
  outcome: string | null;
  data: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  afterSeq?: number;
  /** Events with a smaller seq (paging newest first). */
  beforeSeq?: number;
  /** Newest first when true (for `tail`). */
  newestFirst?: boolean;
  limit?: number;
  taskId?: string;
  agentId?: string;
  type?: string;
  /** `allow`, `deny`, `approval_required`… */
  decision?: string;
  /** Events at or after this instant (ms). */
  since?: number;
  /** Events before this instant (ms). */
  until?: number;
}

/** Computes an event's hash from the previous hash; owned by the audit module. */
export type ChainHasher = (prevHash: string, event: Omit<AuditEvent, 'hash'>) => string;

export interface PolicyVersion {
  version: number;
  hash: string;
  createdAt: number;
  source: string;
  files: Array<{ path: string; sha256: string; text: string }>;
}

export type ApiTokenRole = 'admin' | 'pep';

export interface ApiToken {
  id: string;
  name: string;
  role: ApiTokenRole;
  tokenHash: string;
  createdAt: number;
  revokedAt: number | null;
}

/** The pinned definition of one upstream tool. */
export interface ToolPin {
  upstream: string;
  /** The tool's name at the upstream (not namespaced). */
  tool: string;
  /** Hash of the definition an admin accepted (or first seen); null for a tool never accepted. */
  acceptedHash: string | null;
  acceptedDefinition: Record<string, unknown> | null;
  /** A changed or new definition waiting for acceptance. */
  pendingHash: string | null;
  pendingDefinition: Record<string, unknown> | null;
  firstSeen: number;
  updatedAt: number;
}

export interface ToolPinStore {
  listToolPins(upstream?: string): Promise<ToolPin[]>;
  /** Inserts or replaces the pin of (upstream, tool). */
  putToolPin(pin: ToolPin): Promise<void>;
  /**
   * First sight of an upstream: records all its pins at once, only if it has none yet (another
   * replica may be doing the same). True if these were recorded; false if pins already existed.
   */
  seedToolPins(upstream: string, pins: ToolPin[]): Promise<boolean>;
}

/** An MCP session as `initialize` opened it: enough for another replica to take it over. */
export interface McpSessionRecord {
  id: string;
  taskId: string;
  agentId: string;
  /** The `initialize` request's params (protocol version, client capabilities and info). */
  init: Record<string, unknown>;
  createdAt: number;
}

export interface McpSessionStore {
  putMcpSession(s: McpSessionRecord): Promise<void>;
  getMcpSession(id: string): Promise<McpSessionRecord | null>;
  deleteMcpSession(id: string): Promise<void>;
  /** Forgets the sessions of ended tasks, and any older than `before`. Returns how many. */
  pruneMcpSessions(before: number): Promise<number>;
}

/** A client registered for the authorization-code flow: by Dynamic Client Registration (RFC 7591) or a Client ID Metadata Document (its https URL is the id). */
export interface OAuthClient {
  id: string;
  kind: 'dcr' | 'cimd';
  name: string;
  redirectUris: string[];
  /** The registered (or fetched) metadata, validated. */
  metadata: Record<string, unknown>;
  createdAt: number;
  /** Who registered it (`ip:<address>` for DCR; null for CIMD). */
  createdBy: string | null;
  revokedAt: number | null;
  /** CIMD: when the document was last fetched. */
  fetchedAt: number | null;
}

/** A one-time authorization code (stored by its SHA-256, never in clear). */
export interface AuthorizationCode {
  codeHash: string;
  clientId: string;
  redirectUri: string;
  /** PKCE S256 challenge. */
  codeChallenge: string;
  /** RFC 8707 resource the token will be for. */
  resource: string;
  taskId: string;
  userId: string;
  /** DPoP key thumbprint the code is bound to (RFC 9449 §10, `dpop_jkt`), if any. */
  jkt: string | null;
  expiresAt: number;
  usedAt: number | null;
}

/** A refresh token (by its SHA-256): single use, rotated; one family per grant. */
export interface RefreshToken {
  tokenHash: string;
  family: string;
  taskId: string;
  clientId: string;
  jkt: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** The authorization-code flow (MCP authorization): clients, one-time codes, rotated refresh tokens. */
export interface OAuthStore {
  /**
   * Inserts a client, or replaces one with the same id (a re-fetched CIMD document); keeps
   * createdAt and createdBy of an existing row, and its revocation (a re-fetch never un-revokes).
   */
  putOAuthClient(c: OAuthClient): Promise<void>;
  getOAuthClient(id: string): Promise<OAuthClient | null>;
  /** Newest first; revoked clients only with `includeRevoked`. */
  listOAuthClients(q?: { kind?: 'dcr' | 'cimd'; includeRevoked?: boolean; limit?: number }): Promise<OAuthClient[]>;
  /** Marks it revoked (idempotent: keeps the first time). Returns false if unknown. */
  revokeOAuthClient(id: string, at: number): Promise<boolean>;
  /** How many clients `createdBy` registered since `since` (for rate limiting registration). */
  countOAuthClientsSince(createdBy: string, since: number): Promise<number>;
  /** Throws ConflictError for a hash already stored. */
  putAuthorizationCode(c: AuthorizationCode): Promise<void>;
  /**
   * Uses a code, atomically (two concurrent exchanges on two replicas: exactly one wins): returns it
   * if it was unused and unexpired at `now` (now marked used); `{ reused }` (the record) if it had been used before
   * (the caller must revoke what was issued from it, OAuth 2.1 §4.1.3; also after its expiry,
   * until it is pruned); null if unknown or expired.
   */
  consumeAuthorizationCode(codeHash: string, now: number): Promise<AuthorizationCode | { reused: AuthorizationCode } | null>;
  /** Throws ConflictError for a hash already stored. */
  putRefreshToken(t: RefreshToken): Promise<void>;
  /**
   * Uses a refresh token, atomically: returns it if it was unused and unexpired (now marked used);
   * `{ reused }` (the record) if it had been used already (replay of a rotated token: the caller revokes the family
   * and its task; also after its expiry, until it is pruned); null if unknown or expired.
   */
  useRefreshToken(tokenHash: string, now: number): Promise<RefreshToken | { reused: RefreshToken } | null>;
  /** Marks every unused token of a family used (after a replay). Returns how many. */
  revokeRefreshFamily(family: string, now: number): Promise<number>;
  /** Deletes codes and refresh tokens expired before `before`. Returns how many rows went. */
  pruneOAuth(before: number): Promise<number>;
}

/** Where a value a task was shown came from (bits). */
export const VALUE_UNTRUSTED = 1;
export const VALUE_TRUSTED = 2;

export interface TaskValueBatch {
  taskId: string;
  keys: string[];
  source: number;
  origin: string;
  cap: number;
}

/** Provenance: keyed hashes of the values tool results showed a task (see src/provenance). */
export interface TaskValueStore {
  /**
   * Records values shown to a task (`origin`: the call that showed them), adding `source` to
   * values already there; at most `cap` values per task (the rest are not recorded). Returns how
   * many are new.
   */
  addTaskValues(taskId: string, keys: string[], source: number, origin: string, cap: number): Promise<number>;
  /**
   * Several `addTaskValues` at once, in order (SQLite: one transaction; PostgreSQL: one statement
   * each): the results of calls answered in the same tick are recorded together. Returns each one's count.
   */
  addTaskValuesMany(batch: TaskValueBatch[]): Promise<number[]>;
  /** The sources and first origin of those of `keys` the task was shown. */
  taskValues(taskId: string, keys: string[]): Promise<Map<string, { sources: number; origin: string }>>;
  /** Drops the values of tasks that are over (ended, revoked, expired). Returns how many rows went. */
  pruneTaskValues(): Promise<number>;
}

export type UserStatus = 'active' | 'disabled';

/** A person who approves (and may use the CLI): authenticated by a personal token, stored hashed. */
export interface User {
  id: string;
  name: string;
  email: string;
  roles: string[];
  status: UserStatus;
  tokenHash: string;
  createdAt: number;
  updatedAt: number;
}

export type ApprovalKind = 'tool_call' | 'task_start' | 'breakglass' | 'authzen' | 'task_amend';
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used';

export interface ApprovalDecision {
  /** `user:<email>` */
  by: string;
  decision: 'approve' | 'deny';
  at: number;
  reason: string | null;
}

/** A human's yes or no to one exact action, identified by its action hash. */
export interface Approval {
  id: string;
  kind: ApprovalKind;
  /** SHA-256 over the canonical action (task, agent, tool, arguments, policy version). */
  actionHash: string;
  status: ApprovalStatus;
  taskId: string | null;
  agentId: string;
  /** Who asked: the agent for a call or task start, `user:<email>` for break-glass. */
  requester: string;
  tool: string | null;
  /** The arguments as shown to approvers (sensitive fields redacted). */
  args: unknown;
  intent: string;
  reason: string;
  policyIds: string[];
  policyVersion: string;
  /** Who may approve: `owner`, `role:<name>`. */
  approvers: string[];
  quorum: number;
  decisions: ApprovalDecision[];
  data: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  usedAt: number | null;
  endReason: string | null;
}

export interface ApprovalFilter {
  status?: ApprovalStatus;
  taskId?: string;
  kind?: ApprovalKind;
  limit?: number;
}

/** What became of a decision: the approval afterwards, or why it was refused. */
export type ApprovalDecisionResult = { ok: true; approval: Approval } | { ok: false; approval: Approval | null; problem: 'not_found' | 'not_pending' | 'expired' | 'already_decided' };

export interface UserStore {
  insertUser(u: User): Promise<void>;
  getUser(idOrEmail: string): Promise<User | null>;
  findUserByTokenHash(hash: string): Promise<User | null>;
  listUsers(): Promise<User[]>;
  updateUser(id: string, patch: Partial<Pick<User, 'roles' | 'status' | 'tokenHash' | 'name'>>, now: number): Promise<User>;
}

export interface ApprovalStore {
  insertApproval(a: Approval): Promise<void>;
  getApproval(id: string): Promise<Approval | null>;
  listApprovals(filter?: ApprovalFilter): Promise<Approval[]>;
  /** The live (pending or approved, unexpired) approval for an action hash, if any. */
  findLiveApproval(actionHash: string, now: number): Promise<Approval | null>;
  /**
   * Records one person's decision atomically: only on a pending, unexpired approval, once per
   * person. A deny settles it as denied; enough distinct approvals settle it as approved.
   */
  decideApproval(id: string, d: ApprovalDecision, now: number): Promise<ApprovalDecisionResult>;
  /** approved → used, atomically, only for the same action hash and before expiry; false otherwise. */
  consumeApproval(id: string, actionHash: string, now: number): Promise<boolean>;
  /** Pending or approved approvals past their expiry become expired; returns them. */
  expireApprovals(now: number): Promise<Approval[]>;
  /** Voids live approvals made under another policy version; returns them. */
  voidApprovalsNotOf(policyVersion: string, now: number): Promise<Approval[]>;
  /** How many approvals are pending and unexpired at `now` (the `mandate_approvals_pending` gauge). */
  countPendingApprovals(now: number): Promise<number>;
}

export interface AgentStore {
  insertAgent(agent: Agent): Promise<void>;
  getAgent(id: string): Promise<Agent | null>;
  listAgents(filter?: { status?: AgentStatus; owner?: string }): Promise<Agent[]>;
  updateAgent(id: string, patch: AgentPatch, now: number): Promise<Agent>;
}

export interface TaskStore {
  insertTask(task: Task): Promise<void>;
  getTask(id: string): Promise<Task | null>;
  listTasks(filter?: TaskFilter): Promise<Task[]>;
  /** Moves a task from one of `from` to `to`; null (and no change) if it was not in `from`. */
  transitionTask(id: string, from: readonly TaskStatus[], to: TaskStatus, at: number, reason: string): Promise<Task | null>;
  /** Active or pending tasks whose expiry has passed. */
  listExpiredTasks(now: number, limit: number): Promise<Task[]>;
  /** Adds taint labels (set union); returns the task's labels afterwards. */
  addTaskLabels(id: string, labels: string[]): Promise<string[]>;
  /** pending_approval → active with a fresh expiry (the TTL runs from approval); null if it was not pending. */
  activateTask(id: string, expiresAt: number): Promise<Task | null>;
  /** Replaces an active task's scope, only if it is still `before` (an approved amendment, applied once). */
  amendTaskScope(id: string, before: TaskScope, after: TaskScope): Promise<Task | null>;
  /** How many tasks are active and unexpired at `now` (the `mandate_active_tasks` gauge). */
  countActiveTasks(now: number): Promise<number>;
}

/**
 * Call budgets (`max_calls`), consumed atomically before a call is forwarded. A delegated task's
 * call is charged to the task and every ancestor, so a task and all its descendants together
 * never spend more than its grant.
 */
export interface CallBudgetStore {
  /**
   * Charges one call of `tool` to each task of `charges` (the calling task first), all or none:
   * if any task with a limit has already used it up, nothing changes.
   */
  consumeCall(tool: string, charges: CallCharge[]): Promise<CallConsumption>;
  /** Calls used per tool by a task and its descendants. */
  callCounts(taskId: string): Promise<Record<string, number>>;
}

export interface RevocationStore {
  insertRevocation(r: Revocation): Promise<void>;
  listRevocations(now: number): Promise<Revocation[]>;
  pruneRevocations(now: number): Promise<number>;
}

export interface ReplayUse {
  key: string;
  expiresAt: number;
  now: number;
}

export interface ReplayStore {
  /** Records `key` until `expiresAt`; false if it was already recorded and unexpired. */
  useOnce(key: string, expiresAt: number, now: number): Promise<boolean>;
  /**
   * Several `useOnce` in order (SQLite: one transaction), as if made one after another: a key
   * twice in one batch is taken by its first use only. Returns each one's answer.
   */
  useOnceMany(uses: ReplayUse[]): Promise<boolean[]>;
  pruneReplay(now: number): Promise<number>;
}

export interface AuditStore {
  /** Appends events atomically, chaining each to the current head. */
  appendAudit(events: AuditEventInput[], hasher: ChainHasher): Promise<AuditEvent[]>;
  listAudit(query?: AuditQuery): Promise<AuditEvent[]>;
  auditHead(): Promise<{ seq: number; hash: string } | null>;
}

/** Where one audit sink has delivered up to, and which process delivers it (src/audit/sinks). */
export interface AuditSinkState {
  name: string;
  /** The seq of the last event delivered (0: none yet). */
  cursor: number;
  /** The process that holds (or last held) the lease, or null. */
  holder: string | null;
  /** The lease runs until then (ms); 0 once released. */
  leaseUntil: number;
  lastError: string | null;
  errorAt: number | null;
  /** When the cursor last moved. */
  deliveredAt: number | null;
  createdAt: number;
}

/** Durable cursors of the audit sinks, each with a lease so that one process delivers a sink at a time. */
export interface AuditSinkStore {
  /**
   * Takes or renews the lease of sink `name` for `holder` until `until`, in one conditional
   * statement: only if the lease is free, expired at `now`, or `holder`'s already (a new sink
   * starts at cursor 0). The state if `holder` now holds it; null if another process does.
   */
  leaseAuditSink(name: string, holder: string, now: number, until: number): Promise<AuditSinkState | null>;
  /** Moves the cursor from `from` to `to` (and clears the last error), only if `holder` holds the lease and the cursor is still `from`. */
  advanceAuditSink(name: string, holder: string, from: number, to: number, now: number): Promise<boolean>;
  /** Records why the last delivery failed (while `holder` holds the lease). */
  noteAuditSinkError(name: string, holder: string, error: string, now: number): Promise<void>;
  /** Gives the lease up, so another process may take it at once. */
  releaseAuditSink(name: string, holder: string): Promise<void>;
  /** Every sink's state, by name. */
  listAuditSinks(): Promise<AuditSinkState[]>;
}

export interface PolicyStore {
  insertPolicyVersion(v: PolicyVersion): Promise<void>;
  latestPolicyVersion(): Promise<PolicyVersion | null>;
  getPolicyVersion(version: number): Promise<PolicyVersion | null>;
}

export interface ApiTokenStore {
  insertApiToken(t: ApiToken): Promise<void>;
  findApiTokenByHash(hash: string): Promise<ApiToken | null>;
  listApiTokens(): Promise<ApiToken[]>;
  revokeApiToken(id: string, at: number): Promise<ApiToken>;
}

export interface Store
  extends AgentStore,
    TaskStore,
    CallBudgetStore,
    RevocationStore,
    ReplayStore,
    AuditStore,
    PolicyStore,
    ApiTokenStore,
    ToolPinStore,
    UserStore,
    ApprovalStore,
    McpSessionStore,
    TaskValueStore,
    OAuthStore,
    AuditSinkStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** Why the store must not be used to decide anything (corrupted, deleted or replaced under us), or null. */
  readonly trust: { untrusted: string | null };
  ping(): Promise<void>;
  /** Readiness: trusted, and a write commits. Throws `StorageUnavailableError` naming cause and fix. */
  probe(now: number): Promise<void>;
  /** Free space where the data lives, in bytes (null when not applicable). */
  freeBytes(): Promise<number | null>;
  /** Housekeeping of the write-ahead log (a no-op where there is none). */
  checkpoint(): Promise<void>;
  close(): Promise<void>;
  /** Told the method name of every operation refused as unavailable (`mandate_store_errors_total`); null: nobody listens. */
  onUnavailable: ((op: string) => void) | null;
}
