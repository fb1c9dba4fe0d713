#!/usr/bin/env node
// A tiny offline "web" MCP server for the demo: `fetch` pretends to fetch a URL (canned answers,
// no network), so the demo can show an egress tool being refused after confidential reads.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'demo-web', version: '1.0.0' });
server.registerTool(
  'fetch',
  {
    description: 'Fetch a URL and return its text (demo: canned answers, no network)',
    inputSchema: { url: z.string().describe('the URL to fetch') },
    annotations: { readOnlyHint: true, openWorldHint: true },
  },
  async ({ url }) => ({ content: [{ type: 'text', text: url.includes('weather') ? 'Sunny, 21°C (demo data)' : `fetched ${url} (demo: nothing real was sent)` }] }),
);
await server.connect(new StdioServerTransport());
