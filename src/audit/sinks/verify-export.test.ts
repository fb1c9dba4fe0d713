// Verifying an archive of streamed files: intact archives pass (with repeated lines from an
// at-least-once failover, and with the oldest files rotated away); each way of tampering is
// caught and names the first seq that is missing or altered.

import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlattenedSign, generateKeyPair } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../core/canonical-json.js';
import { ManualClock } from '../../core/clock.js';
import { SigningKeys } from '../../identity/signing-keys.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { AuditEvent } from '../../storage/types.js';
import { AuditLog } from '../audit-log.js';
import { chainHash } from '../chain.js';
import { CHECKPOINT_EVENT, CHECKPOINT_TYP } from './checkpoint.js';
import { FileSink } from './file-sink.js';
import { SinkRunner } from './runner.js';
import { eventLine } from './sink.js';
import { describeVerifyExport, verifyExport } from './verify-export.js';

let dir: string;
let path: string;
let store: SqliteStore;
let jwks: { keys: unknown[] };

/** A real archive: 40 events through the runner and the file sink, a checkpoint every 6 events, files of ~2 KB. */
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mandate-vexport-'));
  path = join(dir, 'archive', 'audit.jsonl');
  store = new SqliteStore({ path: join(dir, 'mandate.db') });
  const clock = new ManualClock();
  const audit = new AuditLog(store, clock);
  const keys = await SigningKeys.loadOrCreate(dir, clock.now());
  jwks = keys.jwks() as { keys: unknown[] };
  const r = new SinkRunner({ store, audit, keys, clock, sinks: [new FileSink('archive', { path, maxBytes: 2048, keep: 100 })], checkpoint: { every: 6, interval: 0 } });
  for (let i = 0; i < 40; i++) {
    await audit.record({ type: 'tool.call', actor: 'spiffe://t/agent/a', decision: 'allow', outcome: 'success', data: { tool: 'stdio.echo', args: { text: `call ${i}` } } });
    clock.advance(1000);
    await r.tick();
  }
  await audit.drain();
  await r.tick();
  await r.stop();
});
afterEach(() => store.close());

/** The archive's files, oldest first. */
function files(): string[] {
  const names = readdirSync(join(dir, 'archive'));
  const n = (f: string) => Number(f.split('.').pop()) || 0;
  return names.sort((a, b) => n(b) - n(a)).map((f) => join(dir, 'archive', f));
}

const read = (f: string): string[] => readFileSync(f, 'utf8').split('\n').filter(Boolean);
const write = (f: string, lines: string[]) => writeFileSync(f, lines.map((l) => `${l}\n`).join(''));
const allEvents = () => files().flatMap(read).map((l) => JSON.parse(l) as AuditEvent);

/** Where event `seq` is: its file and line index. */
function locate(seq: number): { file: string; index: number } {
  for (const file of files()) {
    const index = read(file).findIndex((l) => (JSON.parse(l) as AuditEvent).seq === seq);
    if (index >= 0) return { file, index };
  }
  throw new Error(`event ${seq} not in the archive`);
}

/** Replaces the archive with `events`, re-chained from the first (an attacker recomputing every hash), in one file. */
function rewrite(events: AuditEvent[]): void {
  for (const f of files()) rmSync(f);
  let prev = events[0]!.prevHash;
  const out = events.map((e) => {
    const partial = { ...e, prevHash: prev };
    const hash = chainHash(prev, partial);
    prev = hash;
    return eventLine({ ...partial, hash });
  });
  write(path, out);
}

