// Opens the configured store: SQLite by default, PostgreSQL when a database URL is given.

import { join } from 'node:path';
import { MandateError, q } from '../core/errors.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

export * from './types.js';
export * from './errors.js';
export { SqliteStore } from './sqlite/sqlite-store.js';

export interface OpenStoreOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const url = opts.databaseUrl;
  if (!url) return new SqliteStore({ path: join(opts.dataDir, 'mandate.db') });
  if (url.startsWith('sqlite:')) return new SqliteStore({ path: url.slice('sqlite:'.length).replace(/^\/\//, '') });
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    throw new MandateError('config_invalid', `database URL ${q(redactUrl(url))}: PostgreSQL support is not available in this version; use SQLite (leave MANDATE_DATABASE_URL unset)`);
  }
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
