// A Vercel AI SDK (`ai`) agent loop whose tools come from Mandate through the AI SDK's MCP client
// (`@ai-sdk/mcp`): it starts a task that may only read the reports folder, and the model sees and
// calls only that task's tools.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMCPClient } from '@ai-sdk/mcp';
import { generateText, stepCountIs, type LanguageModel, type ToolSet } from 'ai';
import { MandateAgent, loadAgentKey, type AgentKey } from 'mandate/client';

export interface RunOptions {
  /** Mandate's base URL, e.g. http://127.0.0.1:7070 */
  url: string;
  /** The agent's identity: `await loadAgentKey('reporter.agent-key.json')`. */
  key: AgentKey;
  /** A provider's model, e.g. `openai('gpt-4.1-mini')`, or an AI Gateway id like `'openai/gpt-4.1-mini'`. */
  model: LanguageModel;
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
  try {
    // The MCP SDK's streamable-HTTP transport, with a fresh DPoP proof on every request.
    const mcp = await createMCPClient({ transport: task.mcpTransport() });
    try {
      return await generateText({
        model,
        tools: modelSafeNames(await mcp.tools()),
        stopWhen: stepCountIs(5),
        system: 'Answer from the files you read with your tools. If a tool call is denied, say what was denied and why.',
        prompt: prompt ?? `Summarise ${reports}/q3-summary.txt in one sentence.`,
      });
    } finally {
      await mcp.close();
    }
  } finally {
    await task.end();
  }
}

/**
 * Mandate names tools `<upstream>.<tool>`; OpenAI and Anthropic function names may not contain
 * dots. The model gets `fs_read_text_file`; each tool still calls Mandate by its own name.
 */
function modelSafeNames(tools: ToolSet): ToolSet {
  return Object.fromEntries(Object.entries(tools).map(([name, tool]) => [name.replaceAll('.', '_'), tool]));
}

// `node examples/vercel-ai/agent.ts` (Node 22.18 or later; on Node 20, `npx tsx …`): see README.md.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run({
    url: process.env.MANDATE_URL ?? 'http://127.0.0.1:7070',
    key: await loadAgentKey(process.env.MANDATE_AGENT_KEY ?? 'reporter.agent-key.json'),
    model: process.env.AI_MODEL ?? 'openai/gpt-4.1-mini', // through the Vercel AI Gateway (AI_GATEWAY_API_KEY)
    reports: resolve(process.env.MANDATE_REPORTS ?? 'demo/sandbox/reports'),
  });
  console.log(result.text);
}
