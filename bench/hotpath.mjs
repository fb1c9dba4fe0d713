// The hot path against its floor (issue 19), all in one run on this machine:
//  - added latency, agent → Mandate → upstream vs agent → upstream, next to a do-nothing proxy's
//    (streamable-HTTP upstream; and a stdio upstream next to a do-nothing HTTP→stdio relay),
//    1 KB arguments and results, calls interleaved in blocks of 50 so every path sees the same
//    machine; Mandate with its Cedar decision, scope check and hash-chained audit all on;
//  - CPU per tool call (all threads, /proc) of Mandate and of the proxy;
//  - throughput at 32 concurrent agents (one session and credential each) through one process
//    on one core, as calls per second and as calls per CPU-second of that process (what one core
//    can carry, whether or not the load generator could saturate it).
// Every answer is checked: a run in which Mandate answered any call with an error fails.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setMaxListeners } from 'node:events';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createClientAssertion } from '../dist/client/agent-key.js';
import { cpus, freePort, hasTaskset, percentile, pinned, start, stop, waitHttp } from './lib/proc.mjs';

setMaxListeners(100_000);
const ROOT = resolve(import.meta.dirname, '..');
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const AGENTS = Number(process.env.BENCH_CONCURRENCY ?? 32);
const PAYLOAD = 1024;
// BENCH_ONLY=http|stdio|throughput runs one part (for profiling with BENCH_PROF=<dir>).
const ONLY = process.env.BENCH_ONLY;
const run = (part) => !ONLY || ONLY === part;
const ECHO = join(ROOT, 'bench/servers/echo-mcp.mjs');

function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
const summary = (lat) => {
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
};
const message = (i) => `m${i}-${'x'.repeat(PAYLOAD - 12)}`;

/** A call that must come back as the echo of its own message. */
function echoCall(tool) {
  return async (c, i) => {
    const msg = message(i);
    const r = await c.callTool({ name: tool, arguments: { message: msg } });
    if (r.isError || !String(r.content?.[0]?.text ?? '').includes(msg)) throw new Error(`call ${tool} answered with an error: ${JSON.stringify(r).slice(0, 400)}`);
  };
}

