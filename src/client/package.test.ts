// The SDK's package (packages/client) is built from src/client: it must declare what that code
// imports, at the versions the server is tested with, and run on the same Node.js lines.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const sdk = JSON.parse(readFileSync(new URL('../../packages/client/package.json', import.meta.url), 'utf8'));

describe('@mandate/client package', () => {
  it('declares every package src/client imports, at the versions the server uses', () => {
    const imported = new Set<string>();
    for (const f of ['index.ts', 'agent-key.ts', 'dpop.ts']) {
      const src = readFileSync(new URL(`./${f}`, import.meta.url), 'utf8');
      for (const m of src.matchAll(/from '([^'.][^']*)'/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(Object.keys(sdk.dependencies).sort()).toEqual([...imported].sort());
    for (const dep of imported) expect(sdk.dependencies[dep], dep).toBe(root.dependencies[dep]);
  });

  it('has the version and the Node.js lines of the server it talks to', () => {
    expect(sdk.version).toBe(root.version);
    expect(sdk.engines).toEqual(root.engines);
  });
});
