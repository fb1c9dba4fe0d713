// The floor for any HTTP gateway on this machine: a do-nothing Node proxy that pipes each request
// to the upstream and the answer back, without parsing, deciding or logging anything.
// Usage: node raw-proxy.mjs <listen-port> <upstream-port>
import http from 'node:http';

const [port, upPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true });
http
  .createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: upPort, path: req.url, method: req.method, headers: { ...req.headers, host: `127.0.0.1:${upPort}` }, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  })
  .listen(port, '127.0.0.1');
