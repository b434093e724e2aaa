// ChunkedScanner: finds the exact end of a chunked body in raw bytes, however they are split,
// and refuses malformed sizes, extensions, missing CRLFs and bad trailers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedScanner } from '../proxy/http1/chunked.ts';
import type { ChunkedProgress } from '../proxy/http1/chunked.ts';

function scanAll(raw: string, limits?: ConstructorParameters<typeof ChunkedScanner>[0]): ChunkedProgress {
  return new ChunkedScanner(limits).push(Buffer.from(raw, 'latin1'));
}

function scanBytewise(raw: string): ChunkedProgress {
  const scanner = new ChunkedScanner();
  const buf = Buffer.from(raw, 'latin1');
  let consumed = 0;
  for (let index = 0; index < buf.length; index++) {
    const progress = scanner.push(buf, index, index + 1);
    consumed += progress.consumed;
    if (progress.error !== undefined) return { consumed, done: false, error: progress.error };
    if (progress.done) return { consumed, done: true, error: undefined };
  }
  return { consumed, done: false, error: undefined };
}

function ends(raw: string, bodyLength = raw.length): void {
  for (const progress of [scanAll(raw), scanBytewise(raw)]) {
    assert.equal(progress.error, undefined, `${JSON.stringify(raw)}: ${progress.error}`);
    assert.equal(progress.done, true, JSON.stringify(raw));
    assert.equal(progress.consumed, bodyLength, JSON.stringify(raw));
  }
}

function fails(raw: string): void {
  for (const progress of [scanAll(raw), scanBytewise(raw)]) {
    assert.notEqual(progress.error, undefined, `accepted ${JSON.stringify(raw)}`);
  }
}

