// A Cedar Wasm trap (a stack overflow on hostile input) used to corrupt the instance, and every
// later validate, reload and decision failed until restart. Now the trapped instance is replaced
// and only the call that trapped fails.

import { describe, expect, it } from 'vitest';
import { CedarTrapError, isAuthorizedPreparsed, preparse, splitPolicySet, validatePolicies, wasmGeneration } from './cedar.js';
import { policyTextProblem } from './compile.js';

const schema = 'entity A; entity R; action x appliesTo { principal: A, resource: R };';
const nested = (n: number) => `permit (principal, action, resource) when { ${'['.repeat(n)}1${']'.repeat(n)} == [] };`;
const call = { principal: { type: 'A', id: 'a' }, action: { type: 'Action', id: 'x' }, resource: { type: 'R', id: 'r' }, context: {}, entities: [] };

describe('Cedar traps', () => {
  it('replaces the instance after a trap, and every later call works (engine-crash by nested policy)', () => {
    expect(preparse('trap-test', { p: 'permit (principal, action, resource);' })).toEqual([]);
    const before = wasmGeneration();
    for (let i = 0; i < 3; i++) {
      expect(() => splitPolicySet(nested(500))).toThrow(CedarTrapError);
      expect(() => validatePolicies(schema, { p: nested(500) })).toThrow(/policy engine was restarted/);
    }
    expect(wasmGeneration()).toBe(before + 6);
    // A fresh instance: validation works, and a set preparsed again decides.
    expect(validatePolicies(schema, { p: 'permit (principal, action, resource);' }).errors).toEqual([]);
    expect(preparse('trap-test', { p: 'permit (principal, action, resource);' })).toEqual([]);
    expect(isAuthorizedPreparsed('trap-test', call)).toMatchObject({ type: 'success', response: { decision: 'allow' } });
  });

  it('bounds policy text before it reaches Cedar', () => {
    expect(policyTextProblem(nested(30))).toBeNull();
    expect(policyTextProblem(nested(40))).toMatchObject({ line: 1, message: expect.stringMatching(/nested more than 32 levels deep/) });
    // Brackets inside strings and comments do not count.
    expect(policyTextProblem(`// ${'('.repeat(100)}\npermit (principal, action, resource) when { context.s == "${'['.repeat(100)}" };`)).toBeNull();
    expect(policyTextProblem('x'.repeat(16 * 1024 * 1024 + 1))).toMatchObject({ message: expect.stringMatching(/larger than/) });
  });
});