/** Paths (direct first) measured in interleaved blocks of 50, the non-direct ones taking turns going first. */
async function interleaved(paths, n) {
  for (let i = 0; i < 200; i++) for (const p of paths) await p.fn(p.client, i);
  const lat = paths.map(() => []);
  const cpu = paths.map(() => 0);
  for (let done = 0; done < n; done += 50) {
    const rest = [...paths.keys()].slice(1);
    const order = [0, ...((done / 50) % 2 === 0 ? rest : rest.reverse())];
    for (const k of order) {
      const p = paths[k];
      const c0 = p.pid ? cpuMs(p.pid) : 0;
      for (let i = done; i < done + 50; i++) {
        const t = process.hrtime.bigint();
        await p.fn(p.client, i);
        lat[k].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      if (p.pid) cpu[k] += cpuMs(p.pid) - c0;
    }
  }
  return paths.map((p, k) => ({ name: p.name, ...summary(lat[k]), cpu: p.pid ? cpu[k] / n : null }));
}

async function startMandate(tmp, upPort, children) {
  const dir = join(tmp, 'mandate');
  const port = await freePort();
  const dataDir = join(dir, 'data');
  const policies = join(dir, 'policies');
  mkdirSync(policies, { recursive: true });
  writeFileSync(join(policies, 'bench.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
  const cfg = join(dir, 'mandate.yaml');
  writeFileSync(
    cfg,
    [
      'trustDomain: bench.local',
      `policies: { dir: ${policies}, schema: ${join(ROOT, 'policies/mandate.cedarschema')} }`,
      'logging: { level: warn }',
      'upstreams:',
      '  up:',
      `    url: http://127.0.0.1:${upPort}/mcp`,
      '  local:',
      ...(hasTaskset && cpus > 1 ? ['    command: taskset', `    args: ['-c', '1', ${JSON.stringify(process.execPath)}, ${JSON.stringify(ECHO)}, stdio]`] : [`    command: ${JSON.stringify(process.execPath)}`, `    args: [${JSON.stringify(ECHO)}, stdio]`]),
      '    sharing: shared',
    ].join('\n'),
  );
  const [cmd, args] = pinned(0, process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []), ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []), join(ROOT, 'dist/cli/main.js'), '--config', cfg, '--data-dir', dataDir, 'serve', '--port', String(port)]);
  const proc = start(cmd, args);
  children.push(proc);
  const base = `http://127.0.0.1:${port}`;
  await waitHttp(`${base}/healthz`, { child: proc, timeoutMs: 30_000 });
  const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const created = await fetch(`${base}/api/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', owner: 'o@corp.example', purpose: 'bench', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }) }).then((r) => r.json());
  const details = JSON.stringify([{ type: 'mandate_task', intent: 'benchmark', tools: ['up.echo', 'local.echo'], ttl: 900 }]);
  const tokens = [];
  for (let i = 0; i <= AGENTS; i++) {
    const assertion = await createClientAssertion({ agentId: created.id, kid, alg: 'ES256', privateKey }, `${base}/oauth/token`);
    const tok = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, authorization_details: details }) }).then((r) => r.json());
    if (!tok.access_token) throw new Error(`task start failed: ${JSON.stringify(tok)}`);
    tokens.push(tok.access_token);
  }
  return { proc, base, tokens };
}

async function httpClient(url, token) {
  const c = new Client({ name: 'bench', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : undefined));
  return c;
}

/** Throughput of `url` at AGENTS concurrent sessions, with the server's CPU use over the run. */
async function throughput(url, tool, pid, authorizations) {
  const script = join(ROOT, 'bench/lib/mcp-load.mjs');
  const [cmd, args] = pinned(1, process.execPath, [script, url, tool, String(AGENTS), String(SECONDS), String(PAYLOAD), authorizations.join(',')]);
  const child = start(cmd, args);
  // CPU over the measured window only: sample after the sessions and warm-up, for SECONDS.
  const c0 = { t: performance.now(), cpu: cpuMs(pid) };
  await new Promise((r) => child.once('exit', r));
  const c1 = { t: performance.now(), cpu: cpuMs(pid) };
  const line = child.output().trim().split('\n').pop();
  let out;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`load generator failed:\n${child.output()}`);
  }
  if (out.errors) throw new Error(`${out.errors} calls through ${url} failed: ${out.firstError}`);
  const busy = (c1.cpu - c0.cpu) / (c1.t - c0.t);
  return { ...out, cpuPerCall: (c1.cpu - c0.cpu) / Math.max(1, out.requests), utilisation: busy };
}

export async function hotpath(log = console.log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-hot-'));
  const children = [];
  const clients = [];
  try {
    const upPort = await freePort();
    const [ucmd, uargs] = pinned(1, process.execPath, [ECHO, 'http', String(upPort)]);
    const upstream = start(ucmd, uargs);
    children.push(upstream);
    await waitHttp(`http://127.0.0.1:${upPort}/mcp`, { child: upstream });

    const pxPort = await freePort();
    const [pcmd, pargs] = pinned(0, process.execPath, [join(ROOT, 'bench/servers/raw-proxy.mjs'), String(pxPort), String(upPort)]);
    const proxy = start(pcmd, pargs);
    children.push(proxy);
    await waitHttp(`http://127.0.0.1:${pxPort}/mcp`, { child: proxy });

    // The second floor: a proxy that parses and re-serializes every JSON-RPC message (what any
    // MCP-aware gateway must at least do), same CPU, same upstream.
    const jxPort = await freePort();
    const [jcmd, jargs] = pinned(0, process.execPath, [join(ROOT, 'bench/servers/json-proxy.mjs'), String(jxPort), String(upPort)]);
    const jproxy = start(jcmd, jargs);
    children.push(jproxy);
    await waitHttp(`http://127.0.0.1:${jxPort}/mcp`, { child: jproxy });

    const rlPort = await freePort();
    const relayChild = hasTaskset && cpus > 1 ? ['taskset', '-c', '1', process.execPath, ECHO, 'stdio'] : [process.execPath, ECHO, 'stdio'];
    const [rcmd, rargs] = pinned(0, process.execPath, [join(ROOT, 'bench/servers/stdio-relay.mjs'), String(rlPort), ...relayChild]);
    const relay = start(rcmd, rargs);
    children.push(relay);
    await waitHttp(`http://127.0.0.1:${rlPort}/mcp`, { child: relay });

    const m = await startMandate(tmp, upPort, children);
    const direct = await httpClient(`http://127.0.0.1:${upPort}/mcp`);
    const viaProxy = await httpClient(`http://127.0.0.1:${pxPort}/mcp`);
    const viaJson = await httpClient(`http://127.0.0.1:${jxPort}/mcp`);
    const viaMandate = await httpClient(`${m.base}/mcp`, m.tokens[0]);
    const stdioDirect = new Client({ name: 'bench', version: '1' });
    await stdioDirect.connect(new StdioClientTransport({ command: relayChild[0], args: relayChild.slice(1) }));
    const viaRelay = await httpClient(`http://127.0.0.1:${rlPort}/mcp`);
    clients.push(direct, viaProxy, viaJson, viaMandate, stdioDirect, viaRelay);

    // BENCH_THREADS: Mandate's CPU per thread over the HTTP phase (main thread vs V8's and libuv's workers).
    const { readdirSync } = await import('node:fs');
    const threads = () => Object.fromEntries(readdirSync(`/proc/${m.proc.pid}/task`).map((t) => {
      const f = readFileSync(`/proc/${m.proc.pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
      return [t, [Number(f[11]) * 10, Number(f[12]) * 10]];
    }));
    const t0 = process.env.BENCH_THREADS ? threads() : null;
    const skipped = [0, 1, 2, 3].map(() => ({ p50: NaN, p99: NaN, cpu: NaN }));
    const http = !run('http') ? skipped : await interleaved(
      [
        { name: 'direct', client: direct, fn: echoCall('echo') },
        { name: 'proxy', client: viaProxy, fn: echoCall('echo'), pid: proxy.pid },
        { name: 'mandate', client: viaMandate, fn: echoCall('up.echo'), pid: m.proc.pid },
        { name: 'json-proxy', client: viaJson, fn: echoCall('echo'), pid: jproxy.pid },
      ],
      CALLS,
    );
    if (t0) {
      const t1 = threads();
      for (const [t, [u, sy]] of Object.entries(t1)) {
        const [u0, s0] = t0[t] ?? [0, 0];
        if (u + sy - u0 - s0 > 0) log(`  thread ${t}${t === String(m.proc.pid) ? ' (main)' : ''}: user ${((u - u0) / (CALLS + 200)).toFixed(3)} + system ${((sy - s0) / (CALLS + 200)).toFixed(3)} ms per Mandate call over the HTTP phase`);
      }
    }
    const stdio = !run('stdio') ? skipped : await interleaved(
      [
        { name: 'direct', client: stdioDirect, fn: echoCall('echo') },
        { name: 'relay', client: viaRelay, fn: echoCall('echo'), pid: relay.pid },
        { name: 'mandate', client: viaMandate, fn: echoCall('local.echo'), pid: m.proc.pid },
      ],
      CALLS,
    );
    await Promise.all(clients.map((c) => c.close()));
    clients.length = 0;

    const none = { rps: NaN, utilisation: NaN, p50_ms: NaN, p99_ms: NaN };
    const tpProxy = !run('throughput') ? none : await throughput(`http://127.0.0.1:${pxPort}/mcp`, 'echo', proxy.pid, []);
    const tpJson = !run('throughput') ? none : await throughput(`http://127.0.0.1:${jxPort}/mcp`, 'echo', jproxy.pid, []);
    const tpMandate = !run('throughput') ? none : await throughput(`${m.base}/mcp`, 'up.echo', m.proc.pid, m.tokens.slice(1).map((t) => `Bearer ${t}`));

    const added = (rows) => {
      const [d, floor, mandate] = rows;
      return { floor: { p50: floor.p50 - d.p50, p99: floor.p99 - d.p99, cpu: floor.cpu }, mandate: { p50: mandate.p50 - d.p50, p99: mandate.p99 - d.p99, cpu: mandate.cpu }, direct: d };
    };
    const h = added(http);
    const hj = { p50: http[3].p50 - http[0].p50, p99: http[3].p99 - http[0].p99, cpu: http[3].cpu };
    const s = added(stdio);
    const f = (x) => x.toFixed(3);
    const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : 'n/a');
    log(`Hot path against its floor (${CALLS} sequential calls per path, 1 KB arguments and results, interleaved in blocks of 50; Mandate and the floor on CPU 0, upstream and client on CPU 1)`);
    log(`  streamable HTTP upstream: direct p50 ${f(h.direct.p50)} ms p99 ${f(h.direct.p99)} ms`);
    log(`    do-nothing proxy adds       p50 ${f(h.floor.p50)} ms   p99 ${f(h.floor.p99)} ms   CPU ${f(h.floor.cpu)} ms/call`);
    log(`    Mandate adds                p50 ${f(h.mandate.p50)} ms   p99 ${f(h.mandate.p99)} ms   CPU ${f(h.mandate.cpu)} ms/call`);
    log(`    ratio to the floor          p50 ${ratio(h.mandate.p50, h.floor.p50)}x (target <= 1.5)   p99 ${ratio(h.mandate.p99, h.floor.p99)}x (target <= 2)   CPU ${ratio(h.mandate.cpu, h.floor.cpu)}x (target <= 1.5)`);
    log(`    JSON-RPC-aware proxy adds   p50 ${f(hj.p50)} ms   p99 ${f(hj.p99)} ms   CPU ${f(hj.cpu)} ms/call (parses and re-serializes each message, nothing else); Mandate is ${ratio(h.mandate.p50, hj.p50)}x its p50, ${ratio(h.mandate.cpu, hj.cpu)}x its CPU`);
    log(`  stdio upstream: direct p50 ${f(s.direct.p50)} ms p99 ${f(s.direct.p99)} ms`);
    log(`    do-nothing HTTP→stdio relay adds p50 ${f(s.floor.p50)} ms   p99 ${f(s.floor.p99)} ms   CPU ${f(s.floor.cpu)} ms/call`);
    log(`    Mandate adds                p50 ${f(s.mandate.p50)} ms   p99 ${f(s.mandate.p99)} ms   CPU ${f(s.mandate.cpu)} ms/call`);
    log(`    ratio to the floor          p50 ${ratio(s.mandate.p50, s.floor.p50)}x   p99 ${ratio(s.mandate.p99, s.floor.p99)}x   CPU ${ratio(s.mandate.cpu, s.floor.cpu)}x`);
    const cap = (t) => t.rps / Math.max(0.01, t.utilisation);
    log(`  throughput, ${AGENTS} concurrent agents for ${SECONDS} s (server on one core):`);
    log(`    do-nothing proxy   ${String(tpProxy.rps).padStart(6)} calls/s at ${(tpProxy.utilisation * 100).toFixed(0)}% of its core = ${Math.round(cap(tpProxy))} calls per CPU-second; p50 ${f(tpProxy.p50_ms)} ms p99 ${f(tpProxy.p99_ms)} ms`);
    log(`    JSON-RPC-aware proxy ${String(tpJson.rps).padStart(4)} calls/s at ${(tpJson.utilisation * 100).toFixed(0)}% of its core = ${Math.round(cap(tpJson))} calls per CPU-second; p50 ${f(tpJson.p50_ms)} ms p99 ${f(tpJson.p99_ms)} ms`);
    log(`    Mandate            ${String(tpMandate.rps).padStart(6)} calls/s at ${(tpMandate.utilisation * 100).toFixed(0)}% of its core = ${Math.round(cap(tpMandate))} calls per CPU-second; p50 ${f(tpMandate.p50_ms)} ms p99 ${f(tpMandate.p99_ms)} ms`);
    log(`    ratio              ${ratio(tpMandate.rps, tpProxy.rps)}x calls/s, ${ratio(cap(tpMandate), cap(tpProxy))}x per CPU-second (target >= 0.6); ${ratio(cap(tpMandate), cap(tpJson))}x the JSON-RPC-aware proxy per CPU-second`);
    return { http: h, json: hj, stdio: s, throughput: { proxy: tpProxy, json: tpJson, mandate: tpMandate } };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const c of children) await stop(c);
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await hotpath();
