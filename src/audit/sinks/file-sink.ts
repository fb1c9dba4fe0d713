// The `file` audit sink: JSON Lines appended to a file and fsync'd per batch, rotated by size
// (`audit.jsonl` → `audit.jsonl.1` → … `.<keep-1>`, the oldest deleted), for an archive or a log
// shipper that tails the file.

import { open, mkdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEvent } from '../../storage/types.js';
import { eventLine, type AuditSink, type DeliveryResult } from './sink.js';

export interface FileSinkOptions {
  path: string;
  maxBytes: number;
  /** Files kept in all, the current one included (≥ 2). */
  keep: number;
  /** Events per batch (default 1000). */
  batch?: number;
}

/** How far back the end of a file is searched for its last complete line. */
const TAIL_CHUNK = 64 * 1024;

export class FileSink implements AuditSink {
  readonly type = 'file' as const;
  readonly batch: number;
  /** The last event in the files (read once at first use, then kept), to skip a batch written before a crash. */
  private last: { seq: number; hash: string } | null = null;
  private opened = false;

  constructor(
    readonly name: string,
    private readonly opts: FileSinkOptions,
  ) {
    this.batch = opts.batch ?? 1000;
  }

  get target(): string {
    return this.opts.path;
  }

  /** The path of the `i`th file (0: the current one). */
  fileName(i: number): string {
    return i === 0 ? this.opts.path : `${this.opts.path}.${i}`;
  }

  async deliver(events: AuditEvent[]): Promise<DeliveryResult> {
    if (!this.opened) await this.open();
    // A batch written just before a crash (the cursor did not move) comes again: the files
    // already end with it, so it is not written twice.
    let from = 0;
    if (this.last) {
      const i = events.findIndex((e) => e.seq === this.last!.seq);
      if (i >= 0 && events[i]!.hash === this.last.hash) from = i + 1;
    }
    const todo = events.slice(from);
    if (todo.length === 0) return { rotated: false };
    let rotated = false;
    let fh = await this.openCurrent();
    // After a failure (a full disk, say) the file may end with part of a line: the next attempt
    // looks at the files again, as after a crash.
    this.opened = false;
    try {
      let size = (await fh.stat()).size;
      let chunk: string[] = [];
      let chunkBytes = 0;
      for (const e of todo) {
        const line = `${eventLine(e)}\n`;
        const n = Buffer.byteLength(line);
        // Rotate before a line that would take the file past maxBytes (a line larger than
        // maxBytes on its own gets a file of its own).
        if (size + chunkBytes > 0 && size + chunkBytes + n > this.opts.maxBytes) {
          await write(fh, chunk);
          await fh.close();
          await this.rotate();
          rotated = true;
          fh = await this.openCurrent();
          size = 0;
          chunk = [];
          chunkBytes = 0;
        }
        chunk.push(line);
        chunkBytes += n;
      }
      await write(fh, chunk);
    } finally {
      await fh.close().catch(() => undefined);
    }
    const tail = todo[todo.length - 1]!;
    this.last = { seq: tail.seq, hash: tail.hash };
    this.opened = true;
    return { rotated };
  }

  async close(): Promise<void> {}

  private openCurrent(): Promise<FileHandle> {
    // Owner-only, like the database that holds the same events.
    return open(this.opts.path, 'a', 0o600);
  }

  /**
   * First use: a line cut by a crash mid-write is removed (its event was never counted as
   * delivered and comes again), and the last event written is remembered.
   */
  private async open(): Promise<void> {
    await mkdir(dirname(this.opts.path), { recursive: true, mode: 0o700 });
    const cur = await lastLine(this.opts.path, true);
    this.last = cur.found ? cur.event : (await lastLine(this.fileName(1), false)).event;
    this.opened = true;
  }

  private async rotate(): Promise<void> {
    const keep = this.opts.keep;
    await rm(this.fileName(keep - 1), { force: true });
    for (let i = keep - 2; i >= 1; i--) await rename(this.fileName(i), this.fileName(i + 1)).catch(ignoreMissing);
    await rename(this.fileName(0), this.fileName(1));
    await syncDir(dirname(this.opts.path));
  }
}

async function write(fh: FileHandle, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await fh.appendFile(lines.join(''));
  await fh.sync();
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

/** A rename is durable once its directory is synced. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename still happened.
  } finally {
    await d.close();
  }
}

/**
 * The last complete line of a file as `{seq, hash}`; with `repair`, a cut last line (no final
 * newline) is truncated away first. `found`: the file has at least one complete line.
 */
async function lastLine(path: string, repair: boolean): Promise<{ found: boolean; event: { seq: number; hash: string } | null }> {
  const size = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  if (size === 0) return { found: false, event: null };
  const fh = await open(path, repair ? 'r+' : 'r');
  try {
    // `buf` holds the file from `start` to its end, read backwards in chunks as far as needed.
    let start = size;
    let buf = Buffer.alloc(0);
    const readMore = async () => {
      const from = Math.max(0, start - TAIL_CHUNK);
      const piece = Buffer.alloc(start - from);
      await fh.read(piece, 0, piece.length, from);
      buf = Buffer.concat([piece, buf]);
      start = from;
    };
    const newlineBefore = (at: number) => (at < 0 ? -1 : buf.lastIndexOf(0x0a, at));
    await readMore();
    let end = buf.length;
    if (buf[end - 1] !== 0x0a) {
      let nl = newlineBefore(buf.length - 1);
      while (nl < 0 && start > 0) {
        await readMore();
        nl = newlineBefore(buf.length - 1);
      }
      end = nl + 1;
      if (repair) await fh.truncate(start + end);
    }
    if (end === 0) return { found: false, event: null };
    let prev = newlineBefore(end - 2);
    while (prev < 0 && start > 0) {
      const before = buf.length;
      await readMore();
      end += buf.length - before;
      prev = newlineBefore(end - 2);
    }
    try {
      const e = JSON.parse(buf.subarray(prev + 1, end - 1).toString('utf8')) as { seq?: unknown; hash?: unknown };
      return { found: true, event: typeof e.seq === 'number' && typeof e.hash === 'string' ? { seq: e.seq, hash: e.hash } : null };
    } catch {
      return { found: true, event: null };
    }
  } finally {
    await fh.close();
  }
}
