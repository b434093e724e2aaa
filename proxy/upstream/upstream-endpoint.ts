// One endpoint as the balancers see it: its pool plus the state that outlives table swaps
// (passive health, slow-start ramp, latency average, affinity token), kept while the endpoint remains.
import type { Endpoint } from '../../src/model/table.ts';
import type { UpstreamPool } from './pool.ts';

export class UpstreamEndpoint {
  /** `address|port`: the identity under which state is kept across setEndpoints(). */
  readonly id: string;
  endpoint: Endpoint;
  readonly pool: UpstreamPool;
  /** Always absent here; an assignment that carries a cookie is a separate object (see BackendRuntime). */
  readonly setCookie?: string;

  /** Whether it was in the ready set after the last setEndpoints(); a false → true change starts a ramp. */
  wasReady = false;
  /** Set when the endpoint leaves the backend, so late reports do not touch the runtime's counters. */
  removed = false;

  // Passive health (see passive-health.ts).
  consecutiveFailures = 0;
  /** Ejections in a row without a success in between; doubles the next back-off. */
  ejections = 0;
  /** Clock time the ejection ends; 0 when not ejected. */
  ejectedUntil = 0;
  /** Back from an ejection: one success clears the record, one failure ejects again. */
  probation = false;

  // Slow start (see slow-start.ts): ramping while rampEnd > now.
  rampStart = 0;
  rampEnd = 0;

  // Latency average for `ewma`, in ms, as of ewmaAt; unsampled ones take the backend's median.
  ewma = 0;
  ewmaAt = 0;
  ewmaSampled = false;

  // Cookie affinity: the opaque token naming this endpoint and the Set-Cookie value that assigns it.
  token = '';
  cookie = '';

  constructor(id: string, endpoint: Endpoint, pool: UpstreamPool) {
    this.id = id;
    this.endpoint = endpoint;
    this.pool = pool;
  }
}
