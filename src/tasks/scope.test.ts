// Task scope enforcement: paths and URLs are normalised before matching so a declared
// pattern cannot be escaped; constraints hold for every value; resources must lie inside.

import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../core/tool.js';
import { globMatch, normalisePath, normaliseResource, resourceFromArg } from './resource-uri.js';
import { checkCallScope } from './scope.js';

const readFile: ToolSpec = { name: 'fs.read_text_file', upstream: 'fs', description: '', risk: 'read', classification: 'internal', tags: [], inputSchema: undefined, resources: { path: 'path' }, remoteName: 'read_text_file', discovered: true, blocked: null };
const fetchTool: ToolSpec = { name: 'web.fetch', upstream: 'web', description: '', risk: 'egress', classification: 'public', tags: [], inputSchema: undefined, resources: { url: 'url' }, remoteName: 'fetch', discovered: true, blocked: null };
const transfer: ToolSpec = { name: 'bank.transfer', upstream: 'bank', description: '', risk: 'write', classification: 'confidential', tags: [], inputSchema: undefined, resources: {}, remoteName: 'transfer', discovered: true, blocked: null };

const scope = {
  tools: [
    { name: 'fs.read_text_file' },
    { name: 'web.fetch' },
    { name: 'bank.transfer', constraints: { iban: { in: ['DE89370400440532013000'] }, amount: { max: 1200, min: 1 } }, max_calls: 2 },
  ],
  resources: ['file:///srv/reports/*', 'https://weather.example/*'],
};

describe('path and URL escapes are stopped', () => {
  const denied: Array<[string, string, string]> = [
    // Directory traversal out of the declared folder.
    ['dot-dot traversal', 'fs.read_text_file', '/srv/reports/../secrets/keys.txt'],
    // The same, percent-encoded (once and twice) to slip past a naive matcher.
    ['encoded traversal', 'fs.read_text_file', '/srv/reports/%2e%2e/secrets/keys.txt'],
    ['double-encoded traversal', 'fs.read_text_file', '/srv/reports/%252e%252e/secrets/keys.txt'],
    // A sibling folder sharing the prefix.
    ['prefix sibling', 'fs.read_text_file', '/srv/reports-old/x.txt'],
    // Backslashes as separators.
    ['backslash traversal', 'fs.read_text_file', '/srv/reports\\..\\secrets\\k'],
    // Relative paths resolve somewhere unknown.
    ['relative path', 'fs.read_text_file', 'reports/x.txt'],
    // NUL byte truncation tricks.
    ['NUL byte', 'fs.read_text_file', '/srv/reports/x.txt\0/../../etc/passwd'],
    // Userinfo trick: the real host is evil.example.
    ['URL userinfo', 'web.fetch', 'https://weather.example@evil.example/x'],
    // Host case and lookalike suffix.
    ['lookalike host', 'web.fetch', 'https://weather.example.evil.example/x'],
    // Traversal in a URL path is resolved too (and still inside here, so use another host).
    ['scheme downgrade', 'web.fetch', 'http://weather.example/today'],
  ];
  it.each(denied)('denies %s', (_name, tool, value) => {
    const spec = tool === 'web.fetch' ? fetchTool : readFile;
    const args = tool === 'web.fetch' ? { url: value } : { path: value };
    const r = checkCallScope(scope, spec, args, 0);
    expect(r.ok).toBe(false);
    expect(r.reasons.length).toBeGreaterThan(0);
  });

  const allowed: Array<[string, ToolSpec, Record<string, unknown>]> = [
    ['a file inside', readFile, { path: '/srv/reports/q3.txt' }],
    ['a nested file with a harmless dot-dot', readFile, { path: '/srv/reports/2026/../q3.txt' }],
    ['an upper-case host', fetchTool, { url: 'HTTPS://WEATHER.example/today' }],
  ];
  it.each(allowed)('allows %s', (_n, tool, args) => {
    expect(checkCallScope(scope, tool, args, 0)).toMatchObject({ ok: true });
  });
});

describe('constraints', () => {
  it('allows a transfer inside the declared IBAN and amount', () => {
    expect(checkCallScope(scope, transfer, { iban: 'DE89370400440532013000', amount: 100 }, 0).ok).toBe(true);
  });
  it.each([
    ['another IBAN (payment redirection)', { iban: 'GB33BUKB20201555555555', amount: 100 }, /not in the task's allowed set/],
    ['an amount above the maximum', { iban: 'DE89370400440532013000', amount: 5000 }, /above the task's maximum 1200/],
    ['an amount below the minimum', { iban: 'DE89370400440532013000', amount: 0 }, /below the task's minimum 1/],
    ['a missing constrained argument', { amount: 100 }, /constrained by the task but missing/],
    ['an amount given as a string', { iban: 'DE89370400440532013000', amount: '100' }, /must be a number/],
  ])('denies %s', (_n, args, reason) => {
    const r = checkCallScope(scope, transfer, args, 0);
    expect(r.ok).toBe(false);
    expect(r.reasons.join()).toMatch(reason);
  });
  it('enforces max_calls', () => {
    expect(checkCallScope(scope, transfer, { iban: 'DE89370400440532013000', amount: 1 }, 2).reasons.join()).toMatch(/limit of 2 calls/);
  });
  it('checks every element of an array argument', () => {
    const s = { tools: [{ name: 'mail.send', constraints: { to: { in: ['a@corp.example', 'b@corp.example'] } } }], resources: [] };
    const mail: ToolSpec = { ...transfer, name: 'mail.send' };
    expect(checkCallScope(s, mail, { to: ['a@corp.example', 'b@corp.example'] }, 0).ok).toBe(true);
    expect(checkCallScope(s, mail, { to: ['a@corp.example', 'attacker@evil.example'] }, 0).ok).toBe(false);
  });
  it('denies a tool the task did not declare', () => {
    expect(checkCallScope(scope, { ...readFile, name: 'fs.write_file' }, { path: '/srv/reports/x' }, 0).reasons).toEqual(["tool `fs.write_file` is not in the task's scope"]);
  });
});

describe('normalisation', () => {
  it('normalises paths', () => {
    expect(normalisePath('/srv//reports/./a/../b.txt')).toBe('/srv/reports/b.txt');
    expect(normalisePath('/srv/reports/')).toBe('/srv/reports');
    expect(() => normalisePath('%zz')).toThrow(/malformed percent-encoding/);
  });
  it('normalises resources and patterns', () => {
    expect(normaliseResource('file:///srv/reports/../x/*', true)).toBe('file:///srv/x/*');
    expect(normaliseResource('HTTPS://Weather.Example:443/a/../b?q=1')).toBe('https://weather.example/b?q=1');
    expect(normaliseResource('mailto:Boss@Corp.Example')).toBe('mailto:boss@corp.example');
    expect(resourceFromArg('email', 'Boss@corp.example')).toBe('mailto:boss@corp.example');
  });
  it('matches globs literally apart from *', () => {
    expect(globMatch('file:///srv/*.txt', 'file:///srv/a/b.txt')).toBe(true);
    expect(globMatch('file:///srv/?.txt', 'file:///srv/a.txt')).toBe(false);
    expect(globMatch('a*b*c', 'abc')).toBe(true);
    expect(globMatch('a*b*c', 'acb')).toBe(false);
  });
});
