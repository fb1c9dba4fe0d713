// Opens the configured store: SQLite by default, PostgreSQL when a database URL is given.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MandateError, q } from '../core/errors.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

export * from './types.js';
export * from './errors.js';
export { SqliteStore } from './sqlite/sqlite-store.js';

export { PostgresStore, migratePostgres } from './postgres/postgres-store.js';

/** The `store` section of the configuration (PostgreSQL connection settings). */
export interface StoreSettings {
  poolSize?: number;
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  ssl?: 'disable' | 'require' | 'verify-full' | undefined;
  sslCa?: string | undefined;
}

export interface OpenStoreOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  settings?: StoreSettings | undefined;
  /** Apply pending migrations at open (default true; `mandate migrate --dry-run` opens without). */
  migrate?: boolean;
}

export const isPostgresUrl = (url: string | undefined): boolean => !!url && (url.startsWith('postgres://') || url.startsWith('postgresql://'));

/** PostgreSQL connection options from the URL and the `store` settings. */
export function postgresOptions(url: string, settings: StoreSettings = {}, migrate = true): PostgresStoreOptions {
  let ca: string | undefined;
  if (settings.sslCa) {
    try {
      ca = readFileSync(settings.sslCa, 'utf8');
    } catch (err) {
      throw new MandateError('config_invalid', `store.sslCa ${q(settings.sslCa)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give the PEM file of the CA that signs PostgreSQL's certificate`);
    }
  }
  return {
    url,
    migrate,
    ...(settings.poolSize ? { poolSize: settings.poolSize } : {}),
    ...(settings.statementTimeoutMs ? { statementTimeoutMs: settings.statementTimeoutMs } : {}),
    ...(settings.connectTimeoutMs ? { connectTimeoutMs: settings.connectTimeoutMs } : {}),
    ...(settings.ssl ? { ssl: { mode: settings.ssl, ...(ca ? { ca } : {}) } } : {}),
  };
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const url = opts.databaseUrl;
  if (!url) return new SqliteStore({ path: join(opts.dataDir, 'mandate.db') });
  if (url.startsWith('sqlite:')) return new SqliteStore({ path: url.slice('sqlite:'.length).replace(/^\/\//, '') });
  if (isPostgresUrl(url)) return PostgresStore.open(postgresOptions(url, opts.settings, opts.migrate ?? true));
  throw new MandateError('config_invalid', `database URL ${q(redactUrl(url))}: expected sqlite:<path> or postgres://…`);
}

/** Hides the password of a database URL before it reaches a message or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
