// One HTTP/2 client stream proxied to an HTTP/2 backend (GRPC, GRPCS, H2C) stream to stream over the
// pooled sessions: headers, DATA and trailers pass through; each side's flow control holds the other.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type IncomingHttpStatusHeader, type OutgoingHttpHeaders } from 'node:http2';
import type { PickedEndpoint } from '../upstream/backend-runtime.ts';
import type { H2Session, H2SessionPool } from '../upstream/h2/session-pool.ts';
import type { H2Upstreams } from '../upstream/h2/upstreams.ts';
import { h2HeadersFromH2 } from './h2-front-head.ts';
import { resetStream, respondLocal, tryRespond, trySendTrailers, type StreamExchangeInput } from './h2-front-stream.ts';
import { h2RequestHeaders } from './h2-headers.ts';
import { connectFailureAnswer, pickEndpoint, retryAfterConnectFailure } from './exchange-steps.ts';
import { requestIdFor } from './request-id.ts';

const MAX_REFUSED_RETRIES = 2;

export class H2StreamExchange {
  private readonly in: StreamExchangeInput;
  private readonly h2: H2Upstreams;
  private picked: PickedEndpoint | undefined;
  private pool: H2SessionPool | undefined;
  private up: ClientHttp2Stream | undefined;
  private attempts = 0;
  private refusedRetries = 0;
  private sentAt = 0;
  private reqBytes = 0;
  private requestDone: boolean;
  private reqTrailers: OutgoingHttpHeaders = {};
  private resTrailers: OutgoingHttpHeaders = {};
  private responded = false;
  private finished = false;
  private unpipe: (() => void) | undefined;

  constructor(input: StreamExchangeInput, h2: H2Upstreams) {
    this.in = input;
    this.h2 = h2;
    this.requestDone = input.stream.endAfterHeaders;
  }

  start(): void {
    const s = this.in.stream;
    s.on('close', () => this.onClientClosed());
    s.on('error', () => this.onClientClosed());
    // Trailers are an event, not stream data: they may come before the backend stream is open.
    s.on('trailers', (t: IncomingHttpHeaders) => (this.reqTrailers = h2HeadersFromH2(t)));
    this.connect(undefined);
  }

  private connect(exclude: PickedEndpoint['pool'] | undefined): void {
    const d = this.in.decision;
    const picked = pickEndpoint(d, exclude);
    if (typeof picked === 'string') return this.fail(503, picked);
    this.picked = picked;
    this.attempts++;
    const pool = this.h2.poolFor(picked.pool, d.runtime.backend.protocol);
    this.pool = pool;
    pool.acquire(d.connectTimeoutMs, (r) => {
      if ('error' in r) {
        if (this.finished) return;
        if (retryAfterConnectFailure(this.in, d, picked, r, this.attempts)) return this.connect(picked.pool);
        const answer = connectFailureAnswer(r);
        return this.fail(answer.status, answer.body);
      }
      if (this.finished) return pool.streamClosed(r.session);
      this.open(pool, picked, r.session);
    });
  }

  private open(pool: H2SessionPool, picked: PickedEndpoint, s: H2Session): void {
    const d = this.in.decision;
    const head = this.in.head;
    const headers = h2RequestHeaders(head, { clientAddress: this.in.clientAddress, clientPort: this.in.clientPort, secure: true, localPort: this.in.localPort, requestId: requestIdFor(head.headers), target: d.target }, pool.scheme);
    // Framing fields of the HTTP/1.1 shape are not HTTP/2's; a known length stays.
    delete headers['transfer-encoding'];
    let up: ClientHttp2Stream;
    try {
      up = s.session.request(headers, { endStream: this.requestDone, waitForTrailers: !this.requestDone });
    } catch (err) {
      // The session closed between the pick and now: nothing was sent; take another.
      pool.streamClosed(s);
      if (this.refusedRetries++ < MAX_REFUSED_RETRIES) return this.connect(undefined);
      this.in.events.upstreamError('reset');
      return this.fail(502, `the HTTP/2 session to the backend failed: ${(err as Error).message}\n`);
    }
    this.up = up;
    picked.pool.active++;
    this.sentAt = performance.now();
    up.setTimeout(this.requestDone ? d.readTimeoutMs : d.sendTimeoutMs, () => this.onTimeout());
    up.on('wantTrailers', () => {
      if (!up.destroyed) up.sendTrailers(this.reqTrailers);
    });
    up.on('response', (h: IncomingHttpHeaders & IncomingHttpStatusHeader, flags: number) => this.onResponse(h, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0));
    up.on('trailers', (t: IncomingHttpHeaders) => (this.resTrailers = h2HeadersFromH2(t)));
    up.on('end', () => this.onUpstreamEnd());
    up.on('error', () => {});
    up.on('close', () => {
      picked.pool.active--;
      pool.streamClosed(s);
      this.onUpstreamClosed(up);
    });
    if (!this.requestDone) this.pipeRequest(up);
  }