describe('ChunkedScanner: valid bodies', () => {
  it('finds the end of simple bodies', () => {
    ends('0\r\n\r\n');
    ends('5\r\nhello\r\n0\r\n\r\n');
    ends('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    ends('A\r\n0123456789\r\na\r\n0123456789\r\n000\r\n\r\n');
  });

  it('counts payload bytes', () => {
    const scanner = new ChunkedScanner();
    scanner.push(Buffer.from('5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n'));
    assert.equal(scanner.dataBytes, 8);
    assert.equal(scanner.done, true);
  });

  it('accepts chunk extensions', () => {
    ends('1;a=b\r\nx\r\n0\r\n\r\n');
    ends('1;a="q u o t e d";b\r\nx\r\n0;last\r\n\r\n');
  });

  it('accepts trailers', () => {
    ends('1\r\nx\r\n0\r\nX-Checksum: abc\r\nX-Other:\t v \r\n\r\n');
  });

  it('stops exactly at the end so a pipelined request can follow', () => {
    const body = '3\r\nabc\r\n0\r\n\r\n';
    const next = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';
    const progress = scanAll(body + next);
    assert.deepEqual(progress, { consumed: body.length, done: true, error: undefined });
  });

  it('accepts a range inside a larger buffer', () => {
    const buf = Buffer.from('xx3\r\nabc\r\n0\r\n\r\nyy', 'latin1');
    assert.deepEqual(new ChunkedScanner().push(buf, 2, buf.length), { consumed: 13, done: true, error: undefined });
  });

  it('reports done with nothing consumed after the end, and resets for reuse', () => {
    const scanner = new ChunkedScanner();
    scanner.push(Buffer.from('0\r\n\r\n'));
    assert.deepEqual(scanner.push(Buffer.from('more')), { consumed: 0, done: true, error: undefined });
    scanner.reset();
    assert.deepEqual(scanner.push(Buffer.from('1\r\n')), { consumed: 3, done: false, error: undefined });
  });

  it('skips large chunks split across pushes', () => {
    const scanner = new ChunkedScanner();
    assert.equal(scanner.push(Buffer.from('100000\r\n')).consumed, 8);
    const payload = Buffer.alloc(0x100000, 0x61);
    assert.deepEqual(scanner.push(payload, 0, 1000), { consumed: 1000, done: false, error: undefined });
    assert.deepEqual(scanner.push(payload, 1000), { consumed: payload.length - 1000, done: false, error: undefined });
    assert.deepEqual(scanner.push(Buffer.from('\r\n0\r\n\r\n')), { consumed: 7, done: true, error: undefined });
  });
});

describe('ChunkedScanner: malformed bodies', () => {
  const cases: Array<[string, string]> = [
    ['0x prefix', '0x1\r\nx\r\n0\r\n\r\n'],
    ['negative size', '-1\r\nx\r\n0\r\n\r\n'],
    ['plus sign', '+1\r\nx\r\n0\r\n\r\n'],
    ['space after size', '1 \r\nx\r\n0\r\n\r\n'],
    ['space before extension', '1 ;a=b\r\nx\r\n0\r\n\r\n'],
    ['leading space', ' 1\r\nx\r\n0\r\n\r\n'],
    ['empty size', '\r\nx\r\n0\r\n\r\n'],
    ['non-hex size', 'g\r\nx\r\n0\r\n\r\n'],
    ['17 hex digits', `${'0'.repeat(16)}1\r\nx\r\n0\r\n\r\n`],
    ['size above 2^53', '20000000000000\r\n'],
    ['bare LF after size', '1\nx\r\n0\r\n\r\n'],
    ['bare CR after size', '1\rx\r\n0\r\n\r\n'],
    ['bare LF in extension', '1;a\nb\r\nx\r\n0\r\n\r\n'],
    ['bare CR in extension', '1;a\rb\r\nx\r\n0\r\n\r\n'],
    ['NUL in extension', '1;a\x00\r\nx\r\n0\r\n\r\n'],
    ['missing CRLF after data', '1\r\nxy\r\n0\r\n\r\n'],
    ['LF only after data', '1\r\nx\n0\r\n\r\n'],
    ['CR only after data', '1\r\nx\r0\r\n\r\n'],
    ['trailer obs-fold', '0\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['trailer without colon', '0\r\nX-A\r\n\r\n'],
    ['trailer space before colon', '0\r\nX-A : 1\r\n\r\n'],
    ['trailer empty name', '0\r\n: 1\r\n\r\n'],
    ['trailer NUL', '0\r\nX-A: \x00\r\n\r\n'],
    ['trailer bare LF', '0\r\nX-A: 1\n\r\n'],
    ['trailer bare CR', '0\r\nX-A: 1\rx\r\n\r\n'],
    ['bare LF as final line', '0\r\n\n'],
    ['bare CR as final line', '0\r\n\rx'],
  ];
  for (const [name, raw] of cases) it(name, () => fails(raw));

  it('bounds extensions', () => {
    const limits = { maxExtensionBytes: 8, maxTrailerBytes: 1024, maxTrailerCount: 4 };
    assert.equal(scanAll('1;abcdefg\r\nx\r\n0\r\n\r\n', limits).done, true);
    assert.match(scanAll('1;abcdefgh\r\nx\r\n0\r\n\r\n', limits).error ?? '', /extension too long/);
    assert.match(scanAll(`1;${'a'.repeat(5000)}\r\n`).error ?? '', /extension too long/);
  });

  it('bounds trailers', () => {
    const limits = { maxExtensionBytes: 8, maxTrailerBytes: 32, maxTrailerCount: 2 };
    assert.equal(scanAll('0\r\nA: 1\r\nB: 2\r\n\r\n', limits).done, true);
    assert.match(scanAll('0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', limits).error ?? '', /too many trailer/);
    assert.match(scanAll(`0\r\nA: ${'x'.repeat(40)}\r\n\r\n`, limits).error ?? '', /trailer section too large/);
  });

  it('stays failed after an error', () => {
    const scanner = new ChunkedScanner();
    const first = scanner.push(Buffer.from('z'));
    assert.equal(first.error, 'invalid chunk size');
    assert.deepEqual(scanner.push(Buffer.from('0\r\n\r\n')), { consumed: 0, done: false, error: 'invalid chunk size' });
  });
});
