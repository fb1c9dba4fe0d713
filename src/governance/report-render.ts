// The framework report as HTML (one self-contained file: inline CSS, inline SVG charts, no
// script, nothing fetched — readable on screen and printed, one framework per printed page) and
// as Markdown with the same content. The HTML body uses classes and SVG presentation attributes
// only (no `style` attributes), so the console can show it under its CSP with REPORT_CSS served
// as a stylesheet.

import { esc } from '../oauth/consent-page.js';
import type { ControlState, ItemStatus, Report, TimelinePoint } from './report.js';

const STATUS_LABEL: Record<ItemStatus, string> = { addressed: 'addressed', partial: 'partial', gap: 'GAP', not_applicable: 'not applicable' };
const STATE_LABEL: Record<ControlState, string> = { on: 'on', partial: 'partial', off: 'OFF', unknown: 'unknown' };
const COLOR = { allow: '#2e7d32', approval: '#b26a00', deny: '#c62828' } as const;

export const REPORT_CSS = `
.r{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a1a1a;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.r h1{font-size:1.5em;margin:.2rem 0}.r h2{font-size:1.2em;margin:1.4rem 0 .5rem;border-bottom:2px solid #14233c;padding-bottom:.2rem}.r h3{font-size:1em;margin:1rem 0 .4rem}
.r-sub{color:#444;margin:.2rem 0}.r-muted{color:#555;font-size:.88em}
.r table{border-collapse:collapse;width:100%;margin:.4rem 0}.r td,.r th{text-align:left;padding:.28rem .4rem;border-bottom:1px solid #e2e2e8;vertical-align:top;font-size:.86em}
.r th{background:#f1f3f8}.r td.r-n,.r th.r-n{text-align:right;font-variant-numeric:tabular-nums}
.r-badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-size:.8em;font-weight:600;white-space:nowrap}
.r-s-addressed,.r-c-on{background:#e3f4e6;color:#0b5a1f}.r-s-partial,.r-c-partial{background:#fff1d6;color:#7a4b00}
.r-s-gap,.r-c-off{background:#b00;color:#fff}.r-s-not_applicable,.r-c-unknown{background:#e8e8ec;color:#444}
.r-gaps li{margin:.25rem 0}.r-kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.5rem;margin:.6rem 0}
.r-tables{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.2rem 1rem;align-items:start}.r-tables caption{text-align:left;font-weight:600}.r-n{white-space:nowrap}
.r-framework th:nth-child(1){width:23%}.r-framework th:nth-child(2){width:8%}.r-framework th:nth-child(4){width:27%}.r-ctl th:nth-child(1){width:28%}.r-ctl th:nth-child(2){width:7%}
.r-chips{margin:0;padding:0;list-style:none}.r-chips li{margin:0 0 .15rem}
.r-kpi{border:1px solid #d8dbe6;border-radius:6px;padding:.4rem .6rem}.r-kpi b{display:block;font-size:1.25em}.r-kpi span{color:#444;font-size:.8em}
.r figure{margin:.8rem 0;break-inside:avoid}.r figcaption{color:#444;font-size:.85em}.r svg{max-width:100%;height:auto}
.r-facts{margin:0;padding:0;list-style:none;font-size:.8em;color:#333}.r-facts li{margin:0}
.r code{font-family:ui-monospace,monospace;font-size:.82em;word-break:break-all}
@media print{@page{size:A4;margin:14mm}body{margin:0}.r{max-width:none;font-size:11px}.r-page{break-before:page}.r tr,.r li{break-inside:avoid}.r h2,.r h3{break-after:avoid}a{color:inherit;text-decoration:none}}
`;

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const instant = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
const secs = (ms: number | null) => (ms === null ? '—' : `${Math.round(ms / 1000)} s`);
const pointLabel = (p: TimelinePoint, bucket: string) => (bucket === 'hour' ? new Date(p.start).toISOString().replace('T', ' ').slice(5, 16) : new Date(p.start).toISOString().slice(5, 10));
const fact = (v: string | number | boolean) => (typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v));

