// A task credential is live exactly while its task is: before the end it is accepted; right
// after the agent ends the task, after expiry, after suspension and after a restart it is not.

import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { createTestAgent, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function introspect(server: TestServer, token: string) {
  const r = await server.form<{ active: boolean; task_id?: string }>('/oauth/introspect', { token }, { token: server.adminToken });
  expect(r.status).toBe(200);
  return r.body;
}

/** The hot-path check every enforcement point inside Mandate makes (MCP endpoint, PDP). */
async function accepted(server: TestServer, token: string): Promise<boolean> {
  try {
    await server.m.credentials.verify(token, server.m.endpoints.mcp);
    return true;
  } catch (err) {
    expect((err as { code: string }).code).toBe('invalid_token');
    return false;
  }
}

describe('task credential lifecycle', () => {
  it('is accepted while the task is active, with the granted scope in its claims', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const { token, taskId, body } = await startTask(s, agent, ['fs.read_text_file']);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBeGreaterThan(0);
    expect(await accepted(s, token)).toBe(true);
    const info = await introspect(s, token);
    expect(info).toMatchObject({ active: true, task_id: taskId, sub: agent.id, client_id: agent.id });
    expect((info as unknown as { authorization_details: Array<{ tools: string[] }> }).authorization_details[0]!.tools).toEqual(['fs.read_text_file']);
  });

  it('is rejected right after the agent ends its task (RFC 7009 revocation)', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const { token, taskId } = await startTask(s, agent);
    const r = await s.form('/oauth/revoke', { token }, { token });
    expect(r.status).toBe(200);
    expect(await accepted(s, token)).toBe(false);
    expect((await introspect(s, token)).active).toBe(false);
    const task = await s.api<{ status: string; endReason: string }>('GET', `/api/v1/tasks/${taskId}`);
    expect(task.body.status).toBe('completed');
  });

  it('is rejected after an admin revokes the task', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const { token, taskId } = await startTask(s, agent);
    const r = await s.api<{ status: string }>('POST', `/api/v1/tasks/${taskId}/revoke`, { reason: 'incident 42' });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('revoked');
    expect(await accepted(s, token)).toBe(false);
  });

  it('is rejected after the task expires (injected clock, no sleeping)', async () => {
    const clock = new ManualClock(Date.now());
    s = await startTestServer({ clock });
    const agent = await createTestAgent(s);
    const { token, taskId, body } = await startTask(s, agent, ['fs.read_text_file'], { ttl: 120 });
    expect(body.expires_in).toBe(120);
    clock.advance(119_000);
    expect(await accepted(s, token)).toBe(true);
    clock.advance(2_000);
    expect(await accepted(s, token)).toBe(false);
    await s.m.sweep();
    const task = await s.api<{ status: string }>('GET', `/api/v1/tasks/${taskId}`);
    expect(task.body.status).toBe('expired');
    const events = await s.api<{ events: Array<{ type: string }> }>('GET', `/api/v1/audit?task=${taskId}`);
    expect(events.body.events.map((e) => e.type)).toContain('task.expire');
  });

  it('caps the TTL at the configured maximum', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const { body } = await startTask(s, agent, ['fs.read_text_file'], { ttl: 86_400 });
    expect(body.expires_in).toBeLessThanOrEqual(s.m.config.tasks.maxTtl);
    expect(body.expires_in).toBeGreaterThan(s.m.config.tasks.maxTtl - 5);
  });

  it('is rejected after the agent is suspended (kill switch), and the agent cannot start new tasks', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const { token, taskId } = await startTask(s, agent);
    const r = await s.api<{ status: string }>('POST', `/api/v1/agents/${encodeURIComponent(agent.id)}/suspend`, { reason: 'suspicious behaviour' });
    expect(r.body.status).toBe('suspended');
    expect(await accepted(s, token)).toBe(false);
    expect((await s.api<{ status: string }>('GET', `/api/v1/tasks/${taskId}`)).body.status).toBe('revoked');
    await expect(startTask(s, agent)).rejects.toThrow(/is suspended and cannot authenticate/);
    // Resuming lets the agent authenticate again, but the ended task stays ended.
    await s.api('POST', `/api/v1/agents/${encodeURIComponent(agent.id)}/resume`, {});
    expect(await accepted(s, token)).toBe(false);
    const fresh = await startTask(s, agent);
    expect(await accepted(s, fresh.token)).toBe(true);
  });

  it('stays rejected after a restart: revocations are persisted, not just in memory', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const ended = await startTask(s, agent);
    const live = await startTask(s, agent);
    await s.form('/oauth/revoke', { token: ended.token }, { token: ended.token });
    s = await s.restart();
    expect(await accepted(s, ended.token)).toBe(false);
    expect(await accepted(s, live.token)).toBe(true);
  });

  it('is rejected for another audience (a credential minted for /mcp is not for anything else)', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const { token } = await startTask(s, agent);
    await expect(s.m.credentials.verify(token, 'https://other.example/mcp')).rejects.toMatchObject({ code: 'invalid_token', message: expect.stringMatching(/audience/) });
  });

  it('records start and end in the audit log, never the credential itself', async () => {
    s = await startTestServer();
    const agent = await createTestAgent(s);
    const { token, taskId } = await startTask(s, agent);
    await s.form('/oauth/revoke', { token }, { token });
    const exp = await fetch(`${s.url}/api/v1/audit/export`, { headers: { authorization: `Bearer ${s.adminToken}` } });
    const text = await exp.text();
    const types = text.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.taskId === taskId).map((e) => e.type);
    expect(types).toEqual(['task.start', 'task.end']);
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split('.')[2]);
  });
});
