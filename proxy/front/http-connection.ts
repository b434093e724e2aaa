// One client connection of the HTTP/1.1 front end: asks the Decider where each request (read by
// request-loop.ts) goes, gets a pooled upstream socket, and decides what every failure means; relays move bytes.
import type { Socket } from 'node:net';
import type { RequestHead, ResponseHead } from '../http1/types.ts';
import type { PickedEndpoint } from '../upstream/backend-runtime.ts';
import type { H2Upstreams } from '../upstream/h2/upstreams.ts';
import type { ConnectResult, UpstreamOwner } from '../upstream/pool.ts';
import type { ClientAddress } from './client-address.ts';
import type { Decider, ProxyDecision } from './decision.ts';
import { copyRequestHead, forwardedLines } from './copy-head.ts';
import { connectFailureAnswer, pickEndpoint, retryAfterConnectFailure } from './exchange-steps.ts';
import { buildUpstreamRequestHead, localResponse, type ForwardInfo } from './forward-head.ts';
import { MAX_UNSENT_BYTES } from './limits.ts';
import { H2Exchange, type H2ExchangeEnd } from './h2-relay.ts';
import { FRONT_SWEEP, type SweepMember } from './inactivity-sweep.ts';
import { requestIdFor } from './request-id.ts';
import { RequestLoop } from './request-loop.ts';
import { RequestRelay, type RequestRelayOwner } from './request-relay.ts';
import { ResponseRelay, type ResponseRelayOwner } from './response-relay.ts';
import { openTunnel } from './tunnel.ts';

export interface ConnectionEvents {
  response(statusCode: number): void;
  upstreamError(reason: 'connect' | 'timeout' | 'protocol' | 'reset'): void;
}

export interface ConnectionOptions {
  decider: Decider;
  secure: boolean;
  events: ConnectionEvents;
  /** Inactivity limit of a client connection between and within request heads (checked by FRONT_SWEEP). */
  keepAliveTimeoutMs: number;
  /** How many endpoints a request may try when connecting fails. */
  maxConnectAttempts: number;
  /** The client named by a trusted PROXY protocol header; absent: the socket's peer. */
  clientAddress?: ClientAddress;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** The exchange side of a client connection; request-loop.ts reads the requests and hands them over one at a time. */
export class HttpConnection extends RequestLoop implements UpstreamOwner, RequestRelayOwner, ResponseRelayOwner, SweepMember {
  private readonly opts: ConnectionOptions;
  /** The X-Forwarded-* and X-Real-IP lines for requests to `forwardedHost`, kept while the client stays on that host. */
  private forwardedLines: string | undefined;
  private forwardedHost: string | undefined;
  private decision: ProxyDecision | undefined;
  private picked: PickedEndpoint | undefined;
  private upstream: Socket | undefined;
  private upstreamReused = false;
  private attempts = 0;
  /** The request and response sides of the exchange in progress. */
  private readonly request: RequestRelay;
  private readonly relay: ResponseRelay;
  private clientClose = false;
  /** When the request head went upstream; the time to the response head feeds the balancer. */
  private sentAt = 0;
  /** Bumped for every connect attempt and exchange reset, so a late connect result for an old attempt is recognised. */
  private attemptSeq = 0;
  /** The one stale-socket retry an exchange may use. */
  private retriedStale = false;
  /** An exchange relayed to an HTTP/2 backend (h2-relay.ts); while it runs, client events go to it. */
  private h2: H2Exchange | undefined;

  constructor(client: Socket, opts: ConnectionOptions) {
    super(client);
    this.opts = opts;
    this.request = new RequestRelay(client, this);
    this.relay = new ResponseRelay(client, this);
    client.setNoDelay(true);
    // No socket timer: a timer re-armed on every read and write costs more than stamping a time (inactivity-sweep.ts).
    FRONT_SWEEP.add(this);
    // Stamped after joining: while the sweep has no members its clock stands still, and add() sets it.
    this.clientActive = FRONT_SWEEP.now;
    client.on('close', () => this.onClientClosed());
    client.on('error', () => this.onClientClosed());
  }

  protected exchangeData(chunk: Buffer): Buffer | undefined {
    if (this.h2 !== undefined) {
      this.h2.onClientData(chunk);
      return undefined;
    }
    if (this.request.done) return chunk;
    const rest = this.request.take(chunk);
    return rest === undefined || rest.length === 0 ? undefined : rest;
  }

