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

async function timeCalls(client, n, fn) {
  for (let i = 0; i < 200; i++) await fn(client, i); // warm-up
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(client, i);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), n };
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
    const port = await freePort();
    const dataDir = join(tmp, 'data');
    const policies = join(tmp, 'policies');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(policies);
    writeFileSync(join(policies, 'bench.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
    const cfg = join(tmp, 'mandate.yaml');
    writeFileSync(
      cfg,
      [
        'trustDomain: bench.local',
        `policies: { dir: ${policies}, schema: ${join(ROOT, 'policies/mandate.cedarschema')} }`,
        'logging: { level: warn }',
        'upstreams:',
        '  everything:',
        `    url: http://127.0.0.1:${upPort}/mcp`,
        '  many:',
        `    command: ${process.execPath}`,
        `    args: [${join(ROOT, 'bench/servers/many-tools.mjs')}]`,
        '    sharing: shared',
      ].join('\n'),
    );
    const [mcmd, margs] = pinned(0, process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []), join(ROOT, 'dist/cli/main.js'), '--config', cfg, '--data-dir', dataDir, 'serve', '--port', String(port)]);
    const mandate = start(mcmd, margs);
    children.push(mandate);
    await waitHttp(`http://127.0.0.1:${port}/healthz`, { child: mandate, timeoutMs: 30_000 });
    const base = `http://127.0.0.1:${port}`;
    const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();

    // An agent and a task granting echo and the 100 tools.
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const created = await fetch(`${base}/api/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', owner: 'o@corp.example', purpose: 'bench', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }) }).then((r) => r.json());
    const manyTools = Array.from({ length: 100 }, (_, i) => `many.tool_${String(i).padStart(3, '0')}`);
    const details = [{ type: 'mandate_task', intent: 'benchmark', tools: ['everything.echo', ...manyTools], ttl: 600 }];
    const assertion = await createClientAssertion({ agentId: created.id, kid, alg: 'ES256', privateKey }, `${base}/oauth/token`);
    const tok = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion, authorization_details: JSON.stringify(details) }) }).then((r) => r.json());
    if (!tok.access_token) throw new Error(`task start failed: ${JSON.stringify(tok)}`);

    const direct = new Client({ name: 'bench-direct', version: '1' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${upPort}/mcp`)));
    const via = new Client({ name: 'bench-via-mandate', version: '1' });
    await via.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${tok.access_token}` } } }));

    const echoDirect = await timeCalls(direct, CALLS, (c, i) => c.callTool({ name: 'echo', arguments: { message: `m${i}` } }));
    const echoVia = await timeCalls(via, CALLS, (c, i) => c.callTool({ name: 'everything.echo', arguments: { message: `m${i}` } }));
    const check = await via.callTool({ name: 'everything.echo', arguments: { message: 'check' } });
    if (check.isError) throw new Error(`call through Mandate failed: ${JSON.stringify(check)}`);

    const manyDirect = new Client({ name: 'bench-many', version: '1' });
    await manyDirect.connect(new StdioClientTransport({ command: process.execPath, args: [join(ROOT, 'bench/servers/many-tools.mjs')] }));
    const listDirect = await timeCalls(manyDirect, 500, (c) => c.listTools());
    const listVia = await timeCalls(via, 500, (c) => c.listTools());
    const listed = (await via.listTools()).tools.length;
    await Promise.all([direct.close(), via.close(), manyDirect.close()]);
    if (/MaxListeners/.test(mandate.output())) log('  warning: the Mandate process reported listener leaks:', mandate.output().split('\n').find((l) => /MaxListeners/.test(l)));

    log(`Gateway overhead (sequential calls over streamable HTTP; Mandate on CPU 0, upstream on CPU 1; every call authenticated, decided, forwarded and audited)`);
    log(`  echo direct to the upstream        p50 ${echoDirect.p50.toFixed(3)} ms   p99 ${echoDirect.p99.toFixed(3)} ms   (${CALLS} calls)`);
    log(`  echo through Mandate               p50 ${echoVia.p50.toFixed(3)} ms   p99 ${echoVia.p99.toFixed(3)} ms   (${CALLS} calls)`);
    log(`  added by Mandate                   p50 ${(echoVia.p50 - echoDirect.p50).toFixed(3)} ms   p99 ${(echoVia.p99 - echoDirect.p99).toFixed(3)} ms   (target: p50 < 1 ms, p99 < 3 ms)`);
    log(`  tools/list, 100 upstream tools     direct (stdio) p50 ${listDirect.p50.toFixed(3)} ms p99 ${listDirect.p99.toFixed(3)} ms; through Mandate (${listed} listed) p50 ${listVia.p50.toFixed(3)} ms p99 ${listVia.p99.toFixed(3)} ms`);
    return { echoDirect, echoVia, listDirect, listVia };
  } finally {
    for (const c of children) await stop(c);
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await gateway();
