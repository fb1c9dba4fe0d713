// An upstream authenticated with a named secret (`${secret:<name>}` in its headers), read from an
// owner-only file by the secret broker: the upstream gets its credential, the agent never sees
// it, and neither does the audit log or the server log. A reference to a secret that is not
// declared stops start-up, naming it.

import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestAgent, REPO, startTask, startTestServer, type TestServer } from '../../helpers/server.js';
import { startHttpUpstream, UPSTREAM_SECRET, type TestUpstream } from '../../helpers/upstream-server.js';

let upstream: TestUpstream;
let dir: string;
let s: TestServer;

function writeConfig(headerValue: string): string {
  const path = join(dir, `mandate-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    `trustDomain: secrets.test
logging: { level: debug }
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
secrets:
  upstream_token: { file: ${join(dir, 'upstream-token')} }
upstreams:
  http:
    url: ${upstream.url}
    headers: { Authorization: "${headerValue}" }
`,
  );
  return path;
}

beforeAll(async () => {
  upstream = await startHttpUpstream();
  dir = mkdtempSync(join(tmpdir(), 'mandate-upstream-secrets-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'p.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
  writeFileSync(join(dir, 'upstream-token'), `${UPSTREAM_SECRET}\n`);
  chmodSync(join(dir, 'upstream-token'), 0o600);
  s = await startTestServer({ config: writeConfig('Bearer ${secret:upstream_token}') });
});
afterAll(async () => {
  await s?.close();
  await upstream?.close();
});

describe('an upstream authenticated with a named secret', () => {
  it('gets its credential from the broker; the agent, the audit log and the server log never see it', async () => {
    const agent = await createTestAgent(s);
    const t = await startTask(s, agent, ['http.echo', 'http.secret_report']);
    const client = await connectAgent(s, t.token);
    expect(text(await client.callTool({ name: 'http.echo', arguments: { text: 'hi' } }))).toBe('echo: hi');
    expect(upstream.unauthorized).toBe(0);
    // Whatever the agent can see: tool list, results, server info.
    const seen = JSON.stringify([await client.listTools(), client.getServerVersion(), client.getInstructions()]);
    expect(seen).not.toContain(UPSTREAM_SECRET);
    expect(JSON.stringify(await s.m.store.listAudit({ limit: 10_000 }))).not.toContain(UPSTREAM_SECRET);
    expect(s.logs.join('')).not.toContain(UPSTREAM_SECRET);
    await client.close();
  });

  it('refuses to start when an upstream names a secret that is not declared', async () => {
    const err = await startTestServer({ config: writeConfig('Bearer ${secret:nope}') }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/upstream `http` header `Authorization` uses `\$\{secret:nope\}`, which is not declared under `secrets`/);
  });
});
