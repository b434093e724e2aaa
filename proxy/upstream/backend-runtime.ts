// The live state of one backend: its ready endpoints, their connection pools, the balancer, passive
// health and slow start. Survives table swaps while its BackendKey is unchanged; endpoint updates happen in place.
import type { Backend, BalancePolicy, Endpoint } from '../../src/model/table.ts';
import { affinityCookie, affinityToken } from './balancers/affinity.ts';
import { EwmaBalancer, DEFAULT_EWMA_HALF_LIFE_MS, decayedEwma } from './balancers/ewma.ts';
import { HashRingBalancer } from './balancers/hash-ring.ts';
import { LeastRequestBalancer } from './balancers/least-request.ts';
import { RoundRobinBalancer } from './balancers/round-robin.ts';
import type { Balancer, PickRequest } from './balancers/types.ts';
import { DEFAULT_PASSIVE_HEALTH, readmitIfDue, recordFailure, recordSuccess, type PassiveHealthOptions } from './passive-health.ts';
import { compilePickContext, type PickContextReader } from './pick-context.ts';
import { UpstreamPool, type PoolOptions, DEFAULT_POOL_OPTIONS } from './pool.ts';
import { DEFAULT_SLOW_START, rampWeight, startRamp, type SlowStartOptions } from './slow-start.ts';
import { UpstreamEndpoint } from './upstream-endpoint.ts';

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

export interface RuntimeOptions {
  pool: PoolOptions;
  /** Uniform in [0, 1); tests pass a seeded one so every choice is reproducible. */
  random: () => number;
  /** Monotonic milliseconds; tests pass a fake clock. */
  now: () => number;
  health: PassiveHealthOptions;
  slowStart: SlowStartOptions;
  ewmaHalfLifeMs: number;
}

export const DEFAULT_RUNTIME_OPTIONS: Readonly<RuntimeOptions> = Object.freeze({
  pool: DEFAULT_POOL_OPTIONS,
  random: Math.random,
  now: () => performance.now(),
  health: DEFAULT_PASSIVE_HEALTH,
  slowStart: DEFAULT_SLOW_START,
  ewmaHalfLifeMs: DEFAULT_EWMA_HALF_LIFE_MS,
});

/** One endpoint's balancing state, for the admin API and tests. */
export interface EndpointStatus {
  address: string;
  port: number;
  ready: boolean;
  ejected: boolean;
  /** Milliseconds of ejection left; 0 when not ejected. */
  ejectedForMs: number;
  probation: boolean;
  consecutiveFailures: number;
  ejections: number;
  /** Slow-start weight now, 0..1; 1 when warm. */
  weight: number;
  /** Decayed time-to-response-head average in ms, when `ewma` has measured it. */
  ewmaMs?: number;
  inFlight: number;
}

export class BackendRuntime {
  backend: Backend;
  /** Reads what this backend's policy needs from a request; undefined (the common case) when it needs nothing. */
  pickContextOf: PickContextReader | undefined;
  private readonly opts: RuntimeOptions;
  private readonly clock: () => number;
  private ready: UpstreamEndpoint[] = [];
  /** Ready and not ejected; the same array as `ready` while nothing is ejected. */
  private healthy: UpstreamEndpoint[] = [];
  private readonly states = new Map<string, UpstreamEndpoint>();
  private readonly byPool = new Map<UpstreamPool, UpstreamEndpoint>();
  private byToken: Map<string, UpstreamEndpoint> | undefined;
  private policy: BalancePolicy | undefined;
  private balancer: Balancer;
  private ewma: EwmaBalancer | undefined;
  /** The balancer when it is round robin: it and the plain path hand the turn counter to each other. */
  private roundRobin: RoundRobinBalancer | undefined;
  /** The plain path's turn counter, kept on the runtime so that path touches one object only. */
  private next = 0;
  /** Plain round robin, nothing ejected, nothing ramping: pick() takes the two-branch path. */
  private plain = true;
  private ejectedCount = 0;
  private nextReadmitAt = Infinity;
  /** Latest end of a slow-start ramp among ready endpoints; 0 when none ramps. */
  private rampUntil = 0;
  private started = false;
  private readonly req: PickRequest = { candidates: [], exclude: undefined, hashKey: undefined, now: 0, failOpen: false, ramping: false };

  constructor(backend: Backend, options: Partial<RuntimeOptions> = {}) {
    this.opts = { ...DEFAULT_RUNTIME_OPTIONS, ...options };
    this.clock = this.opts.now;
    this.backend = backend;
    this.balancer = this.roundRobin = new RoundRobinBalancer(this.opts.random, this.opts.slowStart.minWeight);
    this.setEndpoints(backend);
  }

