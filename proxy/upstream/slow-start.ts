// Slow start: an endpoint that becomes ready on a running backend takes a share that grows linearly
// from a floor to its full share over a window, so cold caches and JITs are not hit with a full load.
import type { UpstreamEndpoint } from './upstream-endpoint.ts';

export interface SlowStartOptions {
  /** Length of the ramp; 0 disables slow start. */
  windowMs: number;
  /** Share at the start of the ramp, relative to a warm endpoint (0..1). */
  minWeight: number;
}

export const DEFAULT_SLOW_START: Readonly<SlowStartOptions> = Object.freeze({ windowMs: 30_000, minWeight: 0.1 });

export function startRamp(e: UpstreamEndpoint, now: number, opts: SlowStartOptions): void {
  if (opts.windowMs <= 0) return;
  e.rampStart = now;
  e.rampEnd = now + opts.windowMs;
}

/**
 * The endpoint's weight at `now`: 1 once warm, else linear from `minWeight` to 1. Callers check
 * `rampEnd > now` first, so warm endpoints never pay for the division.
 */
export function rampWeight(e: UpstreamEndpoint, now: number, minWeight: number): number {
  if (now >= e.rampEnd) return 1;
  const progress = (now - e.rampStart) / (e.rampEnd - e.rampStart);
  return minWeight + (1 - minWeight) * Math.max(progress, 0);
}
