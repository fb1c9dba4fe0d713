// The cost of observability on the tool-call path: the same echo call through four Mandates in
// one run — nothing on (the baseline), tracing on (every call sampled, exported in batches to a
// local collector that accepts and discards), metrics on (counters and histograms per call,
// scraped meanwhile every BENCH_SCRAPE_MS, Prometheus's default 15 s), and both —
// interleaved in blocks of 50 with direct calls, each with its own CPU per call. Ratios are
// against the baseline of the same run.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort, pinned, start, stop, waitHttp } from './lib/proc.mjs';
import { compareBuilds, startMandate } from './gateway.mjs';
import { Metrics } from '../dist/observability/metrics.js';

const ROOT = resolve(import.meta.dirname, '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
/** How often the metrics are scraped during the calls (Prometheus's default interval is 15 s). */
const SCRAPE_MS = Number(process.env.BENCH_SCRAPE_MS ?? 15000);

export async function observability(log = console.log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-obs-'));
  const children = [];
  let spansReceived = 0;
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      spansReceived += (body.match(/"spanId"/g) ?? []).length;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => collector.listen(0, '127.0.0.1', r));
  try {
    const upPort = await freePort();
    const [ucmd, uargs] = pinned(1, process.execPath, [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp']);
    const upstream = start(ucmd, uargs, { env: { ...process.env, PORT: String(upPort) } });
    children.push(upstream);
    await waitHttp(`http://127.0.0.1:${upPort}/mcp`, { child: upstream });
    const tracing = `tracing: { enabled: true, endpoint: "http://127.0.0.1:${collector.address().port}/v1/traces" }`;
    const builds = [
      { name: 'nothing on (baseline)', config: ['metrics: { enabled: false }'] },
      { name: 'tracing on (3 spans per call)', config: [tracing, 'metrics: { enabled: false }'] },
      { name: 'metrics on', config: [] },
      { name: 'tracing and metrics on', config: [tracing] },
    ];
    const mandates = [];
    for (const [i, b] of builds.entries()) mandates.push(await startMandate(ROOT, tmp, `obs-${i}`, upPort, [], children, b.config));
    const connect = async (base, token) => {
      const c = new Client({ name: 'bench', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      return c;
    };
    const direct = new Client({ name: 'bench-direct', version: '1' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${upPort}/mcp`)));
    const clients = [];
    for (const m of mandates) clients.push(await connect(m.base, m.token));
    // Scrapes run during the calls, as they would in production (each answer read whole).
    let scrapes = 0;
    const scraper = setInterval(() => {
      for (const m of mandates.slice(2)) void fetch(`${m.base}/metrics`).then((res) => res.text()).then(() => scrapes++, () => undefined);
    }, SCRAPE_MS);
    let r;
    try {
      r = await compareBuilds(direct, clients, CALLS, (c, i) => c.callTool({ name: 'echo', arguments: { message: `m${i}` } }), (c, i) => c.callTool({ name: 'everything.echo', arguments: { message: `m${i}` } }), mandates.map((m) => m.proc.pid));
    } finally {
      clearInterval(scraper);
    }
    await new Promise((res) => setTimeout(res, 2500)); // the last batch of spans is exported within a second
    const added = r.via.map((v) => v.p50 - r.direct.p50);
    const sign = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
    log(`Observability on the tool-call path (echo over streamable HTTP, ${CALLS} calls each, interleaved in blocks of 50; ratios against the baseline)`);
    for (const [k, b] of builds.entries()) {
      const vs = k === 0 ? '' : `   vs baseline: p50 ${sign(added[k] - added[0])} ms (${(added[k] / added[0]).toFixed(2)}x), CPU ${sign(r.cpu[k] - r.cpu[0])} ms (${(r.cpu[k] / r.cpu[0]).toFixed(2)}x)`;
      log(`  ${b.name.padEnd(30)} Mandate adds p50 ${added[k].toFixed(3)} ms  p99 ${(r.via[k].p99 - r.direct.p99).toFixed(3)} ms, CPU ${r.cpu[k].toFixed(3)} ms per call${vs}`);
    }
    log(`  ${spansReceived} spans reached the collector; ${scrapes} scrapes answered`);
    await metricsInProcess(log);
    await Promise.all([direct.close(), ...clients.map((c) => c.close())]);
  } finally {
    for (const c of children) await stop(c);
    collector.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * What the call path itself pays for metrics, in process and without the noise of HTTP: one
 * tool call's updates (a decision counter, two histograms), against the same loop with metrics
 * off; and one scrape (this registry, process metrics, scrape-time reads stubbed out).
 */
async function metricsInProcess(log) {
  const decision = { id: 'dec_1', decision: 'allow', policyIds: ['call.read'], reasons: [], errors: [], policyVersion: 'v', evaluated: 1 };
  const time = (m, n) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) m.toolCall('mcp', decision, null, i % 10 ? 'success' : 'denied', 0.001 + i * 1e-9, 0.0005);
    return Number(process.hrtime.bigint() - t) / n;
  };
  const on = new Metrics({ enabled: true });
  on.collectFrom({ activeTasks: async () => 1, pendingApprovals: async () => 0, upstreams: () => [{ name: 'everything', up: true }], readsProvenance: () => false });
  const off = new Metrics({ enabled: false });
  time(on, 100_000);
  time(off, 100_000);
  const [nsOn, nsOff] = [time(on, 500_000), time(off, 500_000)];
  await on.scrape();
  const t = process.hrtime.bigint();
  for (let i = 0; i < 50; i++) await on.scrape();
  const scrapeMs = Number(process.hrtime.bigint() - t) / 50 / 1e6;
  log(`  in process: a tool call's metric updates take ${nsOn.toFixed(0)} ns (metrics off: ${nsOff.toFixed(0)} ns); a scrape ${scrapeMs.toFixed(2)} ms of CPU`);
}

if (import.meta.url === `file://${process.argv[1]}`) await observability();
