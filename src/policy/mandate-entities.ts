// How Mandate's own records appear to Cedar: the entity slice and context pieces every
// agent decision is built from (kept small: marshalling into Wasm is the main cost).

import type { ToolSpec } from '../core/tool.js';
import type { Agent, Task } from '../storage/types.js';
import type { CedarValueJson, EntityJson } from './cedar.js';

export function agentEntity(agent: Agent): EntityJson {
  return {
    uid: { type: 'Agent', id: agent.id },
    attrs: {
      name: agent.name,
      owner: agent.owner,
      purpose: agent.purpose,
      environment: agent.environment,
      labels: agent.labels,
    },
    parents: [],
  };
}

export function toolEntity(tool: ToolSpec): EntityJson {
  return {
    uid: { type: 'Tool', id: tool.name },
    attrs: {
      name: tool.name,
      upstream: tool.upstream,
      risk: tool.risk,
      classification: tool.classification,
      tags: tool.tags,
    },
    parents: [{ type: 'Upstream', id: tool.upstream }],
  };
}

/** `context.task`: who the call is for and what the task has touched so far. */
export function taskInfo(task: Task): Record<string, CedarValueJson> {
  return {
    id: task.id,
    intent: task.intent,
    depth: task.depth,
    labels: task.labels,
    tools: task.scope.tools.map((t) => t.name),
    resources: task.scope.resources,
    breakGlass: task.breakGlass === true,
  };
}
