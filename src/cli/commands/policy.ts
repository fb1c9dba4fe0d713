// `mandate policy validate|explain|reload|list|suggest` (suggest: ./policy-suggest.ts).

import type { Command } from 'commander';
import { MandateError } from '../../core/errors.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ToolCatalog } from '../../gateway/catalog.js';
import { acceptedDefinitions } from '../../gateway/pins.js';
import { openStore } from '../../storage/index.js';
import { compilePolicies } from '../../policy/compile.js';
import { CliError } from '../client.js';
import { action, configFrom, fail, parseJsonOption } from '../context.js';
import { printJson, printTable } from '../output.js';
import { registerPolicySuggest } from './policy-suggest.js';

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('validate, explain and reload Cedar policies');

  policy
    .command('validate')
    .description('validate policies/*.cedar against the schema and tool catalogue (no server needed)')
    .option('--json', 'print JSON')
    .action(async (_opts, cmd: Command) => {
      try {
        const config = configFrom(cmd);
        // The same inputs as the server: tools from config, plus what each upstream last offered
        // (its pinned definitions), so a policy on a discovered tool validates here as it does there.
        const catalog = ToolCatalog.fromConfig(config.upstreams);
        if (config.databaseUrl || existsSync(join(config.dataDir, 'mandate.db'))) {
          const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, settings: config.store });
          try {
            for (const name of Object.keys(config.upstreams)) catalog.setPinned(name, await acceptedDefinitions(store, name));
          } finally {
            await store.close();
          }
        }
        const tools = catalog.listTools();
        try {
          const c = compilePolicies({ policyDir: config.policyDir, schemaPath: config.schemaPath, tools });
          if (cmd.opts().json) printJson({ valid: true, version: c.version, policies: c.policies.length, warnings: c.warnings });
          else {
            for (const w of c.warnings) process.stdout.write(`warning: ${w}\n`);
            process.stdout.write(`policies valid: ${c.policies.length} policies in ${config.policyDir}, version ${c.version}\n`);
          }
        } catch (err) {
          if (!(err instanceof MandateError) || err.code !== 'policy_invalid') throw err;
          const errors = (err.details?.errors as string[] | undefined) ?? [err.message];
          if (cmd.opts().json) printJson({ valid: false, errors });
          else for (const e of errors) process.stderr.write(`${e}\n`);
          process.exit(1);
        }
      } catch (err) {
        fail(err);
      }
    });

  policy
    .command('explain')
    .description('what-if: how policy decides an agent calling a tool, and which policies decide it')
    .requiredOption('--agent <agent>', 'agent name or id')
    .requiredOption('--tool <tool>', 'tool name, e.g. fs.read_text_file')
    .option('--args <json>', 'tool arguments as a JSON object')
    .option('--task <id>', 'evaluate inside this real task (scope check included)')
    .option('--intent <text>', 'intent of the hypothetical task')
    .option('--start', 'explain `startTask` (may the agent request this tool?) instead of a call')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const r = await client.call<{
          decision: { decision: string; reasons: string[]; policyIds: string[]; errors: Array<{ policyId: string; message: string }>; policyVersion: string };
          hypotheticalTask: boolean;
          policies: Array<{ id: string; effect: string; file: string; line: number; determining: boolean }>;
        }>('POST', '/api/v1/policies/explain', {
          json: { agent: o.agent, tool: o.tool, args: parseJsonOption(o.args, 'args'), task: o.task, intent: o.intent, action: o.start ? 'startTask' : 'call' },
        });
        if (o.json) return printJson(r);
        const d = r.decision;
        process.stdout.write(`decision: ${d.decision.toUpperCase()}  (policy version ${d.policyVersion}${r.hypotheticalTask ? ', hypothetical task granting just this tool' : ''})\n`);
        for (const reason of d.reasons) process.stdout.write(`  reason: ${reason}\n`);
        for (const e of d.errors) process.stdout.write(`  error in ${e.policyId}: ${e.message}\n`);
        process.stdout.write(`policies whose scope matched (${r.policies.length}):\n`);
        printTable(
          r.policies.map((p) => ({ ...p, where: `${p.file}:${p.line}`, deciding: p.determining ? 'yes' : '' })),
          ['id', 'effect', 'where', 'deciding'],
        );
      }),
    );

  policy
    .command('reload')
    .description('reload policies on the running server (a set that does not validate is refused)')
    .action(
      action(async (client) => {
        const r = await client.call<{ changed: boolean; version: string }>('POST', '/api/v1/policies/reload', { json: {} });
        process.stdout.write(r.changed ? `reloaded: policy version ${r.version}\n` : `unchanged: policy version ${r.version}\n`);
      }),
    );

  policy
    .command('list')
    .description('list the loaded policies')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const r = await client.call<{ version: string; policies: Array<Record<string, unknown>> }>('GET', '/api/v1/policies');
        if (cmd.opts().json) return printJson(r);
        process.stdout.write(`policy version ${r.version}\n`);
        printTable(r.policies.map((p) => ({ ...p, where: `${p.file}:${p.line}` })), ['id', 'effect', 'where']);
      }),
    );
  registerPolicySuggest(policy);
  void CliError;
}
