// A real HTTP/2 backend for tests (node:http2, cleartext or TLS with a self-signed certificate) whose
// behaviour is chosen by the request path, plus an HTTP/1.1 client helper that also returns trailers.
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { constants, createSecureServer, createServer, type Http2Server, type Http2Session, type ServerHttp2Stream, type IncomingHttpHeaders as H2Headers } from 'node:http2';
import { generate } from 'selfsigned';

export interface H2Backend {
  server: Http2Server;
  port: number;
  /** Every session the server accepted. */
  sessions: Http2Session[];
  /** Bytes the /big handler has written so far (it honours backpressure). */
  bigWritten: number;
  /** The last /big stream, to see how it ended. */
  bigStream: ServerHttp2Stream | undefined;
  /** Streams waiting in /hold; all are answered once `holdUntil` of them are open at once. */
  held: ServerHttp2Stream[];
  holdUntil: number;
  close(): Promise<void>;
}

export interface EchoReply {
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  sha256: string;
  trailers: Record<string, string | string[] | undefined>;
  tls: boolean;
  alpn: string | false | null;
}

function handle(b: H2Backend, stream: ServerHttp2Stream, headers: H2Headers): void {
  const path = headers[':path'] ?? '/';
  stream.on('error', () => undefined);
  if (path.startsWith('/reset')) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (path.startsWith('/slow')) return; // never answers
  if (path.startsWith('/stall')) {
    stream.pause(); // never reads the body: HTTP/2 flow control stops the sender
    return;
  }
  if (path.startsWith('/cut')) {
    // A head and part of a body, then a reset: the client must not see a clean end.
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.write('partial body ');
    // destroy(), not close(): close() would end the body cleanly (END_STREAM) before its RST_STREAM.
    setTimeout(() => stream.destroy(new Error('cut')), 50);
    return;
  }
  if (path.startsWith('/big')) {
    const total = Number(new URL(path, 'http://x').searchParams.get('n'));
    b.bigWritten = 0;
    b.bigStream = stream;
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (b.bigWritten < total) {
        const n = Math.min(chunk.length, total - b.bigWritten);
        b.bigWritten += n;
        if (!stream.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          stream.once('drain', pump);
          return;
        }
      }
      stream.end();
    };
    pump();
    return;
  }
  if (path.startsWith('/hold')) {
    b.held.push(stream);
    if (b.held.length < b.holdUntil) return;
    for (const s of b.held.splice(0)) {
      if (s.destroyed) continue;
      s.respond({ ':status': 200, 'content-length': '2' });
      s.end('ok');
    }
    return;
  }
  // /echo (and anything else): the request as the backend saw it; trailers in the answer when asked.
  const hash = createHash('sha256');
  let bodyBytes = 0;
  let trailers: H2Headers = {};
  stream.on('data', (d: Buffer) => {
    bodyBytes += d.length;
    hash.update(d);
  });
  stream.on('trailers', (t: H2Headers) => (trailers = t));
  stream.on('end', () => {
    const socket = stream.session?.socket as { encrypted?: boolean; alpnProtocol?: string | false | null } | undefined;
    const reply: EchoReply = { headers: { ...headers }, bodyBytes, sha256: hash.digest('hex'), trailers: { ...trailers }, tls: socket?.encrypted === true, alpn: socket?.alpnProtocol ?? null };
    const body = JSON.stringify(reply);
    if (path.startsWith('/trailers')) {
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-head': 'yes' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': reply.sha256.slice(0, 8), 'x-count': String(bodyBytes) }));
      stream.end(body);
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'set-cookie': ['a=1', 'b=2'] });
    stream.end(body);
  });
}


export async function startH2Backend(address: string, opts: { tls?: boolean; maxConcurrentStreams?: number } = {}): Promise<H2Backend> {
  const settings = opts.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: opts.maxConcurrentStreams };
  let server: Http2Server;
  if (opts.tls) {
    const pems = await generate([{ name: 'commonName', value: 'backend' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    server = createSecureServer({ cert: pems.cert, key: pems.private, settings }) as unknown as Http2Server;
  } else server = createServer({ settings });
  const b: H2Backend = {
    server,
    port: 0,
    sessions: [],
    bigWritten: 0,
    bigStream: undefined,
    held: [],
    holdUntil: 1,
    close: async () => {
      for (const s of b.sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  server.on('session', (s) => {
    b.sessions.push(s);
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => handle(b, stream, headers));
  await new Promise<void>((r) => server.listen(0, address, r));
  const a = server.address();
  b.port = typeof a === 'object' && a !== null ? a.port : 0;
  return b;
}

export interface FullReply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  trailers: Record<string, string | undefined>;
}

/** One HTTP/1.1 request on its own connection; resolves with body and trailers, rejects on a cut. */
export function request1(port: number, host: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: Buffer[]; trailers?: Record<string, string> } = {}): Promise<FullReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), trailers: res.trailers }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (opts.chunks !== undefined) for (const c of opts.chunks) req.write(c);
    if (opts.trailers !== undefined) req.addTrailers(opts.trailers);
    req.end(opts.body);
  });
}
