// Secrets never leave: after a full session (agents, tasks, failures, decisions, revocations),
// no credential, assertion, admin or PEP token, or private key appears in the server log, in
// the audit log, or in any API response other than the one that issued it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAssertion, createTestAgent, requestTask, startTask, startTestServer, taskDetails, type TestServer } from '../../helpers/server.js';

let s: TestServer;
const secrets: string[] = [];
const responses: string[] = [];

beforeAll(async () => {
  s = await startTestServer();
  secrets.push(s.adminToken);
  const signing = JSON.parse(readFileSync(join(s.dataDir, 'signing-keys.json'), 'utf8')) as { keys: Array<{ privateJwk: { d: string } }> };
  secrets.push(...signing.keys.map((k) => k.privateJwk.d));

  const agent = await createTestAgent(s);
  const { exportJWK } = await import('jose');
  secrets.push(((await exportJWK(agent.privateKey)) as { d: string }).d);

  const pep = await s.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'secret-test-pep' });
  secrets.push(pep.body.token);

  const assertion = await clientAssertion(s, agent);
  secrets.push(assertion);
  const t = await requestTask(s, agent, taskDetails(['fs.read_text_file']), assertion);
  const token = t.body.access_token as string;
  secrets.push(token);
  // Failures that echo input: a replayed assertion, a token in a wrong place, a bad bearer.
  responses.push(JSON.stringify((await requestTask(s, agent, taskDetails(['fs.read_text_file']), assertion)).body));
  responses.push(JSON.stringify((await s.api('GET', '/api/v1/agents', undefined, { token })).body));
  responses.push(JSON.stringify((await s.api('GET', '/api/v1/agents', undefined, { token: `${s.adminToken}x` })).body));
  responses.push(JSON.stringify((await s.form('/oauth/introspect', { token }, { token: pep.body.token })).body));
  responses.push(JSON.stringify((await s.api('POST', '/access/v1/evaluation', { subject: { type: 'identity', id: agent.id }, action: { name: 'tools/call' }, resource: { type: 'tool', id: 'fs.read_text_file' }, context: { task_id: t.body.task_id, arguments: { path: '/srv/demo/sandbox/reports/x' }, token } })).body));
  const denied = await requestTask(s, agent, taskDetails(['fs.write_file']));
  responses.push(JSON.stringify(denied.body));
  await s.form('/oauth/revoke', { token }, { token });
  const second = await startTask(s, agent);
  secrets.push(second.token);
  await s.api('POST', `/api/v1/agents/${encodeURIComponent(agent.id)}/suspend`, {});
  responses.push(JSON.stringify((await s.api('GET', `/api/v1/tasks?agent=${encodeURIComponent(agent.id)}`)).body));
  await s.m.audit.drain();
});
afterAll(async () => s?.close());

/** A secret appears if it or its signature part (for JWTs) does. */
function leaks(text: string): string[] {
  return secrets.filter((sec) => text.includes(sec) || (sec.split('.').length === 3 && text.includes(sec.split('.')[2]!)));
}

describe('secrets never leave', () => {
  it('collected the secrets under test', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(7);
    expect(s.logs.length).toBeGreaterThan(5);
  });

  it('are not in the server log', () => {
    expect(leaks(s.logs.join('\n'))).toEqual([]);
  });

  it('are not in the audit log', async () => {
    const res = await fetch(`${s.url}/api/v1/audit/export`, { headers: { authorization: `Bearer ${s.adminToken}` } });
    const text = await res.text();
    expect(text.split('\n').length).toBeGreaterThan(10);
    expect(leaks(text)).toEqual([]);
  });

  it('are not echoed in error or listing responses', () => {
    expect(responses.length).toBeGreaterThan(5);
    expect(leaks(responses.join('\n'))).toEqual([]);
  });
});
