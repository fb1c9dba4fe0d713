// Loading a policy set: problems are reported with file, line and the reason; tool actions are
// generated and typed from input schemas so argument policies are validated too.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ToolSpec } from '../core/tool.js';
import { compilePolicies, toolActionsSchema } from './compile.js';

const SCHEMA = resolve(import.meta.dirname, '../../policies/mandate.cedarschema');
const dir = mkdtempSync(join(tmpdir(), 'mandate-compile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const readFile: ToolSpec = {
  name: 'fs.read_text_file',
  upstream: 'fs',
  description: '',
  risk: 'read',
  classification: 'internal',
  tags: [],
  inputSchema: { type: 'object', properties: { path: { type: 'string' }, head: { type: 'number' }, lines: { type: 'array', items: { type: 'integer' } } }, required: ['path'] },
  resources: { path: 'path' },
  remoteName: 'read_text_file',
  discovered: true,
  blocked: null,
};

function compile(files: Record<string, string>, tools: ToolSpec[] = [readFile]) {
  const d = join(dir, `p${n++}`);
  mkdirSync(d, { recursive: true });
  for (const [f, t] of Object.entries(files)) writeFileSync(join(d, f), t);
  return compilePolicies({ policyDir: d, schemaPath: SCHEMA, tools });
}

function errorsOf(files: Record<string, string>, tools?: ToolSpec[]): string[] {
  try {
    compile(files, tools);
  } catch (err) {
    return (err as { details: { errors: string[] } }).details.errors;
  }
  throw new Error('expected the policy set to be refused');
}

describe('compilePolicies', () => {
  it('names policies by @id or file#index and locates them', () => {
    const c = compile({ 'a.cedar': '// header\n\n@id("first")\npermit(principal, action == Action::"startTask", resource);\n\nforbid(principal, action in Action::"write", resource);\n' });
    expect(c.policies.map((p) => [p.id, p.file, p.line])).toEqual([
      ['first', 'a.cedar', 3],
      ['a#1', 'a.cedar', 6],
    ]);
  });

  it('locates annotated, commented and multi-line policies at their own line (not a neighbour\'s)', () => {
    const text = [
      '// header',
      '@id("one")',
      '@reason("r1")',
      'permit (principal, action == Action::"startTask", resource);',
      '',
      '// ---- section ----',
      '',
      '@id("two")',
      '@reason("a reason, with (parentheses)")',
      '@approval("owner")',
      'forbid (principal, action in Action::"write", resource)',
      '  when { context.calls > 3 };  // trailing comment',
      '',
      '@id("three") permit (principal, action in Action::"read", resource);',
    ].join('\n');
    const c = compile({ 'b.cedar': text });
    expect(c.policies.map((p) => [p.id, p.line]).sort()).toEqual([
      ['one', 2],
      ['three', 14],
      ['two', 8],
    ]);
  });

  it('locates every policy of a larger file, whatever order Cedar returns them in', () => {
    const lines: string[] = [];
    const want: Array<[string, number]> = [];
    for (let i = 0; i < 15; i++) {
      lines.push(`// policy ${i}`);
      want.push([`p${i}`, lines.length + 1]);
      lines.push(`@id("p${i}")`, `${i % 2 ? 'forbid' : 'permit'} (principal, action == Action::"startTask", resource)`, `  when { context.ttl > ${i} };`, '');
    }
    const c = compile({ 'many.cedar': lines.join('\n') });
    expect(c.policies.map((p) => [p.id, p.line] as [string, number]).sort((a, b) => a[1] - b[1])).toEqual(want);
  });

  it('reports a syntax error with file, line and column', () => {
    const errors = errorsOf({ 'bad.cedar': 'permit(principal, action, resource);\n\npermit(principal, action, resource) when { 1 + };' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^bad\.cedar:3:\d+: .*unexpected token/);
  });

  it('reports a policy naming an argument the tool does not have', () => {
    const errors = errorsOf({ 'args.cedar': 'permit(principal, action == Action::"fs.read_text_file", resource)\nwhen { context.args.owner == "me" };' });
    expect(errors[0]).toMatch(/^args\.cedar:2:\d+: policy `args#0`: attribute `args.owner` .* not found/);
  });

  it('reports a policy naming a tool that does not exist', () => {
    const errors = errorsOf({ 'tool.cedar': 'permit(principal, action == Action::"fs.delete_everything", resource);' });
    expect(errors[0]).toMatch(/tool\.cedar:1:\d+: policy `tool#0`: .*fs.delete_everything/);
  });

  it('types arguments: a string compared with a number is a validation error', () => {
    const errors = errorsOf({ 't.cedar': 'permit(principal, action == Action::"fs.read_text_file", resource) when { context.args.path == 3 };' });
    expect(errors.join()).toMatch(/t\.cedar:1/);
  });

  it('accepts typed argument policies, including optional ones guarded by `has`', () => {
    const c = compile({
      'ok.cedar': `permit(principal, action == Action::"fs.read_text_file", resource)
        when { context.args.path like "/srv/*" && (context.args has head && context.args.head.lessThan(decimal("100.0"))) && context.task.labels.isEmpty() };`,
    });
    expect(c.policies).toHaveLength(1);
    expect(c.argTypes.get('fs.read_text_file')?.attrs.lines?.type).toEqual({ kind: 'Set', element: { kind: 'Long' } });
  });

  it('refuses duplicate ids, templates and @approval on a permit', () => {
    expect(errorsOf({ 'd.cedar': '@id("x") permit(principal, action, resource);\n@id("x") permit(principal, action, resource);' })[0]).toMatch(/duplicate policy id `x` \(also at d\.cedar:1\)/);
    expect(errorsOf({ 't.cedar': 'permit(principal == ?principal, action, resource);' })[0]).toMatch(/templates .* not supported/);
    expect(errorsOf({ 'a.cedar': '@approval("owner") permit(principal, action, resource);' })[0]).toMatch(/@approval belongs on a forbid policy/);
  });

  it('reports every problem of every file at once', () => {
    const errors = errorsOf({ 'one.cedar': 'permit(principal, action, resource) when { context.nope };', 'two.cedar': 'nonsense' });
    expect(errors.some((e) => e.startsWith('one.cedar'))).toBe(true);
    expect(errors.some((e) => e.startsWith('two.cedar'))).toBe(true);
  });

  it('changes version when a policy changes and only then', () => {
    const a = compile({ 'x.cedar': 'permit(principal, action == Action::"startTask", resource);' });
    const b = compile({ 'x.cedar': 'permit(principal, action == Action::"startTask", resource);' });
    const c = compile({ 'x.cedar': 'forbid(principal, action == Action::"startTask", resource);' });
    expect(a.version).toBe(b.version);
    expect(c.version).not.toBe(a.version);
  });
});

describe('toolActionsSchema', () => {
  it('puts each tool action in `call` and its risk class, with typed arguments', () => {
    const { text } = toolActionsSchema([readFile]);
    expect(text).toContain('action "fs.read_text_file" in ["call", "read"]');
    expect(text).toContain('"args": { "path": String, "head"?: decimal, "lines"?: Set<Long> }');
  });
});
