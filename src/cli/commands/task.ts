// `mandate task start|end|list|show`. `start` acts as the agent (its key signs the client
// assertion); `end` either revokes the agent's own credential or, by id, revokes as admin.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createClientAssertion, loadAgentKey } from '../../client/agent-key.js';
import { writeSecretFile } from '../../identity/files.js';
import { CliError } from '../client.js';
import { action, collect } from '../context.js';
import { printJson, printTable } from '../output.js';

const OPS = ['eq', 'in', 'like', 'min', 'max'] as const;

/** `fs.read_text_file.path=like:/srv/reports/*` → tool, arg, constraint. */
export function parseConstraint(spec: string): { tool: string; arg: string; op: string; value: unknown } {
  const m = /^(.+)\.([^.=]+)=(eq|in|like|min|max):(.*)$/s.exec(spec);
  if (!m) throw new CliError(`--constraint ${JSON.stringify(spec)}: expected <tool>.<arg>=<op>:<value> with op one of ${OPS.join(', ')}`);
  const [, tool, arg, op, raw] = m as unknown as [string, string, string, string, string];
  const scalar = (s: string) => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s === 'true' ? true : s === 'false' ? false : s);
  const value = op === 'in' ? raw.split(',').map(scalar) : op === 'min' || op === 'max' ? Number(raw) : op === 'like' ? raw : scalar(raw);
  if ((op === 'min' || op === 'max') && Number.isNaN(value)) throw new CliError(`--constraint ${JSON.stringify(spec)}: ${op} needs a number`);
  return { tool, arg, op, value };
}

