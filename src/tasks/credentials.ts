// Task credentials: JWT access tokens (RFC 9068 `at+jwt`) signed with Mandate's key, bound to
// one task. Verification is cached per token; every use re-checks expiry and the revocation set.

import { errors as joseErrors, jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { Clock } from '../core/clock.js';
import { StorageUnavailableError } from '../storage/errors.js';
import { MandateError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { Lru } from '../core/lru.js';
import type { SigningKeys } from '../identity/signing-keys.js';
import { decodeHeader, JwsError, keyObjectOf, verifyCompact } from '../identity/jws.js';
import type { KeyObject } from 'node:crypto';
import type { Agent, ChainLink, Task } from '../storage/types.js';
import type { RevocationList } from './revocation.js';
import { scopeToDetails } from './scope.js';

export interface TaskClaims extends JWTPayload {
  iss: string;
  /** The party the credential acts for: the agent itself, or for a delegated task the agent that started the root task (RFC 8693 §4.1). */
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  /** The agent that holds and uses the credential (always the task's own agent). */
  client_id: string;
  task_id: string;
  /** The task's scope version when issued (amendments bump it; older credentials are refused). */
  sv?: number;
  scope: string;
  authorization_details: Array<Record<string, unknown>>;
  /** Key binding (RFC 9449 §6): the thumbprint of the key every use must prove. */
  cnf?: { jkt: string };
  /** Delegation (RFC 8693 §4.1): `act.sub` is the current actor (this agent), nested `act`s the earlier actors. */
  act?: ActClaim;
  break_glass?: boolean;
  /** For a delegated task: the task at the root of its chain (the one `sub` started). */
  root_task_id?: string;
}

export interface ActClaim {
  sub: string;
  task_id?: string;
  act?: ActClaim;
}

export interface IssueOptions {
  jkt?: string | undefined;
  /**
   * The person an OAuth client acts for (`user:<email>`): the credential's `sub` is that person
   * and `act.sub` the client's identity (RFC 8693 §4.1), so every use shows both.
   */
  actingFor?: string | undefined;
}

/** The agent that holds a credential (whatever party it acts for). */
export function holderOf(claims: TaskClaims): string {
  return claims.client_id;
}

/**
 * RFC 8693 §4.1 from a task's chain (its own agent first, the root task's agent last): `sub` is
 * the party it acts for (the root), `act` the current actor with earlier actors nested inside.
 */
export function delegationClaims(chain: ChainLink[] | undefined, agentId: string): { sub: string; act?: ActClaim } {
  if (!chain || chain.length < 2) return { sub: agentId };
  const nest = (i: number): ActClaim | undefined => (i >= chain.length - 1 ? undefined : { sub: chain[i]!.agent, task_id: chain[i]!.task, ...(i + 1 < chain.length - 1 ? { act: nest(i + 1)! } : {}) });
  return { sub: chain[chain.length - 1]!.agent, act: nest(0)! };
}

export interface IssuedCredential {
  token: string;
  jti: string;
  expiresAt: number;
}

export class CredentialService {
  private readonly verified = new Lru<string, TaskClaims>(50_000);
  /** Mandate's public keys as node:crypto KeyObjects, by kid (keys rotate rarely; entries are tiny). */
  private readonly keyObjects = new Map<string, KeyObject>();

  constructor(
    private readonly keys: SigningKeys,
    private readonly revocations: RevocationList,
    private readonly clock: Clock,
    private readonly issuerOf: () => string,
  ) {}

  get issuer(): string {
    return this.issuerOf();
  }

  async issue(task: Task, agent: Agent, audience: string, o: IssueOptions = {}): Promise<IssuedCredential> {
    const key = this.keys.current;
    const jti = newId('cred', this.clock.now());
    const iat = Math.floor(this.clock.now() / 1000);
    const exp = Math.floor(task.expiresAt / 1000);
    const header: JWTHeaderParameters = { alg: key.alg, kid: key.kid, typ: 'at+jwt' };
    // The chain belongs to the task: every credential of a delegated task carries all of it.
    const { sub, act } = o.actingFor && !(task.chain && task.chain.length > 1) ? { sub: o.actingFor, act: { sub: agent.id, task_id: task.id } as ActClaim } : delegationClaims(task.chain, agent.id);
    const token = await new SignJWT({
      client_id: agent.id,
      task_id: task.id,
      scope: 'mandate:task',
      authorization_details: [scopeToDetails(task.intent, task.scope, exp - iat)],
      ...(task.breakGlass ? { break_glass: true } : {}),
      ...(task.scopeVersion ? { sv: task.scopeVersion } : {}),
      ...(o.jkt ? { cnf: { jkt: o.jkt } } : {}),
      ...(act ? { act, ...(task.chain && task.chain.length > 1 ? { root_task_id: task.chain[task.chain.length - 1]!.task } : {}) } : {}),
    })
      .setProtectedHeader(header)
      .setIssuer(this.issuer)
      .setSubject(sub)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key.privateKey);
    return { token, jti, expiresAt: exp * 1000 };
  }

  /**
   * Verifies a task credential for `audience`: signature, issuer, type, expiry and revocation.
   * Throws `invalid_token` with the reason.
   */
  async verify(token: string, audience: string): Promise<TaskClaims> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 16_384) throw new MandateError('invalid_token', 'credential is missing or malformed');
    let claims = this.verified.get(token);
    if (!claims) {
      // Cold path through node:crypto with the key as a ready KeyObject (see identity/jws.ts).
      let payload: Record<string, unknown>;
      try {
        const decoded = decodeHeader(token);
        const kid = decoded.header.kid;
        const k = typeof kid === 'string' ? this.keys.byKid(kid) : undefined;
        if (!k) throw new MandateError('invalid_token', 'credential was signed by an unknown key');
        if (decoded.header.typ !== 'at+jwt') throw new MandateError('invalid_token', 'credential claim `typ` is invalid: a task credential is an `at+jwt`');
        let key = this.keyObjects.get(k.kid);
        if (!key) this.keyObjects.set(k.kid, (key = keyObjectOf(k.publicKey)));
        ({ payload } = verifyCompact(token, key, 'ES256', decoded));
      } catch (err) {
        if (err instanceof MandateError) throw err;
        if (err instanceof JwsError) throw new MandateError('invalid_token', err.kind === 'signature' ? 'credential signature is invalid' : err.kind === 'algorithm' ? 'credential algorithm is not accepted' : 'credential is malformed or not issued by this Mandate', { cause: err });
        throw new MandateError('invalid_token', 'credential is malformed or not issued by this Mandate', { cause: err });
      }
      if (payload.iss !== this.issuer) throw new MandateError('invalid_token', 'credential claim `iss` is invalid');
      for (const c of ['exp', 'iat'] as const) if (typeof payload[c] !== 'number' || !Number.isFinite(payload[c])) throw new MandateError('invalid_token', `credential claim \`${c}\` is invalid`);
      for (const c of ['jti', 'sub'] as const) if (typeof payload[c] !== 'string') throw new MandateError('invalid_token', `credential claim \`${c}\` is invalid`);
      if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf * 1000 > this.clock.now())) throw new MandateError('invalid_token', 'credential claim `nbf` is invalid');
      if ((payload.exp as number) * 1000 <= this.clock.now()) throw new MandateError('invalid_token', 'credential has expired: the task is over; start a new task');
      if (typeof payload.task_id !== 'string' || typeof payload.client_id !== 'string') throw new MandateError('invalid_token', 'credential is not a task credential');
      claims = payload as TaskClaims;
      this.verified.set(token, claims);
    }
    // Per use, whether cached or not: audience, expiry and revocation.
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(audience)) throw new MandateError('invalid_token', `credential audience is not this endpoint (expected \`${audience}\`)`);
    if (claims.exp * 1000 <= this.clock.now()) {
      this.verified.delete(token);
      throw new MandateError('invalid_token', 'credential has expired: the task is over; start a new task');
    }
    // A replica that may have missed another replica's revocation refuses rather than guess.
    if (this.revocations.untrusted) throw new StorageUnavailableError(`cannot check this credential now: ${this.revocations.untrusted}; retry shortly`);
    const ended = this.endedBecause(claims);
    if (ended) throw new MandateError('invalid_token', ended);
    return claims;
  }

  /**
   * Why a credential's task is over in this process, or null: its own task, or (for a delegated
   * one) any task above it, revoked, even before the cascade reaches the store.
   */
  endedBecause(claims: TaskClaims): string | null {
    const stopped = this.revocations.agentStopped(claims.client_id);
    if (stopped) return `credential's agent is stopped (${stopped}); nothing it holds is honoured`;
    const own = this.revocations.get(claims.task_id);
    if (own) return `credential's task \`${claims.task_id}\` has ended (${own.reason}); start a new task`;
    if (!claims.act) return null;
    const above: string[] = [];
    for (let a: ActClaim | undefined = claims.act.act, i = 0; a && i < 16; a = a.act, i++) if (a.task_id) above.push(a.task_id);
    if (claims.root_task_id) above.push(claims.root_task_id);
    const gone = above.find((t) => this.revocations.has(t));
    return gone ? `credential's task was delegated from task \`${gone}\`, which has ended; start a new task` : null;
  }

  /** Claims without audience or liveness checks (for introspection and revocation by the holder). */
  async inspect(token: string): Promise<TaskClaims | null> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const k = this.keys.byKid(header.kid);
          if (!k) throw new Error('unknown key');
          return k.publicKey;
        },
        { algorithms: ['ES256'], issuer: this.issuer, typ: 'at+jwt', currentDate: new Date(this.clock.now()), clockTolerance: 315_360_000 },
      );
      return typeof payload.task_id === 'string' && typeof payload.client_id === 'string' ? (payload as TaskClaims) : null;
    } catch {
      return null;
    }
  }
}

function explain(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'credential has expired: the task is over; start a new task';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'credential signature is invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'credential algorithm is not accepted';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `credential claim \`${err.claim}\` is invalid`;
  return 'credential is malformed or not issued by this Mandate';
}
