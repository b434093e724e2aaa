// Response-head parsing: status line, body framing by RFC 9112 §6.3, keep-alive, and 502 for
// every ambiguous or malformed upstream head.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResponseHead } from '../proxy/http1/response-head.ts';
import { DEFAULT_HEAD_LIMITS } from '../proxy/http1/types.ts';
import type { ResponseHead } from '../proxy/http1/types.ts';

function parse(raw: string, method = 'GET') {
  return parseResponseHead(Buffer.from(raw, 'latin1'), 0, DEFAULT_HEAD_LIMITS, method);
}

function head(raw: string, method = 'GET'): ResponseHead {
  const result = parse(raw, method);
  if (result.kind !== 'head') assert.fail(`expected a head, got ${JSON.stringify(result)}`);
  return result.head;
}

describe('parseResponseHead', () => {
  it('parses a typical response', () => {
    const raw = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\nhello from upstream';
    const result = parse(raw);
    assert.equal(result.kind, 'head');
    if (result.kind !== 'head') return;
    assert.equal(result.end, raw.length - 19);
    assert.deepEqual(result.head, {
      status: 200,
      reason: 'OK',
      versionMinor: 1,
      headers: ['Content-Type', 'text/plain', 'Content-Length', '19'],
      bodyKind: 'length',
      contentLength: 19,
      keepAlive: true,
      upgrade: undefined,
      connectionTokens: [],
    });
  });

  it('accepts empty reasons with or without the space', () => {
    assert.equal(head('HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n').reason, '');
    assert.equal(head('HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n').status, 404);
    assert.equal(head('HTTP/1.1 500 Internal  Server\tError\r\nContent-Length: 0\r\n\r\n').reason, 'Internal  Server\tError');
  });

  it('frames bodies per RFC 9112 §6.3', () => {
    assert.equal(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').bodyKind, 'chunked');
    assert.equal(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').bodyKind, 'chunked');
    const closeDelimited = head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n');
    assert.equal(closeDelimited.bodyKind, 'close');
    assert.equal(closeDelimited.keepAlive, false);
    const noLength = head('HTTP/1.1 200 OK\r\n\r\n');
    assert.equal(noLength.bodyKind, 'close');
    assert.equal(noLength.keepAlive, false);
  });

  it('knows which answers have no body', () => {
    assert.equal(head('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD').bodyKind, 'none');
    assert.equal(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HEAD').bodyKind, 'none');
    assert.equal(head('HTTP/1.1 204 No Content\r\n\r\n').bodyKind, 'none');
    assert.equal(head('HTTP/1.1 204 No Content\r\n\r\n').keepAlive, true);
    assert.equal(head('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').bodyKind, 'none');
    assert.equal(head('HTTP/1.1 100 Continue\r\n\r\n').bodyKind, 'none');
    assert.equal(head('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n').bodyKind, 'none');
  });

  it('reads upgrades from 101', () => {
    const switching = head('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.equal(switching.bodyKind, 'none');
    assert.equal(switching.upgrade, 'websocket');
    assert.equal(switching.keepAlive, false);
    assert.deepEqual(switching.connectionTokens, ['upgrade']);
  });

  it('treats a 2xx to CONNECT as a tunnel', () => {
    const tunnel = head('HTTP/1.1 200 Connection Established\r\n\r\n', 'CONNECT');
    assert.equal(tunnel.bodyKind, 'none');
    assert.equal(tunnel.keepAlive, false);
  });

  it('applies keep-alive rules', () => {
    assert.equal(head('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n').keepAlive, false);
    assert.equal(head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive, false);
    assert.equal(head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
  });

  it('resumes and reports incomplete heads', () => {
    const buf = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'latin1');
    const partial = parseResponseHead(buf.subarray(0, 20), 0, DEFAULT_HEAD_LIMITS, 'GET');
    assert.deepEqual(partial, { kind: 'incomplete', resumeAt: 20 });
    const full = parseResponseHead(buf, 0, DEFAULT_HEAD_LIMITS, 'GET', 20);
    assert.equal(full.kind === 'head' && full.end, buf.length);
  });

  const BAD: Array<[string, string]> = [
    ['CL and TE', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['TE on 1.0', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['chunked twice', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n'],
    ['differing CL', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'],
    ['bad CL', 'HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\n'],
    ['CL and TE on 204', 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n'],
    ['bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'],
    ['NUL in reason', 'HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n'],
    ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['status 600', 'HTTP/1.1 600 OK\r\n\r\n'],
    ['status 099', 'HTTP/1.1 099 OK\r\n\r\n'],
    ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n'],
    ['lower-case version', 'http/1.1 200 OK\r\n\r\n'],
    ['no space after version', 'HTTP/1.1200 OK\r\n\r\n'],
    ['oversized head', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(17000)}`],
  ];
  for (const [name, raw] of BAD) {
    it(`502 for ${name}`, () => {
      const result = parse(raw);
      if (result.kind !== 'error') assert.fail(`accepted: ${JSON.stringify(result)}`);
      assert.equal(result.status, 502);
    });
  }
});