  protected exchangeClientEnd(): void {
    if (this.h2 !== undefined) return this.h2.onClientEnd();
    // FIN in the middle of a body: the request can never complete; the backend is not at fault.
    if (!this.request.done) this.destroyBoth(false);
    // A client that half-closes after its request still gets the answer, then the connection ends.
  }

  protected startExchange(head: RequestHead): void {
    this.head = head;
    this.clientClose = !head.keepAlive;
    if (head.method === 'CONNECT') {
      this.respondAndClose(405, 'Method Not Allowed', 'wharf does not proxy CONNECT\n');
      return;
    }
    const decision = this.opts.decider.decide(head, { secure: this.opts.secure, clientAddress: this.opts.clientAddress?.address ?? this.client.remoteAddress ?? '' });
    const hasBody = head.chunked || (head.contentLength ?? 0) > 0;
    if (decision.kind === 'respond') {
      // Without reading the body we cannot find the next request, so a request with a body ends the connection.
      this.writeLocal(decision.status, decision.reason, decision.body, this.clientClose || hasBody, decision.headers);
      return;
    }
    if (decision.maxBodyBytes > 0 && (head.contentLength ?? 0) > decision.maxBodyBytes) {
      this.respondAndClose(413, 'Content Too Large', `request body larger than ${decision.maxBodyBytes} bytes\n`);
      return;
    }
    this.decision = decision;
    if (decision.h2 !== undefined) return this.relayToH2(head, decision, decision.h2);
    this.request.begin(head, decision);
    this.attempts = 0;
    // Body bytes that arrived with the head belong to this request; the rest waits for the next one.
    const early = this.pending;
    this.pending = undefined;
    if (early !== undefined && !this.request.done) {
      const rest = this.request.take(early);
      if (this.closed) return;
      if (rest !== undefined && rest.length > 0) this.pending = rest;
    } else if (early !== undefined) this.pending = early;
    this.connectUpstream(undefined);
  }

  /** HTTP/2 backends (GRPC, GRPCS, H2C): the relay owns the exchange, body included, and reports its end. */
  private relayToH2(head: RequestHead, decision: ProxyDecision, h2: H2Upstreams): void {
    const early = this.pending;
    this.pending = undefined;
    const input = { client: this.client, clientAddress: this.opts.clientAddress, head, decision, h2, early, secure: this.opts.secure, events: this.opts.events, maxConnectAttempts: this.opts.maxConnectAttempts };
    const exchange = new H2Exchange(input, (end) => this.afterH2(end));
    this.h2 = exchange;
    exchange.start();
  }

  private afterH2(end: H2ExchangeEnd): void {
    this.h2 = undefined;
    this.resetExchange();
    if (end.close) {
      this.closed = true;
      return;
    }
    this.pending = end.rest;
    if (this.client.writableLength > MAX_UNSENT_BYTES) return this.waitForClientDrain();
    this.client.resume();
    this.processPending();
  }

  requestBodyRefused(status: 400 | 413, reason: string, body: string): void {
    this.failRequest(status, reason, body);
  }

  private connectUpstream(exclude: PickedEndpoint['pool'] | undefined): void {
    const decision = this.decision as ProxyDecision;
    const picked = pickEndpoint(decision, exclude);
    if (typeof picked === 'string') return this.failRequest(503, 'Service Unavailable', picked);
    this.picked = picked;
    this.attempts++;
    const attempt = ++this.attemptSeq;
    picked.pool.acquire(decision.connectTimeoutMs, this, (r) => {
      // The exchange may have ended (client error, 413, close) while this connect was pending.
      if (attempt !== this.attemptSeq || this.closed) {
        if ('socket' in r) picked.pool.release(r.socket, false);
        return;
      }
      this.onUpstreamConnected(r);
    });
  }

  /** Response fields the route adds: configured ones and the affinity cookie of a newly picked endpoint. */
  private responseHeaders(): Readonly<Record<string, string>> | undefined {
    const cookie = this.picked?.setCookie;
    return cookie === undefined ? this.decision?.responseHeaders : { ...this.decision?.responseHeaders, 'Set-Cookie': cookie };
  }

