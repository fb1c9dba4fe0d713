import { generateKeyPairSync, sign as cryptoSign, createHmac } from 'node:crypto';
import { CompactSign, SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { decodeHeader, JwsError, keyObjectOf, publicKeyFromJwk, verifyCompact } from './jws.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('compact JWS verification through node:crypto', () => {
  it('verifies what jose signs, for every accepted algorithm', async () => {
    for (const alg of ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'PS256']) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const token = await new SignJWT({ sub: 'a', n: 1 }).setProtectedHeader({ alg, typ: 'x+jwt' }).sign(privateKey);
      const key = publicKeyFromJwk((await exportJWK(publicKey)) as Record<string, unknown>, alg);
      expect(verifyCompact(token, key, alg)).toEqual({ header: { alg, typ: 'x+jwt' }, payload: { sub: 'a', n: 1 } });
      expect(verifyCompact(token, keyObjectOf(publicKey), alg).payload.sub).toBe('a');
    }
  });

  const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signEs = (header: unknown, payload: unknown) => {
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: es.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };

  it('refuses a tampered payload or header, and a truncated signature', () => {
    const t = signEs({ alg: 'ES256' }, { sub: 'agent' });
    const [h, , s] = t.split('.');
    expect(() => verifyCompact(`${h}.${b64({ sub: 'admin' })}.${s}`, es.publicKey, 'ES256')).toThrow(/signature does not verify/);
    expect(() => verifyCompact(`${b64({ alg: 'ES256', kid: 'x' })}.${t.split('.')[1]}.${s}`, es.publicKey, 'ES256')).toThrow(/signature does not verify/);
    expect(() => verifyCompact(`${t.slice(0, -4)}`, es.publicKey, 'ES256')).toThrow(JwsError);
  });

  it('stops algorithm confusion: `none`, HS256 keyed with the public key, or another algorithm than the caller accepts', () => {
    const payload = b64({ sub: 'admin' });
    expect(() => verifyCompact(`${b64({ alg: 'none' })}.${payload}.`, es.publicKey, 'ES256')).toThrow(/not a compact JWS/);
    expect(() => verifyCompact(`${b64({ alg: 'none' })}.${payload}.AA`, es.publicKey, 'ES256')).toThrow(/"none" is not accepted/);
    const pem = es.publicKey.export({ type: 'spki', format: 'pem' });
    const input = `${b64({ alg: 'HS256' })}.${payload}`;
    const forged = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    expect(() => verifyCompact(forged, es.publicKey, 'ES256')).toThrow(/"HS256" is not accepted/);
    expect(() => verifyCompact(forged, es.publicKey, 'HS256')).toThrow(/does not fit/);
    // An ES384 token against a P-256 key, even if the caller were asked for ES384.
    expect(() => verifyCompact(signEs({ alg: 'ES384' }, {}), es.publicKey, 'ES384')).toThrow(/does not fit algorithm ES384/);
  });

  it('refuses a DER-encoded ECDSA signature (JWS uses the fixed-length form) and a signature of the wrong length', () => {
    const input = `${b64({ alg: 'ES256' })}.${b64({ a: 1 })}`;
    const der = cryptoSign('sha256', Buffer.from(input), es.privateKey).toString('base64url');
    expect(() => verifyCompact(`${input}.${der}`, es.publicKey, 'ES256')).toThrow(/signature does not verify/);
  });

  it('refuses `crit`, unencoded payloads, non-JSON and non-object payloads, and stray characters', async () => {
    expect(() => verifyCompact(signEs({ alg: 'ES256', crit: ['exp'] }, {}), es.publicKey, 'ES256')).toThrow(/crit/);
    expect(() => verifyCompact(signEs({ alg: 'ES256', b64: false }, {}), es.publicKey, 'ES256')).toThrow(/b64/);
    expect(() => verifyCompact(signEs({ alg: 'ES256' }, 'not json'), es.publicKey, 'ES256')).toThrow(/payload is not base64url-encoded JSON/);
    expect(() => verifyCompact(signEs({ alg: 'ES256' }, [1, 2]), es.publicKey, 'ES256')).toThrow(/payload is not a JSON object/);
    expect(() => decodeHeader('a.b.c d')).toThrow(/base64url/);
    expect(() => decodeHeader('a.b')).toThrow(/compact JWS/);
    // jose's CompactSign with a non-JSON payload: the signature is fine, the payload is not a JWT.
    const { privateKey } = await generateKeyPair('ES256');
    const raw = await new CompactSign(new TextEncoder().encode('hello')).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    expect(() => verifyCompact(raw, es.publicKey, 'ES256')).toThrow(JwsError);
  });

  it('refuses private keys and weak RSA keys as verification keys', () => {
    const jwk = es.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
    expect(() => publicKeyFromJwk(jwk, 'ES256')).toThrow(/public key/);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => publicKeyFromJwk(weak.publicKey.export({ format: 'jwk' }) as Record<string, unknown>, 'RS256')).toThrow(/does not fit/);
  });
});
