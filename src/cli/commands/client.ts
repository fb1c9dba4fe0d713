// `mandate client list|revoke`: the MCP clients registered for the authorization-code flow
// (RFC 7591 registrations and Client ID Metadata Documents). Revoking one ends every task it holds.

import type { Command } from 'commander';
import { action } from '../context.js';
import { printJson, printTable } from '../output.js';

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('MCP clients registered through the standard OAuth flow');
  client
    .command('list')
    .description('list registered clients (newest first)')
    .option('--kind <kind>', 'dcr (registered) or cimd (metadata document)')
    .option('--all', 'include revoked clients')
    .option('--json', 'print JSON')
    .action(
      action(async (c, cmd) => {
        const o = cmd.opts();
        const q = new URLSearchParams({ ...(o.kind ? { kind: o.kind } : {}), ...(o.all ? { all: 'true' } : {}) }).toString();
        const r = await c.call<{ clients: Array<Record<string, unknown>> }>('GET', `/api/v1/oauth/clients${q ? `?${q}` : ''}`);
        if (o.json) printJson(r.clients);
        else printTable(r.clients, ['id', 'kind', 'name', 'createdAt', 'createdBy', 'revokedAt']);
      }),
    );
  client
    .command('revoke <client-id>')
    .description('revoke a client: its tasks end now, and it can no longer sign in or refresh')
    .option('--json', 'print JSON')
    .action(
      action(async (c, cmd, id: string) => {
        const r = await c.call<Record<string, unknown>>('POST', `/api/v1/oauth/clients/${encodeURIComponent(id)}/revoke`, { json: {} });
        if (cmd.opts().json) printJson(r);
        else process.stdout.write(`revoked client ${r.id}; ${r.tasksEnded} task(s) ended\n`);
      }),
    );
}
