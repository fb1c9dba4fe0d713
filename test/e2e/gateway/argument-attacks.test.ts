// Attacks on argument checking found from outside: a value checked in one form and forwarded in
// another, arguments the policy never saw, and constraints that could not say "not at all".
// Real server, real MCP SDK client, the reference filesystem server and the test upstream
// (whose `fetch` answers with the URL it was given, so what is forwarded is visible).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectAgent, text, useGateway } from '../../helpers/gateway.js';
import { requestTask, startTask, taskDetails } from '../../helpers/server.js';

const g = useGateway();

async function fetchAs(url: string) {
  const t = await startTask(g.env.s, g.agent, ['http.fetch'], { resources: ['https://weather.example/*'] });
  const client = await connectAgent(g.env.s, t.token);
  try {
    return await client.callTool({ name: 'http.fetch', arguments: { url } });
  } finally {
    await client.close();
  }
}

describe('checked in one form, forwarded in another', () => {
  it('forwards a URL in exactly the canonical form that was checked', async () => {
    const r = await fetchAs('HTTPS://Weather.Example:443/a/../today');
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe('fetched https://weather.example/today');
    expect(g.env.upstream.calls.at(-1)).toEqual({ name: 'fetch', arguments: { url: 'https://weather.example/today' } });
  });

  // Each of these is read as weather.example by one URL parser and as another host (or path)
  // by another; Mandate refuses them instead of guessing which reading the tool will use.
  const urlTricks: Array<[string, string, RegExp]> = [
    ['userinfo behind a backslash (host evil.example to other parsers)', 'https://weather.example\\@evil.example/', /backslash/],
    ['userinfo naming a decoy host', 'https://weather.example@evil.example/', /userinfo/],
    ['encoded dot segments', 'https://weather.example/a/%2e%2e/admin', /encoded dot/],
    ['double-encoded dot segments', 'https://weather.example/a/%252e%252e/admin', /encoded/],
    ['a trailing dot on the host', 'https://weather.example./today', /ends its host with a dot/],
    ['CRLF header injection', 'https://weather.example/today\r\nHost: evil.example', /whitespace or a control/],
    ['fullwidth dots', 'https://weather.example/\uff0e\uff0e/admin', /Unicode normalisation/],
  ];
  it.each(urlTricks)('refuses %s and forwards nothing', async (_attack, url, why) => {
    const before = g.env.upstream.calls.length;
    const r = await fetchAs(url);
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^denied by Mandate: outside the task's scope: argument `url`/);
    expect(text(r)).toMatch(why);
    expect(g.env.upstream.calls.length).toBe(before);
  });

  it('does not let an IP literal in another notation pass as an allowed host', async () => {
    const t = await startTask(g.env.s, g.agent, ['http.fetch'], { resources: ['http://127.0.0.1/*'] });
    const client = await connectAgent(g.env.s, t.token);
    // Decimal, hex and IPv4-mapped forms all name 127.0.0.1; each is checked and forwarded as such.
    for (const url of ['http://2130706433/x', 'http://0x7f.1/x']) {
      const r = await client.callTool({ name: 'http.fetch', arguments: { url } });
      expect(text(r)).toBe('fetched http://127.0.0.1/x');
    }
    const mapped = await client.callTool({ name: 'http.fetch', arguments: { url: 'http://[::ffff:127.0.0.1]/x' } });
    expect(text(mapped)).toMatch(/outside the task's declared resources/);
    await client.close();
  });

  const pathTricks: Array<[string, string, RegExp]> = [
    ['an encoded traversal (checked decoded, forwarded raw)', 'reports/%2e%2e/private/salaries.csv', /percent-escape/],
    ['a double-encoded traversal', 'reports/%252e%252e/private/salaries.csv', /percent-escape/],
    ['a backslash traversal', 'reports\\..\\private\\salaries.csv', /backslash/],
    ['one-dot leaders that normalise to ..', 'reports/\u2025/private/salaries.csv', /Unicode normalisation/],
    ['a NUL byte', 'reports/q3.txt\u0000/../../private/salaries.csv', /control character/],
  ];
  it.each(pathTricks)('refuses a path with %s', async (_attack, rel, why) => {
    const t = await startTask(g.env.s, g.agent, ['fs.read_text_file'], { resources: [`file://${g.env.sandbox}/reports/*`] });
    const client = await connectAgent(g.env.s, t.token);
    const r = await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${g.env.sandbox}/${rel}` } });
    await client.close();
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(why);
    expect(text(r)).not.toMatch(/alice,100/);
  });

  it('resolves dot segments before the check and forwards the resolved path', async () => {
    const t = await startTask(g.env.s, g.agent, ['fs.read_text_file'], { resources: [`file://${g.env.sandbox}/reports/*`] });
    const client = await connectAgent(g.env.s, t.token);
    const ok = await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${g.env.sandbox}//reports/2026/../q3.txt` } });
    expect(text(ok)).toBe('Q3 revenue grew 12%');
    const out = await client.callTool({ name: 'fs.read_text_file', arguments: { path: `${g.env.sandbox}/reports/../private/salaries.csv` } });
    expect(text(out)).toMatch(/outside the task's declared resources/);
    await client.close();
    const ev = (await g.env.s.m.store.listAudit({ type: 'tool.call', taskId: t.taskId, limit: 5 }))[0]!;
    // Audit records the form that was checked and forwarded.
    expect(ev.data.args).toEqual({ path: `${g.env.sandbox}/reports/q3.txt` });
  });
});

describe('unknown arguments do not pass unchecked', () => {
  it('refuses an argument the pinned schema does not declare (smuggled past policy)', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const client = await connectAgent(g.env.s, t.token);
    const r = await client.callTool({ name: 'stdio.echo', arguments: { text: 'hi', recipient: 'attacker@evil.example' } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/argument `recipient` is not declared by the input schema of `stdio.echo`: refused/);
    expect(text(r)).toMatch(/additionalArguments: allow/);
    // A type error is a type error, not "outside the task's scope".
    const wrong = await client.callTool({ name: 'stdio.echo', arguments: { text: ['a'] } });
    expect(text(wrong)).toMatch(/invalid arguments for `stdio.echo`: argument `text` must be string/);
    const missing = await client.callTool({ name: 'stdio.echo', arguments: {} });
    expect(text(missing)).toMatch(/missing required argument `text`/);
    await client.close();
    const ev = await g.env.s.m.store.listAudit({ type: 'tool.call', taskId: t.taskId, limit: 5 });
    expect(ev.every((e) => e.decision === 'deny' && (e.data.policyIds as string[]).includes('mandate:input-schema'))).toBe(true);
  });
});

describe('constraints can say "absent"', () => {
  it('denies a call that gives an argument the task declared absent', async () => {
    const t = await startTask(g.env.s, g.agent, [{ name: 'fs.read_text_file', constraints: { head: { absent: true } } }], { resources: [`file://${g.env.sandbox}/reports/*`] });
    const client = await connectAgent(g.env.s, t.token);
    const path = join(g.env.sandbox, 'reports/q3.txt');
    expect(text(await client.callTool({ name: 'fs.read_text_file', arguments: { path } }))).toBe('Q3 revenue grew 12%');
    const r = await client.callTool({ name: 'fs.read_text_file', arguments: { path, head: 1 } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/argument `head` must not be given in this task/);
    await client.close();
  });

  it('refuses `absent` combined with a value operator', async () => {
    const r = await requestTask(g.env.s, g.agent, taskDetails([{ name: 'fs.read_text_file', constraints: { head: { absent: true, max: 3 } } }]));
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/`absent` cannot be combined/);
  });

  it('warns, in the token response and in audit, that a `like` on a plain argument is a raw glob', async () => {
    const r = await requestTask(g.env.s, g.agent, taskDetails([{ name: 'stdio.echo', constraints: { text: { like: 'report-*' } } }]));
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual([expect.stringMatching(/`like` on `text` is a raw glob .*`\*` also matches `\/` and `\.\.` is not resolved/)]);
    const ev = (await g.env.s.m.store.listAudit({ type: 'task.start', taskId: r.body.task_id as string, limit: 1 }))[0]!;
    expect(ev.data.warnings).toEqual(r.body.warnings);
  });
});
