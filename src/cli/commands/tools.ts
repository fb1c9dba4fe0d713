// `mandate tools`: the tool catalogue policies and tasks refer to.

import type { Command } from 'commander';
import { action } from '../context.js';
import { printJson, printTable } from '../output.js';

export function registerToolCommands(program: Command): void {
  program
    .command('tools')
    .description('list the tools Mandate fronts, with risk class and data classification')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const r = await client.call<{ tools: Array<Record<string, unknown>> }>('GET', '/api/v1/tools');
        if (cmd.opts().json) printJson(r.tools);
        else printTable(r.tools.map((t) => ({ ...t, description: String(t.description ?? '').slice(0, 70) })), ['name', 'risk', 'classification', 'description']);
      }),
    );
}
