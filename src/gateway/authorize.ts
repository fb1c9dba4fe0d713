// The one authorizer for agent tool calls, used by the MCP gateway, the AuthZEN PDP and
// `policy explain`: the task's declared scope first, then Cedar with the task's context.
// Both must allow; either can deny; nothing else grants.

import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { ToolSpec } from '../core/tool.js';
import { ArgTypeError, toCedarValue } from '../policy/arg-types.js';
import type { CedarValueJson } from '../policy/cedar.js';
import type { Decision } from '../policy/engine.js';
import { agentEntity, taskInfo, toolEntity } from '../policy/mandate-entities.js';
import { timeContext, type PolicyService } from '../policy/policy-service.js';
import type { Agent, Task } from '../storage/types.js';
import { checkCallScope } from '../tasks/scope.js';

export const SCOPE_POLICY_ID = 'mandate:task-scope';

export interface CallRequest {
  agent: Agent;
  task: Task;
  tool: ToolSpec;
  args: Record<string, unknown>;
  /** Calls of this tool already made in the task. */
  calls: number;
}

export interface CallDecision extends Decision {
  /** Normalised resource URIs the call names. */
  resources: string[];
}

export class CallAuthorizer {
  constructor(
    private readonly policy: PolicyService,
    private readonly clock: Clock,
  ) {}

  authorize(req: CallRequest): CallDecision {
    const { agent, task, tool, args } = req;
    // 1. The declared scope: tool granted, constraints met, resources inside the task.
    const scope = checkCallScope(task.scope, tool, args, req.calls);
    if (!scope.ok) return this.denied(scope.reasons, scope.resources);

    // 2. Arguments typed for Cedar from the tool's input schema (wrong types never reach policy).
    const argType = this.policy.current.compiled.argTypes.get(tool.name);
    let cedarArgs: CedarValueJson = {};
    if (argType) {
      try {
        cedarArgs = toCedarValue(argType, args, '');
      } catch (err) {
        if (err instanceof ArgTypeError) return this.denied([err.message], scope.resources);
        throw err;
      }
    }

    // 3. Cedar, with the task's context.
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
      },
      entities: [agentEntity(agent), toolEntity(tool)],
    });
    return { ...decision, resources: scope.resources };
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
