// The codec against bytes captured from real peers (curl, node:http, nginx): what they send
// must parse, with bodies framed exactly to the end of the capture.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ChunkedScanner } from '../proxy/http1/chunked.ts';
import { parseRequestHead } from '../proxy/http1/request-head.ts';
import { parseResponseHead } from '../proxy/http1/response-head.ts';
import { DEFAULT_HEAD_LIMITS } from '../proxy/http1/types.ts';

function capture(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/http1/captured/${name}.bin`, import.meta.url));
}

function bodyEnd(buf: Buffer, start: number, chunked: boolean, contentLength: number | undefined): number {
  if (!chunked) return start + (contentLength ?? 0);
  const progress = new ChunkedScanner().push(buf, start);
  assert.equal(progress.error, undefined);
  assert.equal(progress.done, true);
  return start + progress.consumed;
}

describe('captured requests', () => {
  const expectations: Array<[string, Partial<Record<'method' | 'path' | 'query' | 'host', string>>]> = [
    ['curl-get-request', { method: 'GET', path: '/path/to', query: '?x=1&y=%20z', host: 'shop.example.com' }],
    ['curl-http10-request', { method: 'GET', path: '/old' }],
    ['curl-post-chunked-request', { method: 'POST', path: '/upload' }],
    ['curl-post-length-request', { method: 'POST', path: '/form' }],
    ['curl-proxy-absolute-request', { method: 'GET', path: '/p', query: '?q=1', host: 'origin.example:8080' }],
    ['node-http-chunked-request', { method: 'PUT', path: '/stream' }],
  ];
  for (const [name, expected] of expectations) {
    it(name, () => {
      const buf = capture(name);
      const result = parseRequestHead(buf, 0);
      if (result.kind !== 'head') assert.fail(JSON.stringify(result));
      for (const [field, value] of Object.entries(expected)) assert.equal(result.head[field as keyof typeof expected], value, field);
      assert.equal(bodyEnd(buf, result.end, result.head.chunked, result.head.contentLength), buf.length);
    });
  }

  it('keeps HTTP/1.0 from curl -0 non-persistent', () => {
    const result = parseRequestHead(capture('curl-http10-request'), 0);
    assert.equal(result.kind === 'head' && result.head.keepAlive, false);
  });
});

describe('captured responses', () => {
  const cases: Array<[string, string, string]> = [
    ['node-http-chunked-response', 'GET', 'chunked'],
    ['node-http-length-response', 'GET', 'length'],
    ['nginx-length-response', 'GET', 'length'],
    ['nginx-head-response', 'HEAD', 'none'],
    ['nginx-400-response', 'GET', 'length'],
  ];
  for (const [name, method, bodyKind] of cases) {
    it(name, () => {
      const buf = capture(name);
      const result = parseResponseHead(buf, 0, DEFAULT_HEAD_LIMITS, method);
      if (result.kind !== 'head') assert.fail(JSON.stringify(result));
      assert.equal(result.head.bodyKind, bodyKind);
      const head = result.head;
      const end = head.bodyKind === 'none' ? result.end : bodyEnd(buf, result.end, head.bodyKind === 'chunked', head.contentLength);
      assert.equal(end, buf.length);
    });
  }
});
