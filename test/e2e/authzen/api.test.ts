// The AuthZEN Authorization API beyond the interop vectors: request validation, X-Request-ID,
// batch semantics, metadata, and the COAZ-MCP mapping that lets another MCP gateway ask
// Mandate about an agent's tool call within its task.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestAgent, startTask, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let agent: TestAgent;
let taskId: string;
beforeAll(async () => {
  s = await startTestServer();
  agent = await createTestAgent(s);
  ({ taskId } = await startTask(s, agent, ['fs.read_text_file', 'web.fetch'], { resources: ['file:///srv/demo/sandbox/reports/*', 'https://weather.example/*'] }));
});
afterAll(async () => s?.close());

type D = { decision: boolean; context: { reasons: string[]; policies: string[]; id: string } };

const call = (tool: string, args: Record<string, unknown>, ctx: Record<string, unknown> = {}) => ({
  subject: { type: 'identity', id: agent.id },
  action: { name: 'tools/call' },
  resource: { type: 'tool', id: tool },
  context: { agent: agent.id, task_id: taskId, arguments: args, ...ctx },
});

describe('request validation', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing subject', { action: { name: 'a' }, resource: { type: 't', id: 'i' } }, /`subject`/],
    ['missing action name', { subject: { type: 'u', id: 'x' }, action: {}, resource: { type: 't', id: 'i' } }, /`action.name`/],
    ['numeric id', { subject: { type: 'u', id: 7 }, action: { name: 'a' }, resource: { type: 't', id: 'i' } }, /`subject.id`/],
    ['empty type', { subject: { type: '', id: 'x' }, action: { name: 'a' }, resource: { type: 't', id: 'i' } }, /`subject.type`/],
    ['type that cannot be a Cedar entity type', { subject: { type: 'no spaces allowed', id: 'x' }, action: { name: 'a' }, resource: { type: 't', id: 'i' } }, /not a Cedar entity type/],
    ['a number Cedar cannot represent', { subject: { type: 'u', id: 'x', properties: { score: 0.123456 } }, action: { name: 'a' }, resource: { type: 't', id: 'i' } }, /at most 4 decimal places/],
  ];
  it.each(cases)('answers 400 for %s', async (_n, body, message) => {
    const r = await s.api<{ error: string; error_description: string }>('POST', '/access/v1/evaluation', body);
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(message);
  });

  it('ignores unknown top-level fields, as the spec requires', async () => {
    const r = await s.api<D>('POST', '/access/v1/evaluation', { ...call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/a.txt' }), extension: { x: 1 } });
    expect(r.status).toBe(200);
  });

  it('answers 401 with WWW-Authenticate without a token', async () => {
    const r = await s.api('POST', '/access/v1/evaluation', call('fs.read_text_file', {}), { token: null });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/Bearer/);
  });

  it('echoes X-Request-ID', async () => {
    const r = await s.api('POST', '/access/v1/evaluation', call('fs.read_text_file', {}), { headers: { 'X-Request-ID': 'pep-req-42' } });
    expect(r.headers.get('x-request-id')).toBe('pep-req-42');
  });
});

describe('batch evaluations', () => {
  const allow = { resource: { type: 'tool', id: 'fs.read_text_file' }, context: { agent: '', task_id: '', arguments: { path: '/srv/demo/sandbox/reports/q3.txt' } } };
  const deny = { resource: { type: 'tool', id: 'fs.read_text_file' }, context: { agent: '', task_id: '', arguments: { path: '/etc/passwd' } } };
  const batch = (items: unknown[], semantic?: string) => {
    const fill = (i: { context: Record<string, unknown> }) => ({ ...i, context: { ...i.context, agent: agent.id, task_id: taskId } });
    return {
      subject: { type: 'identity', id: agent.id },
      action: { name: 'tools/call' },
      evaluations: (items as Array<{ context: Record<string, unknown> }>).map(fill),
      ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
    };
  };

  it('execute_all evaluates every item in order', async () => {
    const r = await s.api<{ evaluations: D[] }>('POST', '/access/v1/evaluations', batch([allow, deny, allow]));
    expect(r.body.evaluations.map((d) => d.decision)).toEqual([true, false, true]);
  });

  it('deny_on_first_deny stops at (and includes) the first deny', async () => {
    const r = await s.api<{ evaluations: D[] }>('POST', '/access/v1/evaluations', batch([allow, deny, allow], 'deny_on_first_deny'));
    expect(r.body.evaluations.map((d) => d.decision)).toEqual([true, false]);
  });

  it('permit_on_first_permit stops at the first permit', async () => {
    const r = await s.api<{ evaluations: D[] }>('POST', '/access/v1/evaluations', batch([deny, allow, deny], 'permit_on_first_permit'));
    expect(r.body.evaluations.map((d) => d.decision)).toEqual([false, true]);
  });

  it('without evaluations behaves as a single evaluation', async () => {
    const r = await s.api<D>('POST', '/access/v1/evaluations', call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/q3.txt' }));
    expect(r.body.decision).toBe(true);
  });

  it('answers 400 when an item lacks a field and there is no default', async () => {
    const r = await s.api<{ error_description: string }>('POST', '/access/v1/evaluations', { evaluations: [{ action: { name: 'x' } }] });
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/evaluations\[0\]: missing `subject`, `resource`/);
  });

  it('rejects an unknown semantic', async () => {
    const r = await s.api('POST', '/access/v1/evaluations', { ...batch([allow]), options: { evaluations_semantic: 'first_wins' } });
    expect(r.status).toBe(400);
  });
});

