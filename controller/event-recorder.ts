// Reports Diagnostics as core/v1 Events on the objects they name (what `kubectl describe` shows):
// de-duplicated into one Event per problem, rate-limited per object, written async from a bounded queue.
import { hostname } from 'node:os';
import {
  EVENT_REASONS,
  eventMessage,
  eventName,
  eventNamespace,
  eventType,
  involvedObject,
  type InvolvedObject,
} from '../src/events/describe.ts';
import { BucketSet } from '../src/events/token-bucket.ts';
import type { Logger } from '../src/log.ts';
import type { WharfMetrics } from '../src/metrics.ts';
import type { Diagnostic, ObjectRef } from '../src/model/diagnostics.ts';
import { ApiError } from './kube/api-client.ts';
import type { EventsApi, KubeEvent } from './kube/events-api.ts';
import type { Store, WatchedKind } from './store.ts';

export const REPORTING_CONTROLLER = 'wharf.dev/ingress-controller';
export const SOURCE_COMPONENT = 'wharf';

export interface EventRecorderOptions {
  api: EventsApi;
  log: Logger;
  metrics: Pick<WharfMetrics, 'events'>;
  /** Only the leader writes; checked when diagnostics arrive and again before every write. */
  isLeader: () => boolean;
  /** uid and apiVersion of the named object, when the store has it (kubectl describe matches on uid). */
  lookup?: (ref: ObjectRef) => { uid?: string; apiVersion?: string } | undefined;
  /** reportingInstance; default POD_NAME, else the host name. */
  identity?: string;
  now?: () => number;
  /** A problem that persists is counted again (count+1, lastTimestamp) at most this often. */
  refreshIntervalMs?: number;
  /** Per involved object: this many writes at once, then one per `refillMs` (client-go's spam filter). */
  burst?: number;
  refillMs?: number;
  /** Writes waiting beyond this are dropped (counted), so a flood never grows memory or blocks a rebuild. */
  maxQueued?: number;
  concurrency?: number;
  /** Tries per write for transient failures (network, 429, 5xx), with doubling back-off from `backoffMs`. */
  attempts?: number;
  backoffMs?: number;
  /** How many Events (and per-object buckets) are remembered; older ones fall out least-recently-used first. */
  cacheSize?: number;
}

type Result = 'created' | 'patched' | 'dropped' | 'failed';

interface Pending {
  key: string;
  namespace: string;
  name: string;
  involved: InvolvedObject;
  reason: string;
  message: string;
  type: KubeEvent['type'];
}

