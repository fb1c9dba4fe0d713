// Defence in depth: whatever a caller puts in an audit event, a log line, an error or an
// upstream's answer, secrets are replaced before it is stored or shown. By value: every secret
// Mandate was configured with (upstream env and headers, webhook secrets) wherever it appears,
// whatever the key; by key: values under secret-looking names; by shape: JWTs and Mandate's own
// tokens.

const SECRET_KEY = /^(d|dpop|cookie|set-cookie|auth|bearer)$|(^|[-_.])(authorization|api[-_]?key|apikey|access[-_]?key|secret[-_]?key|private[-_]?key|privatekey|client[-_]?secret|client[-_]?assertion|secret|password|passwd|passphrase|pwd|credentials?|token|access[-_]?token|refresh[-_]?token|id[-_]?token|subject[-_]?token|actor[-_]?token|auth[-_]?token|session[-_]?(id|token)|cookie)$/i;
// A compact JWS/JWT, or one of Mandate's own secret tokens.
const TOKEN_LIKE = /\b(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|mdt_[a-z]+_[A-Za-z0-9_-]{20,})\b/g;
// Values shorter than this are not treated as secrets by value (they would match everywhere).
const MIN_SECRET_LENGTH = 8;

export const REDACTED = '[redacted]';

/** Configured secret values, longest first (so a secret containing another is replaced whole). */
let known: string[] = [];

/**
 * Registers secret values Mandate holds (upstream env and headers after expansion, webhook
 * secrets): from now on they are replaced wherever they appear. Short values are ignored.
 */
export function registerSecretValues(values: Iterable<string>): void {
  const next = new Set(known);
  for (const v of values) if (typeof v === 'string' && v.length >= MIN_SECRET_LENGTH) next.add(v);
  known = [...next].sort((a, b) => b.length - a.length);
}

/** A string with every known secret value and token-shaped run replaced. */
export function redactText(s: string): string {
  let out = s;
  for (const v of known) if (out.includes(v)) out = out.split(v).join(REDACTED);
  return out.replace(TOKEN_LIKE, REDACTED);
}

/**
 * `value` with every configured secret value replaced, nothing else touched (for what upstreams
 * return to agents: a tool may legitimately return token-shaped text, never Mandate's secrets).
 */
export function redactKnownValues<T>(value: T, depth = 0): T {
  if (known.length === 0 || depth > 64) return value;
  if (typeof value === 'string') {
    let out: string = value;
    for (const v of known) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out as unknown as T;
  }
  if (Array.isArray(value)) return value.map((v) => redactKnownValues(v, depth + 1)) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) setData(out, k, redactKnownValues(v, depth + 1));
    return out as T;
  }
  return value;
}

/** `out[k] = v`, except that a key named `__proto__` stays data (plain assignment would set the prototype). */
function setData(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

/** Whether a key names a secret (`authorization`, `x-api-key`, `bearer`, `client_secret` …). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > 20) return REDACTED as unknown as T;
  if (typeof value === 'string') return redactText(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1)) as unknown as T;
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown };
    return { type: e.name, message: redactText(e.message), ...(e.code !== undefined ? { code: e.code } : {}), stack: redactText(e.stack ?? '') } as unknown as T;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const clean = isSecretKey(k) && (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) ? REDACTED : redactSecrets(v, depth + 1);
      setData(out, k, clean);
    }
    return out as T;
  }
  return value;
}
