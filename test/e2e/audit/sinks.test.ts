// Audit streaming end to end. A real server, a real agent making real tool calls through the MCP
// SDK client: the file sink gets every event with its chain hash, in rotated files with signed
// checkpoints, and `mandate audit verify-export` passes on them. Attacks stopped: a line deleted
// from the archive in the middle, and a rotated file truncated past a checkpoint (both named by
// the first missing seq); the SIEM token never shows in the status. Then two replicas on one
// PostgreSQL database stream to one HTTP receiver: each event arrives exactly once, in order,
// also when the delivering replica shuts down and the other takes over.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerAuditCommands } from '../../../src/cli/commands/audit.js';
import type { AuditEvent } from '../../../src/storage/types.js';
import { connectAgent, text } from '../../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { createTestAgent, PATIENCE, REPO, startTask, startTestServer, type TestServer } from '../../helpers/server.js';

interface SinkStatus {
  name: string;
  cursor: number;
  lag: number;
  here: boolean;
  holder: string | null;
  lastError: string | null;
  target: string;
}
interface Status {
  head: number;
  sinks: SinkStatus[];
  checkpoint: { lastEvent: number | null };
}

/** Polls until `check` returns a value (not undefined); a guard against a hang, never a timing assertion. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PATIENCE;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function writeConfig(dir: string, audit: string, store = ''): string {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(join(dir, 'policies', 'p.cedar'), 'permit (principal is Agent, action == Action::"startTask", resource);\npermit (principal is Agent, action in Action::"read", resource);\n');
  const path = join(dir, 'mandate.yaml');
  writeFileSync(
    path,
    `trustDomain: sinks.test
${store}
policies: { dir: ${join(dir, 'policies')}, schema: ${join(REPO, 'policies/mandate.cedarschema')} }
upstreams:
  stdio:
    command: ${process.execPath}
    args: [${join(REPO, 'test/fixtures/upstreams/stdio-server.mjs')}]
${audit}
`,
  );
  return path;
}

/** `n` real echo calls by a fresh task of `agent` on server `s`, through the MCP SDK client. */
async function echoCalls(s: TestServer, agent: Awaited<ReturnType<typeof createTestAgent>>, n: number, label: string): Promise<void> {
  const t = await startTask(s, agent, ['stdio.echo']);
  const client: Client = await connectAgent(s, t.token);
  try {
    for (let i = 0; i < n; i++) {
      const r = await client.callTool({ name: 'stdio.echo', arguments: { text: `${label} ${i}` } });
      expect(text(r)).toContain(`${label} ${i}`);
    }
  } finally {
    await client.close();
  }
}

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** `mandate audit verify-export <files>` run in-process through the real CLI command (JWKS from the server). */
async function verifyExportCli(s: TestServer, configPath: string, files: string[]): Promise<{ code: number; out: string }> {
  const program = new Command('mandate').option('--config <file>').option('--data-dir <dir>').option('--url <url>').option('--token <token>').exitOverride();
  registerAuditCommands(program);
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const ewrite = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const exit = vi.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
    throw new Exit(Number(code ?? 0));
  });
  try {
    await program.parseAsync(['node', 'mandate', '--config', configPath, '--data-dir', s.dataDir, '--url', s.url, 'audit', 'verify-export', ...files]);
    return { code: 0, out };
  } catch (err) {
    if (err instanceof Exit) return { code: err.code, out };
    throw err;
  } finally {
    write.mockRestore();
    ewrite.mockRestore();
    exit.mockRestore();
  }
}

const readLines = (f: string): string[] => readFileSync(f, 'utf8').split('\n').filter(Boolean);

