// Secret files in the data directory: created with mode 0600, durably and atomically (a crash or
// a filesystem error never leaves an empty or half-written key file behind), and never logged.

import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a new secret file: to a temporary file beside it (0600), fsynced, then linked into
 * place (which, unlike rename, fails if the file already exists: a secret is never overwritten),
 * and the directory fsynced so the new name survives a crash.
 */
export function writeSecretFile(path: string, content: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    const buf = Buffer.from(content, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, 0o600);
    linkSync(tmp, path);
  } finally {
    unlinkSync(tmp);
  }
  syncDir(dir);
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems cannot fsync a directory; the file itself is already durable.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function readSecretFile(path: string): string | null {
  if (!existsSync(path)) return null;
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) chmodSync(path, 0o600); // tighten a file someone copied in loosely
  return readFileSync(path, 'utf8');
}
