// The contract every balancer implements: told the ready endpoints declaratively with set(), asked to
// pick among the usable ones per request. Balancers are synchronous and own only their own cursor/ring.
import type { UpstreamPool } from '../pool.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';

/** One pick's inputs. The runtime reuses a single object per backend, so a pick allocates nothing. */
export interface PickRequest {
  /** Endpoints that may be chosen: ready and not ejected, or all ready ones when failing open. */
  candidates: readonly UpstreamEndpoint[];
  /** The endpoint that just failed on this request (a retry); never pick it. */
  exclude: UpstreamPool | undefined;
  /** Hash key from the request, for `hash`. */
  hashKey: string | undefined;
  /** Clock time of the pick (ms), for slow-start weights and latency decay; 0 (unread) when `ramping` is false and the balancer is not `ewma`. */
  now: number;
  /** True when every ready endpoint is ejected and the pick serves from all of them anyway. */
  failOpen: boolean;
  /** True when some candidate is still ramping up (slow start); false lets balancers skip weight checks. */
  ramping: boolean;
}

export interface Balancer {
  /** The full ready set, in the table's stable order; called only when that set changes. */
  set(ready: readonly UpstreamEndpoint[]): void;
  pick(req: PickRequest): UpstreamEndpoint | undefined;
}

export type RandomSource = () => number;
