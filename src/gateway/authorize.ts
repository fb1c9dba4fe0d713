// The one authorizer for agent tool calls, used by the MCP gateway, the AuthZEN PDP and
// `policy explain`: the task's declared scope first, then Cedar with the task's context.
// Both must allow; either can deny; nothing else grants.

import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { ToolSpec } from '../core/tool.js';
import { ArgTypeError, toCedarValue } from '../policy/arg-types.js';
import { ArgumentValidator } from './arg-schema.js';
import type { CedarValueJson } from '../policy/cedar.js';
import type { Decision } from '../policy/engine.js';
import { agentEntity, taskInfo, toolEntity } from '../policy/mandate-entities.js';
import { timeContext, type PolicyService } from '../policy/policy-service.js';
import type { Agent, Task } from '../storage/types.js';
import { checkCallScope, checkHttpScope, type HttpCallArgs } from '../tasks/scope.js';
import { globMatch, normaliseResource } from '../tasks/resource-uri.js';
import { q } from '../core/errors.js';
import type { CallProvenance } from '../provenance/tracker.js';

export const SCOPE_POLICY_ID = 'mandate:task-scope';
export const INPUT_SCHEMA_POLICY_ID = 'mandate:input-schema';
export const PINNING_POLICY_ID = 'mandate:tool-pinning';
export const BREAK_GLASS_POLICY_ID = 'mandate:break-glass';

export interface CallRequest {
  agent: Agent;
  task: Task;
  tool: ToolSpec;
  args: Record<string, unknown>;
  /** Calls of this tool already made in the task. */
  calls: number;
  /** Where each argument's value appears (provenance); none when not tracked. */
  provenance?: CallProvenance | undefined;
}

/** `context.http` of a request to an HTTP API (see HTTP_CONTEXT in policy/compile.ts). */
export interface HttpContext {
  method: string;
  path: string;
  query: string[];
  queryString: string;
  headers: string[];
  contentType: string;
  bodyBytes: number;
}

export interface CallDecision extends Decision {
  /** Normalised resource URIs the call names. */
  resources: string[];
  /**
   * The arguments exactly as checked (resource arguments in canonical form): the only form that
   * may be forwarded, hashed for an approval, or shown in audit. Absent when nothing was checked.
   */
  args?: Record<string, unknown>;
}

/**
 * A break-glass task was approved by several people for exactly these tools: inside its scope it
 * lifts default deny (no permit matched) and approval gates. An explicit `forbid` still denies
 * (those are the hard limits), and so does a policy error (fail closed).
 */
export function breakGlass(d: Decision): Decision {
  if (d.decision === 'allow') return d;
  if (d.errors.length) return d;
  if (d.decision === 'approval_required' || d.policyIds.length === 0) {
    const { approval: _a, ...rest } = d;
    return { ...rest, decision: 'allow', policyIds: [...d.policyIds, BREAK_GLASS_POLICY_ID], reasons: [`break-glass: ${d.decision === 'approval_required' ? 'approval gate' : 'default deny'} lifted for this emergency task`] };
  }
  return d;
}

/** `context.provenance` (arguments the tool's schema declares) and `context.untrustedArgs`. */
function provenanceContext(argType: { attrs: Record<string, unknown> } | undefined, p: CallProvenance | undefined): { provenance: CedarValueJson; untrustedArgs: CedarValueJson } {
  if (!p || !argType) return { provenance: {}, untrustedArgs: [] };
  const provenance: Record<string, CedarValueJson> = {};
  for (const [k, v] of Object.entries(p.provenance)) if (Object.hasOwn(argType.attrs, k)) provenance[k] = v;
  return { provenance, untrustedArgs: p.untrustedArgs };
}

export class CallAuthorizer {
  private readonly schemas = new ArgumentValidator();

  /** Why a tool's result does not fit its pinned output schema, or null. */
  outputProblem(tool: ToolSpec, result: { structuredContent?: unknown; isError?: boolean | undefined }): string | null {
    return this.schemas.checkOutput(tool, result);
  }

