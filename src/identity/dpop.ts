// DPoP (RFC 9449): proof-of-possession for task credentials. The token endpoint binds a
// credential to the key of the proof that came with the request (`cnf.jkt`); every later use
// must carry a fresh proof by that key for that very request (method, URL, access-token hash),
// each proof accepted once. A copied credential without its private key is useless.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { decodeHeader, JWS_ASYMMETRIC, JwsError, publicKeyFromJwk, verifyCompact } from './jws.js';
import { Lru } from '../core/lru.js';
import type { Clock } from '../core/clock.js';
import { MandateError } from '../core/errors.js';
import type { ReplayStore } from '../storage/types.js';

const ASYMMETRIC: readonly string[] = JWS_ASYMMETRIC;

export class DpopError extends MandateError {
  constructor(
    message: string,
    /** `use_dpop_nonce` when the client must retry with the server's nonce. */
    readonly dpopCode: 'invalid_dpop_proof' | 'use_dpop_nonce' = 'invalid_dpop_proof',
  ) {
    super(dpopCode, message);
    this.name = 'DpopError';
  }
}

export interface DpopOptions {
  /** Seconds a proof's `iat` may lie in the past or future. */
  maxAge: number;
  /** Require server-issued nonces. */
  requireNonce: boolean;
}

export interface VerifiedProof {
  jkt: string;
  jti: string;
  jwk: JWK;
}

