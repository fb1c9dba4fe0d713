// Hashing helpers: one place that names the algorithms Mandate relies on.

import { createHash, timingSafeEqual } from 'node:crypto';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256B64u(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url');
}

/** Constant-time string comparison for secrets of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
