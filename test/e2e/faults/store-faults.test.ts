// An operator's worst day, with the real server: the disk fills, the volume turns read-only, the
// database file is deleted or corrupted, the process is killed -9 under load. For each: no
// allowed call runs without its audit record, nothing crashes, a revocation holds, /readyz says
// "not ready" while the fault lasts, the service recovers when it ends, and `audit verify`
// passes after. Mounting a small volume needs root: those cases say so and run under CI (root).

import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/audit-log.js';
import { systemClock } from '../../../src/core/clock.js';
import { SqliteStore } from '../../../src/storage/sqlite/sqlite-store.js';
import type { AuditEvent } from '../../../src/storage/types.js';
import { connectAgent, startGateway, text, type GatewayEnv } from '../../helpers/gateway.js';
import { runServe, serveAgent, startServe, writeServeConfig } from '../../helpers/process.js';
import { PATIENCE, createTestAgent, startTask } from '../../helpers/server.js';

const root = process.getuid?.() === 0;
const argsOf = (e: AuditEvent) => e.data.args as Record<string, unknown>;

function mountTmpfs(dir: string, mb: number): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m,mode=0700`, 'tmpfs', dir]);
}

/** Fills the volume holding `dir` to the last byte; returns the filler's path (delete it to recover). */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** One agent and one task that may fetch weather URLs (the test upstream records what reaches it). */
async function weatherTask(g: GatewayEnv) {
  const agent = await createTestAgent(g.s);
  const t = await startTask(g.s, agent, ['http.fetch'], { resources: ['https://weather.example/*'] });
  return { agent, t, client: await connectAgent(g.s, t.token) };
}

/**
 * The invariant: every call the upstream received has its write-ahead decision event, and every
 * call the agent was told succeeded has its success outcome event; and the chain verifies.
 */
async function expectEveryCallRecorded(g: GatewayEnv, taskId: string, marker: string, acknowledged: string[]) {
  const events = await g.s.m.store.listAudit({ taskId, limit: 10_000 });
  const forwarded = g.upstream.calls.map((c) => (c.arguments as { url: string }).url).filter((u) => u.includes(marker));
  for (const url of forwarded) expect(events.some((e) => e.type === 'tool.decision' && argsOf(e).url === url), `forwarded ${url} without a decision record`).toBe(true);
  for (const url of acknowledged) expect(events.some((e) => e.type === 'tool.call' && e.outcome === 'success' && argsOf(e).url === url), `answered ${url} without an outcome record`).toBe(true);
  expect(await g.s.m.audit.verify()).toMatchObject({ ok: true });
}

async function readyStatus(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`)).status;
}

describe.skipIf(!root)('the data volume fills up (a small tmpfs; mounting it needs root, which CI has)', () => {
  it('refuses calls it cannot record, holds a revocation, is not ready, and recovers when space returns', async () => {
    const vol = mkdtempSync(join(tmpdir(), 'mandate-full-'));
    mountTmpfs(vol, 32);
    try {
      const g = await startGateway('', { dataDir: join(vol, 'data') });
      try {
        const { t, client } = await weatherTask(g);
        expect(text(await client.callTool({ name: 'http.fetch', arguments: { url: 'https://weather.example/before' } }))).toBe('fetched https://weather.example/before');
        const filler = fill(vol);

        const acknowledged: string[] = [];
        for (let i = 0; i < 40; i++) {
          const url = `https://weather.example/full-${i}`;
          const r = await client.callTool({ name: 'http.fetch', arguments: { url } });
          if (!r.isError) acknowledged.push(url);
          else expect(text(r)).toMatch(/could not be recorded|storage unavailable/);
        }
        // The fault bit: not every call could be recorded, so not every call ran.
        expect(acknowledged.length).toBeLessThan(40);
        expect(await readyStatus(g.s.url)).toBe(503);
        const ready = (await (await fetch(`${g.s.url}/readyz`)).json()) as Record<string, string>;
        expect(ready.error_description).toMatch(/MB free|disk .* is full/);

        // A revocation during the fault holds at once, whether or not it could be recorded.
        const rev = await g.s.api<Record<string, string>>('POST', `/api/v1/tasks/${t.taskId}/revoke`, { reason: 'incident' });
        if (rev.status === 503) expect(rev.body.error_description).toMatch(/already revoked in this process .* will be recorded when the store recovers/);
        else expect(rev.status).toBe(200);
        await expect(client.callTool({ name: 'http.fetch', arguments: { url: 'https://weather.example/after-revoke' } })).rejects.toThrow();
        expect(g.upstream.calls.some((c) => String((c.arguments as { url: string }).url).endsWith('/after-revoke'))).toBe(false);
        expect((await fetch(`${g.s.url}/healthz`)).status).toBe(200);

        rmSync(filler);
        await expect.poll(() => readyStatus(g.s.url), { timeout: PATIENCE }).toBe(200);
        await expect.poll(async () => (await g.s.m.store.getTask(t.taskId))?.status, { timeout: PATIENCE }).toBe('revoked');
        await expectEveryCallRecorded(g, t.taskId, '/full-', acknowledged);

        const again = await weatherTask(g);
        expect(text(await again.client.callTool({ name: 'http.fetch', arguments: { url: 'https://weather.example/after' } }))).toBe('fetched https://weather.example/after');
        await again.client.close();
      } finally {
        await g.close();
      }
    } finally {
      execFileSync('umount', ['-l', vol]);
    }
  });
});

