// Mandate's version, from package.json (read once at start; the file ships with the package).

import { readFileSync } from 'node:fs';

export const MANDATE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
