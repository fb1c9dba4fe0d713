// The AuthZEN Authorization API 1.0 PDP: enforcement points outside Mandate ask the same Cedar
// policies. Generic mapping (type → entity type, id → id, properties → attributes, enriched from
// the agent registry, the tool catalogue and static entity files), plus the COAZ-MCP default
// mappings (`tools/call` on a `tool`, `resources/read` on a `resource` …) for MCP gateways.

import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.js';
import type { Clock } from '../core/clock.js';
import { evaluationContext, type AccessRequests } from './access-request.js';
import { MandateError, q } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { ToolLookup } from '../core/tool.js';
import type { CallAuthorizer } from '../gateway/authorize.js';
import { ArgTypeError, jsonToCedar } from '../policy/arg-types.js';
import { jsonBoundsProblem } from '../core/json-bounds.js';
import type { CedarValueJson, EntityJson } from '../policy/cedar.js';
import type { Decision } from '../policy/engine.js';
import type { EntityStore } from '../policy/entity-store.js';
import { agentEntity, toolEntity } from '../policy/mandate-entities.js';
import type { PolicyService } from '../policy/policy-service.js';
import type { Agent, AgentStore, Task, TaskStore } from '../storage/types.js';
import type { RevocationList } from '../tasks/revocation.js';
import type { Metrics, ReasonClass } from '../observability/metrics.js';

const props = z.record(z.string(), z.unknown());
const entity = z.object({ type: z.string().min(1).max(256), id: z.string().min(1).max(4096), properties: props.optional() });
const action = z.object({ name: z.string().min(1).max(256), properties: props.optional() });

export const evaluationRequestSchema = z.object({
  subject: entity,
  action,
  resource: entity,
  context: props.optional(),
});
export type EvaluationRequest = z.infer<typeof evaluationRequestSchema>;

export const SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;

export const evaluationsRequestSchema = z.object({
  subject: entity.optional(),
  action: action.optional(),
  resource: entity.optional(),
  context: props.optional(),
  evaluations: z
    .array(
      z.object({
        subject: entity.optional(),
        action: action.optional(),
        resource: entity.optional(),
        context: props.optional(),
      }),
    )
    .max(1000, 'at most 1000 evaluations per request')
    .optional(),
  options: z.object({ evaluations_semantic: z.enum(SEMANTICS).optional() }).loose().optional(),
});
export type EvaluationsRequest = z.infer<typeof evaluationsRequestSchema>;

export interface AuthzenDecision {
  decision: boolean;
  context: Record<string, unknown>;
}

