// The byte-copying head forwarder must write exactly what the text builder writes, for every head it
// takes on, and must decline the heads only the builder handles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRequestHead } from '../proxy/http1/request-head.ts';
import { parseResponseHead } from '../proxy/http1/response-head.ts';
import { DEFAULT_HEAD_LIMITS, type RequestHead, type ResponseHead } from '../proxy/http1/types.ts';
import { copyRequestHead, copyResponseHead, forwardedLines } from '../proxy/front/copy-head.ts';
import { buildClientResponseHead, buildUpstreamRequestHead, type ForwardInfo, type ResponseForwardOptions } from '../proxy/front/forward-head.ts';

function request(raw: string): { buf: Buffer; head: RequestHead; end: number } {
  const buf = Buffer.from(raw, 'latin1');
  const r = parseRequestHead(buf, 0, DEFAULT_HEAD_LIMITS);
  assert.equal(r.kind, 'head', raw);
  if (r.kind !== 'head') throw new Error('unreachable');
  return { buf, head: r.head, end: r.end };
}

function response(raw: string, method = 'GET'): { buf: Buffer; head: ResponseHead; end: number } {
  const buf = Buffer.from(raw, 'latin1');
  const r = parseResponseHead(buf, 0, DEFAULT_HEAD_LIMITS, method);
  assert.equal(r.kind, 'head', raw);
  if (r.kind !== 'head') throw new Error('unreachable');
  return { buf, head: r.head, end: r.end };
}

/** Field lines as `name: value` with no other whitespace: equal heads that differ only in OWS compare equal. */
function canonical(head: string): string {
  return head
    .split('\r\n')
    .map((line, i) => (i === 0 ? line : line.replace(/^([^:]+):[ \t]*(.*?)[ \t]*$/, '$1: $2')))
    .join('\r\n');
}

const INFO: ForwardInfo = { clientAddress: '127.0.0.9', clientPort: 5555, secure: false, localPort: 8080, requestId: 'abc123' };

const REQUESTS = [
  'GET / HTTP/1.1\r\nHost: a.test\r\n\r\n',
  'GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n',
  '\r\n\r\nGET / HTTP/1.1\r\nHost: a.test\r\n\r\n',
  'GET / HTTP/1.1\r\nconnection: keep-alive\r\nHost: a.test\r\nKEEP-ALIVE: timeout=5\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 6.6.6.6\r\nx-real-ip: 6.6.6.6\r\nX-FORWARDED-PROTO: https\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Port: 1\r\nForwarded: for=6.6.6.6\r\n\r\n',
  'GET / HTTP/1.1\r\nX-Request-ID: keep-me\r\nHost: a.test\r\nCookie: a=b; c=d\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nTE: trailers\r\nTrailer: x\r\nProxy-Connection: keep-alive\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n',
  'GET / HTTP/1.0\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a.test\r\nX-Empty:\r\nX-Ows:   padded value  \r\n\r\n',
  'DELETE /only-dropped HTTP/1.1\r\nConnection: keep-alive\r\nHost: a.test\r\n\r\n',
  'GET / HTTP/1.1\r\nHost:\ta.test \t\r\nX-T:\t\t\r\nX-Forwarded-For:  1.2.3.4 \r\nConnection: close\r\nAccept:\t*/*\r\n\r\n',
  // Ranges longer than the byte loop's limit go through Buffer#copy.
  `GET /${'p'.repeat(200)} HTTP/1.1\r\nHost: a.test\r\nCookie: ${'c'.repeat(300)}\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n`,
];

test('request heads: the copy equals the text builder, byte for byte', () => {
  for (const raw of REQUESTS) {
    const { buf, head, end } = request(raw);
    for (const info of [INFO, { ...INFO, secure: true, clientAddress: '::1' }]) {
      const copied = copyRequestHead(buf, 0, end, head, info, forwardedLines(info, head.host));
      assert.ok(copied !== undefined, raw);
      // Field lines go as received, so optional whitespace around a value stays; the builder writes one SP.
      assert.equal(canonical(copied), canonical(buildUpstreamRequestHead(head, info)), raw);
      if (!/:[ \t]{2}|[ \t]\r\n|:\r\n/.test(raw)) assert.equal(copied, buildUpstreamRequestHead(head, info), raw);
    }
  }
});

test('request heads only the text builder handles are declined', () => {
  const rewritten = request('GET /old HTTP/1.1\r\nHost: a.test\r\n\r\n');
  assert.equal(copyRequestHead(rewritten.buf, 0, rewritten.end, rewritten.head, { ...INFO, target: '/new' }, ''), undefined);
  const absolute = request('GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n');
  assert.equal(copyRequestHead(absolute.buf, 0, absolute.end, absolute.head, INFO, ''), undefined);
  const named = request('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: x-secret\r\nX-Secret: 1\r\n\r\n');
  assert.equal(copyRequestHead(named.buf, 0, named.end, named.head, INFO, ''), undefined);
});

