// Resource arguments, URIs and patterns in one canonical form. The rule: an argument that names
// a resource is checked in its canonical form and forwarded in exactly that form, and a raw form
// that parsers could read two ways (backslashes, userinfo, control characters, encoded dots or
// slashes, characters that Unicode normalisation turns into others) is refused, never guessed at.

import { posix } from 'node:path';
import { MandateError, q } from '../core/errors.js';
import type { ResourceKind } from '../core/tool.js';

export class ResourceError extends Error {}

const MAX = 4096;
// C0 and C1 controls, DEL, and every Unicode space or line/paragraph separator.
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f-\u009f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u2060\u3000\ufeff]/u;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200b-\u200f\u2060\ufeff]/u;
// `%2e` (dot), `%2f` (slash), `%5c` (backslash), `%25` (an encoded `%`: double encoding), `%00`.
const AMBIGUOUS_ESCAPE = /%(2e|2f|5c|25|00)/i;

function base(raw: unknown, what: string): string {
  if (typeof raw !== 'string') throw new ResourceError(`${what} must be a string`);
  if (raw.length === 0 || raw.length > MAX) throw new ResourceError(`${what} must be 1-${MAX} characters`);
  return raw;
}

/** Characters that NFKC turns into others (fullwidth `．／`, one-dot leaders …) mean two readings. */
function unicodeStable(raw: string, what: string): void {
  if (raw.normalize('NFKC') !== raw) throw new ResourceError(`${what} ${q(raw)} has characters that Unicode normalisation changes (fullwidth or look-alike dots and slashes): ambiguous, refused`);
}

/**
 * The canonical form of an absolute POSIX path: `.` and `..` resolved, no duplicate or trailing
 * slash. Refused when ambiguous: control characters, backslashes, percent-escapes (a file name
 * may contain `%2e`; some tools decode it, others do not), or Unicode that normalises to others.
 */
