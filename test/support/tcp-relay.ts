// A loopback TCP relay the tests put between a client and the API server, to cut the client off
// (and keep it off) while the server itself stays reachable for the test's own writes.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  port: number;
  /** Drops every relayed connection and refuses new ones until resume(). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  let paused = false;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      // Either side failing ends both: the client sees what a dead server looks like.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    pause() {
      paused = true;
      for (const s of open) s.destroy();
    },
    resume() {
      paused = false;
    },
    close() {
      paused = true;
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