/** A round number at or above n (1, 2, 5 × 10^k). */
function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/** Decisions over time, stacked allow / approval / deny per bucket. */
export function decisionsChart(r: Report): string {
  const { points, bucket } = r.evidence.timeline;
  const W = 760;
  const H = 250;
  const L = 46;
  const T = 28;
  const pw = W - L - 12;
  const ph = H - T - 40;
  const max = niceMax(Math.max(1, ...points.map((p) => p.allow + p.approval + p.deny)));
  const bw = pw / points.length;
  const gap = bw > 4 ? bw * 0.18 : 0;
  const y = (v: number) => T + ph - (v / max) * ph;
  const bars = points
    .map((p, i) => {
      const total = p.allow + p.approval + p.deny;
      if (!total) return '';
      let top = T + ph;
      const x = (L + i * bw + gap / 2).toFixed(1);
      const w = Math.max(0.8, bw - gap).toFixed(1);
      const rects = (['allow', 'approval', 'deny'] as const)
        .map((k) => {
          if (!p[k]) return '';
          const h = (p[k] / max) * ph;
          top -= h;
          return `<rect x="${x}" y="${top.toFixed(1)}" width="${w}" height="${h.toFixed(1)}" fill="${COLOR[k]}"/>`;
        })
        .join('');
      return `<g><title>${esc(`${pointLabel(p, bucket)}: ${p.allow} allowed, ${p.approval} through approval, ${p.deny} denied`)}</title>${rects}</g>`;
    })
    .join('');
  const ticks = [0, max / 2, max]
    .map((v) => `<line x1="${L}" x2="${L + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#dde" stroke-width="1"/><text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#444">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`)
    .join('');
  const every = Math.max(1, Math.ceil(points.length / 6));
  const labels = points
    .map((p, i) => (i % every === 0 ? `<text x="${(L + i * bw + bw / 2).toFixed(1)}" y="${T + ph + 16}" text-anchor="middle" fill="#444">${esc(pointLabel(p, bucket))}</text>` : ''))
    .join('');
  const legend = (['allow', 'approval', 'deny'] as const)
    .map((k, i) => `<rect x="${L + i * 150}" y="6" width="11" height="11" fill="${COLOR[k]}"/><text x="${L + i * 150 + 16}" y="16" fill="#222">${{ allow: 'allowed', approval: 'through approval', deny: 'denied' }[k]}</text>`)
    .join('');
  const d = r.evidence.decisions;
  return `<svg id="chart-decisions" class="r-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="chart-decisions-t chart-decisions-d" font-family="system-ui, sans-serif" font-size="11"><title id="chart-decisions-t">Decisions per ${bucket}</title><desc id="chart-decisions-d">${d.total} decisions: ${d.allow} allowed, ${d.approval} through approval, ${d.deny} denied</desc>${legend}${ticks}${bars}<line x1="${L}" x2="${L + pw}" y1="${T + ph}" y2="${T + ph}" stroke="#888"/>${labels}<text x="${L + pw}" y="${H - 4}" text-anchor="end" fill="#666">per ${bucket} (UTC)</text></svg>`;
}

/** Denials grouped by reason, the ten most frequent. */
export function denialsChart(r: Report): string {
  const rows = r.evidence.denialsByReason.slice(0, 10);
  const W = 760;
  const row = 30;
  const H = rows.length * row + 8;
  const max = Math.max(1, ...rows.map((x) => x.count));
  const pw = W - 70;
  const body = rows
    .map((x, i) => {
      const top = 4 + i * row;
      const label = x.reason.length > 110 ? `${x.reason.slice(0, 107)}…` : x.reason;
      const w = Math.max(2, (x.count / max) * pw);
      return `<g><title>${esc(`${x.reason}: ${x.count}`)}</title><text x="0" y="${top + 11}" fill="#222">${esc(label)}</text><rect x="0" y="${top + 15}" width="${w.toFixed(1)}" height="10" fill="${COLOR.deny}"/><text x="${(w + 6).toFixed(1)}" y="${top + 24}" fill="#222">${x.count}</text></g>`;
    })
    .join('');
  return `<svg id="chart-denials" class="r-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="chart-denials-t" font-family="system-ui, sans-serif" font-size="11"><title id="chart-denials-t">Denials by reason</title>${body}</svg>`;
}

