// A LangChain.js agent (`createAgent`) whose tools come from Mandate through
// `@langchain/mcp-adapters`: it starts a task that may only read the reports folder, and the model
// sees and calls only that task's tools.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadMcpTools } from '@langchain/mcp-adapters';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createAgent, type CreateAgentParams } from 'langchain';
import { MandateAgent, loadAgentKey, type AgentKey } from 'mandate/client';

export interface RunOptions {
  /** Mandate's base URL, e.g. http://127.0.0.1:7070 */
  url: string;
  /** The agent's identity: `await loadAgentKey('reporter.agent-key.json')`. */
  key: AgentKey;
  /** A chat model, or a `provider:model` id such as `'openai:gpt-4.1-mini'` (needs `@langchain/openai`). */
  model: CreateAgentParams['model'];
  /** The folder of reports (as the filesystem upstream sees it): the only place the task may read. */
  reports: string;
  prompt?: string;
}

export async function run({ url, key, model, reports, prompt }: RunOptions) {
  const agent = await MandateAgent.create({ url, key });
  const task = await agent.startTask({
    intent: 'summarise the Q3 report',
    tools: ['fs.read_text_file'],
    resources: [`file://${reports}/*`],
    ttl: 300,
  });
  const mcp = new Client({ name: 'langchain-reporter', version: '1.0.0' });
  try {
    // The MCP SDK's streamable-HTTP transport, with a fresh DPoP proof on every request.
    await mcp.connect(task.mcpTransport());
    const tools = await loadMcpTools('mandate', mcp);
    // Mandate names tools `<upstream>.<tool>`; OpenAI and Anthropic function names may not contain
    // dots. The model gets `fs_read_text_file`; each tool still calls Mandate by its own name.
    for (const tool of tools) tool.name = tool.name.replaceAll('.', '_');
    const reporter = createAgent({
      model,
      tools,
      systemPrompt: 'Answer from the files you read with your tools. If a tool call is denied, say what was denied and why.',
    });
    return await reporter.invoke({ messages: [{ role: 'user', content: prompt ?? `Summarise ${reports}/q3-summary.txt in one sentence.` }] });
  } finally {
    await mcp.close();
    await task.end();
  }
}

// `node examples/langchain/agent.ts` (Node 22.18 or later; on Node 20, `npx tsx …`): see README.md.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run({
    url: process.env.MANDATE_URL ?? 'http://127.0.0.1:7070',
    key: await loadAgentKey(process.env.MANDATE_AGENT_KEY ?? 'reporter.agent-key.json'),
    model: process.env.LANGCHAIN_MODEL ?? 'openai:gpt-4.1-mini',
    reports: resolve(process.env.MANDATE_REPORTS ?? 'demo/sandbox/reports'),
  });
  console.log(result.messages.at(-1)?.content);
}
