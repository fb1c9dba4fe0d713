// Minimal closed-loop HTTP load generator (no deps): N keep-alive workers POST
// the same JSON body for D seconds, then print req/s and latency percentiles.
//   node loadtest.mjs <url> <body-json-file> [concurrency=32] [seconds=5]
// Every response must be 200 and (if EXPECT is set) contain that substring.
import http from 'node:http';
import fs from 'node:fs';

const [url, bodyFile, conc = '32', secs = '5'] = process.argv.slice(2);
if (!url || !bodyFile) { console.error('usage: node loadtest.mjs <url> <body.json> [conc] [secs]'); process.exit(2); }
const body = Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(bodyFile, 'utf8'))));
const expect = process.env.EXPECT;
const u = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });
const opts = { hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
  headers: { 'content-type': 'application/json', 'content-length': body.length } };

function once() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200 || (expect && !text.includes(expect))) reject(new Error(`bad response ${res.statusCode}: ${text}`));
        else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const first = await once(); // fail fast + show the body once
const lat = [];
let errors = 0;
const deadline = Date.now() + Number(secs) * 1000;
const start = process.hrtime.bigint();
await Promise.all(Array.from({ length: Number(conc) }, async () => {
  while (Date.now() < deadline) {
    try { lat.push(await once()); } catch (e) { if (errors++ === 0) console.error(e.message); }
  }
}));
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
lat.sort((a, b) => a - b);
const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(2);
console.log(JSON.stringify({ url, concurrency: Number(conc), seconds: +elapsed.toFixed(2), requests: lat.length, errors,
  rps: Math.round(lat.length / elapsed), p50_ms: +p(0.5), p99_ms: +p(0.99), max_ms: +lat[lat.length - 1].toFixed(2), first_ms: +first.toFixed(2) }));
agent.destroy();
