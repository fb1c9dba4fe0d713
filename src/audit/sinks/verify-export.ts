// Verifies an archive of the audit log: JSON Lines files written by the file sink or by
// `mandate audit export`, given in any order. It checks that every event's content matches its
// hash, that each links to the one before (no event missing between the first and the last), and
// that every `audit.checkpoint` is signed by Mandate (JWKS) and matches the events it vouches
// for. A line deleted, a file truncated, an event edited — even with every later hash recomputed
// — is reported with the first seq that is missing or altered.

import { createReadStream } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import { GENESIS_HASH, type AuditEvent } from '../../storage/types.js';
import { recomputeHash } from '../chain.js';
import { CHECKPOINT_EVENT, verifyCheckpoint, type Checkpoint } from './checkpoint.js';

export interface VerifyExportResult {
  ok: boolean;
  files: number;
  /** Distinct events read. */
  events: number;
  /** Lines that repeat an event exactly (a batch delivered again after a failover). */
  duplicates: number;
  first: number | null;
  last: number | null;
  /** Checkpoints whose signature verified. */
  checkpoints: number;
  /** The newest valid checkpoint: its own seq (`event`) and the head it vouches for (`seq`, `ts`). */
  lastCheckpoint: { event: number; seq: number; ts: number } | null;
  /** The first problem (by seq), or null. */
  problem: { seq: number; message: string } | null;
  /** How many problems in all. */
  problems: number;
}

interface Seen {
  hash: string;
  prevHash: string;
  where: string;
  /** The checkpoint's data, for `audit.checkpoint` events. */
  checkpoint?: unknown;
}

interface Problem {
  /** Where in seq order it sits (x.5: between two events). */
  at: number;
  /** The seq the message names. */
  seq: number;
  message: string;
  missing?: boolean;
}

/** Reads `files` and verifies them as one archive (signatures against `jwks`). */
export async function verifyExport(files: string[], jwks: JSONWebKeySet): Promise<VerifyExportResult> {
  const seen = new Map<number, Seen>();
  const problems: Problem[] = [];
  let duplicates = 0;
  for (const file of files) {
    let prevSeq = 0;
    for await (const { line, n, cut } of lines(file)) {
      const where = `${file}:${n}`;
      if (cut) {
        problems.push({ at: prevSeq + 0.5, seq: prevSeq + 1, message: `${file} ends in the middle of line ${n} (after event ${prevSeq}): the file was truncated` });
        break;
      }
      if (line.trim() === '') continue;
      const e = parseEvent(line);
      if (!e) {
        problems.push({ at: prevSeq + 0.5, seq: prevSeq + 1, message: `${where} is not an audit event (after event ${prevSeq})` });
        continue;
      }
      prevSeq = e.seq;
      const intact = recomputeHash(e) === e.hash;
      const before = seen.get(e.seq);
      if (before) {
        if (before.hash === e.hash && intact) duplicates++;
        else problems.push({ at: e.seq, seq: e.seq, message: `event ${e.seq} appears twice with different content (${before.where} and ${where})` });
        continue;
      }
      if (!intact) problems.push({ at: e.seq, seq: e.seq, message: `event ${e.seq} (${where}) was modified: its content does not match its hash` });
      seen.set(e.seq, { hash: e.hash, prevHash: e.prevHash, where, ...(e.type === CHECKPOINT_EVENT ? { checkpoint: e.data } : {}) });
    }
  }

  // The chain, in seq order: nothing missing between the first and the last, every link holding.
  const seqs = [...seen.keys()].sort((a, b) => a - b);
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!;
    const cur = seen.get(seq)!;
    if (i === 0) {
      if (seq === 1 && cur.prevHash !== GENESIS_HASH) problems.push({ at: 1, seq: 1, message: `event 1 (${cur.where}) does not start the chain: its previous hash is not the genesis hash` });
      continue;
    }
    const prev = seqs[i - 1]!;
    if (seq !== prev + 1) {
      const more = seq - prev - 2;
      problems.push({
        at: prev + 1,
        seq: prev + 1,
        missing: true,
        message: `event ${prev + 1} is missing${more > 0 ? ` (with ${more} more, up to ${seq - 1})` : ''}: event ${prev} (${seen.get(prev)!.where}) is followed by event ${seq} (${cur.where})`,
      });
    } else if (cur.prevHash !== seen.get(prev)!.hash) {
      problems.push({ at: seq, seq, message: `event ${seq} (${cur.where}) does not follow event ${prev} (${seen.get(prev)!.where}): the previous-hash link is broken` });
    }
  }

  // Checkpoints: signed by Mandate, and the events they vouch for are here, unaltered.
  const first = seqs.length ? seqs[0]! : null;
  const valid: Array<{ event: number; cp: Checkpoint; where: string }> = [];
  for (const seq of seqs) {
    const s = seen.get(seq)!;
    if (s.checkpoint === undefined) continue;
    let cp: Checkpoint;
    try {
      cp = await verifyCheckpoint(s.checkpoint, jwks);
    } catch (err) {
      problems.push({ at: seq, seq, message: `the checkpoint at event ${seq} (${s.where}) cannot be trusted: ${(err as Error).message}` });
      continue;
    }
    if (cp.seq >= seq) {
      problems.push({ at: seq, seq, message: `the checkpoint at event ${seq} (${s.where}) claims a head (${cp.seq}) that is not before it` });
      continue;
    }
    valid.push({ event: seq, cp, where: s.where });
    // Before the archive's first event: those files were rotated away (retention), not cut.
    if (cp.seq < first!) continue;
    const target = seen.get(cp.seq);
    if (target && target.hash !== cp.hash) {
      const earlier = valid.filter((v) => v.cp.seq < cp.seq && v.cp.seq >= first! && seen.get(v.cp.seq)?.hash === v.cp.hash).pop();
      const from = earlier ? earlier.cp.seq + 1 : first!;
      problems.push({
        at: from,
        seq: from,
        message: `events ${from}–${cp.seq} were altered and their hashes recomputed: event ${cp.seq} (${target.where}) is not the one the checkpoint at event ${seq} (${s.where}) signed on ${iso(cp.ts)}`,
      });
    }
  }

  problems.sort((a, b) => a.at - b.at);
  let problem = problems[0] ? { seq: problems[0].seq, message: problems[0].message } : null;
  if (problem && problems[0]!.missing) {
    // Say which signature proves the missing events existed, when one does.
    const vouching = valid.find((v) => v.cp.seq >= problem!.seq);
    if (vouching) problem = { ...problem, message: `${problem.message}; the checkpoint at event ${vouching.event} (${vouching.where}), signed on ${iso(vouching.cp.ts)}, vouches for every event up to ${vouching.cp.seq}` };
  }
  const newest = valid[valid.length - 1];
  return {
    ok: problems.length === 0,
    files: files.length,
    events: seqs.length,
    duplicates,
    first,
    last: seqs.length ? seqs[seqs.length - 1]! : null,
    checkpoints: valid.length,
    lastCheckpoint: newest ? { event: newest.event, seq: newest.cp.seq, ts: newest.cp.ts } : null,
    problem,
    problems: problems.length,
  };
}

