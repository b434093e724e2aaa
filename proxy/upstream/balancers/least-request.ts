// least_request: the lower in-flight count of two random endpoints (Envoy's LEAST_REQUEST); reacts to
// slow or stuck endpoints within one request, with no latency bookkeeping.
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';
import { pickTwoChoices } from './two-choices.ts';
import type { Balancer, PickRequest, RandomSource } from './types.ts';

const inFlight = (e: UpstreamEndpoint): number => e.pool.active;

export class LeastRequestBalancer implements Balancer {
  private readonly random: RandomSource;
  private readonly minWeight: number;

  constructor(random: RandomSource, minWeight: number) {
    this.random = random;
    this.minWeight = minWeight;
  }

  set(_ready: readonly UpstreamEndpoint[]): void {
    // Stateless: the load lives in each endpoint's pool.
  }

  pick(req: PickRequest): UpstreamEndpoint | undefined {
    return pickTwoChoices(req, this.random, inFlight, this.minWeight);
  }
}
