// People: approvers and operators with their own credentials. `mandate user create` issues a
// personal token (shown once, stored as a SHA-256 hash) for the management API and CLI. Roles are
// free-form names that approval policies and config refer to (`@approval("role:finance")`).

import type { AuditLog } from '../audit/audit-log.js';
import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { newId, newSecret } from '../core/ids.js';
import type { User, UserStore } from '../storage/types.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export interface NewUser {
  name: string;
  email: string;
  roles?: string[];
}

/** A user as shown by the API and CLI (never the token hash). */
export function publicUser(u: User): Omit<User, 'tokenHash'> {
  const { tokenHash: _h, ...rest } = u;
  return rest;
}

export class UserService {
  constructor(
    private readonly store: UserStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly onChange: () => void = () => undefined,
  ) {}

  async create(input: NewUser, actor: string): Promise<{ user: User; token: string }> {
    const email = input.email.trim().toLowerCase();
    if (!EMAIL.test(email)) throw new MandateError('invalid_request', `email ${q(input.email)} is not an email address`);
    const name = input.name.trim();
    if (!name || name.length > 200) throw new MandateError('invalid_request', '`name` is required (at most 200 characters)');
    const roles = [...new Set(input.roles ?? [])];
    for (const r of roles) if (!ROLE.test(r)) throw new MandateError('invalid_request', `role ${q(r)} is invalid: letters, digits, \`_\`, \`.\`, \`-\``);
    const token = newSecret('mdt_user');
    const now = this.clock.now();
    const user: User = { id: newId('usr', now), name, email, roles, status: 'active', tokenHash: sha256Hex(token), createdAt: now, updatedAt: now };
    try {
      await this.store.insertUser(user);
    } catch (err) {
      if ((err as MandateError).code === 'conflict') throw new MandateError('conflict', `a user with email ${q(email)} already exists`);
      throw err;
    }
    await this.audit.record({ type: 'user.create', actor, outcome: 'success', data: { user: user.id, email, roles } });
    return { user, token };
  }

  list(): Promise<User[]> {
    return this.store.listUsers();
  }

  async get(idOrEmail: string): Promise<User> {
    const u = await this.store.getUser(idOrEmail.trim().toLowerCase().startsWith('usr_') ? idOrEmail.trim() : idOrEmail.trim().toLowerCase());
    if (!u) throw new MandateError('not_found', `user ${q(idOrEmail)} not found`);
    return u;
  }

  async setStatus(idOrEmail: string, status: User['status'], actor: string): Promise<User> {
    const u = await this.get(idOrEmail);
    const next = await this.store.updateUser(u.id, { status }, this.clock.now());
    this.onChange();
    await this.audit.record({ type: status === 'active' ? 'user.enable' : 'user.disable', actor, outcome: 'success', data: { user: u.id, email: u.email } });
    return next;
  }

  /** Replaces a user's token (the old one stops working at once). */
  async rotateToken(idOrEmail: string, actor: string): Promise<{ user: User; token: string }> {
    const u = await this.get(idOrEmail);
    const token = newSecret('mdt_user');
    const user = await this.store.updateUser(u.id, { tokenHash: sha256Hex(token) }, this.clock.now());
    this.onChange();
    await this.audit.record({ type: 'user.token', actor, outcome: 'success', data: { user: u.id, email: u.email } });
    return { user, token };
  }
}
