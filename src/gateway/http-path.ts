// The one form of an HTTP request path that Mandate checks and forwards. Path-based access
// control fails where the checker and the server read a path differently (`/v1/reports/../admin`,
// `%2e%2e`, `%2F`, `..;/`, `\`); so the path is resolved here once, strictly, and what was checked
// is exactly what is sent: dot segments resolved (never above the API root), empty segments
// collapsed, unreserved characters decoded and every other escape in upper case, and anything a
// server could read two ways (encoded `/` or `\`, `;` parameters, control characters) refused.

import { q } from '../core/errors.js';

export class HttpPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpPathError';
  }
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// RFC 3986 pchar without `;` (see above), plus `/`: ALPHA DIGIT - . _ ~ ! $ & ' ( ) * + , = : @ and %XX
const ALLOWED = /^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/;

/**
 * The canonical form of `raw` (the part of the URL after `/http/<upstream>`, before `?`), or an
 * HttpPathError that says what is wrong. A grant's pattern is made canonical the same way (`*`,
 * a legal path character, is its wildcard).
 */
export function canonicalHttpPath(raw: string): string {
  if (raw === '') raw = '/';
  if (!raw.startsWith('/')) throw new HttpPathError(`path ${q(raw)} must start with \`/\``);
  if (raw.length > 4096) throw new HttpPathError(`path of ${raw.length} characters is over the 4096 limit`);
  if (raw.includes(';')) throw new HttpPathError(`path ${q(raw)} contains \`;\` (path parameters are read differently by different servers and are not accepted)`);
  if (!ALLOWED.test(raw)) throw new HttpPathError(`path ${q(raw)} contains characters that must be percent-encoded (space, \`\\\`, quotes, \`<>{}|^\` or control characters)`);
  // Percent-decoding, once: unreserved characters decoded, the rest kept as upper-case escapes.
  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== '%') {
      decoded += ch;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new HttpPathError(`path ${q(raw)} has a malformed escape ${q(`%${hex}`)}`);
    const code = parseInt(hex, 16);
    const c = String.fromCharCode(code);
    if (c === '/' || c === '\\') throw new HttpPathError(`path ${q(raw)} contains an encoded ${c === '/' ? 'slash (%2F)' : 'backslash (%5C)'}, which servers read differently: it is not accepted`);
    if (code < 0x20 || code === 0x7f) throw new HttpPathError(`path ${q(raw)} contains an encoded control character (%${hex.toUpperCase()})`);
    if (c === ';') throw new HttpPathError(`path ${q(raw)} contains an encoded \`;\` (%3B), which some servers read as a path parameter: it is not accepted`);
    decoded += UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
    i += 2;
  }
  // Dot segments (RFC 3986 §5.2.4), never above the root; empty segments collapsed.
  const out: string[] = [];
  const segments = decoded.split('/').slice(1);
  for (const [i, seg] of segments.entries()) {
    const last = i === segments.length - 1;
    if (seg === '' && !last) continue;
    if (seg === '.') {
      if (last) out.push('');
      continue;
    }
    if (seg === '..') {
      if (!out.length || (out.length === 1 && out[0] === '')) throw new HttpPathError(`path ${q(raw)} goes above the API's root`);
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** The query string, parsed and re-serialised the one way it is forwarded (`a=1&b=x+y`), and its pairs for policy. */
export function canonicalQuery(raw: string): { text: string; pairs: Array<[string, string]> } {
  if (raw.length > 8192) throw new HttpPathError(`query string of ${raw.length} characters is over the 8192 limit`);
  // A malformed escape would be passed through by URLSearchParams as is: read one way here, maybe another upstream.
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) throw new HttpPathError('the query string has a malformed percent escape');
  const params = new URLSearchParams(raw);
  const pairs = [...params.entries()];
  if (pairs.length > 100) throw new HttpPathError(`${pairs.length} query parameters: at most 100 are accepted`);
  for (const [k, v] of pairs) {
    if (/[\x00-\x1f\x7f]/.test(k + v)) throw new HttpPathError(`query parameter ${q(k)} contains a control character`);
  }
  return { text: params.toString(), pairs };
}
