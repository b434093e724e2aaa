// Leader election on a coordination.k8s.io/v1 Lease: acquire when free or expired, renew every retry
// period with optimistic concurrency, step down past the renew deadline, release on a graceful stop.
import { hostname } from 'node:os';
import type { ServeConfig } from '../src/config/parse.ts';
import type { Logger } from '../src/log.ts';
import { decide, electionTiming, leaseIdentity, leaseNamespace, nextSpec, observe, releasedSpec, type LeaseSpec, type Observed } from '../src/status/lease.ts';
import { ApiError } from './kube/api-client.ts';
import type { KubeRequester } from './kube/api-request.ts';

/** What others (status writer, event recorder) need to know about leadership. */
export interface Leadership {
  isLeader(): boolean;
  /** Called on every change; returns a function that removes the listener. */
  onChange(listener: (leader: boolean) => void): () => void;
}

export interface LeaderElectorOptions {
  api: KubeRequester;
  namespace: string;
  /** The Lease name (--election-id). */
  name: string;
  identity: string;
  /** --election-ttl; the renew deadline and retry period are derived from it. */
  leaseDurationMs: number;
  log: Logger;
  now?: () => number;
}

interface LeaseObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

export class LeaderElector implements Leadership {
  private readonly opts: LeaderElectorOptions;
  private readonly now: () => number;
  private readonly listeners = new Set<(leader: boolean) => void>();
  private readonly abort = new AbortController();
  private leader = false;
  private observed: Observed | undefined;
  private lastLease: LeaseObject | undefined;
  private lastRenewMs = 0;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Who holds the lease as far as we know (for logs and the admin API). */
  holder: string | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.loop) return;
    const { log, namespace, name, identity } = this.opts;
    log.info('leader election: started', { lease: `${namespace}/${name}`, identity, ttlMs: this.opts.leaseDurationMs });
    this.loop = this.run();
  }

  /** Stops trying; a leader releases the lease so another replica can take over without waiting for expiry. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
    if (!this.leader) return;
    this.setLeader(false, 'stopping');
    let lease = this.lastLease;
    for (let attempt = 1; lease !== undefined && attempt <= 2; attempt++) {
      try {
        await this.opts.api.request('PUT', this.path(), { ...lease, spec: releasedSpec(lease.spec, new Date(this.now())) });
        this.opts.log.info('leader election: lease released', { lease: `${this.opts.namespace}/${this.opts.name}` });
        return;
      } catch (err) {
        // A renew cut short by the stop may still have reached the server and moved the
        // resourceVersion: read the lease again and release it if it is still ours.
        if (attempt === 1 && err instanceof ApiError && err.status === 409) {
          const fresh = (await this.opts.api.request('GET', this.path()).catch(() => undefined)) as LeaseObject | undefined;
          lease = fresh?.spec?.holderIdentity === this.opts.identity ? fresh : undefined;
          continue;
        }
        // Someone else already changed it, or the server is gone: the lease simply expires.
        this.opts.log.warn('leader election: could not release the lease; it will expire', { err: err as Error });
        return;
      }
    }
  }

  private async run(): Promise<void> {
    const timing = electionTiming(this.opts.leaseDurationMs);
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const outcome = await this.tryAcquireOrRenew(signal);
      if (signal.aborted) break;
      const t = this.now();
      if (outcome === 'held') {
        this.lastRenewMs = t;
        if (!this.leader) this.setLeader(true, 'acquired');
      } else if (outcome === 'heldByOther') {
        // Someone else holds a live lease: we are certainly not the leader any more.
        if (this.leader) this.setLeader(false, `lease held by ${this.holder ?? 'another replica'}`);
      } else if (this.leader && t - this.lastRenewMs > timing.renewDeadlineMs) {
        // Past the deadline another replica may take over soon; stop acting as leader before it can.
        this.setLeader(false, 'renew deadline passed');
      }
      // Followers add jitter (as client-go does) so replicas do not all ask at the same moment.
      const wait = this.leader ? timing.retryPeriodMs : timing.retryPeriodMs * (1 + Math.random() * 0.2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.opts.namespace)}/leases/${encodeURIComponent(this.opts.name)}`;
  }

  /** One round: do we hold the lease afterwards, does another replica, or do we not know (an error)? */
  private async tryAcquireOrRenew(signal: AbortSignal): Promise<'held' | 'heldByOther' | 'failed'> {
    const { api, namespace, name, identity, log } = this.opts;
    const durationSeconds = Math.max(1, Math.round(this.opts.leaseDurationMs / 1000));
    try {
      let lease: LeaseObject | undefined;
      try {
        lease = (await api.request('GET', this.path(), undefined, signal)) as LeaseObject;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
      const nowMs = this.now();
      if (!lease) {
        const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: nextSpec(undefined, identity, durationSeconds, new Date(nowMs)) };
        this.lastLease = (await api.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`, body, signal)) as LeaseObject;
        this.holder = identity;
        return 'held';
      }
      this.observed = observe(this.observed, lease.spec, nowMs);
      this.holder = lease.spec?.holderIdentity || undefined;
      const decision = decide(lease.spec, this.observed, identity, nowMs);
      if (decision.action === 'wait') return 'heldByOther';
      if (decision.action === 'acquire') log.info('leader election: taking the lease', { lease: `${namespace}/${name}`, reason: decision.reason, previous: lease.spec?.holderIdentity || undefined });
      // resourceVersion makes this a compare-and-swap: if anyone wrote since our GET, the server answers 409.
      const body = { ...lease, spec: nextSpec(lease.spec, identity, durationSeconds, new Date(nowMs)) };
      this.lastLease = (await api.request('PUT', this.path(), body, signal)) as LeaseObject;
      this.holder = identity;
      return 'held';
    } catch (err) {
      if (signal.aborted) return 'failed';
      if (err instanceof ApiError && err.status === 409) {
        log.debug('leader election: another replica wrote the lease first', { lease: `${namespace}/${name}` });
      } else {
        log.warn('leader election: lease request failed', { code: 'WHARF_E_KUBE_API', lease: `${namespace}/${name}`, err: err as Error });
      }
      return 'failed';
    }
  }

  private setLeader(leader: boolean, why: string): void {
    if (this.leader === leader) return;
    this.leader = leader;
    const { log, namespace, name, identity } = this.opts;
    log.info(leader ? 'leader election: now the leader' : 'leader election: no longer the leader', { lease: `${namespace}/${name}`, identity, why });
    for (const l of [...this.listeners]) {
      try {
        l(leader);
      } catch (err) {
        log.error('leader election: a leadership listener failed', { err: err as Error });
      }
    }
  }
}

/** Lease name, namespace, identity and duration from the flags and the pod's downward-API variables. */
export function leaseSettings(
  config: Pick<ServeConfig, 'electionId' | 'electionTtl' | 'publishService'>,
  env: Readonly<Record<string, string | undefined>>,
): Pick<LeaderElectorOptions, 'namespace' | 'name' | 'identity' | 'leaseDurationMs'> {
  return {
    namespace: leaseNamespace(env, config.publishService?.namespace),
    name: config.electionId,
    identity: leaseIdentity(env, hostname(), process.pid),
    leaseDurationMs: config.electionTtl,
  };
}
