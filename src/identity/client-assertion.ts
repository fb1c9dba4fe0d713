// private_key_jwt (RFC 7523 §2.2, RFC 7521): an agent proves who it is with a short-lived JWT
// signed by a key registered for it. Only asymmetric algorithms, our token endpoint (or issuer)
// as audience, a short lifetime, and a `jti` that is accepted once.

import { decodeJwt, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Clock } from '../core/clock.js';
import { MandateError, q } from '../core/errors.js';
import type { Agent, AgentStore, ReplayStore } from '../storage/types.js';
import { algForJwk } from './jwk.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * A delegation ticket: what a child agent gives a parent so the parent can delegate to it. It is
 * signed like a client assertion but is not one: its own `typ` and audience (which the login
 * path refuses), single use, a short life, and the child's DPoP key thumbprint (`cnf.jkt`) signed
 * in by the child, so the credential a parent obtains is bound to the child's key, not one the
 * parent chose.
 */
export const DELEGATION_TICKET_TYP = 'delegation+jwt';

export interface AssertionOptions {
  /** Accepted `aud` values: the token endpoint URL and the issuer URL. */
  audiences: () => string[];
  algorithms: string[];
  /** Longest accepted lifetime (exp - iat), seconds. */
  maxAge: number;
  clockSkew: number;
  /** The audience of delegation tickets (distinct from every login audience). */
  ticketAudience: () => string;
  /** Longest accepted lifetime of a delegation ticket, seconds. */
  ticketMaxAge: number;
  /** Why an agent is stopped in this process (the in-memory kill switch), if it is. */
  stopped?: (agentId: string) => string | undefined;
}

export interface AuthenticatedAgent {
  agent: Agent;
  jti: string;
  kid: string | undefined;
  /** For a delegation ticket: the DPoP key thumbprint the child signed in, if any. */
  jkt?: string | undefined;
}

/** What is being verified: a client assertion at login, or a delegation ticket in a token exchange. */
export type AssertionUse = 'login' | 'delegation';

/** An authentication failure: the message names the problem; `agentId` is set when known (for audit). */
export class ClientAuthError extends MandateError {
  constructor(
    message: string,
    readonly agentId: string | null,
  ) {
    super('invalid_client', message);
  }
}

export class ClientAssertionVerifier {
  constructor(
    private readonly agents: Pick<AgentStore, 'getAgent'>,
    private readonly replay: ReplayStore,
    private readonly clock: Clock,
    private readonly opts: AssertionOptions,
  ) {}

  async verify(assertion: string, clientId?: string, use: AssertionUse = 'login'): Promise<AuthenticatedAgent> {
    const what = use === 'login' ? 'client assertion' : 'delegation ticket';
    const param = use === 'login' ? '`client_assertion`' : '`actor_token`';
    if (typeof assertion !== 'string' || assertion.length === 0) throw new ClientAuthError(`${param} is required`, null);
    if (assertion.length > 16_384) throw new ClientAuthError(`${param} is too large`, null);
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch {
      throw new ClientAuthError(`${param} is not a signed JWT (expected header.payload.signature)`, null);
    }
    const isTicket = typeof header.typ === 'string' && header.typ.toLowerCase() === DELEGATION_TICKET_TYP;
    if (use === 'login' && isTicket) {
      throw new ClientAuthError('this is a delegation ticket: it is accepted only as the `actor_token` of one token exchange by the delegating agent, never as a login', typeof claims.iss === 'string' ? claims.iss : null);
    }
    if (use === 'delegation' && !isTicket) {
      throw new ClientAuthError(`\`actor_token\` must be the child's delegation ticket (\`typ: ${DELEGATION_TICKET_TYP}\`, made by MandateAgent.delegationTicket()), not a client assertion`, typeof claims.iss === 'string' ? claims.iss : null);
    }
    const alg = header.alg ?? '';
    if (alg === 'none' || alg === '') throw new ClientAuthError('client assertion `alg` is `none`: unsigned assertions are never accepted', null);
    if (/^HS/.test(alg)) {
      throw new ClientAuthError(`client assertion \`alg\` ${q(alg)} is symmetric: sign with the agent's private key (${this.opts.algorithms.join(', ')})`, null);
    }
    if (!this.opts.algorithms.includes(alg)) {
      throw new ClientAuthError(`client assertion \`alg\` ${q(alg)} is not accepted: use one of ${this.opts.algorithms.join(', ')}`, null);
    }
    const iss = claims.iss;
    if (typeof iss !== 'string' || !iss) throw new ClientAuthError('client assertion has no `iss`: set `iss` and `sub` to the agent id', null);
    if (claims.sub !== iss) throw new ClientAuthError('client assertion `sub` must equal `iss` (both the agent id)', iss);
    if (clientId !== undefined && clientId !== iss) throw new ClientAuthError(`\`client_id\` ${q(clientId)} does not match the assertion's \`iss\` ${q(iss)}`, iss);

    const agent = await this.agents.getAgent(iss);
    if (!agent) throw new ClientAuthError(`unknown agent ${q(iss)}: register it first (mandate agent create)`, null);
    if (agent.status !== 'active') throw new ClientAuthError(`agent ${q(agent.name)} is ${agent.status} and cannot authenticate`, agent.id);
    const stopped = this.opts.stopped?.(agent.id);
    if (stopped) throw new ClientAuthError(`agent ${q(agent.name)} cannot authenticate: ${stopped}`, agent.id);

    const candidates = agent.jwks.keys.filter((k) => (header.kid ? k.kid === header.kid : true) && algForJwk(k) === alg);
    if (candidates.length === 0) {
      const why = header.kid ? `no registered key with \`kid\` ${q(header.kid)} for \`alg\` ${q(alg)}` : `no registered key for \`alg\` ${q(alg)}`;
      throw new ClientAuthError(`agent ${q(agent.name)}: ${why}`, agent.id);
    }

    let payload: JWTPayload | undefined;
    let lastError: unknown;
    for (const jwk of candidates) {
      try {
        const key = await importJWK(jwk as JWK, alg);
        ({ payload } = await jwtVerify(assertion, key, {
          algorithms: [alg],
          issuer: agent.id,
          subject: agent.id,
          audience: use === 'login' ? this.opts.audiences() : this.opts.ticketAudience(),
          currentDate: new Date(this.clock.now()),
          clockTolerance: this.opts.clockSkew,
          requiredClaims: ['exp', 'jti'],
        }));
        break;
      } catch (err) {
        lastError = err;
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) break;
      }
    }
    if (!payload) throw new ClientAuthError(this.explain(lastError, agent, use), agent.id);

