// The bootstrap admin token: created on first start in `<dataDir>/admin-token` (0600); the
// server keeps only its hash. Its path is printed, the token itself never is.

import { join } from 'node:path';
import { sha256Hex } from '../core/hash.js';
import { newSecret } from '../core/ids.js';
import { readSecretFile, writeSecretFile } from './files.js';

export interface AdminToken {
  path: string;
  hash: string;
  created: boolean;
}

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, 'admin-token');
}

export function ensureAdminToken(dataDir: string): AdminToken {
  const path = adminTokenPath(dataDir);
  let token = readSecretFile(path)?.trim();
  let created = false;
  if (!token) {
    token = newSecret('mdt_admin');
    try {
      writeSecretFile(path, `${token}\n`);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      token = readSecretFile(path)!.trim();
    }
  }
  return { path, hash: sha256Hex(token), created };
}
