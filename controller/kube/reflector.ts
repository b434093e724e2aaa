// Keeps one kind in the Store in step with the API server: list, then watch from the list's
// resourceVersion; 410 Gone re-lists (replaceAll keeps the cache whole), other failures back off.
import type { Logger } from '../../src/log.ts';
import type { KubeMetrics } from '../../src/metrics.ts';
import type { KubeObject } from '../../src/model/kube.ts';
import { objectKey, type Store, type WatchedKind } from '../store.ts';
import { ApiError, type KubeApi, type WatchEvent } from './api-client.ts';
import type { ResourceSpec } from './resources.ts';

export interface ReflectorOptions {
  api: KubeApi;
  resource: ResourceSpec;
  /** Namespaced kinds are read from this namespace only; cluster-scoped kinds ignore it. */
  namespace?: string;
  store: Store;
  log: Logger;
  /** Server-side watch timeout; each watch asks for a little jitter on top so they do not all end together. */
  watchTimeoutSeconds: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  pageSize: number;
  /**
   * Another reflector feeds the same kind (a Secret named by a flag outside --watch-namespace):
   * a re-list then replaces only this reflector's own objects instead of the whole kind.
   */
  sharesKind?: boolean;
  metrics?: KubeMetrics;
  /** Called when `inStep` changes. */
  onStateChange?: () => void;
}

/** Thrown when the API server no longer has the resourceVersion we asked to resume from. */
class Gone extends Error {}

export class Reflector {
  readonly kind: WatchedKind;
  /** Resolves after the first complete list is in the store. */
  readonly synced: Promise<void>;
  /** How many times a 410 Gone forced a fresh list; for logs, metrics and tests. */
  relists = 0;
  /** Watches opened so far (each server-side timeout ends one and the loop opens the next). */
  watches = 0;
  /** Failed list and watch requests (410 not included: that is a re-list, counted above). */
  readonly errors = { list: 0, watch: 0 };
  /** Listed and watching; false before the first list and while requests fail (the store keeps its last state). */
  inStep = false;
  private markSynced!: () => void;
  private readonly opts: ReflectorOptions;
  private resourceVersion: string | undefined;
  /** Keys of the objects this reflector put in the store (only tracked when it shares its kind). */
  private readonly owned = new Set<string>();

