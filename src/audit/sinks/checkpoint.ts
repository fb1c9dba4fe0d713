// Signed checkpoints of the audit chain head. A checkpoint `{seq, hash, ts}` is signed with
// Mandate's signing key and recorded as an `audit.checkpoint` event (so it is chained itself).
// The hash chain alone is unkeyed: whoever holds an archive can rewrite an event and recompute
// every later hash. A signed checkpoint cannot be recomputed, so the events up to its seq must be
// exactly the ones Mandate had, and none of them may be missing from an archive that holds it.
//
// The signature is a JWS in the flattened JSON serialization (RFC 7515 §7.2.2): the same bytes
// as a compact JWS (`protected.payload.signature`), but kept as three fields, because the audit
// log redacts anything shaped like a compact token.

import { createLocalJWKSet, flattenedVerify, FlattenedSign, type JSONWebKeySet } from 'jose';
import { canonicalJson } from '../../core/canonical-json.js';
import type { SigningKey } from '../../identity/signing-keys.js';

export const CHECKPOINT_EVENT = 'audit.checkpoint';
/** The JWS `typ`: a checkpoint is never mistaken for a credential, nor a credential for a checkpoint. */
export const CHECKPOINT_TYP = 'mandate-audit-checkpoint+jws';

export interface Checkpoint {
  /** The chain head when it was taken: its seq and hash. */
  seq: number;
  hash: string;
  /** When (ms). */
  ts: number;
}

export interface CheckpointData {
  checkpoint: Checkpoint;
  jws: { protected: string; payload: string; signature: string };
}

export async function signCheckpoint(key: SigningKey, cp: Checkpoint): Promise<CheckpointData> {
  const checkpoint = { seq: cp.seq, hash: cp.hash, ts: cp.ts };
  const jws = await new FlattenedSign(new TextEncoder().encode(canonicalJson(checkpoint)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: CHECKPOINT_TYP })
    .sign(key.privateKey);
  return { checkpoint, jws: { protected: jws.protected!, payload: jws.payload, signature: jws.signature } };
}

/** Asymmetric algorithms only: a JWKS never holds a shared secret to verify with. */
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/**
 * The checkpoint an `audit.checkpoint` event's data vouches for, once its signature verifies
 * against `jwks` and the signed payload is the one the event states. Throws naming what is wrong.
 */
export async function verifyCheckpoint(data: unknown, jwks: JSONWebKeySet): Promise<Checkpoint> {
  const d = data as Partial<CheckpointData> | null;
  const jws = d?.jws;
  if (!jws || typeof jws.protected !== 'string' || typeof jws.payload !== 'string' || typeof jws.signature !== 'string') throw new Error('it carries no signature');
  let verified: Awaited<ReturnType<typeof flattenedVerify>>;
  try {
    verified = await flattenedVerify(jws, createLocalJWKSet(jwks), { algorithms: ALGORITHMS });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Error(code === 'ERR_JWKS_NO_MATCHING_KEY' ? 'it was signed with a key the JWKS does not hold' : `its signature does not verify (${(err as Error).message})`);
  }
  if (verified.protectedHeader?.typ !== CHECKPOINT_TYP) throw new Error(`its signature is not a checkpoint's (typ ${JSON.stringify(verified.protectedHeader?.typ ?? null)})`);
  let signed: Checkpoint;
  try {
    signed = JSON.parse(new TextDecoder().decode(verified.payload)) as Checkpoint;
  } catch {
    throw new Error('its signed payload is not JSON');
  }
  if (!Number.isSafeInteger(signed.seq) || typeof signed.hash !== 'string' || typeof signed.ts !== 'number') throw new Error('its signed payload is not a checkpoint');
  const stated = d.checkpoint;
  if (!stated || stated.seq !== signed.seq || stated.hash !== signed.hash || stated.ts !== signed.ts) throw new Error('the checkpoint it states is not the one that was signed');
  return signed;
}
