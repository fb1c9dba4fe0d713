// Gateway overhead: the same cheap tool call (`echo` of the reference "everything" server over
// streamable HTTP) made directly and through Mandate, sequentially, p50/p99 and the difference;
// and `tools/list` through Mandate with 100 upstream tools, next to listing them directly.
import { setMaxListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createClientAssertion } from '../dist/client/agent-key.js';
import { freePort, percentile, pinned, start, stop, waitHttp } from './lib/proc.mjs';

const ROOT = resolve(import.meta.dirname, '..');
// The MCP SDK's HTTP client transport (in this benchmark process, as the agent) adds an abort
// listener per request to one long-lived signal; Node warns past 1,500. Not Mandate's process:
// the check below reports it if Mandate ever does the same.
setMaxListeners(100_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);

const summary = (lat) => {
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), n: lat.length };
};

async function timeCalls(client, n, fn) {
  for (let i = 0; i < 200; i++) await fn(client, i); // warm-up
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(client, i);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return summary(lat);
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux only). */
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks, USER_HZ = 100
  } catch {
    return NaN;
  }
}

/**
 * The same call made directly and through Mandate, interleaved in blocks of 50 so that both
 * sides see the same machine (this one is noisy), with Mandate's own CPU time per call.
 */
async function compare(direct, via, n, fnDirect, fnVia, pid) {
  for (let i = 0; i < 200; i++) {
    await fnDirect(direct, i);
    await fnVia(via, i);
  }
  const a = [];
  const b = [];
  let cpu = 0;
  for (let done = 0; done < n; done += 50) {
    for (let i = done; i < done + 50; i++) {
      const t = process.hrtime.bigint();
      await fnDirect(direct, i);
      a.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const c0 = cpuMs(pid);
    for (let i = done; i < done + 50; i++) {
      const t = process.hrtime.bigint();
      await fnVia(via, i);
      b.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    cpu += cpuMs(pid) - c0;
  }
  return { direct: summary(a), via: summary(b), cpuPerCall: cpu / b.length };
}

/** Starts a Mandate build (`root`, built) on CPU 0 fronting the upstream; an agent and a task granting echo and the 100 tools. */
export async function startMandate(root, tmp, name, upPort, manyTools, children, extraConfig = []) {
  const { mkdirSync } = await import('node:fs');
  const dir = join(tmp, name);
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
      `policies: { dir: ${policies}, schema: ${join(root, 'policies/mandate.cedarschema')} }`,
      'logging: { level: warn }',
      'upstreams:',
      '  everything:',
      `    url: http://127.0.0.1:${upPort}/mcp`,
      '  many:',
      `    command: ${process.execPath}`,
      `    args: [${join(ROOT, 'bench/servers/many-tools.mjs')}]`,
      '    sharing: shared',
      ...extraConfig,
    ].join('\n'),
  );
  const [mcmd, margs] = pinned(0, process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []), join(root, 'dist/cli/main.js'), '--config', cfg, '--data-dir', dataDir, 'serve', '--port', String(port)]);
  const proc = start(mcmd, margs);
  children.push(proc);
  await waitHttp(`http://127.0.0.1:${port}/healthz`, { child: proc, timeoutMs: 30_000 });
  const base = `http://127.0.0.1:${port}`;
  const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const created = await fetch(`${base}/api/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', owner: 'o@corp.example', purpose: 'bench', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }) }).then((r) => r.json());
  const details = [{ type: 'mandate_task', intent: 'benchmark', tools: ['everything.echo', ...manyTools], ttl: 600 }];
  const assertion = await createClientAssertion({ agentId: created.id, kid, alg: 'ES256', privateKey }, `${base}/oauth/token`);
  const tok = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, authorization_details: JSON.stringify(details) }) }).then((r) => r.json());
  if (!tok.access_token) throw new Error(`task start failed (${name}): ${JSON.stringify(tok)}`);
  return { proc, base, token: tok.access_token };
}

/** Direct calls and calls through each Mandate build, interleaved in blocks of 50 (builds alternating which goes first), with each build's CPU per call. */
export async function compareBuilds(direct, vias, n, fnDirect, fnVia, pids) {
  for (let i = 0; i < 200; i++) {
    await fnDirect(direct, i);
    for (const v of vias) await fnVia(v, i);
  }
  const a = [];
  const b = vias.map(() => []);
  const cpu = vias.map(() => 0);
  for (let done = 0; done < n; done += 50) {
    for (let i = done; i < done + 50; i++) {
      const t = process.hrtime.bigint();
      await fnDirect(direct, i);
      a.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    // The builds take turns going first, so neither always runs right after the direct calls.
    const order = (done / 50) % 2 === 0 ? [...vias.keys()] : [...vias.keys()].reverse();
    for (const k of order) {
      const v = vias[k];
      const c0 = cpuMs(pids[k]);
      for (let i = done; i < done + 50; i++) {
        const t = process.hrtime.bigint();
        await fnVia(v, i);
        b[k].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      cpu[k] += cpuMs(pids[k]) - c0;
    }
  }
  return { direct: summary(a), via: b.map(summary), cpu: cpu.map((c, k) => c / b[k].length) };
}

export async function gateway(log = console.log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-gw-'));
  const children = [];
  try {
    // The upstream: the reference "everything" server over streamable HTTP, on its own CPU.
    const upPort = await freePort();
    const [ucmd, uargs] = pinned(1, process.execPath, [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp']);
    const upstream = start(ucmd, uargs, { env: { ...process.env, PORT: String(upPort) } });
    children.push(upstream);
    await waitHttp(`http://127.0.0.1:${upPort}/mcp`, { child: upstream });

    // Mandate, on CPU 0, fronting it and a 100-tool stdio server.
    const manyTools = Array.from({ length: 100 }, (_, i) => `many.tool_${String(i).padStart(3, '0')}`);
    const self = await startMandate(ROOT, tmp, 'this', upPort, manyTools, children);
    const mandate = self.proc;

    const direct = new Client({ name: 'bench-direct', version: '1' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${upPort}/mcp`)));
    const via = new Client({ name: 'bench-via-mandate', version: '1' });
    await via.connect(new StreamableHTTPClientTransport(new URL(`${self.base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${self.token}` } } }));

    // The floor: a do-nothing Node proxy on the same CPU, measured the same way in this run.
    const pxPort = await freePort();
    const [pcmd, pargs] = pinned(0, process.execPath, [join(ROOT, 'bench/servers/raw-proxy.mjs'), String(pxPort), String(upPort)]);
    const proxy = start(pcmd, pargs);
    children.push(proxy);
    await waitHttp(`http://127.0.0.1:${pxPort}/mcp`, { child: proxy });
    const viaProxy = new Client({ name: 'bench-via-proxy', version: '1' });
    await viaProxy.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${pxPort}/mcp`)));
    const echoFn = (c, i) => c.callTool({ name: 'echo', arguments: { message: `m${i}` } });
    const floor = await compare(direct, viaProxy, CALLS, echoFn, echoFn, proxy.pid);
    await viaProxy.close();
    await stop(proxy);

    const echo = await compare(
      direct,
      via,
      CALLS,
      echoFn,
      (c, i) => c.callTool({ name: 'everything.echo', arguments: { message: `m${i}` } }),
      mandate.pid,
    );
    const { direct: echoDirect, via: echoVia } = echo;
    const check = await via.callTool({ name: 'everything.echo', arguments: { message: 'check' } });
    if (check.isError) throw new Error(`call through Mandate failed: ${JSON.stringify(check)}`);

    // Before/after: another build of Mandate (BENCH_COMPARE=<its checkout, built>) measured in the
    // same run, its calls interleaved block by block with this build's and the direct ones.
    let builds = null;
    if (process.env.BENCH_COMPARE) {
      const other = await startMandate(resolve(process.env.BENCH_COMPARE), tmp, 'other', upPort, manyTools, children);
      const viaOther = new Client({ name: 'bench-via-other', version: '1' });
      await viaOther.connect(new StreamableHTTPClientTransport(new URL(`${other.base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${other.token}` } } }));
      const mandateFn = (c, i) => c.callTool({ name: 'everything.echo', arguments: { message: `m${i}` } });
      builds = await compareBuilds(direct, [via, viaOther], CALLS, echoFn, mandateFn, [mandate.pid, other.proc.pid]);
      await viaOther.close();
      await stop(other.proc);
    }

    const manyDirect = new Client({ name: 'bench-many', version: '1' });
    await manyDirect.connect(new StdioClientTransport({ command: process.execPath, args: [join(ROOT, 'bench/servers/many-tools.mjs')] }));
    const listDirect = await timeCalls(manyDirect, 500, (c) => c.listTools());
    const listVia = await timeCalls(via, 500, (c) => c.listTools());
    const listed = (await via.listTools()).tools.length;
    await Promise.all([direct.close(), via.close(), manyDirect.close()]);
    if (/MaxListeners/.test(mandate.output())) log('  warning: the Mandate process reported listener leaks:', mandate.output().split('\n').find((l) => /MaxListeners/.test(l)));

    log(`Gateway overhead (sequential calls over streamable HTTP, direct and via Mandate interleaved in blocks of 50; Mandate on CPU 0, upstream on CPU 1; every call authenticated, decided, forwarded and audited)`);
    log(`  echo direct to the upstream        p50 ${echoDirect.p50.toFixed(3)} ms   p99 ${echoDirect.p99.toFixed(3)} ms   (${CALLS} calls)`);
    log(`  echo through Mandate               p50 ${echoVia.p50.toFixed(3)} ms   p99 ${echoVia.p99.toFixed(3)} ms   (${CALLS} calls)`);
    log(`  added by Mandate                   p50 ${(echoVia.p50 - echoDirect.p50).toFixed(3)} ms   p99 ${(echoVia.p99 - echoDirect.p99).toFixed(3)} ms   (target: p50 < 1 ms, p99 < 3 ms)`);
    log(`  Mandate's own CPU per call         ${echo.cpuPerCall.toFixed(3)} ms (user+system of all its threads, from /proc)`);
    const floorAdded = floor.via.p50 - floor.direct.p50;
    log(`  floor: a do-nothing Node proxy     adds p50 ${floorAdded.toFixed(3)} ms   p99 ${(floor.via.p99 - floor.direct.p99).toFixed(3)} ms, CPU ${floor.cpuPerCall.toFixed(3)} ms per call; Mandate adds ${((echoVia.p50 - echoDirect.p50) / floorAdded).toFixed(2)}x the floor`);
    if (builds) {
      const [t, o] = builds.via.map((v) => v.p50 - builds.direct.p50);
      log(`  before/after (BENCH_COMPARE=${process.env.BENCH_COMPARE}), interleaved in one run:`);
      log(`    that build adds                  p50 ${o.toFixed(3)} ms, CPU ${builds.cpu[1].toFixed(3)} ms per call`);
      log(`    this build adds                  p50 ${t.toFixed(3)} ms, CPU ${builds.cpu[0].toFixed(3)} ms per call`);
      log(`    this minus that                  p50 ${(t - o >= 0 ? '+' : '')}${(t - o).toFixed(3)} ms, CPU ${(builds.cpu[0] - builds.cpu[1] >= 0 ? '+' : '')}${(builds.cpu[0] - builds.cpu[1]).toFixed(3)} ms per call`);
    }
    log(`  tools/list, 100 upstream tools     direct (stdio) p50 ${listDirect.p50.toFixed(3)} ms p99 ${listDirect.p99.toFixed(3)} ms; through Mandate (${listed} listed) p50 ${listVia.p50.toFixed(3)} ms p99 ${listVia.p99.toFixed(3)} ms`);
    return { echoDirect, echoVia, listDirect, listVia, floor };
  } finally {
    for (const c of children) await stop(c);
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await gateway();
