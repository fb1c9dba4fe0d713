// The cost of observability on the tool-call path: the same echo call through two Mandates in
// one run — tracing off and tracing on (every call sampled, exported in batches to a local
// collector that accepts and discards) — interleaved in blocks of 50 with direct calls, each with
// its own CPU per call. Metrics are on in both (the default; see bench/metrics.mjs for off/on).
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort, pinned, start, stop, waitHttp } from './lib/proc.mjs';
import { compareBuilds, startMandate } from './gateway.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);

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
    const off = await startMandate(ROOT, tmp, 'tracing-off', upPort, [], children);
    const on = await startMandate(ROOT, tmp, 'tracing-on', upPort, [], children, [`tracing: { enabled: true, endpoint: "http://127.0.0.1:${collector.address().port}/v1/traces" }`]);
    const connect = async (base, token) => {
      const c = new Client({ name: 'bench', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      return c;
    };
    const direct = new Client({ name: 'bench-direct', version: '1' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${upPort}/mcp`)));
    const [cOff, cOn] = [await connect(off.base, off.token), await connect(on.base, on.token)];
    const r = await compareBuilds(direct, [cOff, cOn], CALLS, (c, i) => c.callTool({ name: 'echo', arguments: { message: `m${i}` } }), (c, i) => c.callTool({ name: 'everything.echo', arguments: { message: `m${i}` } }), [off.proc.pid, on.proc.pid]);
    await new Promise((res) => setTimeout(res, 2500)); // the last batch is exported within a second
    const [a, b] = r.via.map((v) => v.p50 - r.direct.p50);
    log(`Observability on the tool-call path (echo over streamable HTTP, ${CALLS} calls each, interleaved in blocks of 50)`);
    log(`  tracing off: Mandate adds          p50 ${a.toFixed(3)} ms   p99 ${(r.via[0].p99 - r.direct.p99).toFixed(3)} ms, CPU ${r.cpu[0].toFixed(3)} ms per call`);
    log(`  tracing on (3 spans per call)      p50 ${b.toFixed(3)} ms   p99 ${(r.via[1].p99 - r.direct.p99).toFixed(3)} ms, CPU ${r.cpu[1].toFixed(3)} ms per call`);
    log(`  tracing costs                      p50 ${(b - a >= 0 ? '+' : '')}${(b - a).toFixed(3)} ms (${(b / a).toFixed(2)}x), CPU ${(r.cpu[1] - r.cpu[0] >= 0 ? '+' : '')}${(r.cpu[1] - r.cpu[0]).toFixed(3)} ms per call; ${spansReceived} spans reached the collector`);
    await Promise.all([direct.close(), cOff.close(), cOn.close()]);
  } finally {
    for (const c of children) await stop(c);
    collector.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await observability();
