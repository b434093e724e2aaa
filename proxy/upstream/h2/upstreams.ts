// The HTTP/2 session pools of one dataplane, one per endpoint, found through the endpoint's HTTP/1.1
// pool object (the balancer's handle on an endpoint), so the backend runtime needs no HTTP/2 knowledge.
import type { BackendProtocol } from '../../../src/model/table.ts';
import type { UpstreamPool } from '../pool.ts';
import { DEFAULT_H2_POOL_OPTIONS, H2SessionPool, type H2PoolOptions, type H2PoolTracker } from './session-pool.ts';

/** backend-protocol values that speak HTTP/2 to the backend. */
export function isH2Protocol(protocol: BackendProtocol): boolean {
  return protocol === 'GRPC' || protocol === 'GRPCS' || protocol === 'H2C';
}

export class H2Upstreams {
  private readonly opts: Omit<H2PoolOptions, 'tls'>;
  // Keyed weakly: when an endpoint leaves its backend, its pool object goes and so does the entry;
  // its sessions, no longer picked, close on their idle timer.
  private readonly byEndpoint = new WeakMap<UpstreamPool, H2SessionPool>();
  /** Pools that have sessions open: what close() must cut. */
  private readonly inUse = new Set<H2SessionPool>();
  private readonly tracker: H2PoolTracker = { inUse: (pool, used) => (used ? this.inUse.add(pool) : this.inUse.delete(pool)) };

  constructor(opts: Partial<Omit<H2PoolOptions, 'tls'>> = {}) {
    this.opts = { ...DEFAULT_H2_POOL_OPTIONS, ...opts };
  }

  /** The session pool for a picked endpoint; GRPCS dials TLS with ALPN h2, GRPC and H2C cleartext. */
  poolFor(endpoint: UpstreamPool, protocol: BackendProtocol): H2SessionPool {
    let pool = this.byEndpoint.get(endpoint);
    if (pool === undefined) {
      pool = new H2SessionPool(endpoint.host, endpoint.port, { ...this.opts, tls: protocol === 'GRPCS' }, this.tracker);
      this.byEndpoint.set(endpoint, pool);
    }
    return pool;
  }

  /** Sessions open now over all endpoints. */
  openSessions(): number {
    let n = 0;
    for (const p of this.inUse) n += p.liveSessions();
    return n;
  }

  /** Shutdown: every session is cut. */
  close(): void {
    for (const p of [...this.inUse]) p.destroy();
    this.inUse.clear();
  }
}
