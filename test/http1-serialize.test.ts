// Head writers and hop-by-hop removal: written heads parse back to what was written, unsafe
// input is refused, and Connection tokens cannot strip framing fields.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_HEAD_LIMITS,
  errorResponse,
  parseRequestHead,
  parseResponseHead,
  withoutHopByHop,
  writeRequestHead,
  writeResponseHead,
} from '../proxy/http1/index.ts';

describe('writeRequestHead', () => {
  it('writes a head that parses back to the same fields', () => {
    const headers = ['Host', 'example.com', 'X-Latin', 'caf\xe9', 'Content-Length', '3'];
    const buf = writeRequestHead('POST', '/a?b=1', headers, ['X-Forwarded-For', '10.0.0.1']);
    assert.equal(buf.toString('latin1'), 'POST /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Latin: caf\xe9\r\nContent-Length: 3\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n');
    const parsed = parseRequestHead(buf, 0);
    assert.equal(parsed.kind, 'head');
    if (parsed.kind !== 'head') return;
    assert.deepEqual(parsed.head.headers, [...headers, 'X-Forwarded-For', '10.0.0.1']);
    assert.equal(parsed.head.contentLength, 3);
  });

  it('writes HTTP/1.0 when asked', () => {
    assert.match(writeRequestHead('GET', '/', [], [], 0).toString('latin1'), /^GET \/ HTTP\/1\.0\r\n\r\n$/);
  });

  it('refuses values and targets that could inject lines', () => {
    assert.throws(() => writeRequestHead('GET', '/', [], ['X-A', 'a\r\nX-Injected: 1']), TypeError);
    assert.throws(() => writeRequestHead('GET', '/', [], ['X A', 'a']), TypeError);
    assert.throws(() => writeRequestHead('GET', '/', [], ['X-A', ' padded']), TypeError);
    assert.throws(() => writeRequestHead('GET', '/a b', []), TypeError);
    assert.throws(() => writeRequestHead('GET', '/\r\n', []), TypeError);
    assert.throws(() => writeRequestHead('G ET', '/', []), TypeError);
  });
});

describe('writeResponseHead and errorResponse', () => {
  it('writes a response head that parses back', () => {
    const buf = writeResponseHead(200, undefined, ['Content-Length', '0'], ['X-Request-ID', 'abc']);
    assert.equal(buf.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-ID: abc\r\n\r\n');
    const parsed = parseResponseHead(buf, 0, DEFAULT_HEAD_LIMITS, 'GET');
    assert.equal(parsed.kind === 'head' && parsed.head.bodyKind, 'length');
  });

  it('refuses bad status lines', () => {
    assert.throws(() => writeResponseHead(99, 'x', []), TypeError);
    assert.throws(() => writeResponseHead(200, 'O\r\nK', []), TypeError);
  });

  it('builds canned error answers that close the connection', () => {
    const text = errorResponse(502, undefined, 'upstream failed\n').toString('latin1');
    assert.equal(
      text,
      'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nConnection: close\r\n\r\nupstream failed\n',
    );
    const defaulted = errorResponse(431);
    assert.match(defaulted.toString('latin1'), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[^]*\r\n\r\nRequest Header Fields Too Large\n$/);
    assert.match(errorResponse(400, 'Bad Request', 'caf\u00e9').toString('latin1'), /Content-Length: 5\r\n/);
  });
});

describe('withoutHopByHop', () => {
  const headers = [
    'Host', 'h',
    'Connection', 'keep-alive, X-Secret',
    'Keep-Alive', 'timeout=5',
    'Proxy-Connection', 'keep-alive',
    'TE', 'trailers',
    'Trailer', 'X-Sum',
    'Transfer-Encoding', 'chunked',
    'Upgrade', 'websocket',
    'x-secret', '1',
    'Accept', '*/*',
  ];

  it('drops the fixed set and fields named by Connection', () => {
    assert.deepEqual(withoutHopByHop(headers, ['keep-alive', 'x-secret']), ['Host', 'h', 'Accept', '*/*']);
  });

  it('keeps Transfer-Encoding and Trailer for spliced chunked bodies, Upgrade for pass-through', () => {
    assert.deepEqual(withoutHopByHop(headers, ['x-secret'], { keepTransferEncoding: true, keepUpgrade: true }), [
      'Host', 'h', 'Trailer', 'X-Sum', 'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket', 'Accept', '*/*',
    ]);
  });

  it('never lets a Connection token remove framing or routing fields', () => {
    const framed = ['Host', 'h', 'Content-Length', '5', 'Transfer-Encoding', 'chunked'];
    assert.deepEqual(withoutHopByHop(framed, ['content-length', 'host', 'transfer-encoding'], { keepTransferEncoding: true }), framed);
  });

  it('leaves ordinary heads alone', () => {
    const plain = ['Host', 'h', 'Accept', '*/*', 'User-Agent', 'curl'];
    assert.deepEqual(withoutHopByHop(plain, []), plain);
  });
});
