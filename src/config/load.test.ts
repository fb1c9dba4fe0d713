// Configuration errors name the file, the key and what was expected.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'mandate-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string, env: Record<string, string> = {}) {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, yaml);
  return loadConfig({ configPath: f, env, cwd: dir });
}

describe('loadConfig', () => {
  it('refuses two upstreams whose tools would share a prefix, naming both', () => {
    expect(() => load('upstreams:\n  a: { command: x, prefix: "" }\n  b: { command: y, prefix: "" }\n')).toThrow(/upstreams `a` and `b` both name their tools with the prefix "": give one of them its own `prefix`/);
    expect(() => load('upstreams:\n  a: { command: x, prefix: "b." }\n  b: { command: y }\n')).toThrow(/upstreams `a` and `b` both name their tools with the prefix "b\."/);
    expect(() => load('upstreams:\n  a: { command: x, prefix: "a_" }\n  b: { command: y, prefix: "" }\n')).not.toThrow();
  });

  it('applies defaults and resolves paths against the config file', () => {
    const c = load('trustDomain: corp.example\n');
    expect(c.trustDomain).toBe('corp.example');
    expect(c.tasks).toEqual({ defaultTtl: 600, maxTtl: 600, sweepInterval: 1 });
    expect(c.policyDir).toBe(join(dir, 'policies'));
    expect(c.server.port).toBe(7070);
  });

  it.each([
    ['a wrong type', 'tasks:\n  maxTtl: "ten"\n', /`tasks.maxTtl`: .*number/],
    ['an unknown key', 'tasks:\n  maxTTL: 5\n', /`tasks`: .*maxTTL/],
    ['an unknown risk class', 'upstreams:\n  fs:\n    tools:\n      rm: { risk: scary }\n', /`upstreams.fs.tools.rm.risk`/],
    ['a default TTL above the cap', 'tasks:\n  defaultTtl: 900\n  maxTtl: 600\n', /`tasks.defaultTtl` \(900\) must not exceed `tasks.maxTtl` \(600\)/],
    ['invalid YAML', 'tasks: [\n', /invalid YAML/],
    ['a bad trust domain', 'trustDomain: "Not A Domain"\n', /`trustDomain`/],
    ['an HTTP API without its base URL', 'upstreams:\n  api: { kind: http }\n', /`upstreams.api.url`: an upstream of kind `http` needs `url`/],
    ['an HTTP API tool that is not a method', 'upstreams:\n  api: { kind: http, url: "http://x", tools: { fetch: {} } }\n', /must be an HTTP method/],
    ['an unknown auth scheme', 'upstreams:\n  api: { kind: http, url: "http://x", auth: { type: digest, secret: s } }\n', /`upstreams.api.auth.type`/],
    ['auth on an MCP upstream', 'upstreams:\n  m: { command: x, auth: { type: bearer, secret: s } }\n', /`auth` is for upstreams of kind `http`/],
    ['a database without its bound', 'upstreams:\n  db: { kind: postgres, connection: "postgres://a@h/d" }\n', /needs `privileges`/],
    ['a database privilege that is not one', 'upstreams:\n  db: { kind: postgres, connection: "postgres://a@h/d", privileges: { "public.t": [TRUNCATE] } }\n', /`upstreams.db.privileges/],
    ['a database object that is not schema.table', 'upstreams:\n  db: { kind: postgres, connection: "postgres://a@h/d", privileges: { "orders": [SELECT] } }\n', /`schema.table` or `schema.\*`/],
    // /mcp and /http/… are taken before any route; the others would fail the start with a duplicate route.
    ['a metrics path another endpoint has', 'metrics: { path: /http/metrics }\n', /`metrics.path`: this path belongs to another endpoint/],
    ['a metrics path that is not one', 'metrics: { path: "metrics?x=1" }\n', /`metrics.path`: expected an absolute path like `\/metrics`/],
  ])('rejects %s with the file and key named', (_n, yaml, message) => {
    expect(() => load(yaml)).toThrow(message);
    try {
      load(yaml);
    } catch (err) {
      expect((err as Error).message).toContain(dir);
    }
  });

  it('takes the port from MANDATE_PORT and rejects a bad one', () => {
    expect(load('{}', { MANDATE_PORT: '8081' }).server.port).toBe(8081);
    expect(() => load('{}', { MANDATE_PORT: 'eighty' })).toThrow(/MANDATE_PORT `eighty`: expected a port number/);
  });

  it('names a missing config file and what to do', () => {
    expect(() => loadConfig({ configPath: join(dir, 'nope.yaml'), env: {} })).toThrow(/nope\.yaml.*not found: pass --config/);
  });
});
