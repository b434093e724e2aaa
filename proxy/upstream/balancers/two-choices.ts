// Power of two random choices: draw two distinct usable endpoints and keep the one with the lower cost.
// Near-optimal load spread at O(1) per pick, and no herd onto one "best" endpoint when costs are stale.
import { rampWeight } from '../slow-start.ts';
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';
import type { PickRequest, RandomSource } from './types.ts';

export type CostOf = (e: UpstreamEndpoint, now: number) => number;

export function pickTwoChoices(req: PickRequest, random: RandomSource, cost: CostOf, minWeight: number): UpstreamEndpoint | undefined {
  const c = req.candidates;
  const n = c.length;
  if (n === 0) return undefined;
  if (n === 1) {
    const only = c[0] as UpstreamEndpoint;
    return only.pool === req.exclude ? undefined : only;
  }
  const i = Math.floor(random() * n) % n;
  let j = Math.floor(random() * (n - 1)) % (n - 1);
  if (j >= i) j++;
  let a = c[i] as UpstreamEndpoint;
  let b = c[j] as UpstreamEndpoint;
  // A retry excludes one endpoint; if it was drawn, the other draw stands alone.
  if (a.pool === req.exclude) return b;
  if (b.pool === req.exclude) return a;
  if (cost(b, req.now) < cost(a, req.now)) [a, b] = [b, a];
  // Slow start: a ramping winner keeps the request with probability equal to its weight, so it takes
  // that fraction of the share it would have when warm; the rest goes to the runner-up.
  if (req.ramping && a.rampEnd > req.now && random() >= rampWeight(a, req.now, minWeight)) return b;
  return a;
}
