// The console's pages, server-rendered: plain HTML forms that work without JavaScript (nothing to
// build, nothing fetched from elsewhere, works offline), every value escaped, one stylesheet. The
// approvals inbox is the page approvers live in; the agents page has the kill switch.

import type { Agent, Approval, AuditEvent, Task } from '../storage/types.js';
import { esc } from '../oauth/consent-page.js';

export const CONSOLE_CSS = `
*{box-sizing:border-box}body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1a1a1a}
header{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;padding:.6rem 1rem;background:#14233c;color:#fff}
header a{color:#fff}header form{margin-left:auto}
main{max-width:64rem;margin:1rem auto;padding:0 1rem}
h1{font-size:1.35rem}h2{font-size:1.05rem}.who{color:#cdd;font-size:.9rem}
.card{border:1px solid #ccd;border-radius:6px;padding:.7rem 1rem;margin:.8rem 0}
.breakglass{border:3px solid #b00;background:#fff4f4}
.tag{display:inline-block;border-radius:4px;padding:0 .4rem;background:#e8ecf4;font-size:.85rem}
.tag.loud{background:#b00;color:#fff;font-weight:700}
.muted{color:#555;font-size:.9rem}
.error{background:#fde8e8;border-radius:6px;padding:.6rem 1rem}
.ok{background:#e8f6ea;border-radius:6px;padding:.6rem 1rem}
pre{background:#f4f4f6;padding:.5rem;overflow:auto;font-size:.85rem}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #eee;font-size:.9rem;vertical-align:top}
label{display:block;margin:.3rem 0 .1rem;font-weight:600}
input[type=text],input[type=password]{font:inherit;padding:.35rem;width:100%;max-width:28rem}
button{font:inherit;padding:.4rem 1rem;margin:.4rem .4rem 0 0;border-radius:5px;border:1px solid #666;background:#fff;cursor:pointer}
button.primary{background:#1f4fd1;color:#fff;border-color:#1f4fd1}button.danger{background:#b00;color:#fff;border-color:#b00}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
@media (max-width:40rem){td,th{display:block;border:0}tr{display:block;border-bottom:1px solid #ddd;padding:.3rem 0}}
`;