  /** Takes a new version of the backend: endpoints that remain keep their pools, sockets and health. */
  setEndpoints(backend: Backend): void {
    this.backend = backend;
    const policyChanged = this.policy === undefined || !samePolicy(this.policy, backend.balance);
    if (policyChanged) this.usePolicy(backend);
    const now = this.clock();
    const seen = new Set<string>();
    const ready: UpstreamEndpoint[] = [];
    const joined: UpstreamEndpoint[] = [];
    let warm = false;
    // An ExternalName Service is one endpoint named by DNS; net.connect resolves it per connection.
    const endpoints: readonly Endpoint[] =
      backend.externalName !== undefined && backend.externalPort !== undefined
        ? [{ address: backend.externalName, port: backend.externalPort, ready: true, terminating: false }]
        : backend.endpoints;
    for (const ep of endpoints) {
      const id = `${ep.address}|${ep.port}`;
      seen.add(id);
      let e = this.states.get(id);
      if (e === undefined) {
        // The protocol is part of the backend key, so it never changes under an existing pool.
        const pool = backend.protocol === 'HTTPS' ? { ...this.opts.pool, tls: true } : this.opts.pool;
        e = new UpstreamEndpoint(id, ep, new UpstreamPool(ep.address, ep.port, pool));
        this.states.set(id, e);
        this.byPool.set(e.pool, e);
      } else {
        e.endpoint = ep;
      }
      if (ep.ready) {
        ready.push(e);
        if (e.wasReady) warm = true;
        else joined.push(e);
      }
      e.wasReady = ep.ready;
    }
    // Slow start only on a running backend that has warm endpoints to lean on: at the first set, or
    // when every endpoint is new (scale from zero), nobody could take the share a ramp holds back.
    if (this.started && warm) for (const e of joined) startRamp(e, now, this.opts.slowStart);
    // Removed endpoints: close idle sockets; requests in flight finish on theirs.
    for (const [id, e] of this.states) {
      if (seen.has(id)) continue;
      e.pool.close();
      e.removed = true;
      if (e.ejectedUntil !== 0) this.ejectedCount--;
      this.states.delete(id);
      this.byPool.delete(e.pool);
    }
    const readyChanged = policyChanged || !sameMembers(this.ready, ready);
    this.ready = ready;
    if (readyChanged) {
      if (backend.balance.affinity !== undefined) this.indexTokens(backend);
      this.balancer.set(ready);
    }
    this.rampUntil = 0;
    for (const e of ready) if (e.rampEnd > now && e.rampEnd > this.rampUntil) this.rampUntil = e.rampEnd;
    this.rebuildHealthy();
    this.started = true;
  }

  readyCount(): number {
    return this.ready.length;
  }

  /** Reports how a picked endpoint did; `latencyMs` is the time to the response head. */
  report(picked: PickedEndpoint, outcome: Outcome, latencyMs: number): void {
    const e = picked instanceof UpstreamEndpoint ? picked : this.byPool.get(picked.pool);
    if (e === undefined || e.removed) return;
    if (outcome === 'ok') {
      if (e.consecutiveFailures !== 0 || e.probation) recordSuccess(e);
      if (this.ewma !== undefined) this.ewma.observe(e, latencyMs, this.clock());
      return;
    }
    const now = this.clock();
    if (recordFailure(e, now, this.opts.health) !== 'ejected') return;
    this.ejectedCount++;
    if (e.ejectedUntil < this.nextReadmitAt) this.nextReadmitAt = e.ejectedUntil;
    this.rebuildHealthy();
  }

  /** Picks an endpoint for a request; `exclude` skips one that just failed (retry). */
  pick(exclude?: UpstreamPool, ctx?: PickContext): PickedEndpoint | undefined {
    if (this.plain) {
      const ready = this.ready;
      const n = ready.length;
      if (n === 0) return undefined;
      for (let i = 0; i < n; i++) {
        const candidate = ready[this.next++ % n] as UpstreamEndpoint;
        if (this.next >= 1 << 30) this.next = 0;
        if (candidate.pool !== exclude) return candidate;
      }
      return n === 1 && exclude ? undefined : ready[0];
    }
    return this.pickWithPolicy(exclude, ctx);
  }

  /** Balancing state per endpoint, in the table's order. */
  status(): EndpointStatus[] {
    const now = this.clock();
    const tau = (this.opts.ewmaHalfLifeMs || DEFAULT_EWMA_HALF_LIFE_MS) / Math.LN2;
    return [...this.states.values()].map((e) => ({
      address: e.endpoint.address,
      port: e.endpoint.port,
      ready: e.wasReady,
      ejected: e.ejectedUntil !== 0 && now < e.ejectedUntil,
      ejectedForMs: e.ejectedUntil === 0 ? 0 : Math.max(e.ejectedUntil - now, 0),
      probation: e.probation,
      consecutiveFailures: e.consecutiveFailures,
      ejections: e.ejections,
      weight: e.rampEnd > now ? rampWeight(e, now, this.opts.slowStart.minWeight) : 1,
      ...(this.ewma !== undefined && e.ewmaSampled ? { ewmaMs: decayedEwma(e, now, tau) } : {}),
      inFlight: e.pool.active,
    }));
  }

  close(): void {
    for (const e of this.states.values()) {
      e.pool.close();
      e.removed = true;
    }
    this.states.clear();
    this.byPool.clear();
    this.ready = [];
    this.healthy = [];
    this.ejectedCount = 0;
    this.plain = true;
  }

