// Who is at the consent page: a person logs in with their personal token once, and gets a signed,
// HttpOnly, SameSite=Lax cookie naming them (never the token) for `oauth.sessionTtl`. Forms carry
// a CSRF token derived from the session (or, before login, from a login nonce cookie), so another
// site cannot make a logged-in browser approve a task. The key is derived from Mandate's signing
// key, so every replica accepts every other's cookies.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const SESSION_COOKIE = 'mandate_consent';
export const LOGIN_COOKIE = 'mandate_login';

export interface ConsentSession {
  /** The user's id. */
  user: string;
  /** Session id (CSRF tokens derive from it). */
  sid: string;
  exp: number;
}

export interface SessionCookie {
  /** Cookie name (default `mandate_consent`). */
  name: string;
  path: string;
  sameSite: 'Lax' | 'Strict';
}

export class ConsentSessions {
  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
    private readonly secure: boolean,
    private readonly cookieOpts: SessionCookie = { name: SESSION_COOKIE, path: '/authorize', sameSite: 'Lax' },
  ) {}

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  private static equal(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }

  private cookie(name: string, value: string, maxAgeS: number): string {
    return `${name}=${value}; Path=${this.cookieOpts.path}; HttpOnly; SameSite=${this.cookieOpts.sameSite}; Max-Age=${maxAgeS}${this.secure ? '; Secure' : ''}`;
  }

  /** A new session for `user`: the Set-Cookie value. */
  open(user: string, now: number): string {
    const body = Buffer.from(JSON.stringify({ user, sid: randomBytes(16).toString('base64url'), exp: now + this.ttlMs } satisfies ConsentSession)).toString('base64url');
    return this.cookie(this.cookieOpts.name, `${body}.${this.mac(`session|${body}`)}`, Math.floor(this.ttlMs / 1000));
  }

  /** The same session for another `ttl` from now (an idle timeout: every use extends it). */
  extend(s: ConsentSession, now: number): string {
    const body = Buffer.from(JSON.stringify({ ...s, exp: now + this.ttlMs })).toString('base64url');
    return this.cookie(this.cookieOpts.name, `${body}.${this.mac(`session|${body}`)}`, Math.floor(this.ttlMs / 1000));
  }

  clear(): string {
    return this.cookie(this.cookieOpts.name, '', 0);
  }

  /** The session the request carries, if it is genuine and current. */
  read(headers: IncomingHttpHeaders, now: number): ConsentSession | null {
    const raw = cookies(headers)[this.cookieOpts.name];
    if (!raw) return null;
    const [body, sig] = raw.split('.');
    if (!body || !sig || !ConsentSessions.equal(sig, this.mac(`session|${body}`))) return null;
    try {
      const s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ConsentSession;
      return typeof s.user === 'string' && typeof s.sid === 'string' && typeof s.exp === 'number' && s.exp > now ? s : null;
    } catch {
      return null;
    }
  }

  /** The CSRF token of forms shown in a session. */
  csrf(session: ConsentSession): string {
    return this.mac(`csrf|${session.sid}`);
  }

  checkCsrf(session: ConsentSession, token: unknown): boolean {
    return typeof token === 'string' && ConsentSessions.equal(token, this.csrf(session));
  }

  private get loginCookie(): string {
    return this.cookieOpts.name === SESSION_COOKIE ? LOGIN_COOKIE : `${this.cookieOpts.name}_login`;
  }

  /** Before login: a nonce cookie and the form token bound to it (login CSRF). */
  loginNonce(headers: IncomingHttpHeaders): { nonce: string; setCookie: string | null } {
    const have = cookies(headers)[this.loginCookie];
    if (have && /^[A-Za-z0-9_-]{22}$/.test(have)) return { nonce: have, setCookie: null };
    const nonce = randomBytes(16).toString('base64url');
    return { nonce, setCookie: this.cookie(this.loginCookie, nonce, 3600) };
  }

  loginToken(nonce: string): string {
    return this.mac(`login|${nonce}`);
  }

  checkLogin(headers: IncomingHttpHeaders, token: unknown): boolean {
    const nonce = cookies(headers)[this.loginCookie];
    return typeof token === 'string' && typeof nonce === 'string' && ConsentSessions.equal(token, this.loginToken(nonce));
  }
}

function cookies(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
