// Suggestions from evidence, without a server: the generalisation rules, and the rendered Cedar
// compiled alone against the shipped schema and decided by the real authorizer. The security
// cases: a recorded value can never become policy text (comment or literal injection), a `*` in a
// seen path is literal (not a wildcard that widens the grant), and what was not used stays denied.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { ToolSpec } from '../core/tool.js';
import { compilePolicies } from '../policy/compile.js';
import type { Agent, AuditEvent } from '../storage/types.js';
import { cedarPrefixPattern, cedarString, Evidence, generalise, openSuggestedSet, renderSuggestion, ValueTracker } from './suggest.js';

const SCHEMA = resolve(import.meta.dirname, '../../policies/mandate.cedarschema');
const T0 = Date.parse('2026-09-01T09:00:00Z');

function tool(name: string, properties: Record<string, unknown>, required: string[], resources: ToolSpec['resources'] = {}, extra: Partial<ToolSpec> = {}): ToolSpec {
  const [upstream, remoteName] = name.split('.') as [string, string];
  return { name, upstream, remoteName, description: '', risk: 'read', classification: 'internal', tags: [], inputSchema: { type: 'object', properties, required }, resources, discovered: true, blocked: null, ...extra };
}

const TOOLS: ToolSpec[] = [
  tool('fs.read_text_file', { path: { type: 'string' }, tail: { type: 'string' } }, ['path'], { path: 'path' }),
  tool('fs.copy', { source: { type: 'string' }, destination: { type: 'string' } }, ['source'], { source: 'path', destination: 'path' }),
  tool('stdio.echo', { text: { type: 'string' } }, ['text']),
  tool('stdio.fetch', { url: { type: 'string' } }, ['url'], { url: 'url' }),
  tool('mail.send', { to: { type: 'string' }, 'reply-to': { type: 'string' }, body: { type: 'string' } }, ['to'], { to: 'email' }),
  tool('stdio.secret_report', {}, []),
  tool('api.GET', {}, [], {}, { kind: 'http', method: 'GET', inputSchema: undefined }),
];
const lookup = {
  getTool: (n: string) => TOOLS.find((t) => t.name === n),
  listTools: () => TOOLS,
};
const AGENT: Agent = {
  id: 'spiffe://unit.test/agent/reporter',
  name: 'reporter',
  owner: 'alice@corp.example',
  purpose: 'reports',
  environment: 'dev',
  labels: [],
  status: 'active',
  createdAt: T0,
  reviewBy: null,
  jwks: { keys: [] },
} as unknown as Agent;

let seq = 0;
function call(toolName: string, args: Record<string, unknown>, decision: AuditEvent['decision'] = 'allow', extra: Record<string, unknown> = {}): AuditEvent {
  seq++;
  return { seq, id: `evt_${seq}`, ts: T0 + seq * 1000, type: 'tool.call', actor: AGENT.id, agentId: AGENT.id, taskId: 'task_1', decision, outcome: decision === 'allow' ? 'success' : 'denied', data: { tool: toolName, args, resources: [], intent: 'weekly reports', ...extra }, prevHash: '', hash: '' } as AuditEvent;
}

function tracker(kind: 'path' | 'url' | 'email', values: string[]) {
  const t = new ValueTracker();
  for (const v of values) t.add(v, kind === 'url' ? new URL(v).origin : '');
  return generalise(kind, t);
}

function argTypes() {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-suggest-unit-'));
  return compilePolicies({ policyDir: dir, schemaPath: SCHEMA, tools: TOOLS }).argTypes;
}

async function suggestFrom(events: AuditEvent[]) {
  const ev = new Evidence(lookup.getTool);
  for (const e of events) ev.add(e);
  const r = renderSuggestion(AGENT, ev, argTypes(), { since: T0, until: T0 + 86_400_000 });
  const set = await openSuggestedSet({ tools: lookup, config: { schemaPath: SCHEMA }, clock: new ManualClock(T0) }, r.policies);
  return { r, set, decide: (t: string, args: Record<string, unknown>) => set.decide(AGENT, t, args).decision };
}

