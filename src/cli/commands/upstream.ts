// `mandate upstream list|diff|accept`: upstream status and tool pinning (rug-pull protection).

import type { Command } from 'commander';
import { jsonDiff } from '../../core/json-diff.js';
import { action } from '../context.js';
import { printJson, printTable } from '../output.js';

interface PinView {
  tool: string;
  status: 'accepted' | 'changed' | 'new';
  accepted: Record<string, unknown> | null;
  pending: Record<string, unknown> | null;
}

/** A line-level view of what changed between two JSON definitions. */
function diffLines(before: unknown, after: unknown): string[] {
  return jsonDiff(before, after).map((l) => `${l.op} ${l.text}`);
}

export function registerUpstreamCommands(program: Command): void {
  const up = program.command('upstream').description('upstream MCP servers and their pinned tool definitions');

  up.command('list')
    .description('upstreams, connection state and tool counts')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const r = await client.call<{ upstreams: Array<Record<string, unknown>> }>('GET', '/api/v1/upstreams');
        if (cmd.opts().json) printJson(r.upstreams);
        else printTable(r.upstreams, ['name', 'transport', 'sharing', 'connected', 'tools', 'blocked', 'restarts', 'lastError']);
      }),
    );

  up.command('diff <upstream>')
    .description('tools whose definition changed (or that are new) and wait for acceptance, with what changed')
    .option('--all', 'also list accepted tools')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd, name: string) => {
        const o = cmd.opts();
        const r = await client.call<{ tools: PinView[] }>('GET', `/api/v1/upstreams/${encodeURIComponent(name)}/pins`);
        const tools = o.all ? r.tools : r.tools.filter((t) => t.status !== 'accepted');
        if (o.json) return printJson(tools);
        if (tools.length === 0) {
          process.stdout.write(`no pending changes for upstream ${name}\n`);
          return;
        }
        for (const t of tools) {
          process.stdout.write(`${t.status.toUpperCase()}  ${name}.${t.tool}\n`);
          if (t.status === 'changed') for (const l of diffLines(t.accepted, t.pending)) process.stdout.write(`    ${l}\n`);
          else if (t.status === 'new') process.stdout.write(`    ${JSON.stringify(t.pending)}\n`);
        }
        process.stdout.write(`accept with: mandate upstream accept ${name} [tool …]\n`);
      }),
    );

  up.command('accept <upstream> [tools...]')
    .description('accept the pending definitions (all of the upstream, or the named tools)')
    .action(
      action(async (client, _cmd, name: string, tools: string[]) => {
        const r = await client.call<{ accepted: string[] }>('POST', `/api/v1/upstreams/${encodeURIComponent(name)}/accept`, { json: { tools } });
        process.stdout.write(r.accepted.length ? `accepted: ${r.accepted.map((t) => `${name}.${t}`).join(', ')}\n` : 'nothing to accept\n');
      }),
    );
}
