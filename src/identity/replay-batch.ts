// Single-use checks (DPoP proof ids, client-assertion ids) in group commits. Every check still
// goes to the store (the replay cache is shared by replicas and survives a restart, so a proof is
// never accepted twice anywhere), and each caller's answer comes only once its key is committed;
// what arrives in the same tick goes in one transaction, so under load a core spends one commit on
// many requests instead of one each (the commit, not the lookup, is what costs).

import type { ReplayStore, ReplayUse } from '../storage/types.js';

export class ReplayBatcher implements ReplayStore {
  private queue: Array<{ use: ReplayUse; resolve: (ok: boolean) => void; reject: (err: unknown) => void }> = [];
  private flushing = false;

  constructor(private readonly store: ReplayStore) {}

  useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ use: { key, expiresAt, now }, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  useOnceMany(uses: ReplayUse[]): Promise<boolean[]> {
    return this.store.useOnceMany(uses);
  }

  pruneReplay(now: number): Promise<number> {
    return this.store.pruneReplay(now);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 500);
      try {
        const answers = await this.store.useOnceMany(batch.map((b) => b.use));
        // A store that answered for fewer keys than it was given accepted none of the rest.
        batch.forEach((b, i) => b.resolve(answers[i] === true));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
  }
}