describe('generalise', () => {
  it('paths: one value stays itself; several take their common directory; none at the root', () => {
    expect(tracker('path', ['/srv/reports/q1.txt'])).toMatchObject({ exact: ['/srv/reports/q1.txt'], prefixes: [] });
    expect(tracker('path', ['/srv/reports/q1.txt', '/srv/reports/q3.txt', '/srv/reports/q1.txt'])).toMatchObject({ exact: [], prefixes: ['/srv/reports/'] });
    // A directory named next to its files: the directory itself and what is under it.
    expect(tracker('path', ['/srv/reports', '/srv/reports/q1.txt'])).toMatchObject({ exact: ['/srv/reports'], prefixes: ['/srv/reports/'] });
    // `/etc/passwd` and `/srv/x` share only `/`: that would allow every file, so the exact set.
    expect(tracker('path', ['/etc/passwd', '/srv/x'])).toMatchObject({ exact: ['/etc/passwd', '/srv/x'], prefixes: [] });
  });

  it('urls: per origin (scheme and host), each with its common path', () => {
    expect(tracker('url', ['https://api.example.com/v1/users/1', 'https://api.example.com/v1/users/2', 'https://other.example/a'])).toMatchObject({
      exact: ['https://other.example/a'],
      prefixes: ['https://api.example.com/v1/users/'],
    });
    expect(tracker('url', ['https://a.example/x', 'https://a.example/y'])).toMatchObject({ prefixes: ['https://a.example/'] });
  });

  it('emails: exactly the recipients seen', () => {
    expect(tracker('email', ['bob@corp.example', 'carol@corp.example'])).toMatchObject({ exact: ['bob@corp.example', 'carol@corp.example'], prefixes: [] });
  });

  it('Cedar literals escape quotes, backslashes, control characters, and `*` in patterns', () => {
    expect(cedarString('a"b\\c\nd\u2028')).toBe('"a\\"b\\\\c\\nd\\u{2028}"');
    expect(cedarPrefixPattern('/data/*star/')).toBe('"/data/\\*star/*"');
  });
});

