#!/usr/bin/env node
// `npm run demo`: a scripted agent, built on the MCP SDK client, working through Mandate in front
// of real MCP servers (the reference filesystem and memory servers), one step at a time.
// It starts its own Mandate (demo config, throwaway data directory), so it needs nothing else.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createClientAssertion } from '../dist/client/agent-key.js';
import { loadConfig } from '../dist/config/load.js';
import { createMandate } from '../dist/mandate.js';

const ROOT = resolve(import.meta.dirname, '..');
const SANDBOX = join(ROOT, 'demo/sandbox');
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
let n = 0;
const step = (what) => console.log(`\n${bold(`${++n}. ${what}`)}`);
const show = (s) => console.log(dim(`   ${String(s).split('\n').join('\n   ')}`));
const textOf = (r) => (r.content ?? []).map((c) => c.text ?? '').join('\n');

/** The pending approval for a fetch of `url` (the held call created it). */
async function waitForPending(m, url) {
  for (let i = 0; i < 100; i++) {
    const a = (await m.approvals.list({ status: 'pending' })).find((x) => x.args?.url === url);
    if (a) return a.id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no approval request appeared');
}

/** What `mandate approvals approve|deny <id>` does: a person's decision with their own token. */
async function decide(base, token, id, decision, reason) {
  const r = await fetch(`${base}/api/v1/approvals/${id}/${decision}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(reason ? { reason } : {}) });
  if (!r.ok) throw new Error(`${decision} failed: ${await r.text()}`);
}

const dataDir = mkdtempSync(join(tmpdir(), 'mandate-demo-'));
const config = loadConfig({ configPath: join(ROOT, 'mandate.yaml'), dataDir, port: 0, env: {} });
config.logging.level = 'silent';
const m = await createMandate({ config });
const { url } = await m.listen();
console.log(`Mandate is running at ${url}, fronting ${m.tools.listTools().length} tools of ${m.upstreams.names().length} MCP servers (${m.upstreams.names().join(', ')}).`);

try {
  step('An admin registers the agent: a workload identity with an owner, a purpose and a public key.');
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const agent = await m.agents.create({ name: 'demo-reporter', owner: 'alice@corp.example', purpose: 'summarise weekly reports', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }, 'demo');
  show(agent.id);

  step('The agent authenticates with a signed client assertion and starts a read-only task, declaring what it needs.');
  const details = [{ type: 'mandate_task', intent: 'summarise the Q3 report', tools: ['fs.read_text_file', 'fs.list_directory', 'web.fetch'], resources: [`file://${SANDBOX}/*`, 'https://api.partner.example/*'], ttl: 300 }];
  const assertion = await createClientAssertion({ agentId: agent.id, kid, alg: 'ES256', privateKey }, `${url}/oauth/token`);
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, authorization_details: JSON.stringify(details) }),
  });
  const token = await res.json();
  if (res.status !== 200) throw new Error(`task start failed: ${JSON.stringify(token)}`);
  show(`task ${token.task_id}: a credential for ${token.expires_in}s, bound to this task only`);

  step('It connects to Mandate with the MCP SDK client and lists its tools: it sees only the tools its task declared.');
  const client = new Client({ name: 'demo-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token.access_token}` } } }));
  const { tools } = await client.listTools();
  show(`${tools.map((t) => t.name).join(', ')}   (of ${m.tools.listTools().length} tools Mandate fronts)`);

  step('It reads the Q3 report: inside its scope, and policy allows it.');
  const ok = await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } });
  show(textOf(ok));

  step('It tries to write a file: denied, the task never declared a write tool.');
  show(textOf(await client.callTool({ name: 'fs.write_file', arguments: { path: join(SANDBOX, 'reports/notes.txt'), content: 'hello' } })));

  step('It tries to read the salaries file in the same sandbox: denied by an argument policy (reports folder only).');
  show(textOf(await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'private/salaries.csv') } })));

  step("It fetches partner figures: policy wants the owner's yes to this exact call, so Mandate holds the call open.");
  const alice = await m.users.create({ name: 'Alice (agent owner)', email: 'alice@corp.example', roles: [] }, 'demo');
  const partnerUrl = 'https://api.partner.example/q3-figures';
  const held = client.callTool({ name: 'web.fetch', arguments: { url: partnerUrl } }, undefined, { onprogress: (p) => show(`progress: ${p.message}`) });
  const pendingId = await waitForPending(m, partnerUrl);
  show(`approval ${pendingId} is waiting; in another terminal the owner would run:`);
  show(`  MANDATE_TOKEN=<alice's token> mandate approvals approve ${pendingId}`);
  show('(this demo approves it for her now, over the same API)');
  await decide(url, alice.token, pendingId, 'approve');
  show(`→ ${textOf(await held)}`);

  step('It repeats the identical call: the approval was single-use, so this one needs a new yes; Alice says no.');
  const again = client.callTool({ name: 'web.fetch', arguments: { url: partnerUrl } });
  const secondId = await waitForPending(m, partnerUrl);
  await decide(url, alice.token, secondId, 'deny', 'already fetched once for this report');
  show(`→ ${textOf(await again)}`);

  step('Its work is done: it ends the task by revoking its own credential (RFC 7009).');
  await fetch(`${url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token.access_token}` }, body: new URLSearchParams({ token: token.access_token }) });
  show('task ended');

  step('Any further call with that credential is rejected: access ended with the task.');
  try {
    await client.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } });
    show('unexpected: the call went through');
    process.exitCode = 1;
  } catch (err) {
    show(`rejected: ${String(err.message).replace(/\s+/g, ' ').slice(0, 160)}`);
  }

  step('The audit log recorded every step, hash-chained:');
  await m.audit.drain();
  for (const e of await m.audit.list({ agentId: agent.id })) {
    const why = e.data.reasons?.[0] ?? e.data.reason ?? '';
    show(`${String(e.seq).padStart(3)} ${e.type.padEnd(13)} ${String(e.outcome ?? '').padEnd(9)} ${e.data.tool ?? ''} ${why ? `— ${String(why).slice(0, 90)}` : ''}`);
  }
  const v = await m.audit.verify();
  show(v.ok ? `chain intact (${v.checked} events)` : `chain BROKEN at ${v.broken.seq}`);
  await client.close().catch(() => undefined);
} finally {
  await m.close();
  rmSync(dataDir, { recursive: true, force: true });
}
