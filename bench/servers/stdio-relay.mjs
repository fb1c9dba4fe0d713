// The floor for a gateway in front of a stdio MCP server: a do-nothing relay that takes each
// JSON-RPC message an agent POSTs over HTTP, writes it as a line to one shared child process, and
// answers with the child's reply, without checking, deciding or logging anything. Request ids
// are renumbered so that several agents can share the child.
//   node stdio-relay.mjs <listen-port> <command> [args...]
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const [port, cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
const waiting = new Map();
let next = 1;
createInterface({ input: child.stdout }).on('line', (line) => {
  const msg = JSON.parse(line);
  const w = waiting.get(msg.id);
  if (!w) return;
  waiting.delete(msg.id);
  msg.id = w.id;
  const body = JSON.stringify(msg);
  w.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'mcp-session-id': 'relay' });
  w.res.end(body);
});
http
  .createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (msg.id === undefined) {
        child.stdin.write(`${JSON.stringify(msg)}\n`);
        return void res.writeHead(202).end();
      }
      const id = next++;
      waiting.set(id, { id: msg.id, res });
      child.stdin.write(`${JSON.stringify({ ...msg, id })}\n`);
    });
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => {
  child.kill();
  process.exit(0);
});
