// `mandate user …`, `mandate approvals …`, `mandate breakglass …`: people, their decisions on
// approval-gated actions, and emergency access. Approving needs your personal token
// (MANDATE_TOKEN or --token); `mandate user create` prints one.

import type { Command } from 'commander';
import { action } from '../context.js';
import { printJson, printTable } from '../output.js';

type Row = Record<string, unknown>;

function parseTtl(v: string): number {
  const m = /^(\d+)\s*(s|m|h)?$/.exec(v.trim());
  if (!m) throw new Error(`invalid --ttl ${JSON.stringify(v)}: use seconds or 30m / 1h`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

function describeApproval(a: Row): string {
  const lines = [
    `approval ${a.id} (${a.kind}) — ${String(a.status).toUpperCase()}`,
    `  agent      ${a.agent}`,
    `  task       ${a.task ?? '-'}   intent: ${a.intent}`,
    `  requester  ${a.requester}`,
  ];
  if (a.tool) lines.push(`  tool       ${a.tool}`);
  lines.push(`  arguments  ${JSON.stringify(a.args)}`);
  lines.push(`  reason     ${a.reason}`);
  lines.push(`  approvers  ${(a.approvers as string[]).join(' or ')}${Number(a.quorum) > 1 ? ` (${a.quorum} distinct people)` : ''}`);
  lines.push(`  policy     ${(a.policyIds as string[]).join(', ') || '-'} (version ${a.policyVersion})`);
  lines.push(`  expires    ${a.expiresAt}`);
  for (const d of a.decisions as Row[]) lines.push(`  ${d.decision === 'approve' ? 'approved' : 'denied  '}   by ${d.by} at ${d.at}${d.reason ? ` — ${d.reason}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function registerApprovalCommands(program: Command): void {
  // ---------------------------------------------------------------- users
  const user = program.command('user').description('people who approve and operate (personal tokens)');
  user
    .command('create')
    .description('create a user; their personal token is printed once')
    .requiredOption('--name <name>', 'full name')
    .requiredOption('--email <email>', 'email (matches agent owners for `@approval("owner")`)')
    .option('--roles <roles>', 'comma-separated roles, e.g. security,finance', '')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const roles = String(o.roles).split(',').map((r) => r.trim()).filter(Boolean);
        const r = await client.call<Row>('POST', '/api/v1/users', { json: { name: o.name, email: o.email, roles } });
        if (o.json) printJson(r);
        else process.stdout.write(`created user ${r.email} (${r.id}) with roles [${(r.roles as string[]).join(', ')}]; their token is shown only now:\n${r.token}\nThey use it as MANDATE_TOKEN (or --token) for \`mandate approvals …\`.\n`);
      }),
    );
  user
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const r = await client.call<{ users: Row[] }>('GET', '/api/v1/users');
        if (cmd.opts().json) printJson(r.users);
        else printTable(r.users.map((u) => ({ ...u, roles: (u.roles as string[]).join(',') })), ['email', 'name', 'roles', 'status', 'id']);
      }),
    );
  for (const [verb, path, done] of [
    ['disable', 'disable', 'disabled'],
    ['enable', 'enable', 'enabled'],
  ] as const) {
    user
      .command(`${verb} <email>`)
      .description(`${verb} a user (their token ${verb === 'disable' ? 'stops' : 'starts'} working)`)
      .action(
        action(async (client, _cmd, email: string) => {
          const r = await client.call<Row>('POST', `/api/v1/users/${encodeURIComponent(email)}/${path}`, { json: {} });
          process.stdout.write(`${done} ${r.email}\n`);
        }),
      );
  }
  user
    .command('token <email>')
    .description("replace a user's token (the old one stops working); the new one is printed once")
    .action(
      action(async (client, _cmd, email: string) => {
        const r = await client.call<Row>('POST', `/api/v1/users/${encodeURIComponent(email)}/token`, { json: {} });
        process.stdout.write(`new token for ${r.email}, shown only now:\n${r.token}\n`);
      }),
    );

  // ---------------------------------------------------------------- approvals
  const approvals = program.command('approvals').description('approval-gated actions waiting for (or decided by) people');
  approvals
    .command('list')
    .description('list approvals (pending first by default)')
    .option('--status <status>', 'pending | approved | denied | expired | used | all', 'pending')
    .option('--kind <kind>', 'tool_call | task_start | breakglass | authzen')
    .option('--task <id>', 'only this task')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const query: Record<string, string> = {};
        if (o.status !== 'all') query.status = o.status;
        if (o.kind) query.kind = o.kind;
        if (o.task) query.task = o.task;
        const qs = new URLSearchParams(query);
        const r = await client.call<{ approvals: Row[] }>('GET', `/api/v1/approvals${qs.size ? `?${qs}` : ''}`);
        if (o.json) printJson(r.approvals);
        else
          printTable(
            r.approvals.map((a) => ({ ...a, what: a.tool ? `${a.tool} ${JSON.stringify(a.args)}`.slice(0, 60) : a.intent, approvers: (a.approvers as string[]).join('|') })),
            ['id', 'status', 'kind', 'agent', 'what', 'approvers', 'expiresAt'],
          );
      }),
    );
  approvals
    .command('show <id>')
    .description('show one approval: the exact action, the reason, who may decide')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd, id: string) => {
        const r = await client.call<Row>('GET', `/api/v1/approvals/${encodeURIComponent(id)}`);
        if (cmd.opts().json) printJson(r);
        else process.stdout.write(describeApproval(r));
      }),
    );
  for (const decision of ['approve', 'deny'] as const) {
    approvals
      .command(`${decision} <id>`)
      .description(`${decision} one exact action (needs your personal token)`)
      .option('--reason <text>', 'why (recorded in audit and shown to the agent)')
      .option('--json', 'print JSON')
      .action(
        action(async (client, cmd, id: string) => {
          const o = cmd.opts();
          const r = await client.call<Row>('POST', `/api/v1/approvals/${encodeURIComponent(id)}/${decision}`, { json: o.reason ? { reason: o.reason } : {} });
          if (o.json) printJson(r);
          else {
            const n = (r.decisions as Row[]).filter((d) => d.decision === 'approve').length;
            const more = r.status === 'pending' ? ` (${n} of ${r.quorum} approvals; waiting for more)` : '';
            process.stdout.write(`${decision === 'approve' ? 'approved' : 'denied'} ${r.id}: now ${r.status}${more}\n`);
          }
        }),
      );
  }

  // ---------------------------------------------------------------- break-glass
  const bg = program.command('breakglass').description('emergency access: an elevated task that several people must approve');
  bg.command('request')
    .description('ask for an emergency task for an agent; it starts once the quorum approves (never the requester)')
    .requiredOption('--agent <id>', 'agent id (spiffe://…)')
    .requiredOption('--tools <tools>', 'comma-separated tools, e.g. fs.write_file,fs.move_file')
    .requiredOption('--reason <text>', 'why: goes to every approver and alert')
    .option('--ttl <ttl>', 'lifetime once approved (seconds, or 30m / 1h), capped by approvals.breakglass.maxTtl', '30m')
    .option('--resources <patterns>', 'comma-separated resource patterns (default: any)')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const body: Row = { agent: o.agent, tools: String(o.tools).split(',').map((t) => t.trim()).filter(Boolean), reason: o.reason, ttl: parseTtl(o.ttl) };
        if (o.resources) body.resources = String(o.resources).split(',').map((t) => t.trim()).filter(Boolean);
        const r = await client.call<{ approval: Row; task: Row }>('POST', '/api/v1/breakglass', { json: body });
        if (o.json) printJson(r);
        else
          process.stdout.write(
            `break-glass requested: approval ${r.approval.id}, task ${r.task.id} (pending).\n` +
              `It needs ${r.approval.quorum} approvers (${(r.approval.approvers as string[]).join(' or ')}), not you: mandate approvals approve ${r.approval.id}\n` +
              `Once active, the agent gets its credential with authorization_details [{"type":"mandate_task","task_id":"${r.task.id}"}].\n`,
          );
      }),
    );
  bg.command('report <id>')
    .description('what a break-glass task did: request, approvers, lifetime, every call')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd, id: string) => {
        const r = await client.call<{ approval: Row; task: Row | null; events: Row[] }>('GET', `/api/v1/breakglass/${encodeURIComponent(id)}/report`);
        if (cmd.opts().json) {
          printJson(r);
          return;
        }
        process.stdout.write(describeApproval(r.approval));
        if (r.task) process.stdout.write(`task ${r.task.id}: ${r.task.status}; tools ${(r.task.tools as string[]).join(', ')}; active until ${r.task.expiresAt}${r.task.endedAt ? `; ended ${r.task.endedAt} (${r.task.endReason})` : ''}\n`);
        const calls = r.events.filter((e) => e.type === 'tool.call');
        process.stdout.write(`${calls.length} tool call(s):\n`);
        for (const e of calls) {
          const d = e.data as Row;
          process.stdout.write(`  ${e.ts}  ${d.tool} ${JSON.stringify(d.args)} → ${e.decision}/${e.outcome}\n`);
        }
        process.stdout.write(`events: ${r.events.map((e) => e.type).join(', ')}\n`);
      }),
    );
}
