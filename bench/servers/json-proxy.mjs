// A second floor for an MCP gateway: a proxy that does the least any MCP-aware gateway must do —
// read each JSON-RPC message whole, parse it, serialize it again and forward it, and the same for
// the answer — and nothing else (no session, no decision, no audit). The do-nothing proxy
// (raw-proxy.mjs) pipes bytes it never reads; this one shows what reading them costs in Node.
// Usage: node json-proxy.mjs <listen-port> <upstream-port>
import http from 'node:http';

const [port, upPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true });

function readJson(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch (err) {
        reject(err);
      }
    });
    stream.on('error', reject);
  });
}

http
  .createServer(async (req, res) => {
    try {
      const msg = req.method === 'POST' ? await readJson(req) : undefined;
      const body = msg === undefined ? undefined : JSON.stringify(msg);
      const headers = { ...req.headers, host: `127.0.0.1:${upPort}` };
      delete headers['content-length'];
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const up = http.request({ host: '127.0.0.1', port: upPort, path: req.url, method: req.method, headers, agent }, async (ur) => {
        const type = String(ur.headers['content-type'] ?? '');
        if (!type.startsWith('application/json')) {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
          return;
        }
        const answer = JSON.stringify(await readJson(ur));
        const out = { ...ur.headers, 'content-length': String(Buffer.byteLength(answer)) };
        delete out['transfer-encoding'];
        res.writeHead(ur.statusCode ?? 502, out);
        res.end(answer);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    } catch {
      res.writeHead(400).end();
    }
  })
  .listen(port, '127.0.0.1');
