// The enforcement point for REST APIs: an agent calls `/http/<upstream>/<path>` with its task
// credential and Mandate decides, records, and only then forwards the request to the API with the
// upstream's own credential (from a named secret). The order is the MCP data path's
// (call-tool.ts): authenticate, resolve, decide (the task's grants of `<upstream>.<METHOD>` on
// the canonical path, then Cedar with `context.http`), approve, record the decision durably,
// charge the budget, forward exactly what was checked, classify, record the outcome.
//
// What never crosses: the agent's credential (Authorization, DPoP, cookies are not forwarded);
// the upstream's credential (added here, redacted from anything the API echoes back); a redirect
// to another host (not followed, not passed on). Bodies and answers are bounded in size and time.

import type { CallProvenance } from '../provenance/tracker.js';
import type { ReasonClass } from '../observability/metrics.js';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { redactText } from '../audit/redact.js';
import { HTTP_METHODS, prefixOf, type UpstreamConfig } from '../config/schema.js';
import { MandateError, q } from '../core/errors.js';
import type { ToolSpec } from '../core/tool.js';
import type { Decision } from '../policy/engine.js';
import type { HttpCallArgs } from '../tasks/scope.js';
import type { Agent } from '../storage/types.js';
import { holderOf } from '../tasks/credentials.js';
import { SCOPE_POLICY_ID, type HttpContext } from './authorize.js';
import { canonicalHttpPath, canonicalQuery, HttpPathError } from './http-path.js';
import { UpstreamAuth, type SecretSource } from './http-auth.js';
import { readBody } from './read-body.js';
import type { McpGateway, TaskState } from './mcp-gateway.js';

/** A JSON body up to this size is parsed, checked (constraints, schema, Cedar `context.args`) and re-serialised; a larger one is passed as bytes. */
export const MAX_CHECKED_BODY = 64 * 1024;

