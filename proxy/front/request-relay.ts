// The request half of one proxied exchange: sends the forwarded head and relays the request body,
// spliced unchanged, until its framing says it ended; enforces the body limit, with backpressure.
import type { Socket } from 'node:net';
import { ChunkedScanner } from '../http1/chunked.ts';
import type { RequestHead } from '../http1/types.ts';
import { FRONT_SWEEP, type InactivitySweep } from './inactivity-sweep.ts';
import { MAX_UNSENT_BYTES } from './limits.ts';

/** Body bytes that may wait for the upstream connect before the client is no longer read. */
const MAX_QUEUED_CHUNKS = 16;

export interface RequestRelayOwner {
  /** The body is malformed (400) or larger than the route allows (413): the exchange fails. */
  requestBodyRefused(status: 400 | 413, reason: string, body: string): void;
}

export interface BodyRules {
  /** 0 = unlimited. */
  maxBodyBytes: number;
  /** Upstream inactivity limit once the whole request is sent. */
  readTimeoutMs: number;
  /** Upstream inactivity limit while the body still goes up. */
  sendTimeoutMs: number;
}

export class RequestRelay {
  private readonly client: Socket;
  private readonly owner: RequestRelayOwner;
  private rules: BodyRules | undefined;
  private upstream: Socket | undefined;
  private remaining = 0;
  private bodyBytes = 0;
  private scanner: ChunkedScanner | undefined;
  /** Body bytes read before the upstream socket was ready. */
  private queued: Buffer[] = [];
  private upstreamDrain: (() => void) | undefined;
  /** The whole request (head and body) is read from the client. */
  done = false;
  /** FRONT_SWEEP's clock at the last byte to or from the upstream socket (the connection stamps what it reads). */
  upstreamActive = 0;

  constructor(client: Socket, owner: RequestRelayOwner) {
    this.client = client;
    this.owner = owner;
  }

  /** A new request: its body, if any, is expected next. */
  begin(head: RequestHead, rules: BodyRules): void {
    this.rules = rules;
    this.done = !(head.chunked || (head.contentLength ?? 0) > 0);
    this.remaining = head.contentLength ?? 0;
    this.bodyBytes = 0;
    this.scanner = head.chunked ? new ChunkedScanner() : undefined;
  }

  /**
   * The upstream socket is ready: its inactivity deadline starts now (see upstreamExpired), and the head
   * and whatever body bytes already arrived go out together.
   */
  attach(up: Socket, head: Buffer | string): void {
    this.upstream = up;
    this.upstreamActive = FRONT_SWEEP.now;
    const queued = this.queued;
    if (queued.length === 0) {
      up.write(head, 'latin1');
      return;
    }
    this.queued = [];
    up.cork();
    up.write(head, 'latin1');
    for (const b of queued) up.write(b);
    up.uncork();
  }

  /** The upstream socket is no longer this exchange's: stop waiting for its drain. */
  detach(): void {
    const up = this.upstream;
    if (up !== undefined && this.upstreamDrain !== undefined) up.removeListener('drain', this.upstreamDrain);
    this.upstreamDrain = undefined;
    this.upstream = undefined;
  }

  reset(): void {
    this.detach();
    this.rules = undefined;
    this.done = false;
    this.scanner = undefined;
    this.queued = [];
  }

  /** Consumes the part of `chunk` that is this request's body; returns what follows it (undefined after a refusal). */
  take(chunk: Buffer): Buffer | undefined {
    let body: Buffer;
    let rest: Buffer | undefined;
    if (this.scanner !== undefined) {
      const r = this.scanner.push(chunk, 0, chunk.length);
      if (r.error !== undefined) {
        this.owner.requestBodyRefused(400, 'Bad Request', `${r.error}\n`);
        return undefined;
      }
      body = r.consumed === chunk.length ? chunk : chunk.subarray(0, r.consumed);
      rest = r.consumed === chunk.length ? undefined : chunk.subarray(r.consumed);
      if (r.done) this.done = true;
    } else {
      const n = Math.min(this.remaining, chunk.length);
      body = n === chunk.length ? chunk : chunk.subarray(0, n);
      rest = n === chunk.length ? undefined : chunk.subarray(n);
      this.remaining -= n;
      if (this.remaining === 0) this.done = true;
    }
    // Chunked framing is not payload: the limit counts what the chunks carry.
    this.bodyBytes = this.scanner !== undefined ? this.scanner.dataBytes : this.bodyBytes + body.length;
    const limit = this.rules?.maxBodyBytes ?? 0;
    if (limit > 0 && this.bodyBytes > limit) {
      this.owner.requestBodyRefused(413, 'Content Too Large', `request body larger than ${limit} bytes\n`);
      return undefined;
    }
    if (body.length > 0) this.send(body);
    return rest;
  }

  /**
   * The upstream socket has been silent too long: the send limit applies while the body goes up, the read
   * limit once the last body byte is on its way (the backend is then waiting to answer, not to read).
   */
  upstreamExpired(sweep: InactivitySweep): boolean {
    const rules = this.rules;
    if (this.upstream === undefined || rules === undefined) return false;
    return sweep.expired(this.upstreamActive, this.done ? rules.readTimeoutMs : rules.sendTimeoutMs);
  }

  private send(body: Buffer): void {
    const up = this.upstream;
    this.upstreamActive = FRONT_SWEEP.now;
    if (up === undefined) {
      this.queued.push(body);
      // Bound what waits for the connect: stop reading the client until the upstream is there.
      if (this.queued.length > MAX_QUEUED_CHUNKS) this.client.pause();
      return;
    }
    if (!up.write(body) && up.writableLength > MAX_UNSENT_BYTES && this.upstreamDrain === undefined) {
      this.client.pause();
      const onDrain = (): void => {
        this.upstreamDrain = undefined;
        this.client.resume();
      };
      this.upstreamDrain = onDrain;
      up.once('drain', onDrain);
    }
  }
}
