// `mandate token create|list|revoke`: tokens for enforcement points (PEPs) calling the PDP.

import type { Command } from 'commander';
import { action } from '../context.js';
import { printJson, printTable } from '../output.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('tokens for enforcement points (AuthZEN PDP, introspection)');
  token
    .command('create')
    .description('create a PEP token; it is printed once')
    .requiredOption('--name <name>', 'who uses it, e.g. api-gateway')
    .option('--role <role>', 'pep (default) or admin', 'pep')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const r = await client.call<Record<string, unknown>>('POST', '/api/v1/tokens', { json: { name: o.name, role: o.role } });
        if (o.json) printJson(r);
        else process.stdout.write(`created ${r.role} token ${r.name}; it is shown only now:\n${r.token}\n`);
      }),
    );
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const r = await client.call<{ tokens: Array<Record<string, unknown>> }>('GET', '/api/v1/tokens');
        if (cmd.opts().json) printJson(r.tokens);
        else printTable(r.tokens, ['name', 'role', 'createdAt', 'revokedAt', 'id']);
      }),
    );
  token
    .command('revoke <name>')
    .description('revoke a token by name or id')
    .action(
      action(async (client, _cmd, name: string) => {
        const r = await client.call<Record<string, unknown>>('POST', `/api/v1/tokens/${encodeURIComponent(name)}/revoke`, { json: {} });
        process.stdout.write(`revoked token ${r.name}\n`);
      }),
    );
}