export function canonicalPath(rawIn: unknown, what = 'path'): string {
  const raw = base(rawIn, what);
  if (CONTROL.test(raw)) throw new ResourceError(`${what} ${q(raw)} contains a control character`);
  if (raw.includes('\\')) throw new ResourceError(`${what} ${q(raw)} contains a backslash (a separator on some systems, a character on others): ambiguous, refused`);
  if (/%[0-9a-f]{2}/i.test(raw)) throw new ResourceError(`${what} ${q(raw)} contains a percent-escape (tools differ on decoding it): ambiguous, refused`);
  unicodeStable(raw, what);
  if (!raw.startsWith('/')) throw new ResourceError(`${what} ${q(raw)} is not absolute`);
  const norm = posix.normalize(raw);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

const GLOB = 'mandateglobstar';

/**
 * The canonical form of an http(s) URL as WHATWG parsers read it (lower-case scheme and host,
 * punycode for IDNs, dotted IPv4, compressed IPv6, no default port, dot segments resolved).
 * Refused when parsers disagree on it: backslashes, userinfo (`@` before the host), whitespace
 * or control characters, encoded dots or slashes, a trailing dot on the host.
 */
function canonicalHttp(raw: string, allowGlob: boolean): string {
  if (raw.includes('\\')) throw new ResourceError(`URL ${q(raw)} contains a backslash (parsers disagree on it): ambiguous, refused`);
  if (AMBIGUOUS_ESCAPE.test(raw)) throw new ResourceError(`URL ${q(raw)} contains an encoded dot, slash, backslash or percent sign: ambiguous, refused`);
  const afterScheme = raw.slice(raw.indexOf(':') + 1);
  if (!afterScheme.startsWith('//')) throw new ResourceError(`URL ${q(raw)} must be absolute (scheme://host/…)`);
  const authority = afterScheme.slice(2).split(/[/?#]/, 1)[0] ?? '';
  if (authority.includes('@')) throw new ResourceError(`URL ${q(raw)} carries userinfo (\`…@host\`): parsers disagree on which host it names; refused`);
  const input = allowGlob ? raw.replaceAll('*', GLOB) : raw;
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new ResourceError(`${q(raw)} is not a valid URL`);
  }
  if (u.username || u.password) throw new ResourceError(`URL ${q(raw)} must not carry credentials`);
  if (!u.hostname) throw new ResourceError(`URL ${q(raw)} has no host`);
  if (u.hostname.endsWith('.')) throw new ResourceError(`URL ${q(raw)} ends its host with a dot: ambiguous, refused`);
  const out = u.href;
  return allowGlob ? out.replaceAll(GLOB, '*') : out;
}

function canonicalEmail(raw: string): string {
  const addr = raw.toLowerCase();
  // One address only: separators and comments could smuggle a second recipient.
  if (!/^[^@\s,;<>()"]+@[^@\s,;<>()"]+$/.test(addr)) throw new ResourceError(`email address ${q(raw)} must be exactly one plain address (local@domain)`);
  return addr;
}

/**
 * Canonical form of a resource URI (or, with `allowGlob`, of a pattern where `*` is a wildcard):
 * `file://` + canonical path, canonical http(s) URLs, lower-case `mailto:` addresses; other
 * schemes as given (scheme lower-cased), refused only for control characters and backslashes.
 */
export function normaliseResource(rawIn: unknown, allowGlob = false): string {
  const raw = base(rawIn, 'resource');
  if (CONTROL_OR_SPACE.test(raw)) throw new ResourceError(`resource ${q(raw)} contains whitespace or a control character`);
  unicodeStable(raw, 'resource');
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s.exec(raw);
  if (!m) throw new ResourceError(`resource ${q(raw)} is not a URI (expected scheme:…, e.g. file:///srv/data/*)`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  switch (scheme) {
    case 'file': {
      let path = rest;
      if (rest.startsWith('//')) {
        const host = /^\/\/([^/]*)/.exec(rest)![1]!;
        if (host && host.toLowerCase() !== 'localhost') throw new ResourceError(`file URI ${q(raw)} names host ${q(host)}: its path is not absolute (write file:///path/…)`);
        path = rest.slice(2 + host.length);
      }
      return `file://${canonicalPath(path, 'file path')}`;
    }
    case 'http':
    case 'https':
      return canonicalHttp(`${scheme}:${rest}`, allowGlob);
    case 'mailto':
      return `mailto:${canonicalEmail(rest)}`;
    default:
      if (rest.includes('\\')) throw new ResourceError(`resource ${q(raw)} contains a backslash: ambiguous, refused`);
      return `${scheme}:${rest}`;
  }
}

/** An argument that names a resource: the value to forward and the URI it is checked as. */
export interface CanonicalResourceArg {
  value: string;
  uri: string;
}

/** The canonical value of a resource argument (what is checked and forwarded) and its URI. */
export function canonicalResourceArg(kind: ResourceKind, value: unknown): CanonicalResourceArg {
  if (typeof value !== 'string') throw new ResourceError('a resource argument must be a string');
  switch (kind) {
    case 'path': {
      const p = canonicalPath(value);
      return { value: p, uri: `file://${p}` };
    }
    case 'email': {
      const uri = normaliseResource(`mailto:${value}`);
      return { value: uri.slice('mailto:'.length), uri };
    }
    case 'url':
    case 'uri': {
      const uri = normaliseResource(value);
      return { value: uri, uri };
    }
  }
}

/** The resource URI an argument value names, per the tool's config. */
export function resourceFromArg(kind: ResourceKind, value: unknown): string {
  return canonicalResourceArg(kind, value).uri;
}

/** Glob match: `*` matches any run of characters (including `/`), everything else literally. */
export function globMatch(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last)) return false;
  let pos = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const idx = value.indexOf(parts[i]!, pos);
    if (idx < 0 || idx + parts[i]!.length > end) return false;
    pos = idx + parts[i]!.length;
  }
  return true;
}

export function toMandateError(err: unknown, where: string): MandateError {
  return new MandateError('invalid_authorization_details', `${where}: ${(err as Error).message}`);
}
