// The file sink: JSON Lines with seq and chain hashes, rotation by size keeping `keep` files, a
// batch written just before a crash not written twice, and a line cut by a crash repaired.

import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../storage/types.js';
import { GENESIS_HASH } from '../../storage/types.js';
import { chainHash } from '../chain.js';
import { FileSink } from './file-sink.js';
import { eventLine } from './sink.js';

/** A real chain of `n` events from seq `from` (hashes computed as the store does). */
function chain(n: number, from = 1, prev = GENESIS_HASH, pad = 0): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const partial = { seq, id: `evt_${seq}`, ts: 1_700_000_000_000 + seq, type: 'tool.call', actor: 'system', agentId: null, taskId: null, decision: 'allow', outcome: 'success', data: { n: seq, pad: 'x'.repeat(pad) }, prevHash: prev };
    const hash = chainHash(prev, partial);
    out.push({ ...partial, hash });
    prev = hash;
  }
  return out;
}

const seqsOf = (path: string): number[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as AuditEvent).seq)
    : [];


describe('file sink', () => {
  it('appends one JSON line per event, carrying seq, prevHash and hash as exported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fsink-'));
    const path = join(dir, 'nested', 'audit.jsonl');
    const sink = new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 });
    const events = chain(3);
    expect(await sink.deliver(events)).toEqual({ rotated: false });
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toEqual(events.map(eventLine));
    expect(JSON.parse(lines[1]!)).toMatchObject({ seq: 2, prevHash: events[0]!.hash, hash: events[1]!.hash });
    // Owner-only, like the database holding the same events.
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('rotates before a file would pass maxBytes, keeping `keep` files in all (the oldest deleted)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fsink-'));
    const path = join(dir, 'audit.jsonl');
    const events = chain(40, 1, GENESIS_HASH, 100);
    const lineBytes = Buffer.byteLength(`${eventLine(events[0]!)}\n`);
    // Four lines (give or take a digit of seq) per file.
    const sink = new FileSink('archive', { path, maxBytes: lineBytes * 4 + 8, keep: 3 });
    let rotations = 0;
    for (let i = 0; i < events.length; i += 5) if ((await sink.deliver(events.slice(i, i + 5))).rotated) rotations++;
    expect(rotations).toBeGreaterThan(3);
    expect(existsSync(`${path}.3`)).toBe(false);
    const files = [`${path}.2`, `${path}.1`, path];
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(lineBytes * 4 + 8);
    // Oldest to newest, the kept files hold the newest events, contiguous, ending with the last.
    const kept = files.flatMap(seqsOf);
    expect(kept[kept.length - 1]).toBe(40);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 40 - kept.length + 1 + i));
  });

  it('gives an event larger than maxBytes a file of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fsink-'));
    const path = join(dir, 'audit.jsonl');
    const sink = new FileSink('archive', { path, maxBytes: 1024, keep: 5 });
    await sink.deliver(chain(1));
    const big = chain(1, 2, chain(1)[0]!.hash, 4000);
    expect((await sink.deliver(big)).rotated).toBe(true);
    expect(seqsOf(`${path}.1`)).toEqual([1]);
    expect(seqsOf(path)).toEqual([2]);
  });

  it('does not write a batch twice when it comes again after a crash (written, cursor not moved)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fsink-'));
    const path = join(dir, 'audit.jsonl');
    const events = chain(6);
    await new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 }).deliver(events.slice(0, 4));
    // A new process: the runner's cursor is still at 2, so events 3..6 come.
    await new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 }).deliver(events.slice(2));
    expect(seqsOf(path)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('writes a batch whose seq is in the file but with another hash (a different log), rather than skip it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fsink-'));
    const path = join(dir, 'audit.jsonl');
    await new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 }).deliver(chain(3));
    const other = chain(3, 1, 'f'.repeat(64));
    await new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 }).deliver(other);
    expect(seqsOf(path)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('removes a line cut by a crash mid-write before appending (its event comes again)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fsink-'));
    const path = join(dir, 'audit.jsonl');
    const events = chain(3);
    writeFileSync(path, `${eventLine(events[0]!)}\n`);
    appendFileSync(path, eventLine(events[1]!).slice(0, 40));
    await new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 }).deliver(events.slice(1));
    expect(readFileSync(path, 'utf8')).toBe(`${events.map(eventLine).join('\n')}\n`);
  });

  it('finds the last event in the rotated file when the current one is empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fsink-'));
    const path = join(dir, 'audit.jsonl');
    const events = chain(4);
    writeFileSync(`${path}.1`, `${events.slice(0, 3).map(eventLine).join('\n')}\n`);
    await new FileSink('archive', { path, maxBytes: 1_000_000, keep: 3 }).deliver(events.slice(1));
    expect(seqsOf(path)).toEqual([4]);
  });
});
