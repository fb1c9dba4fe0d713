// The console's pages, server-rendered: plain HTML forms that work without JavaScript (nothing to
// build, nothing fetched from elsewhere, works offline), every value escaped, one stylesheet and
// one small script. The script only adds live updates: a region marked `data-live` is refreshed
// from its URL when the server's event stream says something changed (see live.ts).

import type { Agent, Approval, AuditEvent, Task, ToolPin } from '../storage/types.js';
import type { ToolSpec } from '../core/tool.js';
import type { DiffLine } from '../core/json-diff.js';
import type { Explanation } from '../gateway/explain.js';
import type { PolicyInfo } from '../policy/compile.js';
import { esc } from '../oauth/consent-page.js';
import type { Review } from '../governance/review.js';
import type { Report } from '../governance/report.js';
import { reportBody } from '../governance/report-render.js';

export const CONSOLE_CSS = `
*{box-sizing:border-box}body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1a1a1a}
header{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;padding:.6rem 1rem;background:#14233c;color:#fff}
header a{color:#fff}header a[aria-current]{font-weight:700;text-decoration-thickness:3px}header form{margin-left:auto}
main{max-width:72rem;margin:1rem auto;padding:0 1rem}
h1{font-size:1.35rem}h2{font-size:1.05rem}.who{color:#cdd;font-size:.9rem}
.card{border:1px solid #ccd;border-radius:6px;padding:.7rem 1rem;margin:.8rem 0}
.breakglass{border:3px solid #b00;background:#fff4f4}
.tag{display:inline-block;border-radius:4px;padding:0 .4rem;background:#e8ecf4;font-size:.85rem}
.tag.loud{background:#b00;color:#fff;font-weight:700}.tag.warn{background:#8a5300;color:#fff}
.muted{color:#555;font-size:.9rem}
.error{background:#fde8e8;border-radius:6px;padding:.6rem 1rem}
.ok{background:#e8f6ea;border-radius:6px;padding:.6rem 1rem}
pre{background:#f4f4f6;padding:.5rem;overflow:auto;font-size:.85rem;white-space:pre-wrap;word-break:break-word}
.del{background:#fde8e8;color:#8b0000}.add{background:#e3f4e6;color:#0b5a1f}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #eee;font-size:.9rem;vertical-align:top}
label{display:block;margin:.3rem 0 .1rem;font-weight:600}
input[type=text],input[type=password],input[type=number],input[type=datetime-local],select,textarea{font:inherit;padding:.35rem;width:100%;max-width:28rem}
textarea{max-width:40rem;min-height:5rem;font-family:ui-monospace,monospace;font-size:.85rem}
.filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:end}.filters div{flex:1 1 12rem}
button{font:inherit;padding:.4rem 1rem;margin:.4rem .4rem 0 0;border-radius:5px;border:1px solid #666;background:#fff;cursor:pointer}
button.primary{background:#1f4fd1;color:#fff;border-color:#1f4fd1}button.danger{background:#b00;color:#fff;border-color:#b00}
a{color:#1a44b8}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
@media (max-width:40rem){td,th{display:block;border:0}tr{display:block;border-bottom:1px solid #ddd;padding:.3rem 0}thead{display:none}}
`;

/** Who is signed in, as the pages need it. */
export interface Viewer {
  label: string;
  csrf: string;
}

export type Flash = { ok: boolean; text: string } | undefined;

const NAV: Array<[string, string]> = [
  ['/', 'Approvals'],
  ['/console/agents', 'Agents'],
  ['/console/tasks', 'Tasks'],
  ['/console/audit', 'Audit'],
  ['/console/policies', 'Policies'],
  ['/console/tools', 'Tools'],
  ['/console/review', 'Review'],
  ['/console/report', 'Report'],
];

function layout(title: string, v: Viewer | null, body: string, here = ''): string {
  const nav = v
    ? `<header><strong>Mandate</strong><nav aria-label="console">${NAV.map(([href, name]) => `<a href="${href}"${href === here ? ' aria-current="page"' : ''}>${name}</a>`).join(' · ')}</nav><span class="who">${esc(v.label)}</span><form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${esc(v.csrf)}"><button type="submit">Sign out</button></form></header>`
    : '<header><strong>Mandate</strong></header>';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${esc(title)} — Mandate</title><link rel="stylesheet" href="/console/style.css"><script src="/console/live.js" defer></script></head><body>${nav}<main>${body}</main></body></html>`;
}

/** A live region alone, for the script to swap in (the same markup the page has). */
export function fragment(region: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>update</title></head><body>${region}</body></html>`;
}

const flashHtml = (f: Flash) => (f ? `<p class="${f.ok ? 'ok' : 'error'}" role="status">${esc(f.text)}</p>` : '');
const hidden = (name: string, value: string) => `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`;
export const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

