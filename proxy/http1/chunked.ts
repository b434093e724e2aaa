// Finds where a chunked body ends (RFC 9112 §7.1) in raw bytes the proxy forwards unchanged,
// validating chunk sizes, extensions, the CRLF after each chunk and the trailer section; it never copies.

import { COLON, CR, FIELD_VALUE_CHAR, HEX_VALUE, HTAB, LF, SEMICOLON, SP, TCHAR } from './chars.ts';
import { DEFAULT_CHUNKED_LIMITS } from './types.ts';
import type { ChunkedLimits } from './types.ts';

/**
 * `consumed` bytes of the pushed range belong to this body. When `done`, the bytes after them belong
 * to the next message. On `error` the body is malformed and the connection must not be reused.
 */
export type ChunkedProgress =
  | { consumed: number; done: boolean; error: undefined }
  | { consumed: number; done: false; error: string };

// States; numbers rather than an enum so the file stays erasable TypeScript.
const SIZE_FIRST = 0;
const SIZE_MORE = 1;
const EXTENSION = 2;
const SIZE_LF = 3;
const DATA = 4;
const DATA_CR = 5;
const DATA_LF = 6;
const TRAILER_LINE = 7;
const TRAILER_NAME = 8;
const TRAILER_VALUE = 9;
const TRAILER_LF = 10;
const FINAL_LF = 11;
const DONE = 12;
const FAILED = 13;

/** 16 hex digits already exceed 2^53; sizes beyond Number.MAX_SAFE_INTEGER are refused. */
const MAX_SIZE_DIGITS = 16;

export class ChunkedScanner {
  private readonly limits: ChunkedLimits;
  private state = SIZE_FIRST;
  /** Size being read on a size line, then the data bytes still to skip in that chunk. */
  private size = 0;
  private sizeDigits = 0;
  private extensionBytes = 0;
  private trailerBytes = 0;
  private trailerCount = 0;
  private failure = '';
  /** Payload bytes seen so far, without the chunk framing; for metrics and limits. */
  dataBytes = 0;

  constructor(limits: ChunkedLimits = DEFAULT_CHUNKED_LIMITS) {
    this.limits = limits;
  }

  /** Makes the scanner ready for the next body on a kept-alive connection. */
  reset(): void {
    this.state = SIZE_FIRST;
    this.size = 0;
    this.sizeDigits = 0;
    this.extensionBytes = 0;
    this.trailerBytes = 0;
    this.trailerCount = 0;
    this.failure = '';
    this.dataBytes = 0;
  }

  get done(): boolean {
    return this.state === DONE;
  }

  push(buf: Buffer | Uint8Array, start = 0, end: number = buf.length): ChunkedProgress {
    if (this.state === DONE) return { consumed: 0, done: true, error: undefined };
    if (this.state === FAILED) return { consumed: 0, done: false, error: this.failure };
    let pos = start;
    while (pos < end) {
      if (this.state === DATA) {
        // The hot case: skip the payload arithmetically instead of byte by byte.
        const available = end - pos;
        if (available < this.size) {
          this.size -= available;
          this.dataBytes += available;
          return { consumed: end - start, done: false, error: undefined };
        }
        pos += this.size;
        this.dataBytes += this.size;
        this.size = 0;
        this.state = DATA_CR;
        continue;
      }
      const problem = this.step(buf[pos] as number);
      pos++;
      if (problem !== undefined) {
        this.state = FAILED;
        this.failure = problem;
        return { consumed: pos - start, done: false, error: problem };
      }
      if (this.state === DONE) return { consumed: pos - start, done: true, error: undefined };
    }
    return { consumed: end - start, done: false, error: undefined };
  }

  /** Advances over one framing byte; returns why the body is malformed, if it is. */
  private step(code: number): string | undefined {
    switch (this.state) {
      case SIZE_FIRST: {
        const digit = HEX_VALUE[code] as number;
        if (digit < 0) return code === SP || code === HTAB ? 'whitespace before chunk size' : 'invalid chunk size';
        this.size = digit;
        this.sizeDigits = 1;
        this.state = SIZE_MORE;
        return undefined;
      }
      case SIZE_MORE: {
        const digit = HEX_VALUE[code] as number;
        if (digit >= 0) {
          if (++this.sizeDigits > MAX_SIZE_DIGITS) return 'chunk size too long';
          this.size = this.size * 16 + digit;
          return this.size > Number.MAX_SAFE_INTEGER ? 'chunk size too large' : undefined;
        }
        if (code === CR) this.state = SIZE_LF;
        else if (code === SEMICOLON) {
          this.state = EXTENSION;
          this.extensionBytes = 1;
        } else if (code === SP || code === HTAB) return 'whitespace after chunk size';
        else return 'invalid chunk size';
        return undefined;
      }
      case EXTENSION:
        if (code === CR) {
          this.state = SIZE_LF;
          return undefined;
        }
        if (FIELD_VALUE_CHAR[code] !== 1) return code === LF ? 'bare LF in chunk extension' : 'control character in chunk extension';
        return ++this.extensionBytes > this.limits.maxExtensionBytes ? 'chunk extension too long' : undefined;
      case SIZE_LF:
        if (code !== LF) return 'bare CR in chunk-size line';
        this.state = this.size === 0 ? TRAILER_LINE : DATA;
        return undefined;
      case DATA_CR:
        if (code !== CR) return 'chunk data not followed by CRLF';
        this.state = DATA_LF;
        return undefined;
      case DATA_LF:
        if (code !== LF) return 'chunk data not followed by CRLF';
        this.state = SIZE_FIRST;
        return undefined;
      default:
        return this.stepTrailer(code);
    }
  }

  /** The trailer section is field lines like a head's, then the final CRLF. */
  private stepTrailer(code: number): string | undefined {
    if (++this.trailerBytes > this.limits.maxTrailerBytes) return 'trailer section too large';
    switch (this.state) {
      case TRAILER_LINE:
        if (code === CR) this.state = FINAL_LF;
        else if (TCHAR[code] === 1) {
          if (++this.trailerCount > this.limits.maxTrailerCount) return 'too many trailer fields';
          this.state = TRAILER_NAME;
        } else if (code === SP || code === HTAB) return 'obsolete line folding in trailer';
        else if (code === COLON) return 'empty trailer field name';
        else return code === LF ? 'bare LF in trailer' : 'invalid character in trailer field name';
        return undefined;
      case TRAILER_NAME:
        if (TCHAR[code] === 1) return undefined;
        if (code === COLON) {
          this.state = TRAILER_VALUE;
          return undefined;
        }
        if (code === SP || code === HTAB) return 'whitespace between field name and colon in trailer';
        return 'invalid character in trailer field name';
      case TRAILER_VALUE:
        if (code === CR) this.state = TRAILER_LF;
        else if (FIELD_VALUE_CHAR[code] !== 1) {
          if (code === LF) return 'bare LF in trailer';
          return code === 0 ? 'NUL in trailer value' : 'control character in trailer value';
        }
        return undefined;
      case TRAILER_LF:
        if (code !== LF) return 'bare CR in trailer';
        this.state = TRAILER_LINE;
        return undefined;
      case FINAL_LF:
        if (code !== LF) return 'bare CR after last chunk';
        this.state = DONE;
        return undefined;
      default:
        return 'chunked scanner in an impossible state';
    }
  }
}
