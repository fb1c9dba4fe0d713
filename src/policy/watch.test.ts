// The watcher's baseline is what was loaded: a save between loading and watching is a change.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PolicyWatcher } from './watch.js';

let dir: string;
let w: PolicyWatcher | undefined;
afterEach(() => {
  w?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('PolicyWatcher', () => {
  it('reports a save made after its baseline but before it started watching (a save during server start)', () => {
    dir = mkdtempSync(join(tmpdir(), 'mandate-watch-'));
    writeFileSync(join(dir, 'a.cedar'), 'permit (principal, action, resource);');
    const seen: string[] = [];
    w = new PolicyWatcher(dir, (why) => seen.push(why), { pollMs: 0 });
    writeFileSync(join(dir, 'a.cedar'), 'forbid (principal, action, resource);'); // while the server was still starting
    w.start();
    w.recheck('file change while starting');
    expect(seen).toEqual(['file change while starting']);
    w.recheck('again');
    expect(seen).toHaveLength(1); // nothing new: no second reload
  });
});
