// Which better-sqlite3 build this process loads. Two majors are installed side by side because
// no single one runs on every supported Node.js line:
// - 12.x (`better-sqlite3`) is built on Node's raw `node::ObjectWrap`. Built against Node
//   ≥ 24.19 headers, its Statement destructor trips `RemoveEnvironmentCleanupHook`'s
//   `(env) != nullptr` check when a garbage collection finalises a statement with no context
//   entered, and the process aborts (nodejs/node#65446, WiseLibs/better-sqlite3#1515; seen here
//   under `npm test` on 24.21).
// - 13.x (`better-sqlite3-napi`, an npm alias) uses Node-API and ships its own prebuilt
//   binaries, but needs Node ≥ 22: on Node 20 it crashes at the first statement.
// So Node 20 loads 12.x and Node 22 and later load 13.x. The API is the same.

import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement = BetterSqlite3.Statement;
type Constructor = typeof BetterSqlite3;

const require = createRequire(import.meta.url);
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The package name this Node.js line loads. */
export const SQLITE_DRIVER = NODE_MAJOR >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

let loaded: Constructor | undefined;

function load(): Constructor {
  if (loaded) return loaded;
  try {
    loaded = require(SQLITE_DRIVER) as Constructor;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(
      `the SQLite driver ${SQLITE_DRIVER} for Node.js ${process.version} cannot be loaded (${e.code ?? e.message.split('\n')[0]}): ` +
        `run \`npm ci\` (or \`npm rebuild ${SQLITE_DRIVER}\`) with this Node.js version`,
      { cause: err },
    );
  }
  return loaded;
}

/** Opens a better-sqlite3 database with the build for this Node.js line. */
export function openSqlite(path: string, options?: BetterSqlite3.Options): SqliteDatabase {
  const Database = load();
  return new Database(path, options);
}
