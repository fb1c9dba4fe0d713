// Least-privilege suggestions from evidence, against a history built through the real server and
// the real MCP client (the reference filesystem server over a sandbox, the stdio test upstream):
// - the suggested Cedar validates alone against the deployment's schema (and beside its policies),
//   cites its evidence exactly (calls, first/last seen, audit seq range, distinct values);
// - replaying the window with only the suggestion in force allows every call that ran (observe
//   mode's would-deny calls included) and lists the ones it denies (the ones refused anyway);
// - what the agent did not use is denied by it — another folder (/private/salaries.csv), another
//   host, a tool never called — through the same decision function the replay uses (the attack:
//   a "least privilege" suggestion that quietly grants more than the evidence shows);
// - bad input: an unknown agent, no calls in the window, only refused calls, an unknown field;
// - the CLI prints it, writes the files with --out, and --json gives the whole report.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ManualClock } from '../../../src/core/clock.js';
import { openSuggestedSet, type Suggestion } from '../../../src/governance/suggest.js';
import type { AuditEvent } from '../../../src/storage/types.js';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestAgent, REPO, startTask, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

const exec = promisify(execFile);
const HOUR = 3_600_000;
const START = Date.parse('2026-09-01T09:00:00Z');
let s: TestServer;
let clock: ManualClock;
let dir: string;
let config: string;
let sandbox: string;
let reporter: TestAgent;
let observer: TestAgent;
/** The reporter's tool.call events, oldest first. */
let history: AuditEvent[];

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

