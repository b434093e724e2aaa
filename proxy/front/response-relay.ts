// The response half of one proxied exchange: parses the backend's response head, writes the client's
// head and relays the body, spliced unchanged, until its framing says it ended; with backpressure.
import type { Socket } from 'node:net';
import { ChunkedScanner } from '../http1/chunked.ts';
import { parseResponseHead } from '../http1/response-head.ts';
import { DEFAULT_HEAD_LIMITS, type ResponseHead } from '../http1/types.ts';
import { copyResponseHead } from './copy-head.ts';
import { buildClientResponseHead } from './forward-head.ts';
import { MAX_UNSENT_BYTES } from './limits.ts';

/** Answers up to this size that arrive whole are copied into one buffer with their head. */
const SMALL_BODY_BYTES = 16 * 1024;

/** What the relay asks of the connection it works for. */
export interface ResponseRelayOwner {
  /**
   * A final (non-1xx) response head arrived and is valid. The owner reports it and returns whether the
   * client connection closes after this response.
   */
  responseHead(res: ResponseHead): boolean;
  /** The head is malformed or not acceptable: nothing went to the client yet. */
  responseInvalid(reason: string): void;
  /** The body's chunked framing is broken, after the head went to the client. */
  responseBodyInvalid(): void;
  /** The body ended; `cleanEnd` is false when the backend sent bytes after it. */
  responseComplete(cleanEnd: boolean): void;
  /** The backend switched protocols as asked (101); `rest` is what followed the head. */
  upgraded(res: ResponseHead, rest: Buffer | undefined): void;
}

/** What the relay needs to know about the request it answers. */
export interface RelayRequest {
  method: string;
  versionMinor: 0 | 1;
  /** The client asked to switch protocols, so a 101 is expected. */
  upgradeAsked: boolean;
  extraHeaders: Readonly<Record<string, string>> | undefined;
}

export class ResponseRelay {
  private readonly client: Socket;
  private readonly owner: ResponseRelayOwner;
  private upstream: Socket | undefined;
  private request: RelayRequest | undefined;
  private buf: Buffer | undefined;
  private scanFrom = 0;
  private remaining = 0;
  private scanner: ChunkedScanner | undefined;
  /** The final response head, once it arrived. */
  head: ResponseHead | undefined;
  /** Something (an interim or the final head) went to the client: a failure can no longer be answered. */
  started = false;

  constructor(client: Socket, owner: ResponseRelayOwner) {
    this.client = client;
    this.owner = owner;
  }

  /** A request went to `upstream`: what it sends back now is this request's answer. */
  begin(upstream: Socket, request: RelayRequest): void {
    this.upstream = upstream;
    this.request = request;
    this.buf = undefined;
    this.scanFrom = 0;
  }

  /** Forgets the exchange (it ended, failed or turned into a tunnel). */
  reset(): void {
    this.upstream = undefined;
    this.request = undefined;
    this.buf = undefined;
    this.head = undefined;
    this.scanner = undefined;
    this.scanFrom = 0;
    this.started = false;
  }

  push(chunk: Buffer): void {
    if (this.head === undefined) {
      this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
      this.parseHead();
      return;
    }
    this.forwardBody(chunk);
  }

