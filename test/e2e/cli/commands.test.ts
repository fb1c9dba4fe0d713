// The CLI against a running server: lists have --json, the kill switch works from the command
// line, errors say what to do next, and nothing prints a secret it should not.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CONFIG, REPO, createTestAgent, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

const exec = promisify(execFile);
let s: TestServer;
let cwd: string;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', DEMO_CONFIG, '--data-dir', s.dataDir, '--url', s.url, ...args], { cwd });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  s = await startTestServer();
  cwd = mkdtempSync(join(tmpdir(), 'mandate-cli-'));
});
afterAll(async () => {
  await s?.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe('mandate CLI', () => {
  it('creates an agent with a generated key and lists it as JSON', async () => {
    const c = await cli('agent', 'create', '--name', 'cli-agent', '--owner', 'carol@corp.example', '--purpose', 'cli test', '--environment', 'staging');
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/created agent spiffe:\/\/demo\.mandate\.local\/agent\/cli-agent/);
    const list = await cli('agent', 'list', '--json');
    const agents = JSON.parse(list.stdout) as Array<{ name: string; environment: string; jwks: { keys: Array<Record<string, unknown>> } }>;
    const mine = agents.find((a) => a.name === 'cli-agent')!;
    expect(mine.environment).toBe('staging');
    // Only the public key was registered.
    expect(mine.jwks.keys[0]).not.toHaveProperty('d');
  });

  it('starts a task with constraints and lists tasks as JSON', async () => {
    const c = await cli('task', 'start', '--key', join(cwd, 'cli-agent.agent-key.json'), '--intent', 'constrained read', '--tool', 'fs.read_text_file', '--constraint', 'fs.read_text_file.path=like:/srv/demo/sandbox/reports/*', '--resource', 'file:///srv/demo/sandbox/reports/*', '--out', join(cwd, 'cred.json'));
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    const tasks = JSON.parse((await cli('task', 'list', '--json', '--agent', 'cli-agent')).stdout) as Array<{ scope: { tools: Array<{ name: string; constraints: unknown }> } }>;
    expect(tasks[0]!.scope.tools[0]).toEqual({ name: 'fs.read_text_file', constraints: { path: { like: '/srv/demo/sandbox/reports/*' } } });
  });

  it('suspends an agent from the command line (kill switch) and its tasks end', async () => {
    const agent = await createTestAgent(s, { name: 'to-suspend' });
    const { token } = await startTask(s, agent);
    const c = await cli('agent', 'suspend', 'to-suspend', '--reason', 'leaked key');
    expect(c.stdout).toMatch(/agent to-suspend is now suspended/);
    await expect(s.m.credentials.verify(token, s.m.endpoints.mcp)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('explains a decision with the deciding policy and its location', async () => {
    const c = await cli('policy', 'explain', '--agent', 'cli-agent', '--tool', 'fs.read_text_file', '--args', '{"path":"/etc/shadow"}', '--json');
    const r = JSON.parse(c.stdout) as { decision: { decision: string }; policies: Array<{ id: string; determining: boolean; file: string; line: number }> };
    expect(r.decision.decision).toBe('deny');
    expect(r.policies.find((p) => p.determining)).toMatchObject({ id: 'call.fs-reports-only', file: 'demo.cedar' });
  });

  it('prints a PEP token once and never lists it', async () => {
    const c = await cli('token', 'create', '--name', 'edge-gw');
    const token = c.stdout.trim().split('\n').pop()!;
    expect(token).toMatch(/^mdt_pep_/);
    const list = await cli('token', 'list', '--json');
    expect(list.stdout).not.toContain(token);
  });

  it('says what to do next on errors', async () => {
    const bad = await cli('task', 'start', '--key', join(cwd, 'missing.json'), '--intent', 'x', '--tool', 'fs.read_text_file');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/cannot read agent key/);
    const args = await cli('policy', 'explain', '--agent', 'cli-agent', '--tool', 'fs.read_text_file', '--args', 'not json');
    expect(args.stderr).toMatch(/--args must be a JSON object/);
    const unknown = await cli('agent', 'show', 'ghost');
    expect(unknown.stderr).toMatch(/agent `ghost` not found/);
  });
});