  constructor(
    private readonly policy: PolicyService,
    private readonly clock: Clock,
  ) {}

  authorize(req: CallRequest): CallDecision {
    const { agent, task, tool } = req;
    // 0. A tool whose definition changed upstream is denied until an admin accepts the change.
    if (tool.blocked) return { ...this.denied([], []), policyIds: [PINNING_POLICY_ID], reasons: [tool.blocked] };
    // 1. The declared scope: tool granted, resource arguments canonical, constraints met,
    //    resources inside the task. From here on only the canonical arguments are used.
    const scope = checkCallScope(task.scope, tool, req.args, req.calls);
    if (!scope.ok) return this.denied(scope.reasons, scope.resources);
    const args = scope.args;
    // 2. The pinned input schema: types, and no argument that policy could not see.
    const problem = this.schemas.check(tool, args);
    if (problem) return { ...this.denied([], scope.resources), policyIds: [INPUT_SCHEMA_POLICY_ID], reasons: [problem.message] };

    // 3. Arguments typed for Cedar from the tool's input schema (wrong types never reach policy).
    const argType = this.policy.current.compiled.argTypes.get(tool.name);
    let cedarArgs: CedarValueJson = {};
    if (argType) {
      try {
        cedarArgs = toCedarValue(argType, args, '');
      } catch (err) {
        if (err instanceof ArgTypeError) return { ...this.denied([], scope.resources), policyIds: [INPUT_SCHEMA_POLICY_ID], reasons: [`invalid arguments for ${q(tool.name)}: ${err.message}`] };
        throw err;
      }
    }

    // 4. Cedar, with the task's context.
    const decision = this.policy.decide({
      principal: { type: 'Agent', id: agent.id },
      action: tool.name,
      resource: { type: 'Tool', id: tool.name },
      context: {
        task: taskInfo(task),
        time: timeContext(this.clock.now()),
        resources: scope.resources,
        calls: req.calls,
        args: cedarArgs,
        ...provenanceContext(argType, req.provenance),
      },
      entities: [agentEntity(agent), toolEntity(tool)],
    });
    if (task.breakGlass) return { ...breakGlass(decision), resources: scope.resources, args };
    return { ...decision, resources: scope.resources, args };
  }

  /**
   * One request to an HTTP API (`/http/<upstream>/…`): the task's grants of that method (path
   * pattern, constraints on `path`, `query.*`, `body.*`, call limit), the method's body schema when
   * the config gives one, then Cedar with `context.http` and the JSON body as `context.args`.
   * `grant` is the grant the call is counted against.
   */
  authorizeHttp(req: { agent: Agent; task: Task; tool: ToolSpec; args: HttpCallArgs; http: HttpContext; resource: string; callsOf: (grant: string) => number; provenance?: CallProvenance | undefined }): CallDecision & { grant: string | null } {
    const { agent, task, tool, args } = req;
    const scope = checkHttpScope(task.scope, tool, args, req.callsOf);
    if (!scope.ok) return { ...this.denied(scope.reasons, [req.resource]), grant: null };
    const body = args.body !== undefined && args.body !== null && typeof args.body === 'object' && !Array.isArray(args.body) ? (args.body as Record<string, unknown>) : undefined;
    if (tool.inputSchema && (body || args.body !== undefined)) {
      const problem = body ? this.schemas.check(tool, body) : { message: `the body of ${q(tool.name)} must be a JSON object` };
      if (problem) return { ...this.denied([], [req.resource]), policyIds: [INPUT_SCHEMA_POLICY_ID], reasons: [problem.message], grant: null };
    }
    const argType = this.policy.current.compiled.argTypes.get(tool.name);
    let cedarArgs: CedarValueJson = {};
    if (argType && body && tool.inputSchema) {
      try {
        cedarArgs = toCedarValue(argType, body, '');
      } catch (err) {
        if (err instanceof ArgTypeError) return { ...this.denied([], [req.resource]), policyIds: [INPUT_SCHEMA_POLICY_ID], reasons: [`invalid body for ${q(tool.name)}: ${err.message}`], grant: null };
        throw err;
      }
    }
    const decision = this.policy.decide({
      principal: { type: 'Agent', id: agent.id },
      action: tool.name,
      resource: { type: 'Tool', id: tool.name },
      context: {
        task: taskInfo(task),
        time: timeContext(this.clock.now()),
        resources: [req.resource],
        calls: req.callsOf(scope.grant!),
        args: cedarArgs,
        ...provenanceContext(argType, req.provenance),
        http: req.http as unknown as CedarValueJson,
      },
      entities: [agentEntity(agent), toolEntity(tool)],
    });
    const d = task.breakGlass ? breakGlass(decision) : decision;
    return { ...d, resources: [req.resource], args: args as unknown as Record<string, unknown>, grant: scope.grant };
  }

