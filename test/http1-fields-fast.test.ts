// Property test of the field-line fast path: on random and damaged field sections it either steps
// aside or returns exactly what the strict byte parser returns, and it never accepts what the strict one rejects.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeLatin1 } from '../proxy/http1/chars.ts';
import { parseCommonFieldLines, parseFieldLines, parseFieldLinesStrictly } from '../proxy/http1/fields.ts';
import { Prng } from './fixtures/http1/generate.ts';

const SEED = 0xfa57_0000;
const ITERATIONS = 30_000;
const TCHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
const VISIBLE = `${TCHARS}"(),/:;<=>?@[\\]{}`;
const NAMES = ['Host', 'host', 'Content-Length', 'CONTENT-LENGTH', 'Transfer-Encoding', 'Connection', 'Upgrade', 'Expect', 'Date', 'Server', 'X-A'];
/** Damage: line-end pieces, whitespace, controls, DEL, obs-text, a colon, digits. */
const BYTES = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xa0, 0xff, 0x3a, 0x2c, 0x30, 0x35, 0x41];
const PREFIX = 'GET / HTTP/1.1\r\n';

function value(rng: Prng): string {
  if (rng.chance(0.1)) return '';
  let out = rng.string(VISIBLE, 1, 10);
  while (rng.chance(0.3)) out += rng.string(' \t', 1, 3) + rng.string(VISIBLE, 1, 6);
  return out;
}

function line(rng: Prng): string {
  const name = rng.chance(0.5) ? rng.pick(NAMES) : rng.string(TCHARS, 1, 12);
  const fieldValue = /content-length/i.test(name) && rng.chance(0.7) ? String(rng.pick([0, 5, 5, 19, 123456])) : value(rng);
  return `${name}:${rng.chance(0.7) ? ' ' : rng.string(' \t', 0, 2)}${fieldValue}${rng.chance(0.1) ? rng.string(' \t', 1, 2) : ''}\r\n`;
}

/** Field lines after a request-line, damaged a few times, cut at the first blank line as the head parsers do. */
function section(rng: Prng): { buf: Buffer; start: number; headEnd: number } | undefined {
  let text = '';
  const count = rng.int(0, 8);
  for (let index = 0; index < count; index++) text += line(rng);
  let bytes = Buffer.from(`${PREFIX}${text}\r\n`, 'latin1');
  const damage = rng.chance(0.5) ? rng.int(1, 3) : 0;
  for (let step = 0; step < damage; step++) {
    const at = rng.int(PREFIX.length, bytes.length - 1);
    const byte = Buffer.from([rng.pick(BYTES)]);
    const keep = rng.chance(0.5) ? at : at + 1;
    bytes = Buffer.concat([bytes.subarray(0, at), byte, bytes.subarray(keep)]);
  }
  const blank = bytes.indexOf('\r\n\r\n', PREFIX.length - 2, 'latin1');
  if (blank === -1) return undefined;
  return { buf: bytes, start: PREFIX.length, headEnd: blank + 4 };
}

describe('field-line fast path', () => {
  it('agrees with the strict parser on random field sections, or leaves them to it', () => {
    const rng = new Prng(SEED);
    let taken = 0;
    let rejected = 0;
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const input = section(rng);
      if (input === undefined) continue;
      const { buf, start, headEnd } = input;
      const text = decodeLatin1(buf, 0, headEnd);
      const maxCount = rng.chance(0.1) ? rng.int(0, 3) : 100;
      const strict = parseFieldLinesStrictly(buf, start, headEnd, text, 0, maxCount);
      const fast = parseCommonFieldLines(buf, start, headEnd, text, 0, maxCount);
      const context = `iteration ${iteration}: ${JSON.stringify(buf.toString('latin1'))}`;
      if (!('headers' in strict)) rejected++;
      if (fast !== undefined) {
        taken++;
        assert.deepEqual(fast, strict, context);
      }
      assert.deepEqual(parseFieldLines(buf, start, headEnd, text, 0, maxCount), strict, context);
    }
    // The generator must exercise both sides: many sections the fast path takes, many the strict parser rejects.
    assert.ok(taken > ITERATIONS / 4, `fast path took only ${taken}`);
    assert.ok(rejected > ITERATIONS / 10, `only ${rejected} rejections`);
  });

  it('takes the common shapes, and leaves obs-text, folding, controls and limits to the strict parser', () => {
    const at = (fields: string, maxCount = 100) => {
      const buf = Buffer.from(`${PREFIX}${fields}\r\n`, 'latin1');
      return parseCommonFieldLines(buf, PREFIX.length, buf.length, decodeLatin1(buf, 0, buf.length), 0, maxCount);
    };
    assert.deepEqual(at('Host: a.test\r\nX-Y:\t b  c \t\r\nEmpty:\r\n')?.headers, ['Host', 'a.test', 'X-Y', 'b  c', 'Empty', '']);
    assert.equal(at('Content-Length: 5\r\ncontent-length: 5\r\n')?.contentLength, 5);
    assert.equal(at('X: caf\xe9\r\n'), undefined);
    assert.equal(at('X: a\r\n b\r\n'), undefined);
    assert.equal(at('X: a\x7f\r\n'), undefined);
    assert.equal(at('X : a\r\n'), undefined);
    assert.equal(at('X: a\rb\r\n'), undefined);
    assert.equal(at('A: 1\r\nB: 2\r\n', 1), undefined);
    assert.equal(at('Content-Length: 1, 1\r\n'), undefined);
    assert.equal(at('Content-Length: 1\r\nContent-Length: 2\r\n'), undefined);
  });
});
