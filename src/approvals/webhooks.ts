// Approval webhooks: a JSON (or Slack-compatible) POST per approver group, signed with
// HMAC-SHA256 over `<timestamp>.<body>` and a shared secret, retried with backoff, every attempt
// recorded in the audit log. Receivers verify with `verifyWebhookSignature` (or the same three
// lines in their language) and refuse stale timestamps, so a captured request cannot be replayed.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { ApprovalsConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { expandEnv } from '../gateway/upstream-client.js';

export const SIGNATURE_HEADER = 'x-mandate-signature';
export const EVENT_HEADER = 'x-mandate-event';
/** Default replay window for receivers, in seconds. */
export const DEFAULT_TOLERANCE = 300;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type WebhookVerdict = { ok: true; timestamp: number } | { ok: false; reason: string };

/** Checks a received webhook: the signature over the exact body, and a timestamp inside the window. */
export function verifyWebhookSignature(secret: string, header: string | undefined, body: string, nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = DEFAULT_TOLERANCE): WebhookVerdict {
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1) return { ok: false, reason: 'malformed signature header (expected t=<unix>,v1=<hex>)' };
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return { ok: false, reason: `timestamp outside the ${toleranceSeconds}s window (stale or replayed)` };
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const given = Buffer.from(parts.v1);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature does not match the body' };
  return { ok: true, timestamp: t };
}

export interface WebhookMessage {
  event: string;
  /** The JSON payload (format `json`). */
  payload: Record<string, unknown>;
  /** One-paragraph text for chat (format `slack`). */
  text: string;
}

export class WebhookNotifier {
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly config: ApprovalsConfig,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly logger?: Logger,
    private readonly retryDelaysMs: number[] = [1000, 4000, 15000, 60000],
  ) {}

  /** Groups with a webhook among the given approvers (`owner`, `role:x`), or every group (`*`). */
  groupsFor(approvers: readonly string[] | '*'): string[] {
    const names = Object.keys(this.config.groups).filter((g) => this.config.groups[g]?.webhook);
    if (approvers === '*') return names;
    const wanted = new Set(approvers.map((a) => (a.startsWith('role:') ? a.slice(5) : a)));
    return names.filter((g) => wanted.has(g));
  }

  /** Sends to each group in the background; delivery is retried and audited. */
  notify(groups: string[], message: WebhookMessage): void {
    for (const g of groups) {
      const p = this.deliver(g, message).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  private async deliver(group: string, message: WebhookMessage): Promise<void> {
    const hook = this.config.groups[group]?.webhook;
    if (!hook) return;
    let secret: string;
    try {
      secret = expandEnv(hook.secret, process.env, `approvals.groups.${group}.webhook.secret`);
    } catch (err) {
      await this.record(group, message.event, 0, 'failed', (err as Error).message);
      return;
    }
    const body = JSON.stringify(hook.format === 'slack' ? { text: message.text } : { event: message.event, ...message.payload });
    for (let attempt = 1; ; attempt++) {
      if (this.closed) return;
      let problem: string | null = null;
      try {
        const ts = Math.floor(this.clock.now() / 1000);
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(secret, body, ts), [EVENT_HEADER]: message.event, 'user-agent': 'mandate-webhook/1' },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          await this.record(group, message.event, attempt, 'delivered', `HTTP ${res.status}`);
          return;
        }
        problem = `HTTP ${res.status}`;
      } catch (err) {
        problem = (err as Error).message.slice(0, 200);
      }
      const delay = this.retryDelaysMs[attempt - 1];
      if (delay === undefined) {
        await this.record(group, message.event, attempt, 'failed', problem);
        this.logger?.warn({ group, event: message.event, problem }, 'webhook delivery failed; giving up');
        return;
      }
      await this.record(group, message.event, attempt, 'retrying', problem);
      await new Promise((r) => setTimeout(r, delay).unref());
    }
  }

  private async record(group: string, event: string, attempt: number, outcome: string, detail: string | null): Promise<void> {
    await this.audit
      .record({ type: 'webhook.delivery', actor: 'system', outcome, data: { group, event, attempt, detail } })
      .catch(() => undefined);
  }

  /** Waits for deliveries in flight (tests, shutdown), up to `ms`. */
  async drain(ms = 2000): Promise<void> {
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, ms).unref())]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drain(1000);
  }
}
