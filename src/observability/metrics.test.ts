// What a decision counts as (its reason class), and that labels only ever carry bounded values.

import { describe, expect, it } from 'vitest';
import type { Decision } from '../policy/engine.js';
import { INPUT_SCHEMA_POLICY_ID, PINNING_POLICY_ID, SCOPE_POLICY_ID } from '../gateway/authorize.js';
import { OBSERVE_POLICY_ID, type WouldDeny } from '../gateway/observe.js';
import { Metrics, reasonClassOf, type ReasonClass } from './metrics.js';

const d = (over: Partial<Decision> & { wouldDeny?: WouldDeny }): Decision & { wouldDeny?: WouldDeny } => ({ id: 'dec_1', decision: 'deny', policyIds: [], reasons: [], errors: [], policyVersion: 'v1', evaluated: 1, ...over });
const readsProvenance = (id: string) => id === 'no-untrusted-url';

describe('reasonClassOf', () => {
  // Each row: a decision as the authorizer, the gateway or observe mode leaves it, and the one
  // word an operator's dashboard shows for it.
  const cases: Array<[string, Decision & { wouldDeny?: WouldDeny }, ReasonClass]> = [
    ['a Cedar permit', d({ decision: 'allow', policyIds: ['call.read'] }), 'policy'],
    ['default deny (no permit)', d({}), 'policy'],
    ['a Cedar forbid', d({ policyIds: ['no.secret'] }), 'policy'],
    ['a forbid on where a value came from', d({ policyIds: ['no-untrusted-url'] }), 'provenance'],
    ['outside the declared scope', d({ policyIds: [SCOPE_POLICY_ID], reasons: ["outside the task's scope: tool `x` is not in the task's scope"] }), 'scope'],
    ['a call limit in the scope check', d({ policyIds: [SCOPE_POLICY_ID], reasons: ["outside the task's scope: tool `x` reached the task's limit of 3 calls"] }), 'budget'],
    ["a parent's budget spent", d({ policyIds: [SCOPE_POLICY_ID], reasons: ["outside the task's scope: tool `x`: the budget of 5 calls of task `t1`, which this task was delegated from, is spent"] }), 'budget'],
    ['an input schema violation', d({ policyIds: [INPUT_SCHEMA_POLICY_ID] }), 'input'],
    ['a tool changed upstream', d({ policyIds: [PINNING_POLICY_ID] }), 'pin'],
    ['held for approval', d({ decision: 'approval_required', policyIds: ['approve.fetch'], approval: { policyIds: ['approve.fetch'], approvers: ['owner'], quorum: 1 } }), 'approval'],
    ['allowed once a person approved', d({ decision: 'allow', policyIds: ['call.read'], approval: { policyIds: ['approve.fetch'], approvers: ['owner'], quorum: 1 } }), 'approval'],
    ['a policy that failed to evaluate', d({ policyIds: ['broken'], errors: [{ policyId: 'broken', message: 'boom' }] }), 'error'],
    ['observe mode: a forbid that would have denied', d({ decision: 'allow', policyIds: [OBSERVE_POLICY_ID], wouldDeny: { decision: 'deny', reasons: [], policyIds: ['no.secret'] } }), 'policy'],
    ['observe mode: a provenance forbid', d({ decision: 'allow', policyIds: [OBSERVE_POLICY_ID], wouldDeny: { decision: 'deny', reasons: [], policyIds: ['no-untrusted-url'] } }), 'provenance'],
    ['observe mode: a gate that would have held', d({ decision: 'allow', policyIds: [OBSERVE_POLICY_ID], wouldDeny: { decision: 'approval_required', reasons: [], policyIds: ['approve.fetch'] } }), 'approval'],
  ];
  it.each(cases)('%s', (_name, decision, expected) => {
    expect(reasonClassOf(decision, readsProvenance)).toBe(expected);
  });
});

describe('Metrics', () => {
  it('counts an observed call as would_deny, and never puts a reason or id in a label', async () => {
    const m = new Metrics({ enabled: true });
    m.decided('mcp', d({ decision: 'allow', policyIds: [OBSERVE_POLICY_ID], reasons: ['observe mode: secret reason'], wouldDeny: { decision: 'deny', reasons: ['secret reason'], policyIds: ['no.secret'] } }));
    m.toolCall('http', undefined, 'revoked', 'denied', 0.002, 0);
    const text = await m.registry.metrics();
    expect(text).toContain('mandate_decisions_total{surface="mcp",decision="would_deny",reason_class="policy"} 1');
    expect(text).toContain('mandate_decisions_total{surface="http",decision="deny",reason_class="revoked"} 1');
    expect(text).not.toMatch(/secret reason|dec_1|no\.secret/);
  });

  it('off: registers nothing and counts nothing', async () => {
    const m = new Metrics({ enabled: false });
    m.toolCall('mcp', d({}), null, 'denied', 1, 0);
    m.storeError('getTask');
    m.auditAppend(0.001);
    expect(m.registry.getMetricsAsArray()).toEqual([]);
  });

  it('asks for the scrape token when one is set, compared whole', () => {
    const m = new Metrics({ enabled: true, token: 'scrape-token-1234' });
    expect(m.mayScrape('Bearer scrape-token-1234')).toBe(true);
    for (const h of [undefined, '', 'Bearer scrape-token-123', 'Bearer scrape-token-12345', 'Basic scrape-token-1234', 'scrape-token-1234']) expect(m.mayScrape(h), String(h)).toBe(false);
    expect(new Metrics({ enabled: true }).mayScrape(undefined)).toBe(true);
  });
});
