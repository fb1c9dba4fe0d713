// What-if for humans: how would policy decide this agent calling this tool with these
// arguments (in a real task, or in a hypothetical one granting just that tool)? Returns the
// decision with the deciding policies located in their files and the slice that was evaluated.

import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import type { ToolLookup } from '../core/tool.js';
import type { Decision } from '../policy/engine.js';
import { agentEntity, toolEntity } from '../policy/mandate-entities.js';
import { timeContext, type PolicyService } from '../policy/policy-service.js';
import type { Agent, Task } from '../storage/types.js';
import type { CallAuthorizer } from './authorize.js';

export interface ExplainInput {
  agent: Agent;
  tool: string;
  args?: Record<string, unknown>;
  /** A real task to evaluate in (scope check included); otherwise a hypothetical task. */
  task?: Task;
  intent?: string;
  /** `call` (default) or `startTask`. */
  action?: 'call' | 'startTask';
}

export interface Explanation {
  decision: Decision;
  hypotheticalTask: boolean;
  policies: Array<{ id: string; effect: string; file: string; line: number; text: string; determining: boolean }>;
}

export function explain(input: ExplainInput, deps: { policy: PolicyService; tools: ToolLookup; authorizer: CallAuthorizer; clock: Clock }): Explanation {
  const tool = deps.tools.getTool(input.tool);
  if (!tool) throw new MandateError('not_found', `unknown tool ${q(input.tool)}: see \`mandate tools\` or GET /api/v1/tools`);
  const now = deps.clock.now();
  let decision: Decision;
  let slice: string[];
  if (input.action === 'startTask') {
    const req = {
      principal: { type: 'Agent', id: input.agent.id },
      action: 'startTask',
      resource: { type: 'Tool', id: tool.name },
      context: {
        intent: input.intent ?? '(what-if)',
        ttl: 600,
        tools: [tool.name],
        resources: [],
        constrainedArgs: Object.keys(input.args ?? {}),
        maxCalls: 0,
        time: timeContext(now),
      } as never,
      entities: [agentEntity(input.agent), toolEntity(tool)],
    };
    decision = deps.policy.decide(req);
    slice = deps.policy.current.slice(req).map((p) => p.id);
  } else {
    const task: Task = input.task ?? {
      id: 'task_whatif',
      agentId: input.agent.id,
      parentId: null,
      depth: 0,
      intent: input.intent ?? '(what-if)',
      scope: { tools: [{ name: tool.name }], resources: ['*'] },
      status: 'active',
      labels: [],
      createdAt: now,
      expiresAt: now + 600_000,
      endedAt: null,
      endReason: null,
      decisionId: null,
    };
    decision = deps.authorizer.authorize({ agent: input.agent, task, tool, args: input.args ?? {}, calls: 0 });
    slice = deps.policy.current
      .slice({
        principal: { type: 'Agent', id: input.agent.id },
        action: tool.name,
        resource: { type: 'Tool', id: tool.name },
        context: {},
        entities: [agentEntity(input.agent), toolEntity(tool)],
      })
      .map((p) => p.id);
  }
  const determining = new Set(decision.policyIds);
  const policies = slice.map((id) => {
    const p = deps.policy.current.policy(id)!;
    return { id, effect: p.effect, file: p.file, line: p.line, text: p.text, determining: determining.has(id) };
  });
  return { decision, hypotheticalTask: !input.task, policies };
}
