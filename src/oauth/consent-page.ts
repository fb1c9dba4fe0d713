// The consent page, server-rendered: plain HTML forms that work without JavaScript, every value
// escaped, styles from one static file (the CSP allows nothing inline). It shows the person which
// client asks, where the answer goes, and the task they may grant: intent, tools by upstream with
// their risk class and data classification, constraints, resources, and how long.

export const CONSENT_CSS = `
body{font:15px/1.45 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
.client{background:#f4f4f6;border-radius:6px;padding:.8rem 1rem}
.muted{color:#666;font-size:.9rem}
fieldset{border:1px solid #ccd;border-radius:6px;margin:.8rem 0;padding:.6rem 1rem}
legend{font-weight:600}
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{text-align:left;padding:.2rem .4rem;border-bottom:1px solid #eee;font-size:.9rem}
.risk-write,.risk-destructive,.risk-admin,.risk-egress{color:#a33;font-weight:600}
.error{background:#fde8e8;border-radius:6px;padding:.6rem 1rem}
input[type=text],input[type=password],select{font:inherit;padding:.3rem;width:100%;box-sizing:border-box}
button{font:inherit;padding:.45rem 1.1rem;margin:.6rem .6rem 0 0;border-radius:5px;border:1px solid #888;background:#fff;cursor:pointer}
button.primary{background:#1f4fd1;color:#fff;border-color:#1f4fd1}
code{font-size:.85rem}
`;

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${esc(title)} — Mandate</title><link rel="stylesheet" href="/authorize/style.css"></head><body>${body}</body></html>`;
}

/** The authorization request's parameters, carried through the forms (none of them secret). */
export type AuthorizeParams = Record<string, string>;

function hidden(params: AuthorizeParams): string {
  return Object.entries(params)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
}

export interface ClientView {
  id: string;
  name: string;
  kind: 'dcr' | 'cimd';
  clientUri?: string | undefined;
  redirectUri: string;
}

function clientBox(c: ClientView): string {
  const where = (() => {
    try {
      const u = new URL(c.redirectUri);
      return u.host || `${u.protocol}`;
    } catch {
      return c.redirectUri;
    }
  })();
  return `<div class="client"><strong>${esc(c.name)}</strong> wants to act for you through Mandate.<br>
<span class="muted">client id <code>${esc(c.id)}</code> (${c.kind === 'cimd' ? 'its metadata document' : 'registered dynamically'})${c.clientUri ? `, <a href="${esc(c.clientUri)}" rel="noreferrer noopener">${esc(c.clientUri)}</a>` : ''}; the answer goes to <code>${esc(where)}</code>.</span></div>`;
}

export function loginPage(o: { client: ClientView; params: AuthorizeParams; loginToken: string; error?: string | undefined; oidc?: string | undefined }): string {
  const sso = o.oidc
    ? `<form method="post" action="/authorize/oidc">${hidden(o.params)}<input type="hidden" name="login_token" value="${esc(o.loginToken)}"><button class="primary" type="submit">Sign in with ${esc(o.oidc)}</button></form><p class="muted">or with your personal token:</p>`
    : '';
  return layout(
    'Sign in',
    `<h1>Sign in to Mandate</h1>${clientBox(o.client)}
${o.error ? `<p class="error">${esc(o.error)}</p>` : ''}${sso}
<form method="post" action="/authorize/login">${hidden(o.params)}<input type="hidden" name="login_token" value="${esc(o.loginToken)}">
<h2>Your personal token</h2><p class="muted">The token an administrator gave you (<code>mandate user create</code>). It is checked once and not kept in the browser.</p>
<input type="password" name="user_token" autocomplete="off" required>
<button class="primary" type="submit">Sign in</button></form>`,
  );
}

export interface TemplateView {
  id: string;
  title: string;
  intent: string;
  ttl: number;
  tools: Array<{ grant: string; upstream: string; risk: string; classification: string; detail: string }>;
  resources: string[];
}

function ttlChoices(max: number): number[] {
  return [...new Set([300, 900, 3600, 4 * 3600, 86_400].filter((t) => t < max).concat(max))].sort((a, b) => a - b);
}

function duration(s: number): string {
  if (s % 3600 === 0) return `${s / 3600} hour${s === 3600 ? '' : 's'}`;
  if (s % 60 === 0) return `${s / 60} minutes`;
  return `${s} seconds`;
}

export function consentPage(o: { client: ClientView; user: string; params: AuthorizeParams; csrf: string; templates: TemplateView[]; error?: string | undefined }): string {
  const options = o.templates
    .map((t, i) => {
      const byUpstream = new Map<string, TemplateView['tools']>();
      for (const tool of t.tools) byUpstream.set(tool.upstream, [...(byUpstream.get(tool.upstream) ?? []), tool]);
      const rows = [...byUpstream]
        .map(([u, tools]) => `<tr><th colspan="4">${esc(u)}</th></tr>${tools.map((x) => `<tr><td><code>${esc(x.grant)}</code></td><td class="risk-${esc(x.risk)}">${esc(x.risk)}</td><td>${esc(x.classification)}</td><td class="muted">${esc(x.detail)}</td></tr>`).join('')}`)
        .join('');
      return `<fieldset><legend><label><input type="radio" name="template" value="${esc(t.id)}"${i === 0 ? ' checked' : ''} required> ${esc(t.title)}</label></legend>
<table><tr><th>tool</th><th>risk</th><th>data</th><th>limits</th></tr>${rows}</table>
${t.resources.length ? `<p class="muted">Resources: ${t.resources.map((r) => `<code>${esc(r)}</code>`).join(', ')}</p>` : '<p class="muted">No resources named: tools that take paths or URLs are refused any.</p>'}
<p class="muted">Intent: ${esc(t.intent)} · at most ${esc(duration(t.ttl))}</p></fieldset>`;
    })
    .join('');
  const maxTtl = Math.max(0, ...o.templates.map((t) => t.ttl));
  const body = o.templates.length
    ? `${options}
<h2>What it is for</h2><input type="text" name="intent" maxlength="2000" placeholder="leave empty to use the chosen task's intent">
<h2>For how long</h2><select name="ttl">${ttlChoices(maxTtl)
        .map((t) => `<option value="${t}"${t === Math.min(900, maxTtl) ? ' selected' : ''}>${esc(duration(t))}</option>`)
        .join('')}</select>
<p class="muted">Access ends by itself then, or earlier when the task is ended; a longer choice than the chosen task allows is cut to its limit. Policy decides as for any agent, and every call is recorded under your name and the client's.</p>
<button class="primary" type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny">Deny</button>`
    : `<p class="error">No task templates are configured, so there is nothing to grant: an operator adds <code>taskTemplates</code> to mandate.yaml.</p><button type="submit" name="decision" value="deny">Deny</button>`;
  return layout(
    'Authorize',
    `<h1>Authorize a task</h1>${clientBox(o.client)}<p class="muted">Signed in as ${esc(o.user)}.</p>
${o.error ? `<p class="error">${esc(o.error)}</p>` : ''}
<form method="post" action="/authorize/decision">${hidden(o.params)}<input type="hidden" name="csrf" value="${esc(o.csrf)}">
<h2>Choose the task it may do</h2>${body}</form>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(title, `<h1>${esc(title)}</h1><p class="error">${esc(message)}</p><p class="muted">Nothing was granted. Go back to the application and try again, or tell its developer.</p>`);
}
