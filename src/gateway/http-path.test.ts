// The one path form that is checked and forwarded: every trick that makes a checker and a server
// read a path differently is either resolved here (so the check sees what the server will) or
// refused.

import { describe, expect, it } from 'vitest';
import { checkHttpScope } from '../tasks/scope.js';
import type { ToolSpec } from '../core/tool.js';
import { canonicalHttpPath, canonicalQuery } from './http-path.js';

describe('canonicalHttpPath', () => {
  it('keeps a plain path as it is', () => {
    expect(canonicalHttpPath('/v1/reports/q3')).toBe('/v1/reports/q3');
    expect(canonicalHttpPath('/v1/reports/')).toBe('/v1/reports/');
    expect(canonicalHttpPath('')).toBe('/');
  });

  it('resolves dot segments before the check (path traversal out of a granted prefix)', () => {
    expect(canonicalHttpPath('/v1/reports/../../admin/users')).toBe('/admin/users');
    expect(canonicalHttpPath('/v1/reports/./q3')).toBe('/v1/reports/q3');
    expect(canonicalHttpPath('/v1/reports/q3/..')).toBe('/v1/reports/');
  });

  it('decodes encoded dots and unreserved characters, so `%2e%2e` is a `..` (encoded traversal)', () => {
    expect(canonicalHttpPath('/v1/reports/%2e%2e/%2E%2E/admin')).toBe('/admin');
    expect(canonicalHttpPath('/v1/%72eports/q3')).toBe('/v1/reports/q3');
    expect(canonicalHttpPath('/v1/a%20b')).toBe('/v1/a%20b');
    expect(canonicalHttpPath('/v1/a%c3%a9')).toBe('/v1/a%C3%A9');
  });

  it('refuses to go above the root', () => {
    expect(() => canonicalHttpPath('/../etc/passwd')).toThrow(/above the API's root/);
    expect(() => canonicalHttpPath('/v1/../../x')).toThrow(/above/);
  });

  it('refuses an encoded slash or backslash (a segment one server splits and another does not)', () => {
    expect(() => canonicalHttpPath('/v1/reports%2F..%2Fadmin')).toThrow(/encoded slash/);
    expect(() => canonicalHttpPath('/v1/reports%5c..%5cadmin')).toThrow(/encoded backslash/);
  });

  it('refuses `;` path parameters (`/v1/reports/..;/admin` on servlet containers)', () => {
    expect(() => canonicalHttpPath('/v1/reports/..;/admin')).toThrow(/;/);
    expect(() => canonicalHttpPath('/v1/reports/%3b/admin')).toThrow(/%3B/);
  });

  it('refuses raw backslashes, spaces, control characters and malformed escapes', () => {
    expect(() => canonicalHttpPath('/v1\\..\\admin')).toThrow(/percent-encoded/);
    expect(() => canonicalHttpPath('/v1/a b')).toThrow(/percent-encoded/);
    expect(() => canonicalHttpPath('/v1/%00')).toThrow(/control/);
    expect(() => canonicalHttpPath('/v1/%zz')).toThrow(/malformed/);
    expect(() => canonicalHttpPath('v1/reports')).toThrow(/start with/);
  });

  it('collapses empty segments (`//admin` is `/admin`)', () => {
    expect(canonicalHttpPath('//admin//users')).toBe('/admin/users');
  });
});

describe('canonicalQuery', () => {
  it('parses and re-serialises one way', () => {
    expect(canonicalQuery('limit=2&b=x%20y')).toEqual({ text: 'limit=2&b=x+y', pairs: [['limit', '2'], ['b', 'x y']] });
  });
  it('refuses malformed escapes and control characters', () => {
    expect(() => canonicalQuery('a=%zz')).toThrow(/malformed/);
    expect(() => canonicalQuery('a=%0a')).toThrow(/control/);
  });
});

describe('checkHttpScope', () => {
  const tool = { name: 'api.GET', kind: 'http', method: 'GET' } as ToolSpec;
  const scope = (tools: unknown[]) => ({ tools, resources: [] }) as never;

  it('allows a path its grant pattern matches and counts it against that grant', () => {
    const r = checkHttpScope(scope([{ name: 'api.GET /v1/reports/*' }]), tool, { path: '/v1/reports/q3', query: {} }, () => 0);
    expect(r).toEqual({ ok: true, reasons: [], grant: 'api.GET /v1/reports/*' });
  });

  it('denies a path no grant matches, naming what was granted', () => {
    const r = checkHttpScope(scope([{ name: 'api.GET /v1/reports/*' }]), tool, { path: '/admin/users', query: {} }, () => 0);
    expect(r.ok).toBe(false);
    expect(r.reasons[0]).toMatch(/GET `\/admin\/users` is not in the task's scope \(granted: `api.GET \/v1\/reports\/\*`\)/);
  });

  it('applies constraints on query parameters and the call limit of the grant', () => {
    const g = [{ name: 'api.GET /v1/reports', constraints: { 'query.limit': { in: ['1', '2'] } }, max_calls: 2 }];
    expect(checkHttpScope(scope(g), tool, { path: '/v1/reports', query: { limit: '2' } }, () => 0).ok).toBe(true);
    expect(checkHttpScope(scope(g), tool, { path: '/v1/reports', query: { limit: '500' } }, () => 0).reasons[0]).toMatch(/not in the task's allowed set/);
    expect(checkHttpScope(scope(g), tool, { path: '/v1/reports', query: { limit: ['1', '500'] } }, () => 0).ok).toBe(false);
    expect(checkHttpScope(scope(g), tool, { path: '/v1/reports', query: { limit: '1' } }, () => 2).reasons[0]).toMatch(/limit of 2 calls/);
  });

  it('a grant of another method never covers this one', () => {
    expect(checkHttpScope(scope([{ name: 'api.POST /v1/*' }, { name: 'api.GETX' }]), tool, { path: '/v1/x', query: {} }, () => 0).ok).toBe(false);
  });
});
