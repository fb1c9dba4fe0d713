import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';

/** The reference form every stored chain was hashed with (kept here to prove the fast one equal). */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    if (value === undefined) return 'null';
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => reference(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`).join(',')}}`;
}

/** Deterministic pseudo-random values of every JSON shape, plus undefined, NaN, Infinity and odd keys. */
function gen(seed: number): () => unknown {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const str = () => ['', 'a', 'Z', 'é', '\u2028', '"q"', '\\', '\u0000', '🔑', 'b', '10', '2', '__proto__'][Math.floor(rnd() * 13)]!;
  const value = (d: number): unknown => {
    const r = rnd();
    if (d > 4 || r < 0.3) return [null, true, false, 0, -0, 1.5, 1e21, NaN, Infinity, undefined, str(), 'long '.repeat(20)][Math.floor(rnd() * 12)];
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(d + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rnd() * 5); i > 0; i--) Object.defineProperty(o, str() + String(Math.floor(rnd() * 3)), { value: value(d + 1), enumerable: true, writable: true, configurable: true });
    return o;
  };
  return () => value(0);
}

describe('canonical JSON', () => {
  it('is byte for byte the reference form on 5,000 generated values', () => {
    const next = gen(7);
    for (let i = 0; i < 5000; i++) {
      const v = next();
      expect(canonicalJson(v)).toBe(reference(v));
    }
  });

  it('sorts keys, drops undefined members, writes undefined in arrays and non-finite numbers as null', () => {
    expect(canonicalJson({ b: 1, a: [undefined, NaN, -Infinity], c: undefined, d: { z: null, y: 'é' } })).toBe('{"a":[null,null,null],"b":1,"d":{"y":"é","z":null}}');
  });
});