/** Escaped prose, with `backticked` names as code. */
const prose = (t: string) => esc(t).replace(/&#96;(.+?)&#96;/g, '<code>$1</code>');
const badge = (s: ItemStatus) => `<span class="r-badge r-s-${s}">${STATUS_LABEL[s]}</span>`;
const chip = (s: ControlState) => `<span class="r-badge r-c-${s}">${STATE_LABEL[s]}</span>`;

/** The report's HTML, without the document around it (the console puts it in its layout). */
export function reportBody(r: Report): string {
  const e = r.evidence;
  const gaps = r.frameworks.flatMap((f) => f.items.filter((i) => i.status === 'gap').map((i) => ({ f, i })));
  const kpi = (value: number | string, label: string, id?: string) => `<div class="r-kpi"${id ? ` id="${id}"` : ''}><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
  const tableRows = (rows: Array<[string, string | number]>) => rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td class="r-n">${esc(v)}</td></tr>`).join('');
  const summaryRows = r.frameworks
    .map((f) => `<tr><td><a href="#fw-${f.id}">${esc(f.name)}</a> <span class="r-muted">${esc(f.version)}</span></td><td class="r-n">${f.counts.addressed}</td><td class="r-n">${f.counts.partial}</td><td class="r-n">${f.counts.gap}</td><td class="r-n">${f.counts.not_applicable}</td></tr>`)
    .join('');
  const controlRows = r.controls
    .map((c) => `<tr id="ctl-${c.id}"><td><strong>${esc(c.title)}</strong><br><span class="r-muted">${prose(c.what)}</span></td><td>${chip(c.state)}</td><td>${prose(c.summary)}<ul class="r-facts">${c.facts.map((f) => `<li>${esc(f.label)}: <strong>${esc(fact(f.value))}</strong></li>`).join('')}</ul></td></tr>`)
    .join('');
  const frameworks = r.frameworks
    .map(
      (f) => `<section class="r-page r-framework" id="fw-${f.id}" aria-labelledby="fw-${f.id}-h"><h2 id="fw-${f.id}-h">${esc(f.name)} <span class="r-muted">${esc(f.version)}</span></h2>
<p class="r-muted">${f.note ? `Covers ${esc(f.note)}. ` : ''}${f.counts.addressed} addressed, ${f.counts.partial} partial, ${f.counts.gap} gap${f.counts.gap === 1 ? '' : 's'}, ${f.counts.not_applicable} not applicable. Source: ${esc(f.url)}</p>
<table><thead><tr><th>item</th><th>status</th><th>why, in this deployment</th><th>Mandate controls</th></tr></thead><tbody>${f.items
        .map((i) => `<tr id="item-${esc(i.id.replace(/\s+/g, '-'))}" data-status="${i.status}"><td><strong>${esc(i.id)}</strong> ${esc(i.title)}<br><span class="r-muted">${esc(i.about)}</span></td><td>${badge(i.status)}</td><td>${prose(i.why)}</td><td>${i.controls.length ? `<ul class="r-chips">${i.controls.map((c) => `<li><a href="#ctl-${c.id}">${esc(c.title)}</a> ${chip(c.state)}</li>`).join('')}</ul>` : '<span class="r-muted">—</span>'}</td></tr>`)
        .join('')}</tbody></table></section>`,
    )
    .join('');
  const d = e.decisions;
  return `<article class="r" id="mandate-report">
<div class="r-head"><h1>Framework report</h1>
<p class="r-sub"><strong>${esc(r.deployment.trustDomain)}</strong> · Mandate ${esc(r.deployment.mandateVersion)} · ${esc(r.deployment.store)} · policy ${esc(r.deployment.policyVersion.slice(0, 12))}${r.deployment.policyVersionNumber ? ` (#${r.deployment.policyVersionNumber})` : ''}</p>
<p class="r-sub">Window ${esc(instant(r.window.since))} to ${esc(instant(r.window.until))} · generated ${esc(instant(r.generatedAt))} · covers ${esc(r.scope.description)}</p></div>
<section aria-labelledby="r-sum-h"><h2 id="r-sum-h">Summary</h2>
<p>Each item of each framework is <span class="r-badge r-s-addressed">addressed</span> (every Mandate control it relies on is in force here), <span class="r-badge r-s-partial">partial</span> (a control is weak here, or Mandate covers only part of the item), <span class="r-badge r-s-gap">GAP</span> (a control it relies on is missing or failing in this deployment) or <span class="r-badge r-s-not_applicable">not applicable</span> to a gateway.</p>
<table id="r-summary"><thead><tr><th>framework</th><th class="r-n">addressed</th><th class="r-n">partial</th><th class="r-n">gap</th><th class="r-n">not applicable</th></tr></thead><tbody>${summaryRows}<tr><th scope="row">all</th><td class="r-n">${r.summary.addressed}</td><td class="r-n">${r.summary.partial}</td><td class="r-n">${r.summary.gap}</td><td class="r-n">${r.summary.not_applicable}</td></tr></tbody></table>
<h3>Gaps to close</h3>${gaps.length ? `<ul class="r-gaps" id="r-gaps">${gaps.map(({ f, i }) => `<li>${badge('gap')} <strong>${esc(i.id)} ${esc(i.title)}</strong> <span class="r-muted">(${esc(f.name)})</span> — ${prose(i.why)}</li>`).join('')}</ul>` : '<p id="r-gaps">None: no control an item relies on is missing here.</p>'}
</section>
<section class="r-page" aria-labelledby="r-ev-h"><h2 id="r-ev-h">Evidence from the audit log</h2>
<p class="r-muted">${e.eventsRead} audit events read in one pass over the window${r.scope.owner ? `; ${e.eventsInScope} of them about the agents covered` : ''}. Decisions are those on tool calls (MCP and HTTP APIs) and AuthZEN evaluations; "through approval" means a person was asked.</p>
<div class="r-kpis">${kpi(d.total, 'decisions', 'kpi-decisions')}${kpi(d.allow, 'allowed')}${kpi(d.approval, 'through approval')}${kpi(d.deny, 'denied')}${kpi(d.wouldDeny, 'would deny (observe mode)')}${kpi(e.approvals.asked, 'approvals asked')}${kpi(e.tasks.revoked, 'tasks revoked')}${kpi(e.agents.suspended, 'agents suspended')}${kpi(e.breakGlass.started, 'break-glass uses')}${kpi(e.approvals.forUntrustedValues, 'approvals for untrusted values')}${kpi(e.chain.ok ? 'intact' : 'BROKEN', 'audit chain (window)', 'kpi-chain')}</div>
<figure>${decisionsChart(r)}<figcaption>Decisions per ${e.timeline.bucket} (UTC): allowed, through approval (a person was asked: approved, refused or still waiting) and denied.</figcaption></figure>
<h3>Denials by reason</h3>${e.denialsByReason.length ? `<figure>${denialsChart(r)}<figcaption>The ${Math.min(10, e.denialsByReason.length)} most frequent of ${e.denialsByReason.length} reasons (specific names and numbers folded together).</figcaption></figure>` : '<p>No denials in the window.</p>'}
<div class="r-tables">
<table><caption>Approvals</caption><tbody>${tableRows([
    ['asked', e.approvals.asked],
    ['approved', e.approvals.approved],
    ['denied', e.approvals.denied],
    ['expired or voided', e.approvals.expired],
    ['used', e.approvals.used],
    ['asked for calls with untrusted values (provenance)', e.approvals.forUntrustedValues],
    ['time to decide, median', secs(e.approvals.medianDecideMs)],
    ['time to decide, p90', secs(e.approvals.p90DecideMs)],
  ])}</tbody></table>
<table><caption>Tasks and credentials</caption><tbody>${tableRows([
    ['tasks started', e.tasks.started],
    ['task starts denied', e.tasks.denied],
    ['task starts held for approval', e.tasks.pendingApproval],
    ['delegations / refused', `${e.tasks.delegated} / ${e.tasks.delegationsDenied}`],
    ['tasks revoked', e.tasks.revoked],
    ['tasks expired', e.tasks.expired],
    ['credentials issued', e.credentials.issued],
    ['of them bearer (not key-bound)', e.credentials.bearer],
  ])}</tbody></table>
<table><caption>People and lifecycle</caption><tbody>${tableRows([
    ['agents suspended', e.agents.suspended],
    ['agents retired', e.agents.retired],
    ['break-glass requests / uses', `${e.breakGlass.requested} / ${e.breakGlass.started}`],
    ['calls with untrusted values', d.withUntrustedValues],
    ['authentication failures', e.authFailures],
    ['credentials refused at the gateway', e.credentialRefusals],
    ['actions with the shared admin token', e.adminTokenActions],
  ])}</tbody></table></div>
<h3>Audit chain</h3><p id="r-chain">${e.chain.ok ? `Intact over the window: ${e.chain.eventsChecked} events re-hashed, ${e.chain.linksChecked} links checked${e.chain.linksNotChecked ? ` (${e.chain.linksNotChecked} not checked: events outside the window's time range interleaved)` : ''}.` : `BROKEN at event #${e.chain.broken!.seq}: ${esc(e.chain.broken!.reason)}.`} Head ${e.chain.head ? `#${e.chain.head.seq} <code>${esc(e.chain.head.hash)}</code>` : '(empty log)'}. The whole chain: <code>mandate audit verify</code>.</p>
</section>
<section class="r-page" aria-labelledby="r-ctl-h"><h2 id="r-ctl-h">Controls in this deployment</h2>
<p class="r-muted">Evaluated now from the configuration, the loaded policies, the tool catalogue and pins, and the registry; counts are over the window.</p>
<table class="r-ctl"><thead><tr><th>control</th><th>state</th><th>in this deployment</th></tr></thead><tbody>${controlRows}</tbody></table></section>
${frameworks}
</article>`;
}

/** The whole report as one self-contained HTML document. */
export function reportHtml(r: Report): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>Framework report — ${esc(r.deployment.trustDomain)} — ${day(r.generatedAt)}</title><style>body{margin:1rem}.r{max-width:60rem;margin:0 auto}${REPORT_CSS}</style></head><body>${reportBody(r)}</body></html>\n`;
}

/** A Markdown table cell: no pipes or line breaks. */
const cell = (v: unknown) => String(v).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const mdTable = (head: string[], rows: unknown[][]) => [`| ${head.join(' | ')} |`, `|${head.map((h) => (/^(addressed|partial|gap|not applicable|count|allowed|through approval|denied)$/.test(h) ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

/** The same content as Markdown. */
export function reportMarkdown(r: Report): string {
  const e = r.evidence;
  const d = e.decisions;
  const out: string[] = [];
  out.push(`# Framework report — ${r.deployment.trustDomain}`, '');
  out.push(`Mandate ${r.deployment.mandateVersion} · ${r.deployment.store} · policy ${r.deployment.policyVersion.slice(0, 12)}${r.deployment.policyVersionNumber ? ` (#${r.deployment.policyVersionNumber})` : ''}  `);
  out.push(`Window ${instant(r.window.since)} to ${instant(r.window.until)} · generated ${instant(r.generatedAt)} · covers ${r.scope.description}`, '');
  out.push('## Summary', '');
  out.push('Each item is **addressed** (every Mandate control it relies on is in force here), **partial** (a control is weak here, or Mandate covers only part of the item), **GAP** (a control it relies on is missing or failing in this deployment) or **not applicable** to a gateway.', '');
  out.push(mdTable(['framework', 'addressed', 'partial', 'gap', 'not applicable'], [...r.frameworks.map((f) => [`${f.name} (${f.version})`, f.counts.addressed, f.counts.partial, f.counts.gap, f.counts.not_applicable]), ['**all**', r.summary.addressed, r.summary.partial, r.summary.gap, r.summary.not_applicable]]), '');
  out.push('### Gaps to close', '');
  const gaps = r.frameworks.flatMap((f) => f.items.filter((i) => i.status === 'gap').map((i) => `- **GAP ${i.id} ${i.title}** (${f.name}) — ${i.why}`));
  out.push(...(gaps.length ? gaps : ['None: no control an item relies on is missing here.']), '');
  out.push('## Evidence from the audit log', '');
  out.push(`${e.eventsRead} audit events read in one pass over the window${r.scope.owner ? `; ${e.eventsInScope} of them about the agents covered` : ''}. Decisions are those on tool calls (MCP and HTTP APIs) and AuthZEN evaluations; "through approval" means a person was asked.`, '');
  out.push(mdTable(['measure', 'count'], [
    ['decisions', d.total],
    ['allowed', d.allow],
    ['through approval', d.approval],
    ['denied', d.deny],
    ['would deny (observe mode)', d.wouldDeny],
    ['calls with untrusted values', d.withUntrustedValues],
    ['approvals asked', e.approvals.asked],
    ['approvals approved', e.approvals.approved],
    ['approvals denied', e.approvals.denied],
    ['approvals expired or voided', e.approvals.expired],
    ['approvals used', e.approvals.used],
    ['approvals asked for calls with untrusted values (provenance)', e.approvals.forUntrustedValues],
    ['time to decide, median', secs(e.approvals.medianDecideMs)],
    ['time to decide, p90', secs(e.approvals.p90DecideMs)],
    ['tasks started', e.tasks.started],
    ['task starts denied', e.tasks.denied],
    ['task starts held for approval', e.tasks.pendingApproval],
    ['delegations / refused', `${e.tasks.delegated} / ${e.tasks.delegationsDenied}`],
    ['tasks revoked', e.tasks.revoked],
    ['tasks expired', e.tasks.expired],
    ['credentials issued', e.credentials.issued],
    ['of them bearer (not key-bound)', e.credentials.bearer],
    ['agents suspended', e.agents.suspended],
    ['agents retired', e.agents.retired],
    ['break-glass requests / uses', `${e.breakGlass.requested} / ${e.breakGlass.started}`],
    ['authentication failures', e.authFailures],
    ['credentials refused at the gateway', e.credentialRefusals],
    ['actions with the shared admin token', e.adminTokenActions],
  ]), '');
  out.push(`### Decisions per ${e.timeline.bucket} (UTC)`, '');
  const busy = e.timeline.points.filter((p) => p.allow + p.approval + p.deny > 0);
  out.push(busy.length ? mdTable([e.timeline.bucket, 'allowed', 'through approval', 'denied'], busy.map((p) => [e.timeline.bucket === 'hour' ? new Date(p.start).toISOString().slice(0, 13) + ':00' : day(p.start), p.allow, p.approval, p.deny])) : 'No decisions in the window.', '');
  if (busy.length) out.push(`(${e.timeline.points.length - busy.length} ${e.timeline.bucket}s without decisions left out.)`, '');
  out.push('### Denials by reason', '');
  out.push(e.denialsByReason.length ? mdTable(['reason', 'count'], e.denialsByReason.map((x) => [x.reason, x.count])) : 'No denials in the window.', '');
  out.push('### Audit chain', '');
  out.push(`${e.chain.ok ? `Intact over the window: ${e.chain.eventsChecked} events re-hashed, ${e.chain.linksChecked} links checked${e.chain.linksNotChecked ? ` (${e.chain.linksNotChecked} not checked)` : ''}.` : `**BROKEN** at event #${e.chain.broken!.seq}: ${e.chain.broken!.reason}.`} Head ${e.chain.head ? `#${e.chain.head.seq} \`${e.chain.head.hash}\`` : '(empty log)'}. The whole chain: \`mandate audit verify\`.`, '');
  out.push('## Controls in this deployment', '');
  out.push(mdTable(['control', 'state', 'in this deployment'], r.controls.map((c) => [c.title, STATE_LABEL[c.state], c.summary])), '');
  for (const c of r.controls) {
    out.push(`### ${c.title} — ${STATE_LABEL[c.state]}`, '', `${c.what}. ${c.summary}.`, '');
    out.push(...c.facts.map((f) => `- ${f.label}: **${fact(f.value)}**`), '');
  }
  for (const f of r.frameworks) {
    out.push(`## ${f.name} (${f.version})`, '', `${f.note ? `Covers ${f.note}. ` : ''}${f.counts.addressed} addressed, ${f.counts.partial} partial, ${f.counts.gap} gap${f.counts.gap === 1 ? '' : 's'}, ${f.counts.not_applicable} not applicable. Source: ${f.url}`, '');
    out.push(mdTable(['item', 'status', 'why, in this deployment', 'Mandate controls'], f.items.map((i) => [`**${i.id}** ${i.title}`, STATUS_LABEL[i.status], i.why, i.controls.map((c) => `${c.title} (${STATE_LABEL[c.state]})`).join('; ') || '—'])), '');
  }
  return `${out.join('\n')}\n`;
}

/** The report in one of its three forms, with its media type. */
export function renderReport(r: Report, format: 'json' | 'html' | 'md'): { body: string; type: string } {
  if (format === 'html') return { body: reportHtml(r), type: 'text/html; charset=utf-8' };
  if (format === 'md') return { body: reportMarkdown(r), type: 'text/markdown; charset=utf-8' };
  return { body: `${JSON.stringify(r, null, 2)}\n`, type: 'application/json; charset=utf-8' };
}

/** The content security policy of the standalone HTML: its own inline styles and nothing else. */
export const REPORT_HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
