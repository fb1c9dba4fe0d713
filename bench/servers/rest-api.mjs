// A minimal REST API for benchmarks: GET /v1/reports/<id> answers a small JSON document when the
// request carries `Authorization: Bearer <token>`. Usage: node rest-api.mjs <port> <token>
import http from 'node:http';

const [port, token] = [Number(process.argv[2]), process.argv[3]];
http
  .createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) return res.writeHead(401).end();
    const body = JSON.stringify({ id: req.url.split('/').pop(), title: 'Q3 revenue', revenue: 1380000 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  })
  .listen(port, '127.0.0.1');
