// Security state that must survive a restart: a `max_calls` budget (a restart used to hand a
// still-valid credential a fresh counter, so a one-call transfer ran twice) and the DPoP proof
// replay cache (a proof captured before a restart was accepted again inside its window).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, MandateAgent } from '../../../src/client/index.js';
import { connectAgent, startGateway, text, type GatewayEnv } from '../../helpers/gateway.js';
import { createTestAgent, startTask, type TestAgent, type TestServer } from '../../helpers/server.js';

let env: GatewayEnv;
let s: TestServer;
let agent: TestAgent;

beforeAll(async () => {
  env = await startGateway();
  s = env.s;
  agent = await createTestAgent(s);
});
afterAll(async () => {
  await s?.close();
  await env?.upstream.close();
});

describe('restarts do not refill budgets or forget replays', () => {
  it('keeps a max_calls budget across a restart (a one-call task cannot run twice)', async () => {
    const t = await startTask(s, agent, [{ name: 'stdio.echo', max_calls: 1 }]);
    const first = await connectAgent(s, t.token);
    expect(text(await first.callTool({ name: 'stdio.echo', arguments: { text: 'pay 100' } }))).toBe('echo: pay 100');
    await first.close();

    s = await s.restart();
    const again = await connectAgent(s, t.token);
    const r = await again.callTool({ name: 'stdio.echo', arguments: { text: 'pay 100' } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/reached the task's limit of 1 call/);
    await again.close();
    expect(await s.m.store.callCounts(t.taskId)).toEqual({ 'stdio.echo': 1 });
  });

  it('lets exactly max_calls of many concurrent calls through (retries and parallel sessions)', async () => {
    const t = await startTask(s, agent, [{ name: 'stdio.echo', max_calls: 3 }]);
    const clients = await Promise.all(Array.from({ length: 4 }, () => connectAgent(s, t.token)));
    const results = await Promise.all(clients.flatMap((c, i) => [0, 1, 2].map((j) => c.callTool({ name: 'stdio.echo', arguments: { text: `call ${i}.${j}` } }))));
    await Promise.all(clients.map((c) => c.close()));
    expect(results.filter((r) => !r.isError)).toHaveLength(3);
    const audit = await s.m.store.listAudit({ type: 'tool.call', taskId: t.taskId, limit: 100 });
    expect(audit.filter((e) => e.outcome === 'success')).toHaveLength(3);
    expect(audit.filter((e) => e.outcome === 'denied')).toHaveLength(9);
  });

  it('refuses a DPoP proof replayed after a restart, inside its window', async () => {
    const test = await createTestAgent(s, { environment: 'prod' });
    const sdk = await MandateAgent.create({ url: s.url, key: { agentId: test.id, kid: test.kid, alg: 'ES256', privateKey: test.privateKey } });
    const task = await sdk.startTask({ intent: 'echo', tools: ['stdio.echo'], ttl: 300 });
    const proof = await createDpopProof(sdk.dpop!, 'POST', `${s.url}/mcp`, { accessToken: task.credential });
    const init = (headers: Record<string, string>) =>
      fetch(`${s.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
      });
    expect((await init({ authorization: `DPoP ${task.credential}`, dpop: proof })).status).toBe(200);
    s = await s.restart();
    const replay = await init({ authorization: `DPoP ${task.credential}`, dpop: proof });
    expect(replay.status).toBe(401);
    expect(await replay.text()).toMatch(/already used \(replay\)/);
  });
});
