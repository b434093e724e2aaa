// Request-head parsing: the fields routing needs, and the exact status for every smuggling shape.
// Raw bytes in, result out; no sockets.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequestHead } from '../proxy/http1/request-head.ts';
import { DEFAULT_HEAD_LIMITS } from '../proxy/http1/types.ts';
import type { RequestHead } from '../proxy/http1/types.ts';

function parse(raw: string) {
  return parseRequestHead(Buffer.from(raw, 'latin1'), 0);
}

function head(raw: string): RequestHead {
  const result = parse(raw);
  if (result.kind !== 'head') assert.fail(`expected a head, got ${JSON.stringify(result)}`);
  return result.head;
}

function rejected(raw: string, status: number): void {
  const result = parse(raw);
  assert.equal(result.kind, 'error', `expected ${status} for ${JSON.stringify(raw)}, got ${JSON.stringify(result)}`);
  if (result.kind === 'error') assert.equal(result.status, status, `${JSON.stringify(raw)}: ${result.reason}`);
}

const H = 'Host: example.com\r\n';

describe('parseRequestHead: fields', () => {
  it('parses a typical GET', () => {
    const raw = 'GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5\r\nAccept:  */* \t\r\n\r\n';
    const result = parse(raw);
    assert.equal(result.kind, 'head');
    if (result.kind !== 'head') return;
    assert.equal(result.end, raw.length);
    assert.deepEqual(result.head, {
      method: 'GET',
      target: '/a/b?x=1&y=2',
      path: '/a/b',
      query: '?x=1&y=2',
      absoluteHost: undefined,
      versionMinor: 1,
      headers: ['Host', 'example.com', 'User-Agent', 'curl/8.5', 'Accept', '*/*'],
      host: 'example.com',
      contentLength: undefined,
      chunked: false,
      keepAlive: true,
      upgrade: undefined,
      expectContinue: false,
      connectionTokens: [],
    });
  });

  it('keeps header names as sent and values with obs-text', () => {
    const h = head('GET / HTTP/1.1\r\nhOsT: a\r\nX-Name: caf\xe9 au lait\r\nEmpty:\r\n\r\n');
    assert.deepEqual(h.headers, ['hOsT', 'a', 'X-Name', 'caf\xe9 au lait', 'Empty', '']);
    assert.equal(h.host, 'a');
  });

  it('applies keep-alive rules of 1.0 and 1.1', () => {
    assert.equal(head(`GET / HTTP/1.1\r\n${H}\r\n`).keepAlive, true);
    assert.equal(head(`GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`).keepAlive, false);
    assert.equal(head(`GET / HTTP/1.1\r\n${H}Connection: Keep-Alive, CLOSE\r\n\r\n`).keepAlive, false);
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
    assert.equal(head('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
  });

  it('collects Connection tokens across fields, lower-cased', () => {
    const h = head(`GET / HTTP/1.1\r\n${H}Connection: X-Foo ,, Upgrade\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n\r\n`);
    assert.deepEqual(h.connectionTokens, ['x-foo', 'upgrade', 'keep-alive']);
    assert.equal(h.upgrade, 'websocket');
  });

  it('reports Upgrade only when Connection lists upgrade, and never for 1.0', () => {
    assert.equal(head(`GET / HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\n`).upgrade, undefined);
    assert.equal(head('GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade, undefined);
  });

  it('reads Expect: 100-continue on 1.1 only', () => {
    assert.equal(head(`POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nExpect: 100-Continue\r\n\r\n`).expectContinue, true);
    assert.equal(head('POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n').expectContinue, false);
  });

  it('reads Content-Length and chunked framing', () => {
    const withLength = head(`POST /u HTTP/1.1\r\n${H}Content-Length: 42\r\n\r\n`);
    assert.equal(withLength.contentLength, 42);
    assert.equal(withLength.chunked, false);
    const chunked = head(`POST /u HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n`);
    assert.equal(chunked.chunked, true);
    assert.equal(chunked.contentLength, undefined);
    assert.equal(head(`POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740991\r\n\r\n`).contentLength, 2 ** 53 - 1);
  });

  it('accepts HTAB as OWS after the colon', () => {
    assert.equal(head(`POST / HTTP/1.1\r\n${H}Transfer-Encoding:\tchunked\r\n\r\n`).chunked, true);
  });

  it('collapses repeated identical Content-Length fields (RFC 9110 §8.6)', () => {
    assert.equal(head(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\n`).contentLength, 5);
  });

  it('handles absolute-form: authority wins over Host', () => {
    const h = head('GET http://Other.example:8080/p/q?z HTTP/1.1\r\nHost: example.com\r\n\r\n');
    assert.equal(h.absoluteHost, 'Other.example:8080');
    assert.equal(h.host, 'Other.example:8080');
    assert.equal(h.path, '/p/q');
    assert.equal(h.query, '?z');
    assert.equal(head(`GET HTTPS://h.example HTTP/1.1\r\n${H}\r\n`).path, '/');
    assert.equal(head(`GET http://h.example?a=1 HTTP/1.1\r\n${H}\r\n`).query, '?a=1');
  });

  it('accepts asterisk-form for OPTIONS and authority-form for CONNECT', () => {
    assert.equal(head(`OPTIONS * HTTP/1.1\r\n${H}\r\n`).path, '*');
    const connect = head('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal(connect.method, 'CONNECT');
    assert.equal(connect.path, '');
    assert.equal(connect.target, 'example.com:443');
  });

  it('accepts HTTP/1.0 without Host and an empty Host on 1.1', () => {
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').host, '');
    assert.equal(head('GET / HTTP/1.1\r\nHost:\r\n\r\n').host, '');
  });

  it('skips a few empty lines before the request-line', () => {
    const raw = `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`;
    const result = parse(raw);
    assert.equal(result.kind, 'head');
    if (result.kind === 'head') assert.equal(result.end, raw.length);
    rejected(`\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, 400);
    rejected(`\nGET / HTTP/1.1\r\n${H}\r\n`, 400);
  });
});

describe('parseRequestHead: limits and incomplete input', () => {
  it('says incomplete until the blank line arrives', () => {
    assert.deepEqual(parse('GET / HTTP/1.1\r\nHost: a\r\n'), { kind: 'incomplete', resumeAt: 25 });
    assert.equal(parse('').kind, 'incomplete');
    assert.equal(parse('\r').kind, 'incomplete');
  });

  it('answers 431 for an oversized head, even before it ends', () => {
    const big = `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(DEFAULT_HEAD_LIMITS.maxHeadBytes)}`;
    rejected(big, 431);
    rejected(`${big}\r\n\r\n`, 431);
  });

  it('answers 431 for too many fields', () => {
    rejected(`GET / HTTP/1.1\r\n${H}${'X-A: 1\r\n'.repeat(100)}\r\n`, 431);
    assert.equal(head(`GET / HTTP/1.1\r\n${H}${'X-A: 1\r\n'.repeat(99)}\r\n`).headers.length, 200);
  });

  it('answers 414 for a long request-target', () => {
    rejected(`GET /${'a'.repeat(DEFAULT_HEAD_LIMITS.maxTargetLength)} HTTP/1.1\r\n${H}\r\n`, 414);
    assert.equal(head(`GET /${'a'.repeat(DEFAULT_HEAD_LIMITS.maxTargetLength - 1)} HTTP/1.1\r\n${H}\r\n`).method, 'GET');
  });

  it('honours custom limits', () => {
    const limits = { maxHeadBytes: 64, maxHeaderCount: 2, maxTargetLength: 4 };
    const result = parseRequestHead(Buffer.from(`GET /abcd HTTP/1.1\r\n${H}\r\n`), 0, limits);
    assert.equal(result.kind === 'error' && result.status, 414);
  });

  it('parses at an offset and resumes from scanFrom', () => {
    const raw = Buffer.from(`junkGET / HTTP/1.1\r\n${H}\r\n`, 'latin1');
    const partial = parseRequestHead(raw.subarray(0, 20), 4);
    assert.equal(partial.kind, 'incomplete');
    if (partial.kind !== 'incomplete') return;
    const full = parseRequestHead(raw, 4, DEFAULT_HEAD_LIMITS, partial.resumeAt);
    assert.equal(full.kind === 'head' && full.end, raw.length);
  });

  it('parses pipelined requests one after another', () => {
    const buf = Buffer.from(`GET /one HTTP/1.1\r\n${H}\r\nGET /two HTTP/1.1\r\n${H}\r\n`, 'latin1');
    const first = parseRequestHead(buf, 0);
    assert.equal(first.kind, 'head');
    if (first.kind !== 'head') return;
    assert.equal(first.head.path, '/one');
    const second = parseRequestHead(buf, first.end);
    assert.equal(second.kind === 'head' && second.head.path, '/two');
    assert.equal(second.kind === 'head' && second.end, buf.length);
  });
});
