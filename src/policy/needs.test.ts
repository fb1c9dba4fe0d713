// What a policy reads decides what a decision marshals into Cedar and what its cache key holds.

import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { policyNeeds } from './needs.js';

function needsOf(text: string) {
  const r = cedar.policyToJson(text);
  if (r.type !== 'success') throw new Error('bad policy');
  const n = policyNeeds(r.json);
  const show = (x: Set<string> | 'all') => (x === 'all' ? 'all' : [...x].sort());
  return { principal: show(n.principal), resource: show(n.resource), context: show(n.context) };
}

describe('policyNeeds', () => {
  it('collects attribute reads and `has` tests per variable', () => {
    expect(needsOf('permit(principal, action, resource) when { principal.email == resource.owner && context has args && context.args.path like "/x*" };')).toEqual({
      principal: ['email'],
      resource: ['owner'],
      context: ['args'],
    });
  });
  it('needs no attributes for scope, `in` and equality on entities', () => {
    expect(needsOf('permit(principal in Group::"g", action, resource) when { principal in Role::"admin" && resource == principal };')).toEqual({ principal: [], resource: [], context: [] });
  });
  it('takes the whole context when it is used whole, and all attributes for tags', () => {
    expect(needsOf('permit(principal, action, resource) when { context == {} || principal.hasTag("x") };')).toEqual({ principal: 'all', resource: [], context: 'all' });
  });
  it('reads the first step of a nested `has`', () => {
    expect(needsOf('permit(principal, action, resource) when { context has task.labels };').context).toEqual(['task']);
  });
});
