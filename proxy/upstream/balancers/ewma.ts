// ewma: two random choices ranked by a time-decayed average of time-to-response-head times the
// requests in flight, as ingress-nginx's ewma; shifts traffic away from endpoints that answer slowly.
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';
import { pickTwoChoices } from './two-choices.ts';
import type { Balancer, PickRequest, RandomSource } from './types.ts';

export const DEFAULT_EWMA_HALF_LIFE_MS = 10_000;

/**
 * The average as of `now`. Weights go by elapsed time, not by sample count, so a burst does not wipe
 * out history; and an endpoint nobody picks decays toward 0 until it is tried again, so one slow
 * spell is not held against it forever.
 */
export function decayedEwma(e: UpstreamEndpoint, now: number, tauMs: number): number {
  const dt = now - e.ewmaAt;
  return dt <= 0 ? e.ewma : e.ewma * Math.exp(-dt / tauMs);
}

export class EwmaBalancer implements Balancer {
  private readonly random: RandomSource;
  private readonly minWeight: number;
  private readonly clock: () => number;
  /** Time constant of the exponential decay: half-life / ln 2. */
  readonly tauMs: number;
  private readonly cost: (e: UpstreamEndpoint, now: number) => number;

  constructor(random: RandomSource, minWeight: number, clock: () => number, halfLifeMs = DEFAULT_EWMA_HALF_LIFE_MS) {
    this.random = random;
    this.minWeight = minWeight;
    this.clock = clock;
    this.tauMs = halfLifeMs / Math.LN2;
    // The small constant keeps in-flight counts deciding while no latency is known yet.
    this.cost = (e, now) => (decayedEwma(e, now, this.tauMs) + 1e-3) * (e.pool.active + 1);
  }

  /** New endpoints start at the median of the known ones: at 0 they would draw every request until measured. */
  set(ready: readonly UpstreamEndpoint[]): void {
    const now = this.clock();
    const known: number[] = [];
    for (const e of ready) if (e.ewmaSampled) known.push(decayedEwma(e, now, this.tauMs));
    if (known.length === 0) return;
    known.sort((x, y) => x - y);
    const mid = known.length >> 1;
    const median = known.length % 2 === 1 ? (known[mid] as number) : ((known[mid - 1] as number) + (known[mid] as number)) / 2;
    for (const e of ready) {
      if (e.ewmaSampled) continue;
      e.ewma = median;
      e.ewmaAt = now;
      e.ewmaSampled = true;
    }
  }

  /** One time-to-response-head sample. */
  observe(e: UpstreamEndpoint, latencyMs: number, now: number): void {
    if (!e.ewmaSampled) {
      e.ewma = latencyMs;
      e.ewmaSampled = true;
    } else {
      const w = Math.exp(-Math.max(now - e.ewmaAt, 0) / this.tauMs);
      e.ewma = e.ewma * w + latencyMs * (1 - w);
    }
    e.ewmaAt = now;
  }

  pick(req: PickRequest): UpstreamEndpoint | undefined {
    return pickTwoChoices(req, this.random, this.cost, this.minWeight);
  }
}
