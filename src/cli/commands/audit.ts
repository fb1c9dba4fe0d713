// `mandate audit tail|verify|export`.

import { createWriteStream, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describeVerifyExport, verifyExport } from '../../audit/sinks/verify-export.js';
import { CliError } from '../client.js';
import { action } from '../context.js';
import { printJson } from '../output.js';

interface Event {
  seq: number;
  ts: number;
  type: string;
  actor: string;
  agentId: string | null;
  taskId: string | null;
  decision: string | null;
  outcome: string | null;
  data: Record<string, unknown>;
}

function line(e: Event): string {
  const who = e.actor.startsWith('spiffe://') ? e.actor.split('/').pop() : e.actor;
  const reason = Array.isArray(e.data.reasons) ? ` — ${(e.data.reasons as string[]).join('; ')}` : typeof e.data.reason === 'string' ? ` — ${e.data.reason}` : '';
  return `${String(e.seq).padStart(6)}  ${new Date(e.ts).toISOString()}  ${e.type.padEnd(14)} ${String(who).padEnd(16)} ${(e.outcome ?? '').padEnd(9)} ${e.taskId ?? ''}${reason}`;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('read, verify and export the tamper-evident audit log');

  audit
    .command('tail')
    .description('show the latest events (and follow new ones with -f)')
    .option('-n, --lines <n>', 'how many', '20')
    .option('-f, --follow', 'keep printing new events')
    .option('--task <id>', 'only this task')
    .option('--agent <id>', 'only this agent (full id)')
    .option('--type <type>', 'only this event type (task.start, auth.failure …)')
    .option('--json', 'one JSON object per line')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const filters = new URLSearchParams();
        if (o.task) filters.set('task', o.task);
        if (o.agent) filters.set('agent', o.agent);
        if (o.type) filters.set('type', o.type);
        const r = await client.call<{ events: Event[] }>('GET', `/api/v1/audit?order=desc&limit=${Number.parseInt(o.lines, 10) || 20}&${filters}`);
        const events = r.events.reverse();
        const print = (e: Event) => process.stdout.write(`${o.json ? JSON.stringify(e) : line(e)}\n`);
        events.forEach(print);
        if (!o.follow) return;
        let after = events.length ? events[events.length - 1]!.seq : 0;
        for (;;) {
          await new Promise((res) => setTimeout(res, 1000));
          const next = await client.call<{ events: Event[] }>('GET', `/api/v1/audit?after=${after}&limit=1000&${filters}`);
          for (const e of next.events) {
            print(e);
            after = e.seq;
          }
        }
      }),
    );

  audit
    .command('verify')
    .description('walk the hash chain and report the first broken link')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const r = await client.call<{ ok: boolean; checked: number; head: { seq: number; hash: string } | null; broken?: { seq: number; reason: string } }>('POST', '/api/v1/audit/verify', { json: {} });
        if (o.json) printJson(r);
        else if (r.ok) process.stdout.write(`audit log intact: ${r.checked} events verified${r.head ? `, head ${r.head.seq} ${r.head.hash}` : ''}\n`);
        else process.stdout.write(`audit log BROKEN at event ${r.broken!.seq}: ${r.broken!.reason} (${r.checked} events verified before it)\n`);
        if (!r.ok) throw new CliError('audit verification failed', 3);
      }),
    );

  audit
    .command('export')
    .description('export every event as JSON Lines')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--after <seq>', 'only events after this sequence number', '0')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const r = await client.request('GET', `/api/v1/audit/export?after=${Number.parseInt(o.after, 10) || 0}`);
        if (r.status >= 400) throw new CliError(`export failed: ${r.text}`);
        if (o.out) {
          const s = createWriteStream(o.out, { mode: 0o600 });
          s.end(r.text);
          await new Promise<void>((res) => s.on('finish', () => res()));
          process.stderr.write(`exported ${r.text ? r.text.trimEnd().split('\n').length : 0} events to ${o.out}\n`);
        } else process.stdout.write(r.text);
      }),
    );

  audit
    .command('verify-export')
    .description('verify exported or streamed JSON Lines files: chain links, signed checkpoints, nothing missing or cut')
    .argument('<files...>', 'the files (any order), e.g. audit.jsonl audit.jsonl.1 …')
    .option('--jwks <file>', "Mandate's public keys (default: the server's /.well-known/jwks.json)")
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd, files: string[]) => {
        const o = cmd.opts();
        let jwks: { keys: unknown[] };
        if (o.jwks) {
          try {
            jwks = JSON.parse(readFileSync(o.jwks, 'utf8'));
          } catch (err) {
            throw new CliError(`--jwks ${o.jwks}: not a readable JWKS file (${(err as Error).message})`);
          }
        } else jwks = await client.call('GET', '/.well-known/jwks.json', { auth: 'none' });
        if (!Array.isArray(jwks?.keys)) throw new CliError('the JWKS has no `keys` array');
        const r = await verifyExport(files, jwks as never);
        if (o.json) printJson(r);
        else process.stdout.write(`${describeVerifyExport(r)}\n`);
        if (!r.ok) throw new CliError('archive verification failed', 3);
      }),
    );
  void printJson;
}
