// Observe before enforcing (`enforcement`, `upstreams.<n>.mode`, `…tools.<t>.mode`): where a call
// is in observe mode, what Cedar policy would deny (or hold for a person's approval) runs anyway,
// and its audit records say `wouldDeny` with the reasons and policies — so Mandate can be put in
// front of running agents first, and switched to enforce once the review shows no surprises.
//
// What observe mode never lifts: Mandate's own rails (the task's declared scope with its
// resources, constraints and budgets; tool pinning; input schemas: policy ids `mandate:*`), a
// policy evaluation error (fail closed), and a `forbid` annotated `@enforce` (the hard limits a
// team sets before it starts observing).

import type { MandateConfig } from '../config/load.js';
import type { ToolSpec } from '../core/tool.js';
import type { Decision } from '../policy/engine.js';
import type { PolicyService } from '../policy/policy-service.js';
import type { Agent } from '../storage/types.js';

export const OBSERVE_POLICY_ID = 'mandate:observe';

export type EnforcementMode = 'enforce' | 'observe';

/** What policy would have decided, on a call observe mode let through. */
export interface WouldDeny {
  decision: 'deny' | 'approval_required';
  reasons: string[];
  policyIds: string[];
}

export class Enforcement {
  /** False when nothing anywhere is in observe mode: the hot path then does nothing. */
  readonly anyObserve: boolean;

  constructor(
    private readonly config: Pick<MandateConfig, 'enforcement' | 'upstreams'>,
    private readonly policy: Pick<PolicyService, 'current'>,
  ) {
    const e = config.enforcement;
    this.anyObserve = e.mode === 'observe' || Object.values(e.agents).includes('observe') || Object.values(config.upstreams).some((u) => u.mode === 'observe' || Object.values(u.tools).some((t) => t.mode === 'observe'));
  }

  /** The mode of one agent calling one tool: the most specific setting wins. */
  modeOf(agent: Pick<Agent, 'id' | 'name'>, tool: Pick<ToolSpec, 'upstream' | 'remoteName'>): EnforcementMode {
    const up = this.config.upstreams[tool.upstream];
    const e = this.config.enforcement;
    return up?.tools[tool.remoteName]?.mode ?? up?.mode ?? e.agents[agent.id] ?? e.agents[agent.name] ?? e.mode;
  }

  /** The settings, for the audit record of a change. */
  settings(): Record<string, unknown> {
    const upstreams: Record<string, unknown> = {};
    for (const [name, u] of Object.entries(this.config.upstreams)) {
      const tools = Object.fromEntries(Object.entries(u.tools).filter(([, t]) => t.mode).map(([n, t]) => [n, t.mode]));
      if (u.mode || Object.keys(tools).length) upstreams[name] = { ...(u.mode ? { mode: u.mode } : {}), ...(Object.keys(tools).length ? { tools } : {}) };
    }
    return { mode: this.config.enforcement.mode, agents: this.config.enforcement.agents, upstreams };
  }

  /**
   * The decision as enforced: unchanged in enforce mode or when nothing may be lifted; otherwise
   * an allow that carries what policy would have done.
   */
  apply<D extends Decision>(d: D, agent: Pick<Agent, 'id' | 'name'>, tool: Pick<ToolSpec, 'upstream' | 'remoteName'>): D & { wouldDeny?: WouldDeny } {
    if (!this.anyObserve || d.decision === 'allow' || d.errors.length) return d;
    if (this.modeOf(agent, tool) !== 'observe') return d;
    const deciding = d.decision === 'approval_required' ? (d.approval?.policyIds ?? d.policyIds) : d.policyIds;
    if (deciding.some((id) => id.startsWith('mandate:'))) return d;
    const current = this.policy.current;
    if (deciding.some((id) => current.policy(id)?.annotations.enforce !== undefined)) return d;
    const wouldDeny: WouldDeny = { decision: d.decision === 'approval_required' ? 'approval_required' : 'deny', reasons: d.reasons, policyIds: d.policyIds };
    const { approval: _approval, ...rest } = d;
    return {
      ...(rest as D),
      decision: 'allow',
      policyIds: [OBSERVE_POLICY_ID],
      reasons: [`observe mode: policy would ${wouldDeny.decision === 'deny' ? 'deny' : 'hold for approval'} this call (${d.reasons.join('; ') || 'no policy permits it'}); it ran and is recorded as would-deny`],
      wouldDeny,
    };
  }
}