export function loginPage(o: { loginToken: string; error?: string | undefined; oidc?: string | undefined }): string {
  return layout(
    'Sign in',
    null,
    `<h1>Sign in to the Mandate console</h1>${o.error ? `<p class="error" role="alert">${esc(o.error)}</p>` : ''}
${o.oidc ? `<form method="post" action="/console/oidc">${hidden('login_token', o.loginToken)}<button class="primary" type="submit">Sign in with ${esc(o.oidc)}</button></form><p class="muted">or with your personal token:</p>` : ''}
<form method="post" action="/console/login">${hidden('login_token', o.loginToken)}
<label for="user_token">Your personal token</label><input type="password" id="user_token" name="user_token" autocomplete="off" required>
<p class="muted">The token an administrator made for you (<code>mandate user create</code>). Agent credentials and the admin token cannot sign in here.</p>
<button class="${o.oidc ? '' : 'primary'}" type="submit">Sign in</button></form>`,
  );
}

// ---- approvals

/** Where the action's values come from, when some come only from content others wrote. */
function provenanceNote(a: Approval): string {
  const p = (a.data as { provenance?: { provenance: Record<string, string[]>; untrustedArgs: string[]; origins: Record<string, string> } }).provenance;
  if (!p) return '';
  const rows = Object.entries(p.provenance)
    .map(([arg, labels]) => `<tr><th scope="row"><code>${esc(arg)}</code></th><td>${p.untrustedArgs.includes(arg) ? `<span class="tag loud">only in content others wrote</span> first shown by ${esc(p.origins[arg] ?? 'an earlier result')}` : labels.map((l) => `<span class="tag">${esc(PROVENANCE_LABEL[l] ?? l)}</span>`).join(' ')}</td></tr>`)
    .join('');
  return `<p class="muted">Where the values come from${p.untrustedArgs.length ? ' — <strong>check the marked ones: an instruction hidden in that content may have chosen them</strong>' : ''}:</p><table>${rows}</table>`;
}

const PROVENANCE_LABEL: Record<string, string> = { intent: "the task's intent", scope: "the task's scope", trusted: 'a trusted result', untrusted: 'an untrusted result', new: 'seen nowhere before' };

function approvalCard(a: Approval, owner: string | null, csrf: string): string {
  const approvals = a.decisions.filter((d) => d.decision === 'approve');
  const loud = a.kind === 'breakglass';
  return `<section id="${esc(a.id)}" data-v="${esc(`${a.status}:${a.decisions.length}`)}" class="card${loud ? ' breakglass' : ''}" aria-labelledby="h-${esc(a.id)}">
<h2 id="h-${esc(a.id)}">${loud ? '<span class="tag loud">BREAK-GLASS</span> ' : ''}<span class="tag">${esc(a.kind.replace('_', ' '))}</span> ${esc(a.tool ?? (loud ? 'emergency task' : a.kind === 'task_amend' ? 'widen a running task' : 'task start'))} <span class="muted">${esc(a.id)}</span></h2>
<table><tr><th scope="row">agent</th><td><a href="/console/agents/${esc(encodeURIComponent(a.agentId))}">${esc(a.agentId)}</a>${owner ? ` <span class="muted">(owner ${esc(owner)})</span>` : ''}</td></tr>
<tr><th scope="row">requested by</th><td>${esc(a.requester)}</td></tr>
<tr><th scope="row">task intent</th><td>${esc(a.intent)}</td></tr>
<tr><th scope="row">why it asks</th><td>${esc(a.reason)} <span class="muted">${a.policyIds.map((p) => esc(p)).join(', ')}</span></td></tr>
<tr><th scope="row">approvers</th><td>${esc(a.approvers.join(' or '))}; <strong>${approvals.length} of ${a.quorum}</strong> approval${a.quorum > 1 ? 's' : ''}${approvals.length ? ` (${approvals.map((d) => esc(d.by)).join(', ')})` : ''}${loud ? ', never the requester' : ''}</td></tr>
<tr><th scope="row">expires</th><td>${esc(when(a.expiresAt))}</td></tr></table>
${a.args !== null && a.args !== undefined ? `<p class="muted">${a.kind === 'task_amend' ? 'The exact change to the task (what is added, what a grant becomes):' : 'The exact action (sensitive arguments redacted):'}</p><pre>${esc(JSON.stringify(a.args, null, 2))}</pre>` : ''}
${provenanceNote(a)}
<form method="post" action="/console/approvals/${esc(encodeURIComponent(a.id))}">${hidden('csrf', csrf)}
<label for="reason-${esc(a.id)}">Reason (shown to the agent and in audit)</label><input type="text" id="reason-${esc(a.id)}" name="reason" maxlength="500">
<button class="primary" type="submit" name="decision" value="approve">Approve</button><button class="danger" type="submit" name="decision" value="deny">Deny</button></form></section>`;
}

