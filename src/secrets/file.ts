// Secret files and the one error every secret source raises (names the secret and the source,
// never the value).

import { readFileSync, statSync } from 'node:fs';
import { MandateError, q } from '../core/errors.js';

export class SecretError extends MandateError {
  constructor(message: string) {
    super('secret_unavailable', message);
    this.name = 'SecretError';
  }
}

/**
 * A secret file: it must be a regular file that only its owner may read (0600 or 0400), as an
 * SSH key must; anything else is refused with how to fix it. Trailing newlines are dropped.
 */
export function readSecretFileChecked(name: string, path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new SecretError(`secret ${q(name)}: file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path and that Mandate may read it`);
  }
  if (!st.isFile()) throw new SecretError(`secret ${q(name)}: ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new SecretError(`secret ${q(name)}: file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): \`chmod 600 ${path}\``);
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid() && process.getuid() !== 0) {
    throw new SecretError(`secret ${q(name)}: file ${path} belongs to another user: it must be owned by the user Mandate runs as`);
  }
  const text = readFileSync(path, 'utf8').replace(/\r?\n+$/, '');
  if (!text) throw new SecretError(`secret ${q(name)}: file ${path} is empty`);
  return text;
}
