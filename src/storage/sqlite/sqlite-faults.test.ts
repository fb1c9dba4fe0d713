// The SQLite store on a damaged file: corruption found while running makes the store untrusted
// (every later operation refused, with what to do), and driver errors become storage errors that
// name the cause and the fix.

import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../errors.js';
import { SqliteStore } from './sqlite-store.js';

describe('a database file corrupted while the server runs', () => {
  it('is noticed on the next read that hits it, and nothing is decided on it afterwards', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mandate-corrupt-run-')), 'mandate.db');
    const store = new SqliteStore({ path });
    for (let i = 0; i < 400; i++) {
      await store.insertAgent({ id: `spiffe://t/agent/a${i}`, name: `a${i}`, owner: 'o@corp.example', purpose: 'x'.repeat(200), environment: 'dev', status: 'active', reviewBy: null, jwks: { keys: [] }, labels: [], createdAt: 1, updatedAt: 1 });
    }
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.db.pragma('cache_size = 2');
    // A stray write over pages 4-40, as a failing disk would.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(36 * 4096, 0xa5), 0, 36 * 4096, 3 * 4096);
    closeSync(fd);

    const refused: string[] = [];
    store.onUnavailable = (op) => refused.push(op);
    const err = await store.listAgents().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).message).toMatch(/the database file is corrupted; stop Mandate, move the file aside and restore it from a backup/);
    expect(store.trust.untrusted).toMatch(/corrupted/);
    await expect(store.getAgent('spiffe://t/agent/a1')).rejects.toThrow(/^storage unavailable: the database file is corrupted/);
    await expect(store.probe(Date.now())).rejects.toThrow(/corrupted/);
    // Each refusal is told once, by method name (the `mandate_store_errors_total{op}` counter).
    expect(refused).toEqual(['listAgents', 'getAgent']);
  });
});
