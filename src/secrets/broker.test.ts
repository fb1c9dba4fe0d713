// The secret broker against real sources: environment, files (mode-checked), and a Vault KV v2
// API (token file and AppRole). Attacks stopped: a secret file others can read used anyway; a
// secret or the Vault token leaking into an error, a log line or an answer; a stale credential
// used past its TTL.

import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultFixture, type VaultFixture } from '../../test/fixtures/vault/kv-server.js';
import { redactText } from '../audit/redact.js';
import type { Clock } from '../core/clock.js';
import { SecretBroker } from './broker.js';

let vault: VaultFixture;
let dir: string;
const clock = { t: 1_000_000, now() { return this.t; } } as Clock & { t: number };
const VALUE = 'sk_live_reports_0123456789abcdef';
const TOKEN = 'hvs.fixture-token-0123456789abcdef';

const secretFile = (name: string, text: string, mode = 0o600) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};

beforeAll(async () => {
  vault = await startVaultFixture();
  vault.tokens.add(TOKEN);
  vault.secrets.set('secret/mandate/partner', { token: 'partner-token-fedcba9876543210', other: 'x' });
  dir = mkdtempSync(join(tmpdir(), 'mandate-secrets-'));
});
afterAll(async () => {
  await vault?.close();
});

describe('secret sources', () => {
  it('reads from the environment and from an owner-only file, and redacts what it read', async () => {
    const file = secretFile('db-password', 'db-password-file-value-7777\n');
    const b = new SecretBroker({ secrets: { api: { env: 'REPORTS_KEY' }, db: { file } }, clock, env: { REPORTS_KEY: VALUE } });
    expect(await b.get('api')).toBe(VALUE);
    expect(await b.get('db')).toBe('db-password-file-value-7777');
    // From now on the values are replaced wherever they would be shown.
    expect(redactText(`upstream said: Authorization: Bearer ${VALUE}; pw=db-password-file-value-7777`)).not.toMatch(/sk_live_reports|db-password-file-value/);
  });

  it('refuses a secret file others may read, and says how to fix it', async () => {
    const file = secretFile('loose', 'loose-secret-value-1234', 0o644);
    const b = new SecretBroker({ secrets: { loose: { file } }, clock });
    await expect(b.get('loose')).rejects.toThrow(/readable by others \(mode 644\): `chmod 600 /);
  });

  it('names a missing secret and its source, never a value', async () => {
    const b = new SecretBroker({ secrets: { api: { env: 'NOT_SET_ANYWHERE' } }, clock, env: {} });
    await expect(b.get('api')).rejects.toThrow(/secret `api`: environment variable NOT_SET_ANYWHERE is not set: export it/);
    await expect(b.get('nope')).rejects.toThrow(/secret `nope` is not configured/);
    await expect(b.preload()).rejects.toMatchObject({ code: 'secret_unavailable' });
  });

  it('reads a Vault KV v2 key with a token file, caches it for its TTL, then reads it again', async () => {
    const tokenFile = secretFile('vault-token', `${TOKEN}\n`);
    const b = new SecretBroker({ secrets: { partner: { vault: { path: 'mandate/partner', key: 'token' }, ttl: 60 } }, vault: { url: vault.url, tokenFile }, clock });
    const before = vault.requests.length;
    expect(await b.get('partner')).toBe('partner-token-fedcba9876543210');
    expect(await b.get('partner')).toBe('partner-token-fedcba9876543210');
    expect(vault.requests.length - before).toBe(1);
    expect(vault.requests.at(-1)).toMatchObject({ method: 'GET', path: '/v1/secret/data/mandate/partner', token: TOKEN });
    // Rotated in Vault: seen once the TTL has run out, not before.
    vault.secrets.set('secret/mandate/partner', { token: 'partner-token-rotated-00000000' });
    clock.t += 59_000;
    expect(await b.get('partner')).toBe('partner-token-fedcba9876543210');
    clock.t += 2_000;
    expect(await b.get('partner')).toBe('partner-token-rotated-00000000');
    // Concurrent uses after expiry share one read.
    clock.t += 61_000;
    const n = vault.requests.length;
    await Promise.all(Array.from({ length: 10 }, () => b.get('partner')));
    expect(vault.requests.length - n).toBe(1);
  });

  it('logs in with AppRole, and logs in again when Vault revokes the token', async () => {
    const secretIdFile = secretFile('approle-secret-id', vault.approle.secretId);
    vault.secrets.set('secret/mandate/approle-read', { other: 'x' });
    const b = new SecretBroker({ secrets: { partner: { vault: { path: 'mandate/approle-read', key: 'other' }, ttl: 1 } }, vault: { url: vault.url, appRole: { roleId: vault.approle.roleId, secretIdFile } }, clock });
    expect(await b.get('partner')).toBe('x');
    const login = vault.requests.filter((r) => r.path === '/v1/auth/approle/login');
    expect(login.length).toBeGreaterThanOrEqual(1);
    // Vault revokes every token it gave: the next read is refused once, then a fresh login reads.
    for (const t of [...vault.tokens]) if (t !== TOKEN) vault.tokens.delete(t);
    clock.t += 2_000;
    expect(await b.get('partner')).toBe('x');
    expect(vault.requests.filter((r) => r.path === '/v1/auth/approle/login').length).toBe(login.length + 1);
  });

  it('explains Vault failures without the token or any value', async () => {
    const tokenFile = secretFile('bad-token', 'hvs.not-a-valid-token-000000000000');
    const cases: Array<[Record<string, { vault: { path: string; key: string } }>, RegExp]> = [
      [{ s: { vault: { path: 'mandate/partner', key: 'token' } } }, /Vault refused the token \(HTTP 403\): give it a policy that may read mandate\/partner/],
    ];
    for (const [secrets, msg] of cases) {
      const b = new SecretBroker({ secrets, vault: { url: vault.url, tokenFile }, clock });
      const err = (await b.get('s').catch((e: Error) => e)) as Error;
      expect(err.message).toMatch(msg);
      expect(err.message).not.toMatch(/hvs\.|partner-token/);
    }
    const good = secretFile('good-token', TOKEN);
    const missing = new SecretBroker({ secrets: { s: { vault: { path: 'mandate/none', key: 'k' } }, t: { vault: { path: 'mandate/partner', key: 'absent' } } }, vault: { url: vault.url, tokenFile: good }, clock });
    await expect(missing.get('s')).rejects.toThrow(/Vault has no secret at mandate\/none/);
    const keyErr = (await missing.get('t').catch((e: Error) => e)) as Error;
    expect(keyErr.message).toMatch(/the secret has no key `absent` \(keys: token\)/);
    expect(keyErr.message).not.toMatch(/partner-token/);
    const down = new SecretBroker({ secrets: { s: { vault: { path: 'p', key: 'k' } } }, vault: { url: 'http://127.0.0.1:9', tokenFile: good, timeoutMs: 2000 }, clock });
    const downErr = (await down.get('s').catch((e: Error) => e)) as Error;
    expect(downErr.message).toMatch(/Vault at http:\/\/127\.0\.0\.1:9 is unreachable/);
    expect(downErr.message).not.toContain(TOKEN);
  });

  it('refuses a Vault secret when `vault` is not configured', () => {
    expect(() => new SecretBroker({ secrets: { s: { vault: { path: 'p', key: 'k' } } }, clock })).toThrow(/`vault` is not configured/);
  });
});
