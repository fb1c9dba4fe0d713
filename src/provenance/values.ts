// Values for provenance: what a tool result (or the task's intent, or its scope) contains that an
// agent could later pass as an argument, reduced to match keys that survive trivial changes.
//
// A value is matched by keys, not by its text: lower-cased, whitespace collapsed; a compact form
// without separators (so `DE89 3704 0044 0532 0130 00` matches `de89370400440532013000`, and
// `+1 (555) 010-9999` matches `15550109999`); URLs in canonical form (scheme and host lower-case,
// default port, no fragment, no trailing slash); numbers in canonical decimal form (`1,250.00` and
// `1250` match). A model can paraphrase, spell out or split a value: this is defence in depth, not
// proof (docs/policies.md, "Prompt injection").

/** Longest string taken whole as a value (longer text is only mined for tokens). */
const WHOLE_MAX = 256;
/** Shortest value worth tracking: shorter ones ("ok", "1") would match everything. */
const MIN_LEN = 3;

// Starts only where a run of local-part characters starts: without the lookbehind a long run with
// no `@` (1 KB of text, say) is rescanned from every position, quadratic in its length.
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const URL_RE = /\bhttps?:\/\/[^\s<>"'`)\]]+/gi;
const IBAN = /\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{2,4}){3,8}\b/gi;
const PHONE = /\+?\d[\d ().-]{6,}\d/g;
const AMOUNT = /(?<![\w.])-?\d{1,3}(?:[,\u00a0 ]\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])-?\d+(?:\.\d+)?(?![\w])/g;
/** Identifier-like tokens: letters with digits or separators (order ids, account names, paths). */
const TOKEN = /[A-Za-z0-9][A-Za-z0-9._:/#@-]{2,}[A-Za-z0-9]/g;

const HTTP_START = /^[\s\x00-\x1f]*https?:/i;
const collapse = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();
const compact = (s: string) => s.toLowerCase().replace(/[^a-z0-9@]/g, '');

/** A URL in canonical form, or null if it is not one. */
export function canonicalUrl(s: string): string | null {
  // Most values are not URLs: skip the parser (and the exception it throws) for them.
  if (!HTTP_START.test(s)) return null;
  try {
    const u = new URL(s.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    u.hash = '';
    let out = u.href;
    if (out.endsWith('/') && !u.search) out = out.slice(0, -1);
    return out.toLowerCase();
  } catch {
    return null;
  }
}

/** A number in canonical decimal form (`1,250.00` → `1250`), or null. */
export function canonicalNumber(s: string | number): string | null {
  if (typeof s === 'number') return Number.isFinite(s) ? String(s) : null;
  const t = s.trim().replace(/[,\u00a0 ](?=\d{3}\b)/g, '');
  if (!/^-?\d+(\.\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? String(n) : null;
}

/**
 * The match key of one value (none for a value too short or too common to track): the coarsest
 * form that still tells values apart — numbers in canonical form; text without case, spaces or
 * separators (which covers canonical URLs, spaced IBANs, formatted phone numbers); short text
 * collapsed. One key per value keeps recording cheap.
 */
export function keysOf(value: string | number | boolean): string[] {
  if (typeof value === 'boolean') return [];
  if (typeof value === 'number') {
    const n = canonicalNumber(value);
    return n && n.replace('-', '').replace('.', '').length >= 2 ? [`n:${n}`] : [];
  }
  const v = value.trim();
  if (v.length < MIN_LEN) return [];
  const n = canonicalNumber(v);
  if (n !== null) return n.replace('-', '').replace('.', '').length >= 2 ? [`n:${n}`] : [];
  const url = canonicalUrl(v);
  const c = compact(url ?? v);
  if (c.length >= MIN_LEN + 2) return [`c:${c}`];
  return [`s:${collapse(v)}`];
}

/** Every value in a tool result (JSON, text, or both) worth tracking, with its keys, bounded. */
export function valuesIn(content: unknown, limit = 10_000): Set<string> {
  const out = new Set<string>();
  const add = (v: string | number) => {
    for (const k of keysOf(v)) if (out.size < limit) out.add(k);
  };
  const text = (s: string) => {
    if (s.length <= WHOLE_MAX) add(s);
    // IBAN-like runs may swallow a following short word ("… 0130 00 by"): every prefix that ends
    // at a group boundary and has an IBAN's length (15–34) is a candidate.
    IBAN.lastIndex = 0;
    for (const m of s.matchAll(IBAN)) {
      let acc = '';
      for (const g of m[0].split(/[ -]+/)) {
        acc += g;
        if (acc.length >= 15 && acc.length <= 34) add(acc);
        if (out.size >= limit) return;
      }
    }
    for (const re of [EMAIL, URL_RE, PHONE, AMOUNT, TOKEN]) {
      if (re === EMAIL && !s.includes('@')) continue;
      re.lastIndex = 0;
      for (const m of s.matchAll(re)) {
        if (out.size >= limit) return;
        add(m[0].replace(/[.,;:]+$/, ''));
      }
    }
  };
  const walk = (x: unknown, depth: number) => {
    if (out.size >= limit || depth > 32) return;
    if (typeof x === 'string') {
      text(x);
      // JSON inside a text result (common: a tool returns JSON as text).
      const t = x.trim();
      if ((t.startsWith('{') || t.startsWith('[')) && t.length < 4_000_000) {
        try {
          walk(JSON.parse(t), depth + 1);
        } catch {
          /* not JSON */
        }
      }
    } else if (typeof x === 'number') add(x);
    else if (Array.isArray(x)) for (const e of x) walk(e, depth + 1);
    else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) {
      if (k === 'type' || k === 'mimeType' || k === 'annotations') continue;
      walk(v, depth + 1);
    }
  };
  walk(content, 0);
  return out;
}

/** The keys an argument value is looked up by: the value itself, each element of an array. */
export function argumentKeys(value: unknown): string[][] {
  if (typeof value === 'string' || typeof value === 'number') return [keysOf(value)].filter((k) => k.length);
  if (Array.isArray(value)) return value.flatMap((e) => argumentKeys(e));
  return [];
}
