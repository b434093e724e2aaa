// What the front end asks of the current table for each request head, and what it gets back:
// either a backend to proxy to (with per-route limits) or an answer wharf writes itself.
import type { RequestHead } from '../http1/types.ts';
import type { BackendRuntime, PickContext } from '../upstream/backend-runtime.ts';
import type { H2Upstreams } from '../upstream/h2/upstreams.ts';

export interface ProxyDecision {
  kind: 'proxy';
  runtime: BackendRuntime;
  connectTimeoutMs: number;
  /** Backend inactivity limit once the whole request is sent (proxy-read-timeout). */
  readTimeoutMs: number;
  /** Backend inactivity limit while the request body is still going up (proxy-send-timeout). */
  sendTimeoutMs: number;
  /** 0 = unlimited. */
  maxBodyBytes: number;
  /** New path+query for the upstream, when a rewrite applies. */
  target?: string;
  responseHeaders?: Readonly<Record<string, string>>;
  /** What the balancer needs from the request: a hash key, an affinity cookie's value. */
  pickContext?: PickContext;
  /** Set for backend-protocol GRPC, GRPCS and H2C: the exchange goes over HTTP/2 sessions from here. */
  h2?: H2Upstreams;
}

export interface RespondDecision {
  kind: 'respond';
  status: number;
  reason: string;
  body: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}

export type Decision = ProxyDecision | RespondDecision;

export interface RequestContext {
  secure: boolean;
  clientAddress: string;
}

/** Implemented by the dataplane over its current table; called once per request head. */
export interface Decider {
  decide(head: RequestHead, ctx: RequestContext): Decision;
}
