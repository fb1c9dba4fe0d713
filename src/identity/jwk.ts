// Agent public keys: only asymmetric public JWKs are accepted (never a private or symmetric
// key: an agent's secret stays with the agent).

import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { MandateError, q } from '../core/errors.js';
import type { PublicJwk } from '../storage/types.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const CURVE_ALG: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512', Ed25519: 'EdDSA' };

/** The JWS algorithm a key verifies; RSA keys default to RS256 unless the JWK names PS256 etc. */
export function algForJwk(jwk: PublicJwk): string {
  if (jwk.kty === 'EC' || jwk.kty === 'OKP') return CURVE_ALG[jwk.crv ?? ''] ?? '';
  if (jwk.kty === 'RSA') return typeof jwk.alg === 'string' && /^(RS|PS)(256|384|512)$/.test(jwk.alg) ? jwk.alg : 'RS256';
  return '';
}

export async function normalisePublicJwks(input: unknown): Promise<{ keys: PublicJwk[] }> {
  const keys = (input as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new MandateError('invalid_request', '`jwks.keys` must be a non-empty array of public JWKs');
  }
  if (keys.length > 5) throw new MandateError('invalid_request', '`jwks.keys`: at most 5 keys per agent');
  const out: PublicJwk[] = [];
  const kids = new Set<string>();
  for (const [i, raw] of keys.entries()) {
    const where = `\`jwks.keys[${i}]\``;
    if (!raw || typeof raw !== 'object') throw new MandateError('invalid_request', `${where}: expected a JWK object`);
    const jwk = raw as PublicJwk;
    const priv = PRIVATE_MEMBERS.filter((m) => m in jwk);
    if (priv.length) {
      throw new MandateError('invalid_request', `${where}: contains private key material (${priv.map((m) => `\`${m}\``).join(', ')}); register the public key only and keep the private key with the agent`);
    }
    if (!['EC', 'OKP', 'RSA'].includes(jwk.kty)) {
      throw new MandateError('invalid_request', `${where}: key type ${q(jwk.kty)} is not accepted (use EC P-256/P-384/P-521, OKP Ed25519 or RSA ≥ 2048 bits)`);
    }
    const alg = algForJwk(jwk);
    if (!alg) throw new MandateError('invalid_request', `${where}: curve ${q(jwk.crv)} is not supported`);
    if (jwk.kty === 'RSA' && Buffer.from(jwk.n ?? '', 'base64url').length * 8 < 2048) {
      throw new MandateError('invalid_request', `${where}: RSA keys must be at least 2048 bits`);
    }
    try {
      await importJWK(jwk as JWK, alg);
    } catch (err) {
      throw new MandateError('invalid_request', `${where}: not a valid ${jwk.kty} public key: ${(err as Error).message}`);
    }
    const kid = typeof jwk.kid === 'string' && jwk.kid ? jwk.kid : await calculateJwkThumbprint(jwk as JWK);
    if (kids.has(kid)) throw new MandateError('invalid_request', `${where}: duplicate \`kid\` ${q(kid)}`);
    kids.add(kid);
    const clean: PublicJwk = { kty: jwk.kty, kid, alg };
    for (const m of ['crv', 'x', 'y', 'n', 'e'] as const) if (jwk[m] !== undefined) clean[m] = jwk[m];
    out.push(clean);
  }
  return { keys: out };
}
