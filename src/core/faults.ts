// Failures on paths no caller waits for (an idle reaper, an event handler, a session-open
// audit): each is caught, counted by path and logged, never left to become an unhandled
// rejection that takes the whole process down.

export type FaultLog = (path: string, err: unknown) => void;

export class BackgroundFaults {
  private readonly counts = new Map<string, number>();
  private last: { path: string; message: string; at: number } | null = null;

  constructor(private readonly log: FaultLog = () => undefined) {}

  /** Records a failure of background path `path`. */
  note(path: string, err: unknown): void {
    this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
    this.last = { path, message: err instanceof Error ? err.message : String(err), at: Date.now() };
    try {
      this.log(path, err);
    } catch {
      // A failing logger must not turn a counted fault into a crash.
    }
  }

  /** `promise`, with a failure counted under `path` instead of thrown. */
  guard(path: string, promise: Promise<unknown>): void {
    promise.catch((err: unknown) => this.note(path, err));
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  snapshot(): { total: number; byPath: Record<string, number>; last: { path: string; message: string; at: number } | null } {
    return { total: this.total, byPath: Object.fromEntries(this.counts), last: this.last };
  }
}
