// Defence in depth: whatever a caller puts in an audit event or a log line, values under
// secret-looking keys and strings that look like tokens are replaced before they are stored.

const SECRET_KEYS = /^(authorization|access_token|refresh_token|id_token|token|subject_token|actor_token|client_assertion|client_secret|secret|password|passwd|private_key|privatekey|d|api_key|apikey|cookie|set-cookie|dpop)$/i;
// A compact JWS/JWT, or one of Mandate's own secret tokens.
const TOKEN_LIKE = /\b(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|mdt_[a-z]+_[A-Za-z0-9_-]{20,})\b/g;

export const REDACTED = '[redacted]';

export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > 20) return REDACTED as unknown as T;
  if (typeof value === 'string') return value.replace(TOKEN_LIKE, REDACTED) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1)) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEYS.test(k) && v !== null && v !== undefined ? REDACTED : redactSecrets(v, depth + 1);
    }
    return out as T;
  }
  return value;
}
