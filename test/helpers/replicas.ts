// Several `mandate serve` processes on one PostgreSQL database behind a small HTTP load balancer,
// as an operator runs them (docs/operations.md): every replica has the same signing key and admin
// token (the deployment's secrets), and all share `publicUrl` (the balancer's address), so a
// credential names the service, not a replica.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe, type ServeProcess } from './process.js';
import { REPO, freePort } from './server.js';

export interface Balancer {
  url: string;
  /** Replica that serves requests without an MCP session: a fixed index, or round robin (null). */
  target: number | null;
  /** Requests forwarded per replica. */
  counts: number[];
  close(): Promise<void>;
}

export interface Replicas {
  lb: Balancer;
  nodes: ServeProcess[];
  configPath: string;
  adminToken: string;
  /** Starts replica i again (after a kill), on its port, with its data directory. */
  restart(i: number): Promise<ServeProcess>;
  close(): Promise<void>;
}

/**
 * A reverse proxy: a request for an MCP session goes to the replica that opened it (as a
 * balancer with session affinity would); any other request to `target`, or round robin.
 */
async function startBalancer(port: number, upstreams: () => Array<{ port: number; alive: boolean }>): Promise<Balancer> {
  const sessions = new Map<string, number>();
  let next = 0;
  const lb: Balancer = { url: `http://127.0.0.1:${port}`, target: null, counts: [], close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const ups = upstreams();
    const sid = req.headers['mcp-session-id'];
    let i = typeof sid === 'string' ? sessions.get(sid) : undefined;
    // Affinity holds only while that replica is up (a health check takes it out); then any other.
    if (i !== undefined && !ups[i]!.alive) i = undefined;
    if (i === undefined) {
      if (lb.target !== null) i = lb.target;
      else {
        // Round robin over live replicas (a balancer's health check takes dead ones out).
        for (let k = 0; k < ups.length; k++) {
          const c = (next + k) % ups.length;
          if (ups[c]!.alive) {
            i = c;
            break;
          }
        }
        next = ((i ?? 0) + 1) % ups.length;
      }
    }
    const idx = i ?? 0;
    lb.counts[idx] = (lb.counts[idx] ?? 0) + 1;
    const up = request({ host: '127.0.0.1', port: ups[idx]!.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (r) => {
      const opened = r.headers['mcp-session-id'];
      if (typeof opened === 'string' && r.statusCode === 200) sessions.set(opened, idx);
      res.writeHead(r.statusCode ?? 502, r.headers);
      // A replica dying mid-answer cuts the client's connection too, as a real balancer does.
      r.on('error', () => res.destroy());
      r.on('close', () => {
        if (!r.complete) res.destroy();
      });
      r.pipe(res);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'bad_gateway', error_description: `replica ${idx}: ${err.message}` }));
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  lb.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  lb.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return lb;
}

/** Config for replicas: the stdio test upstream, read tools allowed, an approval-gated tool, the shared database. */
export function writeReplicaConfig(dir: string, databaseUrl: string, publicUrl: string, replicaHosts: string[] = []): string {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(
    join(dir, 'policies', 'replicas.cedar'),
    [
      'permit (principal is Agent, action == Action::"startTask", resource);',
      'permit (principal is Agent, action in Action::"read", resource);',
      'permit (principal is Agent, action in Action::"egress", resource);',
      '@approval("owner") @reason("fetching this needs the owner\'s yes")',
      'forbid (principal, action == Action::"stdio.fetch", resource) when { context.args.url like "https://example.com/held*" };',
      '@reason("no egress once the task has read confidential data")',
      'forbid (principal, action in Action::"egress", resource) when { context.task.labels.contains("confidential") };',
      '',
    ].join('\n'),
  );
  const path = join(dir, 'mandate.yaml');
  const host = new URL(publicUrl).host;
  writeFileSync(
    path,
    `trustDomain: replicas.test
publicUrl: ${publicUrl}
logging: { level: warn }
store: { url: "${databaseUrl}", poolSize: 8 }
gateway: { allowedHosts: ${JSON.stringify([host, ...replicaHosts])} }
approvals: { wait: 120, ttl: 300 }
policies:
  dir: ${join(dir, 'policies')}
  schema: ${join(REPO, 'policies/mandate.cedarschema')}
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
    sharing: shared
    tools:
      secret_report: { classification: confidential }
`,
  );
  return path;
}

/** Starts `n` replicas on `databaseUrl` behind a balancer. The first one migrates and makes the secrets. */
export async function startReplicas(n: number, databaseUrl: string): Promise<Replicas> {
  const root = mkdtempSync(join(tmpdir(), 'mandate-replicas-'));
  const lbPort = await freePort();
  // Each replica is also reachable by its own address (tests talk to one directly).
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  const configPath = writeReplicaConfig(root, databaseUrl, `http://127.0.0.1:${lbPort}`, ports.map((p) => `127.0.0.1:${p}`));
  // All start at once on a fresh database (they migrate once, under the advisory lock, and race
  // for the first policy version and tool pins). Their data directory holds only the deployment's
  // secrets (signing key, admin token), created by whichever starts first: a shared secret volume.
  const dataDir = join(root, 'secrets');
  const dirs = Array.from({ length: n }, () => dataDir);
  const nodes: ServeProcess[] = await Promise.all(dirs.map((d, i) => startServe(configPath, d, ports[i])));
  const alive = nodes.map(() => true);
  const lb = await startBalancer(lbPort, () => nodes.map((p, i) => ({ port: p.port, alive: alive[i]! && p.child.exitCode === null && p.child.signalCode === null })));
  const r: Replicas = {
    lb,
    nodes,
    configPath,
    adminToken: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(),
    async restart(i) {
      nodes[i] = await startServe(configPath, dirs[i]!, nodes[i]!.port);
      return nodes[i]!;
    },
    async close() {
      await lb.close();
      await Promise.all(nodes.map((p) => p.stop()));
    },
  };
  return r;
}
