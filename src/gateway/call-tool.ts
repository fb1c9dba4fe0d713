// The data path of one tool call. One ordered function; the order is the security argument:
// authenticate before resolving (nothing about tools leaks to a dead credential), decide before
// forwarding (nothing reaches an upstream undecided), classify after (taint reflects what was
// really read), and audit in `finally` (every call leaves exactly one record, whatever happens).

import { McpError, type CallToolRequest, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MandateError, q } from '../core/errors.js';
import type { Decision } from '../policy/engine.js';
import type { AgentSession, RequestExtra } from './agent-session.js';

const MAX_ARGS_BYTES = 1024 * 1024;

function textResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
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
  const args = (request.params?.arguments ?? {}) as Record<string, unknown>;
  try {
    // 1. Parse: the SDK checked the JSON-RPC envelope; the arguments must be a bounded object.
    if (!name) throw new McpError(-32602, 'tools/call needs `name`');
    if (typeof args !== 'object' || Array.isArray(args)) throw new McpError(-32602, '`arguments` must be an object');
    if (JSON.stringify(args).length > MAX_ARGS_BYTES) throw new McpError(-32602, `arguments of ${q(name)} exceed ${MAX_ARGS_BYTES} bytes`);

    // 2. Authenticate: the credential that carried this very request (the task may have ended since).
    await session.authenticate(extra);

    // 3. Resolve: the tool, its upstream and pinned definition.
    const tool = gw.tools.getTool(name);
    if (!tool) {
      outcome = 'denied';
      reason = `unknown tool ${q(name)}`;
      return textResult(`denied: unknown tool ${q(name)}; tools/list shows what this task may call`);
    }
    upstream = tool.upstream;

    // 4-5. Decide: the task's declared scope, then Cedar with the task's context (one authorizer).
    const calls = session.state.calls.get(tool.name) ?? 0;
    decision = gw.authorizer.authorize({ agent: session.agent, task: session.state.task, tool, args, calls });
    resources = (decision as { resources?: string[] }).resources ?? [];

    // 6. Approval hook: human approval of one exact action arrives with the approvals workflow;
    //    until then an approval-gated call is refused with that reason.
    if (decision.decision !== 'allow') {
      outcome = 'denied';
      reason = decision.reasons.join('; ');
      const why = decision.decision === 'approval_required' ? `requires human approval (${reason})` : reason;
      return textResult(`denied by Mandate: ${why} (decision ${decision.id})`);
    }

    // 7. Forward: the upstream connection carries its own secrets; the agent's credential never leaves.
    session.state.calls.set(tool.name, calls + 1);
    const result = await session.forwardToolCall(tool, args, extra);
    const size = JSON.stringify(result).length;
    const limit = gw.maxResultBytes(tool.upstream);
    if (size > limit) {
      outcome = 'error';
      reason = `result of ${size} bytes exceeds the limit of ${limit}`;
      return textResult(`error: the result of ${q(name)} is ${size} bytes, over the ${limit}-byte limit`);
    }

    // 8. Classify: the task now carries the classification of what it read (taint).
    await gw.taint(session.state, tool.classification);
    outcome = result.isError ? 'tool_error' : 'success';
    return result;
  } catch (err) {
    if (err instanceof McpError && err.code === -32602) {
      reason = err.message;
      throw err;
    }
    if (err instanceof MandateError && err.code === 'invalid_token') {
      outcome = 'denied';
      reason = err.message;
      return textResult(`denied: ${err.message}`);
    }
    reason = gw.describeUpstreamError(err, upstream);
    return textResult(`error: ${reason}`);
  } finally {
    // 9. Audit: who, on whose behalf, which task and intent, what, the decision, the outcome, latency.
    //    Awaited: the agent gets no answer the log does not hold.
    await gw.audit
      .record({
        type: 'tool.call',
        actor: session.agent.id,
        agentId: session.agent.id,
        taskId: session.state.task.id,
        decision: decision?.decision ?? 'deny',
        outcome,
        data: {
          tool: name,
          upstream,
          intent: session.state.task.intent,
          session: session.id ?? null,
          args: gw.auditArgs(args),
          resources,
          decisionId: decision?.id ?? null,
          policyIds: decision?.policyIds ?? [],
          reasons: decision?.reasons ?? (reason ? [reason] : []),
          policyVersion: decision?.policyVersion ?? gw.policyVersion(),
          error: outcome === 'error' ? reason : null,
          latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
        },
      })
      .catch((e) => gw.logger?.error({ err: e }, 'audit record failed'));
  }
}
