// Signing in on the consent page through the company's OpenID Connect provider (`auth.oidc`):
// authorization code with PKCE and a nonce, the ID token verified with jose against the
// provider's published keys (issuer, audience, expiry, nonce), its email claim (verified) matched
// to an existing, active Mandate user. Nobody gets in by having an account at the provider alone:
// an administrator creates the user first. The in-flight state (state, nonce, PKCE verifier, and
// the MCP client's authorization request to return to) travels in a signed, short-lived cookie.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { z } from 'zod';
import type { oidcLoginSchema } from '../config/schema.js';
import { MandateError, q } from '../core/errors.js';
import { redactText } from '../audit/redact.js';

export type OidcConfig = z.infer<typeof oidcLoginSchema>;
export const OIDC_COOKIE = 'mandate_oidc';
const FLIGHT_MS = 10 * 60_000;

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

interface Flight {
  state: string;
  nonce: string;
  verifier: string;
  /** The MCP client's authorization request, to go back to. */
  params: Record<string, string>;
  exp: number;
}

export class OidcLogin {
  private discovery: Promise<Discovery> | null = null;
  private jwks: JWTVerifyGetKey | null = null;

  constructor(
    private readonly cfg: OidcConfig,
    private readonly clientSecret: () => Promise<string>,
    private readonly key: Buffer,
    private readonly callbackUrl: () => string,
    private readonly secure: boolean,
    private readonly now: () => number,
  ) {}

  get name(): string {
    return this.cfg.name;
  }

  /** The provider's origin (the login page's form may end there). */
  get origin(): string {
    return new URL(this.cfg.issuer).origin;
  }

  private async meta(): Promise<Discovery> {
    this.discovery ??= (async () => {
      const url = `${this.cfg.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      const r = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) }).catch((err) => {
        throw new MandateError('upstream_unavailable', `the sign-in provider ${q(this.cfg.issuer)} could not be reached (${(err as Error).cause ? String(((err as Error).cause as { code?: string }).code ?? '') : (err as Error).message})`);
      });
      if (!r.ok) throw new MandateError('upstream_unavailable', `the sign-in provider's discovery document ${q(url)} answered ${r.status}`);
      const d = (await r.json()) as Partial<Discovery>;
      if (d.issuer !== this.cfg.issuer) throw new MandateError('config_invalid', `the sign-in provider says its issuer is ${q(d.issuer)}, not ${q(this.cfg.issuer)} (auth.oidc.issuer must match exactly)`);
      for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) if (typeof d[k] !== 'string') throw new MandateError('upstream_unavailable', `the sign-in provider's discovery document has no ${k}`);
      this.jwks = createRemoteJWKSet(new URL(d.jwks_uri!));
      return d as Discovery;
    })();
    try {
      return await this.discovery;
    } catch (err) {
      this.discovery = null;
      throw err;
    }
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  /** Where to send the browser, and the cookie that remembers this sign-in. */
  async start(params: Record<string, string>): Promise<{ location: string; setCookie: string }> {
    const d = await this.meta();
    const flight: Flight = { state: randomBytes(16).toString('base64url'), nonce: randomBytes(16).toString('base64url'), verifier: randomBytes(32).toString('base64url'), params, exp: this.now() + FLIGHT_MS };
    const body = Buffer.from(JSON.stringify(flight)).toString('base64url');
    const u = new URL(d.authorization_endpoint);
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('client_id', this.cfg.clientId);
    u.searchParams.set('redirect_uri', this.callbackUrl());
    u.searchParams.set('scope', this.cfg.scopes);
    u.searchParams.set('state', flight.state);
    u.searchParams.set('nonce', flight.nonce);
    u.searchParams.set('code_challenge', createHash('sha256').update(flight.verifier).digest('base64url'));
    u.searchParams.set('code_challenge_method', 'S256');
    return { location: u.toString(), setCookie: `${OIDC_COOKIE}=${body}.${this.mac(`oidc|${body}`)}; Path=/authorize; HttpOnly; SameSite=Lax; Max-Age=${FLIGHT_MS / 1000}${this.secure ? '; Secure' : ''}` };
  }

  clearCookie(): string {
    return `${OIDC_COOKIE}=; Path=/authorize; HttpOnly; SameSite=Lax; Max-Age=0${this.secure ? '; Secure' : ''}`;
  }

  /** The provider sent the browser back: the email of who signed in, and the request to return to. */
  async finish(headers: IncomingHttpHeaders, query: Record<string, string | undefined>): Promise<{ email: string; params: Record<string, string> }> {
    const flight = this.readFlight(headers);
    if (!flight) throw new MandateError('invalid_request', 'this sign-in did not start here or took too long (over 10 minutes): start again from the application');
    if (!query.state || query.state.length !== flight.state.length || !timingSafeEqual(Buffer.from(query.state), Buffer.from(flight.state))) throw new MandateError('invalid_request', 'the sign-in answer does not belong to this browser (state mismatch): start again');
    if (query.error) throw new MandateError('access_denied', `the sign-in provider refused: ${redactText(query.error)}${query.error_description ? ` (${redactText(query.error_description).slice(0, 200)})` : ''}`);
    if (!query.code) throw new MandateError('invalid_request', 'the sign-in provider sent no code');
    const d = await this.meta();
    const secret = await this.clientSecret();
    const basic = Buffer.from(`${encodeURIComponent(this.cfg.clientId)}:${encodeURIComponent(secret)}`).toString('base64');
    const r = await fetch(d.token_endpoint, {
      method: 'POST',
      redirect: 'error',
      signal: AbortSignal.timeout(10_000),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}`, accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: query.code, redirect_uri: this.callbackUrl(), code_verifier: flight.verifier }),
    }).catch((err) => {
      throw new MandateError('upstream_unavailable', `the sign-in provider's token endpoint could not be reached (${(err as Error).message})`);
    });
    const body = (await r.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown; error_description?: unknown };
    if (!r.ok || typeof body.id_token !== 'string') throw new MandateError('access_denied', `the sign-in provider did not give an ID token (${r.status}${typeof body.error === 'string' ? `: ${redactText(body.error)}` : ''})`);
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(body.id_token, this.jwks!, { issuer: this.cfg.issuer, audience: this.cfg.clientId, currentDate: new Date(this.now()), clockTolerance: 60 }));
    } catch (err) {
      throw new MandateError('access_denied', `the ID token from the sign-in provider does not verify: ${(err as Error).message}`);
    }
    if (claims.nonce !== flight.nonce) throw new MandateError('access_denied', 'the ID token was not made for this sign-in (nonce mismatch): start again');
    const email = claims[this.cfg.emailClaim];
    if (typeof email !== 'string' || !email.includes('@')) throw new MandateError('access_denied', `the ID token has no ${q(this.cfg.emailClaim)} claim with an email address (auth.oidc.emailClaim)`);
    if (this.cfg.requireVerifiedEmail && claims.email_verified !== true) throw new MandateError('access_denied', `the sign-in provider does not say ${email} is verified (email_verified); auth.oidc.requireVerifiedEmail is on`);
    return { email: email.toLowerCase(), params: flight.params };
  }

  private readFlight(headers: IncomingHttpHeaders): Flight | null {
    const raw = (headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${OIDC_COOKIE}=`))
      ?.slice(OIDC_COOKIE.length + 1);
    if (!raw) return null;
    const [body, sig] = raw.split('.');
    if (!body || !sig) return null;
    const want = this.mac(`oidc|${body}`);
    if (sig.length !== want.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(want))) return null;
    try {
      const f = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Flight;
      return f.exp > this.now() ? f : null;
    } catch {
      return null;
    }
  }
}