  /** Client DATA to the backend stream; the client is paused while the backend stream is full. */
  private pipeRequest(up: ClientHttp2Stream): void {
    const c = this.in.stream;
    // A stream sent again after REFUSED_STREAM: the listeners for the refused one go.
    if (this.unpipe !== undefined) this.unpipe();
    const onData = (chunk: Buffer): void => {
      if (this.finished || this.up !== up) return;
      this.reqBytes += chunk.length;
      const limit = this.in.decision.maxBodyBytes;
      if (limit > 0 && this.reqBytes > limit) return this.fail(413, `request body larger than ${limit} bytes\n`);
      if (!up.write(chunk) && !c.isPaused()) {
        c.pause();
        up.once('drain', () => {
          if (!this.finished) c.resume();
        });
      }
    };
    const onEnd = (): void => {
      if (this.finished || this.up !== up) return;
      this.requestDone = true;
      up.end();
      up.setTimeout(this.in.decision.readTimeoutMs);
    };
    c.on('data', onData);
    c.on('end', onEnd);
    this.unpipe = () => {
      c.removeListener('data', onData);
      c.removeListener('end', onEnd);
    };
    c.resume();
  }

  private onResponse(h: IncomingHttpHeaders & IncomingHttpStatusHeader, endStream: boolean): void {
    if (this.finished) return;
    const d = this.in.decision;
    const c = this.in.stream;
    d.runtime.report(this.picked as PickedEndpoint, 'ok', performance.now() - this.sentAt);
    if (c.destroyed || c.closed) return this.onClientClosed();
    // A trailers-only answer (gRPC errors) is one HEADERS block with END_STREAM: so it stays.
    if (!tryRespond(c, h2HeadersFromH2(h, d.responseHeaders, this.picked?.setCookie), endStream ? { endStream: true } : { waitForTrailers: true })) {
      this.in.events.upstreamError('protocol');
      return this.fail(502, 'the backend answered with header fields HTTP/2 cannot carry\n');
    }
    this.responded = true;
    this.in.events.response(h[':status'] ?? 502);
    if (endStream) {
      this.finished = true;
      if (!this.requestDone && !c.closed) c.close(constants.NGHTTP2_NO_ERROR);
      return;
    }
    c.on('wantTrailers', () => trySendTrailers(c, this.resTrailers));
    const up = this.up as ClientHttp2Stream;
    up.on('data', (chunk: Buffer) => {
      if (this.finished) return;
      if (!c.write(chunk) && !up.isPaused()) {
        up.pause();
        c.once('drain', () => up.resume());
      }
    });
  }

  private onUpstreamEnd(): void {
    if (this.finished || !this.responded) return;
    this.finished = true;
    const c = this.in.stream;
    if (!c.destroyed && !c.writableEnded) c.end();
    if (!this.requestDone && !c.closed) c.close(constants.NGHTTP2_NO_ERROR);
  }

  private onUpstreamClosed(up: ClientHttp2Stream): void {
    if (this.finished || this.up !== up) return;
    if (this.responded) {
      // Closed without END_STREAM once the answer began: the client sees a reset, never a clean end.
      this.in.events.upstreamError('reset');
      return this.cut();
    }
    const code = up.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR;
    if (code === constants.NGHTTP2_REFUSED_STREAM && this.reqBytes === 0 && this.refusedRetries++ < MAX_REFUSED_RETRIES) {
      this.up = undefined;
      return this.connect(undefined);
    }
    this.in.decision.runtime.report(this.picked as PickedEndpoint, 'failed', performance.now() - this.sentAt);
    this.in.events.upstreamError('reset');
    this.fail(502, 'the backend reset the HTTP/2 stream or its connection before answering\n');
  }

  private onTimeout(): void {
    if (this.finished) return;
    this.in.events.upstreamError('timeout');
    if (this.responded) return this.cut();
    if (this.requestDone) {
      this.in.decision.runtime.report(this.picked as PickedEndpoint, 'failed', performance.now() - this.sentAt);
      return this.fail(504, 'the backend did not answer in time\n');
    }
    this.fail(408, 'the request body did not arrive in time\n');
  }

  private fail(status: number, body: string): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelUpstream();
    respondLocal(this.in.stream, this.in.events, this.in.head.method, status, body);
  }

  private cut(): void {
    this.finished = true;
    this.cancelUpstream();
    resetStream(this.in.stream);
  }

  private onClientClosed(): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelUpstream();
  }

  private cancelUpstream(): void {
    const up = this.up;
    if (up !== undefined && !up.closed) up.close(constants.NGHTTP2_CANCEL);
  }
}
