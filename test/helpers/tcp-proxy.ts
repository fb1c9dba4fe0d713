// A TCP proxy in front of PostgreSQL, so a test can take the database away from the replicas
// under test (and give it back) without stopping the machine's PostgreSQL, which other test
// files use at the same time.

import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Cuts every open connection and refuses new ones (the database "goes away"). */
  cut(): void;
  /** Stops forwarding without closing anything: a half-open network path (packets go nowhere). */
  freeze(): void;
  /** Accepts connections again (and forwards on frozen ones). */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let up = true;
  let frozen = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (!up || frozen) return client.destroy();
    const target = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(target);
    const drop = () => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    client.on('error', drop).on('close', drop);
    target.on('error', drop).on('close', drop);
    client.pipe(target);
    target.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    restore() {
      up = true;
      if (frozen) for (const s of sockets) s.resume();
      frozen = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
