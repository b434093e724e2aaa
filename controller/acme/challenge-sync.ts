// Shares pending ACME challenges between replicas through one ConfigMap: the ordering replica
// writes each key authorization there, and every replica watches it into its ChallengeBook.
import type { ChallengeBook } from '../../src/acme/challenge-book.ts';
import type { NamespacedName } from '../../src/config/parse.ts';
import type { Logger } from '../../src/log.ts';
import type { ConfigMap } from '../../src/model/kube.ts';
import { ApiError, type KubeApi } from '../kube/api-client.ts';
import { Reflector } from '../kube/reflector.ts';
import { Store } from '../store.ts';
import type { AcmeObjectsApi } from './kube-objects.ts';

export interface ChallengeSyncOptions {
  api: AcmeObjectsApi;
  kube: KubeApi;
  configMap: NamespacedName;
  book: ChallengeBook;
  log: Logger;
  watchTimeoutSeconds?: number;
}

export class ChallengeSync {
  private readonly opts: ChallengeSyncOptions;
  private readonly store = new Store();
  private reflector: Reflector | undefined;

  constructor(opts: ChallengeSyncOptions) {
    this.opts = opts;
  }

  /** Lists then watches the one ConfigMap (field selector on its name); resolves once listed. */
  start(signal: AbortSignal): Promise<void> {
    const { configMap, book, log } = this.opts;
    this.store.onChange(() => {
      const cm = this.store.get('ConfigMap', configMap.namespace, configMap.name) as ConfigMap | undefined;
      void book.replaceShared(cm?.data).catch((err: unknown) => log.warn('acme: cannot build a TLS-ALPN-01 challenge certificate', { code: 'WHARF_E_ACME', err: err as Error }));
    });
    this.reflector = new Reflector({
      api: this.opts.kube,
      resource: { kind: 'ConfigMap', apiVersion: 'v1', groupVersionPath: '/api/v1', plural: 'configmaps', namespaced: true, fieldSelector: `metadata.name=${configMap.name}` },
      namespace: configMap.namespace,
      store: this.store,
      log,
      watchTimeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
      backoffInitialMs: 500,
      backoffMaxMs: 30_000,
      pageSize: 10,
    });
    void this.reflector.run(signal);
    return this.reflector.synced;
  }

  /**
   * Answers locally at once, then shares the entry. A failed write is logged, not thrown: this
   * replica still answers, and the ACME server may well reach it.
   */
  async publish(key: string, keyAuthorization: string): Promise<void> {
    await this.opts.book.putLocal(key, keyAuthorization);
    try {
      await this.write({ [key]: keyAuthorization });
    } catch (err) {
      this.opts.log.warn('acme: cannot share a pending challenge with the other replicas; only this one answers it', { code: 'WHARF_E_ACME', configMap: this.name(), err: err as Error });
    }
  }

  async withdraw(key: string): Promise<void> {
    this.opts.book.removeLocal(key);
    try {
      await this.opts.api.patch('configmaps', this.opts.configMap.namespace, this.opts.configMap.name, { data: { [key]: null } });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) this.opts.log.warn('acme: cannot remove a finished challenge from the shared ConfigMap', { code: 'WHARF_E_ACME', configMap: this.name(), err: err as Error });
    }
  }

  /**
   * Removes shared entries that no order of this replica owns: leftovers of a leader that died
   * mid-order. Called by the leader before it orders, when only its own orders can be in flight.
   */
  async prune(): Promise<number> {
    const { configMap, book } = this.opts;
    try {
      // Read afresh: the watch may not have listed yet right after a start.
      const cm = await this.opts.api.get<ConfigMap>('configmaps', configMap.namespace, configMap.name);
      const mine = new Set(book.localKeys());
      const stale = Object.keys(cm?.data ?? {}).filter((k) => !mine.has(k));
      if (stale.length === 0) return 0;
      await this.opts.api.patch('configmaps', configMap.namespace, configMap.name, { data: Object.fromEntries(stale.map((k) => [k, null])) });
      this.opts.log.info('acme: removed challenges left by an earlier order', { configMap: this.name(), removed: stale.length });
      return stale.length;
    } catch (err) {
      this.opts.log.warn('acme: cannot remove challenges left by an earlier order', { code: 'WHARF_E_ACME', configMap: this.name(), err: err as Error });
      return 0;
    }
  }

  private async write(data: Record<string, string>): Promise<void> {
    const { api, configMap } = this.opts;
    try {
      await api.patch('configmaps', configMap.namespace, configMap.name, { data });
      return;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    try {
      await api.create<ConfigMap>('configmaps', configMap.namespace, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: configMap.name, namespace: configMap.namespace, labels: { 'app.kubernetes.io/managed-by': 'wharf' } }, data });
    } catch (err) {
      // Created meanwhile by someone else: patch into theirs.
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      await api.patch('configmaps', configMap.namespace, configMap.name, { data });
    }
  }

  private name(): string {
    return `${this.opts.configMap.namespace}/${this.opts.configMap.name}`;
  }
}
