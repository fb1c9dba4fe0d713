// The agent's side of DPoP (RFC 9449): a fresh proof per request, signed by the agent's key.

import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey, type JWK } from 'jose';

export interface DpopKey {
  privateKey: CryptoKey;
  /** The public JWK (no private members). */
  publicJwk: JWK;
  alg: string;
}

export interface ProofOptions {
  /** The access token the request carries (adds `ath`). */
  accessToken?: string;
  /** The server's latest `DPoP-Nonce`. */
  nonce?: string;
  /** Seconds since the epoch (default now). */
  iat?: number;
}

export async function createDpopProof(key: DpopKey, method: string, url: string, o: ProofOptions = {}): Promise<string> {
  const u = new URL(url);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...jwk } = key.publicJwk as JWK & Record<string, unknown>;
  const claims: Record<string, unknown> = { htm: method.toUpperCase(), htu: `${u.protocol}//${u.host}${u.pathname}` };
  if (o.accessToken !== undefined) claims.ath = createHash('sha256').update(o.accessToken).digest('base64url');
  if (o.nonce !== undefined) claims.nonce = o.nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk })
    .setIssuedAt(o.iat ?? Math.floor(Date.now() / 1000))
    .setJti(randomUUID())
    .sign(key.privateKey);
}
