// Security state in the store, per call: the durable call budget (one call charged to a task
// and the two tasks it was delegated from, in one transaction), the DPoP proof-id replay check,
// and one audit append with the hash chain; each next to a bare SQLite round trip (`ping`) on
// the same store in the same run, and printed as time per call.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../dist/storage/sqlite/sqlite-store.js';
import { AuditLog } from '../dist/audit/audit-log.js';
import { systemClock } from '../dist/core/clock.js';

const N = Number(process.env.BENCH_STORE_CALLS ?? 20000);

async function perCall(n, fn) {
  for (let i = 0; i < 500; i++) await fn(i);
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    lat[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  lat.sort();
  return { p50: lat[Math.floor(n * 0.5)], p99: lat[Math.floor(n * 0.99)] };
}

export async function store(log = console.log) {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-bench-store-'));
  const s = new SqliteStore({ path: join(dir, 'mandate.db') });
  try {
    const audit = new AuditLog(s, systemClock);
    const floor = await perCall(N, () => s.ping());
    const chain = [
      { taskId: 'task_child', limit: null },
      { taskId: 'task_parent', limit: null },
      { taskId: 'task_root', limit: 10_000_000 },
    ];
    const budget = await perCall(N, () => s.consumeCall('fs.read_text_file', chain));
    const replay = await perCall(N, (i) => s.useOnce(`dpop:bench:${i}`, Date.now() + 120_000, Date.now()));
    const append = await perCall(Math.min(N, 5000), (i) => audit.record({ type: 'tool.call', actor: 'bench', data: { tool: 'fs.read_text_file', i } }));
    const row = (name, r) => log(`  ${name.padEnd(44)} p50 ${r.p50.toFixed(1).padStart(6)} µs   p99 ${r.p99.toFixed(1).padStart(6)} µs   (${(r.p50 / floor.p50).toFixed(1)}x a bare round trip)`);
    log('Security state in the store, per call (SQLite, WAL, synchronous=NORMAL; in process, sequential)');
    row('bare round trip (SELECT 1), the floor', floor);
    row('call budget: charge task + 2 ancestors', budget);
    row('DPoP proof id: record once (replay check)', replay);
    row('audit append with hash chain (batched)', append);
    log(`  durable budget adds p50 ${((budget.p50 - floor.p50) / 1000).toFixed(3)} ms per allowed call (issue 9 budget: <= 0.1 ms)`);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await store();