function layout(title: string, user: string | null, csrf: string | null, body: string): string {
  const nav = user
    ? `<header><strong>Mandate</strong><nav aria-label="console"><a href="/">Approvals</a> · <a href="/console/agents">Agents</a> · <a href="/console/tasks">Tasks</a> · <a href="/console/audit">Audit</a></nav><span class="who">${esc(user)}</span><form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${esc(csrf)}"><button type="submit">Sign out</button></form></header>`
    : '<header><strong>Mandate</strong></header>';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${esc(title)} — Mandate</title><link rel="stylesheet" href="/console/style.css"></head><body>${nav}<main>${body}</main></body></html>`;
}

export function loginPage(o: { loginToken: string; error?: string | undefined }): string {
  return layout(
    'Sign in',
    null,
    null,
    `<h1>Sign in to the Mandate console</h1>${o.error ? `<p class="error" role="alert">${esc(o.error)}</p>` : ''}
<form method="post" action="/console/login"><input type="hidden" name="login_token" value="${esc(o.loginToken)}">
<label for="user_token">Your personal token</label><input type="password" id="user_token" name="user_token" autocomplete="off" required>
<p class="muted">The token an administrator made for you (<code>mandate user create</code>). Agent credentials and the admin token cannot sign in here.</p>
<button class="primary" type="submit">Sign in</button></form>`,
  );
}

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

function approvalCard(a: Approval, owner: string | null, csrf: string): string {
  const approvals = a.decisions.filter((d) => d.decision === 'approve');
  const loud = a.kind === 'breakglass';
  return `<section class="card${loud ? ' breakglass' : ''}" aria-labelledby="h-${esc(a.id)}">
<h2 id="h-${esc(a.id)}">${loud ? '<span class="tag loud">BREAK-GLASS</span> ' : ''}<span class="tag">${esc(a.kind.replace('_', ' '))}</span> ${esc(a.tool ?? 'task start')} <span class="muted">${esc(a.id)}</span></h2>
<table><tr><th scope="row">agent</th><td>${esc(a.agentId)}${owner ? ` <span class="muted">(owner ${esc(owner)})</span>` : ''}</td></tr>
<tr><th scope="row">requested by</th><td>${esc(a.requester)}</td></tr>
<tr><th scope="row">task intent</th><td>${esc(a.intent)}</td></tr>
<tr><th scope="row">why it asks</th><td>${esc(a.reason)} <span class="muted">${a.policyIds.map((p) => esc(p)).join(', ')}</span></td></tr>
<tr><th scope="row">approvers</th><td>${esc(a.approvers.join(' or '))}; ${approvals.length} of ${a.quorum} approval${a.quorum > 1 ? 's' : ''}${approvals.length ? ` (${approvals.map((d) => esc(d.by)).join(', ')})` : ''}</td></tr>
<tr><th scope="row">expires</th><td>${esc(when(a.expiresAt))}</td></tr></table>
${a.args !== null && a.args !== undefined ? `<p class="muted">The exact action (sensitive arguments redacted):</p><pre>${esc(JSON.stringify(a.args, null, 2))}</pre>` : ''}
<form method="post" action="/console/approvals/${esc(encodeURIComponent(a.id))}"><input type="hidden" name="csrf" value="${esc(csrf)}">
<label for="reason-${esc(a.id)}">Reason (shown to the agent and in audit)</label><input type="text" id="reason-${esc(a.id)}" name="reason" maxlength="500">
<button class="primary" type="submit" name="decision" value="approve">Approve</button><button class="danger" type="submit" name="decision" value="deny">Deny</button></form></section>`;
}

export function inboxPage(o: { user: string; csrf: string; approvals: Array<{ approval: Approval; owner: string | null }>; flash?: { ok: boolean; text: string } | undefined }): string {
  const list = o.approvals.length ? o.approvals.map((x) => approvalCard(x.approval, x.owner, o.csrf)).join('') : '<p class="ok">Nothing waits for you.</p>';
  return layout(
    'Approvals',
    o.user,
    o.csrf,
    `<h1>Approvals waiting for you</h1>${o.flash ? `<p class="${o.flash.ok ? 'ok' : 'error'}" role="status">${esc(o.flash.text)}</p>` : ''}<p class="muted">Each approval is for one exact action and runs it once. Reload to see new requests.</p>${list}`,
  );
}

export function agentsPage(o: { user: string; csrf: string; agents: Array<{ agent: Agent; canStop: boolean }>; flash?: { ok: boolean; text: string } | undefined }): string {
  const rows = o.agents
    .map(({ agent: a, canStop }) => {
      const stop =
        canStop && a.status === 'active'
          ? `<form method="post" action="/console/agents/suspend"><input type="hidden" name="csrf" value="${esc(o.csrf)}"><input type="hidden" name="agent" value="${esc(a.id)}">
<label><input type="checkbox" name="confirm" value="yes" required> confirm: end all its tasks now</label><button class="danger" type="submit">Suspend</button></form>`
          : '';
      return `<tr><td><strong>${esc(a.name)}</strong><br><span class="muted">${esc(a.id)}</span></td><td>${esc(a.owner)}</td><td>${esc(a.purpose)}</td><td>${esc(a.environment)}</td><td><span class="tag${a.status === 'active' ? '' : ' loud'}">${esc(a.status)}</span></td><td>${esc(a.reviewBy ?? '')}</td><td>${stop}</td></tr>`;
    })
    .join('');
  return layout(
    'Agents',
    o.user,
    o.csrf,
    `<h1>Agents</h1>${o.flash ? `<p class="${o.flash.ok ? 'ok' : 'error'}" role="status">${esc(o.flash.text)}</p>` : ''}
<table><thead><tr><th>agent</th><th>owner</th><th>purpose</th><th>environment</th><th>status</th><th>review by</th><th>kill switch</th></tr></thead><tbody>${rows}</tbody></table>`,
  );
}

export interface TaskRow {
  task: Task;
  depth: number;
  calls: Record<string, number>;
  canEnd: boolean;
}

export function tasksPage(o: { user: string; csrf: string; tasks: TaskRow[]; flash?: { ok: boolean; text: string } | undefined }): string {
  const rows = o.tasks
    .map(({ task: t, depth, calls, canEnd }) => {
      const grants = t.scope.tools.map((g) => `<code>${esc(g.name)}</code> ${calls[g.name] ?? 0}${g.max_calls !== undefined ? `/${g.max_calls}` : ''}`).join('<br>');
      const end = canEnd
        ? `<form method="post" action="/console/tasks/revoke"><input type="hidden" name="csrf" value="${esc(o.csrf)}"><input type="hidden" name="task" value="${esc(t.id)}"><label><input type="checkbox" name="confirm" value="yes" required> confirm: end it and every task delegated from it</label><button class="danger" type="submit">Revoke</button></form>`
        : '';
      return `<tr><td>${depth ? `${'↳ '.repeat(depth)}` : ''}<strong>${esc(t.id)}</strong><br><span class="muted">${esc(t.intent)}</span></td><td>${esc(t.agentId)}</td><td>${grants}</td><td>${t.labels.map((l) => `<span class="tag">${esc(l)}</span>`).join(' ')}</td><td>${esc(when(t.expiresAt))}</td><td>${end}</td></tr>`;
    })
    .join('');
  return layout(
    'Tasks',
    o.user,
    o.csrf,
    `<h1>Live tasks</h1>${o.flash ? `<p class="${o.flash.ok ? 'ok' : 'error'}" role="status">${esc(o.flash.text)}</p>` : ''}
<p class="muted">Delegated tasks are listed under the task they came from (↳). Calls: used/limit per grant. Labels: what the task has read (taint).</p>
<table><thead><tr><th>task</th><th>agent</th><th>grants and calls</th><th>labels</th><th>expires</th><th>end</th></tr></thead><tbody>${rows || '<tr><td colspan="6">No live tasks.</td></tr>'}</tbody></table>`,
  );
}

export function auditPage(o: { user: string; csrf: string; events: AuditEvent[]; filter: Record<string, string>; head: { seq: number; hash: string } | null; verify: { ok: boolean; checked: number; head: { seq: number; hash: string } | null; broken?: { seq: number; reason: string } | undefined } | null }): string {
  const f = (k: string, label: string) => `<label for="f-${k}">${label}</label><input type="text" id="f-${k}" name="${k}" value="${esc(o.filter[k] ?? '')}">`;
  const rows = o.events
    .map((e) => {
      const d = e.data as Record<string, unknown>;
      const what = [d.tool, (d.http as { path?: unknown } | undefined)?.path, d.role].filter(Boolean).join(' ');
      const why = Array.isArray(d.reasons) ? String(d.reasons[0] ?? '') : typeof d.reason === 'string' ? d.reason : '';
      return `<tr><td>${e.seq}</td><td>${esc(when(e.ts))}</td><td><code>${esc(e.type)}</code></td><td>${esc(e.actor)}</td><td>${esc(e.decision ?? '')} ${esc(e.outcome ?? '')}</td><td>${esc(what)}<br><span class="muted">${esc(why.slice(0, 200))}</span></td><td><span class="muted">${esc(e.taskId ?? '')}</span></td></tr>`;
    })
    .join('');
  const v = o.verify;
  return layout(
    'Audit',
    o.user,
    o.csrf,
    `<h1>Audit log</h1>
${
      v
        ? `<p class="${v.ok ? 'ok' : 'error'}" role="status">${v.ok ? `Hash chain intact: ${v.checked} events checked${v.head ? `, head #${v.head.seq} <code>${esc(v.head.hash)}</code>` : ''}.` : `Hash chain BROKEN at event #${v.broken?.seq}: ${esc(v.broken?.reason ?? '')}`}</p>`
        : `<p class="muted">Head ${o.head ? `#${o.head.seq} <code>${esc(o.head.hash)}</code>` : '(empty log)'}. <a href="/console/audit?verify=1">Verify the whole chain now</a> (reads every event).</p>`
    }
<form method="get" action="/console/audit">${f('agent', 'Agent id')}${f('task', 'Task id')}${f('type', 'Event type (e.g. tool.call)')}${f('decision', 'Decision (allow, deny, approval_required)')}<button type="submit">Filter</button></form>
<p class="muted">Newest first, at most 200. Export everything with <code>mandate audit export</code>.</p>
<table><thead><tr><th>#</th><th>time</th><th>type</th><th>actor</th><th>decision / outcome</th><th>what, why</th><th>task</th></tr></thead><tbody>${rows || '<tr><td colspan="7">No events match.</td></tr>'}</tbody></table>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(title, null, null, `<h1>${esc(title)}</h1><p class="error" role="alert">${esc(message)}</p><p><a href="/">Back to the console</a></p>`);
}