export function inboxRegion(o: { csrf: string; approvals: Array<{ approval: Approval; owner: string | null }> }): string {
  const list = o.approvals.length ? o.approvals.map((x) => approvalCard(x.approval, x.owner, o.csrf)).join('') : '<p class="ok" id="inbox-empty">Nothing waits for you.</p>';
  return `<div id="inbox" data-live="/console/live/inbox" aria-live="polite">${list}</div>`;
}

export function inboxPage(o: { viewer: Viewer; approvals: Array<{ approval: Approval; owner: string | null }>; flash?: Flash }): string {
  return layout(
    'Approvals',
    o.viewer,
    `<h1>Approvals waiting for you</h1>${flashHtml(o.flash)}<p class="muted">Each approval is for one exact action and runs it once. New requests appear here as they arrive (with JavaScript; otherwise reload).</p>${inboxRegion({ csrf: o.viewer.csrf, approvals: o.approvals })}`,
    '/',
  );
}

// ---- agents

export interface AgentRow {
  agent: Agent;
  canStop: boolean;
  lastUse: number | null;
}

function stopForm(a: Agent, csrf: string, back: string): string {
  return `<form method="post" action="/console/agents/suspend">${hidden('csrf', csrf)}${hidden('agent', a.id)}${hidden('back', back)}
<label><input type="checkbox" name="confirm" value="yes" required> confirm: end all of ${esc(a.name)}'s tasks now</label><button class="danger" type="submit">Suspend</button></form>`;
}

export function agentsPage(o: { viewer: Viewer; agents: AgentRow[]; today: string; flash?: Flash }): string {
  const rows = o.agents
    .map(({ agent: a, canStop, lastUse }) => {
      const overdue = a.reviewBy !== null && a.reviewBy !== undefined && a.reviewBy < o.today;
      return `<tr><td><a href="/console/agents/${esc(encodeURIComponent(a.id))}"><strong>${esc(a.name)}</strong></a><br><span class="muted">${esc(a.id)}</span></td><td>${esc(a.owner)}</td><td>${esc(a.purpose)}</td><td>${esc(a.environment)}</td><td><span class="tag${a.status === 'active' ? '' : ' loud'}">${esc(a.status)}</span></td><td>${esc(a.reviewBy ?? '')}${overdue ? ' <span class="tag warn">overdue</span>' : ''}</td><td>${lastUse ? esc(when(lastUse)) : '<span class="muted">never</span>'}</td><td>${canStop && a.status === 'active' ? stopForm(a, o.viewer.csrf, '/console/agents') : ''}</td></tr>`;
    })
    .join('');
  return layout(
    'Agents',
    o.viewer,
    `<h1>Agents</h1>${flashHtml(o.flash)}
<table><thead><tr><th>agent</th><th>owner</th><th>purpose</th><th>environment</th><th>status</th><th>review by</th><th>last use</th><th>kill switch</th></tr></thead><tbody>${rows || '<tr><td colspan="8">No agents registered.</td></tr>'}</tbody></table>`,
    '/console/agents',
  );
}

export interface GrantUse {
  tool: string;
  tasks: number;
  calls: number;
  lastUsed: number | null;
}