  /** MCP `resources/read`: the URI must lie inside the task's resources, then Cedar `readResource`. */
  authorizeResource(agent: Agent, task: Task, uri: string): CallDecision {
    let norm: string;
    try {
      norm = normaliseResource(uri);
    } catch (err) {
      return this.denied([`resource ${q(uri)}: ${(err as Error).message}`], []);
    }
    // What is checked is what is read: a URI that is not already canonical is refused, not rewritten.
    if (norm !== uri) return this.denied([`resource ${q(uri)} is not in canonical form (ask for ${q(norm)})`], [norm]);
    if (!task.scope.resources.some((p) => globMatch(p, norm))) return this.denied([`resource ${q(norm)} is outside the task's declared resources`], [norm]);
    const d = this.policy.decide({
      principal: { type: 'Agent', id: agent.id },
      action: 'readResource',
      resource: { type: 'Resource', id: norm },
      context: { task: taskInfo(task), time: timeContext(this.clock.now()) },
      entities: [agentEntity(agent), { uid: { type: 'Resource', id: norm }, attrs: {}, parents: [] }],
    });
    return { ...d, resources: [norm] };
  }

  /** MCP `prompts/get`: Cedar `getPrompt` on the prompt (in its upstream). */
  authorizePrompt(agent: Agent, task: Task, upstream: string, prompt: string): CallDecision {
    const id = `${upstream}.${prompt}`;
    const d = this.policy.decide({
      principal: { type: 'Agent', id: agent.id },
      action: 'getPrompt',
      resource: { type: 'Prompt', id },
      context: { task: taskInfo(task), time: timeContext(this.clock.now()) },
      entities: [agentEntity(agent), { uid: { type: 'Prompt', id }, attrs: {}, parents: [{ type: 'Upstream', id: upstream }] }],
    });
    return { ...d, resources: [] };
  }

  /** Listing: inside the task's scope, not blocked, and not denied by policy whatever the arguments. */
  couldCall(agent: Agent, task: Task, tool: ToolSpec): boolean {
    if (tool.blocked || !task.scope.tools.some((t) => t.name === tool.name)) return false;
    return this.policy.current.couldAllow(
      {
        principal: { type: 'Agent', id: agent.id },
        action: tool.name,
        resource: { type: 'Tool', id: tool.name },
        context: { task: taskInfo(task), time: timeContext(this.clock.now()), resources: [], calls: 0 },
        entities: [agentEntity(agent), toolEntity(tool)],
      },
      ['args', 'resources', 'calls', 'provenance', 'untrustedArgs'],
    );
  }

  private denied(reasons: string[], resources: string[]): CallDecision {
    return {
      id: newId('dec'),
      decision: 'deny',
      policyIds: [SCOPE_POLICY_ID],
      reasons: reasons.map((r) => `outside the task's scope: ${r}`),
      errors: [],
      policyVersion: this.policy.version,
      evaluated: 0,
      resources,
    };
  }
}
