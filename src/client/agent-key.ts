// For agents: load the private key file `mandate agent create` wrote, and sign client
// assertions (RFC 7523) with it.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface AgentKey {
  agentId: string;
  kid: string;
  alg: string;
  privateKey: CryptoKey;
}

export async function loadAgentKey(path: string): Promise<AgentKey> {
  let file: { agent?: string; kid?: string; alg?: string; privateJwk?: JWK };
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read agent key ${path}: ${(err as Error).message}`);
  }
  if (!file.agent || !file.privateJwk || !file.alg) throw new Error(`${path} is not an agent key file (expected agent, alg, privateJwk)`);
  const privateKey = (await importJWK(file.privateJwk, file.alg)) as CryptoKey;
  return { agentId: file.agent, kid: file.kid ?? file.privateJwk.kid ?? '', alg: file.alg, privateKey };
}

/** A fresh, single-use client assertion for `audience` (the token endpoint), valid 60 s. */
export async function createClientAssertion(key: AgentKey, audience: string, lifetimeSeconds = 60): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(key.agentId)
    .setSubject(key.agentId)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .setJti(randomUUID())
    .sign(key.privateKey);
}
