// Mutation fuzzing: valid requests with random damage must never throw, must end in one of the
// three result kinds, and an accepted head must be unambiguous, clean and stable when re-written.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TARGET_CHAR } from '../proxy/http1/chars.ts';
import { ChunkedScanner } from '../proxy/http1/chunked.ts';
import { parseRequestHead } from '../proxy/http1/request-head.ts';
import { isValidFieldName, isValidFieldValue, requestHeadText } from '../proxy/http1/serialize.ts';
import type { RequestHead } from '../proxy/http1/types.ts';
import { referenceChunkedEnd } from './fixtures/http1/chunked-reference.ts';
import { parseInPieces } from './fixtures/http1/feed.ts';
import { Prng, generateRequest } from './fixtures/http1/generate.ts';

const BASE_SEED = 0xf022_0000;
const ITERATIONS = 20_000;
const NEXT = 'GET /next HTTP/1.1\r\nHost: n.example\r\n\r\n';
const BYTES = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x3a, 0x2c, 0x3b, 0x30, 0x31, 0x7f, 0xff, 0x80, 0x2d, 0x2b, 0x78, 0x22, 0x41, 0x66];
const SNIPPETS = [
  '\r\n', '\n', '\r', '\r\n\r\n', ' ', '\t', '\r\n ', '0x', '-1', ', chunked', ', identity', ';ext=1',
  'Content-Length: 5\r\n', 'Content-Length: 0\r\n', 'Transfer-Encoding: chunked\r\n', 'Transfer-Encoding: chunked, identity\r\n',
  'Host: x.example\r\n', 'Connection: close\r\n', 'HTTP/1.0', 'http://u@h/', '0\r\n\r\n', 'X-T: 1\r\n',
];
const STATUSES = new Set([400, 414, 431, 501, 505]);

/** Half the body mutations land on a CR or LF, where chunked framing lives, instead of in payload bytes. */
function bodyPosition(rng: Prng, bytes: Buffer, headEnd: number): number {
  const start = Math.min(headEnd, bytes.length);
  if (rng.chance(0.5)) {
    const from = rng.int(start, bytes.length);
    const lineBreak = bytes.indexOf(rng.chance(0.5) ? 0x0d : 0x0a, from);
    if (lineBreak !== -1) return lineBreak;
  }
  return rng.int(start, bytes.length);
}

function mutate(rng: Prng, input: Buffer, headEnd: number): Buffer {
  let bytes = input;
  const count = rng.int(1, 4);
  for (let step = 0; step < count; step++) {
    const inHead = rng.chance(0.7);
    const at = inHead ? rng.int(0, Math.max(0, headEnd - 1)) : bodyPosition(rng, bytes, headEnd);
    const before = bytes.subarray(0, at);
    const after = bytes.subarray(at);
    switch (rng.int(0, 4)) {
      case 0:
        bytes = Buffer.concat([before, Buffer.from([rng.pick(BYTES)]), after.subarray(1)]);
        break;
      case 1:
        bytes = Buffer.concat([before, Buffer.from([rng.pick(BYTES)]), after]);
        break;
      case 2:
        bytes = Buffer.concat([before, after.subarray(rng.int(1, 3))]);
        break;
      case 3:
        bytes = Buffer.concat([before, Buffer.from(rng.pick(SNIPPETS), 'latin1'), after]);
        break;
      default: {
        // Repeat an existing line elsewhere: duplicate Host, Content-Length or Transfer-Encoding fields.
        const lineStart = bytes.lastIndexOf('\n', at) + 1;
        const lineEnd = bytes.indexOf('\n', at);
        if (lineEnd === -1) break;
        bytes = Buffer.concat([bytes.subarray(0, lineEnd + 1), bytes.subarray(lineStart, lineEnd + 1), bytes.subarray(lineEnd + 1)]);
      }
    }
  }
  // Sometimes cut the input short, so incomplete heads and bodies are fuzzed too.
  return rng.chance(0.1) ? bytes.subarray(0, rng.int(0, bytes.length)) : bytes;
}