describe('rendered suggestions, compiled alone and decided by the authorizer', () => {
  it('allows exactly what ran, with the evidence cited, and denies the rest', async () => {
    seq = 0;
    const events = [
      call('fs.read_text_file', { path: '/srv/reports/q1.txt' }),
      call('fs.read_text_file', { path: '/srv/reports/q3.txt', tail: '5' }),
      call('stdio.echo', { text: 'a' }),
      call('stdio.echo', { text: 'b' }),
      call('stdio.echo', { text: 'a' }, 'allow', { wouldDeny: { reasons: ['x'], policyIds: ['p'] } }),
      call('fs.read_text_file', { path: '/srv/private/salaries.csv' }, 'deny'),
      call('fs.copy', { source: '/srv/reports/q1.txt' }),
      call('stdio.fetch', { url: 'https://api.example.com/v1/users/1' }),
      call('stdio.fetch', { url: 'https://api.example.com/v1/users/2' }),
      call('mail.send', { to: 'bob@corp.example', 'reply-to': 'x', body: '[redacted]' }),
    ];
    const { r, set, decide } = await suggestFrom(events);
    try {
      // Every call that ran is allowed by the suggestion.
      for (const e of events.filter((x) => x.decision === 'allow')) {
        const d = e.data as { tool: string; args: Record<string, unknown> };
        expect(decide(d.tool, d.args), `${d.tool} ${JSON.stringify(d.args)}`).toBe('allow');
      }
      // Outside what was used: another folder, another echo text, another host, another
      // recipient, a destination never given, a tool never used.
      expect(decide('fs.read_text_file', { path: '/srv/private/salaries.csv' })).toBe('deny');
      expect(decide('fs.read_text_file', { path: '/srv/reports/../private/salaries.csv' })).toBe('deny');
      expect(decide('fs.read_text_file', { path: '/srv/reports/q4.txt' })).toBe('allow');
      expect(decide('stdio.echo', { text: 'c' })).toBe('deny');
      expect(decide('stdio.fetch', { url: 'https://evil.example/v1/users/1' })).toBe('deny');
      expect(decide('stdio.fetch', { url: 'https://api.example.com.evil.example/v1/users/1' })).toBe('deny');
      expect(decide('stdio.fetch', { url: 'https://api.example.com/v1/admin' })).toBe('deny');
      expect(decide('mail.send', { to: 'mallory@evil.example' })).toBe('deny');
      expect(decide('fs.copy', { source: '/srv/reports/q1.txt', destination: '/tmp/exfil' })).toBe('deny');
      expect(decide('stdio.secret_report', {})).toBe('deny');

      // The evidence each permit cites.
      const echo = r.tools.find((t) => t.tool === 'stdio.echo')!;
      expect(echo).toMatchObject({ policyId: 'suggested.reporter.stdio.echo', calls: 3, wouldDeny: 1, seq: { first: 3, last: 5 } });
      expect(r.policies).toContain('// stdio.echo: 3 calls (1 would-deny in observe mode), first 2026-09-01T09:00:03Z, last 2026-09-01T09:00:05Z, audit seq 3..5');
      expect(r.policies).toContain('//   text: 2 distinct values, exactly those; seen "a", "b"');
      expect(r.policies).toContain('//   path (path): 2 distinct values, allowed: under "/srv/reports/"; seen "/srv/reports/q1.txt", "/srv/reports/q3.txt"');
      expect(r.policies).toContain('//   destination (path): never given: must stay absent');
      expect(r.policies).toContain('["a", "b"].contains(context.args.text)');
      expect(r.policies).toContain('context.args.path like "/srv/reports/*"');
      // `tail` was given once in two calls: optional, limited when given.
      expect(r.policies).toContain('(if context.args has tail then context.args.tail == "5" else true)');
      // A redacted value is never a condition; an argument name that is not an identifier is indexed.
      expect(r.tools.find((t) => t.tool === 'mail.send')!.args.find((a) => a.arg === 'body')).toMatchObject({ condition: null });
      expect(r.policies).toContain('context.args["reply-to"] == "x"');
      // startTask: only the tools used; the template lists them with the resources named.
      expect(set.decideStart(AGENT, 'stdio.echo').decision).toBe('allow');
      expect(set.decideStart(AGENT, 'stdio.secret_report').decision).toBe('deny');
      expect(r.policies).toContain('[Tool::"fs.copy", Tool::"fs.read_text_file", Tool::"mail.send", Tool::"stdio.echo", Tool::"stdio.fetch"].contains(resource)');
      expect(r.template.tools).toEqual(['fs.copy', 'fs.read_text_file', 'mail.send', 'stdio.echo', 'stdio.fetch']);
      expect(r.templates).toContain('suggested-reporter:');
    } finally {
      set.close();
    }
  });

  // The attack: an agent makes (allowed) calls whose argument values are crafted to become policy
  // text when a human pastes the suggestion in: a newline ending the evidence comment followed by
  // a blanket permit, or a quote closing the string literal.
  it('a recorded value never becomes policy text', async () => {
    seq = 0;
    const evil = 'x\n@id("evil") permit (principal, action, resource);\n// ';
    const quote = 'y" || true || "';
    const { r, set, decide } = await suggestFrom([call('stdio.echo', { text: evil }), call('stdio.echo', { text: quote }), call('stdio.echo', { text: 'line\u2028break' })]);
    try {
      const compiled = compilePolicies({ policyDir: mkdtempSync(join(tmpdir(), 'mandate-suggest-unit-')), schemaPath: SCHEMA, tools: TOOLS, extra: { 's.cedar': r.policies } });
      expect(compiled.policies.map((p) => p.id).sort()).toEqual(['suggested.reporter.startTask', 'suggested.reporter.stdio.echo']);
      expect(decide('stdio.echo', { text: evil })).toBe('allow');
      expect(decide('stdio.echo', { text: quote })).toBe('allow');
      expect(decide('stdio.echo', { text: 'anything else' })).toBe('deny');
      expect(decide('fs.read_text_file', { path: '/etc/passwd' })).toBe('deny');
    } finally {
      set.close();
    }
  });

  // The attack: paths seen under a directory whose name holds `*` must not turn into a wildcard
  // (`/data/*star/` would otherwise match `/data/anything-star/`).
  it('a `*` in a seen path is literal', async () => {
    seq = 0;
    const { set, decide } = await suggestFrom([call('fs.read_text_file', { path: '/data/*star/a' }), call('fs.read_text_file', { path: '/data/*star/b' })]);
    try {
      expect(decide('fs.read_text_file', { path: '/data/*star/c' })).toBe('allow');
      expect(decide('fs.read_text_file', { path: '/data/secret-star/c' })).toBe('deny');
    } finally {
      set.close();
    }
  });

  it('HTTP API methods: the common path prefix of `context.http.path`, replayed through the HTTP authorizer', async () => {
    seq = 0;
    const get = (path: string) => call('api.GET', { method: 'GET', path, query: {} }, 'allow', { http: { method: 'GET', path }, resources: [`https://api.example${path}`] });
    const { r, set } = await suggestFrom([get('/v1/users/1'), get('/v1/users/2')]);
    const decide = (path: string) => set.decide(AGENT, 'api.GET', { method: 'GET', path, query: {} }, { http: { method: 'GET', path } }).decision;
    try {
      expect(r.policies).toContain('context.http.path like "/v1/users/*"');
      expect(decide('/v1/users/1')).toBe('allow');
      expect(decide('/v1/users/3')).toBe('allow');
      expect(decide('/v1/admin/keys')).toBe('deny');
      expect(r.template.resources).toEqual(['https://api.example/v1/users/*']);
    } finally {
      set.close();
    }
  });

  it('too many distinct values of a plain argument leave it unconstrained, and say so', async () => {
    seq = 0;
    const { r, set } = await suggestFrom(['a', 'b', 'c', 'd', 'e', 'f'].map((t) => call('stdio.echo', { text: t })));
    set.close();
    expect(r.tools[0]!.args).toEqual([{ arg: 'text', kind: null, distinct: 6, condition: null, note: '6 distinct values (over 5): not constrained', values: ['a', 'b', 'c', 'd', 'e', 'f'] }]);
    expect(r.policies).toContain('permit (principal == Agent::"spiffe://unit.test/agent/reporter", action == Action::"stdio.echo", resource);');
  });
});
