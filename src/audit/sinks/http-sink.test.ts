// The http sink against a real local HTTP receiver: a receiver that fails its first attempts
// gets every event once and in order (the cursor moves only after a 2xx), a hanging one times
// out and is retried, redirects are not followed, header secrets are sent and never shown, and
// the OTLP/HTTP logs JSON shape carries each event whole.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { ManualClock } from '../../core/clock.js';
import { SigningKeys } from '../../identity/signing-keys.js';
import { SecretBroker } from '../../secrets/broker.js';
import { SqliteStore } from '../../storage/sqlite/sqlite-store.js';
import type { AuditEvent } from '../../storage/types.js';
import { AuditLog } from '../audit-log.js';
import { recomputeHash } from '../chain.js';
import { createSinkRunner } from './from-config.js';
import { HttpSink } from './http-sink.js';
import { SinkRunner } from './runner.js';
import { eventLine } from './sink.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver that answers `answer(n)` to its nth request (from 1): a status, or 'hang'. */
async function receiver(answer: (n: number) => number | 'hang' | { status: number; body?: string; location?: string } = () => 200) {
  const got: Received[] = [];
  const stored: string[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      const a = answer(++n);
      if (a === 'hang') return;
      const r = typeof a === 'number' ? { status: a } : a;
      if (r.status >= 200 && r.status < 300) stored.push(body);
      res.writeHead(r.status, r.location ? { location: r.location } : {});
      res.end(r.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`;
  return {
    url,
    got,
    /** The bodies it answered 2xx to, in order. */
    stored,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function env() {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-hsink-'));
  const store = new SqliteStore({ path: join(dir, 'mandate.db') });
  closers.push(() => store.close());
  const clock = new ManualClock();
  return { dir, store, clock, audit: new AuditLog(store, clock), keys: await SigningKeys.loadOrCreate(dir, clock.now()) };
}

type Env = Awaited<ReturnType<typeof env>>;

async function record(e: Env, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => e.audit.record({ type: 'tool.call', actor: 'system', decision: i % 3 ? 'allow' : 'deny', outcome: 'success', data: { tool: 'stdio.echo', i, ratio: 0.5, tags: ['a', null] } })));
}

const seqsOf = (bodies: string[]): number[] => bodies.flatMap((b) => b.trim().split('\n').map((l) => (JSON.parse(l) as AuditEvent).seq));

function httpSink(url: string, over: Partial<ConstructorParameters<typeof HttpSink>[1]> = {}): HttpSink {
  return new HttpSink('siem', { url, format: 'jsonl', batch: 4, timeoutMs: 10_000, headers: async () => ({}), resource: { serviceName: 'mandate', version: 'test' }, ...over });
}

/** Ticks (moving the clock past any backoff) until `done`; a guard against a hang, not a timing check. */
async function until(e: Env, r: SinkRunner, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    await r.tick();
    e.clock.advance(60_000);
  }
}

describe('http sink', () => {
  it('gets every event to a receiver that fails its first attempts: once each, in order, nothing skipped', async () => {
    const e = await env();
    const rx = await receiver((n) => (n <= 3 ? 503 : 200));
    closers.push(rx.close);
    const r = new SinkRunner({ store: e.store, audit: e.audit, keys: e.keys, clock: e.clock, sinks: [httpSink(rx.url)], checkpoint: { every: 0, interval: 0 } });
    await record(e, 10);
    await r.tick();
    expect((await r.status()).sinks[0]).toMatchObject({ cursor: 0, lag: 10, lastError: `POST ${rx.url}: answered 503`, retry: { attempts: 1 } });
    await until(e, r, () => seqsOf(rx.stored).length >= 10);
    expect(rx.got.length).toBe(3 + 3);
    // The failed attempts all carried the first batch again: the cursor never moved past it.
    expect(rx.got.slice(0, 4).map((g) => seqsOf([g.body]))).toEqual([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]);
    expect(seqsOf(rx.stored)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(rx.got[0]!.headers['content-type']).toBe('application/x-ndjson');
    // Each line is the event as exported, hash and all, so the receiver can check the chain.
    const lines = rx.stored.join('').trim().split('\n');
    const events = await e.store.listAudit();
    expect(lines).toEqual(events.map(eventLine));
    expect((await r.status()).sinks[0]).toMatchObject({ cursor: 10, lag: 0, lastError: null, retry: null });
  });

  it('fails a request the receiver does not answer within the timeout, and sends the same batch again', async () => {
    const e = await env();
    const rx = await receiver((n) => (n === 1 ? 'hang' : 200));
    closers.push(rx.close);
    const r = new SinkRunner({ store: e.store, audit: e.audit, keys: e.keys, clock: e.clock, sinks: [httpSink(rx.url, { timeoutMs: 200 })], checkpoint: { every: 0, interval: 0 } });
    await record(e, 2);
    await r.tick();
    expect((await r.status()).sinks[0]!.lastError).toMatch(/\/ingest: timed out$/);
    await until(e, r, () => rx.stored.length > 0);
    expect(seqsOf(rx.stored)).toEqual([1, 2]);
  });

  it('does not follow a redirect (attack: a receiver redirecting the SIEM token to another host)', async () => {
    const e = await env();
    const elsewhere = await receiver();
    closers.push(elsewhere.close);
    const rx = await receiver(() => ({ status: 307, location: elsewhere.url }));
    closers.push(rx.close);
    const sink = httpSink(rx.url, { headers: async () => ({ authorization: 'Bearer siem-token-0123456789' }) });
    await expect(sink.deliver((await (async () => (await record(e, 1), e.store.listAudit()))()), new AbortController().signal)).rejects.toThrow(/answered 307/);
    expect(elsewhere.got).toEqual([]);
  });

  it('sends header secrets from `${secret:…}` and never shows them (attack: a receiver echoing the request into the error)', async () => {
    const e = await env();
    const token = `siem-${Math.random().toString(36).slice(2)}-token-value`;
    process.env.MANDATE_TEST_SIEM_TOKEN = token;
    const rx = await receiver((n) => (n === 1 ? { status: 401, body: `bad credentials: Bearer ${token}` } : 200));
    closers.push(rx.close);
    const cfgPath = join(e.dir, 'mandate.yaml');
    writeFileSync(
      cfgPath,
      `secrets: { siem: { env: MANDATE_TEST_SIEM_TOKEN } }
audit:
  sinks:
    siem: { type: http, url: "${rx.url}?api_key=in-query", headers: { Authorization: "Bearer \${secret:siem}", X-Tenant: acme }, batch: 10 }
  checkpoint: { every: 0, interval: 0 }
`,
    );
    const config = loadConfig({ configPath: cfgPath, dataDir: e.dir });
    const secrets = new SecretBroker({ secrets: config.secrets, vault: config.vault, clock: e.clock });
    const r = createSinkRunner({ config, store: e.store, audit: e.audit, keys: e.keys, clock: e.clock, secrets });
    await record(e, 2);
    await r.tick();
    expect(rx.got[0]!.headers.authorization).toBe(`Bearer ${token}`);
    expect(rx.got[0]!.headers['x-tenant']).toBe('acme');
    const failing = JSON.stringify(await r.status());
    expect(failing).toContain('answered 401');
    expect(failing).not.toContain(token);
    // The URL shown has no query (it may hold a key) and no user info.
    expect(failing).not.toContain('in-query');
    await until(e, r, () => rx.stored.length > 0);
    expect(JSON.stringify(await r.status())).not.toContain(token);
    expect(seqsOf(rx.stored)).toEqual([1, 2]);
  });

  it('refuses at start a header naming a secret that is not declared', async () => {
    const e = await env();
    const cfgPath = join(e.dir, 'mandate.yaml');
    writeFileSync(cfgPath, `audit: { sinks: { siem: { type: http, url: "http://127.0.0.1:9/x", headers: { Authorization: "Bearer \${secret:nope}" } } } }\n`);
    const config = loadConfig({ configPath: cfgPath, dataDir: e.dir });
    const secrets = new SecretBroker({ secrets: config.secrets, vault: config.vault, clock: e.clock });
    expect(() => createSinkRunner({ config, store: e.store, audit: e.audit, keys: e.keys, clock: e.clock, secrets })).toThrow(
      expect.objectContaining({ code: 'config_invalid', message: expect.stringContaining('audit.sinks.siem.headers.Authorization uses `${secret:nope}`') }),
    );
  });

  it('speaks OTLP/HTTP logs JSON: one record per event, the whole event as body, seq and hash as attributes', async () => {
    const e = await env();
    const rx = await receiver();
    closers.push(rx.close);
    const r = new SinkRunner({ store: e.store, audit: e.audit, keys: e.keys, clock: e.clock, sinks: [httpSink(rx.url, { format: 'otlp', batch: 10 })], checkpoint: { every: 0, interval: 0 } });
    await record(e, 3);
    await r.tick();
    expect(rx.got).toHaveLength(1);
    expect(rx.got[0]!.headers['content-type']).toBe('application/json');
    const req = JSON.parse(rx.got[0]!.body);
    expect(req.resourceLogs).toHaveLength(1);
    const rl = req.resourceLogs[0];
    expect(rl.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'mandate' } });
    expect(rl.scopeLogs[0].scope).toEqual({ name: 'mandate.audit', version: 'test' });
    const records = rl.scopeLogs[0].logRecords as Array<Record<string, unknown>>;
    const events = await e.store.listAudit();
    expect(records).toHaveLength(3);
    records.forEach((rec, i) => {
      const ev = events[i]!;
      expect(rec.timeUnixNano).toBe(`${ev.ts}000000`);
      expect(rec.eventName).toBe('tool.call');
      expect(rec.severityText).toBe(ev.decision === 'deny' ? 'WARN' : 'INFO');
      expect(rec.attributes).toContainEqual({ key: 'mandate.audit.seq', value: { intValue: String(ev.seq) } });
      expect(rec.attributes).toContainEqual({ key: 'mandate.audit.hash', value: { stringValue: ev.hash } });
      expect(rec.attributes).toContainEqual({ key: 'mandate.audit.prev_hash', value: { stringValue: ev.prevHash } });
      // The body is the event, lossless: decoded, it has the line's fields and its hash still verifies.
      const body = fromAnyValue(rec.body) as AuditEvent;
      expect(JSON.stringify(body)).toBe(eventLine(ev));
      expect(recomputeHash(body)).toBe(ev.hash);
    });
  });
});

/** OTLP AnyValue back to JSON (what a receiver does to check the chain). */
function fromAnyValue(v: unknown): unknown {
  const a = v as Record<string, unknown>;
  if ('stringValue' in a) return a.stringValue;
  if ('boolValue' in a) return a.boolValue;
  if ('intValue' in a) return Number(a.intValue);
  if ('doubleValue' in a) return a.doubleValue;
  if ('arrayValue' in a) return ((a.arrayValue as { values: unknown[] }).values ?? []).map(fromAnyValue);
  if ('kvlistValue' in a) return Object.fromEntries(((a.kvlistValue as { values: Array<{ key: string; value: unknown }> }).values ?? []).map((kv) => [kv.key, fromAnyValue(kv.value)]));
  return null;
}
