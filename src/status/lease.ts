// Leader election decisions on a coordination.k8s.io/v1 Lease, as client-go's leaderelection makes
// them: pure functions of the Lease, what we observed of it and when (our clock), and who we are.

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/**
 * The holder's record as we last saw it, and when we first saw it by our own clock. Expiry is
 * measured from that moment, never from the holder's renewTime, so clock skew between nodes
 * cannot make a live lease look expired.
 */
export interface Observed {
  record: string;
  seenAtMs: number;
}

export type LeaseDecision =
  | { action: 'renew' }
  | { action: 'acquire'; reason: 'free' | 'expired' }
  | { action: 'wait'; holder: string; expiresInMs: number };

export function recordOf(spec: LeaseSpec | undefined): string {
  return JSON.stringify([spec?.holderIdentity ?? '', spec?.renewTime ?? '', spec?.acquireTime ?? '', spec?.leaseDurationSeconds ?? 0, spec?.leaseTransitions ?? 0]);
}

/** Keeps the first time we saw this exact record; any change to it restarts the clock. */
export function observe(previous: Observed | undefined, spec: LeaseSpec | undefined, nowMs: number): Observed {
  const record = recordOf(spec);
  return previous && previous.record === record ? previous : { record, seenAtMs: nowMs };
}

export function decide(spec: LeaseSpec | undefined, observed: Observed, identity: string, nowMs: number): LeaseDecision {
  const holder = spec?.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew' };
  // An empty holder is a released lease (or one never held): free to take at once.
  if (holder === '') return { action: 'acquire', reason: 'free' };
  const durationMs = Math.max(0, spec?.leaseDurationSeconds ?? 0) * 1000;
  const expiresInMs = observed.seenAtMs + durationMs - nowMs;
  if (expiresInMs <= 0) return { action: 'acquire', reason: 'expired' };
  return { action: 'wait', holder, expiresInMs };
}

/** The spec to write when we renew or take the lease; a new holder starts a new term. */
export function nextSpec(old: LeaseSpec | undefined, identity: string, durationSeconds: number, now: Date): LeaseSpec {
  const renewing = (old?.holderIdentity ?? '') === identity;
  const t = microTime(now);
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: renewing && old?.acquireTime ? old.acquireTime : t,
    renewTime: t,
    // As client-go counts: every change of holder on an existing lease is a transition.
    leaseTransitions: old === undefined ? 0 : (old.leaseTransitions ?? 0) + (renewing ? 0 : 1),
  };
}

/** What a leader writes when it stops gracefully: no holder and a 1 s term, so another replica takes over at once. */
export function releasedSpec(old: LeaseSpec | undefined, now: Date): LeaseSpec {
  const t = microTime(now);
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: t, renewTime: t, leaseTransitions: old?.leaseTransitions ?? 0 };
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits (the server rejects three). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface ElectionTiming {
  leaseDurationMs: number;
  /** How long a leader keeps trying to renew before it steps down; less than the lease, so it stops before anyone else can start. */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's usual ratios (15 s / 10 s / 2 s) rounded to thirds and fifths: 30 s gives 20 s and 6 s. */
export function electionTiming(ttlMs: number): ElectionTiming {
  return { leaseDurationMs: ttlMs, renewDeadlineMs: Math.floor((ttlMs * 2) / 3), retryPeriodMs: Math.max(100, Math.floor(ttlMs / 5)) };
}

/** Lease namespace: POD_NAMESPACE, else the --publish-service namespace, else `default`. */
export function leaseNamespace(env: Readonly<Record<string, string | undefined>>, publishServiceNamespace: string | undefined): string {
  return env.POD_NAMESPACE || publishServiceNamespace || 'default';
}

/** Identity in the Lease: POD_NAME, else hostname_pid (unique per process on one machine). */
export function leaseIdentity(env: Readonly<Record<string, string | undefined>>, hostname: string, pid: number): string {
  return env.POD_NAME || `${hostname}_${pid}`;
}
