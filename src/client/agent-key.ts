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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read agent key ${path}: ${code === 'ENOENT' ? 'no such file (`mandate agent create` writes <name>.agent-key.json)' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message}`);
  }
  try {
    file = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not an agent key file: it is not JSON (expected the file \`mandate agent create\` wrote)`);
  }
  if (!file || typeof file !== 'object' || !file.agent || !file.privateJwk || !file.alg) throw new Error(`${path} is not an agent key file (expected agent, alg, privateJwk, as \`mandate agent create\` writes)`);
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(file.privateJwk, file.alg)) as CryptoKey;
  } catch (err) {
    throw new Error(`${path} holds a key that cannot be used for ${file.alg}: ${(err as Error).message}`);
  }
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

/**
 * A delegation ticket (what a child agent hands the parent that will delegate to it): signed by
 * the agent's key, `typ: delegation+jwt`, for the token endpoint's delegation audience, good for
 * one token exchange within `lifetimeSeconds`, and naming the child's DPoP key (`cnf.jkt`) so
 * the credential the parent obtains is bound to the child's key. It is never a login.
 */
export async function createDelegationTicket(key: AgentKey, tokenEndpoint: string, o: { jkt?: string | undefined; lifetimeSeconds?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(o.jkt ? { cnf: { jkt: o.jkt } } : {})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'delegation+jwt' })
    .setIssuer(key.agentId)
    .setSubject(key.agentId)
    .setAudience(`${tokenEndpoint}#delegation`)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.lifetimeSeconds ?? 60))
    .setJti(randomUUID())
    .sign(key.privateKey);
}
