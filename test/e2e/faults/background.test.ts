// Paths nobody waits for (the session-open record, the idle reaper, the revocation handler) used
// to turn a store write error into an unhandled rejection that killed the process 29 s after the
// disk filled. Each now counts and logs its failure, and does its job anyway.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqliteStore } from '../../../src/storage/sqlite/sqlite-store.js';
import { connectAgent, startGateway, text, type GatewayEnv } from '../../helpers/gateway.js';
import { PATIENCE, createTestAgent, startTask, type TestAgent } from '../../helpers/server.js';

let g: GatewayEnv;
let agent: TestAgent;
const readOnly = (on: boolean) => (g.s.m.store as SqliteStore).db.pragma(`query_only = ${on ? 'ON' : 'OFF'}`);
const count = (path: string) => g.s.m.faults.snapshot().byPath[path] ?? 0;

beforeAll(async () => {
  g = await startGateway();
  agent = await createTestAgent(g.s);
});
afterAll(async () => {
  readOnly(false);
  await g?.close();
});

describe('background paths on a store that cannot write', () => {
  it('opens a session even when its opening record fails (counted, no crash)', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    readOnly(true);
    try {
      const before = count('audit session open');
      const client = await connectAgent(g.s, t.token);
      await expect.poll(() => count('audit session open')).toBe(before + 1);
      // The call itself is refused (its decision cannot be recorded), and says why.
      const r = await client.callTool({ name: 'stdio.echo', arguments: { text: 'x' } });
      expect(text(r)).toMatch(/the decision could not be recorded .*read-only/);
      await client.close();
    } finally {
      readOnly(false);
    }
  });

  it('the idle reaper closes idle sessions even when their closing record fails', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    await connectAgent(g.s, t.token);
    const open = () => [...g.s.m.gateway.sessions.values()].filter((s) => s.state.task.id === t.taskId).length;
    expect(open()).toBe(1);
    readOnly(true);
    try {
      const before = count('close idle session');
      g.s.m.gateway.closeIdle(Date.now() + 24 * 3600 * 1000);
      await expect.poll(() => count('close idle session')).toBeGreaterThan(before);
      expect(open()).toBe(0);
    } finally {
      readOnly(false);
    }
  });

  it('the revocation handler closes the sessions of a revoked task even when their closing record fails', async () => {
    const t = await startTask(g.s, agent, ['stdio.echo']);
    const client = await connectAgent(g.s, t.token);
    readOnly(true);
    try {
      const before = count('end sessions of a revoked task');
      const r = await g.s.api<Record<string, string>>('POST', `/api/v1/tasks/${t.taskId}/revoke`, { reason: 'incident' });
      expect(r.status).toBe(503);
      expect(r.body.error_description).toMatch(/already revoked in this process/);
      await expect.poll(() => count('end sessions of a revoked task')).toBeGreaterThan(before);
      // The credential is dead here at once, whatever the store said.
      await expect(client.callTool({ name: 'stdio.echo', arguments: { text: 'x' } })).rejects.toThrow();
    } finally {
      readOnly(false);
    }
    // And once the store writes again, the maintenance sweep records the revocation.
    // (The status and its audit record are two writes: the record follows the status.)
    await expect.poll(async () => (await g.s.m.store.getTask(t.taskId))?.status, { timeout: PATIENCE }).toBe('revoked');
    await expect.poll(async () => (await g.s.m.store.listAudit({ type: 'task.revoke', taskId: t.taskId, limit: 10 })).length, { timeout: PATIENCE }).toBe(1);
  });

  it('the kill switch holds at once when the store cannot record it (suspension during a store fault)', async () => {
    const rogue = await createTestAgent(g.s);
    const t = await startTask(g.s, rogue, ['stdio.echo']);
    const client = await connectAgent(g.s, t.token);
    expect(text(await client.callTool({ name: 'stdio.echo', arguments: { text: 'before' } }))).toBe('echo: before');
    readOnly(true);
    try {
      const r = await g.s.api<Record<string, string>>('POST', `/api/v1/agents/${encodeURIComponent(rogue.id)}/suspend`, { reason: 'compromised' });
      expect(r.status).toBe(503);
      expect(r.body.error_description).toMatch(/is already suspended in this process \(its credentials are refused\) and this will be recorded when the store recovers/);
      // Its session is closed and its credential refused, here and now.
      await expect(client.callTool({ name: 'stdio.echo', arguments: { text: 'after' } })).rejects.toThrow();
      // A new session is refused too (503 here: even its refusal cannot be recorded), and the
      // credential itself is dead in this process.
      const again = await fetch(`${g.s.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${t.token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      });
      expect(again.status).toBe(503);
      await expect(g.s.m.credentials.verify(t.token, g.s.m.endpoints.mcp)).rejects.toThrow(/agent is stopped \(agent suspended: compromised\)/);
    } finally {
      readOnly(false);
    }
    await expect.poll(async () => (await g.s.m.store.getAgent(rogue.id))?.status, { timeout: PATIENCE }).toBe('suspended');
    expect((await g.s.m.store.getTask(t.taskId))?.status).toBe('revoked');
  });
});
