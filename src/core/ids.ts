// Identifiers: time-ordered, random, URL-safe. Prefixes say what an id names.

import { randomBytes, randomFillSync } from 'node:crypto';

// Ids are made on the hot path: draw randomness from a refilled pool, not a syscall per id.
const pool = Buffer.allocUnsafe(4096);
let poolPos = pool.length;
function random10(): Buffer {
  if (poolPos + 10 > pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const out = pool.subarray(poolPos, poolPos + 10);
  poolPos += 10;
  return out;
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** A sortable id: 48-bit millisecond time + 80 random bits, with a prefix (`task_…`). */
export function newId(prefix: string, nowMs: number = Date.now()): string {
  const buf = new Uint8Array(16);
  let t = nowMs;
  for (let i = 5; i >= 0; i--) {
    buf[i] = t % 256;
    t = Math.floor(t / 256);
  }
  buf.set(random10(), 6);
  return `${prefix}_${base32(buf)}`;
}

/** An opaque secret token, 256 bits of randomness, base64url. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