  private parseHead(): void {
    while (this.buf !== undefined && this.head === undefined) {
      const request = this.request as RelayRequest;
      const buf = this.buf;
      const r = parseResponseHead(buf, 0, DEFAULT_HEAD_LIMITS, request.method, this.scanFrom);
      if (r.kind === 'incomplete') {
        this.scanFrom = r.resumeAt;
        return;
      }
      this.scanFrom = 0;
      if (r.kind === 'error') {
        this.owner.responseInvalid(`the backend sent an invalid response: ${r.reason}\n`);
        return;
      }
      const rest = r.end < buf.length ? buf.subarray(r.end) : undefined;
      this.buf = rest;
      const res = r.head;
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        // Interim answers (100 Continue, 103 Early Hints) pass through, except to HTTP/1.0 clients
        // (RFC 9110 §15.2); the final one follows.
        if (request.versionMinor === 1) {
          this.started = true;
          this.client.write(buildClientResponseHead(res, { close: false, keepAliveHttp10: false }), 'latin1');
        }
        continue;
      }
      if (res.status === 101 && !request.upgradeAsked) {
        // Switching protocols that nobody asked for would turn this client connection into a raw pipe.
        this.owner.responseInvalid('the backend switched protocols without being asked\n');
        return;
      }
      this.head = res;
      if (res.status === 101) {
        this.owner.upgraded(res, rest);
        return;
      }
      this.startBody(res, request, buf, r.end, rest);
      return;
    }
  }

  /** `buf` holds the head at [0, end); `rest` is what followed it. */
  private startBody(res: ResponseHead, request: RelayRequest, buf: Buffer, end: number, rest: Buffer | undefined): void {
    this.buf = undefined;
    this.started = true;
    const close = this.owner.responseHead(res);
    const opts = { close, keepAliveHttp10: request.versionMinor === 0 && !close, extraHeaders: request.extraHeaders };
    this.remaining = res.bodyKind === 'length' ? (res.contentLength ?? 0) : 0;
    this.scanner = res.bodyKind === 'chunked' ? new ChunkedScanner() : undefined;
    const client = this.client;
    if (res.bodyKind === 'none' || (res.bodyKind === 'length' && this.remaining === 0)) {
      client.write(copyResponseHead(buf, 0, end, res, opts, undefined, true) ?? Buffer.from(buildClientResponseHead(res, opts), 'latin1'));
      this.owner.responseComplete(rest === undefined);
      return;
    }
    if (rest !== undefined && res.bodyKind === 'length' && rest.length === this.remaining && rest.length <= SMALL_BODY_BYTES) {
      // The whole small answer arrived with its head: one buffer, one plain write (no writev path).
      this.remaining = 0;
      client.write(copyResponseHead(buf, 0, end, res, opts, rest, true) ?? joined(buildClientResponseHead(res, opts), rest));
      this.owner.responseComplete(true);
      return;
    }
    // The head's bytes are ours to rearrange; `rest` (after `end`) is left as it is.
    const head = copyResponseHead(buf, 0, end, res, opts, undefined, true) ?? Buffer.from(buildClientResponseHead(res, opts), 'latin1');
    if (rest === undefined) {
      client.write(head);
      return;
    }
    // Head and the first body bytes leave together (cork), not as two packets.
    client.cork();
    client.write(head);
    this.forwardBody(rest);
    client.uncork();
  }

  private forwardBody(chunk: Buffer): void {
    const res = this.head as ResponseHead;
    let n = chunk.length;
    let done = false;
    if (res.bodyKind === 'length') {
      n = Math.min(n, this.remaining);
      this.remaining -= n;
      done = this.remaining === 0;
    } else if (res.bodyKind === 'chunked') {
      const r = (this.scanner as ChunkedScanner).push(chunk, 0, chunk.length);
      if (r.error !== undefined) {
        this.owner.responseBodyInvalid();
        return;
      }
      n = r.consumed;
      done = r.done;
    }
    const body = n === chunk.length ? chunk : chunk.subarray(0, n);
    if (!this.client.write(body) && this.client.writableLength > MAX_UNSENT_BYTES && this.upstream !== undefined && !done) {
      const up = this.upstream;
      up.pause();
      this.client.once('drain', () => up.resume());
    }
    // Bytes after the end of a response on a keep-alive connection mean the backend misbehaves.
    if (done) this.owner.responseComplete(n === chunk.length);
  }
}

/** A head's text and a body in one buffer. */
function joined(text: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(text.length + body.length);
  out.write(text, 0, 'latin1');
  body.copy(out, text.length);
  return out;
}
