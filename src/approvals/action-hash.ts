// The identity of one exact action: what a human approves. Any difference in task, agent, tool,
// arguments or the policy version that asked for approval gives another hash, so an approval
// never covers other arguments, another task (a child task included) or a changed policy.

import { canonicalJson } from '../core/canonical-json.js';
import { sha256Hex } from '../core/hash.js';

export interface ActionIdentity {
  taskId: string;
  agentId: string;
  tool: string;
  args: unknown;
  policyVersion: string;
}

export function actionHash(a: ActionIdentity): string {
  return sha256Hex(canonicalJson({ task: a.taskId, agent: a.agentId, tool: a.tool, args: a.args ?? {}, policyVersion: a.policyVersion }));
}

/** Arguments as approvers see them: the tool's sensitive fields (at any depth) redacted. */
export function redactArgs(args: unknown, sensitive: readonly string[]): unknown {
  if (!sensitive.length) return args;
  const names = new Set(sensitive.map((s) => s.toLowerCase()));
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 8 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, names.has(k.toLowerCase()) ? '[redacted]' : walk(x, depth + 1)]));
  };
  return walk(args, 0);
}
