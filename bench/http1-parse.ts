// Measures the HTTP/1.1 codec on the proxy's per-request path: parsing a typical ~300-byte request
// head, scanning a small chunked body, and building the forwarded head as the proxy does. Prints ns/op; run with `node bench/http1-parse.ts`.

import { ChunkedScanner } from '../proxy/http1/chunked.ts';
import { parseRequestHead } from '../proxy/http1/request-head.ts';
import { buildUpstreamRequestHead } from '../proxy/front/forward-head.ts';

const ITERATIONS = Number(process.env.ITERATIONS ?? 1_000_000);
const WARMUP = Math.min(100_000, ITERATIONS);

const HEAD = Buffer.from(
  'GET /api/v1/orders?page=2&limit=50 HTTP/1.1\r\n' +
    'Host: shop.example.com\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n' +
    'Accept: application/json, text/plain, */*\r\n' +
    'Accept-Language: en-US,en;q=0.5\r\n' +
    'Accept-Encoding: gzip, deflate, br\r\n' +
    'Cookie: session=3f2a9c1e7b; theme=dark\r\n' +
    'Connection: keep-alive\r\n' +
    '\r\n',
  'latin1',
);
const CHUNKED = Buffer.from('400\r\n' + 'x'.repeat(1024) + '\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\n\r\n', 'latin1');

function measure(name: string, operation: () => number): void {
  let sink = 0;
  for (let index = 0; index < WARMUP; index++) sink += operation();
  const started = process.hrtime.bigint();
  for (let index = 0; index < ITERATIONS; index++) sink += operation();
  const elapsed = Number(process.hrtime.bigint() - started);
  console.log(`${name.padEnd(40)} ${(elapsed / ITERATIONS).toFixed(0).padStart(6)} ns/op  (${ITERATIONS} iterations, sink ${sink % 10})`);
}

console.log(`node ${process.version}, ${HEAD.length}-byte request head`);
measure('parseRequestHead', () => {
  const result = parseRequestHead(HEAD, 0);
  return result.kind === 'head' ? result.end : 0;
});
measure('parseRequestHead in two pieces', () => {
  const first = parseRequestHead(HEAD.subarray(0, 150), 0);
  const second = parseRequestHead(HEAD, 0, undefined, first.kind === 'incomplete' ? first.resumeAt : 0);
  return second.kind === 'head' ? second.end : 0;
});
const scanner = new ChunkedScanner();
measure(`ChunkedScanner.push (${CHUNKED.length}-byte body)`, () => {
  scanner.reset();
  return scanner.push(CHUNKED).consumed;
});
const parsed = parseRequestHead(HEAD, 0);
if (parsed.kind !== 'head') throw new Error('benchmark head does not parse');
const head = parsed.head;
// The forwarded head exactly as the proxy builds it: hop-by-hop removal and X-Forwarded-* in one pass.
const forward = { clientAddress: '10.1.2.3', clientPort: 40000, secure: false, localPort: 30799, requestId: 'bench-request-id' };
measure('buildUpstreamRequestHead (the proxy path)', () => buildUpstreamRequestHead(head, forward).length);
