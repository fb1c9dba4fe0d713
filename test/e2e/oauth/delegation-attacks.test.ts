// Attacks on delegation (RFC 8693) found from outside, each stopped at its mechanism: tickets
// that worked as logins, budgets that multiplied through delegation, act chains stripped by
// re-issuing, introspection that hid binding and delegation, and loose token-exchange parsing.
// Real server, the agent SDK and the real MCP SDK client against the demo upstreams.

import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientAssertion, createDelegationTicket, createDpopProof, generateDpopKey, MandateAgent, MandateClientError, type MandateTask } from '../../../src/client/index.js';
import { REPO, createTestAgent, startTestServer, type TestAgent, type TestServer } from '../../helpers/server.js';

const SANDBOX = join(REPO, 'demo/sandbox');
const Q3 = join(SANDBOX, 'reports/q3-summary.txt');
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
let s: TestServer;

interface Sdk {
  test: TestAgent;
  agent: MandateAgent;
}

async function sdkAgent(over: Partial<{ environment: string; owner: string }> = {}): Promise<Sdk> {
  const test = await createTestAgent(s, { owner: 'team@corp.example', ...over });
  const agent = await MandateAgent.create({ url: s.url, key: { agentId: test.id, kid: test.kid, alg: 'ES256', privateKey: test.privateKey } });
  return { test, agent };
}

const keyOf = (a: Sdk) => ({ agentId: a.test.id, kid: a.test.kid, alg: 'ES256', privateKey: a.test.privateKey });
const readTask = (extra: Record<string, unknown> = {}) => ({ intent: 'summarise the Q3 report', tools: ['fs.read_text_file', 'fs.list_directory'], resources: [`file://${SANDBOX}/reports/*`], ttl: 300, ...extra });
const fail = <T>(p: Promise<T>) => p.then(
  () => {
    throw new Error('expected a refusal');
  },
  (e: unknown) => e as MandateClientError,
);

/** A raw token-endpoint POST with a DPoP proof by `agent`'s process key (attacks the SDK would not make). */
async function rawToken(agent: MandateAgent, form: Record<string, string>, accessToken?: string) {
  const url = `${s.url}/oauth/token`;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', dpop: await createDpopProof(agent.dpop!, 'POST', url, accessToken ? { accessToken } : {}) };
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.close());

