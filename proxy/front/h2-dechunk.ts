// Takes the payload and the trailer fields out of a chunked HTTP/1.1 request body, for a backend that
// speaks HTTP/2 (DATA frames carry no chunk framing). ChunkedScanner validates; this only extracts.
import { ChunkedScanner } from '../http1/chunked.ts';

export type DechunkResult =
  | { consumed: number; data: Buffer[]; done: boolean; trailers: Array<[string, string]> | undefined; error: undefined }
  | { consumed: number; data: Buffer[]; done: false; trailers: undefined; error: string };

const SIZE = 0;
const EXTENSION = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILERS = 6;

const CR = 13;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return code - 55; // A-F: the scanner has already refused anything else
}

export class Dechunker {
  /** The authority on what is well-formed, where the body ends and how large trailers may be. */
  readonly scanner = new ChunkedScanner();
  private state = SIZE;
  private size = 0;
  private trailerBytes: Buffer[] = [];

  /** Bytes of the body seen so far without framing (for proxy-body-size). */
  get dataBytes(): number {
    return this.scanner.dataBytes;
  }

  /** Consumes the part of `buf` that belongs to the body; `data` are the payload slices in it (no copies). */
  push(buf: Buffer): DechunkResult {
    const r = this.scanner.push(buf, 0, buf.length);
    const data: Buffer[] = [];
    // Bytes up to `consumed` are valid framing (even on error, the bytes before the bad one are).
    const end = r.error !== undefined ? Math.max(r.consumed - 1, 0) : r.consumed;
    let pos = 0;
    while (pos < end) {
      if (this.state === DATA) {
        const n = Math.min(this.size, end - pos);
        data.push(buf.subarray(pos, pos + n));
        pos += n;
        this.size -= n;
        if (this.size === 0) this.state = DATA_CR;
        continue;
      }
      if (this.state === TRAILERS) {
        this.trailerBytes.push(buf.subarray(pos, end));
        break;
      }
      const code = buf[pos++] as number;
      switch (this.state) {
        case SIZE:
          if (code === CR) this.state = SIZE_LF;
          else if (code === 59) this.state = EXTENSION; // ';'
          else this.size = this.size * 16 + hexValue(code);
          break;
        case EXTENSION:
          if (code === CR) this.state = SIZE_LF;
          break;
        case SIZE_LF:
          this.state = this.size === 0 ? TRAILERS : DATA;
          break;
        case DATA_CR:
          this.state = DATA_LF;
          break;
        case DATA_LF:
          this.state = SIZE;
          this.size = 0;
          break;
      }
    }
    if (r.error !== undefined) return { consumed: r.consumed, data, done: false, trailers: undefined, error: r.error };
    return { consumed: r.consumed, data, done: r.done, trailers: r.done ? this.takeTrailers() : undefined, error: undefined };
  }

  /** The trailer section, `name: value` lines then CRLF, as fields (values without surrounding whitespace). */
  private takeTrailers(): Array<[string, string]> {
    const text = Buffer.concat(this.trailerBytes).toString('latin1');
    this.trailerBytes = [];
    const fields: Array<[string, string]> = [];
    for (const line of text.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      fields.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    return fields;
  }
}
