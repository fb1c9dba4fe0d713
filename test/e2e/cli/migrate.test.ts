// `mandate migrate [--dry-run]` on PostgreSQL and SQLite, as an operator runs it before a
// rollout: the dry run changes nothing, the real run applies once, a rerun has nothing to do,
// and an unreachable database is an error that names it, never shows its password.

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { freePort, REPO } from '../../helpers/server.js';

const exec = promisify(execFile);
let db: TestDatabase;
let dir: string;

async function mandate(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [join(REPO, 'dist/cli/main.js'), '--config', join(dir, 'mandate.yaml'), '--data-dir', join(dir, 'data'), ...args], { env: { ...process.env, ...env } });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  db = await createTestDatabase('mandate_migrate');
  dir = mkdtempSync(join(tmpdir(), 'mandate-migrate-'));
  writeFileSync(join(dir, 'mandate.yaml'), 'trustDomain: migrate.test\nstore: { url: "${MIGRATE_DB}" }\n');
});
afterAll(async () => {
  await db?.drop();
});

describe('mandate migrate', () => {
  it('lists pending migrations with --dry-run and changes nothing, then applies them once', async () => {
    const env = { MIGRATE_DB: db.url };
    const dry = await mandate(env, 'migrate', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan).toMatchObject({ dryRun: true, applied: [], already: [] });
    expect(plan.pending).toEqual(expect.arrayContaining(['001_init.sql', '002_events.sql']));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      expect((await c.query(`SELECT to_regclass('public.agents') AS t`)).rows[0].t).toBeNull();
      const run = await mandate(env, 'migrate');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:5432\/mandate_migrate_\w+: applied \d+ migration\(s\): 001_init\.sql, 002_events\.sql/);
      expect((await c.query(`SELECT to_regclass('public.agents') AS t`)).rows[0].t).toBe('agents');
      const again = await mandate(env, 'migrate', '--dry-run');
      expect(again.stdout).toMatch(/up to date \(\d+ migrations applied\); nothing to do/);
    } finally {
      await c.end();
    }
  });

  it('works on the embedded SQLite store too', async () => {
    const sqliteDir = mkdtempSync(join(tmpdir(), 'mandate-migrate-sqlite-'));
    writeFileSync(join(dir, 'mandate.yaml'), 'trustDomain: migrate.test\n');
    try {
      const dry = await mandate({}, '--data-dir', sqliteDir, 'migrate', '--dry-run');
      expect(dry.stdout).toMatch(/SQLite .*mandate\.db: \d+ migration\(s\) would be applied:\n {2}001_init\.sql/);
      const run = await mandate({}, '--data-dir', sqliteDir, 'migrate', '--json');
      expect(JSON.parse(run.stdout).applied).toContain('001_init.sql');
      expect((await mandate({}, '--data-dir', sqliteDir, 'migrate')).stdout).toMatch(/up to date/);
    } finally {
      writeFileSync(join(dir, 'mandate.yaml'), 'trustDomain: migrate.test\nstore: { url: "${MIGRATE_DB}" }\n');
    }
  });

  it('names an unreachable database and what to do, without its password', async () => {
    const port = await freePort();
    const r = await mandate({ MIGRATE_DB: `postgres://mandate:hunter2@127.0.0.1:${port}/mandate` }, 'migrate');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
    expect(r.stderr).toMatch(/check that the database is running/);
    expect(r.stdout + r.stderr).not.toMatch(/hunter2/);
  });
});
