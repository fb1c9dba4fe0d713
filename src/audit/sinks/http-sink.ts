// The `http` audit sink: POSTs each batch to a collector or SIEM as JSON Lines or OTLP/HTTP logs
// JSON. A batch counts as delivered only on a 2xx answer; anything else (an error status, a
// redirect, a timeout, a refused connection) fails it and the runner sends the same batch again.

import type { AuditEvent } from '../../storage/types.js';
import { redactText } from '../redact.js';
import { otlpLogs, type OtlpResource } from './otlp.js';
import { describeError, eventLine, eventObject, type AuditSink, type DeliveryResult } from './sink.js';

export interface HttpSinkOptions {
  url: string;
  format: 'jsonl' | 'otlp';
  batch: number;
  timeoutMs: number;
  /** The headers of one request, secrets resolved now (a rotated secret is used by the next batch). */
  headers: () => Promise<Record<string, string>>;
  resource: OtlpResource;
}

/** How much of an error answer is kept for the status (never the request's headers). */
const ERROR_BODY_CHARS = 200;

export class HttpSink implements AuditSink {
  readonly type = 'http' as const;
  readonly batch: number;
  readonly target: string;

  constructor(
    readonly name: string,
    private readonly opts: HttpSinkOptions,
  ) {
    this.batch = opts.batch;
    // Shown in the status and in errors: no user info, no query (either may hold a token).
    const u = new URL(opts.url);
    this.target = `${u.protocol}//${u.host}${u.pathname}`;
  }

  async deliver(events: AuditEvent[], signal: AbortSignal): Promise<DeliveryResult> {
    const otlp = this.opts.format === 'otlp';
    const body = otlp ? JSON.stringify(otlpLogs(events, this.opts.resource, eventObject)) : `${events.map(eventLine).join('\n')}\n`;
    const headers = { ...(await this.opts.headers()), 'content-type': otlp ? 'application/json' : 'application/x-ndjson' };
    let res: Response;
    try {
      // Redirects are not followed: the headers (a SIEM token) go to the configured URL only.
      res = await fetch(this.opts.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(this.opts.timeoutMs)]) });
    } catch (err) {
      throw new Error(`POST ${this.target}: ${describeError(err)}`);
    }
    const text = await head(res, ERROR_BODY_CHARS * 4);
    if (res.status < 200 || res.status > 299) {
      const said = text.trim().slice(0, ERROR_BODY_CHARS);
      throw new Error(redactText(`POST ${this.target}: answered ${res.status}${said ? `: ${said}` : ''}`));
    }
    return { rotated: false };
  }

  async close(): Promise<void> {}
}

/** The first `max` bytes of an answer's body (the rest is not read: a receiver cannot make us buffer a huge answer). */
async function head(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut off is still an answer: its status decides.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, max);
}
