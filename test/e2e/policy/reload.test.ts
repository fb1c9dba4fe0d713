// Policies are code: validated at start (an invalid set stops start-up with file and line),
// reloadable at run time, and a reload that does not validate changes nothing.

import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATIENCE, REPO, createTestAgent, freePort, startTask, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

const run = promisify(execFile);
let dir: string;
let s: TestServer;
let agent: TestAgent;
let taskId: string;

beforeAll(async () => {
  // A private copy of the demo configuration whose policies this test edits.
  dir = mkdtempSync(join(tmpdir(), 'mandate-reload-'));
  cpSync(join(REPO, 'policies'), join(dir, 'policies'), { recursive: true });
  cpSync(join(REPO, 'mandate.yaml'), join(dir, 'mandate.yaml'));
  s = await startTestServer({ config: join(dir, 'mandate.yaml') });
  agent = await createTestAgent(s);
  ({ taskId } = await startTask(s, agent, ['fs.read_text_file']));
});
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

const decide = async () =>
  (
    await s.api<{ decision: boolean; context: { policies: string[]; policy_version: string } }>('POST', '/access/v1/evaluation', {
      subject: { type: 'identity', id: agent.id },
      action: { name: 'tools/call' },
      resource: { type: 'tool', id: 'fs.read_text_file' },
      context: { task_id: taskId, arguments: { path: '/srv/demo/sandbox/reports/q3.txt' } },
    })
  ).body;

describe('policy reload', () => {
  it('takes effect on the next decision and is audited', async () => {
    const before = await decide();
    expect(before.decision).toBe(true);
    writeFileSync(join(dir, 'policies', 'freeze.cedar'), '@id("freeze") @reason("change freeze")\nforbid(principal, action in Action::"read", resource);\n');
    const r = await s.api<{ changed: boolean; version: string }>('POST', '/api/v1/policies/reload', {});
    expect(r.body.changed).toBe(true);
    const after = await decide();
    expect(after.decision).toBe(false);
    expect(after.context.policies).toEqual(['freeze']);
    expect(after.context.policy_version).toBe(r.body.version);
    rmSync(join(dir, 'policies', 'freeze.cedar'));
    await s.api('POST', '/api/v1/policies/reload', {});
    expect((await decide()).decision).toBe(true);
    const ev = await s.api<{ events: Array<{ outcome: string }> }>('GET', '/api/v1/audit?type=policy.reload');
    expect(ev.body.events.map((e) => e.outcome)).toEqual(['success', 'success']);
  });

  it('refuses a set that does not validate, names file and line, and keeps the old set', async () => {
    const version = (await decide()).context.policy_version;
    writeFileSync(join(dir, 'policies', 'broken.cedar'), 'permit(principal, action, resource);\n\nforbid(principal, action == Action::"fs.read_text_file", resource)\nwhen { context.args.pathh == "/x" };\n');
    const r = await s.api<{ error: string; error_description: string; errors: string[] }>('POST', '/api/v1/policies/reload', {});
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('policy_invalid');
    expect(r.body.errors[0]).toMatch(/^broken\.cedar:4:\d+: .*`args.pathh`/);
    const d = await decide();
    expect(d.decision).toBe(true);
    expect(d.context.policy_version).toBe(version);
    rmSync(join(dir, 'policies', 'broken.cedar'));
  });

  it('stops `mandate serve` at start on an invalid set, naming file and line', async () => {
    writeFileSync(join(dir, 'policies', 'typo.cedar'), 'permit(principal, action, resource) when { principal.nmae == "x" };\n');
    const data = mkdtempSync(join(tmpdir(), 'mandate-reload-data-'));
    try {
      await run(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', join(dir, 'mandate.yaml'), '--data-dir', data, 'serve', '--port', String(await freePort())], { timeout: PATIENCE });
      throw new Error('serve should have failed');
    } catch (err) {
      const e = err as { code: number; stderr: string };
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/typo\.cedar:1:\d+: policy `typo#0`: .*`nmae`/);
    } finally {
      rmSync(join(dir, 'policies', 'typo.cedar'));
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('`mandate policy validate` reports the same without a server', async () => {
    const ok = await run(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', join(dir, 'mandate.yaml'), 'policy', 'validate', '--json']);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true });
  });
});