export function registerTaskCommands(program: Command): void {
  const task = program.command('task').description('start, end and inspect tasks');

  task
    .command('start')
    .description('start a task as an agent and save its credential')
    .requiredOption('--key <file>', "the agent's private key file (from `agent create`)")
    .option('--intent <text>', 'what the task is for (required unless --task)')
    .option('--task <id>', 'get a credential for an existing task of this agent (approved after waiting, or break-glass)')
    .option('--tool <name>', 'a tool the task needs (repeatable)', collect, [])
    .option('--constraint <spec>', 'argument constraint <tool>.<arg>=<op>:<value>, op: eq|in|like|min|max (repeatable)', collect, [])
    .option('--resource <uri>', 'data the task may touch, e.g. file:///srv/reports/* (repeatable)', collect, [])
    .option('--ttl <seconds>', 'lifetime (capped by the server)', (v) => Number.parseInt(v, 10))
    .option('--out <file>', 'where to save the credential (mode 0600)', 'task-credential.json')
    .option('--json', 'print the token response as JSON (includes the credential)')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        if (!o.task && !o.intent) throw new CliError('give --intent (what the task is for), or --task <id> for an existing task');
        if (!o.task && o.tool.length === 0) throw new CliError('name at least one --tool');
        const key = await loadAgentKey(resolve(o.key));
        const tools: Array<string | { name: string; constraints: Record<string, Record<string, unknown>> }> = o.tool.map((t: string) => t);
        for (const spec of o.constraint as string[]) {
          const c = parseConstraint(spec);
          const i = tools.findIndex((t) => (typeof t === 'string' ? t : t.name) === c.tool);
          if (i < 0) throw new CliError(`--constraint names tool ${c.tool}, which is not among --tool`);
          const t = tools[i]!;
          const entry = typeof t === 'string' ? { name: t, constraints: {} as Record<string, Record<string, unknown>> } : t;
          entry.constraints[c.arg] = { ...(entry.constraints[c.arg] ?? {}), [c.op]: c.value };
          tools[i] = entry;
        }
        const details = o.task ? [{ type: 'mandate_task', task_id: o.task }] : [{ type: 'mandate_task', intent: o.intent, tools, resources: o.resource, ...(o.ttl ? { ttl: o.ttl } : {}) }];
        const assertion = await createClientAssertion(key, `${client.baseUrl}/oauth/token`);
        const res = await client.request<Record<string, unknown>>('POST', '/oauth/token', {
          auth: 'none',
          form: {
            grant_type: 'client_credentials',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
            authorization_details: JSON.stringify(details),
          },
        });
        const r = res.body;
        if (res.status >= 400) {
          if (r.error === 'authorization_pending') {
            throw new CliError(`task ${r.task_id} is waiting for approval${r.approval_id ? ` ${r.approval_id}` : ''}: an approver runs \`mandate approvals approve ${r.approval_id ?? '<id>'}\`; then run \`mandate task start --key ${o.key} --task ${r.task_id}\``);
          }
          const hint = r.error === 'invalid_dpop_proof' ? '\nThis agent may only hold key-bound (DPoP) credentials: start its tasks from the agent process with the agent SDK (`mandate/client`), which binds them to a key that never leaves it.' : '';
          throw new CliError(`${r.error_description ?? `HTTP ${res.status}`}${r.error ? ` (${r.error})` : ''}${hint}`);
        }
        const out = resolve(o.out);
        const saved = { task_id: r.task_id, access_token: r.access_token, expires_at: new Date(Date.now() + (r.expires_in as number) * 1000).toISOString(), agent: key.agentId };
        try {
          writeSecretFile(out, `${JSON.stringify(saved, null, 2)}\n`);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${out} exists (a previous task's credential?): remove it or pass --out`);
          throw err;
        }
        if (o.json) printJson(r);
        else process.stdout.write(`started task ${r.task_id} (expires in ${r.expires_in}s)\ncredential saved to ${out} (mode 0600)\n`);
      }),
    );

  task
    .command('end [task-id]')
    .description('end a task: with --credential as the agent (RFC 7009), or by id as admin (revocation)')
    .option('--credential <file>', 'credential file written by `task start`')
    .option('--reason <text>', 'why (admin revocation)')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd, id: string | undefined) => {
        const o = cmd.opts();
        if (o.credential) {
          const saved = JSON.parse(readFileSync(resolve(o.credential), 'utf8')) as { access_token: string; task_id: string };
          await client.call('POST', '/oauth/revoke', { auth: { bearer: saved.access_token }, form: { token: saved.access_token, token_type_hint: 'access_token' } });
          if (o.json) printJson({ task_id: saved.task_id, ended: true });
          else process.stdout.write(`ended task ${saved.task_id}; its credential no longer works\n`);
          return;
        }
        if (!id) throw new CliError('give a task id (admin revocation) or --credential <file> (the agent ends its own task)');
        const r = await client.call<Record<string, unknown>>('POST', `/api/v1/tasks/${encodeURIComponent(id)}/revoke`, { json: o.reason ? { reason: o.reason } : {} });
        if (o.json) printJson(r);
        else if (r.alreadyEnded) process.stdout.write(`task ${r.id} had already ended: it is ${r.status}${r.endReason ? ` (${r.endReason})` : ''}${typeof r.endedAt === 'string' ? ` since ${r.endedAt}` : ''}; nothing to do\n`);
        else process.stdout.write(`task ${r.id} is ${r.status}\n`);
      }),
    );

  task
    .command('list')
    .description('list tasks, newest first')
    .option('--agent <agent>', 'only tasks of this agent (name or id)')
    .option('--status <status>', 'pending_approval, active, completed, failed, expired, revoked')
    .option('--limit <n>', 'at most n tasks', '50')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const qs = new URLSearchParams({ limit: o.limit });
        if (o.agent) qs.set('agent', o.agent);
        if (o.status) qs.set('status', o.status);
        const r = await client.call<{ tasks: Array<Record<string, unknown>> }>('GET', `/api/v1/tasks?${qs}`);
        if (o.json) printJson(r.tasks);
        else
          printTable(
            r.tasks.map((t) => ({ ...t, agent: String(t.agentId).split('/').pop(), tools: (t.scope as { tools: Array<{ name: string }> }).tools.map((x) => x.name) })),
            ['id', 'status', 'agent', 'intent', 'tools', 'expiresAt'],
          );
      }),
    );

  task
    .command('show <task-id>')
    .description('show one task')
    .action(
      action(async (client, _cmd, id: string) => {
        printJson(await client.call('GET', `/api/v1/tasks/${encodeURIComponent(id)}`));
      }),
    );
}
