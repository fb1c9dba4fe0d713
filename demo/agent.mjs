#!/usr/bin/env node
// `npm run demo`: a scripted agent, built on the MCP SDK client, working through Mandate in front
// of real MCP servers (the reference filesystem and memory servers), one step at a time.
// It starts its own Mandate (demo config, throwaway data directory), so it needs nothing else.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { MandateAgent } from 'mandate/client';
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
  step('An admin registers two agents: workload identities with an owner, a purpose and a public key.');
  const register = async (name, purpose) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const a = await m.agents.create({ name, owner: 'alice@corp.example', purpose, environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }, 'demo');
    // The agent SDK (mandate/client): its key signs assertions; a per-process key binds credentials (DPoP).
    return MandateAgent.create({ url, key: { agentId: a.id, kid, alg: 'ES256', privateKey } });
  };
  const agent = await register('demo-reporter', 'summarise weekly reports');
  const executor = await register('demo-extractor', 'extract figures from reports');
  show(`${agent.id} (planner)\n${executor.id} (executor)`);

  step('The planner authenticates with a signed client assertion and starts a read-only task, declaring what it needs.');
  const task = await agent.startTask({ intent: 'summarise the Q3 report', tools: ['fs.read_text_file', 'fs.list_directory', 'web.fetch'], resources: [`file://${SANDBOX}/*`, 'https://api.partner.example/*'], ttl: 300 });
  show(`task ${task.id}: a ${task.tokenType} credential for ${Math.round((task.expiresAt - Date.now()) / 1000)}s, bound to this task and to a key that never leaves the agent`);

  step('It connects to Mandate with the MCP SDK client and lists its tools: it sees only the tools its task declared.');
  const client = await task.connect({ name: 'demo-agent', version: '1.0.0' });
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

  step('It hands part of the work to the executor: a narrower task (one tool, the Q3 file only), bound to the executor\'s own key (token exchange).');
  const child = executor.adopt(await task.delegate(await executor.delegationTicket(), { intent: 'extract the Q3 revenue line', tools: ['fs.read_text_file'], resources: [`file://${SANDBOX}/reports/q3*`], ttl: 120 }));
  const claims = decodeJwt(child.credential);
  show(`child task ${child.id}, held by ${claims.act.sub}, acting for ${claims.sub}`);
  const childMcp = await child.connect({ name: 'demo-executor', version: '1.0.0' });
  show(`the executor sees: ${(await childMcp.listTools()).tools.map((t) => t.name).join(', ')}`);
  show(`→ ${textOf(await childMcp.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } })).split('\n')[0]}`);
  show(`→ ${textOf(await childMcp.callTool({ name: 'fs.list_directory', arguments: { path: join(SANDBOX, 'reports') } }))}`);

  step('Its work is done: the planner ends its task (RFC 7009); the delegated task ends with it.');
  await task.end();
  show('task ended');
  try {
    await childMcp.callTool({ name: 'fs.read_text_file', arguments: { path: join(SANDBOX, 'reports/q3-summary.txt') } });
    show('unexpected: the executor could still call');
    process.exitCode = 1;
  } catch (err) {
    show(`executor refused: ${String(err.message).replace(/\s+/g, ' ').slice(0, 240)}`);
  }

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
  for (const e of (await m.audit.list({})).filter((x) => x.agentId === agent.id || x.agentId === executor.id)) {
    const why = e.data.reasons?.[0] ?? e.data.reason ?? '';
    show(`${String(e.seq).padStart(3)} ${e.type.padEnd(16)} ${String(e.outcome ?? '').padEnd(9)} ${e.data.tool ?? ''} ${why ? `— ${String(why).slice(0, 80)}` : ''}`);
  }
  const v = await m.audit.verify();
  show(v.ok ? `chain intact (${v.checked} events)` : `chain BROKEN at ${v.broken.seq}`);
  await client.close().catch(() => undefined);
} finally {
  await m.close();
  rmSync(dataDir, { recursive: true, force: true });
}
