// A request body read whole, up to a limit: a declared length over it is refused before reading,
// and reading stops (the rest is drained) the moment the limit is passed. Used by /mcp and /http.

import type { IncomingMessage } from 'node:http';

export function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer } | { problem: string; status: number }> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.resolve({ problem: `request body too large: ${declared} bytes, the limit is ${limit} (server.bodyLimit)`, status: 413 });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      n += c.length;
      if (n > limit) {
        done = true;
        resolve({ problem: `request body too large: the limit is ${limit} bytes (server.bodyLimit)`, status: 413 });
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve({ body: Buffer.concat(chunks) });
    });
    req.on('error', () => {
      if (!done) {
        done = true;
        resolve({ problem: 'the request body could not be read', status: 400 });
      }
    });
  });
}
