// Keeps one kind in the Store in step with the API server: list, then watch from the list's
// resourceVersion; 410 Gone re-lists (replaceAll keeps the cache whole), other failures back off.
import type { Logger } from '../../src/log.ts';
import type { KubeObject } from '../../src/model/kube.ts';
import type { Store, WatchedKind } from '../store.ts';
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
  private markSynced!: () => void;
  private readonly opts: ReflectorOptions;
  private resourceVersion: string | undefined;

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
      try {
        if (this.resourceVersion === undefined) {
          this.resourceVersion = await this.list(signal);
          // failures is not reset here: only a watch that lives a while proves the server healthy.
          this.markSynced();
        }
        await this.watch(signal);
        // A watch the server ended on time resumes at once; one that ends at once is a failure in disguise.
        failures = Date.now() - started < 1_000 ? failures + 1 : 0;
      } catch (err) {
        if (signal.aborted) break;
        // The server says 410 either as the watch's HTTP status or as an ERROR event inside it.
        if (err instanceof Gone || (err instanceof ApiError && err.status === 410)) {
          this.relists++;
          this.opts.log.info('kube: resourceVersion expired (410 Gone); listing again', { kind: this.kind });
          this.resourceVersion = undefined;
          // A server that answers 410 to a fresh version must not make us list in a tight loop.
          failures = Date.now() - started < 1_000 ? failures + 1 : 0;
          if (failures === 0) continue;
        } else {
          failures++;
          this.logFailure(err as Error, failures);
        }
      }
      if (failures > 0) await sleep(backoff(failures, this.opts.backoffInitialMs, this.opts.backoffMaxMs), signal);
    }
  }

  private logFailure(e: Error, failures: number): void {
    const level = failures > 3 || (e instanceof ApiError && (e.status === 401 || e.status === 403)) ? 'error' : 'warn';
    this.opts.log[level](`kube: ${this.resourceVersion === undefined ? 'list' : 'watch'} of ${this.kind} failed; retrying`, { code: 'WHARF_E_KUBE_API', kind: this.kind, failures, err: e });
  }

  private base(): string {
    const { resource } = this.opts;
    const ns = resource.namespaced && this.opts.namespace ? `/namespaces/${encodeURIComponent(this.opts.namespace)}` : '';
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
    this.opts.store.replaceAll(this.kind, items);
    this.opts.log.debug('kube: listed', { kind: this.kind, objects: items.length, resourceVersion: version });
    return version;
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const timeout = this.opts.watchTimeoutSeconds + Math.floor(Math.random() * Math.max(1, this.opts.watchTimeoutSeconds / 5));
    this.watches++;
    const path = this.query({ watch: '1', allowWatchBookmarks: 'true', timeoutSeconds: String(timeout), resourceVersion: this.resourceVersion ?? '' });
    await this.opts.api.watch(path, (event) => this.apply(event), signal, (timeout + 30) * 1000);
  }

  private apply(event: WatchEvent): void {
    const obj = event.object as { metadata?: { resourceVersion?: string; name?: string; namespace?: string } } & Record<string, unknown>;
    if (event.type === 'ERROR') {
      const status = obj as { code?: number; message?: string; reason?: string };
      if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') throw new Gone(status.message ?? 'Gone');
      throw new ApiError(status.code ?? 0, `watch ${this.kind}: ${status.message ?? 'error event'}`, status.reason);
    }
    const version = obj.metadata?.resourceVersion;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') this.opts.store.upsert(this.kind, this.normalise(obj));
    else if (event.type === 'DELETED' && obj.metadata?.name) this.opts.store.delete(this.kind, obj.metadata.namespace, obj.metadata.name);
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