// A volume cannot be remounted read-only under a process that holds files open for writing
// (Linux answers EBUSY; only the kernel's own error handling forces it), so the live case is
// staged in SQLite itself: `query_only` makes every write on the open connection fail with
// SQLITE_READONLY, exactly what a read-only volume gives. A read-only volume at start is real.
describe('the store turns read-only', () => {
  it('refuses calls it cannot record, is not ready, and recovers when writes work again', async () => {
    const g = await startGateway();
    try {
      const { t, client } = await weatherTask(g);
      expect(text(await client.callTool({ name: 'http.fetch', arguments: { url: 'https://weather.example/before' } }))).toBe('fetched https://weather.example/before');
      const db = (g.s.m.store as SqliteStore).db;
      db.pragma('query_only = ON');
      const acknowledged: string[] = [];
      for (let i = 0; i < 20; i++) {
        const url = `https://weather.example/ro-${i}`;
        const r = await client.callTool({ name: 'http.fetch', arguments: { url } });
        if (!r.isError) acknowledged.push(url);
        else expect(text(r)).toBe('error: the decision could not be recorded (storage unavailable (audit append): the database is read-only; make the data directory and database file writable by the Mandate process); the call was not forwarded');
      }
      expect(acknowledged).toEqual([]);
      expect(g.upstream.calls.filter((c) => String((c.arguments as { url: string }).url).includes('/ro-'))).toEqual([]);
      expect(await readyStatus(g.s.url)).toBe(503);
      // Task start, the PDP and the management API answer a clear 503 naming the cause, not a 500.
      const start = await g.s.form<Record<string, string>>('/oauth/token', { grant_type: 'client_credentials' });
      expect(start).toMatchObject({ status: 503, body: { error: 'storage_unavailable', error_description: expect.stringMatching(/the database is read-only/) } });
      const pdp = await g.s.api<Record<string, string>>('POST', '/access/v1/evaluation', { subject: { type: 'user', id: 'alice' }, action: { name: 'can_read_todos' }, resource: { type: 'todo', id: '1' } });
      expect(pdp).toMatchObject({ status: 503, body: { error: 'storage_unavailable' } });
      const created = await g.s.api<Record<string, string>>('POST', '/api/v1/agents', { name: 'ro-agent', owner: 'o@corp.example', purpose: 'p', environment: 'dev', jwks: { keys: [] } });
      expect(created.status).not.toBe(500);

      db.pragma('query_only = OFF');
      await expect.poll(() => readyStatus(g.s.url), { timeout: PATIENCE }).toBe(200);
      expect(text(await client.callTool({ name: 'http.fetch', arguments: { url: 'https://weather.example/ro-after' } }))).toBe('fetched https://weather.example/ro-after');
      await client.close();
      await expectEveryCallRecorded(g, t.taskId, '/ro-', ['https://weather.example/ro-after']);
    } finally {
      await g.close();
    }
  });

  it.skipIf(!root)('refuses to start on a read-only volume, saying what to do (mounting needs root, which CI has)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-rovol-'));
    const config = writeServeConfig(dir);
    const vol = join(dir, 'vol');
    mkdirSync(vol);
    mountTmpfs(vol, 8);
    try {
      execFileSync('mount', ['-o', 'remount,ro', vol]);
      const r = await runServe(config, join(vol, 'data'));
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/^error: /m);
      expect(r.output).toMatch(/cannot create the data directory .*check that the volume is mounted writable|read-only|cannot be opened/);
      expect(r.output).not.toMatch(/^\s+at /m);
    } finally {
      execFileSync('umount', ['-l', vol]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('disk space running low', () => {
  it('says so in /readyz while still ready, and stops being ready under the floor', async () => {
    const g = await startGateway('storage: { lowDiskMb: 100000000 }');
    try {
      const r = await fetch(`${g.s.url}/readyz`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as { warnings: string[]; diskFreeMb: number };
      expect(body.warnings).toEqual([expect.stringMatching(/less than 100000000 MB free: writes will soon fail/)]);
      expect(body.diskFreeMb).toBeGreaterThan(0);
    } finally {
      await g.close();
    }
    const floor = await startGateway('storage: { minFreeMb: 100000000 }');
    try {
      const r = await fetch(`${floor.s.url}/readyz`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as Record<string, string>).error_description).toMatch(/under storage.minFreeMb \(100000000 MB\)/);
    } finally {
      await floor.close();
    }
  });
});

describe('the database file is deleted under the running server', () => {
  it('stops deciding at once (nothing more would survive a restart), says why, and the documented recovery loses nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-deleted-'));
    const config = writeServeConfig(dir);
    const dataDir = join(dir, 'data');
    const srv = await startServe(config, dataDir);
    try {
      const agent = await serveAgent(srv, 'deleted-db');
      const task = await agent.startTask({ intent: 'echo things', tools: ['stdio.echo'] });
      const mcp = await task.connect();
      const acknowledged: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await mcp.callTool({ name: 'stdio.echo', arguments: { text: `before-${i}` } });
        expect(text(r)).toBe(`echo: before-${i}`);
        acknowledged.push(`before-${i}`);
      }
      const db = join(dataDir, 'mandate.db');
      rmSync(db);

      expect(await readyStatus(srv.url)).toBe(503);
      const why = (await (await fetch(`${srv.url}/readyz`)).json()) as Record<string, string>;
      expect(why.error_description).toMatch(/database file was deleted while Mandate was running/);
      const r = await mcp.callTool({ name: 'stdio.echo', arguments: { text: 'after-delete' } });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/could not be recorded .*deleted/);
      expect(text(r)).not.toContain('echo: after-delete');
      expect(srv.child.exitCode).toBeNull();

      // Recovery as docs/operations.md says: copy the still-open file back, then restart.
      const fds = join('/proc', String(srv.child.pid), 'fd');
      const open = readdirSync(fds).find((fd) => readlinkSync(join(fds, fd)) === `${db} (deleted)`);
      expect(open).toBeDefined();
      copyFileSync(join(fds, open!), db);
      await mcp.close();
      await srv.stop();

      const store = new SqliteStore({ path: db });
      const audit = new AuditLog(store, systemClock);
      expect(await audit.verify()).toMatchObject({ ok: true });
      const events = await store.listAudit({ taskId: task.id, limit: 1000 });
      for (const t of acknowledged) expect(events.some((e) => e.type === 'tool.call' && e.outcome === 'success' && argsOf(e).text === t)).toBe(true);
      await store.close();

      const again = await startServe(config, dataDir);
      expect(await readyStatus(again.url)).toBe(200);
      await again.stop();
    } finally {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the database file is corrupted', () => {
  it('refuses to start on it with what to do, never a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-corrupt-'));
    const config = writeServeConfig(dir);
    const dataDir = join(dir, 'data');
    const srv = await startServe(config, dataDir);
    const agent = await serveAgent(srv, 'corrupt-db');
    await agent.startTask({ intent: 'leave some rows', tools: ['stdio.echo'] });
    await srv.stop();
    // Damage the middle of the file (pages 2-4), as a bad disk or a stray write would.
    const db = join(dataDir, 'mandate.db');
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(3 * 4096, 0xa5), 0, 3 * 4096, 4096);
    closeSync(fd);
    expect(statSync(db).size).toBeGreaterThan(4 * 4096);

    const r = await runServe(config, dataDir);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/error: database .*mandate\.db.*: the database file is corrupted; stop Mandate, move the file aside and restore it from a backup/);
    expect(r.output).not.toMatch(/^\s+at /m);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('kill -9 under load', () => {
  it('loses no acknowledged call and keeps the chain whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-kill-'));
    const config = writeServeConfig(dir);
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const srv = await startServe(config, dataDir);
    try {
      const agent = await serveAgent(srv, 'killed');
      const task = await agent.startTask({ intent: 'echo under load', tools: ['stdio.echo'], ttl: 600 });
      const acknowledged: string[] = [];
      let killed = false;
      // Four agents' worth of sessions calling as fast as they can; killed once 100 calls were answered.
      const loops = Array.from({ length: 4 }, async (_, k) => {
        const mcp = await task.connect();
        for (let i = 0; !killed; i++) {
          const t = `k${k}-${i}`;
          const r = await mcp.callTool({ name: 'stdio.echo', arguments: { text: t } }).catch(() => null);
          if (r && !r.isError && text(r) === `echo: ${t}`) acknowledged.push(t);
          if (acknowledged.length >= 100 && !killed) {
            killed = true;
            srv.child.kill('SIGKILL');
          }
          if (!r) break;
        }
      });
      await Promise.all(loops);
      expect(await srv.exited).toBe('SIGKILL');

      const store = new SqliteStore({ path: join(dataDir, 'mandate.db') });
      expect(await new AuditLog(store, systemClock).verify()).toMatchObject({ ok: true });
      const events = await store.listAudit({ taskId: task.id, limit: 10_000 });
      const recorded = new Set(events.filter((e) => e.type === 'tool.call' && e.outcome === 'success').map((e) => argsOf(e).text));
      expect(acknowledged.filter((t) => !recorded.has(t))).toEqual([]);
      await store.close();

      const again = await startServe(config, dataDir);
      expect(await readyStatus(again.url)).toBe(200);
      await again.stop();
    } finally {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
