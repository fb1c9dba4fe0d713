// A tiny REST API for the demo: quarterly reports behind a bearer token (which only Mandate
// holds), and an admin area a reporting task must not reach. It remembers the Authorization
// header it last saw, so the demo can show who presented which credential.

import { createServer } from 'node:http';

const REPORTS = {
  q1: { id: 'q1', title: 'Q1 revenue', revenue: 1250000 },
  q2: { id: 'q2', title: 'Q2 revenue', revenue: 1410000 },
  q3: { id: 'q3', title: 'Q3 revenue', revenue: 1380000 },
};

export async function startReportsApi(token) {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method, path: req.url, authorization: req.headers.authorization ?? null });
    const send = (status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'unauthorized' });
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/v1/reports') return send(200, { reports: Object.values(REPORTS).map(({ id, title }) => ({ id, title })) });
    const m = /^\/v1\/reports\/([a-z0-9]+)$/.exec(path);
    if (m) return REPORTS[m[1]] ? send(200, REPORTS[m[1]]) : send(404, { error: 'not found' });
    if (path === '/admin/users') return send(200, { users: [{ email: 'alice@corp.example', role: 'admin' }] });
    send(404, { error: 'not found' });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}
