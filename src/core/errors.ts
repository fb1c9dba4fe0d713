// The one error type Mandate throws on purpose: a stable `code` to switch on, an HTTP status,
// and whether its message may be shown to the caller (never for 5xx, but for a storage fault).

export type ErrorCode =
  // OAuth 2.0 / RFC 6749, 7009, 7662, 9396, 9449
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'invalid_authorization_details'
  | 'unsupported_grant_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_target'
  // RFC 9449 (DPoP)
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  // RFC 8628 §3.5 (a task start waiting for a human)
  | 'authorization_pending'
  | 'access_denied'
  | 'expired_token'
  // management and PDP API
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  // configuration and policy
  | 'config_invalid'
  | 'policy_invalid'
  // infrastructure
  | 'storage_unavailable'
  | 'secret_unavailable'
  /** An upstream (HTTP API, database) could not be reached or answered wrongly. */
  | 'upstream_unavailable'
  | 'internal';

const DEFAULT_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  invalid_scope: 400,
  invalid_authorization_details: 400,
  unsupported_grant_type: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  invalid_target: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  authorization_pending: 400,
  access_denied: 400,
  expired_token: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  method_not_allowed: 405,
  config_invalid: 400,
  policy_invalid: 400,
  storage_unavailable: 503,
  secret_unavailable: 503,
  upstream_unavailable: 502,
  internal: 500,
};

export interface MandateErrorOptions {
  status?: number;
  cause?: unknown;
  /** Extra fields safe to return to the caller (e.g. decision ids, reasons). */
  details?: Record<string, unknown>;
}

export class MandateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: MandateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MandateError';
    this.code = code;
    this.status = options.status ?? DEFAULT_STATUS[code];
    // A storage fault is told as it is (its message names the cause and the fix, never a path
    // or a query): a caller and its operator must know the refusal is the store's, not theirs.
    this.expose = this.status < 500 || code === 'storage_unavailable';
    this.details = options.details;
  }
}

export function isMandateError(err: unknown): err is MandateError {
  return err instanceof MandateError;
}

/** Quote user input for messages: ``unknown tool `fs.write` ``. Long or multi-line input is cut. */
export function q(value: unknown): string {
  let s = typeof value === 'string' ? value : JSON.stringify(value);
  if (s === undefined) s = String(value);
  s = s.replace(/[\r\n\t]/g, ' ');
  if (s.length > 120) s = `${s.slice(0, 117)}...`;
  return `\`${s}\``;
}
