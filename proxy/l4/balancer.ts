// Picks an endpoint of a backend for one L4 connection or UDP flow: round robin over ready endpoints,
// or least active connections for `least_request`. One instance per backend key, shared by its listeners.
import type { Backend, Endpoint } from '../../src/model/table.ts';

/** Ready endpoints of one version of a backend; backends are immutable, so this is computed once per version. */
const readyOf = new WeakMap<Backend, readonly Endpoint[]>();

export function readyEndpoints(backend: Backend): readonly Endpoint[] {
  let ready = readyOf.get(backend);
  if (ready === undefined) {
    // An ExternalName Service is one endpoint named by DNS; net.connect resolves it per connection.
    ready =
      backend.externalName !== undefined && backend.externalPort !== undefined
        ? [{ address: backend.externalName, port: backend.externalPort, ready: true, terminating: false }]
        : backend.endpoints.filter((e) => e.ready);
    readyOf.set(backend, ready);
  }
  return ready;
}

export function endpointId(e: Endpoint): string {
  return `${e.address}|${e.port}`;
}

export class L4Balancer {
  private turn = 0;
  /** Open connections (or flows) per endpoint id; entries go away at zero. */
  private readonly active = new Map<string, number>();

  /** The next endpoint not in `tried`, or undefined when none is left. */
  pick(backend: Backend, tried: readonly Endpoint[] | undefined): Endpoint | undefined {
    const ready = readyEndpoints(backend);
    const n = ready.length;
    if (n === 0) return undefined;
    const start = this.turn++ % n;
    if (this.turn >= 0x3fffffff) this.turn = 0;
    if (backend.balance.algorithm === 'least_request') return this.leastActive(ready, start, tried);
    for (let i = 0; i < n; i++) {
      const e = ready[(start + i) % n] as Endpoint;
      if (tried === undefined || !tried.includes(e)) return e;
    }
    return undefined;
  }

  /** Fewest open connections; ties go to the first in turn order, so equal loads still rotate. */
  private leastActive(ready: readonly Endpoint[], start: number, tried: readonly Endpoint[] | undefined): Endpoint | undefined {
    let best: Endpoint | undefined;
    let bestCount = Infinity;
    for (let i = 0; i < ready.length; i++) {
      const e = ready[(start + i) % ready.length] as Endpoint;
      if (tried !== undefined && tried.includes(e)) continue;
      const count = this.active.get(endpointId(e)) ?? 0;
      if (count < bestCount) {
        best = e;
        bestCount = count;
      }
    }
    return best;
  }

  acquire(id: string): void {
    this.active.set(id, (this.active.get(id) ?? 0) + 1);
  }

  release(id: string): void {
    const count = (this.active.get(id) ?? 0) - 1;
    if (count > 0) this.active.set(id, count);
    else this.active.delete(id);
  }

  activeOn(id: string): number {
    return this.active.get(id) ?? 0;
  }
}
