// The cost of provenance: (1) on the tool-call path, the same echo call through two Mandates in
// one run, provenance off and on (each call's arguments looked up, each result recorded),
// interleaved with direct calls; (2) in process on a SQLite store: recording 1 MB of untrusted
// results into one task (time, values kept, bytes on disk for them) and looking up a call's
// arguments against it (p50), next to a bare store round trip in the same run.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SqliteStore } from '../dist/storage/sqlite/sqlite-store.js';
import { ProvenanceTracker } from '../dist/provenance/tracker.js';
import { freePort, pinned, start, stop, waitHttp } from './lib/proc.mjs';
import { compareBuilds, startMandate } from './gateway.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);

/** Mail-like text with identifiers, addresses, URLs, IBANs and amounts, about `bytes` long. */
function mailbox(bytes) {
  const parts = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const p = `From: user${i}@corp${i % 50}.example\nSubject: invoice INV-${100000 + i}\nPlease pay EUR ${(i * 37.5).toFixed(2)} to DE${String(10 + (i % 89)).padStart(2, '0')} 3704 0044 ${String(i).padStart(4, '0')} 0130 00 by Friday; details at https://portal${i % 20}.example/inv/${i}. Thanks, order ${randomBytes(4).toString('hex')}\n\n`;
    parts.push(p);
    n += p.length;
  }
  return parts.join('');
}

async function perCall(n, fn) {
  for (let i = 0; i < 200; i++) await fn(i);
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    lat[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  lat.sort();
  return { p50: lat[Math.floor(n * 0.5)], p99: lat[Math.floor(n * 0.99)] };
}

async function inProcess(log) {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-bench-prov-'));
  const store = new SqliteStore({ path: join(dir, 'mandate.db') });
  try {
    const agent = { id: 'spiffe://bench/agent/a', name: 'a', owner: 'o@corp.example', purpose: 'bench', environment: 'dev', status: 'active', reviewBy: null, jwks: { keys: [] }, labels: [], createdAt: 1, updatedAt: 1 };
    await store.insertAgent(agent);
    const task = { id: 'task_bench', agentId: agent.id, parentId: null, depth: 0, intent: 'pay this month\'s invoices', scope: { tools: [{ name: 'bank.send' }], resources: [] }, status: 'active', labels: [], createdAt: 1, expiresAt: Date.now() + 3600_000, endedAt: null, endReason: null, decisionId: null };
    await store.insertTask(task);
    const tracker = new ProvenanceTracker(store, randomBytes(32), { cap: 50_000, perResult: 2_000 });
    const before = statSync(join(dir, 'mandate.db')).size + (statSync(join(dir, 'mandate.db-wal'), { throwIfNoEntry: false })?.size ?? 0);
    const text = mailbox(1024 * 1024);
    // 1 MB arriving as 64 results of 16 KB (a task reading a mailbox page by page).
    const chunks = text.match(/[\s\S]{1,16384}/g);
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    for (const [i, c] of chunks.entries()) await tracker.record(task, { trust: 'untrusted' }, { content: [{ type: 'text', text: c }] }, `mail.read (call ${i})`);
    const recordMs = performance.now() - t0;
    const rows = store.db.prepare('SELECT count(*) AS n FROM task_values WHERE task_id = ?').get(task.id).n;
    await store.checkpoint?.();
    const after = statSync(join(dir, 'mandate.db')).size + (statSync(join(dir, 'mandate.db-wal'), { throwIfNoEntry: false })?.size ?? 0);
    const args = { recipient: 'DE45 3704 0044 0077 0130 00', amount: 1312.5, memo: 'invoice INV-100035' };
    const lookup = await perCall(5000, () => tracker.of(task, args));
    const floor = await perCall(5000, () => store.ping());
    log('Provenance in process (SQLite store)');
    log(`  record 1 MB of untrusted results (64 × 16 KB)  ${recordMs.toFixed(0)} ms total (${(recordMs / chunks.length).toFixed(2)} ms per result); ${rows} values kept (cap 50,000); store grew ${((after - before) / 1024).toFixed(0)} KB; heap after ${(((process.memoryUsage().heapUsed - heap0) / 1024 / 1024)).toFixed(1)} MB (nothing kept in memory per task but its intent/scope keys)`);
    log(`  look up a call's 3 arguments                    p50 ${lookup.p50.toFixed(1)} µs   p99 ${lookup.p99.toFixed(1)} µs   (a bare store round trip: p50 ${floor.p50.toFixed(1)} µs)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function onThePath(log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-prov-gw-'));
  const children = [];
  try {
    const upPort = await freePort();
    const [ucmd, uargs] = pinned(1, process.execPath, [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp']);
    const upstream = start(ucmd, uargs, { env: { ...process.env, PORT: String(upPort) } });
    children.push(upstream);
    await waitHttp(`http://127.0.0.1:${upPort}/mcp`, { child: upstream });
    const off = await startMandate(ROOT, tmp, 'provenance-off', upPort, [], children, ['provenance: { enabled: false }']);
    const on = await startMandate(ROOT, tmp, 'provenance-on', upPort, [], children);
    const connect = async (base, token) => {
      const c = new Client({ name: 'bench', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      return c;
    };
    const direct = new Client({ name: 'bench-direct', version: '1' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${upPort}/mcp`)));
    const [cOff, cOn] = [await connect(off.base, off.token), await connect(on.base, on.token)];
    const msg = (i) => `pay INV-${i} to DE89 3704 0044 0532 ${String(i).padStart(4, '0')} 00 via https://portal.example/${i}`;
    const r = await compareBuilds(direct, [cOff, cOn], CALLS, (c, i) => c.callTool({ name: 'echo', arguments: { message: msg(i) } }), (c, i) => c.callTool({ name: 'everything.echo', arguments: { message: msg(i) } }), [off.proc.pid, on.proc.pid]);
    const [a, b] = r.via.map((v) => v.p50 - r.direct.p50);
    log(`Provenance on the tool-call path (echo of a message with an IBAN, an id and a URL; ${CALLS} calls each, interleaved)`);
    log(`  provenance off: Mandate adds       p50 ${a.toFixed(3)} ms, CPU ${r.cpu[0].toFixed(3)} ms per call`);
    log(`  provenance on                      p50 ${b.toFixed(3)} ms, CPU ${r.cpu[1].toFixed(3)} ms per call`);
    log(`  provenance costs                   p50 ${(b - a >= 0 ? '+' : '')}${(b - a).toFixed(3)} ms, CPU ${(r.cpu[1] - r.cpu[0] >= 0 ? '+' : '')}${(r.cpu[1] - r.cpu[0]).toFixed(3)} ms per call`);
    await Promise.all([direct.close(), cOff.close(), cOn.close()]);
  } finally {
    for (const c of children) await stop(c);
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function provenance(log = console.log) {
  await inProcess(log);
  await onThePath(log);
}

if (import.meta.url === `file://${process.argv[1]}`) await provenance();
