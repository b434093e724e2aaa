// An HTTP/2 client for tests: node's http2.connect over TLS with ALPN h2 to wharf's HTTPS port, one
// session for many streams, each reply collected whole (status, headers, body, trailers) or as a reset.
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';

export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders;
  /** RST_STREAM code when the stream was reset instead of ending cleanly. */
  rstCode: number | undefined;
}

export interface H2RequestOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  /** Sent as DATA; chunks are written one by one, with a pause between them when `gapMs` is set. */
  body?: Buffer | Buffer[];
  gapMs?: number;
}

/** A session to wharf's HTTPS port; `servername` drives SNI, the certificate is not checked. */
export function h2Session(port: number, servername: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    session.once('connect', () => {
      session.removeListener('error', reject);
      session.on('error', () => {});
      resolve(session);
    });
    session.once('error', reject);
  });
}

export function h2Request(session: ClientHttp2Session, authority: string, path: string, opts: H2RequestOptions = {}): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const chunks = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    const req = session.request({ ':method': opts.method ?? 'GET', ':authority': authority, ':path': path, ...opts.headers }, { endStream: chunks.length === 0 });
    const timer = setTimeout(() => req.close(constants.NGHTTP2_CANCEL), 20_000);
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const body: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => body.push(d));
    req.on('error', () => {});
    req.on('close', () => {
      clearTimeout(timer);
      if (req.rstCode !== undefined && req.rstCode !== constants.NGHTTP2_NO_ERROR && status === 0 && body.length === 0 && session.destroyed) return reject(new Error('session gone'));
      resolve({ status, headers, body: Buffer.concat(body), trailers, rstCode: req.rstCode === constants.NGHTTP2_NO_ERROR ? undefined : req.rstCode });
    });
    if (chunks.length > 0) void writeChunks(req, chunks, opts.gapMs ?? 0);
  });
}

async function writeChunks(req: NodeJS.WritableStream, chunks: Buffer[], gapMs: number): Promise<void> {
  for (const c of chunks) {
    if (!req.write(c)) await new Promise((r) => req.once('drain', r));
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  req.end();
}

/** One request on a fresh session, closed afterwards. */
export async function h2Get(port: number, authority: string, path: string, opts: H2RequestOptions = {}): Promise<H2Reply> {
  const session = await h2Session(port, authority);
  try {
    return await h2Request(session, authority, path, opts);
  } finally {
    session.close();
  }
}
