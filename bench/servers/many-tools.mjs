#!/usr/bin/env node
// A stdio MCP server offering N trivial tools (default 100), for listing benchmarks.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const n = Number(process.env.TOOLS ?? 100);
const server = new McpServer({ name: 'many-tools', version: '1.0.0' });
for (let i = 0; i < n; i++) {
  server.registerTool(
    `tool_${String(i).padStart(3, '0')}`,
    { description: `Benchmark tool number ${i}: returns its own name`, inputSchema: { input: z.string().optional() }, annotations: { readOnlyHint: true, openWorldHint: false } },
    async () => ({ content: [{ type: 'text', text: `tool ${i}` }] }),
  );
}
await server.connect(new StdioServerTransport());
