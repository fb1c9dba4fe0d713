// The data path of one tool call. One ordered function; the order is the security argument:
// authenticate before resolving (nothing about tools leaks to a dead credential), decide before
// forwarding (nothing reaches an upstream undecided), record the decision durably before
// forwarding (nothing reaches an upstream that the log does not hold: a write-ahead event, and
// the call is refused if it cannot be written), classify after (taint reflects what was really
// read), and record the outcome last, linked to the decision (an answer the log cannot hold is
// not given: the agent gets an error instead).

import { McpError, type CallToolRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MandateError, q } from '../core/errors.js';
import { jsonBoundsProblem } from '../core/json-bounds.js';
import type { Decision } from '../policy/engine.js';
import type { Approval } from '../storage/types.js';
import type { AuditRecord } from '../audit/audit-log.js';
import { redactKnownValues } from '../audit/redact.js';
import { SCOPE_POLICY_ID } from './authorize.js';
import { protocolError, protocolErrorOf, unprefixed } from './protocol-error.js';
import type { AgentSession, RequestExtra } from './agent-session.js';
import type { CallProvenance } from '../provenance/tracker.js';
import type { ReasonClass } from '../observability/metrics.js';

const MAX_ARGS_BYTES = 1024 * 1024;

function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** What the agent (a model) reads when a gated call did not run: which approval, and what to do. */
function approvalMessage(a: Approval, tool: string, reason: string, decisionId: string): string {
  const by = a.decisions.find((x) => x.decision === 'deny');
  switch (a.status) {
    case 'denied':
      return `denied: ${by?.by ?? 'an approver'} refused approval ${a.id} for this call${by?.reason ? ` (${by.reason})` : ''}; do not retry it (decision ${decisionId})`;
    case 'expired':
      return `approval ${a.id} expired before it was used; retrying the identical call asks again (decision ${decisionId})`;
    case 'used':
      return `approval ${a.id} was already used by an identical call (each approval runs one call); retrying asks for a new approval (decision ${decisionId})`;
    default:
      return (
        `approval required: ${reason}. Approval ${a.id} is pending until ${new Date(a.expiresAt).toISOString()} ` +
        `(approvers: ${a.approvers.join(' or ')}${a.quorum > 1 ? `, ${a.quorum} of them` : ''}; they run \`mandate approvals approve ${a.id}\`). ` +
        `Once approved, retry this identical ${q(tool)} call with the same arguments: it will run once. (decision ${decisionId})`
      );
  }
}

