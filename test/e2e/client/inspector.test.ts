// The MCP Inspector's CLI (`npx @modelcontextprotocol/inspector --cli`, the stock debugging
// client) works through Mandate with a task credential from `mandate task start` passed as a
// header (Bearer credentials are allowed for agents in `dev`): it lists only the task's tools,
// calls them under policy, and is refused once the task has ended.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CONFIG, REPO, startTestServer, type TestServer } from '../../helpers/server.js';

const exec = promisify(execFile);
const INSPECTOR = join(REPO, 'node_modules/@modelcontextprotocol/inspector');
const REPORTS = join(REPO, 'demo/sandbox/reports');
/** The inspector CLI's exit codes for a tool result with isError, and for a server that wants authorization. */
const TOOL_ERROR = 5;
const AUTH_REQUIRED = 3;

let s: TestServer;
let cwd: string;
let credential: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  try {
    return { code: 0, ...(await exec(process.execPath, [file, ...args], { cwd, env: { ...process.env, ...env } })) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `bin/mandate …` against the test server, as the README's walkthrough runs it. */
function mandate(...args: string[]): Promise<Run> {
  return run(join(REPO, 'bin/mandate'), ['--config', DEMO_CONFIG, '--data-dir', s.dataDir, '--url', s.url, ...args]);
}

/**
 * The inspector's own bin (`mcp-inspector`), run with node rather than npx so nothing is fetched.
 * HOME is the test's folder: the inspector keeps OAuth state and a catalogue under ~/.mcp-inspector.
 */
function inspector(...args: string[]): Promise<Run> {
  const bin = (JSON.parse(readFileSync(join(INSPECTOR, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['mcp-inspector']!;
  return run(join(INSPECTOR, bin), ['--cli', `${s.url}/mcp`, '--transport', 'http', '--stored-auth-only', '--format', 'json', ...args], { HOME: cwd });
}

const bearer = () => ['--header', `Authorization: Bearer ${credential}`];

beforeAll(async () => {
  s = await startTestServer();
  cwd = mkdtempSync(join(tmpdir(), 'mandate-inspector-'));
  const created = await mandate('agent', 'create', '--name', 'inspector', '--owner', 'alice@corp.example', '--purpose', 'debug with the MCP Inspector');
  expect(created.stderr).toBe('');
  const started = await mandate('task', 'start', '--key', 'inspector.agent-key.json', '--intent', 'look at the reports', '--tool', 'fs.read_text_file', '--tool', 'fs.list_directory', '--resource', `file://${REPORTS}/*`);
  expect(started.stderr).toBe('');
  credential = (JSON.parse(readFileSync(join(cwd, 'task-credential.json'), 'utf8')) as { access_token: string }).access_token;
});
afterAll(async () => {
  await s?.close();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('MCP Inspector CLI through Mandate', () => {
  it('lists exactly the task’s tools with the credential from `mandate task start`', async () => {
    const r = await inspector('--method', 'tools/list', ...bearer());
    expect(r.code, r.stderr).toBe(0);
    // `--format json`: one JSON object, `{ result }` or `{ error }`.
    const { tools } = (JSON.parse(r.stdout) as { result: { tools: Array<{ name: string }> } }).result;
    expect(tools.map((t) => t.name).sort()).toEqual(['fs.list_directory', 'fs.read_text_file']);
  });

  it('calls a tool inside the task, and shows a denial with its reason', async () => {
    const read = await inspector('--method', 'tools/call', '--tool-name', 'fs.read_text_file', '--tool-arg', `path=${REPORTS}/q3-summary.txt`, ...bearer());
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toContain('Revenue grew 12%');

    const denied = await inspector('--method', 'tools/call', '--tool-name', 'fs.read_text_file', '--tool-arg', `path=${REPORTS}/../private/salaries.csv`, ...bearer());
    expect(denied.code).toBe(TOOL_ERROR);
    const { result } = JSON.parse(denied.stdout) as { result: { isError: boolean; content: Array<{ text: string }> } };
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toMatch(/^denied by Mandate: .*outside the task's declared resources/);
    expect(denied.stderr).toContain('tool_is_error');
  });

  it('without a credential it asks for authorization and does not hang (no interactive OAuth here)', async () => {
    const r = await inspector('--method', 'tools/list');
    expect(r.code).toBe(AUTH_REQUIRED);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('auth_required');
  });

  it('is refused once the task has ended', async () => {
    const ended = await mandate('task', 'end', '--credential', 'task-credential.json');
    expect(ended.stdout).toMatch(/^ended task task_\w+/);
    const r = await inspector('--method', 'tools/list', ...bearer());
    expect(r.code).toBe(AUTH_REQUIRED);
    expect(r.stdout).toBe('');
    // Mandate's reason reaches the person at the terminal.
    expect(r.stderr).toMatch(/invalid_token.*credential's task `task_\w+` has ended/);
  });
});
