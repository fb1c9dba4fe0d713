// `mandate serve` as a real child process (for faults that a process must live through or die
// from: SIGKILL, a database file deleted or corrupted under it), with the stdio test upstream,
// and an agent that talks to it with the SDK.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { MandateAgent } from '../../src/client/index.js';
import { REPO, freePort } from './server.js';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  dataDir: string;
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

/** Writes a config with the stdio test upstream and policies that allow its read tools; returns its path. */
export function writeServeConfig(dir: string, logLevel = 'warn'): string {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(join(dir, 'policies', 'faults.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
  const path = join(dir, 'mandate.yaml');
  writeFileSync(
    path,
    `trustDomain: faults.test
logging: { level: ${logLevel} }
policies:
  dir: ${join(dir, 'policies')}
  schema: ${join(REPO, 'policies/mandate.cedarschema')}
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
    sharing: shared
`,
  );
  return path;
}

/** Starts `mandate serve`; resolves once it says it listens (or rejects with its output if it exits first). */
export async function startServe(config: string, dataDir: string, port?: number): Promise<ServeProcess> {
  const p = port ?? (await freePort());
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', config, '--data-dir', dataDir, 'serve', '--port', String(p)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (/Mandate listening on/.test(out)) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`mandate serve exited (${code}) before listening:\n${out}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${p}`,
    port: p,
    dataDir,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs `mandate serve` to completion (for a start that must fail); resolves with its exit and output. */
export function runServe(config: string, dataDir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', config, '--data-dir', dataDir, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => resolve({ code, output: out }));
  });
}

/** Registers an agent through the admin API and returns an SDK agent for it (Bearer, dev). */
export async function serveAgent(srv: Pick<ServeProcess, 'url' | 'dataDir'>, name: string, o: { dpop?: boolean; owner?: string } = {}): Promise<MandateAgent> {
  const admin = readFileSync(join(srv.dataDir, 'admin-token'), 'utf8').trim();
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const res = await fetch(`${srv.url}/api/v1/agents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, owner: o.owner ?? 'ops@corp.example', purpose: 'fault tests', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }),
  });
  const body = (await res.json()) as { id: string };
  if (res.status !== 201) throw new Error(`agent create failed: ${JSON.stringify(body)}`);
  return MandateAgent.create({ url: srv.url, key: { agentId: body.id, kid, alg: 'ES256', privateKey }, ...(o.dpop ? {} : { dpop: false }) });
}
