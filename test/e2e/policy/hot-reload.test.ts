// Hot reload sees every save. Editors and `sed -i` save by writing a new file and renaming it
// over the old one; after the first such save, later edits used to be ignored with nothing
// logged. The real `mandate serve` process, edited as editors and scripts do.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, writeServeConfig, type ServeProcess } from '../../helpers/process.js';
import { PATIENCE } from '../../helpers/server.js';

let dir: string;
let srv: ServeProcess;
let file: string;

async function policyIds(): Promise<string[]> {
  const admin = readFileSync(join(srv.dataDir, 'admin-token'), 'utf8').trim();
  const r = await fetch(`${srv.url}/api/v1/policies`, { headers: { authorization: `Bearer ${admin}` } });
  return ((await r.json()) as { policies: Array<{ id: string }> }).policies.map((p) => p.id).sort();
}

const policy = (ids: string[]) => ids.map((id) => `@id("${id}") permit (principal is Agent, action == Action::"startTask", resource);`).join('\n');

/** Saves as an editor does: a new file renamed over the old one. */
function saveAtomically(text: string): void {
  const tmp = `${file}.tmp-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mandate-reload-'));
  const config = writeServeConfig(dir, 'info');
  file = join(dir, 'policies', 'faults.cedar');
  srv = await startServe(config, join(dir, 'data'));
});
afterAll(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('policy hot reload', () => {
  it('sees every atomic save, not just the first, and every in-place write', async () => {
    saveAtomically(policy(['first']));
    await expect.poll(policyIds, { timeout: PATIENCE }).toEqual(['first']);
    saveAtomically(policy(['second']));
    await expect.poll(policyIds, { timeout: PATIENCE }).toEqual(['second']);
    saveAtomically(policy(['third', 'third-b']));
    await expect.poll(policyIds, { timeout: PATIENCE }).toEqual(['third', 'third-b']);
    writeFileSync(file, policy(['in-place']));
    await expect.poll(policyIds, { timeout: PATIENCE }).toEqual(['in-place']);
    await expect.poll(() => srv.output(), { timeout: PATIENCE }).toMatch(/"policies":1,"why":"file change","msg":"policies reloaded"/);
  });

  it('logs a refused save and keeps the previous set, then takes the fix', async () => {
    saveAtomically('permit (principal, action, resource) when { not cedar };');
    await expect.poll(() => srv.output(), { timeout: PATIENCE }).toMatch(/policy reload refused; the previous policy set stays in force/);
    expect(await policyIds()).toEqual(['in-place']);
    saveAtomically(policy(['fixed']));
    await expect.poll(policyIds, { timeout: PATIENCE }).toEqual(['fixed']);
  });
});
