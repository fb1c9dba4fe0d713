// Closed-loop HTTP load generator, run as its own process so it never shares an event loop with
// the server it measures: N keep-alive workers POST request bodies round-robin for D seconds.
// Every response must be 200; when a case has an `expected` decision, the answer must match.
//   node load.mjs <url> <cases.json> <concurrency> <seconds> [authorization-header]
import http from 'node:http';
import fs from 'node:fs';

const [url, casesFile, conc = '32', secs = '5', authorization] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8')).map((c) => ({ body: Buffer.from(JSON.stringify(c.body)), expected: c.expected }));
const u = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });

function once(c) {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': c.body.length };
    if (authorization) headers.authorization = authorization;
    const t0 = process.hrtime.bigint();
    const req = http.request({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
        if (c.expected !== undefined) {
          const d = JSON.parse(Buffer.concat(chunks).toString()).decision;
          if (d !== c.expected) return reject(new Error(`wrong decision ${d} (expected ${c.expected})`));
        }
        resolve(ms);
      });
    });
    req.on('error', reject);
    req.end(c.body);
  });
}

// Warm-up: every case once (fails fast on a misconfigured server).
for (const c of cases) await once(c);
const lat = [];
let errors = 0;
let firstError = null;
let next = 0;
const deadline = Date.now() + Number(secs) * 1000;
const start = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: Number(conc) }, async () => {
    while (Date.now() < deadline) {
      const c = cases[next++ % cases.length];
      try {
        lat.push(await once(c));
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
agent.destroy();
