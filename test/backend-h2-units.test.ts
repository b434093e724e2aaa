// The pure parts of the HTTP/2 backend path: de-chunking with trailers (at every split point), field
// translation both ways, response framing; and the session pool against a real node:http2 server.
import assert from 'node:assert/strict';
import { createServer, type Http2Session } from 'node:http2';
import { test } from 'node:test';
import { Dechunker } from '../proxy/front/h2-dechunk.ts';
import type { IncomingHttpHeaders, IncomingHttpStatusHeader } from 'node:http2';
import { h1ResponseHead, h1TrailerLines, h2RequestHeaders, h2Trailers, responseFraming } from '../proxy/front/h2-headers.ts';
import { parseRequestHead } from '../proxy/http1/request-head.ts';
import type { RequestHead } from '../proxy/http1/types.ts';
import { H2SessionPool, type H2Session } from '../proxy/upstream/h2/session-pool.ts';
import { eventually } from './support/http.ts';

function head(text: string): RequestHead {
  const r = parseRequestHead(Buffer.from(text, 'latin1'), 0);
  assert.equal(r.kind, 'head');
  return (r as { head: RequestHead }).head;
}

const CHUNKED = '5;ext=1\r\nhello\r\n7\r\n, world\r\nA\r\n0123456789\r\n0\r\nX-Sum: abc \r\nContent-Length: 9\r\n\r\nNEXT';

test('de-chunking gives the payload and the trailers, wherever the bytes are split', () => {
  const bytes = Buffer.from(CHUNKED, 'latin1');
  for (let split = 0; split <= bytes.length - 4; split++) {
    const d = new Dechunker();
    const data: Buffer[] = [];
    let consumed = 0;
    let result;
    for (const part of [bytes.subarray(0, split), bytes.subarray(split)]) {
      result = d.push(part);
      data.push(...result.data);
      consumed += result.consumed;
      if (result.done) break;
    }
    assert.equal(Buffer.concat(data).toString(), 'hello, world0123456789', `split at ${split}`);
    assert.equal(result?.done, true);
    assert.deepEqual(result?.trailers, [['X-Sum', 'abc'], ['Content-Length', '9']]);
    assert.equal(consumed, bytes.length - 4, 'the next request is not consumed');
  }
});

test('de-chunking refuses what the strict scanner refuses', () => {
  for (const bad of ['5\r\nhelloX\r\n', 'g\r\n', '5 \r\nhello\r\n0\r\n\r\n', '0\r\nBad Name: x\r\n\r\n']) {
    const r = new Dechunker().push(Buffer.from(bad, 'latin1'));
    assert.notEqual(r.error, undefined, JSON.stringify(bad));
  }
});

test('request fields: pseudo-headers, the HTTP/1.1 builder’s forwarded fields, nothing connection-specific', () => {
  const h = head('POST http://Api.Example:8080/a/b?q=1 HTTP/1.1\r\nHost: ignored\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nTE: gzip, trailers\r\nTransfer-Encoding: chunked\r\nUpgrade: h2c\r\nExpect: 100-continue\r\nCookie: a=1\r\nCookie: b=2\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n');
  const out = h2RequestHeaders(h, { clientAddress: '127.0.0.9', clientPort: 5000, secure: true, localPort: 443, requestId: 'rid' }, 'https');
  assert.deepEqual(out, {
    ':method': 'POST',
    ':scheme': 'https',
    ':path': '/a/b?q=1',
    ':authority': 'Api.Example:8080',
    cookie: ['a=1', 'b=2'],
    'x-forwarded-for': '127.0.0.9',
    'x-real-ip': '127.0.0.9',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'Api.Example:8080',
    'x-forwarded-port': '443',
    'x-request-id': 'rid',
    te: 'trailers',
  });
  const rewritten = h2RequestHeaders(head('GET /old HTTP/1.1\r\nHost: h\r\nTE: deflate\r\n\r\n'), { clientAddress: '::1', clientPort: 1, secure: false, localPort: 80, requestId: 'r', target: '/new?x' }, 'http');
  assert.equal(rewritten[':path'], '/new?x');
  assert.equal(rewritten.te, undefined, 'TE without trailers is not carried');
});