    const now = Math.floor(this.clock.now() / 1000);
    const exp = payload.exp!;
    const maxAge = use === 'login' ? this.opts.maxAge : this.opts.ticketMaxAge;
    const issuedAt = typeof payload.iat === 'number' ? payload.iat : now;
    if (exp - issuedAt > maxAge || exp - now > maxAge + this.opts.clockSkew) {
      throw new ClientAuthError(`${what} lives too long: \`exp\` must be at most ${maxAge}s after \`iat\``, agent.id);
    }
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) {
      throw new ClientAuthError(`${what} \`jti\` must be a unique string of 8-256 characters`, agent.id);
    }
    let jkt: string | undefined;
    if (use === 'delegation' && payload.cnf !== undefined) {
      const cnf = payload.cnf as { jkt?: unknown } | null;
      if (!cnf || typeof cnf !== 'object' || typeof cnf.jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(cnf.jkt)) throw new ClientAuthError('delegation ticket `cnf` must be `{ "jkt": <the child\'s DPoP key thumbprint> }`', agent.id);
      jkt = cnf.jkt;
    }
    // One namespace for both uses: a jti spent as one can never be spent as the other.
    const fresh = await this.replay.useOnce(`assertion:${agent.id}:${jti}`, (exp + this.opts.clockSkew) * 1000, this.clock.now());
    if (!fresh) throw new ClientAuthError(`${what} \`jti\` ${q(jti)} was already used: ${use === 'login' ? 'replayed assertions are rejected' : 'a delegation ticket is good for one exchange'}`, agent.id);
    return { agent, jti, kid: header.kid, ...(jkt ? { jkt } : {}) };
  }

  private explain(err: unknown, agent: Agent, use: AssertionUse): string {
    const what = use === 'login' ? 'client assertion' : 'delegation ticket';
    const expected = use === 'login' ? `the token endpoint ${q(this.opts.audiences()[0])}` : `the delegation audience ${q(this.opts.ticketAudience())}`;
    if (err instanceof joseErrors.JWTExpired) return `${what} has expired (\`exp\` is in the past)`;
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      switch (err.claim) {
        case 'aud':
          return `${what} \`aud\` is wrong: expected ${expected}`;
        case 'nbf':
          return `${what} is not yet valid (\`nbf\` is in the future)`;
        case 'iat':
          return `${what} \`iat\` is in the future`;
        case 'exp':
        case 'jti':
          return `${what} has no \`${err.claim}\` claim (required)`;
        default:
          return `${what} claim \`${err.claim}\` is invalid: ${err.message}`;
      }
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return `${what} signature does not verify with the keys registered for agent ${q(agent.name)}`;
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return `${what} algorithm is not accepted`;
    if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return `${what} is malformed: ${(err as Error).message}`;
    return `${what} rejected: ${(err as Error)?.message ?? 'unknown error'}`;
  }
}
