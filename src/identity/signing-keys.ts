// Mandate's own signing keys (ES256) for task credentials: created on first start in the data
// directory (0600), published without their private parts at /.well-known/jwks.json.

import { hkdfSync } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { MandateError, q } from '../core/errors.js';
import { readSecretFile, writeSecretFile } from './files.js';

export const SIGNING_ALG = 'ES256';

interface StoredKey {
  kid: string;
  alg: string;
  createdAt: number;
  privateJwk: JWK;
}

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export class SigningKeys {
  private constructor(
    private readonly keys: SigningKey[],
    readonly path: string,
    readonly created: boolean,
    private readonly seed: Buffer,
  ) {}

  /**
   * A 32-byte key for one purpose (`consent-session`), derived (HKDF-SHA256) from the newest
   * signing key: every replica sharing `signing-keys.json` derives the same one, and nothing new
   * has to be distributed.
   */
  derive(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.seed, 'mandate', purpose, 32));
  }

  /** Loads `<dataDir>/signing-keys.json`, creating a key on first start. */
  static async loadOrCreate(dataDir: string, now: number): Promise<SigningKeys> {
    const path = join(dataDir, 'signing-keys.json');
    let text = readSecretFile(path);
    let created = false;
    if (text === null) {
      const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      const kid = await calculateJwkThumbprint(privateJwk);
      const stored: StoredKey[] = [{ kid, alg: SIGNING_ALG, createdAt: now, privateJwk: { ...privateJwk, kid, alg: SIGNING_ALG } }];
      text = JSON.stringify({ keys: stored }, null, 2);
      try {
        writeSecretFile(path, text);
        created = true;
      } catch (err) {
        // Another process created it first: use theirs.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        text = readSecretFile(path)!;
      }
    }
    let parsed: { keys: StoredKey[] };
    try {
      parsed = JSON.parse(text);
      if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error('no keys');
    } catch (err) {
      throw new MandateError('config_invalid', `signing key file ${q(path)} is unreadable (${(err as Error).message}): restore it from backup, or move it away to create a new key (outstanding credentials will stop verifying)`);
    }
    const keys: SigningKey[] = [];
    for (const k of parsed.keys) {
      const privateKey = (await importJWK(k.privateJwk, k.alg)) as CryptoKey;
      const { d: _d, ...pub } = k.privateJwk;
      const publicJwk: JWK = { ...pub, kid: k.kid, alg: k.alg, use: 'sig' };
      const publicKey = (await importJWK(publicJwk, k.alg)) as CryptoKey;
      keys.push({ kid: k.kid, alg: k.alg, privateKey, publicKey, publicJwk });
    }
    const newest = parsed.keys[parsed.keys.length - 1]!.privateJwk.d;
    if (typeof newest !== 'string') throw new MandateError('config_invalid', `signing key file ${q(path)} has no private key`);
    return new SigningKeys(keys, path, created, Buffer.from(newest, 'base64url'));
  }

  /** The key new credentials are signed with (the newest). */
  get current(): SigningKey {
    return this.keys[this.keys.length - 1]!;
  }

  byKid(kid: string | undefined): SigningKey | undefined {
    return this.keys.find((k) => k.kid === kid);
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }
}
