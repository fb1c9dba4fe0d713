// Compact JWS verification on the hot path through `node:crypto` with cached `KeyObject`s.
//
// jose (used for signing, JWK handling and the colder paths) verifies through WebCrypto, whose
// async key handling costs more than the signature itself: ~6,600 ES256 verifications/s against
// ~16,000/s for a synchronous `crypto.verify` with a ready `KeyObject` on the same core. The per-
// request checks (a DPoP proof on every call; a task credential the first time it is seen) go
// through here. The signature is verified by OpenSSL (`crypto.verify`); this module only splits
// the compact form, decodes JSON, pins the algorithm to the key's type, and refuses what it does
// not understand (`crit`, unencoded payloads). Claims are checked by the caller.

import { constants, createPublicKey, KeyObject, verify as cryptoVerify, type JsonWebKey, type webcrypto } from 'node:crypto';

export class JwsError extends Error {
  constructor(
    message: string,
    /** `signature` when only the signature failed (the token is otherwise well formed). */
    readonly kind: 'malformed' | 'algorithm' | 'signature' = 'malformed',
  ) {
    super(message);
    this.name = 'JwsError';
  }
}

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** The algorithms accepted anywhere a proof or credential is verified here (asymmetric only). */
export const JWS_ASYMMETRIC = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;

const EC: Record<string, { curve: string; hash: string; sigLen: number }> = {
  ES256: { curve: 'prime256v1', hash: 'sha256', sigLen: 64 },
  ES384: { curve: 'secp384r1', hash: 'sha384', sigLen: 96 },
  ES512: { curve: 'secp521r1', hash: 'sha512', sigLen: 132 },
};

/** Whether `key` is of the type `alg` needs (no RSA key for ES256, no curve mismatch, RSA ≥ 2048 bits). */
export function keyFitsAlg(key: KeyObject, alg: string): boolean {
  if (key.type !== 'public') return false;
  const d = key.asymmetricKeyDetails ?? {};
  const ec = EC[alg];
  if (ec) return key.asymmetricKeyType === 'ec' && d.namedCurve === ec.curve;
  if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448';
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return (key.asymmetricKeyType === 'rsa' || (alg.startsWith('PS') && key.asymmetricKeyType === 'rsa-pss')) && (d.modulusLength ?? 0) >= 2048;
  return false;
}

/** A public `KeyObject` from a JWK (private members refused). Throws with a reason. */
export function publicKeyFromJwk(jwk: Record<string, unknown>, alg: string): KeyObject {
  if ('d' in jwk || 'k' in jwk || 'p' in jwk || 'q' in jwk) throw new JwsError('the key must be a public key');
  const { kid: _kid, use: _use, key_ops: _ops, alg: _alg, x5c: _x5c, ...pub } = jwk;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pub as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new JwsError(`the key is not a usable public key: ${(err as Error).message}`);
  }
  if (!keyFitsAlg(key, alg)) throw new JwsError(`the key does not fit algorithm ${alg}`, 'algorithm');
  return key;
}

/** A `KeyObject` for a WebCrypto `CryptoKey` (Mandate's own signing keys, imported by jose). */
export function keyObjectOf(key: webcrypto.CryptoKey | KeyObject): KeyObject {
  return key instanceof KeyObject ? key : KeyObject.from(key);
}

function json(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwsError(`the ${what} is not base64url-encoded JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new JwsError(`the ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** The protected header of a compact JWS, without verifying anything. */
export function decodeHeader(token: string): { header: Record<string, unknown>; parts: [string, string, string] } {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) throw new JwsError('not a compact JWS');
  if (!B64URL.test(parts[0]) || !B64URL.test(parts[1]) || !B64URL.test(parts[2])) throw new JwsError('not a compact JWS (characters outside base64url)');
  const header = json(parts[0], 'header');
  return { header, parts: parts as [string, string, string] };
}

/**
 * Verifies a compact JWS signed with `alg` by `key` and returns its header and JSON payload.
 * The header's `alg` must equal `alg` (the caller chooses it from what it accepts, never from the
 * token alone) and the key must be of that algorithm's type.
 */
export function verifyCompact(token: string, key: KeyObject, alg: string, decoded?: { header: Record<string, unknown>; parts: [string, string, string] }): DecodedJws {
  const { header, parts } = decoded ?? decodeHeader(token);
  if (header.alg !== alg) throw new JwsError(`algorithm ${JSON.stringify(header.alg ?? null)} is not accepted here`, 'algorithm');
  if (header.crit !== undefined) throw new JwsError('critical header parameters (`crit`) are not supported');
  if (header.b64 !== undefined) throw new JwsError('unencoded payloads (`b64`) are not supported');
  if (!keyFitsAlg(key, alg)) throw new JwsError(`the key does not fit algorithm ${alg}`, 'algorithm');
  const sig = Buffer.from(parts[2], 'base64url');
  const input = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
  let ok: boolean;
  const ec = EC[alg];
  try {
    if (ec) ok = sig.length === ec.sigLen && cryptoVerify(ec.hash, input, { key, dsaEncoding: 'ieee-p1363' }, sig);
    else if (alg === 'EdDSA') ok = cryptoVerify(null, input, key, sig);
    else if (alg.startsWith('PS')) ok = cryptoVerify(`sha${alg.slice(2)}`, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, sig);
    else if (alg.startsWith('RS')) ok = cryptoVerify(`sha${alg.slice(2)}`, input, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
    else throw new JwsError(`algorithm ${alg} is not supported`, 'algorithm');
  } catch (err) {
    if (err instanceof JwsError) throw err;
    ok = false;
  }
  if (!ok) throw new JwsError('the signature does not verify', 'signature');
  return { header, payload: json(parts[1], 'payload') };
}