/** Request headers of the agent's that reach the API (besides `forwardHeaders`); nothing that authenticates or routes. */
const SAFE_REQUEST_HEADERS = ['accept', 'accept-language', 'content-type', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'user-agent'];
/** Never forwarded, whatever the config says. */
const NEVER_FORWARDED = new Set(['authorization', 'proxy-authorization', 'cookie', 'dpop', 'host', 'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'mcp-session-id']);
/** Response headers of the API's that reach the agent. */
const SAFE_RESPONSE_HEADERS = ['content-type', 'content-language', 'etag', 'last-modified', 'cache-control', 'expires', 'retry-after', 'x-total-count', 'link'];

const TEXT_TYPES = /^(text\/|application\/(json|[a-z0-9.+-]*\+json|xml|[a-z0-9.+-]*\+xml|javascript|x-www-form-urlencoded|problem\+json))/i;
const JSON_TYPE = /^application\/(json|[a-z0-9.+-]*\+json)\s*(;|$)/i;

export interface HttpApiDeps {
  gateway: McpGateway;
  upstreams: Record<string, UpstreamConfig>;
  secrets: SecretSource;
  bodyLimit: number;
  callTimeoutMs: number;
  maxResultBytes: number;
  /** For tests: the fetch used to reach APIs. */
  fetch?: typeof fetch;
}

interface Outcome {
  status: number;
  outcome: string;
  reason: string | null;
}

export class HttpApiGateway {
  private readonly auth = new Map<string, UpstreamAuth>();
  private readonly fetch: typeof fetch;

  constructor(private readonly d: HttpApiDeps) {
    this.fetch = d.fetch ?? fetch;
    for (const [name, u] of Object.entries(d.upstreams)) if (u.kind === 'http') this.auth.set(name, new UpstreamAuth(name, u.auth, d.secrets));
  }

  /** `/http/<upstream>/<path>`: one request, answered here whatever happens (never a 500 with details). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    const gw = this.d.gateway;
    const hostProblem = gw.checkHostAndOrigin(req);
    if (hostProblem) return fail(res, 403, 'forbidden', hostProblem);

    // 1. Parse the target: which API, which path (canonical), which query.
    const url = req.url ?? '';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const m = /^\/http\/([A-Za-z0-9][A-Za-z0-9_-]*)(\/.*)?$/.exec(rawPath);
    if (!m) return fail(res, 404, 'not_found', 'call an HTTP API as /http/<upstream>/<path> (GET /api/v1/upstreams lists them)');
    const name = m[1]!;
    const cfg = this.d.upstreams[name];
    if (!cfg || cfg.kind !== 'http') return fail(res, 404, 'not_found', `no HTTP API upstream ${q(name)}: upstreams of kind \`http\` are reached at /http/<name>/…`);
    const rest = m[2] ?? '/';

    // 2. Authenticate: the DPoP proof is for this very URL (without its query, RFC 9449 §4.2).
    const authn = await gw.authenticateRequest(req, res, `${gw.endpoints.base}${rawPath}`);
    if (!authn) return drain(req);
    const { claims } = authn;

    const method = (req.method ?? 'GET').toUpperCase();
    const tool = gw.tools.getTool(`${prefixOf(name, cfg)}${method}`);
    if (!tool || tool.kind !== 'http') {
      const allowed = (cfg.methods ?? HTTP_METHODS).filter((x) => gw.tools.getTool(`${prefixOf(name, cfg)}${x}`));
      res.setHeader('allow', allowed.join(', '));
      drain(req);
      return fail(res, 405, 'method_not_allowed', `${method} is not offered for ${q(name)} (methods: ${allowed.join(', ')}; upstreams.${name}.methods)`);
    }
    let path: string;
    let query: ReturnType<typeof canonicalQuery>;
    try {
      path = canonicalHttpPath(rest);
      query = canonicalQuery(qi < 0 ? '' : url.slice(qi + 1));
    } catch (err) {
      drain(req);
      if (err instanceof HttpPathError) return fail(res, 400, 'invalid_request', err.message);
      throw err;
    }

    // 3. The body, bounded; a small JSON body is parsed so that what is checked is what is sent.
    const read = await readBody(req, this.d.bodyLimit);
    if ('problem' in read) return fail(res, read.status, read.status === 413 ? 'payload_too_large' : 'invalid_request', read.problem);
    const raw = read.body;
    const contentType = String(req.headers['content-type'] ?? '');
    if (raw.length && (method === 'GET' || method === 'HEAD' || method === 'DELETE')) return fail(res, 400, 'invalid_request', `a ${method} request with a body is not forwarded (servers read it differently)`);
    let body: unknown;
    let forwardBody: Buffer | undefined = raw.length ? raw : undefined;
    if (raw.length && JSON_TYPE.test(contentType) && raw.length <= MAX_CHECKED_BODY) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        return fail(res, 400, 'invalid_request', `the JSON body does not parse: ${(err as Error).message}`);
      }
      forwardBody = Buffer.from(JSON.stringify(body));
    }

    const found = await gw.taskState(holderOf(claims), claims.task_id);
    if (!found) return fail(res, 401, 'invalid_token', "the credential's task is not active");
    const { agent, state } = found;
    await gw.refreshShared(state);
    if ((claims.sv ?? 0) < (state.task.scopeVersion ?? 0)) return fail(res, 401, 'invalid_token', 'this credential was issued before the task was amended: use the credential the amendment returned');
    const queryRecord: Record<string, string | string[]> = {};
    for (const [k, v] of query.pairs) {
      const had = queryRecord[k];
      queryRecord[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    }
    const args: HttpCallArgs = { path, query: queryRecord, ...(body !== undefined ? { body } : {}) };
    const headers = this.forwardedHeaders(req, cfg);
    const http: HttpContext = {
      method,
      path,
      query: query.pairs.map(([k, v]) => `${k}=${v}`),
      queryString: query.text,
      headers: Object.keys(headers).sort(),
      contentType: contentType.split(';')[0]!.trim().toLowerCase(),
      bodyBytes: raw.length,
    };
    // What approvals bind to and audit shows: the exact request (an unchecked body by its hash).
    const callArgs: Record<string, unknown> = {
      method,
      path,
      query: queryRecord,
      ...(body !== undefined ? { body } : {}),
      ...(forwardBody && body === undefined ? { bodyBytes: raw.length, bodySha256: createHash('sha256').update(raw).digest('hex') } : {}),
    };
    const target = new URL(cfg.url!);
    const basePath = target.pathname.replace(/\/+$/, '');
    const resource = `${target.origin}${basePath}${path}`;
    await this.call({ req, res, agent, state, tool, name, cfg, args, callArgs, http, resource, headers, forwardBody, target: `${target.origin}${basePath}${path}${query.text ? `?${query.text}` : ''}`, basePath, claimsTask: claims.task_id });
  }

  private async call(c: {
    req: IncomingMessage;
    res: ServerResponse;
    agent: Agent;
    state: TaskState;
    tool: ToolSpec;
    name: string;
    cfg: UpstreamConfig;
    args: HttpCallArgs;
    callArgs: Record<string, unknown>;
    http: HttpContext;
    resource: string;
    headers: Record<string, string>;
    forwardBody: Buffer | undefined;
    target: string;
    basePath: string;
    claimsTask: string;
  }): Promise<void> {
    const gw = this.d.gateway;
    const { res, state, tool, agent } = c;
    const started = performance.now();
    let decision: Decision | undefined;
    let grant: string | null = null;
    let approvalId: string | null = null;
    let decisionEvent: string | null = null;
    let provenance: CallProvenance | undefined;
    // For the metrics: why a refusal that is not the decision's own happened, and the time spent
    // waiting for the API or a person (not Mandate's own).
    let reasonClass: ReasonClass | null = null;
    let waited = 0;
    const awaited = async <T>(p: Promise<T>): Promise<T> => {
      const from = performance.now();
      try {
        return await p;
      } finally {
        waited += performance.now() - from;
      }
    };
    const result: Outcome = { status: 500, outcome: 'error', reason: null };
    let answer: { status: number; headers: Record<string, string>; body: Buffer } | undefined;
    const span = gw.tracing.enabled ? gw.tracing.start('mandate.http_call', { 'mandate.tool': tool.name, 'mandate.agent': agent.id, 'mandate.task': state.task.id, 'http.request.method': c.http.method }, gw.tracing.parentFrom(c.req.headers as Record<string, unknown>)) : null;
    const abort = new AbortController();
    c.req.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const refuse = (status: number, error: string, outcome: string, reason: string, extra: Record<string, unknown> = {}) => {
      result.status = status;
      result.outcome = outcome;
      result.reason = reason;
      const json = Buffer.from(JSON.stringify({ error, error_description: reason, ...(decision ? { decision_id: decision.id } : {}), ...extra }));
      answer = { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: json };
    };
    try {
      // 4. Decide: the task's grants of this method (path, constraints, limit), then Cedar.
      await gw.refreshShared(state);
      const decideSpan = span && gw.tracing.start('mandate.decide', { 'mandate.tool': tool.name }, span.ctx);
      // Where each value of the request comes from (path, query, body): the intent, the scope, results seen.
      provenance = gw.provenance && gw.policyUsesProvenance() ? await gw.provenance.of(state.task, c.args as unknown as Record<string, unknown>) : undefined;
      const decided = gw.enforcement.apply(gw.authorizer.authorizeHttp({ agent, task: state.task, tool, args: c.args, http: c.http, resource: c.resource, callsOf: (g) => state.calls.get(g) ?? 0, provenance }), agent, tool);
      gw.tracing.end(decideSpan, { 'mandate.decision': decided.decision, 'mandate.decision_id': decided.id, 'mandate.policy_ids': decided.policyIds.join(','), 'mandate.would_deny': decided.wouldDeny ? true : undefined });
      decision = decided;
      grant = decided.grant;

      // 5. Approval: bound to this exact request (method, path, query, body), used once.
      if (decision.decision === 'approval_required') {
        const gate = await gw.approvals.forToolCall({ task: state.task, agent, tool, args: c.callArgs, decision, provenance });
        approvalId = gate.approval.id;
        let a = gate.approval;
        if (a.status === 'pending') {
          a = (await awaited(gw.approvals.waitForDecision(a.id, gw.approvalWaitMs(), abort.signal))) ?? a;
          if (!(await gw.taskState(agent.id, state.task.id))) {
            reasonClass = gw.agentStopped(agent.id) ? 'suspended' : 'revoked';
            return refuse(401, 'invalid_token', 'denied', `task ${q(state.task.id)} ended while the request waited for approval`);
          }
        }
        if (a.status !== 'approved' || !(await gw.approvals.consume(a, gate.hash))) {
          const why = a.status === 'denied' ? `approval ${a.id} was denied` : a.status === 'pending' ? `approval required: ${decision.reasons.join('; ')}. Approval ${a.id} is pending (approvers: ${a.approvers.join(' or ')}); once approved, send this identical request again: it will run once` : `approval ${a.id} is ${a.status}; sending the identical request asks again`;
          return refuse(403, a.status === 'denied' ? 'access_denied' : 'approval_required', a.status === 'denied' ? 'denied' : 'approval_pending', why, { approval_id: a.id });
        }
        decision = { ...decision, decision: 'allow', reasons: [...decision.reasons, `approved by ${a.decisions.filter((x) => x.decision === 'approve').map((x) => x.by).join(', ')} (${a.id})`] };
      }
      if (decision.decision !== 'allow') return refuse(403, 'forbidden', 'denied', `denied by Mandate: ${decision.reasons.join('; ')}`);

      // 6. Write-ahead record, then the budget (charged to the grant, up the delegation chain).
      const auth = this.auth.get(c.name)!;
      let upstreamHeaders: Record<string, string>;
      try {
        upstreamHeaders = await awaited(auth.headers());
      } catch (err) {
        return refuse(502, 'bad_gateway', 'error', `${(err as Error).message}; the request was not forwarded`);
      }
      // The write-ahead record and the budget charge together (one commit on SQLite); both must
      // succeed before anything is sent (as for MCP calls, call-tool.ts step 7).
      const [recorded, charged] = await Promise.allSettled([
        gw.audit.record({ type: 'tool.decision', actor: agent.id, agentId: agent.id, taskId: state.task.id, decision: decision.decision, outcome: 'forwarding', data: this.callData(c, decision, grant, approvalId, null, provenance) }),
        gw.chargeCall(state, grant!),
      ]);
      if (recorded.status === 'rejected') return refuse(503, 'storage_unavailable', 'error', `the decision could not be recorded (${(recorded.reason as Error).message}); the request was not forwarded`);
      decisionEvent = recorded.value.id;
      if (charged.status === 'rejected') throw charged.reason;
      const overBudget = charged.value;
      if (overBudget) {
        reasonClass = 'budget';
        decision = { ...decision, decision: 'deny', policyIds: [SCOPE_POLICY_ID], reasons: [`outside the task's scope: ${overBudget}`] };
        return refuse(403, 'forbidden', 'denied', `denied by Mandate: outside the task's scope: ${overBudget}`);
      }

      // 7. Forward exactly what was checked; an expired OAuth token is replaced once.
      const up = span && gw.tracing.start('mandate.upstream', { 'mandate.upstream': c.name, 'http.request.method': c.http.method }, span.ctx);
      const trace = gw.tracing.inject(up);
      let r: Response;
      try {
        r = await awaited(this.forward(c, { ...upstreamHeaders, ...trace }, abort.signal));
        if (r.status === 401 && auth.invalidate()) r = await awaited(auth.headers().then((h) => this.forward(c, { ...h, ...trace }, abort.signal)));
        gw.tracing.end(up, { 'http.response.status_code': r.status });
      } catch (err) {
        gw.tracing.end(up, {}, (err as Error).message);
        throw err;
      }
      if (r.status === 401) {
        void r.body?.cancel().catch(() => undefined);
        return refuse(502, 'bad_gateway', 'error', `the ${c.name} API refused Mandate's credential for it (401): the operator should check upstreams.${c.name}.auth and its secret`);
      }
      if (r.status >= 300 && r.status < 400) {
        void r.body?.cancel().catch(() => undefined);
        const location = r.headers.get('location');
        const next = location ? this.sameApi(location, c.target, c.basePath, c.name) : null;
        if (!next) return refuse(502, 'bad_gateway', 'error', `the ${c.name} API redirected (${r.status}) outside its base URL; Mandate does not follow or pass on redirects to other hosts`);
        answer = { status: r.status, headers: { location: next }, body: Buffer.alloc(0) };
        result.status = r.status;
        result.outcome = 'success';
        return;
      }
      const limit = c.cfg.maxResultBytes ?? this.d.maxResultBytes;
      const bytes = await awaited(readBounded(r, limit));
      if (bytes === null) return refuse(502, 'bad_gateway', 'error', `the answer of the ${c.name} API is over the ${limit}-byte limit (upstreams.${c.name}.maxResultBytes)`);
      const headers: Record<string, string> = {};
      for (const h of SAFE_RESPONSE_HEADERS) {
        const v = r.headers.get(h);
        if (v !== null) headers[h] = redactText(v);
      }
      // An API that echoes the credential it was given must not hand it to the agent.
      let out = bytes;
      const type = r.headers.get('content-type') ?? '';
      const asText = bytes.toString(TEXT_TYPES.test(type) || !type ? 'utf8' : 'latin1');
      const clean = redactText(asText);
      if (clean !== asText) {
        if (!(TEXT_TYPES.test(type) || !type)) return refuse(502, 'bad_gateway', 'error', `the answer of the ${c.name} API contained a secret value and is not binary-safe to redact; it was withheld`);
        out = Buffer.from(clean);
      }
      // 8. Provenance: what the answer shows the agent is recorded before it is sent (withheld if it cannot be).
      if (gw.provenance && TEXT_TYPES.test(type) && c.req.method !== 'HEAD') {
        try {
          await gw.provenance.record(state.task, tool, out.toString('utf8'), `${tool.name} ${c.http.path} (decision ${decision!.id})`);
        } catch (err) {
          return refuse(503, 'storage_unavailable', 'error', `the provenance of the answer could not be recorded (${(err as Error).message}); the request was sent to the API but its answer is withheld: do not repeat it blindly`);
        }
      }
      // 9. Classify: the task now carries what it read.
      if (r.status < 400) await gw.taint(state, tool.classification);
      result.status = r.status;
      result.outcome = r.status < 400 ? 'success' : 'upstream_error';
      result.reason = r.status < 400 ? null : `the API answered ${r.status}`;
      answer = { status: r.status, headers, body: c.req.method === 'HEAD' ? Buffer.alloc(0) : out };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (err instanceof MandateError && err.code === 'storage_unavailable') refuse(503, 'storage_unavailable', 'error', decisionEvent === null ? `${err.message}; the request was not forwarded` : err.message);
      else if (e?.name === 'TimeoutError') refuse(504, 'gateway_timeout', 'error', `the ${c.name} API did not answer in ${Math.round(this.timeoutMs(c.cfg) / 1000)} s (the request was cancelled)`);
      else if (abort.signal.aborted) refuse(499, 'client_closed', 'error', 'the agent closed the connection');
      else refuse(502, 'bad_gateway', 'error', `the ${c.name} API could not be reached: ${redactText(e?.cause?.code ?? e?.message ?? String(err)).slice(0, 300)}`);
    } finally {
      // 9. The outcome, linked to the decision; no answer the log does not hold.
      try {
        await gw.audit.record({
          type: 'tool.call',
          actor: agent.id,
          agentId: agent.id,
          taskId: state.task.id,
          decision: decision?.decision ?? 'deny',
          outcome: result.outcome,
          data: { ...this.callData(c, decision, grant, approvalId, result.reason, provenance), decisionEvent, status: result.status, error: result.outcome === 'error' ? result.reason : null, latencyMs: Math.round((performance.now() - started) * 1000) / 1000 },
        });
      } catch (err) {
        gw.faults.note('audit http call outcome', err);
        if (decisionEvent) refuse(503, 'storage_unavailable', 'error', `the outcome of this request could not be recorded (${(err as Error).message}); it was sent to the API: do not repeat it blindly`);
      }
      if (gw.metrics.enabled) gw.metrics.toolCall('http', decision, reasonClass, result.outcome, (performance.now() - started) / 1000, waited / 1000);
      gw.tracing.end(span, { 'mandate.decision': decision?.decision ?? 'deny', 'mandate.outcome': result.outcome, 'http.response.status_code': answer?.status ?? result.status }, result.outcome === 'error' ? (result.reason ?? 'error') : undefined);
      if (answer && !res.headersSent) {
        if (decision) answer.headers['x-mandate-decision'] = decision.id;
        res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
        res.end(answer.body);
      } else if (!res.writableEnded) res.end();
    }
  }

  private timeoutMs(cfg: UpstreamConfig): number {
    return (cfg.timeout ?? this.d.callTimeoutMs / 1000) * 1000;
  }

  private forward(c: { req: IncomingMessage; cfg: UpstreamConfig; target: string; headers: Record<string, string>; forwardBody: Buffer | undefined }, auth: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.timeoutMs(c.cfg));
    return this.fetch(c.target, {
      method: (c.req.method ?? 'GET').toUpperCase(),
      headers: { ...c.headers, ...(c.forwardBody ? { 'content-length': String(c.forwardBody.length) } : {}), ...auth },
      body: c.forwardBody ? new Uint8Array(c.forwardBody) : null,
      redirect: 'manual',
      signal: AbortSignal.any([signal, timeout]),
    });
  }

  /** A redirect inside the same API, as the agent must ask for it (`/http/<upstream>/…`), or null. */
  private sameApi(location: string, from: string, basePath: string, name: string): string | null {
    let u: URL;
    try {
      u = new URL(location, from);
    } catch {
      return null;
    }
    const origin = new URL(from).origin;
    if (u.origin !== origin || !(u.pathname === basePath || u.pathname.startsWith(`${basePath}/`))) return null;
    return `${this.d.gateway.endpoints.base}/http/${name}${u.pathname.slice(basePath.length) || '/'}${u.search}`;
  }

  private forwardedHeaders(req: IncomingMessage, cfg: UpstreamConfig): Record<string, string> {
    const out: Record<string, string> = {};
    for (const h of [...SAFE_REQUEST_HEADERS, ...cfg.forwardHeaders.map((x) => x.toLowerCase())]) {
      if (NEVER_FORWARDED.has(h)) continue;
      const v = req.headers[h];
      if (typeof v === 'string') out[h] = v;
      else if (Array.isArray(v)) out[h] = v.join(', ');
    }
    return out;
  }

  private callData(c: { name: string; tool: ToolSpec; callArgs: Record<string, unknown>; resource: string; state: TaskState }, decision: Decision | undefined, grant: string | null, approvalId: string | null, reason: string | null, provenance?: CallProvenance): Record<string, unknown> {
    const gw = this.d.gateway;
    const task = c.state.task;
    return {
      tool: c.tool.name,
      upstream: c.name,
      grant,
      intent: task.intent,
      http: { method: c.callArgs.method, path: c.callArgs.path },
      args: gw.auditArgs(c.callArgs),
      resources: [c.resource],
      decisionId: decision?.id ?? null,
      policyIds: decision?.policyIds ?? [],
      reasons: decision?.reasons ?? (reason ? [reason] : []),
      policyVersion: decision?.policyVersion ?? gw.policyVersion(),
      approval: approvalId,
      ...(decision && 'wouldDeny' in decision && decision.wouldDeny ? { wouldDeny: decision.wouldDeny } : {}),
      ...(provenance?.untrustedArgs.length ? { untrustedArgs: provenance.untrustedArgs } : {}),
      ...(task.breakGlass ? { breakGlass: true } : {}),
      ...(task.parentId ? { parentTask: task.parentId, depth: task.depth, actingFor: task.chain?.slice(1) ?? [] } : {}),
    };
  }
}

function fail(res: ServerResponse, status: number, error: string, description: string): void {
  if (res.headersSent) return void res.end();
  const json = JSON.stringify({ error, error_description: description });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) }).end(json);
}

function drain(req: IncomingMessage): void {
  req.resume();
}

/** The whole answer, or null when it is over `limit` bytes (reading stops there). */
async function readBounded(r: Response, limit: number): Promise<Buffer | null> {
  const declared = Number(r.headers.get('content-length') ?? -1);
  if (declared > limit) {
    await r.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!r.body) return Buffer.alloc(0);
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
