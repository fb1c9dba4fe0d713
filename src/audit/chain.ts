// The audit hash chain: each event's hash covers its own fields and the previous event's hash,
// so modifying, deleting, inserting or reordering any event breaks every later link.

import { canonicalJson } from '../core/canonical-json.js';
import { sha256Hex } from '../core/hash.js';
import type { AuditEvent, ChainHasher } from '../storage/types.js';

export const chainHash: ChainHasher = (prevHash, e) =>
  sha256Hex(
    `${prevHash}\n${canonicalJson({
      seq: e.seq,
      id: e.id,
      ts: e.ts,
      type: e.type,
      actor: e.actor,
      agentId: e.agentId,
      taskId: e.taskId,
      decision: e.decision,
      outcome: e.outcome,
      data: e.data,
      prevHash: e.prevHash,
    })}`,
  );

export function recomputeHash(e: AuditEvent): string {
  return chainHash(e.prevHash, e);
}
