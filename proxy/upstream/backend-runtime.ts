// The live state of one backend: its ready endpoints, their connection pools and the balancer's
// position. Survives table swaps while its BackendKey is unchanged; endpoint updates happen in place.
import type { Backend, Endpoint } from '../../src/model/table.ts';
import { UpstreamPool, type PoolOptions, DEFAULT_POOL_OPTIONS } from './pool.ts';

export interface PickedEndpoint {
  endpoint: Endpoint;
  pool: UpstreamPool;
  /** A Set-Cookie value to send with the response, when cookie affinity assigned this endpoint. */
  setCookie?: string;
}

/** Per-request input to the balancer. */
export interface PickContext {
  /** For `hash`: the value of what `upstream-hash-by` names (a header, cookie or the client address). */
  hashKey?: string;
  /** For cookie affinity: the value of the affinity cookie the client sent, if any. */
  affinity?: string;
}

/** How an exchange with an endpoint went: feeds EWMA latency and passive health. */
export type Outcome = 'ok' | 'connectFailed' | 'failed';

export class BackendRuntime {
  backend: Backend;
  private ready: PickedEndpoint[] = [];
  private readonly pools = new Map<string, UpstreamPool>();
  private next = 0;
  private readonly poolOptions: PoolOptions;

  constructor(backend: Backend, poolOptions: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.backend = backend;
    this.poolOptions = poolOptions;
    this.setEndpoints(backend);
  }

  /** Takes a new version of the backend: pools of endpoints that remain are kept with their sockets. */
  setEndpoints(backend: Backend): void {
    this.backend = backend;
    const keep = new Set<string>();
    const ready: PickedEndpoint[] = [];
    // An ExternalName Service is one endpoint named by DNS; net.connect resolves it per connection.
    const endpoints: readonly Endpoint[] =
      backend.externalName !== undefined && backend.externalPort !== undefined
        ? [{ address: backend.externalName, port: backend.externalPort, ready: true, terminating: false }]
        : backend.endpoints;
    for (const ep of endpoints) {
      const id = `${ep.address}|${ep.port}`;
      keep.add(id);
      let pool = this.pools.get(id);
      if (!pool) {
        pool = new UpstreamPool(ep.address, ep.port, this.poolOptions);
        this.pools.set(id, pool);
      }
      if (ep.ready) ready.push({ endpoint: ep, pool });
    }
    // Removed endpoints: close idle sockets; requests in flight finish on theirs.
    for (const [id, pool] of this.pools) {
      if (!keep.has(id)) {
        pool.close();
        this.pools.delete(id);
      }
    }
    this.ready = ready;
  }

  readyCount(): number {
    return this.ready.length;
  }

  /** Reports how a picked endpoint did; `latencyMs` is the time to the response head. */
  report(_picked: PickedEndpoint, _outcome: Outcome, _latencyMs: number): void {}

  /** Round robin over ready endpoints; `exclude` skips one that just failed (retry). */
  pick(exclude?: UpstreamPool, _ctx?: PickContext): PickedEndpoint | undefined {
    const n = this.ready.length;
    if (n === 0) return undefined;
    for (let i = 0; i < n; i++) {
      const candidate = this.ready[this.next++ % n] as PickedEndpoint;
      if (this.next >= 1 << 30) this.next = 0;
      if (candidate.pool !== exclude) return candidate;
    }
    return n === 1 && exclude ? undefined : this.ready[0];
  }

  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    this.ready = [];
  }
}