describe('verify-export', () => {
  it('passes an intact archive of rotated files, given in any order, with its checkpoints verified', async () => {
    expect(files().length).toBeGreaterThan(3);
    const events = allEvents();
    const cps = events.filter((e) => e.type === CHECKPOINT_EVENT);
    expect(cps.length).toBeGreaterThan(4);
    const r = await verifyExport([...files()].reverse(), jwks as never);
    expect(r).toMatchObject({ ok: true, first: 1, last: events.length, events: events.length, duplicates: 0, checkpoints: cps.length, problem: null });
    expect(describeVerifyExport(r)).toMatch(new RegExp(`^archive intact: events 1–${events.length} \\(${events.length} in ${files().length} files\\); ${cps.length} signed checkpoints verified`));
  });

  it('accepts lines repeated exactly (a batch sent again after a failover)', async () => {
    const { file, index } = locate(10);
    const lines = read(file);
    lines.splice(index + 1, 0, lines[index]!);
    write(file, lines);
    expect(await verifyExport(files(), jwks as never)).toMatchObject({ ok: true, duplicates: 1 });
  });

  it('accepts an archive whose oldest files were rotated away (retention), saying where it starts', async () => {
    const [oldest, next] = files();
    rmSync(oldest!);
    rmSync(next!);
    const r = await verifyExport(files(), jwks as never);
    expect(r.ok).toBe(true);
    expect(r.first).toBeGreaterThan(1);
    expect(describeVerifyExport(r)).toContain(`it starts after event ${r.first! - 1}`);
  });

  it('catches a line deleted in the middle, naming the missing seq', async () => {
    const { file, index } = locate(17);
    const lines = read(file);
    lines.splice(index, 1);
    write(file, lines);
    const r = await verifyExport(files(), jwks as never);
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ seq: 17, message: expect.stringMatching(/^event 17 is missing: event 16 \(.*\) is followed by event 18 \(.*\); the checkpoint at event \d+ \(.*\), signed on .*, vouches for every event up to \d+$/) });
    expect(describeVerifyExport(r)).toMatch(/^archive BROKEN at event 17: event 17 is missing/);
  });

  it('catches a rotated file truncated past a checkpoint (its lost events are vouched for by a later checkpoint)', async () => {
    const [oldest, second] = files();
    const lines = read(second!);
    const firstCut = (JSON.parse(lines[2]!) as AuditEvent).seq;
    write(second!, lines.slice(0, 2));
    void oldest;
    const r = await verifyExport(files(), jwks as never);
    expect(r.problem).toMatchObject({ seq: firstCut, message: expect.stringContaining(`event ${firstCut} is missing`) });
    expect(r.problem!.message).toMatch(/vouches for every event up to \d+$/);
  });

  it('catches a file cut in the middle of a line', async () => {
    const f = files()[1]!;
    const size = readFileSync(f).length;
    truncateSync(f, size - 20);
    const r = await verifyExport(files(), jwks as never);
    expect(r.ok).toBe(false);
    expect(r.problem!.message).toMatch(/ends in the middle of line \d+ \(after event \d+\): the file was truncated/);
  });

  it('catches an edited event (attack: rewriting who did what)', async () => {
    const { file, index } = locate(12);
    const lines = read(file);
    const e = JSON.parse(lines[index]!) as AuditEvent;
    lines[index] = eventLine({ ...e, actor: 'admin' });
    write(file, lines);
    const r = await verifyExport(files(), jwks as never);
    expect(r.problem).toMatchObject({ seq: 12, message: expect.stringMatching(/^event 12 \(.*\) was modified: its content does not match its hash$/) });
  });

  it('catches an edit whose hashes were all recomputed, through the signed checkpoint (attack: rewriting the unkeyed chain)', async () => {
    const events = allEvents();
    const i = events.findIndex((e) => e.seq === 20);
    events[i] = { ...events[i]!, data: { tool: 'stdio.echo', args: { text: 'nothing to see' } } };
    rewrite(events);
    const r = await verifyExport(files(), jwks as never);
    expect(r.ok).toBe(false);
    const cps = events.filter((e) => e.type === CHECKPOINT_EVENT).map((e) => (e.data.checkpoint as { seq: number }).seq);
    const before = Math.max(...cps.filter((s) => s < 20));
    const after = Math.min(...cps.filter((s) => s >= 20));
    expect(r.problem).toMatchObject({ seq: before + 1, message: expect.stringContaining(`events ${before + 1}–${after} were altered and their hashes recomputed`) });
  });

  it('refuses a checkpoint signed with another key (attack: forging the checkpoints after a rewrite)', async () => {
    const events = allEvents();
    const cut = events.filter((e) => e.seq <= 20);
    // The attacker drops events 21.. and adds a checkpoint of their own over the shortened chain.
    const { privateKey } = await generateKeyPair('ES256');
    const head = cut[cut.length - 1]!;
    const checkpoint = { seq: head.seq, hash: head.hash, ts: head.ts };
    const jws = await new FlattenedSign(new TextEncoder().encode(canonicalJson(checkpoint))).setProtectedHeader({ alg: 'ES256', kid: 'attacker', typ: CHECKPOINT_TYP }).sign(privateKey);
    cut.push({ ...head, seq: head.seq + 1, id: 'evt_forged', type: CHECKPOINT_EVENT, actor: 'system', data: { checkpoint, jws }, prevHash: head.hash });
    rewrite(cut);
    const r = await verifyExport(files(), jwks as never);
    expect(r.problem).toMatchObject({ seq: 21, message: expect.stringMatching(/^the checkpoint at event 21 \(.*\) cannot be trusted: it was signed with a key the JWKS does not hold$/) });
  });

  it('catches one seq with two different contents across files', async () => {
    const { file, index } = locate(5);
    const other = files().find((f) => f !== file)!;
    const e = JSON.parse(read(file)[index]!) as AuditEvent;
    const forged = { ...e, outcome: 'failure' };
    write(other, [...read(other), eventLine({ ...forged, hash: chainHash(forged.prevHash, forged) })]);
    const r = await verifyExport(files(), jwks as never);
    expect(r.problem).toMatchObject({ seq: 5, message: expect.stringContaining('event 5 appears twice with different content') });
  });

  it('reads `mandate audit export` output the same way', async () => {
    const exported = join(dir, 'export.jsonl');
    writeFileSync(exported, (await store.listAudit({ limit: 10_000 })).map((e) => `${JSON.stringify(e)}\n`).join(''));
    expect(await verifyExport([exported], jwks as never)).toMatchObject({ ok: true, first: 1 });
  });
});
