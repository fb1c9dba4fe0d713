// The framework report over a large audit log: MANDATE_BENCH_EVENTS (default 200,000; set
// 1000000 for the million-event run) tool-call events of 50 agents — the same events as
// review.mjs — are appended with the real hash chain to a SQLite store, then, in the same run:
// a bare paged read of the window (the floor), `buildReview` (one paged pass, counting), and
// `buildReport` (the review's pass with the report's evidence counted and every event re-hashed
// to check the window's chain, then the controls evaluated). Printed as events per second and
// as ratios to the floor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { loadConfig } from '../dist/config/load.js';
import { createMandate } from '../dist/mandate.js';
import { chainHash } from '../dist/audit/chain.js';
import { buildReview } from '../dist/governance/review.js';
import { buildReport } from '../dist/governance/report.js';
import { renderReport } from '../dist/governance/report-render.js';

const ROOT = resolve(import.meta.dirname, '..');
const N = Number(process.env.MANDATE_BENCH_EVENTS ?? 200_000);
const AGENTS = 50;
const TOOLS = ['fs.read_text_file', 'fs.write_file', 'mem.read_graph', 'web.fetch', 'mem.create_entities'];

export async function report(log = console.log) {
  const dataDir = mkdtempSync(join(tmpdir(), 'mandate-bench-report-'));
  const config = loadConfig({ configPath: join(ROOT, 'mandate.yaml'), dataDir, port: 0, env: {} });
  config.logging.level = 'silent';
  const m = await createMandate({ config, connectUpstreams: false });
  try {
    const jwk = await exportJWK((await generateKeyPair('ES256')).publicKey);
    const keys = [{ ...jwk, kid: await calculateJwkThumbprint(jwk) }];
    const agents = [];
    for (let i = 0; i < AGENTS; i++) agents.push(await m.agents.create({ name: `bench-${i}`, owner: `owner${i % 7}@corp.example`, purpose: 'bench', environment: 'dev', jwks: { keys } }, 'bench'));
    const start = Date.now() - 20 * 86_400_000;
    const step = (20 * 86_400_000) / N;
    const t0 = performance.now();
    const BATCH = 5000;
    for (let i = 0; i < N; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + BATCH); j++) {
        const a = agents[j % AGENTS];
        const denied = j % 10 === 0;
        batch.push({ id: `ev_bench_${j}`, ts: Math.floor(start + j * step), type: 'tool.call', actor: a.id, agentId: a.id, taskId: `task_bench_${j % 997}`, decision: denied ? 'deny' : 'allow', outcome: denied ? 'denied' : 'success', data: { tool: TOOLS[j % TOOLS.length], resources: [`file:///srv/reports/${j % 13}.txt`], reasons: denied ? ['no policy permits it'] : [], policyIds: [] } });
      }
      await m.store.appendAudit(batch, chainHash);
      if ((i / BATCH) % 40 === 0) process.stderr.write(`\r  appending audit events: ${i.toLocaleString()} / ${N.toLocaleString()}`);
    }
    process.stderr.write(`\r${' '.repeat(60)}\r`);
    const appendS = (performance.now() - t0) / 1000;
    const window = { since: start - 1, until: Date.now() + 1 };
    // Floor, same run: the same paged read of the window (as `auditWindow` reads it), nothing done per event.
    const f0 = performance.now();
    let read = 0;
    for (let after; ; ) {
      const page = await m.store.listAudit({ since: window.since, until: window.until, limit: 5000, ...(after !== undefined ? { afterSeq: after } : {}) });
      read += page.length;
      if (page.length < 5000) break;
      after = page[page.length - 1].seq;
    }
    const floorS = (performance.now() - f0) / 1000;
    const v0 = performance.now();
    const rv = await buildReview(m, { ...window, staleDays: 30 });
    const reviewS = (performance.now() - v0) / 1000;
    const r0 = performance.now();
    const r = await buildReport(m, window);
    const reportS = (performance.now() - r0) / 1000;
    const h0 = performance.now();
    const html = renderReport(r, 'html').body;
    const htmlMs = performance.now() - h0;
    const heapMb = process.memoryUsage().heapUsed / 1e6;
    const rate = (n, s) => Math.round(n / s).toLocaleString().padStart(9);
    log(`Framework report over ${N.toLocaleString()} audit events (${AGENTS} agents, SQLite)`);
    log(`  append with hash chain (setup)          ${appendS.toFixed(1).padStart(7)} s   ${rate(N, appendS)} events/s`);
    log(`  bare paged read of the window (floor)   ${floorS.toFixed(1).padStart(7)} s   ${rate(read, floorS)} events/s`);
    log(`  mandate review (one pass, counting)     ${reviewS.toFixed(1).padStart(7)} s   ${rate(rv.eventsRead, reviewS)} events/s   (${(reviewS / floorS).toFixed(2)}x the floor)`);
    log(`  mandate report (one pass, + chain)      ${reportS.toFixed(1).padStart(7)} s   ${rate(r.evidence.eventsRead, reportS)} events/s   (${(reportS / floorS).toFixed(2)}x the floor; chain ${r.evidence.chain.ok ? 'intact' : 'BROKEN'}, ${r.evidence.chain.eventsChecked.toLocaleString()} events re-hashed)`);
    log(`  render HTML                             ${htmlMs.toFixed(0).padStart(7)} ms  (${Math.round(html.length / 1024)} kB); heap after ${heapMb.toFixed(0)} MB`);
  } finally {
    await m.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await report();