function checkAcceptedHead(head: RequestHead, raw: Buffer, end: number): void {
  assert.ok(!(head.contentLength !== undefined && head.chunked), 'both Content-Length and chunked');
  if (head.chunked) assert.equal(head.versionMinor, 1, 'chunked on HTTP/1.0');
  assert.equal(raw.toString('latin1', end - 4, end), '\r\n\r\n');
  assert.equal(head.headers.length % 2, 0);
  for (let index = 0; index < head.headers.length; index += 2) {
    assert.ok(isValidFieldName(head.headers[index] as string), `bad name ${JSON.stringify(head.headers[index])}`);
    assert.ok(isValidFieldValue(head.headers[index + 1] as string), `bad value ${JSON.stringify(head.headers[index + 1])}`);
  }
  for (let index = 0; index < head.target.length; index++) assert.equal(TARGET_CHAR[head.target.charCodeAt(index)], 1);
  // A head the codec accepted and re-wrote must parse to the same head: nothing is lost or reinterpreted.
  const rewritten = Buffer.from(requestHeadText(head.method, head.target, head.headers, [], head.versionMinor), 'latin1');
  const again = parseRequestHead(rewritten, 0);
  assert.equal(again.kind, 'head', `rewritten head rejected: ${JSON.stringify(again)}`);
  if (again.kind === 'head') assert.deepEqual(again.head, head);
}

function checkChunked(rng: Prng, raw: Buffer, start: number): void {
  const whole = new ChunkedScanner().push(raw, start);
  assert.ok(whole.consumed <= raw.length - start);
  if (whole.done) assert.equal(raw.toString('latin1', start + whole.consumed - 2, start + whole.consumed), '\r\n');
  // Piecemeal pushes must reach the same verdict at the same byte.
  const scanner = new ChunkedScanner();
  let position = start;
  let progress = scanner.push(raw, start, start);
  while (position < raw.length && !progress.done && progress.error === undefined) {
    const cut = Math.min(raw.length, position + rng.int(1, 40));
    progress = scanner.push(raw, position, cut);
    position += progress.consumed;
  }
  assert.equal(position - start, whole.consumed);
  assert.equal(progress.done, whole.done);
  assert.equal(progress.error, whole.error);
  // And agree with the independent reference reading.
  const reference = referenceChunkedEnd(raw.toString('latin1'), start);
  if (reference === 'undecided') return;
  if (reference === 'error') assert.notEqual(whole.error, undefined, 'reference rejects, scanner does not');
  else if (reference === 'incomplete') assert.ok(!whole.done && whole.error === undefined, `reference incomplete, scanner ${JSON.stringify(whole)}`);
  else assert.deepEqual({ done: whole.done, end: start + whole.consumed }, { done: true, end: reference });
}

describe('mutation fuzzing', () => {
  it(`${ITERATIONS} damaged requests: no throw, sound verdicts`, () => {
    const only = process.env.HTTP1_SEED;
    const seeds = only !== undefined ? [Number(only)] : Array.from({ length: ITERATIONS }, (_, index) => BASE_SEED + index);
    const kinds = { head: 0, error: 0, incomplete: 0 };
    for (const seed of seeds) {
      const rng = new Prng(seed);
      const request = generateRequest(rng, NEXT);
      const raw = mutate(rng, request.raw, request.headEnd);
      try {
        const result = parseRequestHead(raw, 0);
        kinds[result.kind]++;
        if (result.kind === 'error') {
          assert.ok(STATUSES.has(result.status), `status ${result.status}`);
          assert.ok(result.reason.length > 0);
        } else if (result.kind === 'head') {
          checkAcceptedHead(result.head, raw, result.end);
          if (result.head.chunked) checkChunked(rng, raw, result.end);
        }
        const cuts = Array.from({ length: rng.int(1, 4) }, () => rng.int(1, raw.length)).sort((a, b) => a - b);
        const pieces = parseInPieces(raw, 0, cuts);
        assert.equal(pieces.kind, result.kind, 'piecemeal verdict differs');
        if (result.kind === 'head') assert.deepEqual(pieces, result);
        // Body bytes that are not valid chunked coding must be refused too, never thrown on.
        checkChunked(rng, raw, Math.min(request.headEnd, raw.length));
      } catch (error) {
        throw new Error(
          `failed with seed ${seed} (HTTP1_SEED=${seed} reruns only it) on ${JSON.stringify(raw.toString('latin1'))}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    // The mutations must exercise every outcome, or the fuzzer tests little.
    if (only === undefined) for (const [kind, count] of Object.entries(kinds)) assert.ok(count > 100, `only ${count} ${kind} results`);
  });
});
