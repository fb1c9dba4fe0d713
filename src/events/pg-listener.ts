// Cross-replica events over PostgreSQL LISTEN/NOTIFY. The database announces every change other
// replicas hold in memory (triggers in migrations/postgres/002_events.sql, delivered on commit);
// this listener hears them on one dedicated connection and hands them to the replica.
//
// Trust: while the listening connection is down this replica may have missed events, so it is
// `stale`: credential checks refuse (503) instead of answering from a revocation set that may be
// out of date. On reconnection it LISTENs first and then catches up from the store (revocations,
// agent statuses, caches), and only then trusts itself again — an event that lands between the
// LISTEN and the re-read is seen twice, never missed.

import pg from 'pg';
import type { Logger } from 'pino';

export const EVENTS_CHANNEL = 'mandate_events';

/** One change announced by the database. */
export type StoreEvent =
  | { k: 'revoked'; task: string; at: number; exp: number; reason: string }
  | { k: 'agent'; id: string; status: string }
  | { k: 'approval'; id: string; status: string }
  | { k: 'pins'; upstream: string }
  | { k: 'policy'; version: number; hash: string }
  | { k: 'callers'; table: string };

export interface PgListenerOptions {
  client: () => pg.ClientConfig;
  /** Called for every event heard. */
  onEvent: (e: StoreEvent) => void;
  /** Re-reads what may have been missed; the listener is trusted again only once it resolves. */
  catchUp: () => Promise<void>;
  /** Called when trust is lost (reason) or regained (null). */
  onTrust: (untrusted: string | null) => void;
  logger?: Logger | undefined;
  /** Longest pause between reconnection attempts, ms. Default 2000. */
  maxBackoffMs?: number;
  /**
   * How often the listening connection is checked with a round trip, ms (a half-open TCP
   * connection delivers nothing and reports nothing). Default 5000; it must answer within as long.
   */
  heartbeatMs?: number;
}

export class PgListener {
  private client: pg.Client | null = null;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Why this replica's view may be out of date, or null when it is listening and caught up. */
  untrusted: string | null = 'not yet listening for changes made by other replicas';
  /** Events heard (for tests and metrics). */
  heard = 0;

  constructor(private readonly opts: PgListenerOptions) {}

  /** Connects, listens and catches up; resolves once trusted (or throws if the first attempt fails). */
  async start(): Promise<void> {
    await this.connect();
  }

  private setTrust(reason: string | null): void {
    if (this.untrusted === reason) return;
    const was = this.untrusted;
    this.untrusted = reason;
    if ((was === null) !== (reason === null) || reason === null) this.opts.onTrust(reason);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.opts.client());
    this.client = client;
    let lost = false;
    const onLost = (why: string) => {
      if (lost || this.client !== client) return;
      lost = true;
      clearInterval(this.heartbeat);
      this.client = null;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.setTrust(`lost the connection that hears other replicas' changes (${why}); refusing until it is back and caught up`);
      this.opts.logger?.warn({ why }, 'cross-replica event connection lost; this replica refuses credential checks until it reconnects');
      this.schedule();
    };
    client.on('error', (err) => onLost(err.message));
    client.on('end', () => onLost('connection closed'));
    client.on('notification', (n) => {
      if (n.channel !== EVENTS_CHANNEL || !n.payload) return;
      let e: StoreEvent;
      try {
        e = JSON.parse(n.payload) as StoreEvent;
      } catch {
        return;
      }
      this.heard++;
      try {
        this.opts.onEvent(e);
      } catch (err) {
        this.opts.logger?.error({ error: (err as Error).message, event: e.k }, 'applying a cross-replica event failed');
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      await this.opts.catchUp();
    } catch (err) {
      onLost((err as Error).message);
      throw err;
    }
    if (this.client !== client) return;
    this.attempt = 0;
    this.setTrust(null);
    this.beat(client, onLost);
  }

  private beat(client: pg.Client, onLost: (why: string) => void): void {
    const every = this.opts.heartbeatMs ?? 5000;
    clearInterval(this.heartbeat);
    let busy = false;
    this.heartbeat = setInterval(() => {
      if (this.client !== client) return clearInterval(this.heartbeat);
      if (busy) return;
      busy = true;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${every} ms`)), every);
      });
      Promise.race([client.query('SELECT 1'), late])
        .catch((err: Error) => onLost(`heartbeat failed: ${err.message}`))
        .finally(() => {
          clearTimeout(timer);
          busy = false;
        });
    }, every);
    this.heartbeat.unref();
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const delay = Math.min(this.opts.maxBackoffMs ?? 2000, 100 * 2 ** this.attempt++);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      this.connect().catch(() => undefined); // a failed attempt schedules the next one
    }, delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
