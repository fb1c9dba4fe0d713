// The README's five-minute walkthrough, run as written: the real `mandate serve` process, then
// the README's bash block in a second shell (only the port is changed, so tests never collide
// with a server a developer has running on 7070).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, freePort } from '../../helpers/server.js';

let dir: string;
let port: number;
let server: ChildProcess;
let serverOut = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mandate-readme-'));
  for (const f of ['bin', 'demo', 'policies', 'mandate.yaml']) symlinkSync(join(REPO, f), join(dir, f));
  port = await freePort();
  server = spawn(process.execPath, [join(REPO, 'dist/cli/main.js'), 'serve'], { cwd: dir, env: { ...process.env, MANDATE_PORT: String(port) } });
  server.stdout!.on('data', (d) => (serverOut += d));
  server.stderr!.on('data', (d) => (serverOut += d));
  const deadline = Date.now() + 20_000;
  while (!serverOut.includes('Mandate listening')) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start:\n${serverOut}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function block(name: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.split(`<!-- ${name}:start -->`)[1]!.split(`<!-- ${name}:end -->`)[0]!;
  return section.replace(/^```bash\n/m, '').replace(/```\s*$/m, '').replaceAll('7070', String(port));
}
const walkthrough = () => block('walkthrough');

describe('README walkthrough', () => {
  it('works when pasted', () => {
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', walkthrough()], { cwd: dir, env: { ...process.env, MANDATE_PORT: String(port) }, encoding: 'utf8', timeout: 60_000 });
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
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', block('breakglass')], { cwd: dir, env: { ...process.env, MANDATE_PORT: String(port) }, encoding: 'utf8', timeout: 60_000 });
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

  it('printed the admin token path at start, never the token', () => {
    const token = readFileSync(join(dir, '.mandate/admin-token'), 'utf8').trim();
    expect(serverOut).toMatch(/admin token: \.mandate\/admin-token \(mode 0600, created now\)/);
    expect(serverOut).not.toContain(token);
  });
});