const RESPONSES = [
  'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n',
  'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nTE: x\r\nTrailer: y\r\nProxy-Connection: z\r\nupgrade: h2c\r\nX-Last: 1\r\n\r\n',
  'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n',
  'HTTP/1.1 302 Found\r\nLocation: /a\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n',
];

const OPTIONS: ResponseForwardOptions[] = [
  { close: false, keepAliveHttp10: false },
  { close: true, keepAliveHttp10: false },
  { close: false, keepAliveHttp10: true },
  { close: false, keepAliveHttp10: false, extraHeaders: { 'X-Route': 'r1', 'Set-Cookie': 'wharf=1' } },
];

test('response heads: the copy equals the text builder, byte for byte, with and without a body behind', () => {
  for (const raw of RESPONSES) {
    const { buf, head, end } = response(raw);
    for (const opts of OPTIONS) {
      const text = buildClientResponseHead(head, opts);
      assert.equal(copyResponseHead(buf, 0, end, head, opts)?.toString('latin1'), text, raw);
      const withBody = Buffer.concat([buf, Buffer.from('abc')]);
      assert.equal(copyResponseHead(withBody, 0, end, head, opts, withBody.subarray(end))?.toString('latin1'), `${text}abc`, raw);
      assert.equal(copyResponseHead(buf, 0, end, head, opts, Buffer.from('xyz'))?.toString('latin1'), `${text}xyz`, raw);
      const large = 'b'.repeat(1000);
      assert.equal(copyResponseHead(buf, 0, end, head, opts, Buffer.from(large))?.toString('latin1'), `${text}${large}`, raw);
      // In place: the head's own bytes (and a body right behind them) are moved together; a separate body is copied.
      const own = Buffer.concat([buf, Buffer.from('abc')]);
      assert.equal(copyResponseHead(own, 0, end, head, opts, own.subarray(end), true)?.toString('latin1'), `${text}abc`, raw);
      const alone = Buffer.from(buf);
      assert.equal(copyResponseHead(alone, 0, end, head, opts, undefined, true)?.toString('latin1'), text, raw);
      const apart = Buffer.concat([buf, Buffer.from('abc')]);
      assert.equal(copyResponseHead(apart, 0, end, head, opts, Buffer.from('xyz'), true)?.toString('latin1'), `${text}xyz`, raw);
      assert.equal(apart.subarray(end).toString('latin1'), 'abc', raw);
      const before = Buffer.concat([buf, Buffer.from('abc')]);
      assert.equal(copyResponseHead(before, 0, end, head, opts, undefined, true)?.toString('latin1'), text, raw);
      assert.equal(before.subarray(end).toString('latin1'), 'abc', raw);
    }
  }
});

test('response field lines with odd whitespace keep it, and the lines around them stay whole', () => {
  const { buf, head, end } = response('HTTP/1.1 200 OK\r\nX-Tab:\t v \t\r\nConnection:  keep-alive \r\nX-Empty: \t\r\nContent-Length: 0\r\n\r\n');
  const copied = copyResponseHead(buf, 0, end, head, OPTIONS[1] as ResponseForwardOptions);
  assert.equal(copied?.toString('latin1'), 'HTTP/1.1 200 OK\r\nX-Tab:\t v \t\r\nX-Empty: \t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
});

test('a response with nothing to drop or add goes out as the received bytes, without a copy', () => {
  const raw = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
  const { head, end } = response(raw.toString('latin1'));
  const out = copyResponseHead(raw, 0, end, head, { close: false, keepAliveHttp10: false }, raw.subarray(end));
  assert.ok(out !== undefined);
  assert.ok(out.buffer === raw.buffer && out.byteOffset === raw.byteOffset, 'a view on the received bytes');
  assert.equal(out.toString(), raw.toString());
  // A body from another buffer cannot be a view on the head's: it is copied.
  const other = copyResponseHead(raw, 0, end, head, { close: false, keepAliveHttp10: false }, Buffer.from('xyz'));
  assert.ok(other !== undefined && !(other.buffer === raw.buffer && other.byteOffset === raw.byteOffset), 'a copy');
  assert.equal(other.toString(), 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz');
});

test('response heads only the text builder handles are declined', () => {
  const http10 = response('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n');
  assert.equal(copyResponseHead(http10.buf, 0, http10.end, http10.head, OPTIONS[0] as ResponseForwardOptions), undefined);
  const noSp = response('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n');
  assert.equal(copyResponseHead(noSp.buf, 0, noSp.end, noSp.head, OPTIONS[0] as ResponseForwardOptions), undefined);
  const named = response('HTTP/1.1 200 OK\r\nConnection: x-internal\r\nX-Internal: 1\r\nContent-Length: 0\r\n\r\n');
  assert.equal(copyResponseHead(named.buf, 0, named.end, named.head, OPTIONS[0] as ResponseForwardOptions), undefined);
});