/** What the CLI prints. */
export function describeVerifyExport(r: VerifyExportResult): string {
  if (!r.ok) return `archive BROKEN at event ${r.problem!.seq}: ${r.problem!.message}${r.problems > 1 ? ` (${r.problems - 1} more problem${r.problems > 2 ? 's' : ''})` : ''}`;
  if (r.events === 0) return 'archive holds no events';
  const parts = [`archive intact: events ${r.first}–${r.last} (${r.events} in ${r.files} file${r.files === 1 ? '' : 's'}${r.duplicates ? `, ${r.duplicates} repeated line${r.duplicates === 1 ? '' : 's'} ignored` : ''})`];
  if (r.first! > 1) parts.push(`it starts after event ${r.first! - 1} (earlier files not given, or rotated away)`);
  if (r.lastCheckpoint) {
    const after = r.last! - r.lastCheckpoint.seq;
    parts.push(`${r.checkpoints} signed checkpoint${r.checkpoints === 1 ? '' : 's'} verified; the newest vouches for every event up to ${r.lastCheckpoint.seq}${after > 0 ? `, the ${after} after it are covered by the hash chain only (a cut after the last checkpoint cannot be told from the end of the log)` : ''}`);
  } else parts.push('no signed checkpoint in it: a truncation at the end cannot be detected, nor a rewrite with recomputed hashes');
  return parts.join('; ');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function parseEvent(line: string): AuditEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const e = v as Partial<AuditEvent> | null;
  if (!e || typeof e !== 'object' || !Number.isSafeInteger(e.seq) || (e.seq as number) < 1) return null;
  if (typeof e.hash !== 'string' || typeof e.prevHash !== 'string' || typeof e.type !== 'string' || typeof e.id !== 'string') return null;
  if (!e.data || typeof e.data !== 'object') return null;
  return e as AuditEvent;
}

/** The lines of a file, numbered from 1; `cut`: the file ends without a final newline there. */
async function* lines(file: string): AsyncGenerator<{ line: string; n: number; cut: boolean }> {
  let rest = '';
  let n = 0;
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    rest += chunk as string;
    let start = 0;
    let i: number;
    while ((i = rest.indexOf('\n', start)) >= 0) {
      yield { line: rest.slice(start, i), n: ++n, cut: false };
      start = i + 1;
    }
    rest = rest.slice(start);
  }
  if (rest !== '') yield { line: rest, n: ++n, cut: true };
}
