// The policy engine's promises: slicing by scope gives exactly Cedar's answer over the whole
// set; approval gates turn a deny into approval_required only when lifting them would allow;
// a forbid that errors fails closed; deny by default says why.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { afterAll, describe, expect, it } from 'vitest';
import { compilePolicies } from './compile.js';
import { PolicyEngine, type DecisionRequest } from './engine.js';

const dir = mkdtempSync(join(tmpdir(), 'mandate-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Every action applies to every user and document, so random policies validate.
const SCHEMA = `
entity Group;
entity User in [Group] = { level: Long };
entity Folder;
entity Doc in [Folder] = { owner: String };
action readGroup;
action view, edit, remove in [readGroup] appliesTo { principal: [User], resource: [Doc], context: { n: Long } };
`;

let n = 0;
function writeSchema(): string {
  const f = join(dir, `s-${n++}.cedarschema`);
  writeFileSync(f, SCHEMA);
  return f;
}
function mkdirWith(text: string): string {
  const d = join(dir, `set-${n++}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'p.cedar'), text);
  return d;
}
function engine(policies: string, opts: { decisionCache?: number } = {}): PolicyEngine {
  return new PolicyEngine(compilePolicies({ policyDir: mkdirWith(policies), schemaPath: writeSchema(), tools: [] }), opts);
}

function request(user: number, group: number, action: string, doc: number, folder: number, ctxN: number): DecisionRequest {
  return {
    principal: { type: 'User', id: `u${user}` },
    action,
    resource: { type: 'Doc', id: `d${doc}` },
    context: { n: ctxN },
    entities: [
      { uid: { type: 'User', id: `u${user}` }, attrs: { level: user % 3 }, parents: [{ type: 'Group', id: `g${group}` }] },
      { uid: { type: 'Doc', id: `d${doc}` }, attrs: { owner: `u${doc % 4}` }, parents: [{ type: 'Folder', id: `f${folder}` }] },
    ],
  };
}

/** Random policies over every scope form Cedar has (==, in, is, is-in, All, action groups). */
function randomPolicies(count: number, rnd: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = pick(['principal', `principal == User::"u${Math.floor(rnd() * 6)}"`, `principal in Group::"g${Math.floor(rnd() * 3)}"`, 'principal is User', `principal is User in Group::"g${Math.floor(rnd() * 3)}"`]);
    const a = pick(['action', 'action == Action::"view"', 'action == Action::"edit"', 'action in [Action::"view", Action::"remove"]', 'action in Action::"readGroup"']);
    const r = pick(['resource', `resource == Doc::"d${Math.floor(rnd() * 6)}"`, `resource in Folder::"f${Math.floor(rnd() * 3)}"`, 'resource is Doc']);
    const cond = pick(['', ` when { context.n > ${Math.floor(rnd() * 5)} }`, ' when { principal.level == 1 }', ` unless { resource.owner == "u${Math.floor(rnd() * 4)}" }`]);
    out.push(`@id("p${i}") ${rnd() < 0.85 ? 'permit' : 'forbid'}(${p}, ${a}, ${r})${cond};`);
  }
  return out.join('\n');
}

function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('slicing', () => {
  it('gives the same decision and determining policies as Cedar over the whole set (400 random requests)', () => {
    const rnd = mulberry32(7);
    const text = randomPolicies(60, rnd);
    const e = engine(text, { decisionCache: 0 });
    const all = Object.fromEntries(e.policies.map((p) => [p.id, p.text]));
    let allows = 0;
    for (let i = 0; i < 400; i++) {
      const req = request(Math.floor(rnd() * 6), Math.floor(rnd() * 3), ['view', 'edit', 'remove'][Math.floor(rnd() * 3)]!, Math.floor(rnd() * 6), Math.floor(rnd() * 3), Math.floor(rnd() * 6));
      const mine = e.decide(req);
      const oracle = cedar.isAuthorized({
        principal: req.principal,
        action: { type: 'Action', id: req.action },
        resource: req.resource,
        context: req.context,
        entities: [...req.entities, { uid: { type: 'Action', id: req.action }, attrs: {}, parents: [{ type: 'Action', id: 'readGroup' }] }],
        policies: { staticPolicies: all },
      });
      if (oracle.type !== 'success') throw new Error('oracle failed');
      expect(mine.decision).toBe(oracle.response.decision);
      expect(mine.policyIds).toEqual([...oracle.response.diagnostics.reason].sort());
      // The slice really is smaller than the set.
      expect(mine.evaluated).toBeLessThan(60);
      if (mine.decision === 'allow') allows++;
    }
    // Both outcomes were exercised.
    expect(allows).toBeGreaterThan(20);
    expect(allows).toBeLessThan(380);
  });

  it('evaluates only the policies whose scope can match, however large the set', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `@id("u${i}") permit(principal == User::"u${i}", action == Action::"view", resource);`);
    const e = engine(lines.join('\n'));
    const d = e.decide(request(1234, 0, 'view', 1, 0, 0));
    expect(d.decision).toBe('allow');
    expect(d.policyIds).toEqual(['u1234']);
    expect(d.evaluated).toBe(1);
  });
});

describe('decisions', () => {
  it('denies by default and says so', () => {
    const e = engine('@id("only-edit") permit(principal, action == Action::"edit", resource);');
    const d = e.decide(request(1, 0, 'view', 1, 0, 0));
    expect(d.decision).toBe('deny');
    expect(d.policyIds).toEqual([]);
    expect(d.reasons[0]).toMatch(/no policy permits action `view` .* \(deny by default\)/);
  });

  it('uses @reason and the policy location in reasons', () => {
    const e = engine('@id("no-view") @reason("viewing is closed today")\nforbid(principal, action == Action::"view", resource);\npermit(principal, action, resource);');
    const d = e.decide(request(1, 0, 'view', 1, 0, 0));
    expect(d.decision).toBe('deny');
    expect(d.reasons).toEqual(['viewing is closed today (forbidden by `no-view` (p.cedar:1))']);
  });

  it('turns a deny into approval_required when only @approval forbids decided and lifting them allows', () => {
    const e = engine(`
      @id("allow-all") permit(principal, action, resource);
      @id("gate") @approval("owner") @quorum("2") forbid(principal, action == Action::"remove", resource);
    `);
    const d = e.decide(request(1, 0, 'remove', 1, 0, 0));
    expect(d.decision).toBe('approval_required');
    expect(d.approval).toEqual({ policyIds: ['gate'], approvers: ['owner'], quorum: 2 });
  });

  it('stays deny when an unconditional forbid also decided (no approval can lift it)', () => {
    const e = engine(`
      @id("allow-all") permit(principal, action, resource);
      @id("gate") @approval("owner") forbid(principal, action == Action::"remove", resource);
      @id("never") forbid(principal, action == Action::"remove", resource) when { context.n > 3 };
    `);
    expect(e.decide(request(1, 0, 'remove', 1, 0, 1)).decision).toBe('approval_required');
    const d = e.decide(request(1, 0, 'remove', 1, 0, 5));
    expect(d.decision).toBe('deny');
    expect(d.policyIds).toContain('never');
  });

  it('stays deny when nothing would permit even without the gate', () => {
    const e = engine('@id("gate") @approval("owner") forbid(principal, action == Action::"remove", resource);\n@id("x") permit(principal, action == Action::"view", resource);');
    const d = e.decide(request(1, 0, 'remove', 1, 0, 0));
    expect(d.decision).toBe('deny');
  });

  it('fails closed when a forbid errors (Cedar alone would skip it and allow)', () => {
    // `resource.secret` does not exist on this entity: the forbid errors at evaluation time.
    const e = new PolicyEngine({
      ...compilePolicies({ policyDir: mkdirWith('permit(principal, action, resource);'), schemaPath: writeSchema(), tools: [] }),
    });
    const compiled = e.compiled;
    const errPolicy = { ...compiled.policies[0]!, id: 'broken-forbid', effect: 'forbid' as const, text: 'forbid(principal, action, resource) when { resource.secret == 1 };', json: cedarJson('forbid(principal, action, resource) when { resource.secret == 1 };') };
    const e2 = new PolicyEngine({ ...compiled, policies: [...compiled.policies, errPolicy] }, { decisionCache: 0 });
    const d = e2.decide(request(1, 0, 'view', 1, 0, 0));
    expect(d.decision).toBe('deny');
    expect(d.policyIds).toEqual(['broken-forbid']);
    expect(d.reasons[0]).toMatch(/could not be evaluated .*failing closed/);
    expect(d.errors[0]!.policyId).toBe('broken-forbid');
  });

  it('never lets an erroring permit grant', () => {
    const e = engine('permit(principal, action, resource);');
    const compiled = e.compiled;
    const text = 'permit(principal, action, resource) when { resource.secret == 1 };';
    const e2 = new PolicyEngine({ ...compiled, policies: [{ ...compiled.policies[0]!, id: 'broken-permit', text, json: cedarJson(text) }] }, { decisionCache: 0 });
    const d = e2.decide(request(1, 0, 'view', 1, 0, 0));
    expect(d.decision).toBe('deny');
    expect(d.reasons.join()).toMatch(/broken-permit.*could not be evaluated/);
  });

  it('caches decisions per exact input and policy version', () => {
    const e = engine('@id("v") permit(principal, action == Action::"view", resource) when { context.n > 2 };');
    const a = e.decide(request(1, 0, 'view', 1, 0, 3));
    const b = e.decide(request(1, 0, 'view', 1, 0, 3));
    expect(b.decision).toBe(a.decision);
    expect(b.id).not.toBe(a.id);
    expect(e.decide(request(1, 0, 'view', 1, 0, 1)).decision).toBe('deny');
  });
});

function cedarJson(text: string) {
  const r = cedar.policyToJson(text);
  if (r.type !== 'success') throw new Error('bad policy');
  return r.json;
}
