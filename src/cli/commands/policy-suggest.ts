// `mandate policy suggest`: least-privilege Cedar permits and a task template from what an agent
// ran, validated alone against the schema and replayed over the window's calls.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Suggestion } from '../../governance/suggest.js';
import { action } from '../context.js';
import { printJson, printTable } from '../output.js';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

function summary(r: Suggestion): string {
  const e = r.evidence;
  const lines = [
    `agent ${r.agent.name}: ${e.calls} call${e.calls === 1 ? '' : 's'} ${day(r.window.since)} .. ${day(r.window.until)} UTC; ${e.used} ran (${e.wouldDeny} would-deny), ${e.denied} refused`,
    `suggested: ${e.tools.length} permit${e.tools.length === 1 ? '' : 's'} (${e.tools.map((t) => `${t.tool}×${t.calls}`).join(', ')}) + startTask`,
  ];
  for (const s of e.skipped) lines.push(`not suggested: ${s.tool} (${s.calls} calls): ${s.reason}`);
  lines.push(r.validation.valid ? 'validation: valid against the schema (alone)' : `validation: INVALID (${r.validation.errors.length} problem${r.validation.errors.length === 1 ? '' : 's'})`);
  for (const err of r.validation.errors) lines.push(`  ${err}`);
  for (const w of r.validation.warnings) lines.push(`  warning: ${w}`);
  if (r.replay) {
    const p = r.replay;
    lines.push(`replay: ${p.usedAllowed} of ${p.used} calls that ran are allowed; of all ${p.calls} calls ${p.allowed} allowed, ${p.denied} denied`);
    for (const n of p.notes) lines.push(`  note: ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerPolicySuggest(policy: Command): void {
  policy
    .command('suggest')
    .description('least-privilege policies from evidence: permits for exactly what an agent ran, checked by replaying its calls')
    .requiredOption('--agent <agent>', 'agent name or id')
    .option('--since <when>', 'window start: a duration back (30d, 12h) or a date', '30d')
    .option('--out <dir>', 'write suggested-<agent>.cedar and suggested-<agent>.yaml there instead of printing them')
    .option('--json', 'print the whole report as JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const r = await client.call<Suggestion>('POST', '/api/v1/policies/suggest', { json: { agent: o.agent, since: o.since } });
        // A suggestion that does not validate is printed (to be fixed by hand) but is a failure.
        if (!r.validation.valid) process.exitCode = 1;
        if (o.json) return printJson(r);
        if (o.out) {
          const dir = resolve(o.out);
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, r.files.policies), r.policies);
          writeFileSync(join(dir, r.files.templates), r.templates);
          process.stdout.write(`wrote ${join(dir, r.files.policies)} and ${join(dir, r.files.templates)}\n`);
        } else {
          process.stdout.write(`${r.policies}\n${r.templates}\n`);
        }
        process.stdout.write(summary(r));
        if (r.replay?.deniedCalls.length) {
          process.stdout.write('calls the suggestion denies:\n');
          printTable(r.replay.deniedCalls.map((c) => ({ ...c, when: day(c.ts) })), ['seq', 'when', 'tool', 'was', 'reason']);
          if (r.replay.deniedOmitted) process.stdout.write(`(and ${r.replay.deniedOmitted} more)\n`);
        }
      }),
    );
}
