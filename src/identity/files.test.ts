// Secret files are written durably and atomically: never empty or half-written after a crash or
// a filesystem error, never overwritten, owner-only.

import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSecretFile, writeSecretFile } from './files.js';

describe('secret files', () => {
  it('writes the whole file with mode 0600 and leaves no temporary file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-secret-'));
    const path = join(dir, 'signing-keys.json');
    writeSecretFile(path, '{"keys":[1]}');
    expect(readFileSync(path, 'utf8')).toBe('{"keys":[1]}');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['signing-keys.json']);
  });

  it('never overwrites an existing secret (a second process keeps the first key)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-secret-'));
    const path = join(dir, 'admin-token');
    writeSecretFile(path, 'first');
    expect(() => writeSecretFile(path, 'second')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(readFileSync(path, 'utf8')).toBe('first');
    expect(readdirSync(dir)).toEqual(['admin-token']);
  });

  it('tightens a secret file copied in with loose permissions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-secret-'));
    const path = join(dir, 'admin-token');
    writeFileSync(path, 'x', { mode: 0o644 });
    expect(readSecretFile(path)).toBe('x');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
