// Parses and validates the field lines of a decoded head (RFC 9112 §5, RFC 9110 §5) into a flat array,
// collecting on the way the few fields that decide framing, routing and connection handling.

import { COLON, CR, FIELD_VALUE_CHAR, HTAB, LF, SP, TCHAR, bytesEqualLower } from './chars.ts';

/** The framing- and routing-relevant fields, gathered in one pass; lists are joined with ", ". */
export interface FieldSummary {
  headers: string[];
  contentLength: number | undefined;
  transferEncoding: string | undefined;
  host: string | undefined;
  hostCount: number;
  connection: string | undefined;
  upgrade: string | undefined;
  expect: string | undefined;
}

export interface FieldError {
  status: 400 | 431;
  reason: string;
}

/** Above this no Content-Length can be represented exactly; 16 digits already exceeds it. */
const MAX_CONTENT_LENGTH = Number.MAX_SAFE_INTEGER;

function fail(reason: string): FieldError {
  return { status: 400, reason };
}

function joinList(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

/** Content-Length must be 1*DIGIT; -1 for anything else (sign, hex, spaces, lists, empty), -2 when too large. */
function parseContentLength(buf: Buffer, start: number, end: number): number {
  if (start === end) return -1;
  if (end - start > 16) {
    for (let index = start; index < end; index++) {
      const code = buf[index] as number;
      if (code < 0x30 || code > 0x39) return -1;
    }
    return -2;
  }
  let value = 0;
  for (let index = start; index < end; index++) {
    const digit = (buf[index] as number) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value > MAX_CONTENT_LENGTH ? -2 : value;
}

function emptySummary(): FieldSummary {
  return {
    headers: [],
    contentLength: undefined,
    transferEncoding: undefined,
    host: undefined,
    hostCount: 0,
    connection: undefined,
    upgrade: undefined,
    expect: undefined,
  };
}

/**
 * Parses field lines from buf[start] up to the blank line that ends the head at `headEnd` (just past CRLFCRLF).
 * Bytes are scanned in `buf` (indexing a Buffer is several times faster than charCodeAt); strings are
 * sliced from `text`, the head decoded once, which starts at buf offset `textBase`.
 * Only CRLF ends a line: a bare CR or LF, obs-fold, CTLs in values and non-tchar names are errors.
 * The common shape goes through a fast path; whatever it does not take is judged by the strict parser.
 */
export function parseFieldLines(
  buf: Buffer,
  start: number,
  headEnd: number,
  text: string,
  textBase: number,
  maxCount: number,
): FieldSummary | FieldError {
  return parseCommonFieldLines(buf, start, headEnd, text, textBase, maxCount) ?? parseFieldLinesStrictly(buf, start, headEnd, text, textBase, maxCount);
}

/**
 * The fast path: lines of a token name, ':', optional SP/HTAB, a value of visible ASCII in runs separated
 * by SP/HTAB, CRLF. Anything else (obs-text, a control character, a bare CR or LF, folding, too many
 * fields, a field noteField refuses) returns undefined, and the strict parser decides, so the fast path
 * only ever accepts what the strict one accepts, with the same result (test/http1-fields-fast.test.ts).
 * Byte values are literals: an imported constant costs a cell load and a hole check on every byte.
 */
export function parseCommonFieldLines(
  buf: Buffer,
  start: number,
  headEnd: number,
  text: string,
  textBase: number,
  maxCount: number,
): FieldSummary | undefined {
  const summary = emptySummary();
  const headers = summary.headers;
  const tchar = TCHAR;
  const blankLine = headEnd - 2;
  let count = 0;
  let pos = start;
  while (pos < blankLine) {
    const nameStart = pos;
    let code = buf[pos] as number;
    while (tchar[code] === 1) code = buf[++pos] as number;
    const nameEnd = pos;
    if (code !== 0x3a || nameEnd === nameStart) return undefined;
    code = buf[++pos] as number;
    while (code === 0x20 || code === 0x09) code = buf[++pos] as number;
    const valueStart = pos;
    let valueEnd: number;
    // Visible characters, then either the line's end or whitespace that more visible characters must follow.
    for (;;) {
      while (code > 0x20 && code < 0x7f) code = buf[++pos] as number;
      valueEnd = pos;
      if (code !== 0x20 && code !== 0x09) break;
      do code = buf[++pos] as number;
      while (code === 0x20 || code === 0x09);
      if (!(code > 0x20 && code < 0x7f)) break;
    }
    // The head ends in CRLFCRLF, so every loop above stops at a CR by the blank line at the latest.
    if (code !== 0x0d || buf[pos + 1] !== 0x0a) return undefined;
    pos += 2;
    if (++count > maxCount) return undefined;
    const value = text.slice(valueStart - textBase, valueEnd - textBase);
    headers.push(text.slice(nameStart - textBase, nameEnd - textBase), value);
    if (noteField(summary, buf, nameStart, nameEnd - nameStart, valueStart, valueEnd, value) !== undefined) return undefined;
  }
  return summary;
}

/** The byte-by-byte parser that names every error; the reference the fast path is tested against. */
export function parseFieldLinesStrictly(
  buf: Buffer,
  start: number,
  headEnd: number,
  text: string,
  textBase: number,
  maxCount: number,
): FieldSummary | FieldError {
  const summary = emptySummary();
  const headers = summary.headers;
  // Local copies: imported bindings are re-checked on every access inside the byte loops.
  const tchar = TCHAR;
  const valueChar = FIELD_VALUE_CHAR;
  const blankLine = headEnd - 2;
  let count = 0;
  let pos = start;
  while (pos < blankLine) {
    const first = buf[pos] as number;
    if (first === SP || first === HTAB) return fail('obsolete line folding');
    const nameStart = pos;
    while (tchar[buf[pos] as number] === 1) pos++;
    const nameEnd = pos;
    const stop = buf[pos] as number;
    if (stop !== COLON) {
      if (stop === SP || stop === HTAB) return fail('whitespace between field name and colon');
      if (stop === CR || stop === LF) return fail('field line without a colon');
      return fail('invalid character in field name');
    }
    if (nameEnd === nameStart) return fail('empty field name');
    pos++;
    let code = buf[pos] as number;
    while (code === SP || code === HTAB) code = buf[++pos] as number;
    const valueStart = pos;
    let valueEnd = pos;
    while (code !== CR) {
      if (valueChar[code] !== 1) {
        if (code === LF) return fail('bare LF in head');
        if (code === 0) return fail('NUL in field value');
        return fail('control character in field value');
      }
      pos++;
      if (code !== SP && code !== HTAB) valueEnd = pos;
      code = buf[pos] as number;
    }
    if (buf[pos + 1] !== LF) return fail('bare CR in head');
    pos += 2;
    if (++count > maxCount) return { status: 431, reason: 'too many header fields' };

    const value = text.slice(valueStart - textBase, valueEnd - textBase);
    headers.push(text.slice(nameStart - textBase, nameEnd - textBase), value);
    const problem = noteField(summary, buf, nameStart, nameEnd - nameStart, valueStart, valueEnd, value);
    if (problem !== undefined) return problem;
  }
  return summary;
}

/** Dispatches on name length first so ordinary fields cost one switch and no string compare. */
function noteField(
  summary: FieldSummary,
  buf: Buffer,
  nameStart: number,
  nameLength: number,
  valueStart: number,
  valueEnd: number,
  value: string,
): FieldError | undefined {
  switch (nameLength) {
    case 4:
      if (bytesEqualLower(buf, nameStart, 'host')) {
        summary.hostCount++;
        summary.host = value;
      }
      return undefined;
    case 6:
      if (bytesEqualLower(buf, nameStart, 'expect')) summary.expect = joinList(summary.expect, value);
      return undefined;
    case 7:
      if (bytesEqualLower(buf, nameStart, 'upgrade')) summary.upgrade = joinList(summary.upgrade, value);
      return undefined;
    case 10:
      if (bytesEqualLower(buf, nameStart, 'connection')) summary.connection = joinList(summary.connection, value);
      return undefined;
    case 14:
      if (bytesEqualLower(buf, nameStart, 'content-length')) {
        const length = parseContentLength(buf, valueStart, valueEnd);
        if (length === -1) return fail('invalid Content-Length');
        if (length === -2) return fail('Content-Length too large');
        // Identical repeats are collapsed as RFC 9110 §8.6 allows; differing ones are a smuggling shape.
        if (summary.contentLength !== undefined && summary.contentLength !== length) {
          return fail('conflicting Content-Length fields');
        }
        summary.contentLength = length;
      }
      return undefined;
    case 17:
      if (bytesEqualLower(buf, nameStart, 'transfer-encoding')) {
        summary.transferEncoding = joinList(summary.transferEncoding, value);
      }
      return undefined;
    default:
      return undefined;
  }
}