/** MCP methods of the COAZ-MCP default mapping. */
const MCP_LISTING = new Set(['initialize', 'tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'logging/setLevel', 'completion/complete', 'tasks/list']);
const MCP_ACTIONS = new Set([...MCP_LISTING, 'tools/call', 'resources/read', 'resources/subscribe', 'resources/unsubscribe', 'prompts/get']);
const AGENT_SUBJECT_TYPES = new Set(['identity', 'agent', 'workload']);

const CEDAR_IDENT = /^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$/;

export interface PdpDeps {
  policy: PolicyService;
  entities: EntityStore;
  agents: Pick<AgentStore, 'getAgent'>;
  tasks: Pick<TaskStore, 'getTask'>;
  revocations: RevocationList;
  tools: ToolLookup;
  authorizer: CallAuthorizer;
  audit: AuditLog;
  clock: Clock;
  /** AuthZEN type → Cedar entity type overrides. */
  types: Record<string, string>;
  /** The Access Request profile (requestable denials, re-evaluation with an approval). */
  accessRequests?: AccessRequests;
  /** Prometheus metrics: each answer counts as a decision of surface `authzen`. */
  metrics?: Metrics;
}

export class AuthzenPdp {
  private typeCache = new Map<string, string>();
  private typeCacheVersion = '';

  constructor(private readonly d: PdpDeps) {}

  async evaluate(original: EvaluationRequest, caller: string): Promise<AuthzenDecision> {
    // The profile's members (`approval`, `access_request`) are not authorization input.
    const approvalRef = original.context?.approval;
    const req = { ...original, context: evaluationContext(original.context) };
    const { decision, agentId, taskId, reasonClass } = MCP_ACTIONS.has(req.action.name) ? await this.mcp(req) : await this.generic(req);
    let answer: AuthzenDecision | null = null;
    if (approvalRef !== undefined && this.d.accessRequests) answer = await this.d.accessRequests.reevaluate(original, decision, approvalRef);
    if (!answer) {
      answer = toAuthzen(decision);
      if (decision.decision === 'approval_required' && this.d.accessRequests) Object.assign(answer.context!, await this.d.accessRequests.requestable(original, decision));
    }
    // The answer waits for its audit record: no decision leaves without being recorded.
    await this.d.audit
      .record({
        type: 'pdp.decision',
        actor: caller,
        agentId,
        taskId,
        decision: decision.decision,
        outcome: decision.decision,
        data: {
          decisionId: decision.id,
          subject: { type: req.subject.type, id: req.subject.id },
          action: req.action.name,
          resource: { type: req.resource.type, id: req.resource.id },
          policyIds: decision.policyIds,
          reasons: decision.reasons,
          policyVersion: decision.policyVersion,
          ...(approvalRef !== undefined ? { approval: (approvalRef as { id?: unknown })?.id ?? null, granted: answer.decision } : {}),
        },
      });
    // Granted with a person's approval (the Access Request profile): an allow of class `approval`.
    if (answer.decision && decision.decision !== 'allow') this.d.metrics?.decided('authzen', { ...decision, decision: 'allow' }, 'approval');
    else this.d.metrics?.decided('authzen', decision, reasonClass ?? null);
    return answer;
  }

  async evaluations(req: EvaluationsRequest, caller: string): Promise<{ evaluations: AuthzenDecision[] } | AuthzenDecision> {
    const items = req.evaluations ?? [];
    if (items.length === 0) {
      // No `evaluations`: behaves as a single Access Evaluation (spec §7.1).
      return this.evaluate(requireComplete(req, '(top level)'), caller);
    }
    const semantic = req.options?.evaluations_semantic ?? 'execute_all';
    // Validate all first: a malformed batch is a 400 before anything is evaluated.
    const merged = items.map((item, i) =>
      requireComplete(
        {
          subject: item.subject ?? req.subject,
          action: item.action ?? req.action,
          resource: item.resource ?? req.resource,
          context: item.context ?? req.context,
        },
        `evaluations[${i}]`,
      ),
    );
    const out: AuthzenDecision[] = [];
    for (const m of merged) {
      let r: AuthzenDecision;
      try {
        r = await this.evaluate(m, caller);
      } catch (err) {
        // One bad item does not fail the batch: it is a deny carrying its error.
        if (!(err instanceof MandateError) || !err.expose) throw err;
        r = { decision: false, context: { error: { status: err.status, message: err.message } } };
      }
      out.push(r);
      if (semantic === 'deny_on_first_deny' && !r.decision) break;
      if (semantic === 'permit_on_first_permit' && r.decision) break;
    }
    return { evaluations: out };
  }

  // ---- generic mapping
  private async generic(req: EvaluationRequest): Promise<{ decision: Decision; agentId: string | null; taskId: null; reasonClass?: ReasonClass }> {
    const principal = { type: this.cedarType(req.subject.type), id: req.subject.id };
    const resource = { type: this.cedarType(req.resource.type), id: req.resource.id };
    const entities = [await this.entity(principal, req.subject.properties, 'subject'), await this.entity(resource, req.resource.properties, 'resource')];
    const context = convertRecord(req.context ?? {}, 'context');
    if (req.action.properties) context.action = convertRecord(req.action.properties, 'action.properties');
    const decision = this.d.policy.decide({ principal, action: req.action.name, resource, context, entities });
    return { decision, agentId: principal.type === 'Agent' ? principal.id : null, taskId: null };
  }

  /** Registry and static entities are authoritative: request properties never override them. */
  private async entity(uid: { type: string; id: string }, properties: Record<string, unknown> | undefined, where: string): Promise<EntityJson> {
    if (uid.type === 'Agent') {
      const agent = await this.d.agents.getAgent(uid.id);
      if (agent) return agentEntity(agent);
    }
    const known = this.d.entities.get(uid.type, uid.id);
    const tool = uid.type === 'Tool' ? this.d.tools.getTool(uid.id) : undefined;
    if (tool) return toolEntity(tool);
    const attrs: Record<string, CedarValueJson> = { ...convertRecord(properties ?? {}, `${where}.properties`), ...(known?.attrs ?? {}) };
    return { uid, attrs, parents: this.d.entities.ancestorsOf(uid.type, uid.id) };
  }

  /** AuthZEN type → Cedar entity type: configured, else the schema's type of that name (any case), else as is. */
  cedarType(type: string): string {
    const version = this.d.policy.version;
    if (version !== this.typeCacheVersion) {
      this.typeCache.clear();
      this.typeCacheVersion = version;
    }
    const hit = this.typeCache.get(type);
    if (hit) return hit;
    let mapped = this.d.types[type];
    if (!mapped) {
      const lower = type.toLowerCase();
      mapped = [...this.d.policy.current.compiled.entityTypes].find((t) => t.toLowerCase() === lower);
    }
    if (!mapped) {
      if (!CEDAR_IDENT.test(type)) {
        throw new MandateError('invalid_request', `type ${q(type)} is not a Cedar entity type: map it in mandate.yaml under \`authzen.types\``);
      }
      mapped = type;
    }
    this.typeCache.set(type, mapped);
    return mapped;
  }

  // ---- COAZ-MCP mapping
  private async mcp(req: EvaluationRequest): Promise<{ decision: Decision; agentId: string | null; taskId: string | null; reasonClass?: ReasonClass }> {
    const ctx = req.context ?? {};
    const deny = (reason: string, reasonClass: ReasonClass, agentId: string | null = null, taskId: string | null = null) => ({
      decision: this.denial(reason),
      agentId,
      taskId,
      reasonClass,
    });
    const agentId = typeof ctx.agent === 'string' && ctx.agent ? ctx.agent : AGENT_SUBJECT_TYPES.has(req.subject.type) ? req.subject.id : null;
    if (!agentId) return deny(`no agent: MCP decisions need the agent's id as \`subject.id\` (type \`identity\`) or \`context.agent\``, 'input');
    const agent = await this.d.agents.getAgent(agentId);
    if (!agent) return deny(`unknown agent ${q(agentId)}`, 'input');
    if (agent.status !== 'active') return deny(`agent ${q(agent.name)} is ${agent.status}`, 'suspended', agent.id);

    const taskId = typeof ctx.task_id === 'string' ? ctx.task_id : null;
    if (!taskId) return deny('no task: Mandate authorizes agent calls within a task; map the credential\'s `task_id` claim to `context.task_id`', 'input', agent.id);
    const task = await this.d.tasks.getTask(taskId);
    const dead = this.taskProblem(task, agent);
    if (dead) return deny(dead, task && task.agentId === agent.id ? 'revoked' : 'input', agent.id, taskId);
    const live = task!;

    const method = req.action.name;
    if (MCP_LISTING.has(method)) {
      // Listings are filtered by the gateway to what the task may call; the session itself is allowed.
      return { decision: this.allowed(`live task ${q(live.id)} for agent ${q(agent.name)}`), agentId: agent.id, taskId };
    }
    if (method === 'tools/call') {
      if (req.resource.type !== 'tool') return deny(`\`tools/call\` expects a resource of type \`tool\`, got ${q(req.resource.type)}`, 'input', agent.id, taskId);
      const tool = this.d.tools.getTool(req.resource.id);
      if (!tool) return deny(`unknown tool ${q(req.resource.id)}`, 'input', agent.id, taskId);
      const rawArgs = ctx.arguments ?? (req.resource.properties as Record<string, unknown> | undefined)?.arguments ?? {};
      if (!rawArgs || typeof rawArgs !== 'object' || Array.isArray(rawArgs)) {
        throw new MandateError('invalid_request', '`context.arguments` must be an object of tool arguments');
      }
      const calls = typeof ctx.calls === 'number' && Number.isSafeInteger(ctx.calls) && ctx.calls >= 0 ? ctx.calls : 0;
      const decision = this.d.authorizer.authorize({ agent, task: live, tool, args: rawArgs as Record<string, unknown>, calls });
      return { decision, agentId: agent.id, taskId };
    }
    if (method === 'resources/read' || method === 'resources/subscribe' || method === 'resources/unsubscribe') {
      return { decision: this.d.authorizer.authorizeResource(agent, live, req.resource.id), agentId: agent.id, taskId };
    }
    // prompts/get: `<upstream>.<prompt>`
    const dot = req.resource.id.indexOf('.');
    if (dot < 1) return deny(`prompt ${q(req.resource.id)} must be named \`<upstream>.<prompt>\``, 'input', agent.id, taskId);
    return { decision: this.d.authorizer.authorizePrompt(agent, live, req.resource.id.slice(0, dot), req.resource.id.slice(dot + 1)), agentId: agent.id, taskId };
  }

  private taskProblem(task: Task | null, agent: Agent): string | null {
    if (!task) return 'unknown task';
    if (task.agentId !== agent.id) return `task ${q(task.id)} belongs to another agent`;
    if (this.d.revocations.has(task.id)) return `task ${q(task.id)} has ended (${this.d.revocations.get(task.id)!.reason})`;
    if (task.status !== 'active') return `task ${q(task.id)} is ${task.status}`;
    if (task.expiresAt <= this.d.clock.now()) return `task ${q(task.id)} has expired`;
    return null;
  }

  private denial(reason: string): Decision {
    return { id: newId('dec'), decision: 'deny', policyIds: [], reasons: [reason], errors: [], policyVersion: this.d.policy.version, evaluated: 0 };
  }

  private allowed(reason: string): Decision {
    return { id: newId('dec'), decision: 'allow', policyIds: [], reasons: [reason], errors: [], policyVersion: this.d.policy.version, evaluated: 0 };
  }
}

function convertRecord(obj: Record<string, unknown>, where: string): Record<string, CedarValueJson> {
  const bounds = jsonBoundsProblem(obj);
  if (bounds) throw new MandateError('invalid_request', `${where} ${bounds}`);
  try {
    return (jsonToCedar(obj, '') ?? {}) as Record<string, CedarValueJson>;
  } catch (err) {
    if (err instanceof ArgTypeError) throw new MandateError('invalid_request', `${where}: ${err.message}`);
    throw err;
  }
}

function requireComplete(r: Partial<EvaluationRequest>, where: string): EvaluationRequest {
  const missing = (['subject', 'action', 'resource'] as const).filter((k) => !r[k]);
  if (missing.length) {
    throw new MandateError('invalid_request', `${where}: missing ${missing.map((m) => `\`${m}\``).join(', ')} (give it in the evaluation or as a top-level default)`);
  }
  return r as EvaluationRequest;
}

function toAuthzen(d: Decision): AuthzenDecision {
  const context: Record<string, unknown> = {
    id: d.id,
    reason_admin: { en: d.reasons.join('; ') },
    reasons: d.reasons,
    policies: d.policyIds,
    policy_version: d.policyVersion,
  };
  if (d.decision === 'approval_required') {
    context.approval_required = true;
    context.approval_requirement = d.approval;
  }
  if (d.errors.length) context.errors = d.errors;
  return { decision: d.decision === 'allow', context };
}
