// Watches the policy directory so that every save is seen: editors and `sed -i` replace a file
// (write a new one, rename it over the old), which a watch on the file itself misses after the
// first time. So the directory (and each subdirectory) is watched by name, changes are debounced,
// and a content hash, checked every few seconds as well, decides whether anything changed.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export interface PolicyWatchOptions {
  /** Milliseconds to wait after the last event before reloading. */
  debounceMs?: number;
  /** Milliseconds between content checks that catch anything the watcher missed (0: none). */
  pollMs?: number;
}

/** SHA-256 over every `.cedar` file under `dir` (names and contents), or '' if it cannot be read. */
export function policyDirHash(dir: string): string {
  const h = createHash('sha256');
  try {
    const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.cedar')).sort();
    for (const f of files) {
      const p = join(dir, f);
      if (!statSync(p).isFile()) continue;
      h.update(f).update('\0').update(readFileSync(p)).update('\0');
    }
  } catch {
    return '';
  }
  return h.digest('hex');
}

export class PolicyWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private last: string;

  constructor(
    private readonly dir: string,
    /** Called with the reason once the directory's content changed. */
    private readonly onChange: (why: string) => void,
    private readonly opts: PolicyWatchOptions = {},
  ) {
    this.last = policyDirHash(dir);
  }

  start(): void {
    this.watchTree();
    const poll = this.opts.pollMs ?? 5000;
    if (poll > 0) {
      this.poller = setInterval(() => this.check('content check'), poll);
      this.poller.unref();
    }
  }

  /** Watches the directory and each subdirectory by name (new subdirectories are picked up). */
  private watchTree(): void {
    const dirs = [this.dir];
    try {
      for (const e of readdirSync(this.dir, { recursive: true }) as string[]) {
        const p = join(this.dir, e);
        if (statSync(p).isDirectory()) dirs.push(p);
      }
    } catch {
      // The directory may be mid-replace; the next event or poll tries again.
    }
    for (const d of dirs) {
      if (this.watchers.has(d)) continue;
      try {
        const w = watch(d, () => this.schedule());
        w.on('error', () => {
          w.close();
          this.watchers.delete(d);
        });
        w.unref();
        this.watchers.set(d, w);
      } catch {
        // Gone already: nothing to watch.
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.watchTree();
      this.check('file change');
    }, this.opts.debounceMs ?? 200);
    this.timer.unref();
  }

  /** Compares with the baseline now (after start: what changed before the watch began). */
  recheck(why: string): void {
    this.check(why);
  }

  private check(why: string): void {
    const now = policyDirHash(this.dir);
    if (now === this.last) return;
    this.last = now;
    this.onChange(why);
  }

  close(): void {
    clearTimeout(this.timer);
    clearInterval(this.poller);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