export function agentPage(o: {
  viewer: Viewer;
  agent: Agent;
  canStop: boolean;
  canBreakGlass: boolean;
  tasks: Array<{ task: Task; calls: Record<string, number> }>;
  use: GrantUse[];
  decisions: AuditEvent[];
  breakglass: { maxTtl: number; quorum: number; approvers: string[] };
  flash?: Flash;
}): string {
  const a = o.agent;
  const taskRows = o.tasks
    .map(({ task: t, calls }) => `<tr><td><strong>${esc(t.id)}</strong>${t.breakGlass ? ' <span class="tag loud">break-glass</span>' : ''}<br><span class="muted">${esc(t.intent)}</span></td><td><span class="tag">${esc(t.status)}</span></td><td>${t.scope.tools.map((g) => `<code>${esc(g.name)}</code> ${calls[g.name] ?? 0}${g.max_calls !== undefined ? `/${g.max_calls}` : ''}`).join('<br>')}</td><td>${esc(when(t.createdAt))}</td></tr>`)
    .join('');
  const useRows = o.use
    .map((u) => `<tr><td><code>${esc(u.tool)}</code></td><td>${u.tasks}</td><td>${u.calls}${u.calls === 0 ? ' <span class="tag warn">granted, never used</span>' : ''}</td><td>${u.lastUsed ? esc(when(u.lastUsed)) : ''}</td></tr>`)
    .join('');
  const decisionRows = o.decisions.map((e) => auditRow(e)).join('');
  const bg = o.canBreakGlass && a.status === 'active'
    ? `<section class="card breakglass" aria-labelledby="bg-h"><h2 id="bg-h">Break-glass: an emergency task for ${esc(a.name)}</h2>
<p class="muted">It starts only after ${o.breakglass.quorum} other people (${esc(o.breakglass.approvers.join(' or '))}) approve it; every approver and alert channel is told; it ends by itself within ${o.breakglass.maxTtl} seconds.</p>
<form method="post" action="/console/agents/breakglass">${hidden('csrf', o.viewer.csrf)}${hidden('agent', a.id)}
<label for="bg-tools">Tools (comma-separated, e.g. fs.read_text_file)</label><input type="text" id="bg-tools" name="tools" required>
<label for="bg-ttl">Lifetime in seconds (60–${o.breakglass.maxTtl})</label><input type="number" id="bg-ttl" name="ttl" min="60" max="${o.breakglass.maxTtl}" value="${Math.min(900, o.breakglass.maxTtl)}" required>
<label for="bg-reason">Why (at least 10 characters; every approver sees it)</label><input type="text" id="bg-reason" name="reason" minlength="10" maxlength="500" required>
<button class="danger" type="submit">Request break-glass</button></form></section>`
    : '';
  return layout(
    a.name,
    o.viewer,
    `<h1>${esc(a.name)} <span class="tag${a.status === 'active' ? '' : ' loud'}">${esc(a.status)}</span></h1>${flashHtml(o.flash)}
<table><tr><th scope="row">id</th><td><code>${esc(a.id)}</code></td></tr><tr><th scope="row">owner</th><td>${esc(a.owner)}</td></tr><tr><th scope="row">purpose</th><td>${esc(a.purpose)}</td></tr><tr><th scope="row">environment</th><td>${esc(a.environment)}</td></tr><tr><th scope="row">review by</th><td>${esc(a.reviewBy ?? '—')}</td></tr><tr><th scope="row">registered</th><td>${esc(when(a.createdAt))}</td></tr></table>
${o.canStop && a.status === 'active' ? `<h2>Kill switch</h2>${stopForm(a, o.viewer.csrf, `/console/agents/${encodeURIComponent(a.id)}`)}` : ''}
<h2>Granted vs used</h2><p class="muted">Every tool its recent tasks were granted, and how often it was called. A grant never used is standing privilege to take away.</p>
<table><thead><tr><th>tool</th><th>granted in tasks</th><th>calls</th><th>last call</th></tr></thead><tbody>${useRows || '<tr><td colspan="4">No tasks yet.</td></tr>'}</tbody></table>
<h2>Tasks</h2><table><thead><tr><th>task</th><th>status</th><th>grants and calls</th><th>started</th></tr></thead><tbody>${taskRows || '<tr><td colspan="4">No tasks yet.</td></tr>'}</tbody></table>
<h2>Recent decisions</h2>${auditTable(decisionRows)}
${bg}`,
    '/console/agents',
  );
}

// ---- tasks

export interface TaskRow {
  task: Task;
  depth: number;
  calls: Record<string, number>;
  canEnd: boolean;
}

