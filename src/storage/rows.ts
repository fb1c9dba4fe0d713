// Rows as both stores read them back (same columns, JSON kept as text) into records.

import type {
  Agent,
  AgentStatus,
  ApiToken,
  Approval,
  ApprovalKind,
  ApprovalStatus,
  AuditEvent,
  AuthorizationCode,
  OAuthClient,
  PolicyVersion,
  RefreshToken,
  Task,
  TaskStatus,
  ToolPin,
  User,
  UserStatus,
} from './types.js';

export type Row = Record<string, unknown>;

export const agentFromRow = (r: Row): Agent => ({
  id: r.id as string,
  name: r.name as string,
  owner: r.owner as string,
  purpose: r.purpose as string,
  environment: r.environment as string,
  status: r.status as AgentStatus,
  reviewBy: (r.review_by as string | null) ?? null,
  jwks: JSON.parse(r.jwks as string),
  labels: JSON.parse(r.labels as string),
  createdAt: r.created_at as number,
  updatedAt: r.updated_at as number,
});

export const taskFromRow = (r: Row): Task => ({
  id: r.id as string,
  agentId: r.agent_id as string,
  parentId: (r.parent_id as string | null) ?? null,
  depth: r.depth as number,
  intent: r.intent as string,
  scope: JSON.parse(r.scope as string),
  status: r.status as TaskStatus,
  labels: JSON.parse(r.labels as string),
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  endedAt: (r.ended_at as number | null) ?? null,
  endReason: (r.end_reason as string | null) ?? null,
  decisionId: (r.decision_id as string | null) ?? null,
  ...(r.break_glass ? { breakGlass: true } : {}),
  ...(r.chain ? { chain: JSON.parse(r.chain as string) } : {}),
  ...(r.scope_version ? { scopeVersion: Number(r.scope_version) } : {}),
});

export const userFromRow = (r: Row): User => ({
  id: r.id as string,
  name: r.name as string,
  email: r.email as string,
  roles: JSON.parse(r.roles as string),
  status: r.status as UserStatus,
  tokenHash: r.token_hash as string,
  createdAt: r.created_at as number,
  updatedAt: r.updated_at as number,
});

export const approvalFromRow = (r: Row): Approval => ({
  id: r.id as string,
  kind: r.kind as ApprovalKind,
  actionHash: r.action_hash as string,
  status: r.status as ApprovalStatus,
  taskId: (r.task_id as string | null) ?? null,
  agentId: r.agent_id as string,
  requester: r.requester as string,
  tool: (r.tool as string | null) ?? null,
  args: JSON.parse(r.args as string),
  intent: r.intent as string,
  reason: r.reason as string,
  policyIds: JSON.parse(r.policy_ids as string),
  policyVersion: r.policy_version as string,
  approvers: JSON.parse(r.approvers as string),
  quorum: r.quorum as number,
  decisions: JSON.parse(r.decisions as string),
  data: JSON.parse(r.data as string),
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  decidedAt: (r.decided_at as number | null) ?? null,
  usedAt: (r.used_at as number | null) ?? null,
  endReason: (r.end_reason as string | null) ?? null,
});

export const auditFromRow = (r: Row): AuditEvent => ({
  seq: r.seq as number,
  id: r.id as string,
  ts: r.ts as number,
  type: r.type as string,
  actor: r.actor as string,
  agentId: (r.agent_id as string | null) ?? null,
  taskId: (r.task_id as string | null) ?? null,
  decision: (r.decision as string | null) ?? null,
  outcome: (r.outcome as string | null) ?? null,
  data: JSON.parse(r.data as string),
  prevHash: r.prev_hash as string,
  hash: r.hash as string,
});

export const tokenFromRow = (r: Row): ApiToken => ({
  id: r.id as string,
  name: r.name as string,
  role: r.role as ApiToken['role'],
  tokenHash: r.token_hash as string,
  createdAt: r.created_at as number,
  revokedAt: (r.revoked_at as number | null) ?? null,
});

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.parse(v as string));

export const pinFromRow = (r: Row): ToolPin => ({
  upstream: r.upstream as string,
  tool: r.tool as string,
  acceptedHash: (r.accepted_hash as string | null) ?? null,
  acceptedDefinition: json(r.accepted_definition),
  pendingHash: (r.pending_hash as string | null) ?? null,
  pendingDefinition: json(r.pending_definition),
  firstSeen: r.first_seen as number,
  updatedAt: r.updated_at as number,
});

export const policyFromRow = (r: Row): PolicyVersion => ({
  version: r.version as number,
  hash: r.hash as string,
  createdAt: r.created_at as number,
  source: r.source as string,
  files: JSON.parse(r.files as string),
});

export const oauthClientFromRow = (r: Row): OAuthClient => ({
  id: r.id as string,
  kind: r.kind as OAuthClient['kind'],
  name: r.name as string,
  redirectUris: JSON.parse(r.redirect_uris as string),
  metadata: JSON.parse(r.metadata as string),
  createdAt: r.created_at as number,
  createdBy: (r.created_by as string | null) ?? null,
  revokedAt: (r.revoked_at as number | null) ?? null,
  fetchedAt: (r.fetched_at as number | null) ?? null,
});

export const authorizationCodeFromRow = (r: Row): AuthorizationCode => ({
  codeHash: r.code_hash as string,
  clientId: r.client_id as string,
  redirectUri: r.redirect_uri as string,
  codeChallenge: r.code_challenge as string,
  resource: r.resource as string,
  taskId: r.task_id as string,
  userId: r.user_id as string,
  jkt: (r.jkt as string | null) ?? null,
  expiresAt: r.expires_at as number,
  usedAt: (r.used_at as number | null) ?? null,
});

export const refreshTokenFromRow = (r: Row): RefreshToken => ({
  tokenHash: r.token_hash as string,
  family: r.family as string,
  taskId: r.task_id as string,
  clientId: r.client_id as string,
  jkt: (r.jkt as string | null) ?? null,
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  usedAt: (r.used_at as number | null) ?? null,
});
