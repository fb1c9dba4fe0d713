// A local HTTPS server with a fresh self-signed certificate, for code that must fetch over real
// TLS (client id metadata documents): tests trust its `ca` explicitly, and nothing else does.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export type FixtureRoute =
  | { status?: number; headers?: Record<string, string>; body?: string }
  | ((req: IncomingMessage, res: ServerResponse) => void);

export interface HttpsFixture {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** The certificate (PEM) to trust; valid for IP 127.0.0.1 and DNS localhost, one day. */
  ca: string;
  /** `req.url` of every request received, in order. */
  requests: string[];
  setRoute(path: string, route: FixtureRoute): void;
  close(): Promise<void>;
}

/** A self-signed P-256 certificate from the `openssl` CLI, made in a temp dir that is removed at once. */
async function selfSignedCert(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-https-fixture-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', key, '-out', cert,
    ]);
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Serves `routes` (by path, query ignored; unknown paths get 404; a static body gets its Content-Length) on an ephemeral port of 127.0.0.1. */
export async function startHttpsFixture(routes: Record<string, FixtureRoute>): Promise<HttpsFixture> {
  const table = new Map(Object.entries(routes));
  const requests: string[] = [];
  const { key, cert } = await selfSignedCert();
  const server = createServer({ key, cert }, (req, res) => {
    requests.push(req.url ?? '');
    const route = table.get((req.url ?? '/').split('?')[0]!);
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    } else if (typeof route === 'function') {
      route(req, res);
    } else {
      const body = route.body ?? '';
      res.writeHead(route.status ?? 200, { 'content-length': String(Buffer.byteLength(body)), ...route.headers }).end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: cert,
    requests,
    setRoute(path, route) {
      table.set(path, route);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // handlers that never answer must not hold the close
      }),
  };
}
