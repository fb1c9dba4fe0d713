// The README's five-minute walkthrough, run as written: the real `mandate serve` process, then
// the README's bash block in a second shell (only the port is changed, so tests never collide
// with a server a developer has running on 7070). Then the SDK section as a new user follows it:
// pack the SDK, install the tarball into a new project beside the clone, run the example.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATIENCE, REPO, freePort } from '../../helpers/server.js';

// Guards against a hang only (spawnSync blocks the event loop, so vitest's own timeout cannot
// fire while it runs): far above what a busy machine needs, never a speed assertion.
const HANG = 2 * PATIENCE;
let root: string;
let dir: string;
let port: number;
let server: ChildProcess;
let serverOut = '';

beforeAll(async () => {
  // The clone is `<root>/mandate`, so the SDK section's `../my-agent` stays inside <root>.
  root = mkdtempSync(join(tmpdir(), 'mandate-readme-'));
  dir = join(root, 'mandate');
  mkdirSync(dir);
  for (const f of ['bin', 'demo', 'policies', 'mandate.yaml', 'package.json', 'packages', 'src', 'tsconfig.json', 'node_modules']) symlinkSync(join(REPO, f), join(dir, f));
  port = await freePort();
  server = spawn(process.execPath, [join(REPO, 'dist/cli/main.js'), 'serve'], { cwd: dir, env: { ...process.env, MANDATE_PORT: String(port) } });
  server.stdout!.on('data', (d) => (serverOut += d));
  server.stderr!.on('data', (d) => (serverOut += d));
  const deadline = Date.now() + PATIENCE;
  while (!serverOut.includes('Mandate listening')) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start:\n${serverOut}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, PATIENCE);

afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
});

function block(name: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.split(`<!-- ${name}:start -->`)[1]!.split(`<!-- ${name}:end -->`)[0]!;
  return section.replace(/^```(bash|js)\n/m, '').replace(/```\s*$/m, '').replaceAll('7070', String(port));
}
const walkthrough = () => block('walkthrough');

describe('README walkthrough', () => {
  it('works when pasted', () => {
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', walkthrough()], { cwd: dir, env: { ...process.env, MANDATE_PORT: String(port) }, encoding: 'utf8', timeout: HANG });
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/created agent spiffe:\/\/demo\.mandate\.local\/agent\/reporter/);
    expect(out).toMatch(/started task task_\w+ \(expires in 600s\)/);
    // The in-scope read is allowed, the escape is denied with its reason.
    const decisions = [...out.matchAll(/\{"decision":(true|false)/g)].map((m) => m[1]);
    expect(decisions).toEqual(['true', 'false']);
    expect(out).toMatch(/salaries\.csv` is outside the task's declared resources/);
    expect(out).toMatch(/decision: DENY/);
    expect(out).toMatch(/call\.fs-reports-only/);
    expect(out).toMatch(/ended task task_\w+; its credential no longer works/);
    expect(out).toMatch(/audit log intact: \d+ events verified/);
    // The agent's private key and credential were written owner-only.
    expect(statSync(join(dir, 'reporter.agent-key.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'task-credential.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, '.mandate/admin-token')).mode & 0o777).toBe(0o600);
  });

  it('break-glass works when pasted after it', () => {
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', block('breakglass')], { cwd: dir, env: { ...process.env, MANDATE_PORT: String(port) }, encoding: 'utf8', timeout: HANG });
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/break-glass requested: approval apr_\w+, task task_\w+ \(pending\)/);
    expect(r.stderr).toMatch(/no one approves their own request/);
    expect(r.stdout).toMatch(/refused: no self-approval/);
    expect(out).toMatch(/approved apr_\w+: now pending \(1 of 2 approvals; waiting for more\)/);
    expect(out).toMatch(/approved apr_\w+: now used/);
    expect(out).toMatch(/started task task_\w+ \(expires in (8|9)\d\ds\)/);
    expect(out).toMatch(/events: .*breakglass\.request.*approval\.approve.*breakglass\.start.*task\.credential.*task\.end.*breakglass\.end/);
    // Personal tokens were printed to the pipe only, never logged by the server.
    expect(serverOut).not.toMatch(/mdt_user_/);
  });

  it('the SDK installs into a new project from the clone, and its example runs as pasted', () => {
    // The npm this test runs under passes its own settings on; a user's shell has none of them.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_(package|lifecycle)_|^INIT_CWD$/.test(k)) env[k] = v;
    env.npm_config_prefer_offline = 'true'; // the packages are in npm's cache after `npm ci`; the registry is asked only if not
    const install = spawnSync('bash', ['-euo', 'pipefail', '-c', block('sdk-install')], { cwd: dir, env, encoding: 'utf8', timeout: HANG });
    expect(install.status, install.stdout + install.stderr).toBe(0);
    expect(install.stdout).toContain('packages/client/mandate-client-0.1.0.tgz');
    const project = join(root, 'my-agent');
    const installed = JSON.parse(readFileSync(join(project, 'node_modules/@mandate/client/package.json'), 'utf8'));
    // Only the SDK and its two dependencies: nothing of the server reaches the agent's project.
    expect(Object.keys(installed.dependencies).sort()).toEqual(['@modelcontextprotocol/sdk', 'jose']);
    expect(() => statSync(join(project, 'node_modules/better-sqlite3'))).toThrow();
    expect(() => statSync(join(project, 'node_modules/fastify'))).toThrow();
    expect(statSync(join(project, 'reporter.agent-key.json')).mode & 0o777).toBe(0o600);

    writeFileSync(join(project, 'agent.mjs'), block('sdk-example'));
    const run = spawnSync(process.execPath, ['agent.mjs'], { cwd: project, env: { ...env, MANDATE_DIR: dir }, encoding: 'utf8', timeout: HANG });
    const out = run.stdout + run.stderr;
    expect(run.status, out).toBe(0);
    expect(run.stdout).toMatch(/^tools: fs\.read_text_file$/m);
    expect(run.stdout).toMatch(/^read: Q3 summary/m);
    expect(run.stdout).toMatch(/^denied: true denied by Mandate: .*salaries\.csv` is outside the task's declared resources/m);
  });

  it('printed the admin token path at start, never the token', () => {
    const token = readFileSync(join(dir, '.mandate/admin-token'), 'utf8').trim();
    expect(serverOut).toMatch(/admin token: \.mandate\/admin-token \(mode 0600, created now\)/);
    expect(serverOut).not.toContain(token);
  });
});
