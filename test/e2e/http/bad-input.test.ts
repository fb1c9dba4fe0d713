// Bad input on the management and PDP APIs: every case is a 4xx whose message names the
// problem — never a 500, a crash or a hang — and the server keeps serving afterwards.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestAgent, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.close());

const validAgent = { name: 'x-agent', owner: 'bob@corp.example', purpose: 'p', environment: 'dev', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } };

describe('management API input', () => {
  const cases: Array<[string, string, string, string | undefined, Record<string, string>, number, RegExp]> = [
    ['malformed JSON', 'POST', '/api/v1/agents', '{"name": ', { 'content-type': 'application/json' }, 400, /not valid JSON/],
    ['JSON that is not an object', 'POST', '/api/v1/agents', '[1,2]', { 'content-type': 'application/json' }, 400, /must be a JSON object/],
    ['unknown field', 'POST', '/api/v1/agents', JSON.stringify({ ...validAgent, role: 'admin' }), { 'content-type': 'application/json' }, 400, /unknown field `role`/],
    ['missing field', 'POST', '/api/v1/agents', JSON.stringify({ name: 'y' }), { 'content-type': 'application/json' }, 400, /`owner`/],
    ['wrong content type', 'POST', '/api/v1/agents', 'name=x', { 'content-type': 'text/plain' }, 415, /unsupported content type/],
    ['oversize body', 'POST', '/api/v1/agents', JSON.stringify({ ...validAgent, purpose: 'x'.repeat(2_000_000) }), { 'content-type': 'application/json' }, 413, /too large/],
    ['invalid agent name', 'POST', '/api/v1/agents', JSON.stringify({ ...validAgent, name: '../../etc' }), { 'content-type': 'application/json' }, 400, /agent name `..\/..\/etc` is invalid/],
    ['private key material in jwks', 'POST', '/api/v1/agents', JSON.stringify({ ...validAgent, name: 'leaky', jwks: { keys: [{ ...validAgent.jwks.keys[0], d: 'secret' }] } }), { 'content-type': 'application/json' }, 400, /private key material/],
    ['symmetric key in jwks', 'POST', '/api/v1/agents', JSON.stringify({ ...validAgent, name: 'sym', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }), { 'content-type': 'application/json' }, 400, /private key material|not accepted/],
    ['bad review date', 'POST', '/api/v1/agents', JSON.stringify({ ...validAgent, name: 'z', reviewBy: 'next year' }), { 'content-type': 'application/json' }, 400, /expected a date/],
    ['unknown agent', 'GET', '/api/v1/agents/nobody', undefined, {}, 404, /agent `nobody` not found/],
    ['unknown task', 'POST', '/api/v1/tasks/task_nope/revoke', '{}', { 'content-type': 'application/json' }, 404, /task `task_nope` not found/],
    ['bad query parameter', 'GET', '/api/v1/tasks?status=sleeping', undefined, {}, 400, /invalid query/],
    ['unknown route', 'GET', '/api/v1/nothing', undefined, {}, 404, /no route for GET/],
  ];
  it.each(cases)('rejects %s', async (_n, method, path, body, headers, status, message) => {
    const res = await fetch(`${s.url}${path}`, { method, body, headers: { authorization: `Bearer ${s.adminToken}`, ...headers } });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: string; error_description: string };
    expect(json.error_description).toMatch(message);
  });

  it('keeps serving after all of that', async () => {
    expect((await s.api('GET', '/healthz', undefined, { token: null })).status).toBe(200);
  });
});

describe('authentication of humans and automation', () => {
  it('requires a token', async () => {
    const r = await s.api<{ error: string }>('GET', '/api/v1/agents', undefined, { token: null });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('rejects a wrong token', async () => {
    const r = await s.api<{ error_description: string }>('GET', '/api/v1/agents', undefined, { token: 'mdt_admin_guess' });
    expect(r.status).toBe(401);
    expect(r.body.error_description).toMatch(/invalid or revoked token/);
  });

  it('never accepts an agent credential on the management or PDP APIs (no privilege escalation by agents)', async () => {
    const agent = await createTestAgent(s);
    const { token } = await startTask(s, agent);
    for (const [method, path] of [
      ['GET', '/api/v1/agents'],
      ['POST', '/access/v1/evaluation'],
    ]) {
      const r = await s.api<{ error_description: string }>(method!, path!, method === 'POST' ? {} : undefined, { token });
      expect(r.status).toBe(401);
      expect(r.body.error_description).toMatch(/agent credentials are not accepted/);
    }
  });

  it('gives PEP tokens the PDP and introspection but not the management API', async () => {
    const created = await s.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'gateway-1' });
    expect(created.status).toBe(201);
    const pep = created.body.token;
    expect((await s.api('GET', '/api/v1/agents', undefined, { token: pep })).status).toBe(403);
    const r = await s.api('POST', '/access/v1/evaluation', { subject: { type: 'user', id: 'u' }, action: { name: 'read' }, resource: { type: 'doc', id: 'd' } }, { token: pep });
    expect(r.status).toBe(200);
    await s.api('POST', '/api/v1/tokens/gateway-1/revoke', {});
    expect((await s.api('POST', '/access/v1/evaluation', {}, { token: pep })).status).toBe(401);
  });

  it('never returns token secrets when listing tokens', async () => {
    const r = await s.api<{ tokens: Array<Record<string, unknown>> }>('GET', '/api/v1/tokens');
    for (const t of r.body.tokens) {
      expect(t).not.toHaveProperty('token');
      expect(t).not.toHaveProperty('tokenHash');
    }
  });
});
