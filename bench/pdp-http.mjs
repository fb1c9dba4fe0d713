// AuthZEN evaluation throughput over HTTP, all in one run: Mandate next to the Cerbos PDP
// (the peer PDP, same scenario, same request bodies) and a trivial Node server returning a
// fixed body (the ceiling). Each server gets one CPU; the load generator the other.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, load, pinned, start, stop, waitHttp, hasTaskset, cpus } from './lib/proc.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SERVER_CPU = 0;
const LOAD_CPU = cpus > 1 ? 1 : 0;

export async function pdpHttp(log = console.log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-'));
  const shared = join(ROOT, '..', 'shared/conformance/authzen/todo-decisions-1_0-02.json');
  const vectors = JSON.parse(readFileSync(existsSync(shared) ? shared : join(ROOT, 'test/fixtures/authzen/vectors/todo-decisions-1_0-02.json'), 'utf8'));
  const cases = vectors.evaluation.map((c) => ({ body: c.request, expected: c.expected }));
  const casesFile = join(tmp, 'cases.json');
  writeFileSync(casesFile, JSON.stringify(cases));
  const results = {};
  const children = [];
  try {
    // 1. The ceiling: a trivial Node HTTP server answering a fixed decision.
    {
      const port = await freePort();
      const code = `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.setHeader('content-type','application/json');s.end('{"decision":true}')})}).listen(${port},'127.0.0.1')`;
      const [cmd, args] = pinned(SERVER_CPU, process.execPath, ['-e', code]);
      const child = start(cmd, args);
      children.push(child);
      await waitHttp(`http://127.0.0.1:${port}/`, { child });
      const trivialCases = join(tmp, 'trivial.json');
      writeFileSync(trivialCases, JSON.stringify(cases.map((c) => ({ body: c.body }))));
      results.trivial = await load(LOAD_CPU, `http://127.0.0.1:${port}/access/v1/evaluation`, trivialCases, { concurrency: CONCURRENCY, seconds: SECONDS });
      await stop(child);
    }
    // 2. Cerbos, one CPU (GOMAXPROCS=1), users held in policy constants so it takes the same bodies.
    {
      const http = await freePort();
      const grpc = await freePort();
      const bin = join(ROOT, 'node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64');
      const [cmd, args] = pinned(SERVER_CPU, bin, ['server', `--config=${join(ROOT, 'bench/cerbos/config.yaml')}`, '--log-level=error', `--set=server.httpListenAddr=127.0.0.1:${http}`, `--set=server.grpcListenAddr=127.0.0.1:${grpc}`]);
      const child = start(cmd, args, { env: { ...process.env, GOMAXPROCS: '1', CERBOS_POLICY_DIR: join(ROOT, 'bench/cerbos/policies-directory') } });
      children.push(child);
      await waitHttp(`http://127.0.0.1:${http}/_cerbos/health`, { child });
      results.cerbos = await load(LOAD_CPU, `http://127.0.0.1:${http}/access/v1/evaluation`, casesFile, { concurrency: CONCURRENCY, seconds: SECONDS });
      await stop(child);
    }
    // 3. Mandate, with its decision cache (the default) and without it.
    for (const [label, cache] of [
      ['mandate', 10_000],
      ['mandateNoCache', 0],
    ]) {
      const port = await freePort();
      const dataDir = join(tmp, label);
      const fixture = join(ROOT, 'test/fixtures/authzen');
      const cfg = join(tmp, `${label}.yaml`);
      writeFileSync(
        cfg,
        [
          'trustDomain: bench.local',
          `policies: { dir: ${join(fixture, 'policies')}, schema: ${join(fixture, 'interop.cedarschema')}, decisionCache: ${cache} }`,
          `entities: [ ${join(fixture, 'users.json')} ]`,
          'authzen: { types: { identity: User } }',
          'logging: { level: warn }',
        ].join('\n'),
      );
      const [cmd, args] = pinned(SERVER_CPU, process.execPath, [join(ROOT, 'dist/cli/main.js'), '--config', cfg, '--data-dir', dataDir, 'serve', '--port', String(port)]);
      const child = start(cmd, args);
      children.push(child);
      await waitHttp(`http://127.0.0.1:${port}/healthz`, { child });
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      results[label] = await load(LOAD_CPU, `http://127.0.0.1:${port}/access/v1/evaluation`, casesFile, { concurrency: CONCURRENCY, seconds: SECONDS, authorization: `Bearer ${token}` });
      await stop(child);
    }
  } finally {
    for (const c of children) await stop(c);
    rmSync(tmp, { recursive: true, force: true });
  }
  for (const [k, r] of Object.entries(results)) if (r.errors) throw new Error(`${k}: ${r.errors} failed requests (${r.firstError})`);
  const row = (name, r) => `  ${name.padEnd(34)} ${String(r.rps).padStart(7)} req/s   p50 ${r.p50_ms.toFixed(2)} ms   p99 ${r.p99_ms.toFixed(2)} ms`;
  log(`AuthZEN evaluation over HTTP (${cases.length} interop requests round-robin, ${CONCURRENCY} connections, ${SECONDS}s each; ${hasTaskset && cpus > 1 ? 'server on CPU 0, load on CPU 1' : 'unpinned'})`);
  log(row('trivial Node server (ceiling)', results.trivial));
  log(row('Cerbos 0.55 PDP (GOMAXPROCS=1)', results.cerbos));
  log(row('Mandate (decision cache on)', results.mandate));
  log(row('Mandate (decision cache off)', results.mandateNoCache));
  const ratio = (a, b) => (a / b).toFixed(2);
  log(`  ratio Mandate / Cerbos:              ${ratio(results.mandate.rps, results.cerbos.rps)}x  (cache off: ${ratio(results.mandateNoCache.rps, results.cerbos.rps)}x; target >= 1.5x)`);
  log(`  ratio Mandate / trivial ceiling:     ${ratio(results.mandate.rps, results.trivial.rps)}  (cache off: ${ratio(results.mandateNoCache.rps, results.trivial.rps)})`);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await pdpHttp();
