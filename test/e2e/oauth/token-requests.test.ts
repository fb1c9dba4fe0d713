// The token endpoint's handling of task requests: policy decides what may be requested, the
// scope is parsed strictly, and every malformed request gets a clear 4xx.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAssertion, createTestAgent, requestTask, startTestServer, taskDetails, type TestAgent, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let dev: TestAgent;
let prod: TestAgent;
beforeAll(async () => {
  s = await startTestServer();
  dev = await createTestAgent(s, { environment: 'dev' });
  prod = await createTestAgent(s, { environment: 'prod' });
});
afterAll(async () => s?.close());

describe('task requests decided by policy (startTask)', () => {
  it('grants a task inside policy and returns the granted authorization_details', async () => {
    const r = await requestTask(s, dev, taskDetails(['fs.read_text_file', { name: 'fs.list_directory', max_calls: 3 }]));
    expect(r.status).toBe(200);
    expect(r.body.authorization_details).toEqual([
      { type: 'mandate_task', intent: 'summarise the weekly reports', tools: ['fs.read_text_file', { name: 'fs.list_directory', max_calls: 3 }], resources: ['file:///srv/demo/sandbox/reports/*'], ttl: 600 },
    ]);
  });

  it('denies a task asking beyond policy, naming the tool and the reason', async () => {
    // Demo policy: file writes only with a path constraint.
    const r = await requestTask(s, dev, taskDetails(['fs.read_text_file', 'fs.write_file']));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_scope');
    expect(r.body.error_description).toMatch(/tool `fs.write_file`: no policy permits action `startTask`/);
    expect(r.body.reasons).toHaveLength(1);
    expect(r.body.decision_ids).toHaveLength(1);
    // …and nothing was started.
    await s.m.audit.drain();
    const ev = await s.api<{ events: Array<{ type: string; decision: string }> }>('GET', `/api/v1/audit?agent=${encodeURIComponent(dev.id)}&type=task.deny`);
    expect(ev.body.events.at(-1)).toMatchObject({ type: 'task.deny', decision: 'deny' });
  });

  it('grants the same write tool once the task constrains its path', async () => {
    const r = await requestTask(s, dev, taskDetails([{ name: 'fs.write_file', constraints: { path: { like: '/srv/demo/sandbox/reports/*' } } }]));
    expect(r.status).toBe(200);
  });

  it('applies forbid policies: prod agents get at most 5 minutes', async () => {
    // prod agents only get key-bound credentials, so this goes through the SDK (DPoP).
    const { MandateAgent } = await import('../../../src/client/index.js');
    const sdk = await MandateAgent.create({ url: s.url, key: { agentId: prod.id, kid: prod.kid, alg: 'ES256', privateKey: prod.privateKey } });
    const long = await sdk.startTask({ intent: 'summarise', tools: ['fs.read_text_file'], resources: ['file:///srv/demo/sandbox/reports/*'], ttl: 600 }).catch((e: Error) => e);
    expect(String((long as Error).message)).toMatch(/prod agents get tasks of at most 5 minutes/);
    expect((await sdk.startTask({ intent: 'summarise', tools: ['fs.read_text_file'], resources: ['file:///srv/demo/sandbox/reports/*'], ttl: 300 })).tokenType).toBe('DPoP');
    // Without a proof, a prod agent is refused whatever it asks.
    const bearer = await requestTask(s, prod, taskDetails(['fs.read_text_file'], { ttl: 300 }));
    expect(bearer.body).toMatchObject({ error: 'invalid_dpop_proof' });
  });
});

describe('malformed task requests', () => {
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['missing authorization_details', undefined, /`authorization_details` is required/],
    ['not JSON', '{nope', /not valid JSON/],
    ['not an array', '{"type":"mandate_task"}', /must be a JSON array/],
    ['two entries', JSON.stringify([{ type: 'mandate_task' }, { type: 'mandate_task' }]), /exactly one/],
    ['another type', JSON.stringify([{ type: 'payment_initiation' }]), /not supported: use `mandate_task`/],
    ['no intent', JSON.stringify([{ type: 'mandate_task', tools: ['fs.read_text_file'] }]), /intent/],
    ['no tools', JSON.stringify([{ type: 'mandate_task', intent: 'x', tools: [] }]), /at least one tool/],
    ['unknown field', JSON.stringify([{ type: 'mandate_task', intent: 'x', tools: ['fs.read_text_file'], admin: true }]), /unknown field `admin`/],
    ['unknown tool', taskDetails(['fs.format_disk']), /unknown tool `fs.format_disk`/],
    ['duplicate tool', taskDetails(['fs.read_text_file', 'fs.read_text_file']), /listed twice/],
    ['constraint on an argument the tool does not have', taskDetails([{ name: 'fs.read_text_file', constraints: { owner: { eq: 'x' } } }]), /unknown argument `owner`/],
    ['empty constraint', taskDetails([{ name: 'fs.read_text_file', constraints: { path: {} } }]), /at least one of/],
    ['relative resource', taskDetails(['fs.read_text_file'], { resources: ['reports/*'] }), /not a URI/],
    ['resource path not absolute', taskDetails(['fs.read_text_file'], { resources: ['file://srv/x'] }), /not absolute/],
    ['negative ttl', taskDetails(['fs.read_text_file'], { ttl: -5 }), /ttl/],
  ];
  it.each(cases)('rejects %s', async (_name, raw, message) => {
    const params: Record<string, string> = {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(s, dev),
    };
    if (raw !== undefined) params.authorization_details = raw;
    const r = await s.form<{ error: string; error_description: string }>('/oauth/token', params);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_authorization_details');
    expect(r.body.error_description).toMatch(message);
  });

  it('rejects other grant types', async () => {
    const r = await s.form<{ error: string }>('/oauth/token', { grant_type: 'password', username: 'a', password: 'b' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('unsupported_grant_type');
  });

  it('rejects a repeated parameter', async () => {
    const res = await fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&grant_type=password' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_description: string }).error_description).toMatch(/`grant_type` is repeated/);
  });

  it('rejects JSON bodies at the token endpoint', async () => {
    const r = await s.api('POST', '/oauth/token', { grant_type: 'client_credentials' }, { token: null });
    expect(r.status).toBe(415);
  });

  it('rejects a resource (RFC 8707) this Mandate does not serve', async () => {
    const r = await s.form<{ error: string }>('/oauth/token', {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(s, dev),
      authorization_details: taskDetails(['fs.read_text_file']),
      resource: 'https://other.example/mcp',
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_target');
  });

  it('answers with no-store caching', async () => {
    const res = await fetch(`${s.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