describe('COAZ-MCP mapping: an agent tool call within its task', () => {
  it('allows an in-scope call and names the deciding policy', async () => {
    const r = await s.api<D>('POST', '/access/v1/evaluation', call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/q3.txt' }));
    expect(r.body.decision).toBe(true);
    expect(r.body.context.policies).toEqual(['call.read']);
  });

  it('denies a path-traversal escape from the declared resources', async () => {
    // `..` is resolved before matching, so the pattern cannot be escaped.
    const r = await s.api<D>('POST', '/access/v1/evaluation', call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/../private/salaries.csv' }));
    expect(r.body.decision).toBe(false);
    expect(r.body.context.reasons[0]).toMatch(/`file:\/\/\/srv\/demo\/sandbox\/private\/salaries.csv` is outside the task's declared resources/);
  });

  it('denies a tool outside the task scope even though policy would allow it', async () => {
    const r = await s.api<D>('POST', '/access/v1/evaluation', call('fs.list_directory', { path: '/srv/demo/sandbox/reports' }));
    expect(r.body.decision).toBe(false);
    expect(r.body.context.reasons[0]).toMatch(/tool `fs.list_directory` is not in the task's scope/);
  });

  it('denies arguments of the wrong type before policy sees them', async () => {
    const r = await s.api<D>('POST', '/access/v1/evaluation', call('fs.read_text_file', { path: 42 }));
    expect(r.body.decision).toBe(false);
    expect(r.body.context.reasons.join()).toMatch(/must be a string|expected a string/);
  });

  it('requires the task', async () => {
    const req = call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/q3.txt' });
    delete (req.context as Record<string, unknown>).task_id;
    const r = await s.api<D>('POST', '/access/v1/evaluation', req);
    expect(r.body.decision).toBe(false);
    expect(r.body.context.reasons[0]).toMatch(/no task/);
  });

  it("refuses another agent's task (confused deputy)", async () => {
    const other = await createTestAgent(s);
    const req = call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/q3.txt' }, { agent: other.id });
    const r = await s.api<D>('POST', '/access/v1/evaluation', { ...req, subject: { type: 'identity', id: other.id } });
    expect(r.body.decision).toBe(false);
    expect(r.body.context.reasons[0]).toMatch(/belongs to another agent/);
  });

  it('denies everything once the task has ended', async () => {
    const t = await startTask(s, agent, ['fs.read_text_file']);
    const req = { ...call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/q3.txt' }), context: { agent: agent.id, task_id: t.taskId, arguments: { path: '/srv/demo/sandbox/reports/q3.txt' } } };
    expect((await s.api<D>('POST', '/access/v1/evaluation', req)).body.decision).toBe(true);
    await s.form('/oauth/revoke', { token: t.token }, { token: t.token });
    const r = await s.api<D>('POST', '/access/v1/evaluation', req);
    expect(r.body.decision).toBe(false);
    expect(r.body.context.reasons[0]).toMatch(/has ended/);
  });

  it('audits every decision with its policy ids', async () => {
    const r = await s.api<D>('POST', '/access/v1/evaluation', call('fs.read_text_file', { path: '/srv/demo/sandbox/reports/q3.txt' }));
    await s.m.audit.drain();
    const ev = await s.api<{ events: Array<{ data: { decisionId: string; policyIds: string[] }; taskId: string }> }>('GET', '/api/v1/audit?type=pdp.decision&order=desc&limit=1');
    expect(ev.body.events[0]!.data.decisionId).toBe(r.body.context.id);
    expect(ev.body.events[0]!.data.policyIds).toEqual(['call.read']);
    expect(ev.body.events[0]!.taskId).toBe(taskId);
  });
});

describe('metadata', () => {
  it('publishes the PDP configuration', async () => {
    const r = await s.api<Record<string, string>>('GET', '/.well-known/authzen-configuration', undefined, { token: null });
    expect(r.body).toEqual({
      policy_decision_point: s.url,
      access_evaluation_endpoint: `${s.url}/access/v1/evaluation`,
      access_evaluations_endpoint: `${s.url}/access/v1/evaluations`,
      access_request_endpoint: `${s.url}/access/v1/requests`,
      jwks_uri: `${s.url}/.well-known/jwks.json`,
      capabilities: ['urn:openid:authzen:capability:access-request'],
    });
  });
});
