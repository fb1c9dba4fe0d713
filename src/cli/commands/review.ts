// `mandate review`: the access review (granted vs used, findings, approvals) and its actions:
// `accept` (the agent still needs what it has: recorded, review date moved on), `suspend`, `retire`.

import type { Command } from 'commander';
import { action } from '../context.js';
import { printJson, printTable } from '../output.js';
import type { Review } from '../../governance/review.js';

const day = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().slice(0, 10));
const seconds = (ms: number | null) => (ms === null ? '-' : `${Math.round(ms / 1000)}s`);

function print(r: Review): void {
  process.stdout.write(`Access review ${day(r.window.since)} .. ${day(r.window.until)} (${r.eventsRead} audit events read; stale after ${r.window.staleDays} days without a task)\n\n`);
  printTable(
    r.agents.map((a) => ({
      agent: a.name,
      owner: `${a.owner}${a.ownerStatus === 'active' ? '' : ` (${a.ownerStatus})`}`,
      status: a.status,
      env: a.environment,
      reviewBy: `${a.reviewBy ?? '-'}${a.overdue ? ' OVERDUE' : ''}`,
      lastTask: day(a.lastTaskAt),
      tasks: a.tasksInWindow,
      used: a.tools.filter((t) => t.calls > 0).map((t) => `${t.tool}×${t.calls}`),
      neverUsed: a.neverUsed,
      alwaysDenied: a.alwaysDenied,
    })),
    ['agent', 'owner', 'status', 'env', 'reviewBy', 'lastTask', 'tasks', 'used', 'neverUsed', 'alwaysDenied'],
  );
  const a = r.approvals;
  process.stdout.write(`\nApprovals: ${a.asked} asked, ${a.approved} approved, ${a.denied} denied, ${a.expired} expired, ${a.pending} pending; time to decide median ${seconds(a.medianDecideMs)}, p90 ${seconds(a.p90DecideMs)}\n`);
  process.stdout.write(`\nFindings (${r.findings.length}):\n`);
  if (!r.findings.length) process.stdout.write('  none\n');
  for (const f of r.findings) process.stdout.write(`  ${f.kind.padEnd(30)} ${f.agent.split('/').pop()}  ${f.detail}\n`);
  if (r.findings.length) process.stdout.write('\nAct on them: mandate review accept <agent> | mandate review suspend <agent> --reason … | mandate review retire <agent>\n');
}

export function registerReviewCommands(program: Command): void {
  const review = program
    .command('review')
    .description('access review: what each agent can reach against what it used, and what to do about it')
    .option('--since <when>', 'window start: a duration back (30d, 12h) or a date', '30d')
    .option('--agent <id>', 'only this agent (id or name)')
    .option('--owner <email>', 'only the agents of this owner')
    .option('--stale-days <n>', 'an agent with no task for this many days is stale', '30')
    .option('--json', 'print JSON')
    .action(
      action(async (c, cmd) => {
        const o = cmd.opts();
        const q = new URLSearchParams({ since: o.since, staleDays: o.staleDays, ...(o.agent ? { agent: o.agent } : {}), ...(o.owner ? { owner: o.owner } : {}) });
        const r = await c.call<Review>('GET', `/api/v1/review?${q}`);
        if (o.json) printJson(r);
        else print(r);
      }),
    );
  review
    .command('accept <agent>')
    .description('record that the agent still needs what it has, and move its review date')
    .option('--next <days-or-date>', 'next review: days from today or YYYY-MM-DD', '90')
    .option('--note <text>', 'why (kept in audit)')
    .option('--json', 'print JSON')
    .action(
      action(async (c, cmd, agent: string) => {
        const o = cmd.opts();
        const next = /^\d+$/.test(o.next) ? Number(o.next) : o.next;
        const r = await c.call<{ agent: string; reviewBy: string; reviewedBy: string }>('POST', '/api/v1/review/accept', { json: { agent, next, ...(o.note ? { note: o.note } : {}) } });
        if (o.json) printJson(r);
        else process.stdout.write(`reviewed ${r.agent} (by ${r.reviewedBy}); next review by ${r.reviewBy}\n`);
      }),
    );
  for (const [verb, what] of [
    ['suspend', 'the kill switch: end all its tasks now (resume with `mandate agent resume`)'],
    ['retire', 'retire it for good: its tasks end and it can never authenticate again'],
  ] as const) {
    review
      .command(`${verb} <agent>`)
      .description(what)
      .option('--reason <text>', 'why (kept in audit)')
      .option('--json', 'print JSON')
      .action(
        action(async (c, cmd, agent: string) => {
          const o = cmd.opts();
          const r = await c.call<{ id: string; status: string }>('POST', `/api/v1/agents/${encodeURIComponent(agent)}/${verb}`, { json: { reason: o.reason ?? `${verb} after access review` } });
          if (o.json) printJson(r);
          else process.stdout.write(`${r.id} is ${r.status}\n`);
        }),
      );
  }
}
