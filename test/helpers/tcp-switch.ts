import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP pass-through to a local port that a test can switch off (every connection refused or
 * cut, as when the service behind it stops) and on again, on the same port.
 */
export interface TcpSwitch {
  port: number;
  url: string;
  off(): Promise<void>;
  on(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpSwitch(targetPort: number): Promise<TcpSwitch> {
  const sockets = new Set<net.Socket>();
  const make = () =>
    net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
  let server: net.Server | null = make();
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = async () => {
    if (!server) return;
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    off: stop,
    async on() {
      if (server) return;
      server = make();
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    close: stop,
  };
}