export function tasksRegion(o: { csrf: string; tasks: TaskRow[] }): string {
  const rows = o.tasks
    .map(({ task: t, depth, calls, canEnd }) => {
      const grants = t.scope.tools.map((g) => `<code>${esc(g.name)}</code> ${calls[g.name] ?? 0}${g.max_calls !== undefined ? `/${g.max_calls}` : ''}`).join('<br>');
      const end = canEnd
        ? `<form method="post" action="/console/tasks/revoke">${hidden('csrf', o.csrf)}${hidden('task', t.id)}<label><input type="checkbox" name="confirm" value="yes" required> confirm: end it and every task delegated from it</label><button class="danger" type="submit">Revoke</button></form>`
        : '';
      const v = `${t.status}:${Object.values(calls).reduce((x, y) => x + y, 0)}:${t.labels.length}:${canEnd}`;
      return `<tr id="${esc(t.id)}" data-v="${esc(v)}"><td>${depth ? `${'↳ '.repeat(depth)}` : ''}<strong>${esc(t.id)}</strong>${t.breakGlass ? ' <span class="tag loud">break-glass</span>' : ''}<br><span class="muted">${esc(t.intent)}</span></td><td><a href="/console/agents/${esc(encodeURIComponent(t.agentId))}">${esc(t.agentId)}</a></td><td>${grants}</td><td>${t.labels.map((l) => `<span class="tag">${esc(l)}</span>`).join(' ')}</td><td>${esc(when(t.expiresAt))}</td><td>${end}</td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>task</th><th>agent</th><th>grants and calls</th><th>labels</th><th>expires</th><th>end</th></tr></thead><tbody data-live="/console/live/tasks">${rows || '<tr id="tasks-empty"><td colspan="6">No live tasks.</td></tr>'}</tbody></table>`;
}

export function tasksPage(o: { viewer: Viewer; tasks: TaskRow[]; flash?: Flash }): string {
  return layout(
    'Tasks',
    o.viewer,
    `<h1>Live tasks</h1>${flashHtml(o.flash)}
<p class="muted">Delegated tasks are listed under the task they came from (↳). Calls: used/limit per grant. Labels: what the task has read (taint).</p>${tasksRegion({ csrf: o.viewer.csrf, tasks: o.tasks })}`,
    '/console/tasks',
  );
}

// ---- audit

function auditRow(e: AuditEvent): string {
  const d = e.data as Record<string, unknown>;
  const what = [d.tool, (d.http as { path?: unknown } | undefined)?.path, d.role].filter(Boolean).join(' ');
  const why = Array.isArray(d.reasons) ? String(d.reasons[0] ?? '') : typeof d.reason === 'string' ? d.reason : '';
  return `<tr id="ev-${e.seq}"><td><a href="/console/audit/${e.seq}">${e.seq}</a></td><td>${esc(when(e.ts))}</td><td><code>${esc(e.type)}</code></td><td>${esc(e.actor)}</td><td>${esc(e.decision ?? '')} ${esc(e.outcome ?? '')}</td><td>${esc(what)}<br><span class="muted">${esc(why.slice(0, 200))}</span></td><td><span class="muted">${esc(e.taskId ?? '')}</span></td></tr>`;
}

function auditTable(rows: string, live?: string): string {
  return `<table><thead><tr><th>#</th><th>time</th><th>type</th><th>actor</th><th>decision / outcome</th><th>what, why</th><th>task</th></tr></thead><tbody${live ? ` data-live="${esc(live)}"` : ''}>${rows || '<tr id="ev-none"><td colspan="7">No events match.</td></tr>'}</tbody></table>`;
}

export const AUDIT_FILTERS: Array<[string, string]> = [
  ['agent', 'Agent id'],
  ['task', 'Task id'],
  ['tool', 'Tool (e.g. fs.read_text_file)'],
  ['type', 'Event type (e.g. tool.call)'],
  ['decision', 'Decision (allow, deny, approval_required)'],
  ['since', 'From (UTC, e.g. 2026-12-01 09:00)'],
  ['until', 'Until (UTC)'],
];

export function auditRegion(o: { events: AuditEvent[]; query: string }): string {
  return auditTable(o.events.map(auditRow).join(''), `/console/live/audit${o.query ? `?${o.query}` : ''}`);
}

export function auditPage(o: {
  viewer: Viewer;
  events: AuditEvent[];
  filter: Record<string, string>;
  query: string;
  scope: string | null;
  head: { seq: number; hash: string } | null;
  verify: { ok: boolean; checked: number; head: { seq: number; hash: string } | null; broken?: { seq: number; reason: string } | undefined } | null;
  error?: string | undefined;
}): string {
  const f = ([k, label]: [string, string]) => `<div><label for="f-${k}">${esc(label)}</label><input type="text" id="f-${k}" name="${k}" value="${esc(o.filter[k] ?? '')}"></div>`;
  const v = o.verify;
  const verifyQuery = new URLSearchParams(o.query);
  verifyQuery.set('verify', '1');
  return layout(
    'Audit',
    o.viewer,
    `<h1>Audit log</h1>
${
      v
        ? `<p class="${v.ok ? 'ok' : 'error'}" role="status">${v.ok ? `Hash chain intact: ${v.checked} events checked${v.head ? `, head #${v.head.seq} <code>${esc(v.head.hash)}</code>` : ''}.` : `Hash chain BROKEN at event #${v.broken?.seq}: ${esc(v.broken?.reason ?? '')}`}</p>`
        : `<p class="muted">Head ${o.head ? `#${o.head.seq} <code>${esc(o.head.hash)}</code>` : '(empty log)'}. <a href="/console/audit?${esc(verifyQuery.toString())}">Verify the whole chain now</a> (reads every event).</p>`
    }${o.scope ? `<p class="muted">${esc(o.scope)}</p>` : ''}${o.error ? `<p class="error" role="alert">${esc(o.error)}</p>` : ''}
<form method="get" action="/console/audit" class="filters">${AUDIT_FILTERS.map(f).join('')}<div><button type="submit">Filter</button></div></form>
<p class="muted">Newest first, at most 200; new events appear as they are written. <a href="/console/audit/export${o.query ? `?${esc(o.query)}` : ''}" download>Export these filters as JSON Lines</a> (every matching event, with its hashes).</p>
${auditRegion({ events: o.events, query: o.query })}`,
    '/console/audit',
  );
}

export function auditEventPage(o: { viewer: Viewer; event: AuditEvent }): string {
  const e = o.event;
  return layout(
    `Event #${e.seq}`,
    o.viewer,
    `<h1>Audit event #${e.seq} <code>${esc(e.type)}</code></h1>
<table><tr><th scope="row">time</th><td>${esc(when(e.ts))}</td></tr><tr><th scope="row">actor</th><td>${esc(e.actor)}</td></tr><tr><th scope="row">agent</th><td>${e.agentId ? `<a href="/console/agents/${esc(encodeURIComponent(e.agentId))}">${esc(e.agentId)}</a>` : ''}</td></tr><tr><th scope="row">task</th><td>${e.taskId ? `<a href="/console/audit?task=${esc(encodeURIComponent(e.taskId))}">${esc(e.taskId)}</a>` : ''}</td></tr><tr><th scope="row">decision</th><td>${esc(e.decision ?? '')}</td></tr><tr><th scope="row">outcome</th><td>${esc(e.outcome ?? '')}</td></tr>
<tr><th scope="row">previous hash</th><td><code>${esc(e.prevHash)}</code></td></tr><tr><th scope="row">hash</th><td><code>${esc(e.hash)}</code></td></tr></table>
<h2>Details</h2><pre>${esc(JSON.stringify(e.data, null, 2))}</pre><p><a href="/console/audit">Back to the audit log</a></p>`,
    '/console/audit',
  );
}

// ---- policies and what-if

export function policiesPage(o: {
  viewer: Viewer;
  version: string;
  versionNumber: number | null;
  policies: PolicyInfo[];
  warnings: string[];
  whatIf: { agent: string; tool: string; args: string; task: string; action: string };
  result?: Explanation | undefined;
  error?: string | undefined;
}): string {
  const w = o.whatIf;
  const r = o.result;
  const result = r
    ? `<section class="card" aria-labelledby="wi-h"><h2 id="wi-h">Decision: <span class="tag${r.decision.decision === 'allow' ? '' : ' loud'}">${esc(r.decision.decision)}</span>${r.hypotheticalTask ? ' <span class="muted">(in a hypothetical task granting just this tool)</span>' : ''}</h2>
${r.decision.reasons.length ? `<p>${r.decision.reasons.map((x) => esc(x)).join('<br>')}</p>` : ''}
<p class="muted">${r.decision.evaluated} policies evaluated; determining ones marked.</p>
<table><thead><tr><th>policy</th><th>effect</th><th>where</th><th>determining</th></tr></thead><tbody>${r.policies.map((p) => `<tr><td><code>${esc(p.id)}</code></td><td>${esc(p.effect)}</td><td>${esc(p.file)}:${p.line}</td><td>${p.determining ? '<strong>yes</strong>' : ''}</td></tr>`).join('')}</tbody></table></section>`
    : '';
  const rows = o.policies
    .map((p) => `<tr id="p-${esc(p.id)}"><td><code>${esc(p.id)}</code>${p.annotations.approval ? ` <span class="tag warn">approval: ${esc(p.annotations.approval)}</span>` : ''}</td><td>${esc(p.effect)}</td><td>${esc(p.file)}:${p.line}</td><td><details><summary>text</summary><pre>${esc(p.text)}</pre></details>${p.annotations.reason ? `<span class="muted">${esc(p.annotations.reason)}</span>` : ''}</td></tr>`)
    .join('');
  return layout(
    'Policies',
    o.viewer,
    `<h1>Policies</h1>
<p class="muted">Version <code>${esc(o.version)}</code>${o.versionNumber !== null ? ` (#${o.versionNumber})` : ''}; ${o.policies.length} policies. Change them in the policy directory and <code>mandate policy reload</code>.</p>
${o.warnings.length ? `<p class="error">${o.warnings.map((x) => esc(x)).join('<br>')}</p>` : ''}
<h2 id="whatif">What if…</h2>
<form method="post" action="/console/policies/whatif#whatif">${hidden('csrf', o.viewer.csrf)}
<label for="wi-agent">Agent id</label><input type="text" id="wi-agent" name="agent" value="${esc(w.agent)}" required>
<label for="wi-tool">Tool</label><input type="text" id="wi-tool" name="tool" value="${esc(w.tool)}" required>
<label for="wi-args">Arguments (JSON object)</label><textarea id="wi-args" name="args">${esc(w.args)}</textarea>
<label for="wi-task">In a live task (optional; otherwise a hypothetical task granting just this tool)</label><input type="text" id="wi-task" name="task" value="${esc(w.task)}">
<label for="wi-action">Action</label><select id="wi-action" name="action"><option value="call"${w.action !== 'startTask' ? ' selected' : ''}>call the tool</option><option value="startTask"${w.action === 'startTask' ? ' selected' : ''}>start a task granting it</option></select>
<button class="primary" type="submit">Explain</button></form>
${o.error ? `<p class="error" role="alert">${esc(o.error)}</p>` : ''}${result}
<h2>The policy set</h2>
<table><thead><tr><th>policy</th><th>effect</th><th>file:line</th><th>text</th></tr></thead><tbody>${rows}</tbody></table>`,
    '/console/policies',
  );
}

// ---- tools and pins

export type PinStatus = 'accepted' | 'changed' | 'new' | 'unpinned';

export function pinStatus(p: ToolPin | undefined): PinStatus {
  if (!p) return 'unpinned';
  return p.pendingHash ? (p.acceptedHash ? 'changed' : 'new') : 'accepted';
}

export function toolsPage(o: { viewer: Viewer; tools: Array<{ tool: ToolSpec; pin: PinStatus }>; pending: Array<{ upstream: string; tool: string; status: PinStatus; diff: DiffLine[]; pending: unknown; hash: string }>; canAccept: boolean; flash?: Flash }): string {
  const pendingCards = o.pending
    .map(
      (p) => `<section class="card breakglass" id="pin-${esc(p.upstream)}-${esc(p.tool)}" aria-labelledby="pin-h-${esc(p.upstream)}-${esc(p.tool)}"><h2 id="pin-h-${esc(p.upstream)}-${esc(p.tool)}"><span class="tag loud">${p.status === 'new' ? 'NEW TOOL' : 'CHANGED'}</span> <code>${esc(`${p.upstream}.${p.tool}`)}</code></h2>
<p class="muted">${p.status === 'new' ? 'The upstream offers a tool nobody accepted yet. Its definition:' : 'The upstream changed this definition. Until accepted, agents do not see the tool and calls to it are denied. What changed:'}</p>
${p.status === 'new' ? `<pre>${esc(JSON.stringify(p.pending, null, 2))}</pre>` : `<pre aria-label="difference">${p.diff.map((l) => `<span class="${l.op === '-' ? 'del' : 'add'}">${esc(`${l.op} ${l.text}`)}</span>`).join('\n')}</pre>`}
${o.canAccept ? `<form method="post" action="/console/tools/accept">${hidden('csrf', o.viewer.csrf)}${hidden('upstream', p.upstream)}${hidden('tool', p.tool)}${hidden('hash', p.hash)}<label><input type="checkbox" name="confirm" value="yes" required> I read the ${p.status === 'new' ? 'definition' : 'difference'}: agents may use this definition</label><button class="danger" type="submit">Accept</button></form>` : '<p class="muted">A person with the admin role accepts changed definitions.</p>'}</section>`,
    )
    .join('');
  const rows = o.tools
    .map(({ tool: t, pin }) => `<tr><td><code>${esc(t.name)}</code><br><span class="muted">${esc((t.description ?? '').slice(0, 160))}</span></td><td>${esc(t.kind ?? 'mcp')}${t.method ? ` ${esc(t.method)}` : ''}</td><td><span class="tag${t.risk === 'destructive' || t.risk === 'admin' ? ' loud' : t.risk === 'write' || t.risk === 'egress' ? ' warn' : ''}">${esc(t.risk)}</span></td><td>${esc(t.classification)}</td><td><span class="tag${pin === 'changed' || pin === 'new' ? ' loud' : ''}">${esc(pin)}</span>${t.blocked ? '<br><span class="muted">blocked</span>' : ''}</td></tr>`)
    .join('');
  return layout(
    'Tools',
    o.viewer,
    `<h1>Tools</h1>${flashHtml(o.flash)}
${pendingCards ? `<h2>Waiting for acceptance</h2>${pendingCards}` : '<p class="ok">Every tool definition upstreams offer is the accepted one.</p>'}
<h2>The catalogue</h2><p class="muted">Risk class and classification come from configuration; pin status says whether the upstream's current definition is the accepted one.</p>
<table><thead><tr><th>tool</th><th>kind</th><th>risk</th><th>classification</th><th>pin</th></tr></thead><tbody>${rows || '<tr><td colspan="5">No tools.</td></tr>'}</tbody></table>`,
    '/console/tools',
  );
}

// ---- access review

const FINDING_LABEL: Record<string, string> = {
  overdue_review: 'review overdue',
  stale: 'stale',
  orphaned: 'orphaned',
  never_used: 'granted, never used',
  always_denied: 'always refused',
  live_delegations_of_suspended: 'live delegations',
  break_glass: 'break-glass',
  would_deny: 'would deny (observe)',
};

export function reviewPage(o: { viewer: Viewer; review: Review; since: string; scope: string | null; canAccept: (agent: string) => boolean; flash?: Flash }): string {
  const r = o.review;
  const byAgent = new Map<string, Review['findings']>();
  for (const f of r.findings) byAgent.set(f.agent, [...(byAgent.get(f.agent) ?? []), f]);
  const day = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 10));
  const rows = r.agents
    .map((a) => {
      const findings = byAgent.get(a.id) ?? [];
      const used = a.tools.filter((t) => t.calls > 0).map((t) => `<code>${esc(t.tool)}</code> ×${t.calls}`).join('<br>');
      const accept =
        o.canAccept(a.id) && a.status !== 'retired'
          ? `<form method="post" action="/console/review/accept">${hidden('csrf', o.viewer.csrf)}${hidden('agent', a.id)}${hidden('since', o.since)}<label for="rv-${esc(a.name)}">Next review in days</label><input type="number" id="rv-${esc(a.name)}" name="next" min="1" max="730" value="90"><button type="submit">Accept review</button></form>`
          : '';
      return `<tr id="rv-row-${esc(a.name)}"><td><a href="/console/agents/${esc(encodeURIComponent(a.id))}"><strong>${esc(a.name)}</strong></a><br><span class="muted">${esc(a.owner)}${a.ownerStatus === 'active' ? '' : ` (${esc(a.ownerStatus)})`} · ${esc(a.environment)} · ${esc(a.status)}</span></td><td>${esc(a.reviewBy ?? '—')}${a.overdue ? ' <span class="tag warn">overdue</span>' : ''}<br><span class="muted">last task ${esc(day(a.lastTaskAt))}</span></td><td>${used || '<span class="muted">nothing</span>'}</td><td>${findings.map((f) => `<span class="tag${f.kind === 'orphaned' || f.kind === 'live_delegations_of_suspended' || f.kind === 'would_deny' ? ' loud' : ' warn'}">${esc(FINDING_LABEL[f.kind] ?? f.kind)}</span> ${esc(f.detail)}`).join('<br>') || '<span class="muted">none</span>'}</td><td>${accept}</td></tr>`;
    })
    .join('');
  const a = r.approvals;
  const secs = (ms: number | null) => (ms === null ? '—' : `${Math.round(ms / 1000)} s`);
  return layout(
    'Access review',
    o.viewer,
    `<h1>Access review</h1>${flashHtml(o.flash)}
<form method="get" action="/console/review" class="filters"><div><label for="rv-since">Window (e.g. 30d, 7d, 2026-11-01)</label><input type="text" id="rv-since" name="since" value="${esc(o.since)}"></div><div><button type="submit">Review</button></div></form>
<p class="muted">${esc(day(r.window.since))} to ${esc(day(r.window.until))}; ${r.eventsRead} audit events read; stale after ${r.window.staleDays} days without a task.${o.scope ? ` ${esc(o.scope)}` : ''}</p>
<p><strong>${r.findings.length}</strong> finding${r.findings.length === 1 ? '' : 's'}. Approvals: ${a.asked} asked, ${a.approved} approved, ${a.denied} denied, ${a.expired} expired, ${a.pending} pending; time to decide median ${secs(a.medianDecideMs)}, p90 ${secs(a.p90DecideMs)}.</p>
<p class="muted">Accepting a review records that the agent still needs what it has (in audit) and moves its review date; to take access away, suspend or retire the agent on its page, or narrow the policies.</p>
<table><thead><tr><th>agent</th><th>review by</th><th>used in the window</th><th>findings</th><th>review</th></tr></thead><tbody>${rows || '<tr><td colspan="5">No agents to review.</td></tr>'}</tbody></table>`,
    '/console/review',
  );
}

// ---- framework report

export function reportPage(o: { viewer: Viewer; report: Report; since: string; scope: string | null }): string {
  const q = (format: string) => esc(new URLSearchParams({ since: o.since, format }).toString());
  return layout(
    'Framework report',
    o.viewer,
    `<form method="get" action="/console/report" class="filters"><div><label for="rp-since">Window (e.g. 30d, 7d, 2026-11-01)</label><input type="text" id="rp-since" name="since" value="${esc(o.since)}"></div><div><button type="submit">Report</button></div></form>
<p class="muted">${o.scope ? `${esc(o.scope)} ` : ''}Download: <a href="/console/report/export?${q('html')}">HTML (prints to PDF)</a> · <a href="/console/report/export?${q('md')}">Markdown</a> · <a href="/console/report/export?${q('json')}">JSON</a>.</p>
${reportBody(o.report)}`,
    '/console/report',
  );
}

export function errorPage(title: string, message: string, v: Viewer | null = null): string {
  return layout(title, v, `<h1>${esc(title)}</h1><p class="error" role="alert">${esc(message)}</p><p><a href="/">Back to the console</a></p>`);
}
