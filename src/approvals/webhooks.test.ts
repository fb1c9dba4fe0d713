// Webhook delivery: signed, retried with backoff while the receiver fails, every attempt recorded.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../audit/audit-log.js';
import { systemClock } from '../core/clock.js';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import { signWebhook, verifyWebhookSignature, WebhookNotifier } from './webhooks.js';

const SECRET = 'a-webhook-secret-of-some-length';
let server: Server | undefined;
afterEach(() => server?.close());

async function receiver(statuses: number[]) {
  const got: Array<{ body: string; sig: string }> = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ body, sig: String(req.headers['x-mandate-signature']) });
      res.writeHead(statuses[Math.min(got.length - 1, statuses.length - 1)]!).end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hook`, got };
}

describe('webhooks', () => {
  it('retries a failing receiver with backoff until it accepts, and records each attempt', async () => {
    const rx = await receiver([503, 500, 204]);
    const store = new SqliteStore({ path: ':memory:' });
    const audit = new AuditLog(store, systemClock);
    const config = { ttl: 900, wait: 30, groups: { ops: { webhook: { url: rx.url, secret: SECRET, format: 'json' as const } } }, breakglass: { approvers: ['role:security'], quorum: 2, maxTtl: 3600 } };
    const n = new WebhookNotifier(config, audit, systemClock, undefined, [20, 40, 80]);
    n.notify(['ops'], { event: 'approval.requested', payload: { approval: { id: 'apr_1' } }, text: 'hi' });
    await n.drain(5000);
    expect(rx.got).toHaveLength(3);
    for (const g of rx.got) expect(verifyWebhookSignature(SECRET, g.sig, g.body).ok).toBe(true);
    await audit.drain();
    const attempts = (await store.listAudit({ type: 'webhook.delivery' })).map((e) => [e.outcome, (e.data as { attempt: number }).attempt]);
    expect(attempts).toEqual([
      ['retrying', 1],
      ['retrying', 2],
      ['delivered', 3],
    ]);
    await n.close();
    await store.close();
  });

  it('gives up after the last retry and records the failure', async () => {
    const rx = await receiver([500]);
    const store = new SqliteStore({ path: ':memory:' });
    const audit = new AuditLog(store, systemClock);
    const config = { ttl: 900, wait: 30, groups: { ops: { webhook: { url: rx.url, secret: SECRET, format: 'slack' as const } } }, breakglass: { approvers: ['role:security'], quorum: 2, maxTtl: 3600 } };
    const n = new WebhookNotifier(config, audit, systemClock, undefined, [10]);
    n.notify(['ops'], { event: 'breakglass.started', payload: {}, text: 'BREAK-GLASS ACTIVE' });
    await n.drain(5000);
    expect(rx.got.map((g) => JSON.parse(g.body))).toEqual([{ text: 'BREAK-GLASS ACTIVE' }, { text: 'BREAK-GLASS ACTIVE' }]);
    await audit.drain();
    expect((await store.listAudit({ type: 'webhook.delivery' })).map((e) => e.outcome)).toEqual(['retrying', 'failed']);
    await store.close();
  });

  it('refuses malformed, forged and replayed signatures', () => {
    const body = '{"event":"x"}';
    const now = 1_800_000_000;
    const sig = signWebhook(SECRET, body, now);
    expect(verifyWebhookSignature(SECRET, sig, body, now)).toEqual({ ok: true, timestamp: now });
    expect(verifyWebhookSignature(SECRET, undefined, body, now)).toMatchObject({ ok: false, reason: /missing/ });
    expect(verifyWebhookSignature(SECRET, 'v1=abc', body, now)).toMatchObject({ ok: false, reason: /malformed/ });
    const flipped = sig.replace(/v1=(.)/, (_m, c: string) => `v1=${c === '0' ? '1' : '0'}`);
    expect(verifyWebhookSignature(SECRET, flipped, body, now)).toMatchObject({ ok: false, reason: /does not match/ });
    expect(verifyWebhookSignature(SECRET, sig, body, now + 301)).toMatchObject({ ok: false, reason: /window/ });
    // The timestamp is signed too: moving it forward breaks the signature.
    expect(verifyWebhookSignature(SECRET, sig.replace(`t=${now}`, `t=${now + 100}`), body, now + 100)).toMatchObject({ ok: false, reason: /does not match/ });
  });
});
