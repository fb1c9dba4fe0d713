// Arguments against the pinned input schema: the JSON Schema dialects MCP servers send, the
// `additionalArguments` switch, and schemas that cannot be used (refused, never skipped).

import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../core/tool.js';
import { ArgumentValidator } from './arg-schema.js';

const tool = (inputSchema: Record<string, unknown> | undefined, over: Partial<ToolSpec> = {}): ToolSpec => ({
  name: 'bank.update_transaction',
  upstream: 'bank',
  remoteName: 'update_transaction',
  description: '',
  risk: 'write',
  classification: 'confidential',
  tags: [],
  inputSchema,
  resources: {},
  discovered: true,
  blocked: null,
  ...over,
});

const v = new ArgumentValidator();
const schema = { type: 'object', properties: { id: { type: 'integer' }, amount: { type: 'number', minimum: 0 } }, required: ['id'] };

describe('arguments against the pinned input schema', () => {
  it('accepts arguments that fit', () => {
    expect(v.check(tool(schema), { id: 7, amount: 10.5 })).toBeNull();
  });

  it.each([
    // An argument policy never saw (the schema does not declare it) smuggled to the upstream.
    ['an undeclared argument', { id: 7, recipient: 'DE00 attacker' }, 'undeclared', /argument `recipient` is not declared/],
    ['a wrong type', { id: '7' }, 'invalid', /argument `id` must be integer/],
    ['a missing required argument', { amount: 1 }, 'invalid', /missing required argument `id`/],
    ['a value the schema forbids', { id: 7, amount: -5 }, 'invalid', /argument `amount` must be >= 0/],
    // `__proto__` is data, not a way to hide a key from the check.
    ['a __proto__ key', JSON.parse('{"id":7,"__proto__":{"recipient":"x"}}'), 'undeclared', /`__proto__` is not declared/],
  ])('refuses %s', (_n, args, kind, message) => {
    const p = v.check(tool(schema), args as Record<string, unknown>);
    expect(p?.kind).toBe(kind);
    expect(p?.message).toMatch(message);
  });

  it('forwards undeclared arguments only when the tool says `additionalArguments: allow`', () => {
    expect(v.check(tool(schema, { additionalArguments: 'allow' }), { id: 7, extra: true })).toBeNull();
    expect(v.check(tool(undefined), { anything: 1 })?.kind).toBe('undeclared');
    expect(v.check(tool(undefined), {})).toBeNull();
    expect(v.check(tool(undefined, { additionalArguments: 'allow' }), { anything: 1 })).toBeNull();
  });

  it('reads draft-07 and 2020-12 schemas (what zod-based and other servers send)', () => {
    const d7 = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } } }, additionalProperties: false };
    expect(v.check(tool(d7), { tags: ['a'] })).toBeNull();
    expect(v.check(tool(d7), { tags: [1] })?.message).toMatch(/argument `tags.0` must be string/);
    const d2020 = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }] } } };
    expect(v.check(tool(d2020), { pair: ['a', 1] })).toBeNull();
    expect(v.check(tool(d2020), { pair: ['a', 'b'] })?.kind).toBe('invalid');
  });

  it('refuses calls when the schema itself cannot be compiled (fail closed)', () => {
    const broken = { type: 'object', properties: { id: { type: 'no-such-type' } } };
    const p = v.check(tool(broken), { id: 1 });
    expect(p?.kind).toBe('schema');
    expect(p?.message).toMatch(/cannot be used to check arguments/);
  });
});