  private onUpstreamConnected(r: ConnectResult): void {
    const picked = this.picked as PickedEndpoint;
    if ('error' in r) {
      if (retryAfterConnectFailure(this.opts, this.decision as ProxyDecision, picked, r, this.attempts) && !this.closed) return this.connectUpstream(picked.pool);
      const answer = connectFailureAnswer(r);
      return this.failRequest(answer.status, answer.status === 504 ? 'Gateway Timeout' : 'Bad Gateway', answer.body);
    }
    const up = r.socket;
    this.upstream = up;
    this.upstreamReused = r.reused;
    const head = this.head as RequestHead;
    const decision = this.decision as ProxyDecision;
    const info: ForwardInfo = {
      clientAddress: this.opts.clientAddress?.address ?? this.client.remoteAddress ?? '',
      clientPort: this.opts.clientAddress?.port ?? this.client.remotePort ?? 0,
      secure: this.opts.secure,
      localPort: this.client.localPort ?? 0,
      requestId: requestIdFor(head.headers),
      target: decision.target,
    };
    if (this.forwardedHost !== head.host || this.forwardedLines === undefined) {
      this.forwardedHost = head.host;
      this.forwardedLines = forwardedLines(info, head.host);
    }
    const text = copyRequestHead(this.headBytes as Buffer, 0, this.headEnd, head, info, this.forwardedLines) ?? buildUpstreamRequestHead(head, info);
    this.relay.begin(up, { method: head.method, versionMinor: head.versionMinor, upgradeAsked: head.upgrade !== undefined, extraHeaders: this.responseHeaders() });
    this.sentAt = performance.now();
    this.request.attach(up, text);
    this.client.resume();
  }

  onUpstreamData(chunk: Buffer): void {
    this.request.upstreamActive = FRONT_SWEEP.now;
    this.relay.push(chunk);
  }

  responseHead(res: ResponseHead): boolean {
    (this.decision as ProxyDecision).runtime.report(this.picked as PickedEndpoint, 'ok', performance.now() - this.sentAt);
    // A close-delimited body can only end by closing, so the client connection closes after it.
    if (res.bodyKind === 'close') this.clientClose = true;
    this.opts.events.response(res.status);
    return this.clientClose;
  }

  responseInvalid(reason: string): void {
    this.opts.events.upstreamError('protocol');
    this.dropUpstream(true);
    this.failRequest(502, 'Bad Gateway', reason);
  }

  responseBodyInvalid(): void {
    this.opts.events.upstreamError('protocol');
    this.destroyBoth(true);
  }

  /** The response is complete: return the upstream socket and go on with the next request. */
  responseComplete(cleanEnd: boolean): void {
    const up = this.upstream;
    const picked = this.picked;
    const reusable = cleanEnd && this.request.done && (this.relay.head?.keepAlive ?? false);
    this.detachUpstream();
    if (up !== undefined && picked !== undefined) picked.pool.release(up, reusable);
    const close = this.clientClose || !this.request.done;
    this.resetExchange();
    if (close) {
      this.client.end();
      this.closed = true;
      return;
    }
    if (this.client.writableLength > MAX_UNSENT_BYTES) {
      this.waitForClientDrain();
      return;
    }
    this.client.resume();
    this.processPending();
  }

  upgraded(res: ResponseHead, rest: Buffer | undefined): void {
    const up = this.upstream as Socket;
    (this.decision as ProxyDecision).runtime.report(this.picked as PickedEndpoint, 'ok', performance.now() - this.sentAt);
    this.opts.events.response(101);
    this.detachUpstream();
    FRONT_SWEEP.delete(this);
    // From here on the connection is a byte pipe; the pool never sees this socket again.
    (this.picked as PickedEndpoint).pool.detach(up);
    this.closed = true;
    const pending = this.pending;
    this.pending = undefined;
    openTunnel(this.client, up, res, rest, pending);
  }

  onUpstreamEnd(): void {
    if (this.upstream === undefined) return;
    const res = this.relay.head;
    if (res !== undefined && res.bodyKind === 'close') {
      this.responseComplete(false);
      return;
    }
    this.onUpstreamLost('reset');
  }

  /** A reset or an abrupt close: never a clean end, even for a close-delimited body. */
  onUpstreamError(): void {
    if (this.upstream === undefined) return;
    if (this.relay.started) {
      this.opts.events.upstreamError('reset');
      this.destroyBoth(true);
      return;
    }
    this.onUpstreamLost('reset');
  }

