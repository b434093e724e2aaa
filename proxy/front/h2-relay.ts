// One exchange from the HTTP/1.1 front end to an HTTP/2 backend (GRPC, GRPCS, H2C): the request as a
// stream on a pooled session, its body as DATA (de-chunked, trailers as HTTP/2 trailers), the answer back as HTTP/1.1.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type IncomingHttpStatusHeader, type OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { STATUS_REASONS } from '../http1/serialize.ts';
import type { RequestHead } from '../http1/types.ts';
import type { PickedEndpoint } from '../upstream/backend-runtime.ts';
import type { H2Session, H2SessionPool } from '../upstream/h2/session-pool.ts';
import type { H2Upstreams } from '../upstream/h2/upstreams.ts';
import type { ProxyDecision } from './decision.ts';
import { buildClientResponseHead, localResponse } from './forward-head.ts';
import { Dechunker } from './h2-dechunk.ts';
import { acceptsTrailers, h1ResponseHead, h1TrailerLines, h2RequestHeaders, h2Trailers, responseFraming, type H2BodyFraming } from './h2-headers.ts';
import { connectFailureAnswer, pickEndpoint, retryAfterConnectFailure, writeChunk } from './exchange-steps.ts';
import type { ClientAddress } from './client-address.ts';
import { requestIdFor } from './request-id.ts';

export interface H2RelayEvents {
  response(statusCode: number): void;
  upstreamError(reason: 'connect' | 'timeout' | 'protocol' | 'reset'): void;
}

export interface H2ExchangeInput {
  client: Socket;
  /** The client named by a trusted PROXY protocol header; absent: the socket's peer. */
  clientAddress?: ClientAddress;
  head: RequestHead;
  decision: ProxyDecision;
  h2: H2Upstreams;
  /** Bytes read after the request head: this request's body first, then whatever was pipelined. */
  early: Buffer | undefined;
  secure: boolean;
  events: H2RelayEvents;
  maxConnectAttempts: number;
}

/** How the exchange ended: the client connection goes on with `rest` (pipelined bytes), or it is finished. */
export type H2ExchangeEnd = { close: false; rest: Buffer | undefined } | { close: true };

const MAX_UNSENT_BYTES = 256 * 1024;
const MAX_PIPELINED_BYTES = 64 * 1024;
/** Streams the backend refused unprocessed (REFUSED_STREAM, GOAWAY) are sent again, this many times. */
const MAX_REFUSED_RETRIES = 2;

export class H2Exchange {
  private readonly in: H2ExchangeInput;
  private readonly done: (end: H2ExchangeEnd) => void;
  private readonly head: RequestHead;
  private readonly decision: ProxyDecision;
  private readonly dechunker: Dechunker | undefined;
  private reqRemaining: number;
  private requestDone: boolean;
  private readonly hasBody: boolean;
  /** Body bytes that arrived before the stream was open. */
  private queued: Buffer[] = [];
  /** Whether any body byte went into a stream (then a refused stream cannot be replayed). */
  private bodyStreamed = false;
  private reqTrailers: OutgoingHttpHeaders | undefined;
  /** Bytes after this request's body: the next request, handed back at the end. */
  private after: Buffer | undefined;
  private picked: PickedEndpoint | undefined;
  private pool: H2SessionPool | undefined;
  private stream: ClientHttp2Stream | undefined;
  private attempts = 0;
  private refusedRetries = 0;
  private sentAt = 0;
  private framing: H2BodyFraming | undefined;
  private trailers: IncomingHttpHeaders | undefined;
  private resBytes = 0;
  private contentLength: number | undefined;
  private clientClose: boolean;
  private sent100 = false;
  private waitingDrain = false;
  private finished = false;
  private streamError: Error | undefined;

  constructor(input: H2ExchangeInput, done: (end: H2ExchangeEnd) => void) {
    this.in = input;
    this.done = done;
    this.head = input.head;
    this.decision = input.decision;
    this.clientClose = !input.head.keepAlive;
    this.dechunker = input.head.chunked ? new Dechunker() : undefined;
    this.reqRemaining = input.head.contentLength ?? 0;
    this.hasBody = input.head.chunked || this.reqRemaining > 0;
    this.requestDone = !this.hasBody;
  }

