// Agent identifiers: `spiffe://<trust-domain>/agent/<name>`.

import { MandateError, q } from '../core/errors.js';

export const AGENT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function agentIdFor(trustDomain: string, name: string): string {
  if (!AGENT_NAME.test(name)) {
    throw new MandateError('invalid_request', `agent name ${q(name)} is invalid: use 1-63 lower-case letters, digits, \`.\`, \`_\` or \`-\`, starting with a letter or digit`);
  }
  return `spiffe://${trustDomain}/agent/${name}`;
}

/** Accepts a full SPIFFE id or a bare name in this trust domain. */
export function resolveAgentId(trustDomain: string, idOrName: string): string {
  return idOrName.startsWith('spiffe://') ? idOrName : agentIdFor(trustDomain, idOrName);
}
