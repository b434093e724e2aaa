// Round robin over the usable endpoints; a ramping endpoint (slow start) keeps its turn only with a
// probability equal to its weight, so its share grows linearly without an O(n) weighted scheduler.
import { rampWeight } from '../slow-start.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';
import type { Balancer, PickRequest, RandomSource } from './types.ts';

export class RoundRobinBalancer implements Balancer {
  /** The turn counter; BackendRuntime hands it to and from its plain path so turns stay even across the switch. */
  next = 0;
  private readonly random: RandomSource;
  private readonly minWeight: number;

  constructor(random: RandomSource, minWeight: number) {
    this.random = random;
    this.minWeight = minWeight;
  }

  set(_ready: readonly UpstreamEndpoint[]): void {
    // The cursor carries over: a changed set just continues from wherever the count points.
  }

  pick(req: PickRequest): UpstreamEndpoint | undefined {
    const c = req.candidates;
    const n = c.length;
    for (let i = 0; i < n; i++) {
      const e = c[this.next++ % n] as UpstreamEndpoint;
      if (this.next >= 1 << 30) this.next = 0;
      if (e.pool === req.exclude) continue;
      // A skipped turn passes to the next endpoint, so a ramping one serves `w` of its turns.
      if (req.ramping && e.rampEnd > req.now && this.random() >= rampWeight(e, req.now, this.minWeight)) continue;
      return e;
    }
    // Every turn was skipped (only ramping endpoints left, all unlucky): any usable one beats none.
    for (let i = 0; i < n; i++) if ((c[i] as UpstreamEndpoint).pool !== req.exclude) return c[i];
    return undefined;
  }
}
