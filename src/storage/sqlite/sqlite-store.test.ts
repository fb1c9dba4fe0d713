import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { runStorageConformance } from '../conformance.js';
import { SqliteStore } from './sqlite-store.js';

// A real SQLite file per case, as a user's data dir would hold it.
const dir = mkdtempSync(join(tmpdir(), 'mandate-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStorageConformance('sqlite', () => new SqliteStore({ path: join(dir, `case-${n++}.db`) }));