describe('file sink on a real server, and verify-export', () => {
  let s: TestServer;
  let dir: string;
  let configPath: string;
  let archive: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mandate-sinks-'));
    archive = join(dir, 'archive');
    configPath = writeConfig(
      dir,
      `audit:
  sinks:
    archive: { type: file, path: archive/audit.jsonl, maxBytes: 4096, keep: 100 }
  checkpoint: { every: 8, interval: 0 }`,
    );
    s = await startTestServer({ config: configPath });
  });
  afterAll(async () => s?.close());

  /** The archive's files, oldest first. */
  const files = () =>
    readdirSync(archive)
      .sort((a, b) => (Number(b.split('.').pop()) || 0) - (Number(a.split('.').pop()) || 0))
      .map((f) => join(archive, f));

  it('streams every event of real tool calls to the file, with its chain hash, in order', async () => {
    const agent = await createTestAgent(s);
    // Two rounds of calls, each waited for until it is delivered and vouched for by a checkpoint
    // (more than `every` events each), so the archive holds checkpoints in several files.
    let st!: Status;
    for (const round of ['first', 'second']) {
      await echoCalls(s, agent, 6, `${round} round`);
      await s.m.audit.drain();
      const lastCall = (await s.m.store.listAudit({ type: 'tool.call', newestFirst: true, limit: 1 }))[0]!.seq;
      // Caught up: everything up to the cursor is durable in the files (the cursor moves after fsync).
      st = await waitFor('the file sink to catch up past a checkpoint', async () => {
        const r = await s.api<Status>('GET', '/api/v1/audit/sinks');
        const cp = r.body.checkpoint.lastEvent;
        return cp !== null && cp > lastCall && r.body.sinks[0]!.cursor >= cp ? r.body : undefined;
      });
    }
    expect(st.sinks[0]).toMatchObject({ name: 'archive', here: true, lastError: null, target: join(archive, 'audit.jsonl') });
    const cursor = st.sinks[0]!.cursor;
    const lines = files()
      .flatMap(readLines)
      .slice(0, cursor)
      .map((l) => JSON.parse(l) as AuditEvent);
    const stored = await s.m.store.listAudit({ limit: 10_000 });
    expect(lines).toEqual(stored.slice(0, cursor));
    expect(lines.filter((e) => e.type === 'tool.call').map((e) => (e.data as { tool?: string }).tool)).toEqual(Array(12).fill('stdio.echo'));
    // Rotated, with signed checkpoints in the stream (themselves chained events).
    expect(files().length).toBeGreaterThan(2);
    expect(lines.filter((e) => e.type === 'audit.checkpoint').length).toBeGreaterThan(1);
  });

  it('passes `mandate audit verify-export` on the streamed files, checking signatures against the server JWKS', async () => {
    const r = await verifyExportCli(s, configPath, files());
    expect(r.out).toMatch(/^archive intact: events 1–\d+ \(\d+ in \d+ files\); \d+ signed checkpoints verified/);
    expect(r.code).toBe(0);
  });

  it('fails with the missing seq after a line in the middle is deleted (attack: removing one record from the archive)', async () => {
    const [, f] = files();
    const original = readFileSync(f!, 'utf8');
    const lines = readLines(f!);
    const removed = JSON.parse(lines[1]!) as AuditEvent;
    writeFileSync(f!, `${lines.filter((_, i) => i !== 1).join('\n')}\n`);
    try {
      const r = await verifyExportCli(s, configPath, files());
      expect(r.code).toBe(3);
      expect(r.out).toContain(`archive BROKEN at event ${removed.seq}: event ${removed.seq} is missing: event ${removed.seq - 1} (`);
      expect(r.out).toContain('error: archive verification failed');
    } finally {
      writeFileSync(f!, original);
    }
  });

  it('fails with the first lost seq after a rotated file is truncated past a checkpoint (attack: cutting the end of an old file)', async () => {
    const all = files();
    // A rotated file holding a checkpoint, and a later file whose checkpoint vouches for what it held.
    const target = all.slice(0, -1).find((f) => readLines(f).some((l) => (JSON.parse(l) as AuditEvent).type === 'audit.checkpoint'))!;
    expect(target).toBeDefined();
    const lines = readLines(target);
    const cpIndex = lines.findIndex((l) => (JSON.parse(l) as AuditEvent).type === 'audit.checkpoint');
    const firstCut = (JSON.parse(lines[Math.max(cpIndex - 1, 0)]!) as AuditEvent).seq;
    // Cut the file short of its checkpoint: the event before it, the checkpoint and all after are gone.
    writeFileSync(target, `${lines.slice(0, Math.max(cpIndex - 1, 0)).join('\n')}\n`);
    const r = await verifyExportCli(s, configPath, all);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(new RegExp(`archive BROKEN at event ${firstCut}: event ${firstCut} is missing\\b.*; the checkpoint at event \\d+ \\(.*\\), signed on .*, vouches for every event up to \\d+`));
  });

  it('shows the sinks only to an admin (attack: an agent credential or no token reading where the audit goes)', async () => {
    expect((await s.api('GET', '/api/v1/audit/sinks', undefined, { token: null })).status).toBe(401);
    const agent = await createTestAgent(s);
    const t = await startTask(s, agent, ['stdio.echo']);
    expect((await s.api('GET', '/api/v1/audit/sinks', undefined, { token: t.token })).status).toBe(401);
  });
});