describe('delegation tickets are not logins (ticket reuse, ticket-as-login, parent-chosen key)', () => {
  let planner: Sdk;
  let executor: Sdk;
  beforeAll(async () => {
    planner = await sdkAgent();
    executor = await sdkAgent();
  });

  it('refuses a ticket sent as a client assertion: whoever holds it cannot log in as the child', async () => {
    const ticket = await executor.agent.delegationTicket();
    expect(decodeProtectedHeader(ticket.actorToken).typ).toBe('delegation+jwt');
    const details = JSON.stringify([{ type: 'mandate_task', intent: 'anything I like', tools: ['fs.read_text_file', 'fs.write_file'], resources: [`file://${SANDBOX}/*`] }]);
    const r = await rawToken(planner.agent, { grant_type: 'client_credentials', client_assertion_type: ASSERTION, client_assertion: ticket.actorToken, authorization_details: details });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'invalid_client', error_description: expect.stringMatching(/delegation ticket: it is accepted only as the `actor_token`/) });
    // Even with the login `typ` forged back, its audience is not the token endpoint's login audience.
    const forged = await createDelegationTicket(keyOf(executor), `${s.url}/oauth/token`, {});
    const again = await rawToken(planner.agent, { grant_type: 'client_credentials', client_assertion_type: ASSERTION, client_assertion: forged, authorization_details: details });
    expect(again.status).toBe(401);
  });

  it('refuses a plain client assertion as the actor token (a login is not a ticket)', async () => {
    const parent = await planner.agent.startTask(readTask());
    const login = await createClientAssertion(keyOf(executor), `${s.url}/oauth/token`);
    const e = await fail(parent.delegate({ actorToken: login }, { tools: ['fs.read_text_file'] }));
    expect(e).toMatchObject({ error: 'invalid_client', message: expect.stringMatching(/must be the child's delegation ticket/) });
  });

  it('spends a ticket once: a second parent (or the same one) cannot use it again', async () => {
    const ticket = await executor.agent.delegationTicket();
    const first = await planner.agent.startTask(readTask());
    await first.delegate(ticket, { tools: ['fs.read_text_file'] });
    const secondParent = await sdkAgent();
    const other = await secondParent.agent.startTask(readTask());
    const e = await fail(other.delegate(ticket, { tools: ['fs.read_text_file'] }));
    expect(e).toMatchObject({ error: 'invalid_client', message: expect.stringMatching(/already used: a delegation ticket is good for one exchange/) });
  });

  it('refuses a ticket that lives longer than the ticket limit', async () => {
    const parent = await planner.agent.startTask(readTask());
    const longLived = await executor.agent.delegationTicket({ lifetimeSeconds: 3600 });
    const e = await fail(parent.delegate(longLived, { tools: ['fs.read_text_file'] }));
    expect(e.message).toMatch(/delegation ticket lives too long: `exp` must be at most 120s/);
  });

  it("binds the child's credential to the key the child signed into its ticket, never one the parent names", async () => {
    const parent = await planner.agent.startTask(readTask());
    const ticket = await executor.agent.delegationTicket();
    // The parent swaps in its own key to act as the child.
    const e = await fail(parent.delegate({ ...ticket, dpopJkt: (await planner.agent.dpopJkt())! }, { tools: ['fs.read_text_file'] }));
    expect(e).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/a parent cannot choose the child's key/) });
    // Without naming any key, the credential is still bound to the child's, from the ticket.
    const fresh = await executor.agent.delegationTicket();
    const grant = await parent.delegate({ actorToken: fresh.actorToken }, { tools: ['fs.read_text_file'] });
    expect(decodeJwt(grant.access_token).cnf).toEqual({ jkt: await executor.agent.dpopJkt() });
    // And the parent, holding the grant, cannot use it with its own key.
    const asParent = planner.agent.adopt(grant);
    await expect(asParent.connect()).rejects.toThrow(/401|another key/);
  });

  it('refuses a prod child whose ticket names no key (no unbound credential for a prod agent)', async () => {
    const prodChild = await sdkAgent({ environment: 'prod' });
    const parent = await planner.agent.startTask(readTask());
    const unbound = await createDelegationTicket(keyOf(prodChild), `${s.url}/oauth/token`);
    const e = await fail(parent.delegate({ actorToken: unbound }, { tools: ['fs.read_text_file'] }));
    expect(e).toMatchObject({ error: 'invalid_dpop_proof', message: expect.stringMatching(/must name its DPoP key/) });
  });
});

describe('call budgets do not multiply through delegation', () => {
  let planner: Sdk;
  let a: Sdk;
  let b: Sdk;
  beforeAll(async () => {
    planner = await sdkAgent();
    a = await sdkAgent();
    b = await sdkAgent();
  });
  const once = () => readTask({ tools: [{ name: 'fs.read_text_file', max_calls: 1 }] });

  it('refuses to delegate calls the parent has already spent (budget laundering)', async () => {
    const parent = await planner.agent.startTask(once());
    const mcp = await parent.connect();
    expect((await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } })).isError).toBeFalsy();
    await mcp.close();
    const e = await fail(parent.delegate(await a.agent.delegationTicket(), { tools: [{ name: 'fs.read_text_file', max_calls: 1 }] }));
    expect(e).toMatchObject({ error: 'invalid_scope', message: expect.stringMatching(/no calls left to give/) });
    const implicit = await fail(parent.delegate(await b.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    expect(implicit.message).toMatch(/no calls left to give/);
  });

  it('counts the parent and every child together against the parent grant (fan-out to several children)', async () => {
    const parent = await planner.agent.startTask(once());
    // Two children are each handed "the" one call; only one call may ever run.
    const c1 = a.agent.adopt(await parent.delegate(await a.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    const c2 = b.agent.adopt(await parent.delegate(await b.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    const results = [];
    for (const t of [c1, c2, parent] as MandateTask[]) {
      const mcp = await t.connect();
      results.push(await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } }));
      await mcp.close();
    }
    expect(results.filter((r) => !r.isError)).toHaveLength(1);
    const refused = results.filter((r) => r.isError).map((r) => JSON.stringify(r.content));
    expect(refused).toHaveLength(2);
    expect(refused.join()).toMatch(/budget of 1 call of task .*which this task was delegated from, is spent|reached the task's limit of 1 call/);
    // The store holds the truth: the parent's counter includes its children's calls.
    expect(await s.m.store.callCounts(parent.id)).toEqual({ 'fs.read_text_file': 1 });
  });

  it("gives a child at most what the parent has left, and exactly that when it names no limit", async () => {
    const parent = await planner.agent.startTask(readTask({ tools: [{ name: 'fs.read_text_file', max_calls: 3 }] }));
    const mcp = await parent.connect();
    await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } });
    await mcp.close();
    const tooMuch = await fail(parent.delegate(await a.agent.delegationTicket(), { tools: [{ name: 'fs.read_text_file', max_calls: 3 }] }));
    expect(tooMuch.message).toMatch(/3 calls is more than the 2 the parent has left/);
    const grant = await parent.delegate(await a.agent.delegationTicket(), { tools: ['fs.read_text_file'] });
    expect(grant.authorization_details).toEqual([expect.objectContaining({ tools: [{ name: 'fs.read_text_file', max_calls: 2 }] })]);
  });

  it('refuses a cycle (A → B → A hands A a fresh counter)', async () => {
    const root = await a.agent.startTask(once());
    const toB = b.agent.adopt(await root.delegate(await b.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    const back = await fail(toB.delegate(await a.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    expect(back).toMatchObject({ error: 'invalid_grant', message: expect.stringMatching(/delegation cycle: agent .* is already in this task's chain/) });
  });
});

describe('the act chain belongs to the task (stripping it by re-issuing)', () => {
  it('puts the full chain in every credential of a delegated task, including one the child asks for itself', async () => {
    const [root, mid, leaf] = [await sdkAgent(), await sdkAgent(), await sdkAgent()];
    const rootTask = await root.agent.startTask(readTask());
    const midTask = mid.agent.adopt(await rootTask.delegate(await mid.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    // The child asks for a new credential for its task with a plain login: the chain stays.
    const reissued = await mid.agent.resumeTask(midTask.id);
    for (const cred of [midTask.credential, reissued.credential]) {
      const c = decodeJwt(cred);
      expect(c.sub).toBe(root.test.id);
      expect(c.client_id).toBe(mid.test.id);
      expect(c.act).toEqual({ sub: mid.test.id, task_id: midTask.id });
    }
    // A grandchild delegated from the re-issued credential still names the original delegator.
    const leafTask = leaf.agent.adopt(await reissued.delegate(await leaf.agent.delegationTicket(), { tools: ['fs.read_text_file'] }));
    const lc = decodeJwt(leafTask.credential);
    expect(lc.sub).toBe(root.test.id);
    expect(lc.act).toEqual({ sub: leaf.test.id, task_id: leafTask.id, act: { sub: mid.test.id, task_id: midTask.id } });
    // And audit shows the whole chain on the re-issued credential's calls.
    const mcp = await reissued.connect();
    await mcp.callTool({ name: 'fs.read_text_file', arguments: { path: Q3 } });
    await mcp.close();
    const call = (await s.m.store.listAudit({ type: 'tool.call', taskId: midTask.id, limit: 1, newestFirst: true }))[0]!;
    expect(call.data.actingFor).toEqual([{ agent: root.test.id, task: rootTask.id }]);
  });
});

describe('introspection shows binding and delegation (an introspecting PEP can enforce them)', () => {
  it('answers token_type DPoP with cnf.jkt, act, the task and its scope', async () => {
    const [root, child] = [await sdkAgent(), await sdkAgent()];
    const rootTask = await root.agent.startTask(readTask());
    const grant = await rootTask.delegate(await child.agent.delegationTicket(), { tools: ['fs.read_text_file'] });
    const r = await s.form('/oauth/introspect', { token: grant.access_token }, { token: s.adminToken });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: await child.agent.dpopJkt() },
      sub: root.test.id,
      client_id: child.test.id,
      act: { sub: child.test.id, task_id: grant.task_id },
      task_id: grant.task_id,
      scope: 'mandate:task',
      authorization_details: [expect.objectContaining({ type: 'mandate_task', tools: ['fs.read_text_file'] })],
    });
  });
});

describe('token exchange follows RFC 8693 where it is explicit', () => {
  let parent: Sdk;
  let child: Sdk;
  let task: MandateTask;
  beforeAll(async () => {
    parent = await sdkAgent();
    child = await sdkAgent();
    task = await parent.agent.startTask(readTask());
  });
  const exchange = async (extra: Record<string, string>, drop: string[] = []) => {
    const form: Record<string, string> = {
      grant_type: EXCHANGE,
      subject_token: task.credential,
      subject_token_type: ACCESS,
      actor_token: (await child.agent.delegationTicket()).actorToken,
      actor_token_type: JWT,
      authorization_details: JSON.stringify([{ type: 'mandate_task', intent: 'delegated', tools: ['fs.read_text_file'] }]),
      ...extra,
    };
    for (const k of drop) delete form[k];
    return rawToken(parent.agent, form, task.credential);
  };

  it('requires subject_token_type (§2.1)', async () => {
    const r = await exchange({}, ['subject_token_type']);
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/`subject_token_type` is required/);
  });

  it('verifies client authentication presented on an exchange instead of ignoring it (a forged or foreign assertion)', async () => {
    const garbage = await exchange({ client_assertion_type: ASSERTION, client_assertion: 'not.a.jwt' });
    expect(garbage.status).toBe(401);
    expect(garbage.body.error).toBe('invalid_client');
    const stranger = await sdkAgent();
    const foreign = await exchange({ client_assertion_type: ASSERTION, client_assertion: await createClientAssertion(keyOf(stranger), `${s.url}/oauth/token`) });
    expect(foreign.status).toBe(401);
    expect(foreign.body.error_description).toMatch(/is not the holder of `subject_token`/);
    const own = await exchange({ client_assertion_type: ASSERTION, client_assertion: await createClientAssertion(keyOf(parent), `${s.url}/oauth/token`) });
    expect(own.status).toBe(200);
  });

  it('orients act as §4.1 says: outer sub is who it acts for, act.sub the current actor', async () => {
    const r = await exchange({});
    expect(r.status).toBe(200);
    const c = decodeJwt(r.body.access_token as string);
    expect(c).toMatchObject({ sub: parent.test.id, client_id: child.test.id, act: { sub: child.test.id } });
    expect(r.body.issued_token_type).toBe(ACCESS);
  });
});

describe('a thief with a DPoP key of its own still cannot act as the child', () => {
  it('refuses the child credential presented with another key', async () => {
    const [p, c] = [await sdkAgent(), await sdkAgent()];
    const t = await p.agent.startTask(readTask());
    const grant = await t.delegate(await c.agent.delegationTicket(), { tools: ['fs.read_text_file'] });
    const thief = await generateDpopKey();
    const proof = await createDpopProof(thief, 'POST', `${s.url}/mcp`, { accessToken: grant.access_token });
    const res = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `DPoP ${grant.access_token}`, dpop: proof },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'thief', version: '1' } } }),
    });
    expect(res.status).toBe(401);
    expect(await res.text()).toMatch(/signed by another key/);
  });
});
