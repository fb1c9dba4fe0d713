// The credential Mandate adds when it forwards an agent's request to a REST upstream: a static
// secret (bearer, API-key header, basic) or an OAuth 2.0 client-credentials token it fetches and
// caches. The agent never holds any of it, and every value read or issued is registered for
// redaction at once, so an upstream that echoes it back, a log line or an error shows the marker.

import { REDACTED, registerSecretValues, redactText } from '../audit/redact.js';
import type { HttpAuthConfig } from '../config/schema.js';
import { MandateError, q } from '../core/errors.js';

/** Where secret values come from (the `SecretBroker` in production): by name, never from config. */
export interface SecretSource {
  get(name: string): Promise<string>;
}

export interface UpstreamAuthOptions {
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (token expiry); tests move it instead of waiting. */
  now?: () => number;
  /** How long the token endpoint may take, in milliseconds (default 10000). */
  timeoutMs?: number;
}

type OAuth2Config = Extract<HttpAuthConfig, { type: 'oauth2' }>;

/** A token endpoint answer is small; anything larger is not one (and is not read into memory). */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** RFC 6749 §5.1 makes `expires_in` optional; without it the token is kept this long (seconds). */
const DEFAULT_EXPIRES_IN = 300;
/** Header values must not end a header or a request early (response splitting). */
const UNSAFE_IN_HEADER = /[\r\n\0]/;
/** A token goes into `Authorization: Bearer <token>` as is: visible ASCII only (RFC 6750 §2.1 is stricter still). */
const HEADER_TOKEN = /^[\x21-\x7E]+$/;

export class UpstreamAuth {
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  /** The token endpoint as shown in messages: no query or fragment (they may hold credentials). */
  private readonly tokenEndpoint: string | undefined;
  private cached: { value: string; expiresAt: number } | null = null;
  /** One token request at a time: concurrent callers wait for the same answer. */
  private inflight: Promise<string> | null = null;

  constructor(
    private readonly upstream: string,
    private readonly config: HttpAuthConfig | undefined,
    private readonly secrets: SecretSource,
    opts: UpstreamAuthOptions = {},
  ) {
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    if (config?.type === 'basic' && config.username.includes(':')) {
      // RFC 7617 §2: the user-id ends at the first colon; the upstream would read another user.
      throw new MandateError('config_invalid', `upstream ${q(upstream)}: basic auth username must not contain \`:\``);
    }
    if (config?.type === 'oauth2') {
      let u: URL;
      try {
        u = new URL(config.tokenUrl);
      } catch {
        throw new MandateError('config_invalid', `upstream ${q(upstream)}: \`tokenUrl\` is not a URL`);
      }
      if (u.username || u.password) {
        // fetch refuses such a URL, and its error repeats the password; the client secret belongs in `secret`.
        throw new MandateError('config_invalid', `upstream ${q(upstream)}: \`tokenUrl\` must not contain a user or password: name the client secret in \`secret\``);
      }
      u.search = '';
      u.hash = '';
      this.tokenEndpoint = u.href;
    }
  }

  /** Headers to add to the forwarded request (none without `auth`); names are lower-case. */
  async headers(): Promise<Record<string, string>> {
    const c = this.config;
    if (!c) return {};
    switch (c.type) {
      case 'bearer':
        return { authorization: `Bearer ${await this.secret(c.secret)}` };
      case 'header':
        return { [c.name.toLowerCase()]: `${c.prefix ?? ''}${await this.secret(c.secret)}` };
      case 'basic': {
        // RFC 7617: base64 of the UTF-8 `user:password`; the encoded form is as secret as the password.
        const encoded = Buffer.from(`${c.username}:${await this.secret(c.secret)}`, 'utf8').toString('base64');
        registerSecretValues([encoded]);
        return { authorization: `Basic ${encoded}` };
      }
      case 'oauth2':
        return { authorization: `Bearer ${await this.accessToken(c)}` };
    }
  }

  /**
   * The upstream answered 401: forget the cached OAuth token so the next `headers()` fetches a
   * new one. True when a retry could help (oauth2 with a cached token); a static secret would be
   * refused again.
   */
  invalidate(): boolean {
    if (this.config?.type !== 'oauth2') return false;
    const had = this.cached !== null;
    this.cached = null;
    return had;
  }

  private async secret(name: string): Promise<string> {
    const value = await this.secrets.get(name);
    registerSecretValues([value]);
    if (UNSAFE_IN_HEADER.test(value)) {
      throw new MandateError('secret_unavailable', `upstream ${q(this.upstream)}: secret ${q(name)} holds a line break or NUL and cannot be sent in an HTTP header`);
    }
    return value;
  }

