// `mandate report`: the framework report (OWASP Agentic and NHI Top 10s, NIST AI RMF, CSA
// MAESTRO): which Mandate controls address each item and whether they are in force in this
// deployment, with evidence from the audit log. Markdown on the terminal by default; `--format
// html` is one self-contained file (print it to PDF from a browser), `--format json` the data.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../client.js';
import { action } from '../context.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('framework report: OWASP Agentic and NHI Top 10, NIST AI RMF, CSA MAESTRO against this deployment, with evidence')
    .option('--format <format>', 'html, json or md', 'md')
    .option('--since <when>', 'window start: a duration back (30d, 12h) or a date', '30d')
    .option('--owner <email>', 'only the agents of this owner')
    .option('--out <file>', 'write the report to this file instead of standard output')
    .option('--json', 'the same as --format json')
    .action(
      action(async (c, cmd) => {
        const o = cmd.opts();
        const format = o.json ? 'json' : String(o.format);
        if (!['html', 'json', 'md'].includes(format)) throw new CliError(`unknown format \`${format}\`: use html, json or md`);
        const q = new URLSearchParams({ since: o.since, format, ...(o.owner ? { owner: o.owner } : {}) });
        const r = await c.request('GET', `/api/v1/report?${q}`);
        if (r.status >= 400) {
          const b = r.body as { error?: string; error_description?: string };
          throw new CliError(b?.error_description ? `${b.error_description}${b.error ? ` (${b.error})` : ''}` : `HTTP ${r.status}: ${r.text.slice(0, 500)}`);
        }
        if (o.out) {
          writeFileSync(o.out, r.text);
          process.stderr.write(`report written to ${o.out} (${format}, ${r.text.length} bytes)\n`);
        } else process.stdout.write(r.text);
      }),
    );
}