/** An HTTP receiver (a SIEM's ingest endpoint): keeps every JSON line it is sent. */
async function receiver(): Promise<{ url: string; lines: AuditEvent[]; requests: number; close(): Promise<void> }> {
  const rx: { url: string; lines: AuditEvent[]; requests: number; close(): Promise<void> } = { url: '', lines: [], requests: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      rx.requests++;
      for (const l of body.split('\n').filter(Boolean)) rx.lines.push(JSON.parse(l) as AuditEvent);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rx.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`;
  rx.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return rx;
}

describe('two replicas on PostgreSQL streaming to one receiver', () => {
  let db: TestDatabase;
  let rx: Awaited<ReturnType<typeof receiver>>;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    rx = await receiver();
  });
  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => undefined);
    await rx?.close();
    await db?.drop();
  });

  it('delivers each event exactly once and in order, whichever replica recorded it, and across a handover', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-sinks-pg-'));
    const configPath = writeConfig(
      dir,
      `audit:
  sinks:
    siem: { type: http, url: "${rx.url}", batch: 7 }
  checkpoint: { every: 10, interval: 0 }`,
      `store: { url: "${db.url}", poolSize: 4 }`,
    );
    // One deployment: both replicas share the signing key and admin token (a secrets volume).
    const dataDir = join(dir, 'data');
    servers.push(await startTestServer({ config: configPath, dataDir }));
    servers.push(await startTestServer({ config: configPath, dataDir }));
    const [a, b] = servers as [TestServer, TestServer];
    const agent = await createTestAgent(a);
    await Promise.all([echoCalls(a, agent, 6, 'via a'), echoCalls(b, agent, 6, 'via b')]);
    await a.m.audit.drain();
    await b.m.audit.drain();

    const caughtUp = async (s: TestServer, atLeast: number) =>
      waitFor('the receiver to have every event', async () => {
        const st = (await s.api<Status>('GET', '/api/v1/audit/sinks')).body;
        const got = new Set(rx.lines.map((e) => e.seq));
        return st.sinks[0]!.lag === 0 && st.sinks[0]!.cursor >= atLeast && got.size >= st.sinks[0]!.cursor ? st : undefined;
      });
    const head1 = (await a.m.store.auditHead())!.seq;
    const st = await caughtUp(a, head1);
    // One replica delivers; the other stands by.
    const views = await Promise.all(servers.map(async (s) => (await s.api<Status>('GET', '/api/v1/audit/sinks')).body.sinks[0]!));
    expect(views.filter((v) => v.here)).toHaveLength(1);
    expect(views[0]!.holder).toBe(views[1]!.holder);

    const seqs = rx.lines.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(st.sinks[0]!.cursor);
    const stored = await a.m.store.listAudit({ limit: 10_000 });
    expect(rx.lines).toEqual(stored.slice(0, rx.lines.length));
    const calls = rx.lines.filter((e) => e.type === 'tool.call');
    expect(calls).toHaveLength(12);

    // The delivering replica shuts down: it gives its lease up and the other carries on from the cursor.
    const active = views[0]!.here ? 0 : 1;
    const survivor = servers[1 - active]!;
    await servers[active]!.close();
    servers.splice(active, 1);
    await echoCalls(survivor, agent, 4, 'after handover');
    await survivor.m.audit.drain();
    await caughtUp(survivor, (await survivor.m.store.auditHead())!.seq);
    const after = rx.lines.map((e) => e.seq);
    expect(after).toEqual(Array.from({ length: after.length }, (_, i) => i + 1));
    expect(rx.lines.filter((e) => e.type === 'tool.call')).toHaveLength(16);
    expect((await survivor.api<Status>('GET', '/api/v1/audit/sinks')).body.sinks[0]).toMatchObject({ here: true, lastError: null });
  });
});
