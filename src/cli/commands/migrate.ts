// `mandate migrate [--dry-run]`: brings the store's schema up to this version of Mandate.
// `mandate serve` does the same at start (replicas starting together migrate once, under a
// PostgreSQL advisory lock); this command lets an operator do it, or see what it would do, first.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { isPostgresUrl, migratePostgres, postgresOptions, redactUrl } from '../../storage/index.js';
import { openSqlite } from '../../storage/sqlite/driver.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import { configFrom, fail } from '../context.js';
import { printJson } from '../output.js';

const SQLITE_MIGRATIONS = fileURLToPath(new URL('../../../migrations/sqlite/', import.meta.url));

function sqliteStatus(path: string): { pending: string[]; already: string[] } {
  const files = readdirSync(SQLITE_MIGRATIONS).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  if (!existsSync(path)) return { pending: files, already: [] };
  const db = openSqlite(path, { readonly: true, fileMustExist: true });
  try {
    const has = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
    const done = new Set(has ? (db.prepare('SELECT name FROM schema_migrations').all() as Array<{ name: string }>).map((r) => r.name) : []);
    return { pending: files.filter((f) => !done.has(f)), already: files.filter((f) => done.has(f)) };
  } finally {
    db.close();
  }
}

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending store migrations (SQLite or PostgreSQL); serve does this at start')
    .option('--dry-run', 'list the migrations that would be applied, change nothing')
    .option('--json', 'print JSON')
    .action(async (opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      try {
        const config = configFrom(cmd);
        const url = config.databaseUrl;
        let target: string;
        let result: { applied: string[]; pending: string[]; already: string[] };
        const progress = (file: string) => {
          if (!opts.json) process.stderr.write(`applying ${file}…\n`);
        };
        if (isPostgresUrl(url)) {
          target = `PostgreSQL ${redactUrl(url!)}`;
          result = await migratePostgres(postgresOptions(url!, config.store, false), { dryRun: !!opts.dryRun, onProgress: progress });
        } else {
          const path = url ? url.slice('sqlite:'.length).replace(/^\/\//, '') : join(config.dataDir, 'mandate.db');
          target = `SQLite ${path}`;
          const before = sqliteStatus(path);
          if (opts.dryRun) result = { applied: [], ...before };
          else {
            for (const f of before.pending) progress(f);
            await new SqliteStore({ path }).close();
            result = { applied: before.pending, pending: [], already: before.already };
          }
        }
        if (opts.json) return printJson({ store: target, dryRun: !!opts.dryRun, ...result });
        if (opts.dryRun) {
          process.stdout.write(
            result.pending.length
              ? `${target}: ${result.pending.length} migration(s) would be applied:\n${result.pending.map((f) => `  ${f}`).join('\n')}\n(run without --dry-run to apply them)\n`
              : `${target}: up to date (${result.already.length} migrations applied); nothing to do\n`,
          );
        } else {
          process.stdout.write(
            result.applied.length
              ? `${target}: applied ${result.applied.length} migration(s): ${result.applied.join(', ')}\n`
              : `${target}: up to date (${result.already.length} migrations applied); nothing to do\n`,
          );
        }
      } catch (err) {
        fail(err);
      }
    });
}
