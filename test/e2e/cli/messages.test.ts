// A new user's common mistakes, through the real `mandate` binary: each gets one or two lines that
// say what is wrong and what to do, never a stack trace (unless --debug asks for one).

import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CONFIG, REPO, createTestAgent, freePort, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

const exec = promisify(execFile);
let s: TestServer;
let cwd: string;
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MANDATE_')));

async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(process.execPath, [join(REPO, 'dist/cli/main.js'), ...args], { cwd, env: { ...env, ...extraEnv } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}
const noStack = (out: string) => expect(out).not.toMatch(/^\s+at /m);

beforeAll(async () => {
  s = await startTestServer();
  cwd = mkdtempSync(join(tmpdir(), 'mandate-cli-msg-'));
});
afterAll(async () => {
  await s?.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe('CLI errors say what is wrong and what to do', () => {
  const base = () => ['--config', DEMO_CONFIG, '--data-dir', s.dataDir, '--url', s.url];

  it('a wrong --key path', async () => {
    const r = await cli([...base(), 'task', 'start', '--key', join(cwd, 'nope.agent-key.json'), '--intent', 'x', '--tool', 'fs.read_text_file']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/^error: cannot read agent key .*nope\.agent-key\.json: no such file \(`mandate agent create` writes <name>\.agent-key\.json\)$/m);
    noStack(r.out);
  });

  it('a key file that is not a key', async () => {
    const bad = join(cwd, 'bad.agent-key.json');
    writeFileSync(bad, 'hello');
    const r = await cli([...base(), 'task', 'start', '--key', bad, '--intent', 'x', '--tool', 'fs.read_text_file']);
    expect(r.out).toMatch(/^error: .*bad\.agent-key\.json is not an agent key file: it is not JSON/m);
    noStack(r.out);
  });

  it('a port already in use, with the way out', async () => {
    const busy = createServer();
    const port = await new Promise<number>((res) => busy.listen(0, '127.0.0.1', () => res((busy.address() as { port: number }).port)));
    try {
      const r = await cli(['--config', DEMO_CONFIG, '--data-dir', join(cwd, 'data-busy'), 'serve', '--port', String(port)]);
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(new RegExp(`^error: port ${port} is already in use.*: stop what runs there, or pick another port with --port or MANDATE_PORT$`, 'm'));
      noStack(r.out);
      const debug = await cli(['--config', DEMO_CONFIG, '--data-dir', join(cwd, 'data-busy'), 'serve', '--port', String(port), '--debug']);
      expect(debug.out).toMatch(/^\s+at /m);
    } finally {
      busy.close();
    }
  });

  it('an explicit --url that nothing answers is an error, not a silent switch to the local store', async () => {
    const port = await freePort();
    const r = await cli(['--config', DEMO_CONFIG, '--data-dir', s.dataDir, '--url', `http://127.0.0.1:${port}`, 'agent', 'list']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/^error: nothing answers at http:\/\/127\.0\.0\.1:\d+ \(from --url or MANDATE_URL\): start Mandate there, or leave the URL unset/m);
    const viaEnv = await cli(['--config', DEMO_CONFIG, '--data-dir', s.dataDir, 'agent', 'list'], { MANDATE_URL: `http://127.0.0.1:${port}` });
    expect(viaEnv.out).toMatch(/nothing answers at/);
  });

  it('ending a task that already ended says so, with its status', async () => {
    const agent = await createTestAgent(s);
    const t = await startTask(s, agent);
    await s.api('POST', `/api/v1/tasks/${t.taskId}/revoke`, {});
    const r = await cli([...base(), 'task', 'end', t.taskId]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^task ${t.taskId} had already ended: it is revoked \\(revoked by admin\\) since \\d{4}-.*; nothing to do$`, 'm'));
  });

  it('an unknown tool name gets "did you mean", with the upstream prefix', async () => {
    const agent = await createTestAgent(s);
    const r = await s.form<Record<string, string>>('/oauth/token', {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await (await import('../../helpers/server.js')).clientAssertion(s, agent),
      authorization_details: JSON.stringify([{ type: 'mandate_task', intent: 'x', tools: ['read_text_file'] }]),
    });
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/unknown tool `read_text_file`: no upstream offers it; did you mean `fs.read_text_file`\? \(names are `<upstream>.<tool>`/);
  });
});

describe('the CLI on the store works whatever the policy files say', () => {
  it('lists agents and suspends one (the kill switch) with an invalid policy set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-badpol-'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'broken.cedar'), 'permit (principal, action, resource) when { this is not cedar };');
    writeFileSync(join(dir, 'mandate.yaml'), `policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }\n`);
    const port = String(await freePort());
    const args = ['--config', join(dir, 'mandate.yaml'), '--data-dir', join(dir, 'data')];
    const created = await cli([...args, 'agent', 'create', '--name', 'offline', '--owner', 'o@corp.example', '--purpose', 'p'], { MANDATE_PORT: port });
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/the policy files do not validate, so decisions here deny everything until they are fixed/);
    const list = await cli([...args, 'agent', 'list', '--json'], { MANDATE_PORT: port });
    expect(JSON.parse(list.out.slice(list.out.indexOf('['), list.out.lastIndexOf(']') + 1))).toEqual([expect.objectContaining({ name: 'offline' })]);
    const suspended = await cli([...args, 'agent', 'suspend', 'offline', '--reason', 'incident'], { MANDATE_PORT: port });
    expect(suspended.code).toBe(0);
    const verify = await cli([...args, 'audit', 'verify'], { MANDATE_PORT: port });
    expect(verify.code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