/** `base64url(SHA-256(token))`, the `ath` claim. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The `htu` a proof must carry: the URL without query and fragment. */
export function normaliseHtu(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export class DpopVerifier {
  private readonly nonceKey = randomBytes(32);
  /** Imported proof keys and their thumbprints: an agent signs every proof with the same key. */
  private readonly keys = new Lru<string, { key: KeyObject; jkt: string }>(10_000);

  constructor(
    private readonly clock: Clock,
    private readonly opts: DpopOptions,
    /** Proof ids seen, in the store: a restart or another replica inside the window still refuses a replay. */
    private readonly replay: ReplayStore,
  ) {}

  get requireNonce(): boolean {
    return this.opts.requireNonce;
  }

  /** A fresh server nonce (stateless: a timestamp and its HMAC), valid for a few minutes. */
  nonce(): string {
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(Math.floor(this.clock.now() / 1000)));
    const mac = createHmac('sha256', this.nonceKey).update(ts).digest().subarray(0, 16);
    return Buffer.concat([ts, mac]).toString('base64url');
  }

  private nonceValid(n: unknown): boolean {
    if (typeof n !== 'string' || n.length > 64) return false;
    const raw = Buffer.from(n, 'base64url');
    if (raw.length !== 24) return false;
    const ts = raw.subarray(0, 8);
    const mac = createHmac('sha256', this.nonceKey).update(ts).digest().subarray(0, 16);
    if (!timingSafeEqual(mac, raw.subarray(8))) return false;
    const age = Math.floor(this.clock.now() / 1000) - Number(ts.readBigUInt64BE());
    return age >= -5 && age <= 300;
  }

  /**
   * Verifies one proof for one request. `accessToken` (resource requests) makes `ath` required
   * and checked; `jkt` (a bound credential) makes the key's thumbprint required to match.
   */
  async verify(proof: string | string[] | undefined, req: { method: string; url: string; accessToken?: string; jkt?: string }): Promise<VerifiedProof> {
    if (proof === undefined) throw new DpopError('a DPoP proof is required (`DPoP` header)');
    if (Array.isArray(proof)) throw new DpopError('send exactly one `DPoP` header');
    if (proof.length > 8192 || proof.split('.').length !== 3) throw new DpopError('the DPoP proof is not a compact JWS');
    let decoded;
    try {
      decoded = decodeHeader(proof);
    } catch {
      throw new DpopError('the DPoP proof header is unreadable');
    }
    const header = decoded.header;
    if (header.typ !== 'dpop+jwt') throw new DpopError('the DPoP proof must have `typ: dpop+jwt`');
    const alg = header.alg;
    if (typeof alg !== 'string' || !ASYMMETRIC.includes(alg)) throw new DpopError(`DPoP proof algorithm ${JSON.stringify(alg ?? null)} is not allowed: use an asymmetric one (ES256, EdDSA …)`);
    const jwk = header.jwk as JWK | undefined;
    if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new DpopError('the DPoP proof must carry its public key (`jwk` header)');
    if ('d' in jwk || 'k' in jwk || 'p' in jwk) throw new DpopError('the DPoP proof `jwk` must be a public key');
    const now = this.clock.now();
    const cacheKey = `${alg}|${JSON.stringify([jwk.kty, jwk.crv, jwk.x, jwk.y, jwk.n, jwk.e])}`;
    let entry = this.keys.get(cacheKey);
    if (!entry) {
      try {
        const { kid: _kid, use: _use, key_ops: _ops, ...pub } = jwk;
        entry = { key: publicKeyFromJwk(pub, alg), jkt: await calculateJwkThumbprint(pub, 'sha256') };
      } catch (err) {
        throw new DpopError(`the DPoP proof \`jwk\` is not a usable ${alg} public key: ${(err as Error).message}`);
      }
      this.keys.set(cacheKey, entry);
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = verifyCompact(proof, entry.key, alg, decoded));
    } catch (err) {
      if (err instanceof JwsError && err.kind === 'signature') throw new DpopError('the DPoP proof signature does not verify');
      throw new DpopError(`the DPoP proof is invalid: ${(err as Error).message}`);
    }
    // A proof may carry `exp`/`nbf` (RFC 9449 does not require them); honour them when present.
    if (payload.exp !== undefined && (typeof payload.exp !== 'number' || payload.exp * 1000 <= now)) throw new DpopError('the DPoP proof has expired (`exp`)');
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf * 1000 > now + this.opts.maxAge * 1000)) throw new DpopError('the DPoP proof is not valid yet (`nbf`)');
    if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256) throw new DpopError('the DPoP proof needs a unique `jti`');
    if (payload.htm !== req.method) throw new DpopError(`the DPoP proof is for method ${JSON.stringify(payload.htm)}, not ${req.method}`);
    let htu: string;
    try {
      htu = normaliseHtu(String(payload.htu));
    } catch {
      throw new DpopError('the DPoP proof `htu` is not a URL');
    }
    if (htu !== normaliseHtu(req.url)) throw new DpopError(`the DPoP proof is for ${JSON.stringify(payload.htu)}, not ${normaliseHtu(req.url)}`);
    const iat = payload.iat;
    if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(now / 1000 - iat) > this.opts.maxAge) throw new DpopError(`the DPoP proof is too old or from the future (iat must be within ${this.opts.maxAge}s of now)`);
    if (this.opts.requireNonce && !this.nonceValid(payload.nonce)) throw new DpopError('a fresh server nonce is required in the DPoP proof (use the `DPoP-Nonce` response header)', 'use_dpop_nonce');
    if (req.accessToken !== undefined) {
      if (payload.ath !== accessTokenHash(req.accessToken)) throw new DpopError('the DPoP proof `ath` does not match the access token');
    }
    const jkt = entry.jkt;
    if (req.jkt !== undefined && jkt !== req.jkt) throw new DpopError('the DPoP proof is signed by another key than the one the credential is bound to');
    // Last, after every other check: only a proof that would be accepted is recorded. Expired
    // entries are pruned by the maintenance sweep.
    if (!(await this.replay.useOnce(`dpop:${jkt}:${payload.jti}`, now + (this.opts.maxAge * 2 + 5) * 1000, now))) throw new DpopError('this DPoP proof was already used (replay)');
    return { jkt, jti: payload.jti, jwk };
  }
}
