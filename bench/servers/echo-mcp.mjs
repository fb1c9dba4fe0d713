// A minimal MCP server for the hot-path benchmark: one `echo` tool, answered by a bare Node
// HTTP server (streamable HTTP, JSON responses, no sessions) or over stdio, without the SDK, so
// that the upstream's own cost is small next to what is measured and never the bottleneck of a
// throughput run. Direct, do-nothing-proxy and Mandate calls all reach this same server.
//   node echo-mcp.mjs http <port>      node echo-mcp.mjs stdio
import http from 'node:http';
import { createInterface } from 'node:readline';

const TOOLS = [{ name: 'echo', description: 'Echoes the message back', inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] }, annotations: { readOnlyHint: true } }];

function answer(msg) {
  if (msg.id === undefined) return null; // notification
  switch (msg.method) {
    case 'initialize':
      return { jsonrpc: '2.0', id: msg.id, result: { protocolVersion: msg.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'echo-mcp', version: '1.0.0' } } };
    case 'ping':
      return { jsonrpc: '2.0', id: msg.id, result: {} };
    case 'tools/list':
      return { jsonrpc: '2.0', id: msg.id, result: { tools: TOOLS } };
    case 'tools/call':
      if (msg.params?.name !== 'echo') return { jsonrpc: '2.0', id: msg.id, error: { code: -32602, message: `unknown tool ${msg.params?.name}` } };
      return { jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: `Echo: ${msg.params.arguments?.message ?? ''}` }] } };
    default:
      return { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `method ${msg.method} not found` } };
  }
}

const [mode, port] = process.argv.slice(2);
if (mode === 'stdio') {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    const out = answer(JSON.parse(line));
    if (out) process.stdout.write(`${JSON.stringify(out)}\n`);
  });
} else {
  http
    .createServer((req, res) => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const out = answer(msg);
        if (!out) {
          res.writeHead(202).end();
          return;
        }
        const body = JSON.stringify(out);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    })
    .listen(Number(port), '127.0.0.1');
}
