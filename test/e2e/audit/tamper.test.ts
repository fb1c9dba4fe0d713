// The audit log is tamper-evident: editing the SQLite file directly (as an attacker with disk
// access would, dropping the append-only triggers first) is caught by `mandate audit verify`,
// which names the first broken event.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openSqlite, type SqliteDatabase } from '../../../src/storage/sqlite/driver.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CONFIG, REPO, createTestAgent, freePort, startTask, startTestServer } from '../../helpers/server.js';

const run = promisify(execFile);
const CLI = join(REPO, 'dist/cli/main.js');

let dataDir: string;

/** A server session that leaves a handful of real events, then stops. */
beforeEach(async () => {
  const s = await startTestServer({ keepData: true });
  dataDir = s.dataDir;
  const agent = await createTestAgent(s);
  const t = await startTask(s, agent);
  await s.form('/oauth/revoke', { token: t.token }, { token: t.token });
  await s.close();
});

async function verify(): Promise<{ code: number; out: string }> {
  try {
    // No server at the configured port: the CLI verifies the store itself.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'MANDATE_URL'));
    const { stdout } = await run(process.execPath, [CLI, '--config', DEMO_CONFIG, '--data-dir', dataDir, 'audit', 'verify'], { env: { ...env, MANDATE_PORT: String(await freePort()) } });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

function tamper(sql: (db: SqliteDatabase) => void): void {
  const db = openSqlite(join(dataDir, 'mandate.db'));
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  sql(db);
  db.close();
}

describe('audit verify', () => {
  it('reports an intact log', async () => {
    const r = await verify();
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/audit log intact: \d+ events verified/);
  });

  it('refuses edits through SQLite while the triggers are in place', () => {
    const db = openSqlite(join(dataDir, 'mandate.db'));
    expect(() => db.prepare("UPDATE audit_events SET outcome = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_events WHERE seq = 1').run()).toThrow(/append-only/);
    db.close();
  });

  it('catches a modified event', async () => {
    // Covering tracks: rewrite who did it.
    tamper((db) => db.prepare("UPDATE audit_events SET actor = 'admin' WHERE seq = 3").run());
    const r = await verify();
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/BROKEN at event 3: event 3 was modified/);
  });

  it('catches a modified event even when its hash is recomputed (the next link breaks)', async () => {
    tamper((db) => {
      db.prepare("UPDATE audit_events SET data = '{}' WHERE seq = 2").run();
      db.prepare("UPDATE audit_events SET hash = 'f'||substr(hash, 2) WHERE seq = 2").run();
    });
    const r = await verify();
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/BROKEN at event 2/);
  });

  it('catches a deleted event', async () => {
    tamper((db) => db.prepare('DELETE FROM audit_events WHERE seq = 2').run());
    const r = await verify();
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/BROKEN at event 2: event 2 is missing/);
  });

  it('catches reordered events', async () => {
    // Swap two events' positions in the sequence.
    tamper((db) => {
      db.prepare('UPDATE audit_events SET seq = -1 WHERE seq = 2').run();
      db.prepare('UPDATE audit_events SET seq = 2 WHERE seq = 3').run();
      db.prepare('UPDATE audit_events SET seq = 3 WHERE seq = -1').run();
    });
    const r = await verify();
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/BROKEN at event 2: .*previous-hash link broken/);
  });

  it('catches an inserted event', async () => {
    tamper((db) => {
      const e = db.prepare('SELECT * FROM audit_events WHERE seq = 2').get() as Record<string, unknown>;
      db.prepare('UPDATE audit_events SET seq = seq + 100 WHERE seq >= 2').run();
      db.prepare('UPDATE audit_events SET seq = seq - 99 WHERE seq >= 102').run();
      db.prepare('INSERT INTO audit_events (seq, id, ts, type, actor, agent_id, task_id, decision, outcome, data, prev_hash, hash) VALUES (2, @id, @ts, @type, @actor, @agent_id, @task_id, @decision, @outcome, @data, @prev_hash, @hash)').run({ ...e, id: 'evt_forged', type: 'task.end' });
    });
    const r = await verify();
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/BROKEN at event 2/);
  });
});
