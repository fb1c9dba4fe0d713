// The MCP gateway end to end: the real MCP SDK client as the g.agent, Mandate in between, real
// reference servers (stdio) and a streamable-HTTP upstream behind it.

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAgent, text, useGateway } from '../../helpers/gateway.js';
import { startTask } from '../../helpers/server.js';

const g = useGateway();

async function session(tools: unknown[], resources: string[] = []): Promise<{ client: Client; token: string; taskId: string }> {
  const t = await startTask(g.env.s, g.agent, tools, { resources });
  return { client: await connectAgent(g.env.s, t.token), token: t.token, taskId: t.taskId };
}

async function auditFor(taskId: string, type = 'tool.call') {
  await g.env.s.m.audit.drain();
  const r = await g.env.s.api<{ events: Array<{ type: string; decision: string; outcome: string; data: Record<string, unknown> }> }>('GET', `/api/v1/audit?task=${taskId}&type=${type}`);
  return r.body.events;
}

describe('listing', () => {
  it('shows only the tools inside the task scope', async () => {
    const { client } = await session(['fs.read_text_file', 'stdio.echo'], [`file://${'/'}tmp/*`]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['fs.read_text_file', 'stdio.echo']);
    await client.close();
  });
});

describe('calls', () => {
  it('allows an in-scope read and returns the upstream result', async () => {
    const { client, taskId } = await session(['fs.read_text_file'], [`file://${g.env.sandbox}/*`]);
    const r = await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${g.env.sandbox}/reports/q3.txt` } });
    expect(r.isError, text(r)).toBeFalsy();
    expect(text(r)).toContain('Q3 revenue grew 12%');
    const events = await auditFor(taskId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ decision: 'allow', outcome: 'success', data: { tool: 'fs.read_text_file', policyIds: ['call.read'] } });
    await client.close();
  });

  it('denies a write outside the task scope with the reason and a decision id', async () => {
    const { client, taskId } = await session(['fs.read_text_file'], [`file://${g.env.sandbox}/*`]);
    const r = await client.callTool({ name: 'fs.write_file', arguments: { path: `${g.env.sandbox}/reports/x.txt`, content: 'pwned' } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/denied by Mandate: outside the task's scope: tool `fs.write_file` is not in the task's scope \(decision dec_\w+\)/);
    const events = await auditFor(taskId);
    expect(events[0]).toMatchObject({ decision: 'deny', outcome: 'denied', data: { policyIds: ['mandate:task-scope'] } });
    await client.close();
  });

  it('denies a read outside the allowed folder by argument policy', async () => {
    const { client } = await session(['fs.read_text_file'], [`file://${g.env.sandbox}/*`]);
    const r = await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${g.env.sandbox}/private/salaries.csv` } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/file reads are limited to the reports folder \(forbidden by `fs.reports-only`/);
    await client.close();
  });

  it('denies a path that escapes the declared resources', async () => {
    const { client } = await session(['fs.read_text_file'], [`file://${g.env.sandbox}/reports/*`]);
    const r = await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${g.env.sandbox}/reports/../private/salaries.csv` } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/outside the task's declared resources/);
    await client.close();
  });

  it('injects the upstream credential; the g.agent never sees it', async () => {
    const { client, taskId } = await session(['http.whoami']);
    const r = await client.callTool({ name: 'http.whoami', arguments: {} });
    expect(text(r)).toBe('authorized=true');
    expect(JSON.stringify(r)).not.toContain(process.env.TEST_UPSTREAM_SECRET!);
    const events = await auditFor(taskId);
    expect(JSON.stringify(events)).not.toContain(process.env.TEST_UPSTREAM_SECRET!);
    // The agent's own credential never went upstream: the upstream accepts only its own secret.
    expect(g.env.upstream.unauthorized).toBe(0);
    await client.close();
  });
});

describe('taint', () => {
  it('forbids egress after a confidential read, not before', async () => {
    const { client } = await session(['stdio.secret_report', 'http.fetch'], ['https://weather.example/*']);
    const before = await client.callTool({ name: 'http.fetch', arguments: { url: 'https://weather.example/today' } });
    expect(before.isError, text(before)).toBeFalsy();
    await client.callTool({ name: 'stdio.secret_report', arguments: {} });
    const after = await client.callTool({ name: 'http.fetch', arguments: { url: 'https://weather.example/today' } });
    expect(after.isError).toBe(true);
    expect(text(after)).toMatch(/no egress once the task has read confidential data/);
    await client.close();
  });
});