  private accessToken(c: OAuth2Config): Promise<string> {
    if (this.cached && this.now() < this.cached.expiresAt) return Promise.resolve(this.cached.value);
    this.cached = null;
    // A failed request is not cached: the next caller tries again.
    this.inflight ??= this.fetchToken(c).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** RFC 6749 §4.4: the client credentials grant. */
  private async fetchToken(c: OAuth2Config): Promise<string> {
    const clientSecret = await this.secret(c.secret);
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (c.scope !== undefined) body.set('scope', c.scope);
    if (c.audience !== undefined) body.set('audience', c.audience);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if ((c.clientAuth ?? 'basic') === 'basic') {
      // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined and base64-encoded.
      const encoded = Buffer.from(`${formEncode(c.clientId)}:${formEncode(clientSecret)}`, 'utf8').toString('base64');
      registerSecretValues([encoded]);
      headers.authorization = `Basic ${encoded}`;
    } else {
      body.set('client_id', c.clientId);
      body.set('client_secret', clientSecret);
    }

    const startedAt = this.now();
    const fail = (what: string, cause?: unknown): MandateError =>
      new MandateError('upstream_unavailable', redactText(`upstream ${q(this.upstream)}: token endpoint ${this.tokenEndpoint} ${what}`), cause === undefined ? {} : { cause });
    const signal = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    let text: string | null;
    try {
      // A redirect is never followed: it would carry the client's credentials to another place.
      res = await this.fetchImpl(c.tokenUrl, { method: 'POST', headers, body: body.toString(), redirect: 'manual', signal });
      if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
        await res.body?.cancel().catch(() => undefined);
        throw fail(`answered ${res.status} (a redirect): refused, set \`tokenUrl\` to the final address`);
      }
      text = await readBounded(res, MAX_TOKEN_RESPONSE_BYTES);
    } catch (err) {
      if (err instanceof MandateError) throw err;
      if (signal.aborted) throw fail(`did not answer within ${this.timeoutMs} ms`);
      throw fail(`is unreachable: ${describeNetworkError(err)}`, err);
    }
    if (text === null) throw fail(`answered ${res.status} with more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const obj = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;

    if (!res.ok) {
      // RFC 6749 §5.2: `error` and `error_description` say why; they are the operator's best clue,
      // but the endpoint wrote them, so a client secret it echoes is taken out.
      let detail = '';
      if (typeof obj?.error === 'string') {
        detail = `: ${q(without(obj.error, clientSecret))}`;
        if (typeof obj.error_description === 'string') detail += ` (${q(without(obj.error_description, clientSecret))})`;
      }
      throw fail(`answered ${res.status}${detail}`);
    }
    if (!obj) throw fail(`answered ${res.status} with a body that is not a JSON object`);
    const token = obj.access_token;
    if (typeof token !== 'string' || token.length === 0) throw fail('answered without an `access_token`');
    // Registered before any check that could fail, so no later message or log can show it.
    registerSecretValues([token]);
    if (!HEADER_TOKEN.test(token)) throw fail('issued an `access_token` that cannot be sent in an Authorization header');
    if (typeof obj.token_type !== 'string' || obj.token_type.toLowerCase() !== 'bearer') {
      // Another type (DPoP, MAC, N_A …) needs more than `Authorization: Bearer`; sending it as a bearer token would fail or leak it.
      throw fail(`issued a token of type ${q(obj.token_type ?? 'none')}: only \`Bearer\` is supported`);
    }
    const expiresIn = parseExpiresIn(obj.expires_in);
    if (expiresIn === null) throw fail(`answered an \`expires_in\` that is not a non-negative number: ${q(obj.expires_in)}`);
    // Renewed a little before the upstream would refuse it (clock skew, time in flight).
    const lifetime = expiresIn - Math.min(30, expiresIn / 10);
    this.cached = { value: token, expiresAt: startedAt + lifetime * 1000 };
    return token;
  }
}

/** `application/x-www-form-urlencoded` serialisation of one value (RFC 6749 Appendix B). */
function formEncode(value: string): string {
  return new URLSearchParams([['v', value]]).toString().slice(2);
}

function parseExpiresIn(v: unknown): number | null {
  if (v === undefined || v === null) return DEFAULT_EXPIRES_IN;
  // Some providers send it as a string of digits.
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}

/** The body as text, or null when it is larger than `limit` bytes (read no further than that). */
async function readBounded(res: Response, limit: number): Promise<string | null> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `fetch failed` says nothing; the system error under it (ECONNREFUSED, ENOTFOUND) does. Other
 * messages are not repeated: they may quote the request URL with its query.
 */
function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.name : 'the request failed';
}

/** `text` with `value` replaced (even one too short for the redaction registry). */
function without(text: string, value: string): string {
  return value ? text.split(value).join(REDACTED) : text;
}
