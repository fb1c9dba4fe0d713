// The access review over a large audit log: BENCH_REVIEW_EVENTS (default 1,000,000) tool-call
// events of 50 agents are appended with the real hash chain to a SQLite store (timed: the append
// rate is the baseline), then `buildReview` reads the window in one paged pass (timed, printed as
// events per second and as a ratio to a bare paged read of the same events in the same run).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { loadConfig } from '../dist/config/load.js';
import { createMandate } from '../dist/mandate.js';
import { chainHash } from '../dist/audit/chain.js';
import { buildReview } from '../dist/governance/review.js';

const ROOT = resolve(import.meta.dirname, '..');
const N = Number(process.env.BENCH_REVIEW_EVENTS ?? 1_000_000);
const AGENTS = 50;
const TOOLS = ['fs.read_text_file', 'fs.write_file', 'mem.read_graph', 'web.fetch', 'mem.create_entities'];

export async function review(log = console.log) {
  const dataDir = mkdtempSync(join(tmpdir(), 'mandate-bench-review-'));
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
    // Floor, same run: the same paged read with nothing done per event.
    const f0 = performance.now();
    let read = 0;
    for (let after = 0; ; ) {
      const page = await m.store.listAudit({ afterSeq: after, limit: 5000 });
      read += page.length;
      if (page.length < 5000) break;
      after = page[page.length - 1].seq;
    }
    const floorS = (performance.now() - f0) / 1000;
    const r0 = performance.now();
    const r = await buildReview(m, { since: start - 1, until: Date.now() + 1, staleDays: 30 });
    const reviewS = (performance.now() - r0) / 1000;
    log(`Access review over ${N.toLocaleString()} audit events (${AGENTS} agents, SQLite)`);
    log(`  append with hash chain (setup)          ${appendS.toFixed(1).padStart(7)} s   ${Math.round(N / appendS).toLocaleString().padStart(9)} events/s`);
    log(`  bare paged read of the log (the floor)  ${floorS.toFixed(1).padStart(7)} s   ${Math.round(read / floorS).toLocaleString().padStart(9)} events/s`);
    log(`  mandate review (one pass)               ${reviewS.toFixed(1).padStart(7)} s   ${Math.round(r.eventsRead / reviewS).toLocaleString().padStart(9)} events/s   (${(reviewS / floorS).toFixed(2)}x the floor; ${r.findings.length} findings)`);
  } finally {
    await m.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await review();
