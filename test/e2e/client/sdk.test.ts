// The agent SDK as an agent process uses it: a task that ends with the process — on a normal
// exit, on SIGTERM and on a crash — so no credential outlives the work (standing privilege).

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, createTestAgent, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.close());

/** Runs an agent script; `then` decides how it ends. Returns the task id it printed. */
async function runAgent(then: 'exit' | 'crash' | 'sigterm'): Promise<string> {
  const agent = await createTestAgent(s);
  const keyFile = join(s.dataDir, `${agent.name}.key.json`);
  const { exportJWK } = await import('jose');
  writeFileSync(keyFile, JSON.stringify({ agent: agent.id, kid: agent.kid, alg: 'ES256', privateJwk: { ...(await exportJWK(agent.privateKey)), kid: agent.kid } }));
  const script = `
    import { MandateAgent } from 'mandate/client';
    const agent = await MandateAgent.load(${JSON.stringify(keyFile)}, ${JSON.stringify(s.url)});
    const task = await agent.startTask({ intent: 'short job', tools: ['fs.read_text_file'], resources: ['file:///srv/*'], ttl: 300 });
    task.endOnExit();
    console.log('TASK ' + task.id);
    const how = ${JSON.stringify(then)};
    if (how === 'crash') setTimeout(() => { throw new Error('agent bug'); }, 10);
    if (how === 'sigterm') setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const taskId = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /TASK (task_\w+)/.exec(out);
      if (m) {
        clearInterval(t);
        resolve(m[1]!);
      }
    }, 20);
    child.on('exit', () => setTimeout(() => reject(new Error(`agent exited without a task:\n${out}`)), 50));
  });
  if (then === 'sigterm') child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  return taskId;
}

describe('mandate/client', () => {
  for (const how of ['exit', 'crash', 'sigterm'] as const) {
    it(`ends the task when the agent process ${how === 'exit' ? 'finishes' : how === 'crash' ? 'crashes' : 'is terminated'}`, async () => {
      const id = await runAgent(how);
      const task = await s.m.store.getTask(id);
      expect(task).toMatchObject({ status: 'completed', endReason: 'ended by agent (credential revoked)' });
    });
  }
});