beforeAll(async () => {
  clock = new ManualClock(START);
  dir = mkdtempSync(join(tmpdir(), 'mandate-suggest-'));
  sandbox = join(dir, 'sandbox');
  mkdirSync(join(sandbox, 'reports'), { recursive: true });
  mkdirSync(join(sandbox, 'private'), { recursive: true });
  writeFileSync(join(sandbox, 'reports', 'q1.txt'), 'Q1 revenue flat');
  writeFileSync(join(sandbox, 'reports', 'q3.txt'), 'Q3 revenue grew 12%');
  writeFileSync(join(sandbox, 'private', 'salaries.csv'), 'alice,100');
  mkdirSync(join(dir, 'policies'));
  // The deployment's policies are broad (any call inside the task): what the agent uses is narrower.
  writeFileSync(
    join(dir, 'policies', 'p.cedar'),
    `permit (principal is Agent, action == Action::"startTask", resource);
permit (principal is Agent, action in Action::"call", resource);
@id("no-private") @reason("private files are not for agents")
forbid (principal, action == Action::"fs.read_text_file", resource) when { context.args.path like "*/private/*" };
@id("no-nope") @reason("nope is not said")
forbid (principal, action == Action::"stdio.echo", resource) when { context.args.text == "nope" };
`,
  );
  config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `trustDomain: suggest.test
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
enforcement: { agents: { observer: observe } }
upstreams:
  fs:
    command: ${process.execPath}
    args: [${join(REPO, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js')}, ${sandbox}]
    resources: { path: path, paths: path, source: path, destination: path }
    tools:
      read_text_file: { risk: read, classification: internal }
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
    resources: { url: url }
`,
  );
  s = await startTestServer({ config, clock });

  const resources = [`file://${sandbox}/*`, 'https://partner.example/*'];
  reporter = await createTestAgent(s, { name: 'reporter' });
  const t = await startTask(s, reporter, ['fs.read_text_file', 'stdio.echo', 'stdio.fetch'], { resources });
  const c = await connectAgent(s, t.token);
  const ok = async (name: string, args: Record<string, unknown>, expected: RegExp) => {
    clock.advance(60_000);
    const r = await c.callTool({ name, arguments: args });
    expect(r.isError, `${name} ${JSON.stringify(args)}: ${text(r)}`).toBeFalsy();
    expect(text(r)).toMatch(expected);
  };
  await ok('fs.read_text_file', { path: join(sandbox, 'reports/q1.txt') }, /Q1 revenue/);
  await ok('stdio.echo', { text: 'a' }, /echo: a/);
  await ok('fs.read_text_file', { path: join(sandbox, 'reports/q3.txt') }, /Q3 revenue/);
  await ok('stdio.echo', { text: 'b' }, /echo: b/);
  await ok('stdio.fetch', { url: 'https://partner.example/v1/orders/1' }, /fetched/);
  await ok('stdio.echo', { text: 'a' }, /echo: a/);
  await ok('stdio.fetch', { url: 'https://partner.example/v1/orders/2' }, /fetched/);
  // Refused anyway: a private file (policy), a tool outside the task (scope).
  clock.advance(60_000);
  expect(text(await c.callTool({ name: 'fs.read_text_file', arguments: { path: join(sandbox, 'private/salaries.csv') } }))).toMatch(/private files are not for agents/);
  expect((await c.callTool({ name: 'stdio.secret_report', arguments: {} })).isError).toBe(true);
  await c.close();

  // In observe mode: a call policy would deny runs, recorded as would-deny.
  observer = await createTestAgent(s, { name: 'observer' });
  const o = await connectAgent(s, (await startTask(s, observer, ['stdio.echo'], { resources: [] })).token);
  expect(text(await o.callTool({ name: 'stdio.echo', arguments: { text: 'nope' } }))).toBe('echo: nope');
  expect(text(await o.callTool({ name: 'stdio.echo', arguments: { text: 'yes' } }))).toBe('echo: yes');
  await o.close();

  // Only refused calls.
  const refused = await createTestAgent(s, { name: 'refused' });
  const x = await connectAgent(s, (await startTask(s, refused, ['stdio.echo'], { resources: [] })).token);
  expect(text(await x.callTool({ name: 'stdio.echo', arguments: { text: 'nope' } }))).toMatch(/nope is not said/);
  await x.close();
  await createTestAgent(s, { name: 'idle' });

  await s.m.audit.drain();
  history = (await s.m.store.listAudit({ agentId: reporter.id, type: 'tool.call', limit: 100 })).sort((a, b) => a.seq - b.seq);
  expect(history.map((e) => e.decision)).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'allow', 'allow', 'deny', 'deny']);
  clock.advance(HOUR);
});
afterAll(async () => {
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function suggest(agent: string, since: string | number = '1d') {
  return s.api<Suggestion>('POST', '/api/v1/policies/suggest', { agent, since });
}

describe('policy suggest', () => {
  let r: Suggestion;
  beforeAll(async () => {
    const res = await suggest('reporter');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    r = res.body;
  });

  it('suggests one permit per tool used, narrowed to what was used, and it validates', async () => {
    expect(r.validation).toEqual({ valid: true, errors: [], warnings: [] });
    expect(r.evidence).toMatchObject({ calls: 9, used: 7, wouldDeny: 0, denied: 2, skipped: [] });
    expect(r.evidence.tools.map((t) => [t.tool, t.calls])).toEqual([
      ['fs.read_text_file', 2],
      ['stdio.echo', 3],
      ['stdio.fetch', 2],
    ]);
    expect(r.policies).toContain(`context.args.path like "${sandbox}/reports/*"`);
    expect(r.policies).toContain('["a", "b"].contains(context.args.text)');
    expect(r.policies).toContain('context.args.url like "https://partner.example/v1/orders/*"');
    expect(r.policies).toContain(`permit (principal == Agent::"${reporter.id}", action == Action::"startTask", resource is Tool)`);
    expect(r.policies).toContain('[Tool::"fs.read_text_file", Tool::"stdio.echo", Tool::"stdio.fetch"].contains(resource)');

    // Valid beside the deployment's own policies too (what `policy validate` would say once installed).
    const c = s.m.policy.compile({ 'suggested-reporter.cedar': r.policies });
    expect(c.policies.filter((p) => p.id.startsWith('suggested.')).map((p) => p.id).sort()).toEqual([
      'suggested.reporter.fs.read_text_file',
      'suggested.reporter.startTask',
      'suggested.reporter.stdio.echo',
      'suggested.reporter.stdio.fetch',
    ]);

    // The template: the tools used and the resources they named, valid config.
    const y = parse(r.templates) as { taskTemplates: Record<string, { tools: string[]; resources: string[]; intent: string; ttl: number }> };
    expect(y.taskTemplates['suggested-reporter']).toMatchObject({
      tools: ['fs.read_text_file', 'stdio.echo', 'stdio.fetch'],
      resources: ['https://partner.example/v1/orders/*', `file://${sandbox}/reports/*`].sort(),
      intent: 'summarise the weekly reports',
      ttl: 600,
    });
  });

  it('cites its evidence: calls, first and last seen, the audit seq range, distinct values', () => {
    const of = (tool: string) => history.filter((e) => e.decision === 'allow' && (e.data as { tool: string }).tool === tool);
    for (const tool of ['fs.read_text_file', 'stdio.echo', 'stdio.fetch']) {
      const evs = of(tool);
      const first = evs[0]!;
      const last = evs[evs.length - 1]!;
      expect(r.evidence.tools.find((t) => t.tool === tool)).toMatchObject({ calls: evs.length, firstSeen: first.ts, lastSeen: last.ts, seq: { first: first.seq, last: last.seq } });
      expect(r.policies).toContain(`// ${tool}: ${evs.length} calls, first ${iso(first.ts)}, last ${iso(last.ts)}, audit seq ${first.seq}..${last.seq}`);
    }
    expect(r.policies).toContain('//   text: 2 distinct values, exactly those; seen "a", "b"');
    expect(r.policies).toContain(`//   path (path): 2 distinct values, allowed: under "${sandbox}/reports/"; seen "${sandbox}/reports/q1.txt", "${sandbox}/reports/q3.txt"`);
    expect(r.policies).toMatch(/\/\/ from the 7 calls it ran between/);
  });

  it('replay: every call that ran is allowed; the refused ones are listed', () => {
    expect(r.replay).toMatchObject({ calls: 9, used: 7, usedAllowed: 7, allowed: 7, denied: 2, deniedOmitted: 0, notes: [] });
    const refused = history.filter((e) => e.decision !== 'allow');
    expect(r.replay!.deniedCalls.map((c) => [c.seq, c.tool, c.was])).toEqual(refused.map((e) => [e.seq, (e.data as { tool: string }).tool, 'deny']));
    expect(r.replay!.deniedCalls.every((c) => c.reason.length > 0)).toBe(true);
  });

  it('what was not used is denied by the suggestion, through the same decision as the replay', async () => {
    const set = await openSuggestedSet(s.m, r.policies);
    const agent = await s.m.agents.get('reporter');
    const decide = (tool: string, args: Record<string, unknown>) => set.decide(agent, tool, args).decision;
    try {
      // Used, and inside the generalisation.
      expect(decide('fs.read_text_file', { path: join(sandbox, 'reports/q3.txt') })).toBe('allow');
      expect(decide('fs.read_text_file', { path: join(sandbox, 'reports/q2.txt') })).toBe('allow');
      // Outside: another folder (also spelt with ..), another echo, another path or host, a tool never used.
      expect(decide('fs.read_text_file', { path: join(sandbox, 'private/salaries.csv') })).toBe('deny');
      expect(decide('fs.read_text_file', { path: `${sandbox}/reports/../private/salaries.csv` })).toBe('deny');
      expect(decide('stdio.echo', { text: 'c' })).toBe('deny');
      expect(decide('stdio.fetch', { url: 'https://partner.example/v1/admin' })).toBe('deny');
      expect(decide('stdio.fetch', { url: 'https://evil.example/v1/orders/1' })).toBe('deny');
      expect(decide('stdio.secret_report', {})).toBe('deny');
      expect(decide('fs.write_file', { path: join(sandbox, 'reports/q1.txt'), content: 'x' })).toBe('deny');
      // Nor may it ask for a tool it never used.
      expect(set.decideStart(agent, 'stdio.echo').decision).toBe('allow');
      expect(set.decideStart(agent, 'fs.write_file').decision).toBe('deny');
      // Another agent is not covered by this agent's suggestion.
      const other = await s.m.agents.get('observer');
      expect(set.decide(other, 'stdio.echo', { text: 'a' }).decision).toBe('deny');
    } finally {
      set.close();
    }
  });

  it('observe mode: calls that ran as would-deny count as used and are allowed', async () => {
    const res = await suggest('observer');
    expect(res.status).toBe(200);
    expect(res.body.evidence).toMatchObject({ calls: 2, used: 2, wouldDeny: 1, denied: 0 });
    expect(res.body.evidence.tools[0]).toMatchObject({ tool: 'stdio.echo', calls: 2, wouldDeny: 1 });
    expect(res.body.policies).toContain('["nope", "yes"].contains(context.args.text)');
    expect(res.body.policies).toContain('(1 would-deny in observe mode)');
    expect(res.body.replay).toMatchObject({ used: 2, usedAllowed: 2, denied: 0 });
  });

  it('bad input: unknown agent, no calls in the window, only refused calls, unknown fields, no token', async () => {
    const unknown = await suggest('nobody');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'not_found', error_description: 'agent `nobody` not found' });
    const idle = await suggest('idle');
    expect(idle.status).toBe(404);
    expect((idle.body as unknown as { error_description: string }).error_description).toMatch(/^agent `idle` made no tool calls between .*: there is no evidence to suggest policies from/);
    // The reporter's calls are an hour old: a 30-minute window holds none of them.
    const late = await suggest('reporter', '30m');
    expect(late.status).toBe(404);
    expect((late.body as unknown as { error_description: string }).error_description).toMatch(/^agent `reporter` made no tool calls between/);
    const refused = await suggest('refused');
    expect(refused.status).toBe(404);
    expect((refused.body as unknown as { error_description: string }).error_description).toMatch(/^agent `refused` made 1 tool call between .* and none ran \(all refused\)/);
    const extra = await s.api('POST', '/api/v1/policies/suggest', { agent: 'reporter', policy: 'x' });
    expect(extra.status).toBe(400);
    expect(extra.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/unknown field `policy`/) });
    const when = await suggest('reporter', 'last tuesday');
    expect(when.status).toBe(400);
    expect(when.body).toMatchObject({ error_description: expect.stringMatching(/is not a time/) });
    expect((await s.api('POST', '/api/v1/policies/suggest', { agent: 'reporter' }, { token: null })).status).toBe(401);
  });

  it('the CLI prints the Cedar and the YAML, writes them with --out, and --json gives the report', async () => {
    const cli = async (...args: string[]) => {
      try {
        return { code: 0, ...(await exec(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', config, '--data-dir', s.dataDir, '--url', s.url, '--token', s.adminToken, ...args])) };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const printed = await cli('policy', 'suggest', '--agent', 'reporter', '--since', '1d');
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('@id("suggested.reporter.stdio.echo")');
    expect(printed.stdout).toContain('suggested-reporter:');
    expect(printed.stdout).toMatch(/replay: 7 of 7 calls that ran are allowed; of all 9 calls 7 allowed, 2 denied/);
    const out = join(dir, 'out');
    const written = await cli('policy', 'suggest', '--agent', 'reporter', '--since', '1d', '--out', out);
    expect(written.code).toBe(0);
    expect(readFileSync(join(out, 'suggested-reporter.cedar'), 'utf8')).toBe(r.policies);
    expect(readFileSync(join(out, 'suggested-reporter.yaml'), 'utf8')).toBe(r.templates);
    const json = await cli('policy', 'suggest', '--agent', 'reporter', '--since', '1d', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ agent: { name: 'reporter' }, replay: { usedAllowed: 7 } });
    const none = await cli('policy', 'suggest', '--agent', 'idle');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/error: agent `idle` made no tool calls/);
  });
});
