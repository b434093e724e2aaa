// A small HTTP backend that answers with what it received, as JSON: which backend, method, path,
// headers. The demo, the tests and the benchmarks use it as the "pods" behind Services.
import { createServer, type Server } from 'node:http';

export interface EchoBackend {
  name: string;
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startEchoBackend(name: string, host = '127.0.0.1', port = 0): Promise<EchoBackend> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({
        backend: name,
        method: req.method,
        url: req.url,
        headers: req.headers,
        bodyBytes: chunks.reduce((n, c) => n + c.length, 0),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-backend': name });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    name,
    host,
    port: bound,
    server,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
