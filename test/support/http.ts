// Test helpers to talk to wharf over real sockets: an HTTP request with any Host header, and
// raw bytes on a TCP connection for the parser's strictness tests.
import { request as httpRequest, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  https?: boolean;
  servername?: string;
  address?: string;
  /** Source address of the client socket (any 127.0.0.0/8 address works on loopback). */
  localAddress?: string;
}

export function get(port: number, host: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const make = opts.https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(
      {
        host: opts.address ?? '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: { host, ...opts.headers },
        agent: false,
        rejectUnauthorized: false,
        servername: opts.servername,
        localAddress: opts.localAddress,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes and collects everything until the server closes (or `waitMs` of silence). */
export function raw(port: number, bytes: string | Buffer, waitMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), waitMs);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

/** Polls `check` until it returns true, at most `tries` times, `everyMs` apart. */
export async function eventually(check: () => Promise<boolean> | boolean, tries = 100, everyMs = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met after ${tries} tries`);
}

/** Loopback listeners on ports the kernel picks: what a test wharf binds to. */
export const LOOPBACK_ANY_PORTS: readonly string[] = ['--bind', '127.0.0.1', '--admin-bind', '127.0.0.1', '--http-port', '0', '--https-port', '0', '--admin-port', '0'];

/** A loopback port free right now (another process could take it before it is bound; callers retry or accept that). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A backend answer of `total` bytes of `fill` written in blocks of `blockSize`, each write waiting for 'drain' when the socket is full; `onBlock` sees every block as it is written. */
export function pumpBody(res: ServerResponse, total: number, blockSize: number, fill: number, onBlock?: (bytes: number) => void): void {
  const block = Buffer.alloc(blockSize, fill);
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += block.length;
      onBlock?.(block.length);
      if (!res.write(block)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
