// The machine's PostgreSQL for tests: every caller gets its own database, created on demand and
// dropped afterwards. PostgreSQL is part of the test environment: when it cannot be reached the
// test fails with what to do (under CI=true and outside it alike); it is never skipped.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server tests use (trust auth, user postgres); MANDATE_TEST_PG overrides it. */
export const TEST_PG_SERVER = process.env.MANDATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

export interface TestDatabase {
  /** `postgres://…/<name>` */
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: `${TEST_PG_SERVER}/postgres`, connectionTimeoutMillis: 10_000 });
  try {
    await c.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_PG_SERVER} (${(err as Error).message}): start it with ` +
        '`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (.ci/run does this), or set MANDATE_TEST_PG',
    );
  }
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Creates an empty database for one test file (or one case) and returns how to drop it. */
export async function createTestDatabase(prefix = 'mandate_test'): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: `${TEST_PG_SERVER}/${name}`,
    drop: () =>
      admin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}
