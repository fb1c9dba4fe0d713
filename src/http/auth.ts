// Authentication of humans and automation on the management and PDP APIs (admin or PEP tokens).
// Agent credentials are never accepted here.

import type { FastifyRequest } from 'fastify';
import { MandateError } from '../core/errors.js';
import type { Caller } from '../identity/api-tokens.js';
import type { Mandate } from '../mandate.js';

export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) throw new MandateError('unauthorized', 'malformed Authorization header: expected `Bearer <token>`');
  return m[1]!;
}

export async function requireCaller(m: Mandate, req: FastifyRequest, roles: Array<Caller['role']>): Promise<Caller> {
  const token = bearerToken(req);
  if (!token) throw new MandateError('unauthorized', 'authentication required: send `Authorization: Bearer <token>` (the admin token is in <data-dir>/admin-token)');
  const caller = await m.apiTokens.authenticate(token);
  if (!caller) {
    if (token.split('.').length === 3) throw new MandateError('unauthorized', 'agent credentials are not accepted on this endpoint: use an admin, PEP or personal user token');
    throw new MandateError('unauthorized', 'invalid or revoked token');
  }
  if (!roles.includes(caller.role)) {
    const hint = caller.role === 'user' ? ' (personal user tokens approve and read approvals; the admin token manages Mandate)' : '';
    throw new MandateError('forbidden', `this endpoint needs a ${roles.join(' or ')} token${hint}`);
  }
  return caller;
}

export const requireAdmin = (m: Mandate, req: FastifyRequest) => requireCaller(m, req, ['admin']);