  constructor(opts: ReflectorOptions) {
    this.opts = opts;
    this.kind = opts.resource.kind;
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  /** Runs until `signal` aborts; never throws. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const started = Date.now();
      const listing = this.resourceVersion === undefined;
      try {
        if (listing) {
          this.resourceVersion = await this.list(signal);
          // failures is not reset here: only a watch that lives a while proves the server healthy.
          this.markSynced();
          this.setInStep(true);
        }
        await this.watch(signal);
        // A watch the server ended on time resumes at once; one that ends at once is a failure in disguise.
        failures = Date.now() - started < 1_000 ? failures + 1 : 0;
      } catch (err) {
        if (signal.aborted) break;
        this.setInStep(false);
        // The server says 410 either as the watch's HTTP status or as an ERROR event inside it.
        if (err instanceof Gone || (err instanceof ApiError && err.status === 410)) {
          this.relists++;
          this.opts.metrics?.relists.inc({ kind: this.kind });
          this.opts.log.info('kube: resourceVersion expired (410 Gone); listing again', { kind: this.kind });
          this.resourceVersion = undefined;
          // A 410 to an old resume point (after an outage, say) is a healthy server: list at once, so
          // the catch-up is not delayed by the outage's back-off. A 410 to the version a list has just
          // given is a server in trouble, and must not make us list in a tight loop.
          failures = listing && Date.now() - started < 1_000 ? failures + 1 : 0;
          if (failures === 0) continue;
        } else {
          failures++;
          const op = this.resourceVersion === undefined ? 'list' : 'watch';
          this.errors[op]++;
          this.opts.metrics?.apiErrors.inc({ kind: this.kind, op });
          this.logFailure(err as Error, failures);
        }
      }
      if (failures > 0) await sleep(backoff(failures, this.opts.backoffInitialMs, this.opts.backoffMaxMs), signal);
    }
  }

  private setInStep(value: boolean): void {
    if (this.inStep === value) return;
    this.inStep = value;
    this.opts.onStateChange?.();
  }

  private logFailure(e: Error, failures: number): void {
    const level = failures > 3 || (e instanceof ApiError && (e.status === 401 || e.status === 403)) ? 'error' : 'warn';
    this.opts.log[level](`kube: ${this.resourceVersion === undefined ? 'list' : 'watch'} of ${this.kind} failed; retrying`, { code: 'WHARF_E_KUBE_API', kind: this.kind, failures, err: e });
  }

  private base(): string {
    const { resource } = this.opts;
    const namespace = resource.namespace ?? this.opts.namespace;
    const ns = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${resource.groupVersionPath}${ns}/${resource.plural}`;
  }

  private query(extra: Record<string, string>): string {
    const params = new URLSearchParams(extra);
    if (this.opts.resource.fieldSelector) params.set('fieldSelector', this.opts.resource.fieldSelector);
    return `${this.base()}?${params.toString()}`;
  }

  // Pages through the list so a cluster with many Secrets is not one giant response; all pages
  // come from one snapshot, whose resourceVersion the watch then resumes from.
  private async list(signal: AbortSignal): Promise<string> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let version = '';
    do {
      const page = (await this.opts.api.getJson(this.query({ limit: String(this.opts.pageSize), ...(cont ? { continue: cont } : {}) }), signal)) as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: Array<Record<string, unknown>>;
      };
      for (const item of page.items ?? []) items.push(this.normalise(item));
      version = page.metadata?.resourceVersion ?? version;
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined && !signal.aborted);
    this.replace(items);
    this.opts.log.debug('kube: listed', { kind: this.kind, objects: items.length, resourceVersion: version });
    return version;
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const timeout = this.opts.watchTimeoutSeconds + Math.floor(Math.random() * Math.max(1, this.opts.watchTimeoutSeconds / 5));
    const path = this.query({ watch: '1', allowWatchBookmarks: 'true', timeoutSeconds: String(timeout), resourceVersion: this.resourceVersion ?? '' });
    const opened = (): void => {
      if (++this.watches > 1) this.opts.metrics?.watchRestarts.inc({ kind: this.kind });
      this.setInStep(true);
    };
    await this.opts.api.watch(path, (event) => this.apply(event), signal, (timeout + 30) * 1000, opened);
  }

  // The whole kind in one step when this reflector alone feeds it (one change, no empty moment);
  // otherwise only what it owns, so a re-list here cannot drop another reflector's objects.
  private replace(items: KubeObject[]): void {
    if (!this.opts.sharesKind) {
      this.opts.store.replaceAll(this.kind, items);
      return;
    }
    const listed = new Set(items.map(objectKey));
    for (const key of this.owned) {
      if (listed.has(key)) continue;
      const slash = key.indexOf('/');
      this.opts.store.delete(this.kind, key.slice(0, slash) || undefined, key.slice(slash + 1));
    }
    for (const item of items) this.opts.store.upsert(this.kind, item);
    this.owned.clear();
    for (const key of listed) this.owned.add(key);
  }

  private apply(event: WatchEvent): void {
    const obj = event.object as { metadata?: { resourceVersion?: string; name?: string; namespace?: string } } & Record<string, unknown>;
    if (event.type === 'ERROR') {
      const status = obj as { code?: number; message?: string; reason?: string };
      if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') throw new Gone(status.message ?? 'Gone');
      throw new ApiError(status.code ?? 0, `watch ${this.kind}: ${status.message ?? 'error event'}`, status.reason);
    }
    const version = obj.metadata?.resourceVersion;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const item = this.normalise(obj);
      this.opts.store.upsert(this.kind, item);
      if (this.opts.sharesKind) this.owned.add(objectKey(item));
    } else if (event.type === 'DELETED' && obj.metadata?.name) {
      this.opts.store.delete(this.kind, obj.metadata.namespace, obj.metadata.name);
      this.owned.delete(`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`);
    }
    // Bookmarks carry only a resourceVersion: a cheaper resume point after a quiet spell.
    if (version) this.resourceVersion = version;
  }

  // List items come without kind and apiVersion; managedFields is bulky and never read.
  private normalise(item: Record<string, unknown>): KubeObject {
    const metadata = { ...(item.metadata as Record<string, unknown>) };
    delete metadata.managedFields;
    return { ...item, apiVersion: this.opts.resource.apiVersion, kind: this.kind, metadata } as unknown as KubeObject;
  }
}

export function backoff(failures: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 20));
  // Full jitter in the upper half: spreads many controllers out without ever retrying at once.
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
