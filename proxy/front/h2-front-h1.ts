// One HTTP/2 client stream proxied to an HTTP/1.1 (or HTTPS) backend over the per-endpoint keep-alive
// pools: an HTTP/1.1 request head and body (length or chunked) up, the strictly parsed answer back as HTTP/2.
import { constants, type OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { parseResponseHead } from '../http1/response-head.ts';
import { DEFAULT_HEAD_LIMITS, type ResponseHead } from '../http1/types.ts';
import type { PickedEndpoint } from '../upstream/backend-runtime.ts';
import type { ConnectResult, UpstreamOwner } from '../upstream/pool.ts';
import { buildUpstreamRequestHead } from './forward-head.ts';
import { Dechunker } from './h2-dechunk.ts';
import { h2HeadersFromH1, h2TrailersFromFields } from './h2-front-head.ts';
import { MAX_UNSENT_BYTES, resetStream, respondLocal, tryRespond, trySendTrailers, type StreamExchangeInput } from './h2-front-stream.ts';
import { connectFailureAnswer, pickEndpoint, retryAfterConnectFailure, writeChunk } from './exchange-steps.ts';
import { requestIdFor } from './request-id.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export class H1StreamExchange implements UpstreamOwner {
  private readonly in: StreamExchangeInput;
  private picked: PickedEndpoint | undefined;
  private upstream: Socket | undefined;
  private reused = false;
  private attempts = 0;
  private attemptSeq = 0;
  private retriedStale = false;
  private sentAt = 0;
  private requestDone: boolean;
  private reqBytes = 0;
  /** Client body listeners are attached once, when the first upstream socket is there. */
  private reading = false;
  private resBuf: Buffer | undefined;
  private resScanFrom = 0;
  private resHead: ResponseHead | undefined;
  private resRemaining = 0;
  private dechunker: Dechunker | undefined;
  private resTrailers: OutgoingHttpHeaders = {};
  private finished = false;
  /** Body bytes read while no backend socket was attached (a stale socket being replaced). */
  private stash: Buffer[] = [];
  /** The client's trailers as chunked trailer lines (HTTP/2 trailers to an HTTP/1.1 backend). */
  private reqTrailerLines = '';

  constructor(input: StreamExchangeInput) {
    this.in = input;
    this.requestDone = input.head.contentLength === 0;
  }

  start(): void {
    const s = this.in.stream;
    // The stream is not read until a backend socket is there: HTTP/2 flow control holds the client meanwhile.
    s.on('close', () => this.onStreamClosed());
    s.on('error', () => this.onStreamClosed());
    // Trailers are an event, not stream data: they may come while the backend socket is still connecting.
    s.on('trailers', (t: Record<string, string | string[] | undefined>) => {
      for (const [name, v] of Object.entries(t)) {
        if (name.charCodeAt(0) === 58 || v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) if (!/[\r\n\0]/.test(one)) this.reqTrailerLines += `${name}: ${one}\r\n`;
      }
    });
    this.connect(undefined);
  }

  private connect(exclude: PickedEndpoint['pool'] | undefined): void {
    const d = this.in.decision;
    const picked = pickEndpoint(d, exclude);
    if (typeof picked === 'string') return this.fail(503, picked);
    this.picked = picked;
    this.attempts++;
    const attempt = ++this.attemptSeq;
    picked.pool.acquire(d.connectTimeoutMs, this, (r) => {
      if (attempt !== this.attemptSeq || this.finished) {
        if ('socket' in r) picked.pool.release(r.socket, false);
        return;
      }
      this.onConnected(picked, r);
    });
  }

  private onConnected(picked: PickedEndpoint, r: ConnectResult): void {
    const d = this.in.decision;
    if ('error' in r) {
      if (retryAfterConnectFailure(this.in, d, picked, r, this.attempts)) return this.connect(picked.pool);
      const answer = connectFailureAnswer(r);
      return this.fail(answer.status, answer.body);
    }
    const up = r.socket;
    this.upstream = up;
    this.reused = r.reused;
    const head = this.in.head;
    up.setTimeout(this.requestDone ? d.readTimeoutMs : d.sendTimeoutMs);
    const text = buildUpstreamRequestHead(head, {
      clientAddress: this.in.clientAddress,
      clientPort: this.in.clientPort,
      secure: true,
      localPort: this.in.localPort,
      requestId: requestIdFor(head.headers),
      target: d.target,
    });
    this.sentAt = performance.now();
    up.write(text, 'latin1');
    const stash = this.stash;
    this.stash = [];
    for (const b of stash) this.writeBody(up, b);
    if (!this.requestDone && !this.reading) this.readBody();
    else if (!this.requestDone) this.in.stream.resume();
    else if (this.reading && head.chunked) up.write(`0\r\n${this.reqTrailerLines}\r\n`, 'latin1'); // the body ended while the socket was replaced
  }

  private readBody(): void {
    this.reading = true;
    const s = this.in.stream;
    s.on('data', (chunk: Buffer) => this.onBody(chunk));
    s.on('end', () => {
      if (this.finished) return;
      this.requestDone = true;
      const up = this.upstream;
      if (up === undefined) return;
      if (this.in.head.chunked) up.write(`0\r\n${this.reqTrailerLines}\r\n`, 'latin1');
      up.setTimeout(this.in.decision.readTimeoutMs);
    });
  }

  private onBody(chunk: Buffer): void {
    if (this.finished) return;
    this.reqBytes += chunk.length;
    const limit = this.in.decision.maxBodyBytes;
    if (limit > 0 && this.reqBytes > limit) return this.fail(413, `request body larger than ${limit} bytes\n`);
    if (chunk.length === 0) return;
    const up = this.upstream;
    if (up === undefined) {
      // Between a stale socket and its replacement: hold the bytes and stop reading until it is there.
      this.stash.push(chunk);
      this.in.stream.pause();
      return;
    }
    this.writeBody(up, chunk);
  }

  private writeBody(up: Socket, chunk: Buffer): void {
    let ok: boolean;
    if (this.in.head.chunked) ok = writeChunk(up, chunk);
    else ok = up.write(chunk);
    const s = this.in.stream;
    if (!ok && up.writableLength > MAX_UNSENT_BYTES && !s.isPaused()) {
      s.pause();
      up.once('drain', () => {
        if (!this.finished && this.upstream === up) s.resume();
      });
    }
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.resHead === undefined) {
      this.resBuf = this.resBuf === undefined ? chunk : Buffer.concat([this.resBuf, chunk]);
      return this.parseResponse();
    }
    this.forwardBody(chunk);
  }

  private parseResponse(): void {
    while (this.resBuf !== undefined && this.resHead === undefined && !this.finished) {
      const r = parseResponseHead(this.resBuf, 0, DEFAULT_HEAD_LIMITS, this.in.head.method, this.resScanFrom);
      if (r.kind === 'incomplete') {
        this.resScanFrom = r.resumeAt;
        return;
      }
      this.resScanFrom = 0;
      if (r.kind === 'error') {
        this.in.events.upstreamError('protocol');
        this.dropUpstream(true);
        return this.fail(502, `the backend sent an invalid response: ${r.reason}\n`);
      }
      const rest = r.end < this.resBuf.length ? this.resBuf.subarray(r.end) : undefined;
      this.resBuf = rest;
      // Interim answers (100, 103) are not passed on: the final one follows.
      if (r.head.status >= 100 && r.head.status < 200 && r.head.status !== 101) continue;
      if (r.head.status === 101) {
        this.in.events.upstreamError('protocol');
        this.dropUpstream(true);
        return this.fail(502, 'the backend switched protocols without being asked\n');
      }
      this.resBuf = undefined;
      return this.startResponse(r.head, rest);
    }
  }

  private startResponse(res: ResponseHead, rest: Buffer | undefined): void {
    const d = this.in.decision;
    this.resHead = res;
    d.runtime.report(this.picked as PickedEndpoint, 'ok', performance.now() - this.sentAt);
    const s = this.in.stream;
    if (s.destroyed || s.closed) return this.onStreamClosed();
    const headers = h2HeadersFromH1(res, d.responseHeaders, this.picked?.setCookie);
    if (res.status === 204 || res.status === 304) delete headers['content-length'];
    const empty = res.bodyKind === 'none' || (res.bodyKind === 'length' && (res.contentLength ?? 0) === 0);
    const chunked = !empty && res.bodyKind === 'chunked';
    if (!tryRespond(s, headers, empty ? { endStream: true } : chunked ? { waitForTrailers: true } : undefined)) {
      this.in.events.upstreamError('protocol');
      this.resHead = undefined;
      this.dropUpstream(false);
      return this.fail(502, 'the backend answered with header fields HTTP/2 cannot carry (such as a repeated single-value field)\n');
    }
    this.in.events.response(res.status);
    if (empty) return this.finish(rest === undefined);
    this.resRemaining = res.contentLength ?? 0;
    if (chunked) {
      this.dechunker = new Dechunker();
      s.on('wantTrailers', () => trySendTrailers(s, this.resTrailers));
    }
    if (rest !== undefined) this.forwardBody(rest);
  }

  private forwardBody(chunk: Buffer): void {
    const res = this.resHead as ResponseHead;
    const s = this.in.stream;
    let done = false;
    let clean = true;
    const out: Buffer[] = [];
    if (res.bodyKind === 'length') {
      const n = Math.min(chunk.length, this.resRemaining);
      this.resRemaining -= n;
      out.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      done = this.resRemaining === 0;
      clean = n === chunk.length;
    } else if (res.bodyKind === 'chunked') {
      const r = (this.dechunker as Dechunker).push(chunk);
      if (r.error !== undefined) {
        this.in.events.upstreamError('protocol');
        return this.cut(true);
      }
      out.push(...r.data);
      if (r.done) {
        done = true;
        clean = r.consumed === chunk.length;
        this.resTrailers = h2TrailersFromFields(r.trailers ?? []);
      }
    } else out.push(chunk);
    let ok = true;
    for (const b of out) if (b.length > 0) ok = s.write(b);
    const up = this.upstream;
    // The client reads slower than the backend sends: stop reading the backend until the stream drains.
    if (!ok && !done && up !== undefined && !up.isPaused()) {
      up.pause();
      s.once('drain', () => {
        if (this.upstream === up) up.resume();
      });
    }
    if (done) this.finish(clean);
  }

  /** The answer is complete: end the stream (trailers follow a chunked body) and return the socket. */
  private finish(clean: boolean): void {
    const up = this.upstream;
    const picked = this.picked;
    const reusable = clean && this.requestDone && (this.resHead?.keepAlive ?? false);
    this.finished = true;
    this.detach();
    if (up !== undefined && picked !== undefined) picked.pool.release(up, reusable);
    const s = this.in.stream;
    if (!s.destroyed && !s.writableEnded) s.end();
    // Answered before the whole body came: the rest is not wanted (RFC 9113 §8.1).
    if (!this.requestDone && !s.closed) s.close(constants.NGHTTP2_NO_ERROR);
  }

  onUpstreamEnd(): void {
    if (this.upstream === undefined || this.finished) return;
    if (this.resHead?.bodyKind === 'close') return this.finish(false);
    this.onUpstreamLost();
  }

  onUpstreamError(): void {
    if (this.upstream === undefined || this.finished) return;
    if (this.resHead !== undefined) {
      this.in.events.upstreamError('reset');
      return this.cut(true);
    }
    this.onUpstreamLost();
  }

  onUpstreamTimeout(): void {
    if (this.upstream === undefined || this.finished) return;
    this.in.events.upstreamError('timeout');
    const backendAtFault = this.requestDone;
    this.dropUpstream(backendAtFault);
    if (this.resHead !== undefined) return this.cut(false);
    if (backendAtFault) return this.fail(504, 'the backend did not answer in time\n');
    this.fail(408, 'the request body did not arrive in time\n');
  }

  private onUpstreamLost(): void {
    const wasReused = this.reused;
    this.dropUpstream(!wasReused);
    if (this.resHead !== undefined) return this.cut(false);
    // A kept-alive socket the backend closed as we reused it: repeat once when no body byte was taken.
    if (wasReused && this.reqBytes === 0 && IDEMPOTENT.has(this.in.head.method) && !this.retriedStale) {
      this.retriedStale = true;
      return this.connect(undefined);
    }
    this.in.events.upstreamError('reset');
    this.fail(502, 'the backend closed the connection before answering\n');
  }

  private detach(): void {
    const up = this.upstream;
    if (up === undefined) return;
    up.resume();
    this.upstream = undefined;
  }

  /** Closes the backend socket; `backendAtFault` reports the endpoint as failed (passive health). */
  private dropUpstream(backendAtFault: boolean): void {
    const up = this.upstream;
    this.detach();
    if (up === undefined) return;
    const picked = this.picked as PickedEndpoint;
    picked.pool.release(up, false);
    if (backendAtFault && this.resHead === undefined) this.in.decision.runtime.report(picked, 'failed', performance.now() - this.sentAt);
  }

  private fail(status: number, body: string): void {
    if (this.finished) return;
    this.finished = true;
    this.attemptSeq++;
    this.dropUpstream(false);
    respondLocal(this.in.stream, this.in.events, this.in.head.method, status, body);
  }

  /** A broken answer after its head: RST_STREAM INTERNAL_ERROR, never a clean end. */
  private cut(backendAtFault: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.dropUpstream(backendAtFault);
    resetStream(this.in.stream);
  }

  /** The client reset the stream or the session went: the backend socket cannot be reused mid-exchange. */
  private onStreamClosed(): void {
    if (this.finished) return;
    this.finished = true;
    this.attemptSeq++;
    this.dropUpstream(false);
  }
}
