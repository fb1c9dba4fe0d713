// Task scope enforcement: paths and URLs are normalised before matching so a declared
// pattern cannot be escaped; constraints hold for every value; resources must lie inside.

import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../core/tool.js';
import { canonicalPath, canonicalResourceArg, globMatch, normaliseResource, resourceFromArg } from './resource-uri.js';
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
    expect(canonicalPath('/srv//reports/./a/../b.txt')).toBe('/srv/reports/b.txt');
    expect(canonicalPath('/srv/reports/')).toBe('/srv/reports');
    expect(canonicalPath('/srv/reports/100% done.txt')).toBe('/srv/reports/100% done.txt');
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

// Every trick we know for making a checker and a tool read one argument two ways. Each row is
// either refused (ambiguous) or has one canonical form, which is what is checked and forwarded.
describe('canonical resource arguments (checked in one form, forwarded in another)', () => {
  const refused: Array<[string, 'path' | 'url' | 'email', string, RegExp]> = [
    ['userinfo hides the real host behind a backslash', 'url', 'https://weather.example\\@evil.example/', /backslash/],
    ['userinfo names a decoy host', 'url', 'https://weather.example@evil.example/', /userinfo/],
    ['userinfo with a password', 'url', 'https://u:p@weather.example/', /userinfo/],
    ['backslash as a path separator in a URL', 'url', 'https://weather.example\\..\\admin', /backslash/],
    ['encoded dot segment in a URL', 'url', 'https://weather.example/a/%2e%2e/admin', /encoded dot/],
    ['double-encoded dot segment in a URL', 'url', 'https://weather.example/a/%252e%252e/admin', /encoded/],
    ['encoded slash in a URL', 'url', 'https://weather.example/a%2fb', /encoded/],
    ['trailing dot on the host', 'url', 'https://weather.example./x', /ends its host with a dot/],
    ['a newline splits the request line', 'url', 'https://weather.example/x\nHost: evil', /whitespace or a control/],
    ['a tab inside the URL', 'url', 'https://weather.example/\tx', /whitespace or a control/],
    ['fullwidth dots in the path', 'url', 'https://weather.example/\uff0e\uff0e/admin', /Unicode normalisation/],
    ['encoded dot segment in a path', 'path', '/srv/demo/%2e%2e/secret', /percent-escape/],
    ['double-encoded dot segment in a path', 'path', '/srv/demo/%252e%252e/secret', /percent-escape/],
    ['backslash traversal in a path', 'path', '/srv/demo/..\\..\\etc/passwd', /backslash/],
    ['NUL truncation in a path', 'path', '/srv/demo/ok.txt\u0000.png', /control character/],
    ['one-dot leaders that normalise to ..', 'path', '/srv/demo/\u2025/secret', /Unicode normalisation/],
    ['fullwidth solidus in a path', 'path', '/srv/demo\uff0f..\uff0fsecret', /Unicode normalisation/],
    ['relative path', 'path', 'srv/demo/x', /not absolute/],
    ['a second recipient after a comma', 'email', 'boss@corp.example,evil@evil.example', /exactly one plain address/],
    ['a display name hiding the address', 'email', 'Boss <evil@evil.example>', /whitespace|exactly one plain address/],
  ];
  it.each(refused)('refuses %s', (_attack, kind, raw, why) => {
    expect(() => canonicalResourceArg(kind, raw)).toThrow(why);
  });

  const canonical: Array<[string, 'path' | 'url' | 'email', string, string]> = [
    ['dot segments in a path are resolved before the check, and forwarded resolved', 'path', '/srv/demo/reports/../secret', '/srv/demo/secret'],
    ['duplicate slashes in a path', 'path', '//srv//demo//x', '/srv/demo/x'],
    ['dot segments in a URL', 'url', 'https://weather.example/a/../../admin', 'https://weather.example/admin'],
    ['a decimal IPv4 host becomes dotted', 'url', 'http://2130706433/x', 'http://127.0.0.1/x'],
    ['a hex IPv4 host becomes dotted', 'url', 'http://0x7f.1/x', 'http://127.0.0.1/x'],
    ['an IPv4-mapped IPv6 host is compressed', 'url', 'http://[::ffff:127.0.0.1]/x', 'http://[::ffff:7f00:1]/x'],
    ['an IDN homograph becomes punycode (and no longer looks like the real host)', 'url', 'https://w\u0435ather.example/', 'https://xn--wather-3of.example/'],
    ['case and default port', 'url', 'HTTPS://Weather.Example:443/A', 'https://weather.example/A'],
    ['upper-case email', 'email', 'Boss@Corp.Example', 'boss@corp.example'],
  ];
  it.each(canonical)('%s', (_what, kind, raw, out) => {
    expect(canonicalResourceArg(kind, raw).value).toBe(out);
  });

  it('checks a URL argument in the canonical form it forwards', () => {
    const fetchTool = { ...readFile, name: 'web.fetch', resources: { url: 'url' as const } };
    const sc = { tools: [{ name: 'web.fetch' }], resources: ['https://weather.example/*'] };
    const ok = checkCallScope(sc, fetchTool, { url: 'HTTPS://WEATHER.example/a/../today' }, 0);
    expect(ok.ok).toBe(true);
    expect(ok.args.url).toBe('https://weather.example/today');
    const attack = checkCallScope(sc, fetchTool, { url: 'https://weather.example\\@evil.example/' }, 0);
    expect(attack.ok).toBe(false);
    expect(attack.reasons.join()).toMatch(/backslash/);
  });
});