  onUpstreamTimeout(): void {
    if (this.upstream === undefined) return;
    this.opts.events.upstreamError('timeout');
    // A backend still waiting for a body the client has not sent is not at fault.
    const backendAtFault = this.request.done;
    this.dropUpstream(backendAtFault);
    if (this.relay.started) this.destroyBoth(true);
    else if (backendAtFault) this.failRequest(504, 'Gateway Timeout', 'the backend did not answer in time\n');
    else this.failRequest(408, 'Request Timeout', 'the request body did not arrive in time\n');
  }

  private onUpstreamLost(reason: 'reset'): void {
    const head = this.head as RequestHead;
    const wasReused = this.upstreamReused;
    // A reused socket closed under us says more about keep-alive timing than the endpoint's health.
    this.dropUpstream(!wasReused);
    if (this.relay.started) {
      this.destroyBoth(true);
      return;
    }
    // A kept-alive socket the backend closed just as we reused it: safe to repeat an idempotent request once.
    const bodyless = !head.chunked && (head.contentLength ?? 0) === 0;
    if (wasReused && bodyless && IDEMPOTENT.has(head.method) && !this.retriedStale && !this.closed) {
      this.retriedStale = true;
      this.connectUpstream(undefined);
      return;
    }
    this.opts.events.upstreamError(reason);
    this.failRequest(502, 'Bad Gateway', 'the backend closed the connection before answering\n');
  }

  private detachUpstream(): void {
    const up = this.upstream;
    if (up === undefined) return;
    this.request.detach();
    up.resume();
    this.upstream = undefined;
  }

  /** Closes the upstream socket; `backendAtFault` reports the endpoint as failed (passive health). */
  private dropUpstream(backendAtFault = false): void {
    const up = this.upstream;
    this.detachUpstream();
    if (up === undefined) return;
    const picked = this.picked as PickedEndpoint;
    picked.pool.release(up, false);
    if (backendAtFault && this.relay.head === undefined) this.decision?.runtime.report(picked, 'failed', performance.now() - this.sentAt);
  }

  /** The request cannot be served: answer if nothing was sent yet, else cut the connection. */
  private failRequest(status: number, reason: string, body: string): void {
    this.dropUpstream();
    if (this.relay.started) {
      this.destroyBoth();
      return;
    }
    this.opts.events.response(status);
    this.resetExchange();
    this.respondAndClose(status, reason, body);
  }

  private writeLocal(status: number, reason: string, body: string, close: boolean, headers?: ReadonlyArray<readonly [string, string]>): void {
    this.opts.events.response(status);
    this.client.write(localResponse(status, reason, body, close, headers), 'latin1');
    this.resetExchange();
    if (close) {
      this.closed = true;
      this.client.end();
      return;
    }
    // Inside processPending's loop the loop goes on by itself; from elsewhere, start it.
    this.processPending();
  }

  protected respondAndClose(status: number, reason: string, body: string): void {
    this.writeLocal(status, reason, body, true);
  }

  private resetExchange(): void {
    // The idle deadline counts from the end of the last exchange, as a socket timer refreshed by its writes did.
    this.clientActive = FRONT_SWEEP.now;
    this.head = undefined;
    this.headBytes = undefined;
    this.decision = undefined;
    this.picked = undefined;
    this.request.reset();
    this.relay.reset();
    this.retriedStale = false;
    this.attemptSeq++;
  }

  private destroyBoth(backendAtFault = false): void {
    this.dropUpstream(backendAtFault);
    this.closed = true;
    this.client.destroy();
  }

  /** FRONT_SWEEP's check: the client idle (or stuck in a head) too long, or the upstream silent too long. */
  sweep(): void {
    if (this.head === undefined) {
      if (FRONT_SWEEP.expired(this.clientActive, this.opts.keepAliveTimeoutMs)) this.client.destroy();
      return;
    }
    if (this.upstream !== undefined && this.request.upstreamExpired(FRONT_SWEEP)) this.onUpstreamTimeout();
  }

  private onClientClosed(): void {
    FRONT_SWEEP.delete(this);
    this.h2?.onClientClosed();
    if (this.closed && this.upstream === undefined) return;
    this.closed = true;
    if (this.upstream !== undefined) this.dropUpstream();
  }
}

