// Passive health: endpoints that fail several times in a row are ejected for a back-off that doubles
// on each repeated ejection, then come back on probation; decided from real traffic only, no probes.
import type { UpstreamEndpoint } from './upstream-endpoint.ts';

export interface PassiveHealthOptions {
  /** Consecutive failures (connect failures or exchanges that broke before a response) that eject. 0 disables. */
  maxFails: number;
  /** First ejection's length; each further ejection without a success in between doubles it. */
  baseEjectionMs: number;
  /** Cap on the doubled back-off. */
  maxEjectionMs: number;
}

// Five in a row, as Envoy's consecutive_gateway_failure: one refused connect during a rolling update
// must not eject a pod, but a dead one is out after five requests. 5 s doubling to 60 s bounds how long
// a recovered pod waits, while a pod that stays dead costs one probe request per back-off.
export const DEFAULT_PASSIVE_HEALTH: Readonly<PassiveHealthOptions> = Object.freeze({ maxFails: 5, baseEjectionMs: 5_000, maxEjectionMs: 60_000 });

export type FailureVerdict = 'counted' | 'ejected' | 'ignored';

/** Records one failure; 'ejected' means the endpoint has just left the healthy set until `ejectedUntil`. */
export function recordFailure(e: UpstreamEndpoint, now: number, opts: PassiveHealthOptions): FailureVerdict {
  // Requests that were already in flight when it was ejected say nothing new.
  if (e.ejectedUntil !== 0 || opts.maxFails <= 0) return 'ignored';
  e.consecutiveFailures++;
  if (!e.probation && e.consecutiveFailures < opts.maxFails) return 'counted';
  e.ejections++;
  e.ejectedUntil = now + ejectionMs(e.ejections, opts);
  e.consecutiveFailures = 0;
  e.probation = false;
  return 'ejected';
}

/** Records a success: the failure streak ends, and a success on probation forgets past ejections. */
export function recordSuccess(e: UpstreamEndpoint): void {
  e.consecutiveFailures = 0;
  if (e.probation) {
    e.probation = false;
    e.ejections = 0;
  }
}

/** Ends an ejection whose time is up: the endpoint takes traffic again, on probation. */
export function readmitIfDue(e: UpstreamEndpoint, now: number): boolean {
  if (e.ejectedUntil === 0 || now < e.ejectedUntil) return false;
  e.ejectedUntil = 0;
  e.probation = true;
  return true;
}

export function ejectionMs(ejections: number, opts: PassiveHealthOptions): number {
  // 2^(n-1) without overflow: past 30 doublings every sane cap has been reached long before.
  const factor = 2 ** Math.min(Math.max(ejections - 1, 0), 30);
  return Math.min(opts.baseEjectionMs * factor, opts.maxEjectionMs);
}
