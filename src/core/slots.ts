// A counting semaphore with a bounded wait: at most `max` holders at once; the rest queue in
// order and give up after `waitMs` with an error that says what is full.

export class SlotsFullError extends Error {}

export class Slots {
  private used = 0;
  private readonly queue: Array<{ grant: () => void; timer: NodeJS.Timeout }> = [];

  constructor(
    private readonly max: number,
    private readonly what: string,
  ) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function once a slot is free; rejects after `waitMs`. */
  acquire(waitMs: number): Promise<() => void> {
    if (this.used < this.max) {
      this.used++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(entry.timer);
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          const i = this.queue.indexOf(entry);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new SlotsFullError(`all ${this.max} ${this.what} are in use and none came free within ${waitMs / 1000} s; retry shortly`));
        }, waitMs),
      };
      entry.timer.unref();
      this.queue.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next.grant();
      else this.used--;
    };
  }
}