export async function callTool(session: AgentSession, request: CallToolRequest, extra: RequestExtra): Promise<CallToolResult> {
  const gw = session.gateway;
  const started = performance.now();
  const name = typeof request.params?.name === 'string' ? request.params.name : '';
  let decision: Decision | undefined;
  let resources: string[] = [];
  let outcome = 'error';
  let reason: string | null = null;
  let upstream: string | null = null;
  let approvalId: string | null = null;
  let decisionEvent: string | null = null;
  // The arguments as sent; once decided, only the canonical form that was checked is used.
  // As the agent sent them (the SDK's schema would silently drop keys like `__proto__`).
  let args = (session.transport?.sentArgumentsOf(extra.requestId) ?? request.params?.arguments ?? {}) as Record<string, unknown>;
  let answer: CallToolResult | undefined;
  let thrown: unknown;
  let provenance: CallProvenance | undefined;
  /** The provenance write of a result the agent is about to see (step 8), issued with the outcome record. */
  let recordProvenance: (() => Promise<void>) | null = null;
  // For the metrics: why a refusal that is not the decision's own happened, and the time spent
  // waiting for the upstream or a person (not Mandate's own).
  let reasonClass: ReasonClass | null = null;
  let waited = 0;
  // The agent's trace (its `_meta.traceparent`, else the HTTP request's) is the parent.
  const meta = request.params?._meta as Record<string, unknown> | undefined;
  const span = gw.tracing.enabled ? gw.tracing.start('mandate.tool_call', { 'mcp.tool': name, 'mandate.agent': session.agent.id, 'mandate.task': session.state.task.id }, gw.tracing.parentFrom(meta?.traceparent ? meta : (extra.requestInfo?.headers as Record<string, unknown> | undefined))) : null;
  try {
    // 1. Parse: the SDK checked the JSON-RPC envelope; the arguments must be a bounded object.
    if (!name) throw protocolError(-32602, 'tools/call needs `name`');
    if (typeof args !== 'object' || Array.isArray(args)) throw protocolError(-32602, '`arguments` must be an object');
    const bounds = jsonBoundsProblem(args);
    if (bounds) throw protocolError(-32602, `arguments of ${q(name)} ${bounds}: refused before anything was checked or sent`);
    if (JSON.stringify(args).length > MAX_ARGS_BYTES) throw protocolError(-32602, `arguments of ${q(name)} exceed ${MAX_ARGS_BYTES} bytes`);

    // 2. Authenticate: the credential that carried this very request (the task may have ended since).
    await session.authenticate(extra);

    // 3. Resolve: the tool, its upstream and pinned definition.
    const tool = gw.tools.getTool(name);
    if (!tool) {
      outcome = 'denied';
      reasonClass = 'input';
      reason = `unknown tool ${q(name)}`;
      return (answer = textResult(`denied: unknown tool ${q(name)}; tools/list shows what this task may call`));
    }
    upstream = tool.upstream;
    if (tool.kind === 'http') {
      outcome = 'denied';
      reasonClass = 'input';
      reason = `${q(name)} is a method of an HTTP API: it is called at /http/${tool.upstream}/<path>, not through MCP`;
      return (answer = textResult(`denied: ${reason}`));
    }

    // 4-5. Decide: the task's declared scope (arguments made canonical), the pinned input
    //      schema, then Cedar with the task's context (one authorizer; on a shared store the
    //      task's taint and counts as all replicas left them).
    await gw.refreshShared(session.state);
    const calls = session.state.calls.get(tool.name) ?? 0;
    // Observe mode may let through what policy would deny (never the scope): recorded as would-deny.
    const decideSpan = span && gw.tracing.start('mandate.decide', { 'mcp.tool': tool.name }, span.ctx);
    // Where each argument's value appears: the intent, the scope, results the task was shown.
    // (Looked up only when some policy reads it; results are recorded whatever the policies say.)
    provenance = gw.provenance && gw.policyUsesProvenance() ? await gw.provenance.of(session.state.task, args) : undefined;
    const decided = gw.enforcement.apply(gw.authorizer.authorize({ agent: session.agent, task: session.state.task, tool, args, calls, provenance }), session.agent, tool);
    gw.tracing.end(decideSpan, { 'mandate.decision': decided.decision, 'mandate.decision_id': decided.id, 'mandate.policy_ids': decided.policyIds.join(','), 'mandate.would_deny': decided.wouldDeny ? true : undefined });
    decision = decided;
    resources = decided.resources;
    if (decided.args) args = decided.args;

    // 6. Approval: a gated call waits (bounded) for a human's yes to this exact action, and
    //    consumes it once; otherwise the agent is told which approval to wait for.
    if (decision.decision === 'approval_required') {
      const gate = await gw.approvals.forToolCall({ task: session.state.task, agent: session.agent, tool, args, decision, provenance });
      approvalId = gate.approval.id;
      let a = gate.approval;
      if (a.status === 'pending') {
        const token = extra._meta?.progressToken;
        const wait = gw.approvalWaitMs();
        const progress =
          token === undefined
            ? undefined
            : (ms: number) =>
                void extra
                  .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: Math.round(ms / 1000), total: Math.round(wait / 1000), message: `waiting for approval ${a.id} (${a.approvers.join(' or ')})` } })
                  .catch(() => undefined);
        progress?.(0);
        const waiting = performance.now();
        a = (await gw.approvals.waitForDecision(a.id, wait, extra.signal, progress)) ?? a;
        waited += performance.now() - waiting;
        // The task may have ended while we waited: the credential is checked again.
        await session.authenticate(extra);
      }
      if (a.status !== 'approved' || !(await gw.approvals.consume(a, gate.hash))) {
        outcome = a.status === 'denied' ? 'denied' : 'approval_pending';
        reason = decision.reasons.join('; ');
        return (answer = textResult(approvalMessage(a, name, reason, decision.id)));
      }
      decision = { ...decision, decision: 'allow', reasons: [...decision.reasons, `approved by ${a.decisions.filter((x) => x.decision === 'approve').map((x) => x.by).join(', ')} (${a.id})`] };
    }
    if (decision.decision !== 'allow') {
      outcome = 'denied';
      reason = decision.reasons.join('; ');
      return (answer = textResult(`denied by Mandate: ${reason} (decision ${decision.id})`));
    }

    // 7. Write-ahead, budget, then forward. The decision is recorded durably first: if it
    //    cannot be, nothing is forwarded. The call is then charged to this task and every task it
    //    was delegated from, atomically in the store: no restart, retry or replica gets a fresh
    //    count. The upstream connection carries its own secrets; the agent's credential never
    //    leaves; the arguments go out exactly as they were checked.
    // The upstream connection first (it may have to wait for a process slot or fail to
    // start): a call that cannot be sent neither spends budget nor leaves a forwarding record.
    const connecting = performance.now();
    try {
      if (tool.kind !== 'postgres') await session.upstreamClient(tool.upstream);
    } finally {
      waited += performance.now() - connecting;
    }
    // The write-ahead record and the budget charge are issued together: on SQLite they share one
    // commit (the store's group commit). Both must succeed before anything is forwarded. (If the
    // record fails and the charge does not, the call is refused and its budget stays spent: fail
    // closed, in a fault where the store is failing anyway.)
    const [recorded, charged] = await Promise.allSettled([gw.audit.record(decisionRecord(session, name, tool.upstream, args, resources, decision, approvalId)), gw.chargeCall(session.state, tool.name)]);
    if (recorded.status === 'rejected') {
      outcome = 'error';
      reason = `the decision could not be recorded (${(recorded.reason as Error).message}); the call was not forwarded`;
      return (answer = textResult(`error: ${reason}`));
    }
    decisionEvent = recorded.value.id;
    if (charged.status === 'rejected') throw charged.reason;
    const overBudget = charged.value;
    if (overBudget) {
      outcome = 'denied';
      reasonClass = 'budget';
      reason = `outside the task's scope: ${overBudget}`;
      decision = { ...decision, decision: 'deny', policyIds: [SCOPE_POLICY_ID], reasons: [reason] };
      return (answer = textResult(`denied by Mandate: ${reason} (decision ${decision.id})`));
    }
    // An upstream that echoes a secret it was given (its env, its Authorization header) must not hand it to the agent.
    let result: CallToolResult;
    const forwarded = performance.now();
    try {
      if (tool.kind === 'postgres') {
        // Executed by Mandate as the task's own database role. A connection string is the one
        // answer that carries a credential on purpose (policy permitted `<db>.connect`).
        const r = await gw.runDatabaseTool(tool, session.state.task, args);
        result = tool.remoteName === 'connect' ? r : redactKnownValues(r);
      } else {
        // The upstream span's context goes on in `_meta` (the agent's own traceparent is replaced by its child).
        const up = span && gw.tracing.start('mandate.upstream', { 'mandate.upstream': tool.upstream, 'mcp.tool': tool.remoteName }, span.ctx);
        try {
          result = redactKnownValues(await session.forwardToolCall(tool, args, extra, up ? { ...meta, ...gw.tracing.inject(up) } : meta));
          gw.tracing.end(up, { 'mcp.is_error': Boolean(result.isError) });
        } catch (err) {
          gw.tracing.end(up, {}, (err as Error).message);
          throw err;
        }
      }
    } catch (err) {
      // A JSON-RPC error the upstream answered stays a protocol error for the agent, with its
      // code, message and data, as it would be on a direct connection. (Timeouts and lost
      // connections are Mandate's to report, below.)
      const upstreamError = protocolErrorOf(err);
      if (upstreamError) {
        reason = `upstream ${q(tool.upstream)} answered error ${upstreamError.code}: ${upstreamError.message}`;
        thrown = upstreamError;
        return undefined as never;
      }
      throw err;
    } finally {
      waited += performance.now() - forwarded;
    }
    const schemaProblem = gw.authorizer.outputProblem(tool, result);
    if (schemaProblem) {
      outcome = 'error';
      reason = schemaProblem;
      thrown = protocolError(-32602, schemaProblem);
      return undefined as never;
    }
    const size = JSON.stringify(result).length;
    const limit = gw.maxResultBytes(tool.upstream);
    if (size > limit) {
      outcome = 'error';
      reason = `result of ${size} bytes exceeds the limit of ${limit}`;
      return (answer = textResult(`error: the result of ${q(name)} is ${size} bytes, over the ${limit}-byte limit`));
    }

    // 8. Provenance: what this result showed the agent is recorded before the agent sees it
    //    (a value it passes back later is then known to come from here); if it cannot be
    //    recorded, the result is withheld (fail closed: the value would otherwise look new). The
    //    write is issued with the outcome record below (one commit on SQLite) and both are awaited
    //    before the answer goes out.
    if (gw.provenance) {
      const tracker = gw.provenance;
      const origin = `${tool.name} (decision ${decision.id})`;
      const task = session.state.task;
      const shown = result;
      recordProvenance = () => tracker.record(task, tool, shown, origin);
    }

    // 9. Classify: the task now carries the classification of what it read (taint).
    await gw.taint(session.state, tool.classification);
    outcome = result.isError ? 'tool_error' : 'success';
    return (answer = result);
  } catch (err) {
    if (err instanceof McpError && err.code === -32602) {
      reasonClass = 'input';
      reason = unprefixed(err.message);
      thrown = protocolError(err.code, reason, err.data);
      return undefined as never;
    }
    if (err instanceof MandateError && err.code === 'invalid_token') {
      outcome = 'denied';
      reasonClass = gw.agentStopped(session.agent.id) ? 'suspended' : 'revoked';
      reason = err.message;
      return (answer = textResult(`denied: ${err.message}`));
    }
    reason = decisionEvent === null && err instanceof MandateError && err.code === 'storage_unavailable' ? `${err.message}; the call was not forwarded` : gw.describeUpstreamError(err, upstream);
    return (answer = textResult(`error: ${reason}`));
  } finally {
    // 10. Outcome: who, on whose behalf, which task and intent, what, the decision, the outcome,
    //    latency, linked to the write-ahead decision event. Awaited: the agent gets no answer the
    //    log does not hold; if it cannot be written, the agent is told the outcome is unrecorded.
    // Issued in the same tick as the provenance write (step 8), so that on SQLite both share a commit.
    const [shown, recorded] = await Promise.allSettled([
      (async () => recordProvenance?.())(),
      gw.audit.record({
        type: 'tool.call',
        actor: session.agent.id,
        agentId: session.agent.id,
        taskId: session.state.task.id,
        decision: decision?.decision ?? 'deny',
        outcome,
        data: {
          ...callData(session, name, upstream, args, resources, decision, approvalId, reason, provenance),
          decisionEvent,
          error: outcome === 'error' ? reason : null,
          latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
        },
      }),
    ]);
    if (recorded.status === 'rejected') {
      const err = recorded.reason as Error;
      gw.faults.note('audit tool call outcome', err);
      // A refusal stays as it was (nothing ran); a call that ran is not answered unrecorded.
      if (!thrown && (decisionEvent || !answer?.isError)) answer = textResult(`error: the outcome of ${q(name)} could not be recorded (${err.message}); the call was made: do not repeat it blindly`);
    }
    if (shown.status === 'rejected') {
      // The outcome record says what the upstream did; the agent does not see the result, and a
      // second record says so (best effort: the agent is refused either way).
      outcome = 'error';
      reason = `the provenance of the result could not be recorded (${(shown.reason as Error).message}); the call was made but its result is withheld: do not repeat it blindly`;
      if (recorded.status === 'fulfilled') answer = textResult(`error: ${reason}`);
      await gw.audit
        .record({ type: 'tool.result_withheld', actor: session.agent.id, agentId: session.agent.id, taskId: session.state.task.id, decision: decision?.decision ?? 'deny', outcome: 'error', data: { tool: name, upstream, decisionEvent, outcomeEvent: recorded.status === 'fulfilled' ? recorded.value.id : null, reason } })
        .catch((err: unknown) => gw.faults.note('audit withheld result', err));
    }
    if (gw.metrics.enabled) gw.metrics.toolCall('mcp', decision, reasonClass, outcome, (performance.now() - started) / 1000, waited / 1000);
    gw.tracing.end(span, { 'mandate.decision': decision?.decision ?? 'deny', 'mandate.outcome': outcome, 'mandate.upstream': upstream ?? undefined }, outcome === 'error' ? (reason ?? 'error') : undefined);
    if (thrown) throw thrown;
    return answer!;
  }
}

/** What the decision event (before forwarding) and the outcome event (after) both say about a call. */
function callData(session: AgentSession, name: string, upstream: string | null, args: Record<string, unknown>, resources: string[], decision: Decision | undefined, approvalId: string | null, reason: string | null, provenance?: CallProvenance): Record<string, unknown> {
  const gw = session.gateway;
  const task = session.state.task;
  return {
    tool: name,
    upstream,
    intent: task.intent,
    session: session.id ?? null,
    args: gw.auditArgs(args),
    resources,
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

/** The write-ahead event of an allowed call: durable before anything is forwarded. */
function decisionRecord(session: AgentSession, name: string, upstream: string, args: Record<string, unknown>, resources: string[], decision: Decision, approvalId: string | null): AuditRecord {
  return {
    type: 'tool.decision',
    actor: session.agent.id,
    agentId: session.agent.id,
    taskId: session.state.task.id,
    decision: decision.decision,
    outcome: 'forwarding',
    data: callData(session, name, upstream, args, resources, decision, approvalId, null),
  };
}
