// Resource URIs and patterns, normalised before any match so a pattern cannot be escaped with
// `..`, percent-encoding, duplicate slashes or case tricks.

import { posix } from 'node:path';
import { MandateError, q } from '../core/errors.js';
import type { ResourceKind } from '../core/tool.js';

export class ResourceError extends Error {}

function decodeAll(s: string): string {
  // Decode repeatedly: `%252e%252e` must not survive as an encoded `..`.
  let prev = s;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(prev);
    } catch {
      throw new ResourceError(`malformed percent-encoding in ${q(s)}`);
    }
    if (next === prev) return next;
    prev = next;
  }
  return prev;
}

/** Normalises an absolute POSIX path: decoded, `.`/`..` resolved, no duplicate slashes. */
export function normalisePath(raw: string): string {
  if (raw.includes('\0')) throw new ResourceError('path contains a NUL byte');
  const decoded = decodeAll(raw).replace(/\\/g, '/');
  if (decoded.includes('\0')) throw new ResourceError('path contains a NUL byte');
  if (!decoded.startsWith('/')) throw new ResourceError(`path ${q(raw)} is not absolute`);
  const norm = posix.normalize(decoded);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

function normaliseHttp(raw: string, allowGlob: boolean): string {
  // Protect glob stars from URL parsing, then restore them.
  const marker = 'MANDATEGLOBSTAR';
  const input = allowGlob ? raw.replaceAll('*', marker) : raw;
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new ResourceError(`${q(raw)} is not a valid URL`);
  }
  if (u.username || u.password) throw new ResourceError(`URL ${q(raw)} must not carry credentials`);
  const path = normalisePath(u.pathname || '/');
  const host = u.hostname.toLowerCase();
  const port = u.port ? `:${u.port}` : '';
  const query = u.search;
  const out = `${u.protocol}//${host}${port}${path}${query}`;
  return allowGlob ? out.replaceAll(marker, '*').replaceAll(marker.toLowerCase(), '*') : out;
}

/** Canonical form of a resource URI (or, with `allowGlob`, of a pattern). */
export function normaliseResource(raw: string, allowGlob = false): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4096) throw new ResourceError('resource must be a non-empty string of at most 4096 characters');
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s.exec(raw);
  if (!m) throw new ResourceError(`resource ${q(raw)} is not a URI (expected scheme:…, e.g. file:///srv/data/*)`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  switch (scheme) {
    case 'file': {
      const path = rest.replace(/^\/\/(localhost)?/, '');
      return `file://${normalisePath(path)}`;
    }
    case 'http':
    case 'https':
      return normaliseHttp(`${scheme}:${rest}`, allowGlob);
    case 'mailto':
      return `mailto:${decodeAll(rest).trim().toLowerCase()}`;
    default:
      return `${scheme}:${rest}`;
  }
}

/** The resource URI an argument value names, per the tool's config. */
export function resourceFromArg(kind: ResourceKind, value: unknown): string {
  if (typeof value !== 'string') throw new ResourceError('a resource argument must be a string');
  switch (kind) {
    case 'path':
      return `file://${normalisePath(value)}`;
    case 'email':
      return normaliseResource(`mailto:${value}`);
    case 'url':
    case 'uri':
      return normaliseResource(value);
  }
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
