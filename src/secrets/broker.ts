// Named secrets, read from where the operator keeps them (an environment variable, a file, a
// Vault/OpenBao KV v2 path), cached for a while and refreshed. The broker is the only code that
// holds a secret's value: callers ask for it by name when they must use it (to authenticate to an
// upstream), and every value read is registered for redaction at once, so it is replaced wherever
// it would appear (logs, audit, answers, errors). Errors name the secret and the source, never
// the value or the credential used to read it.

import { MandateError, q } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { registerSecretValues } from '../audit/redact.js';
import { readSecretFileChecked, SecretError } from './file.js';
import { VaultClient, type VaultSettings } from './vault.js';

export { readSecretFileChecked, SecretError } from './file.js';

/** Exactly one of `env`, `file`, `vault` (the config schema checks it). */
export interface SecretSource {
  env?: string | undefined;
  file?: string | undefined;
  vault?: { path: string; key: string } | undefined;
  ttl?: number | undefined;
}

export interface SecretBrokerOptions {
  secrets: Record<string, SecretSource>;
  vault?: VaultSettings | undefined;
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  /** Seconds a value is kept before it is read again (default 300; per secret `ttl`). */
  defaultTtl?: number;
}

interface Cached {
  value: string;
  expiresAt: number;
  refreshing?: Promise<string> | undefined;
}

/** What a source is, for messages (never the value). */
export function describeSource(s: SecretSource): string {
  if (s.env !== undefined) return `environment variable ${s.env}`;
  if (s.file !== undefined) return `file ${s.file}`;
  return `Vault path ${s.vault?.path} (key ${s.vault?.key})`;
}

export class SecretBroker {
  private readonly cache = new Map<string, Cached>();
  private readonly vault: VaultClient | null;
  private readonly env: NodeJS.ProcessEnv;
  /** Reads made per secret (for tests and metrics: a cached value is not read again). */
  readonly reads = new Map<string, number>();

  constructor(private readonly opts: SecretBrokerOptions) {
    this.env = opts.env ?? process.env;
    this.vault = opts.vault ? new VaultClient(opts.vault, opts.clock) : null;
    for (const [name, s] of Object.entries(opts.secrets)) {
      if (s.vault && !this.vault) throw new MandateError('config_invalid', `secret ${q(name)} is read from Vault, but \`vault\` is not configured: add \`vault: { url, tokenFile }\` (or appRole)`);
    }
  }

  names(): string[] {
    return Object.keys(this.opts.secrets);
  }

  has(name: string): boolean {
    return name in this.opts.secrets;
  }

  /**
   * The value of secret `name`: cached until its TTL runs out, then read again (a failed refresh
   * keeps nothing: the caller gets the error, and no stale credential is used past its time).
   */
  async get(name: string): Promise<string> {
    const source = this.opts.secrets[name];
    if (!source) throw new SecretError(`secret ${q(name)} is not configured: declare it under \`secrets\` in mandate.yaml`);
    const now = this.opts.clock.now();
    const hit = this.cache.get(name);
    if (hit && hit.expiresAt > now) return hit.value;
    if (hit?.refreshing) return hit.refreshing;
    const read = this.read(name, source).then(
      (value) => {
        registerSecretValues([value]);
        this.cache.set(name, { value, expiresAt: this.opts.clock.now() + (source.ttl ?? this.opts.defaultTtl ?? 300) * 1000 });
        return value;
      },
      (err: unknown) => {
        this.cache.delete(name);
        throw err;
      },
    );
    this.cache.set(name, { value: hit?.value ?? '', expiresAt: 0, refreshing: read });
    return read;
  }

  /** Reads every secret once (at start: a missing one is a clear error before anything is served). */
  async preload(): Promise<void> {
    for (const name of this.names()) await this.get(name);
  }

  /** Forgets cached values (after a rotation, say): the next use reads again. */
  invalidate(name?: string): void {
    if (name) this.cache.delete(name);
    else this.cache.clear();
  }

  private async read(name: string, s: SecretSource): Promise<string> {
    this.reads.set(name, (this.reads.get(name) ?? 0) + 1);
    if (s.env !== undefined) {
      const v = this.env[s.env];
      if (v === undefined || v === '') throw new SecretError(`secret ${q(name)}: environment variable ${s.env} is not set: export it before starting Mandate`);
      return v;
    }
    if (s.file !== undefined) return readSecretFileChecked(name, s.file);
    if (s.vault && this.vault) return this.vault.read(name, s.vault.path, s.vault.key);
    throw new SecretError(`secret ${q(name)} has no source: give it \`env\`, \`file\` or \`vault\``);
  }
}

