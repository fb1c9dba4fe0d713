// Credentials of humans and automation (never of agents): the bootstrap admin token and named
// PEP tokens for enforcement points calling the PDP and introspection. Stored as SHA-256 hashes.

import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { newId, newSecret } from '../core/ids.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { ApiToken, ApiTokenRole, ApiTokenStore, User, UserStore } from '../storage/types.js';

export interface Caller {
  role: ApiTokenRole | 'user';
  /** How the caller appears in audit: `admin`, `token:<name>` or `user:<email>`. */
  name: string;
  /** The person, for personal (user) tokens. */
  user?: User;
}

const TOKEN_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export class ApiTokenService {
  private readonly cache = new Map<string, Caller | null>();

  constructor(
    private readonly store: ApiTokenStore & Pick<UserStore, 'findUserByTokenHash'>,
    private readonly adminHash: string,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  async authenticate(token: string): Promise<Caller | null> {
    if (!token || token.length > 512) return null;
    const hash = sha256Hex(token);
    if (hash === this.adminHash) return { role: 'admin', name: 'admin' };
    if (this.cache.has(hash)) return this.cache.get(hash)!;
    const t = await this.store.findApiTokenByHash(hash);
    let caller: Caller | null = t && t.revokedAt === null ? { role: t.role, name: `token:${t.name}` } : null;
    if (!t) {
      const u = await this.store.findUserByTokenHash(hash);
      if (u && u.status === 'active') caller = { role: 'user', name: `user:${u.email}`, user: u };
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, caller);
    return caller;
  }

  /** Creates a token; the secret is returned once and never stored. */
  async create(name: string, role: ApiTokenRole, actor: string): Promise<{ token: string; record: ApiToken }> {
    if (!TOKEN_NAME.test(name)) throw new MandateError('invalid_request', `token name ${q(name)} is invalid: use lower-case letters, digits, \`.\`, \`_\`, \`-\``);
    const token = newSecret(role === 'admin' ? 'mdt_admin' : 'mdt_pep');
    const record: ApiToken = { id: newId('tok', this.clock.now()), name, role, tokenHash: sha256Hex(token), createdAt: this.clock.now(), revokedAt: null };
    try {
      await this.store.insertApiToken(record);
    } catch (err) {
      if ((err as MandateError).code === 'conflict') throw new MandateError('conflict', `token ${q(name)} already exists`);
      throw err;
    }
    await this.audit.record({ type: 'token.create', actor, outcome: 'success', data: { name, role, id: record.id } });
    return { token, record };
  }

  /** Forget cached callers (a user was disabled or rotated their token). */
  invalidate(): void {
    this.cache.clear();
  }

  list(): Promise<ApiToken[]> {
    return this.store.listApiTokens();
  }

  async revoke(idOrName: string, actor: string): Promise<ApiToken> {
    const t = await this.store.revokeApiToken(idOrName, this.clock.now());
    this.cache.clear();
    await this.audit.record({ type: 'token.revoke', actor, outcome: 'success', data: { name: t.name, id: t.id } });
    return t;
  }
}
