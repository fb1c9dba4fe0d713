// A Vault / OpenBao KV version 2 client, just what the broker needs: read one key of one secret,
// authenticated by a token file or AppRole (token renewed by logging in again when it expires or
// is refused). Plain `fetch` with a timeout; the token goes only in `X-Vault-Token` and is
// registered for redaction like every secret.

import { q } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { registerSecretValues } from '../audit/redact.js';
import { readSecretFileChecked, SecretError } from './file.js';

export interface VaultSettings {
  /** `https://vault.corp.example:8200` */
  url: string;
  /** KV v2 mount (default `secret`). */
  mount?: string | undefined;
  /** A file holding a Vault token (mode 0600). */
  tokenFile?: string | undefined;
  /** Or AppRole: the role id and a file holding the secret id. */
  appRole?: { roleId: string; secretIdFile: string; mount?: string | undefined } | undefined;
  /** Vault Enterprise / OpenBao namespace. */
  namespace?: string | undefined;
  /** Milliseconds one Vault request may take (default 5000). */
  timeoutMs?: number | undefined;
}

export class VaultClient {
  private token: { value: string; expiresAt: number } | null = null;

  constructor(
    private readonly s: VaultSettings,
    private readonly clock: Clock,
  ) {}

  private get base(): string {
    return this.s.url.replace(/\/+$/, '');
  }

  private async request(path: string, init: { method: string; token?: string; body?: unknown }, what: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.token) headers['x-vault-token'] = init.token;
    if (this.s.namespace) headers['x-vault-namespace'] = this.s.namespace;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: init.method,
        headers,
        redirect: 'error',
        signal: AbortSignal.timeout(this.s.timeoutMs ?? 5000),
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
    } catch (err) {
      const cause = (err as Error).name === 'TimeoutError' ? `no answer within ${this.s.timeoutMs ?? 5000} ms` : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      throw new SecretError(`${what}: Vault at ${this.base} is unreachable (${cause}); check \`vault.url\` and that Vault is up`);
    }
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    return { status: res.status, body };
  }

  /** A token: the token file's, or one AppRole gives (logged in again before it expires). */
  private async currentToken(what: string, fresh = false): Promise<string> {
    const now = this.clock.now();
    if (!fresh && this.token && this.token.expiresAt > now) return this.token.value;
    if (this.s.tokenFile) {
      const value = readSecretFileChecked('vault token', this.s.tokenFile);
      registerSecretValues([value]);
      this.token = { value, expiresAt: now + 60_000 };
      return value;
    }
    if (!this.s.appRole) throw new SecretError(`${what}: \`vault\` needs \`tokenFile\` or \`appRole\` to authenticate`);
    const secretId = readSecretFileChecked('vault AppRole secret id', this.s.appRole.secretIdFile);
    registerSecretValues([secretId]);
    const r = await this.request(`/v1/auth/${this.s.appRole.mount ?? 'approle'}/login`, { method: 'POST', body: { role_id: this.s.appRole.roleId, secret_id: secretId } }, what);
    const auth = r.body.auth as { client_token?: string; lease_duration?: number } | undefined;
    if (r.status !== 200 || !auth?.client_token) throw new SecretError(`${what}: Vault refused the AppRole login (HTTP ${r.status}); check \`vault.appRole.roleId\` and the secret id file`);
    registerSecretValues([auth.client_token]);
    // Renewed by logging in again at 80% of its lease.
    this.token = { value: auth.client_token, expiresAt: now + Math.max(5, (auth.lease_duration ?? 300) * 0.8) * 1000 };
    return auth.client_token;
  }

  /** One key of a KV v2 secret. */
  async read(name: string, path: string, key: string): Promise<string> {
    const what = `secret ${q(name)} (Vault ${path})`;
    const url = `/v1/${encodeURIComponent(this.s.mount ?? 'secret')}/data/${path.split('/').map(encodeURIComponent).join('/')}`;
    let r = await this.request(url, { method: 'GET', token: await this.currentToken(what) }, what);
    // An expired or revoked token: once more with a fresh one.
    if (r.status === 403) r = await this.request(url, { method: 'GET', token: await this.currentToken(what, true) }, what);
    if (r.status === 403) throw new SecretError(`${what}: Vault refused the token (HTTP 403): give it a policy that may read ${path}`);
    if (r.status === 404) throw new SecretError(`${what}: Vault has no secret at ${path}`);
    if (r.status !== 200) throw new SecretError(`${what}: Vault answered HTTP ${r.status}`);
    const data = (r.body.data as { data?: Record<string, unknown> } | undefined)?.data;
    const value = data?.[key];
    if (typeof value !== 'string' || value === '') throw new SecretError(`${what}: the secret has no key ${q(key)} (keys: ${Object.keys(data ?? {}).join(', ') || 'none'})`);
    return value;
  }
}
