// Any agent framework connects: the examples for the OpenAI Agents SDK, the Vercel AI SDK and
// LangChain.js start a Mandate task with the agent SDK and give the framework's own MCP client the
// task's DPoP-bound fetch. Each runs offline with a scripted model (the framework's own test
// model where it has one that can call tools) that makes real calls through Mandate to the
// reference filesystem server: one allowed read, one denied read, then an answer.

import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { Usage, type AgentInputItem, type Model, type ModelRequest, type ModelResponse } from '@openai/agents';
import { MockLanguageModelV3 } from 'ai/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runLangChain } from '../../../examples/langchain/agent.js';
import { run as runOpenAIAgents } from '../../../examples/openai-agents/agent.js';
import { run as runVercelAI } from '../../../examples/vercel-ai/agent.js';
import type { AgentKey } from '../../../src/client/index.js';
import { startGateway, type GatewayEnv } from '../../helpers/gateway.js';
import { createTestAgent } from '../../helpers/server.js';

const ANSWER = 'Q3 revenue grew 12%. The salaries file is outside this task.';

let g: GatewayEnv;
beforeAll(async () => {
  g = await startGateway();
});
afterAll(async () => g?.close());

/** A fresh agent (so its one task is easy to find) and its key, as `loadAgentKey` would return it. */
async function newAgent(): Promise<{ id: string; key: AgentKey }> {
  const a = await createTestAgent(g.s);
  return { id: a.id, key: { agentId: a.id, kid: a.kid, alg: 'ES256', privateKey: a.privateKey } };
}

/** The model's two calls: the report (inside the task and the policy) and the salaries (outside both). */
function paths() {
  return { allowed: `${g.sandbox}/reports/q3.txt`, denied: `${g.sandbox}/private/salaries.csv` };
}

/** The agent's one task has ended, and audit holds the allowed read and the denied one. */
async function expectAudited(agentId: string) {
  const [task, ...more] = await g.s.m.store.listTasks({ agentId });
  expect(more).toEqual([]);
  expect(task).toMatchObject({ status: 'completed' });
  const calls = await g.s.m.store.listAudit({ taskId: task!.id, type: 'tool.call' });
  expect(calls.map((e) => ({ tool: e.data.tool, decision: e.decision, outcome: e.outcome }))).toEqual([
    { tool: 'fs.read_text_file', decision: 'allow', outcome: 'success' },
    { tool: 'fs.read_text_file', decision: 'deny', outcome: 'denied' },
  ]);
  expect(JSON.stringify(calls[0]!.data)).toContain(paths().allowed);
  expect(JSON.stringify(calls[1]!.data)).toContain('salaries.csv');
}

