// Canonical JSON (RFC 8785 style for the values Mandate hashes: sorted keys, no whitespace,
// no undefined). Used for audit hash chains, approval action hashes and cache keys.
//
// On the path of every tool call (two audit events hashed per call): written with plain loops and
// string appends, no intermediate arrays; the output is byte for byte what the map/filter/join
// form gave (the conformance vectors and every stored chain depend on it).

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    if (value === undefined) return 'null';
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const v: unknown = value[i];
      out += canonicalJson(v === undefined ? null : v);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += JSON.stringify(k);
    out += ':';
    out += canonicalJson(v);
  }
  return `${out}}`;
}
