// Property tests on generated valid requests: parsed fields equal the generated ones, the chunked
// scanner finds exactly the body's end, and feeding bytes piecemeal gives the same answers as all at once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedScanner } from '../proxy/http1/chunked.ts';
import { parseRequestHead } from '../proxy/http1/request-head.ts';
import { everyByte, parseInPieces } from './fixtures/http1/feed.ts';
import { Prng, generateRequest } from './fixtures/http1/generate.ts';

const BASE_SEED = 0x5eed_0001;
const ITERATIONS = 5_000;
const BYTEWISE_EVERY = 10;
const NEXT = 'GET /next HTTP/1.1\r\nHost: n.example\r\n\r\n';

/** Pushes body bytes in pieces; returns where the body ended, or fails. */
function scanBody(buf: Buffer, start: number, cuts: readonly number[]): number {
  const scanner = new ChunkedScanner();
  let position = start;
  for (const cut of [...cuts.filter((c) => c > start), buf.length]) {
    const progress = scanner.push(buf, position, cut);
    if (progress.error !== undefined) assert.fail(`chunked scanner failed: ${progress.error}`);
    position += progress.consumed;
    if (progress.done) return position;
    assert.equal(position, cut, 'an unfinished push must consume everything');
  }
  assert.fail('chunked body never ended');
}

function withSeed(seed: number, run: () => void): void {
  try {
    run();
  } catch (error) {
    throw new Error(`failed with seed ${seed} (HTTP1_SEED=${seed} reruns only it): ${(error as Error).message}`, { cause: error });
  }
}

function seeds(): number[] {
  const only = process.env.HTTP1_SEED;
  if (only !== undefined) return [Number(only)];
  return Array.from({ length: ITERATIONS }, (_, index) => BASE_SEED + index);
}

describe('generated valid requests', () => {
  it('round-trip through the parser and the chunked scanner', () => {
    for (const seed of seeds()) {
      withSeed(seed, () => {
        const rng = new Prng(seed);
        const request = generateRequest(rng, NEXT);
        const result = parseRequestHead(request.raw, 0);
        if (result.kind !== 'head') assert.fail(`rejected ${JSON.stringify(request.raw.toString('latin1'))}: ${JSON.stringify(result)}`);
        const head = result.head;
        assert.equal(result.end, request.headEnd);
        assert.equal(head.method, request.method);
        assert.equal(head.target, request.target);
        assert.equal(head.path, request.path);
        assert.equal(head.query, request.query);
        assert.equal(head.host, request.host);
        assert.deepEqual(head.headers, request.headers);
        assert.equal(head.contentLength, request.contentLength);
        assert.equal(head.chunked, request.chunked);
        assert.equal(head.keepAlive, request.keepAlive);

        const cuts = Array.from({ length: rng.int(0, 4) }, () => rng.int(0, request.raw.length)).sort((a, b) => a - b);
        const bodyEnd = head.chunked ? scanBody(request.raw, result.end, cuts) : result.end + (head.contentLength ?? 0);
        assert.equal(bodyEnd, request.bodyEnd);
        const next = parseRequestHead(request.raw, bodyEnd);
        assert.equal(next.kind === 'head' && next.head.path, '/next', 'the pipelined request must follow exactly');
      });
    }
  });

  it('parse the same fed in random pieces or byte by byte as all at once', () => {
    for (const seed of seeds()) {
      withSeed(seed, () => {
        const rng = new Prng(seed);
        const request = generateRequest(rng, NEXT);
        const whole = parseRequestHead(request.raw, 0);
        const bytewise = seed % BYTEWISE_EVERY === 0;
        const cuts = bytewise
          ? everyByte(0, request.raw.length)
          : Array.from({ length: rng.int(1, 5) }, () => rng.int(1, request.raw.length - 1)).sort((a, b) => a - b);
        assert.deepEqual(parseInPieces(request.raw, 0, cuts), whole);
        if (whole.kind === 'head' && whole.head.chunked) {
          assert.equal(scanBody(request.raw, whole.end, bytewise ? everyByte(whole.end, request.raw.length) : cuts), request.bodyEnd);
        }
      });
    }
  });
});