  /** Separate from the constructor: the end may be reported at once, and the caller must hold the exchange first. */
  start(): void {
    // wharf reads the body itself and HTTP/2 backends rarely answer 100 themselves: say "go on" here, as nginx does.
    if (this.head.expectContinue && this.head.versionMinor === 1 && !this.requestDone && this.in.early === undefined) {
      this.sent100 = true;
      this.in.client.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    }
    const early = this.in.early;
    if (early !== undefined) this.onClientData(early);
    if (!this.finished) this.connect(undefined);
  }

  onClientData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.requestDone) {
      this.after = this.after === undefined ? chunk : Buffer.concat([this.after, chunk]);
      if (this.after.length > MAX_PIPELINED_BYTES) this.in.client.pause();
      return;
    }
    let rest: Buffer | undefined;
    if (this.dechunker !== undefined) {
      const r = this.dechunker.push(chunk);
      for (const d of r.data) this.sendBody(d);
      if (r.error !== undefined) return this.fail(400, `${r.error}\n`, undefined);
      const limit = this.decision.maxBodyBytes;
      if (limit > 0 && this.dechunker.dataBytes > limit) return this.fail(413, `request body larger than ${limit} bytes\n`, undefined);
      if (r.done) {
        this.requestDone = true;
        const t = h2Trailers(r.trailers ?? []);
        if (Object.keys(t).length > 0) this.reqTrailers = t;
      }
      if (r.consumed < chunk.length) rest = chunk.subarray(r.consumed);
    } else {
      const n = Math.min(this.reqRemaining, chunk.length);
      this.sendBody(n === chunk.length ? chunk : chunk.subarray(0, n));
      this.reqRemaining -= n;
      if (this.reqRemaining === 0) this.requestDone = true;
      if (n < chunk.length) rest = chunk.subarray(n);
    }
    if (this.requestDone) this.endRequest();
    if (rest !== undefined) this.onClientData(rest);
  }

  /** FIN from the client: mid-body the request can never complete; after it, the answer still goes out. */
  onClientEnd(): void {
    if (!this.requestDone && !this.finished) this.abort(false);
  }

  onClientClosed(): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelStream();
    this.done({ close: true });
  }

  private sendBody(b: Buffer): void {
    if (b.length === 0) return;
    const s = this.stream;
    if (s === undefined) {
      this.queued.push(b);
      // Bound what waits for the session: stop reading the client until the stream is open.
      if (this.queued.length > 16) this.in.client.pause();
      return;
    }
    this.bodyStreamed = true;
    if (!s.write(b) && s.writableLength > MAX_UNSENT_BYTES && !this.waitingDrain) {
      this.waitingDrain = true;
      this.in.client.pause();
      s.once('drain', () => {
        this.waitingDrain = false;
        if (!this.finished) this.in.client.resume();
      });
    }
  }

  /** The last body byte is read: end the stream (trailers follow through 'wantTrailers'); the read limit applies. */
  private endRequest(): void {
    const s = this.stream;
    if (s === undefined || !this.hasBody) return;
    s.end();
    s.setTimeout(this.decision.readTimeoutMs);
  }

  private connect(exclude: PickedEndpoint['pool'] | undefined): void {
    const decision = this.decision;
    const picked = pickEndpoint(decision, exclude);
    if (typeof picked === 'string') return this.fail(503, picked, undefined);
    this.picked = picked;
    this.attempts++;
    const pool = this.in.h2.poolFor(picked.pool, decision.runtime.backend.protocol);
    this.pool = pool;
    pool.acquire(decision.connectTimeoutMs, (r) => {
      if ('error' in r) {
        if (this.finished) return;
        if (retryAfterConnectFailure(this.in, decision, picked, r, this.attempts)) return this.connect(picked.pool);
        const answer = connectFailureAnswer(r);
        return this.fail(answer.status, answer.body, undefined);
      }
      if (this.finished) {
        pool.streamClosed(r.session);
        return;
      }
      this.open(r.session);
    });
  }

  private open(s: H2Session): void {
    const pool = this.pool as H2SessionPool;
    const picked = this.picked as PickedEndpoint;
    const head = this.head;
    const client = this.in.client;
    const headers = h2RequestHeaders(
      head,
      { clientAddress: this.in.clientAddress?.address ?? client.remoteAddress ?? '', clientPort: this.in.clientAddress?.port ?? client.remotePort ?? 0, secure: this.in.secure, localPort: client.localPort ?? 0, requestId: requestIdFor(head.headers), target: this.decision.target },
      pool.scheme,
    );
    let stream: ClientHttp2Stream;
    try {
      stream = s.session.request(headers, { endStream: !this.hasBody, waitForTrailers: this.dechunker !== undefined });
    } catch (err) {
      // The session closed between the pick and now (GOAWAY, error): nothing was sent; take another.
      pool.streamClosed(s);
      if (this.refusedRetries++ < MAX_REFUSED_RETRIES) return this.connect(undefined);
      return this.fail(502, `the HTTP/2 session to the backend failed: ${(err as Error).message}\n`, 'reset');
    }
    this.stream = stream;
    picked.pool.active++;
    this.sentAt = performance.now();
    stream.setTimeout(this.requestDone ? this.decision.readTimeoutMs : this.decision.sendTimeoutMs, () => this.onTimeout());
    stream.on('wantTrailers', () => {
      // Empty trailers end the stream with an empty DATA frame: no HEADERS block is sent.
      if (!stream.destroyed) stream.sendTrailers(this.reqTrailers ?? {});
    });
    stream.on('headers', (h: IncomingHttpHeaders & IncomingHttpStatusHeader) => this.onInterim(h[':status'] ?? 0, h));
    stream.on('continue', () => this.onInterim(100, {}));
    stream.on('response', (h: IncomingHttpHeaders & IncomingHttpStatusHeader) => this.onResponse(h));
    stream.on('data', (d: Buffer) => this.onData(d));
    stream.on('trailers', (t: IncomingHttpHeaders) => (this.trailers = t));
    stream.on('end', () => this.onEnd());
    stream.on('error', (e: Error) => (this.streamError = e));
    stream.on('close', () => {
      // Accounting for this stream's endpoint and session, even if the exchange has moved on to another.
      picked.pool.active--;
      pool.streamClosed(s);
      this.onStreamClose(stream);
    });
    const queued = this.queued;
    this.queued = [];
    for (const b of queued) this.sendBody(b);
    if (!this.waitingDrain) client.resume();
    if (this.requestDone) this.endRequest();
  }

  /** 1xx answers pass to HTTP/1.1 clients (not to HTTP/1.0 ones, RFC 9110 §15.2); 100 only once. */
  private onInterim(status: number, h: IncomingHttpHeaders): void {
    if (this.finished || this.framing !== undefined || status < 100 || status >= 200 || status === 101) return;
    if (this.head.versionMinor !== 1 || (status === 100 && this.sent100)) return;
    if (status === 100) this.sent100 = true;
    this.in.client.write(`HTTP/1.1 ${status} ${STATUS_REASONS[status] ?? 'Continue'}\r\n${h1TrailerLines(h)}\r\n`, 'latin1');
  }

  private onResponse(h: IncomingHttpHeaders & IncomingHttpStatusHeader): void {
    if (this.finished) return;
    const status = h[':status'] ?? 502;
    this.decision.runtime.report(this.picked as PickedEndpoint, 'ok', performance.now() - this.sentAt);
    const framing = responseFraming(this.head, h, acceptsTrailers(this.head));
    this.framing = framing;
    const cl = h['content-length'];
    this.contentLength = framing === 'length' && cl !== undefined ? Number(cl) : undefined;
    if (framing === 'close') this.clientClose = true;
    this.in.events.response(status);
    const cookie = this.picked?.setCookie;
    const extraHeaders = cookie === undefined ? this.decision.responseHeaders : { ...this.decision.responseHeaders, 'Set-Cookie': cookie };
    const keepAliveHttp10 = this.head.versionMinor === 0 && !this.clientClose;
    this.in.client.write(buildClientResponseHead(h1ResponseHead(h, framing), { close: this.clientClose, keepAliveHttp10, extraHeaders }), 'latin1');
  }

  private onData(d: Buffer): void {
    if (this.finished || this.framing === undefined || this.framing === 'none' || d.length === 0) return;
    const client = this.in.client;
    this.resBytes += d.length;
    let ok: boolean;
    if (this.framing === 'chunked') ok = writeChunk(client, d);
    else ok = client.write(d);
    const s = this.stream;
    // The client reads slower than the backend sends: stop reading the stream; HTTP/2 flow control holds the backend.
    if (!ok && client.writableLength > MAX_UNSENT_BYTES && s !== undefined && !s.isPaused()) {
      s.pause();
      client.once('drain', () => s.resume());
    }
  }

  /** The whole answer arrived (END_STREAM). */
  private onEnd(): void {
    if (this.finished || this.framing === undefined) return;
    // A length-framed body that came up short is a truncated answer, whatever the stream said.
    if (this.contentLength !== undefined && this.resBytes !== this.contentLength) return this.abort(true);
    if (this.framing === 'chunked') this.in.client.write(`0\r\n${this.trailers === undefined ? '' : h1TrailerLines(this.trailers)}\r\n`, 'latin1');
    this.finished = true;
    const stream = this.stream;
    // The backend may answer before the whole body is up; then the client's rest can never be found.
    const close = this.clientClose || !this.requestDone;
    if (stream !== undefined && !stream.closed && !this.requestDone) stream.close(constants.NGHTTP2_NO_ERROR);
    if (close) {
      this.in.client.end();
      this.done({ close: true });
      return;
    }
    this.done({ close: false, rest: this.after });
  }

  private onStreamClose(stream: ClientHttp2Stream): void {
    if (this.finished || this.stream !== stream) return;
    if (this.framing !== undefined) {
      // Closed without END_STREAM after the head went out: the client must see a cut, never a clean end.
      return this.abort(true);
    }
    const code = stream.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR;
    if (code === constants.NGHTTP2_REFUSED_STREAM && !this.bodyStreamed && this.refusedRetries++ < MAX_REFUSED_RETRIES) {
      // Refused unprocessed (RST_STREAM REFUSED_STREAM, or above a GOAWAY's last stream): safe to send again.
      this.stream = undefined;
      return this.connect(undefined);
    }
    this.decision.runtime.report(this.picked as PickedEndpoint, 'failed', performance.now() - this.sentAt);
    const err = this.streamError as (Error & { code?: string }) | undefined;
    // A reset of this stream names its code; a session that failed under it says so instead.
    const why = stream.rstCode !== undefined && (err === undefined || err.code === 'ERR_HTTP2_STREAM_ERROR') ? `the backend reset the HTTP/2 stream (${codeName(code)}) before answering` : `the HTTP/2 connection to the backend failed before it answered${err?.code ? ` (${err.code})` : ''}`;
    return this.fail(502, `${why}\n`, 'reset');
  }

  private onTimeout(): void {
    if (this.finished) return;
    this.in.events.upstreamError('timeout');
    if (this.framing !== undefined) return this.abort(true);
    // A backend still waiting for a body the client has not sent is not at fault (408); one that
    // stopped taking the body (the client is paused on its flow control) is (504).
    if (this.requestDone || this.waitingDrain) {
      this.decision.runtime.report(this.picked as PickedEndpoint, 'failed', performance.now() - this.sentAt);
      return this.fail(504, 'the backend did not answer in time\n', undefined);
    }
    return this.fail(408, 'the request body did not arrive in time\n', undefined);
  }

  /** The request cannot be served: answer if nothing was sent yet (the connection then closes), else cut it. */
  private fail(status: number, body: string, reason: 'reset' | 'protocol' | undefined): void {
    if (this.finished) return;
    if (this.framing !== undefined) return this.abort(true);
    if (reason !== undefined) this.in.events.upstreamError(reason);
    this.finished = true;
    this.cancelStream();
    this.in.events.response(status);
    this.in.client.write(localResponse(status, STATUS_REASONS[status] ?? 'Error', body, true), 'latin1');
    this.in.client.end();
    this.done({ close: true });
  }

  /** Cuts the client connection: after a head, a truncated answer must never look complete. */
  private abort(backendAtFault: boolean): void {
    if (this.finished) return;
    this.finished = true;
    if (backendAtFault && this.framing === undefined && this.picked !== undefined) this.decision.runtime.report(this.picked, 'failed', performance.now() - this.sentAt);
    this.cancelStream();
    this.in.client.destroy();
    this.done({ close: true });
  }

  private cancelStream(): void {
    const s = this.stream;
    if (s !== undefined && !s.closed) s.close(constants.NGHTTP2_CANCEL);
  }
}

/** HTTP/2 error codes (RFC 9113 §7) by number, for the 502 body. */
const ERROR_CODES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];

function codeName(code: number): string {
  return ERROR_CODES[code] ?? `error code ${code}`;
}
