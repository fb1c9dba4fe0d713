// Closed-loop MCP load generator over streamable HTTP, run as its own process (pinned apart from
// the server it measures): one session per worker (initialize + initialized, as an agent does),
// then `tools/call` round-robin for D seconds on keep-alive connections. Every answer must be a
// JSON-RPC result that is not `isError` and echoes the worker's own message: a server that
// answered anything else fails the run (an error is never counted as throughput).
//   node mcp-load.mjs <url> <tool> <concurrency> <seconds> <payload-bytes> [authorization per worker, comma-separated]
import http from 'node:http';

const [url, tool, conc = '32', secs = '5', bytes = '1024', auths = ''] = process.argv.slice(2);
const u = new URL(url);
const N = Number(conc);
const authorizations = auths ? auths.split(',') : [];
const agent = new http.Agent({ keepAlive: true, maxSockets: N });
const filler = 'x'.repeat(Math.max(0, Number(bytes) - 40));

function post(headers, body) {
  return new Promise((resolve, reject) => {
    const buf = Buffer.from(JSON.stringify(body));
    const req = http.request({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': buf.length, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(buf);
  });
}

/** The JSON-RPC message in a JSON or a one-event SSE answer. */
function message(r) {
  if ((r.headers['content-type'] ?? '').includes('text/event-stream')) {
    const data = r.text.split('\n').filter((l) => l.startsWith('data: ')).pop();
    return JSON.parse(data.slice(6));
  }
  return JSON.parse(r.text);
}

async function session(i) {
  const headers = authorizations[i % Math.max(1, authorizations.length)] ? { authorization: authorizations[i % authorizations.length] } : {};
  const init = await post(headers, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: `load-${i}`, version: '1' } } });
  if (init.status !== 200) throw new Error(`initialize: HTTP ${init.status} ${init.text.slice(0, 300)}`);
  const sid = init.headers['mcp-session-id'];
  const h = { ...headers, 'mcp-protocol-version': '2025-06-18', ...(sid ? { 'mcp-session-id': sid } : {}) };
  await post(h, { jsonrpc: '2.0', method: 'notifications/initialized' });
  return h;
}

const sessions = await Promise.all(Array.from({ length: N }, (_, i) => session(i)));
let errors = 0;
let firstError = null;
const lat = [];
async function call(h, w, n) {
  const msg = `w${w}-${n}-${filler}`;
  const t0 = process.hrtime.bigint();
  const r = await post(h, { jsonrpc: '2.0', id: n + 1, method: 'tools/call', params: { name: tool, arguments: { message: msg } } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let m;
  try {
    m = message(r);
  } catch {
    throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  }
  if (r.status !== 200 || m.error || m.result?.isError || !String(m.result?.content?.[0]?.text ?? '').includes(msg)) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  return ms;
}
// Warm-up, every worker a few calls (fails fast on a misconfigured server).
for (let w = 0; w < N; w++) for (let n = 0; n < 5; n++) await call(sessions[w], w, n);
const deadline = Date.now() + Number(secs) * 1000;
const start = process.hrtime.bigint();
await Promise.all(
  sessions.map(async (h, w) => {
    let n = 100;
    while (Date.now() < deadline) {
      try {
        lat.push(await call(h, w, n++));
      } catch (e) {
        errors++;
        firstError ??= e.message;
      }
    }
  }),
);
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
lat.sort((a, b) => a - b);
const p = (q) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : NaN);
process.stdout.write(`${JSON.stringify({ requests: lat.length, errors, firstError, rps: Math.round(lat.length / elapsed), p50_ms: p(0.5), p99_ms: p(0.99) })}\n`);