test('trailer fields: framing and routing fields never become trailers', () => {
  assert.deepEqual(h2Trailers([['X-Sum', '1'], ['Content-Length', '3'], ['Host', 'h'], ['x-sum', '2']]), { 'x-sum': ['1', '2'] });
  assert.equal(h1TrailerLines({ 'grpc-status': '0', 'grpc-message': 'ok', 'content-length': '5', ':status': '200' } as never), 'grpc-status: 0\r\ngrpc-message: ok\r\n');
});

test('response framing: chunked when trailers may come, the length otherwise, close for HTTP/1.0, none for HEAD', () => {
  const get11 = head('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
  const te = head('GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n');
  const get10 = head('GET / HTTP/1.0\r\n\r\n');
  const headReq = head('HEAD / HTTP/1.1\r\nHost: h\r\n\r\n');
  type H2Res = IncomingHttpHeaders & IncomingHttpStatusHeader;
  const withLength = { ':status': 200, 'content-length': '5' } as H2Res;
  const grpc = { ':status': 200, 'content-type': 'application/grpc+proto', 'content-length': '5' } as H2Res;
  assert.equal(responseFraming(get11, withLength, false), 'length');
  assert.equal(responseFraming(te, withLength, true), 'chunked');
  assert.equal(responseFraming(get11, grpc, false), 'chunked');
  assert.equal(responseFraming(get11, { ':status': 200 } as H2Res, false), 'chunked');
  assert.equal(responseFraming(get10, grpc, false), 'close');
  assert.equal(responseFraming(headReq, withLength, false), 'none');
  assert.equal(responseFraming(get11, { ':status': 304 } as H2Res, false), 'none');
  const res = h1ResponseHead({ ':status': 200, 'content-length': '5', 'set-cookie': ['a=1', 'b=2'], 'x-y': 'z' } as unknown as H2Res, 'chunked');
  assert.deepEqual(res.headers, ['set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-y', 'z', 'Transfer-Encoding', 'chunked']);
  assert.equal(res.reason, 'OK');
});

test('session pool: one session for sequential streams, GOAWAY retires it, idle sessions close', async () => {
  const sessions: Http2Session[] = [];
  const server = createServer();
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const pool = new H2SessionPool('127.0.0.1', port, { tls: false, maxSessions: 4, idleTimeoutMs: 200, maxStreamsPerSession: 100 });
  const acquire = (): Promise<H2Session> =>
    new Promise((resolve, reject) => pool.acquire(2_000, (r) => ('error' in r ? reject(r.error) : resolve(r.session))));
  const run = async (): Promise<H2Session> => {
    const s = await acquire();
    const stream = s.session.request({ ':path': '/' });
    stream.resume();
    await new Promise((r) => stream.on('close', r));
    pool.streamClosed(s);
    return s;
  };
  try {
    const first = await run();
    for (let i = 0; i < 5; i++) assert.equal(await run(), first);
    assert.equal(pool.opened, 1);
    (sessions[0] as Http2Session).goaway();
    await eventually(() => pool.liveSessions() === 0);
    const second = await run();
    assert.notEqual(second, first);
    assert.equal(pool.opened, 2);
    // No stream for longer than the idle timeout: the pool closes the session itself.
    await eventually(() => second.session.closed || second.session.destroyed, 100, 50);
    assert.equal(pool.liveSessions(), 0);
  } finally {
    pool.destroy();
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('session pool: a refused connect is an error with reason connect, not a hang', async () => {
  const pool = new H2SessionPool('127.0.0.1', 1, { tls: false, maxSessions: 4, idleTimeoutMs: 1000, maxStreamsPerSession: 100 });
  const r = await new Promise<unknown>((resolve) => pool.acquire(2_000, resolve));
  assert.equal((r as { reason: string }).reason, 'connect');
});