describe('OpenAI Agents SDK (@openai/agents)', () => {
  /** The smallest `Model`: the SDK ships no test model, so this one replays a script and keeps what it was sent. */
  class ScriptedModel implements Model {
    readonly requests: ModelRequest[] = [];
    async getResponse(request: ModelRequest): Promise<ModelResponse> {
      this.requests.push(request);
      const { allowed, denied } = paths();
      const call = (callId: string, path: string) => ({ type: 'function_call' as const, callId, name: 'mcp_mandate__fs_read_text_file', arguments: JSON.stringify({ path }), status: 'completed' as const });
      const output =
        this.requests.length === 1
          ? [call('call-1', allowed)]
          : this.requests.length === 2
            ? [call('call-2', denied)]
            : [{ type: 'message' as const, role: 'assistant' as const, status: 'completed' as const, content: [{ type: 'output_text' as const, text: ANSWER }] }];
      return { output, usage: new Usage(), responseId: `response-${this.requests.length}` };
    }
    getStreamedResponse(): AsyncIterable<never> {
      throw new Error('the scripted model does not stream');
    }
  }

  /** What the model was sent as the result of one call. */
  function resultOf(request: ModelRequest, callId: string): string {
    const items = request.input as AgentInputItem[];
    const item = items.find((i) => i.type === 'function_call_result' && i.callId === callId);
    expect(item, `result of ${callId}`).toBeDefined();
    return JSON.stringify((item as { output: unknown }).output);
  }

  it('reads the report through Mandate, gets the denial as a tool result and answers', async () => {
    const { id, key } = await newAgent();
    const model = new ScriptedModel();
    const result = await runOpenAIAgents({ url: g.s.url, key, model, reports: `${g.sandbox}/reports`, prompt: 'What grew in Q3?' });

    expect(result.finalOutput).toBe(ANSWER);
    expect(model.requests).toHaveLength(3);
    // Only the task's one tool is offered, under a name OpenAI accepts.
    expect(model.requests[0]!.tools.map((t) => t.name)).toEqual(['mcp_mandate__fs_read_text_file']);
    expect(resultOf(model.requests[1]!, 'call-1')).toContain('Q3 revenue grew 12%');
    expect(resultOf(model.requests[2]!, 'call-2')).toMatch(/denied by Mandate: .*outside the task's declared resources/);
    await expectAudited(id);
  });
});

describe('Vercel AI SDK (ai, @ai-sdk/mcp)', () => {
  it('reads the report through Mandate, gets the denial as a tool result and answers', async () => {
    const { id, key } = await newAgent();
    const { allowed, denied } = paths();
    const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };
    const call = (toolCallId: string, path: string) => ({
      content: [{ type: 'tool-call' as const, toolCallId, toolName: 'fs_read_text_file', input: JSON.stringify({ path }) }],
      finishReason: { unified: 'tool-calls' as const, raw: undefined },
      usage,
      warnings: [],
    });
    // The AI SDK's own mock model, replaying one response per step.
    const model = new MockLanguageModelV3({
      doGenerate: [call('call-1', allowed), call('call-2', denied), { content: [{ type: 'text', text: ANSWER }], finishReason: { unified: 'stop', raw: undefined }, usage, warnings: [] }],
    });
    const result = await runVercelAI({ url: g.s.url, key, model, reports: `${g.sandbox}/reports`, prompt: 'What grew in Q3?' });

    expect(result.text).toBe(ANSWER);
    const sent = model.doGenerateCalls;
    expect(sent).toHaveLength(3);
    expect(sent[0]!.tools?.map((t) => t.name)).toEqual(['fs_read_text_file']);
    /** What the model was sent as the result of one call. */
    const resultOf = (step: number, toolCallId: string) => {
      const parts = sent[step]!.prompt.flatMap((m) => (m.role === 'tool' ? m.content : []));
      const part = parts.find((p) => p.type === 'tool-result' && p.toolCallId === toolCallId);
      expect(part, `result of ${toolCallId}`).toBeDefined();
      return JSON.stringify(part);
    };
    expect(resultOf(1, 'call-1')).toContain('Q3 revenue grew 12%');
    // The AI SDK hands the model the denial's text (it does not pass MCP's isError on).
    expect(resultOf(2, 'call-2')).toMatch(/denied by Mandate: .*outside the task's declared resources/);
    await expectAudited(id);
  });
});

describe('LangChain.js (langchain createAgent, @langchain/mcp-adapters)', () => {
  it('reads the report through Mandate, gets the denial as a tool message and answers', async () => {
    const { id, key } = await newAgent();
    const { allowed, denied } = paths();
    // LangChain's own fake chat model, which can call tools and records what it was sent.
    const model = fakeModel()
      .respondWithTools([{ name: 'fs_read_text_file', args: { path: allowed }, id: 'call-1' }])
      .respondWithTools([{ name: 'fs_read_text_file', args: { path: denied }, id: 'call-2' }])
      .respond(new AIMessage(ANSWER));
    const result = await runLangChain({ url: g.s.url, key, model, reports: `${g.sandbox}/reports`, prompt: 'What grew in Q3?' });

    expect(result.messages.at(-1)?.content).toBe(ANSWER);
    expect(model.calls).toHaveLength(3);
    /** What the model was sent as the result of one call. */
    const resultOf = (turn: number, callId: string) => {
      const message = model.calls[turn]!.messages.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === callId) as ToolMessage | undefined;
      expect(message, `result of ${callId}`).toBeDefined();
      return message!;
    };
    // The tool answers to `fs_read_text_file` (the name the model was given) and calls `fs.read_text_file`.
    expect(resultOf(1, 'call-1').content).toContain('Q3 revenue grew 12%');
    expect(resultOf(1, 'call-1').status).not.toBe('error');
    expect(resultOf(2, 'call-2').status).toBe('error');
    expect(resultOf(2, 'call-2').content).toMatch(/denied by Mandate: .*outside the task's declared resources/);
    await expectAudited(id);
  });
});