  private pickWithPolicy(exclude: UpstreamPool | undefined, ctx: PickContext | undefined): PickedEndpoint | undefined {
    // The clock costs more than the rest of a pick; only ejections, ramps and latency decay need it.
    const now = this.ejectedCount > 0 || this.rampUntil !== 0 || this.ewma !== undefined ? this.clock() : 0;
    if (this.ejectedCount > 0 && now >= this.nextReadmitAt) this.readmit(now);
    if (this.rampUntil !== 0 && now >= this.rampUntil) {
      this.rampUntil = 0;
      this.updatePlain();
    }
    // The last ejection or ramp just ended: back to the plain path, which now holds the turn counter.
    if (this.plain) return this.pick(exclude, ctx);
    if (this.ready.length === 0) return undefined;
    const affinity = this.backend.balance.affinity;
    if (affinity !== undefined && ctx?.affinity !== undefined) {
      const pinned = this.byToken?.get(ctx.affinity);
      // Stick while the endpoint is ready and usable; ejected ones only when everything is ejected.
      if (pinned !== undefined && pinned.pool !== exclude && (pinned.ejectedUntil === 0 || this.healthy.length === 0)) return pinned;
    }
    const req = this.req;
    req.exclude = exclude;
    req.hashKey = ctx?.hashKey;
    req.now = now;
    req.ramping = this.rampUntil !== 0;
    // Fail open, like Envoy's panic threshold: when every ready endpoint is ejected, serve from all of them.
    req.failOpen = this.healthy.length === 0;
    req.candidates = req.failOpen ? this.ready : this.healthy;
    let picked = this.balancer.pick(req);
    if (picked === undefined && !req.failOpen && this.healthy !== this.ready) {
      // The only healthy endpoint just failed this request: an ejected one is a better retry than none.
      req.failOpen = true;
      req.candidates = this.ready;
      picked = this.balancer.pick(req);
    }
    req.candidates = [];
    req.exclude = undefined;
    if (picked === undefined || affinity === undefined) return picked;
    return { endpoint: picked.endpoint, pool: picked.pool, setCookie: picked.cookie };
  }

  private usePolicy(backend: Backend): void {
    const { random, slowStart } = this.opts;
    const balance = backend.balance;
    this.policy = balance;
    this.ewma = undefined;
    this.roundRobin = undefined;
    switch (balance.algorithm) {
      case 'least_request':
        this.balancer = new LeastRequestBalancer(random, slowStart.minWeight);
        break;
      case 'ewma':
        this.balancer = this.ewma = new EwmaBalancer(random, slowStart.minWeight, this.clock, this.opts.ewmaHalfLifeMs);
        break;
      case 'hash':
        this.balancer = new HashRingBalancer(random, slowStart.minWeight);
        break;
      default:
        this.balancer = this.roundRobin = new RoundRobinBalancer(random, slowStart.minWeight);
    }
    this.pickContextOf = compilePickContext(balance);
    if (balance.affinity === undefined) this.byToken = undefined;
  }

  private indexTokens(backend: Backend): void {
    const affinity = backend.balance.affinity;
    if (affinity === undefined) return;
    const byToken = new Map<string, UpstreamEndpoint>();
    for (const e of this.ready) {
      // The token depends only on the Service and the endpoint, both fixed for this state: hash once.
      if (e.token === '') e.token = affinityToken(backend, e.endpoint.address, e.endpoint.port);
      e.cookie = affinityCookie(affinity.cookieName, e.token, affinity.maxAgeSeconds);
      byToken.set(e.token, e);
    }
    this.byToken = byToken;
  }

  /** Ends ejections whose time is up (the endpoints return on probation) and finds the next one due. */
  private readmit(now: number): void {
    let nextAt = Infinity;
    for (const e of this.states.values()) {
      if (readmitIfDue(e, now)) this.ejectedCount--;
      else if (e.ejectedUntil !== 0 && e.ejectedUntil < nextAt) nextAt = e.ejectedUntil;
    }
    this.nextReadmitAt = nextAt;
    this.rebuildHealthy();
  }

  private rebuildHealthy(): void {
    this.healthy = this.ejectedCount === 0 ? this.ready : this.ready.filter((e) => e.ejectedUntil === 0);
    this.updatePlain();
  }

  private updatePlain(): void {
    const b = this.backend.balance;
    const plain = this.roundRobin !== undefined && b.affinity === undefined && this.ejectedCount === 0 && this.rampUntil === 0;
    // Turns stay even across the switch between the plain path and the balancer.
    if (this.roundRobin !== undefined && plain !== this.plain) {
      if (plain) this.next = this.roundRobin.next;
      else this.roundRobin.next = this.next;
    }
    this.plain = plain;
  }
}

function samePolicy(a: BalancePolicy, b: BalancePolicy): boolean {
  return (
    a.algorithm === b.algorithm &&
    a.hashBy === b.hashBy &&
    a.affinity?.cookieName === b.affinity?.cookieName &&
    a.affinity?.maxAgeSeconds === b.affinity?.maxAgeSeconds
  );
}

function sameMembers(a: readonly UpstreamEndpoint[], b: readonly UpstreamEndpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
