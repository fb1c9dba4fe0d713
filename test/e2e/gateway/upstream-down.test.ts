// A user's own upstream (the reference "everything" server, tool schemas not copied into
// mandate.yaml) with a policy on one of its tools. When that upstream is down at start, the tools
// it last offered (pinned in the store) keep the policy set valid: the server starts, the CLI and
// `policy validate` work and agree, and calls to its tools fail clearly until it is back.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { connectAgent, text } from '../../helpers/gateway.js';
import { REPO, createTestAgent, freePort, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'mandate-down-'));
const dataDir = join(dir, 'data');
const config = join(dir, 'mandate.yaml');

function writeConfig(upstreamScript: string): void {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(
    join(dir, 'policies', 'mine.cedar'),
    `permit (principal is Agent, action == Action::"startTask", resource);
@id("sums-up-to-100") permit (principal is Agent, action == Action::"everything.get-sum", resource)
when { context.args has a && context.args.a.lessThanOrEqual(decimal("100.0")) };
`,
  );
  writeFileSync(
    config,
    `trustDomain: down.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
upstreams:
  everything:
    command: ${process.execPath}
    args: [${upstreamScript}, stdio]
`,
  );
}

const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'MANDATE_URL' && k !== 'MANDATE_TOKEN'));
// No server runs: the CLI works on the store itself.
const cli = async (...args: string[]) => {
  const port = String(await freePort());
  return run(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', config, '--data-dir', dataDir, ...args], { env: { ...cliEnv, MANDATE_PORT: port } });
};

let s: TestServer | undefined;
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an upstream that is down at start', () => {
  it('keeps the policies on its tools valid from what it last offered (pinned), and its calls fail clearly', async () => {
    writeConfig(join(REPO, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'));
    s = await startTestServer({ config, dataDir, keepData: true });
    const agent = await createTestAgent(s);
    const t = await startTask(s, agent, ['everything.get-sum']);
    const up = await connectAgent(s, t.token);
    expect(text(await up.callTool({ name: 'everything.get-sum', arguments: { a: 2, b: 3 } }))).toMatch(/5/);
    await up.close();
    await s.close();
    s = undefined;

    // The upstream's command is now broken (a typo, a missing package): it cannot start.
    writeConfig(join(dir, 'no-such-server.js'));
    s = await startTestServer({ config, dataDir, keepData: true });
    expect(s.m.policy.current.compiled.policies.map((p) => p.id)).toContain('sums-up-to-100');
    // The operator sees why: the command's own last words, not just "Connection closed".
    const status = await s.api<{ upstreams: Array<{ name: string; connected: boolean; lastError: string }> }>('GET', '/api/v1/upstreams');
    const everything = status.body.upstreams.find((u) => u.name === 'everything')!;
    expect(everything.connected).toBe(false);
    expect(everything.lastError).toMatch(/wrote to stderr: .*Cannot find module .*no-such-server\.js.*\(check upstreams\.everything\.command, args and cwd\)/);
    const t2 = await startTask(s, agent, ['everything.get-sum']);
    const down = await connectAgent(s, t2.token);
    expect((await down.listTools()).tools).toEqual([]);
    const r = await down.callTool({ name: 'everything.get-sum', arguments: { a: 2, b: 3 } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/upstream `everything`/);
    await down.close();
    await s.close();
    s = undefined;

    // With the server stopped, the CLI works on the store and `policy validate` agrees with the server.
    const validate = await cli('policy', 'validate');
    expect(validate.stdout).toMatch(/policies valid: 2 policies/);
    const agents = await cli('agent', 'list', '--json');
    expect(JSON.parse(agents.stdout).map((a: { id: string }) => a.id)).toContain(agent.id);
    const suspended = await cli('agent', 'suspend', agent.id, '--reason', 'test');
    expect(suspended.stdout + suspended.stderr).toMatch(/suspend/i);
  });
});
