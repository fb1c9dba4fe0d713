// Child processes for benchmarks: start, wait until ready, pin to a CPU, stop.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

export const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
export const cpus = (await import('node:os')).cpus().length;

/** Runs `cmd` pinned to `cpu` when taskset exists and the machine has more than one CPU. */
export function pinned(cpu, cmd, args) {
  if (hasTaskset && cpus > 1) return ['taskset', ['-c', String(cpu), cmd, ...args]];
  return [cmd, args];
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.output = () => out;
  return child;
}

export async function waitHttp(url, { timeoutMs = 20_000, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      /* not yet */
    }
    if (child && child.exitCode !== null) throw new Error(`process exited early:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}${child ? `:\n${child.output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

/** Runs the load generator (pinned to `cpu`) and returns its JSON result. */
export async function load(cpu, url, casesFile, { concurrency = 32, seconds = 5, authorization } = {}) {
  const loadScript = new URL('./load.mjs', import.meta.url).pathname;
  const [cmd, args] = pinned(cpu, process.execPath, [loadScript, url, casesFile, String(concurrency), String(seconds), ...(authorization ? [authorization] : [])]);
  const child = start(cmd, args);
  await new Promise((r) => child.once('exit', r));
  const line = child.output().trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`load generator failed:\n${child.output()}`);
  }
}

export function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
