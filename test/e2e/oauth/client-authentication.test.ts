// Attacks on agent authentication at the token endpoint (private_key_jwt, RFC 7523). Each case
// names what it stops; each must be a 4xx with a message naming the problem, audited as an
// authentication failure, and never a 500.

import { generateKeyPair, SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAssertion, createTestAgent, requestTask, startTestServer, taskDetails, type TestAgent, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let agent: TestAgent;
beforeAll(async () => {
  s = await startTestServer();
  agent = await createTestAgent(s);
});
afterAll(async () => s?.close());

const details = taskDetails(['fs.read_text_file']);

async function lastAuthFailure(): Promise<{ agentId: string | null; data: { reason: string } }> {
  await s.m.audit.drain();
  const r = await s.api<{ events: Array<{ agentId: string | null; data: { reason: string } }> }>('GET', '/api/v1/audit?type=auth.failure&order=desc&limit=1');
  return r.body.events[0]!;
}

function unsigned(header: object, claims: object, signature = ''): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
}

describe('client assertion attacks', () => {
  const now = () => Math.floor(s.m.clock.now() / 1000);
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    // An unsigned token would let anyone claim to be any agent.
    ['alg none', async () => unsigned({ alg: 'none' }, { iss: agent.id, sub: agent.id, aud: `${s.url}/oauth/token`, exp: now() + 60, jti: 'none-attack-1' }), /`alg` is `none`/],
    // Algorithm confusion: an HMAC signed with the agent's *public* key (which anyone has).
    [
      'HS256 signed with the public key',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(agent.id)
          .setSubject(agent.id)
          .setAudience(`${s.url}/oauth/token`)
          .setExpirationTime(now() + 60)
          .setJti('hmac-confusion-1')
          .sign(new TextEncoder().encode(JSON.stringify(agent.publicJwk))),
      /symmetric/,
    ],
    // A key the agent never registered (an attacker's own key) must not verify.
    [
      'signed by an unregistered key',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return clientAssertion(s, agent, { key: privateKey });
      },
      /signature does not verify/,
    ],
    // A stolen, expired assertion must be useless.
    ['expired', () => clientAssertion(s, agent, { iat: now() - 600, exp: now() - 300 }), /expired/],
    // Pre-minted assertions for later use.
    ['not yet valid (nbf in the future)', () => clientAssertion(s, agent, { nbf: now() + 600, exp: now() + 700 }), /not yet valid/],
    // An assertion minted for another server must not work here (cross-service replay).
    ['wrong audience', () => clientAssertion(s, agent, { aud: 'https://evil.example/oauth/token' }), /`aud` is wrong/],
    // Long-lived assertions are static credentials in disguise.
    ['lifetime too long', () => clientAssertion(s, agent, { exp: now() + 3600 }), /lives too long/],
    // Without a jti, replay could not be detected.
    ['missing jti', () => clientAssertion(s, agent, { jti: null }), /`jti`/],
    // Claiming another agent's identity with one's own key.
    ['iss and sub differ', () => clientAssertion(s, agent, { sub: 'spiffe://demo.mandate.local/agent/someone-else' }), /`sub` must equal `iss`/],
    // Unknown agents are not auto-registered.
    ['unknown agent', () => clientAssertion(s, agent, { iss: 'spiffe://demo.mandate.local/agent/ghost', sub: 'spiffe://demo.mandate.local/agent/ghost' }), /unknown agent/],
    // Garbage instead of a JWT.
    ['not a JWT', async () => 'not-a-jwt', /not a signed JWT/],
    // A tampered payload with the original signature.
    [
      'tampered claims',
      async () => {
        const good = await clientAssertion(s, agent);
        const [h, , sig] = good.split('.');
        return `${h}.${base64url.encode(JSON.stringify({ iss: agent.id, sub: agent.id, aud: `${s.url}/oauth/token`, exp: now() + 60, jti: 'tampered-1' }))}.${sig}`;
      },
      /signature does not verify/,
    ],
  ];

  it.each(cases)('rejects %s', async (_name, make, message) => {
    const r = await requestTask(s, agent, details, await make());
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_client');
    expect(r.body.error_description).toMatch(message);
    const ev = await lastAuthFailure();
    expect(ev.data.reason).toMatch(message);
  });

  it('rejects a replayed assertion (same jti twice)', async () => {
    const a = await clientAssertion(s, agent);
    expect((await requestTask(s, agent, details, a)).status).toBe(200);
    const again = await requestTask(s, agent, details, a);
    expect(again.status).toBe(401);
    expect(again.body.error_description).toMatch(/already used: replayed assertions are rejected/);
    expect((await lastAuthFailure()).agentId).toBe(agent.id);
  });

  it('lets exactly one of many concurrent uses of one assertion through', async () => {
    const a = await clientAssertion(s, agent);
    const results = await Promise.all(Array.from({ length: 8 }, () => requestTask(s, agent, details, a)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(7);
  });

  it('refuses static client secrets outright', async () => {
    const r = await s.form('/oauth/token', { grant_type: 'client_credentials', client_id: agent.id, client_secret: 'hunter2', authorization_details: details });
    expect(r.status).toBe(401);
    expect((r.body as { error_description: string }).error_description).toMatch(/client secrets are not accepted/);
  });

  it('rejects a client_id that does not match the assertion', async () => {
    const r = await s.form('/oauth/token', {
      grant_type: 'client_credentials',
      client_id: 'spiffe://demo.mandate.local/agent/other',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(s, agent),
      authorization_details: details,
    });
    expect(r.status).toBe(401);
    expect((r.body as { error_description: string }).error_description).toMatch(/does not match/);
  });

  it('records successful authentications too', async () => {
    await requestTask(s, agent, details);
    await s.m.audit.drain();
    const r = await s.api<{ events: Array<{ agentId: string; data: Record<string, unknown> }> }>('GET', '/api/v1/audit?type=auth.success&order=desc&limit=1');
    expect(r.body.events[0]!.agentId).toBe(agent.id);
    expect(r.body.events[0]!.data.method).toBe('private_key_jwt');
  });
});
