// An OpenAI Agents SDK (`@openai/agents`) agent whose one MCP server is Mandate: it starts a task
// that may only read the reports folder, and the model sees and calls only that task's tools.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, MCPServerStreamableHttp, run as runAgent, type Model } from '@openai/agents';
import { MandateAgent, loadAgentKey, type AgentKey } from 'mandate/client';

export interface RunOptions {
  /** Mandate's base URL, e.g. http://127.0.0.1:7070 */
  url: string;
  /** The agent's identity: `await loadAgentKey('reporter.agent-key.json')`. */
  key: AgentKey;
  /** A model name for the default (OpenAI) provider, e.g. `gpt-4.1-mini`, or any `Model`. */
  model: string | Model;
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
  // The task's fetch presents its credential with a fresh DPoP proof on every request.
  const mandate = new MCPServerStreamableHttp({ name: 'mandate', url: `${agent.url}/mcp`, fetch: task.fetch });
  try {
    await mandate.connect();
    const reporter = new Agent({
      name: 'reporter',
      instructions: 'Answer from the files you read with your tools. If a tool call is denied, say what was denied and why.',
      model,
      mcpServers: [mandate],
      // Mandate names tools `<upstream>.<tool>`; OpenAI function names may not contain dots, so
      // the model gets `mcp_mandate__fs_read_text_file` and the SDK calls `fs.read_text_file`.
      mcpConfig: { includeServerInToolNames: true },
    });
    return await runAgent(reporter, prompt ?? `Summarise ${reports}/q3-summary.txt in one sentence.`);
  } finally {
    await mandate.close();
    await task.end();
  }
}

// `node examples/openai-agents/agent.ts` (Node 22.18 or later; on Node 20, `npx tsx …`): see README.md.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run({
    url: process.env.MANDATE_URL ?? 'http://127.0.0.1:7070',
    key: await loadAgentKey(process.env.MANDATE_AGENT_KEY ?? 'reporter.agent-key.json'),
    model: process.env.OPENAI_MODEL ?? 'gpt-4.1-mini',
    reports: resolve(process.env.MANDATE_REPORTS ?? 'demo/sandbox/reports'),
  });
  console.log(result.finalOutput);
}