export class EventRecorder {
  private readonly opts: EventRecorderOptions;
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly identity: string;
  private readonly buckets: BucketSet;
  /** Problems present at the last look, and when each was last written (or dropped). */
  private readonly active = new Map<string, number>();
  /** Events known to exist, by namespace/name, with their last known count. */
  private readonly known = new Map<string, number>();
  private readonly queue: Pending[] = [];
  /** Keys queued or being written: one write per Event at a time, extra requests coalesce. */
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private last: readonly Diagnostic[] = [];
  private ticker: ReturnType<typeof setInterval> | undefined;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private lastWarn = -Infinity;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.refreshMs = opts.refreshIntervalMs ?? 10 * 60_000;
    this.identity = (opts.identity ?? (process.env.POD_NAME || hostname())).slice(0, 128);
    this.buckets = new BucketSet({ burst: opts.burst ?? 25, refillMs: opts.refillMs ?? 5 * 60_000 }, opts.cacheSize ?? 4096);
  }

  /**
   * Looks at the problems again now and then, so one that persists while nothing changes (no
   * rebuild) is still refreshed before the API server's event TTL (1 h by default) expires it,
   * and a replica that becomes leader reports what is already wrong.
   */
  start(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.resync(), Math.max(1_000, Math.min(60_000, this.refreshMs / 10)));
    this.ticker.unref();
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.abort.abort();
    this.queue.length = 0;
    this.busy.clear();
    this.settle();
  }

  /** Called with every rebuild's diagnostics; queues what is new or due a refresh and returns at once. */
  observe(diagnostics: readonly Diagnostic[]): void {
    this.last = diagnostics;
    if (this.abort.signal.aborted) return;
    // A follower keeps no memory of what it saw: on becoming leader it reports everything present.
    if (!this.opts.isLeader()) {
      this.active.clear();
      return;
    }
    const now = this.now();
    const present = new Set<string>();
    for (const d of diagnostics) {
      const p = this.describe(d);
      if (!p || present.has(p.key)) continue;
      present.add(p.key);
      const lastWritten = this.active.get(p.key);
      if (lastWritten !== undefined && now - lastWritten < this.refreshMs) continue;
      // Set even when the write is dropped below: a dropped problem is tried again after the interval, not on every rebuild.
      this.active.set(p.key, now);
      this.enqueue(p, now);
    }
    for (const key of this.active.keys()) if (!present.has(key)) this.active.delete(key);
  }

  /** Looks at the last diagnostics again: call it on becoming leader to report what is wrong now. */
  resync(): void {
    this.observe(this.last);
  }

  /** Resolves when nothing is queued or being written (tests, and a graceful stop). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private describe(d: Diagnostic): Pending | undefined {
    const involved = involvedObject(d, this.opts.lookup?.(d.object));
    if (!involved) return undefined;
    const reason = EVENT_REASONS[d.code];
    const message = eventMessage(d);
    const namespace = eventNamespace(involved);
    const name = eventName(involved, reason, message);
    return { key: `${namespace}/${name}`, namespace, name, involved, reason, message, type: eventType(d.severity) };
  }

  private enqueue(p: Pending, now: number): void {
    if (this.busy.has(p.key)) return;
    if (this.queue.length >= (this.opts.maxQueued ?? 256)) return this.count('dropped', p, 'queue full');
    const o = p.involved;
    if (!this.buckets.take(`${o.kind}/${o.namespace ?? ''}/${o.name}/${o.uid ?? ''}`, now)) return this.count('dropped', p, 'rate limited');
    this.busy.add(p.key);
    this.queue.push(p);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < (this.opts.concurrency ?? 2) && this.queue.length > 0) {
      const p = this.queue.shift()!;
      this.inFlight++;
      void this.write(p).finally(() => {
        this.inFlight--;
        this.busy.delete(p.key);
        this.pump();
        this.settle();
      });
    }
  }

  private settle(): void {
    if (this.inFlight > 0 || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async write(p: Pending): Promise<void> {
    const attempts = this.opts.attempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      // Leadership can end while a write waits in the queue or between tries.
      if (this.abort.signal.aborted || !this.opts.isLeader()) return this.count('dropped', p, 'not leader');
      try {
        return this.count(await this.send(p), p);
      } catch (err) {
        const transient = isTransient(err);
        if (!transient || attempt >= attempts) return this.fail(p, err as Error, attempt);
        this.opts.log.debug('events: write failed; retrying', { event: p.key, attempt, err: err as Error });
        await sleep((this.opts.backoffMs ?? 500) * 2 ** (attempt - 1), this.abort.signal);
      }
    }
  }

  /** One write: patch an Event we know, else create it; an existing one (409) is read and patched. */
  private async send(p: Pending): Promise<Result> {
    const { api } = this.opts;
    const stamp = rfc3339(this.now());
    const count = this.known.get(p.key);
    if (count !== undefined) {
      try {
        this.remember(p.key, await api.patch(p.namespace, p.name, { count: count + 1, lastTimestamp: stamp }));
        return 'patched';
      } catch (err) {
        // Expired by the server's event TTL or deleted by someone: start a new one.
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        this.known.delete(p.key);
      }
    }
    const event: KubeEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: p.name, namespace: p.namespace },
      involvedObject: p.involved,
      reason: p.reason,
      message: p.message,
      type: p.type,
      source: { component: SOURCE_COMPONENT },
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      count: 1,
      reportingComponent: REPORTING_CONTROLLER,
      reportingInstance: this.identity,
    };
    try {
      this.remember(p.key, await api.create(p.namespace, event));
      return 'created';
    } catch (err) {
      // Another replica, or this one before a restart, already wrote this problem's Event.
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
    const existing = await api.get(p.namespace, p.name);
    this.remember(p.key, await api.patch(p.namespace, p.name, { count: (existing.count ?? 1) + 1, lastTimestamp: stamp }));
    return 'patched';
  }

  private remember(key: string, event: KubeEvent): void {
    this.known.delete(key);
    this.known.set(key, event.count ?? 1);
    if (this.known.size > (this.opts.cacheSize ?? 4096)) this.known.delete(this.known.keys().next().value as string);
  }

  private count(result: Result, p: Pending, why?: string): void {
    this.opts.metrics.events.inc({ result });
    this.opts.log.debug(`events: ${result}`, { event: p.key, reason: p.reason, object: `${p.involved.kind} ${p.namespace}/${p.involved.name}`, ...(why ? { why } : {}) });
  }

  // One warning a minute at most: a broken API or missing RBAC must not flood the log with one line per diagnostic.
  private fail(p: Pending, err: Error, attempts: number): void {
    this.opts.metrics.events.inc({ result: 'failed' });
    const now = this.now();
    const level = now - this.lastWarn >= 60_000 ? 'warn' : 'debug';
    if (level === 'warn') this.lastWarn = now;
    this.opts.log[level]('events: could not write an Event; giving up on this one', { code: 'WHARF_E_KUBE_API', event: p.key, attempts, err });
  }
}

/** Reads uid and apiVersion of the named object from the store (the reflector keeps both). */
export function storeLookup(store: Store): (ref: ObjectRef) => { uid?: string; apiVersion?: string } | undefined {
  return (ref) => {
    if (ref.kind === 'File') return undefined;
    const obj = store.get(ref.kind as WatchedKind, ref.namespace, ref.name);
    return obj ? { uid: obj.metadata.uid, apiVersion: obj.apiVersion } : undefined;
  };
}

/** Worth another try: no answer at all, a conflict or vanished Event mid-sequence, throttling, a server error. */
function isTransient(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true;
  return err.status === 404 || err.status === 409 || err.status === 429 || err.status >= 500;
}

/** metav1.Time: RFC 3339 with whole seconds. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
