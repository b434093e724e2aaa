// A source that lists and watches the Kubernetes API for every kind wharf reads, feeding the Store.
// start() resolves once every kind has been listed (the synced gate); stop() ends every watch.
import type { NamespacedName } from '../src/config/parse.ts';
import { WharfError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import type { KubeMetrics } from '../src/metrics.ts';
import { createKubeApi, loadKubeConfig, type KubeApi } from './kube/api-client.ts';
import { Reflector } from './kube/reflector.ts';
import { discoverEndpointsApi, watchedResources, type EndpointsApi } from './kube/resources.ts';
import type { Store, WatchedKind } from './store.ts';

export interface KubeSourceOptions {
  /** Kubeconfig file; without it, the in-cluster service account. */
  kubeconfig?: string;
  store: Store;
  log: Logger;
  /** --watch-namespace: namespaced kinds only from here (IngressClasses are cluster-wide). */
  namespace?: string;
  /** Server-side watch timeout; real clusters want minutes, tests a second or two. */
  watchTimeoutSeconds?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** How many times discovery is tried before start() gives up with a clear error. */
  discoveryAttempts?: number;
  /** The only ConfigMaps read (--tcp-services-configmap, --udp-services-configmap), each from its own namespace. */
  configMaps?: readonly NamespacedName[];
  /** --default-ssl-certificate: read from its namespace even when --watch-namespace names another. */
  defaultCertificate?: NamespacedName;
  metrics?: KubeMetrics;
}

/** Per kind, summed over its reflectors. */
export interface KindStats {
  relists: number;
  watches: number;
  errors: { list: number; watch: number };
  /** Every reflector of the kind listed and watching. */
  inStep: boolean;
}

export class KubeSource {
  private readonly opts: KubeSourceOptions;
  private readonly abort = new AbortController();
  private reflectors: Reflector[] = [];
  private api: KubeApi | undefined;
  /** Which API the endpoints come from, once discovered. */
  endpointsApi: EndpointsApi | undefined;

  constructor(opts: KubeSourceOptions) {
    this.opts = opts;
  }

  get server(): string | undefined {
    return this.api?.server;
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    const api = (this.api = createKubeApi(loadKubeConfig(this.opts.kubeconfig)));
    const signal = this.abort.signal;
    this.endpointsApi = await this.discover(api, signal);
    const configMaps = (this.opts.configMaps ?? []).map((c) => `${c.namespace}/${c.name}`);
    log.info('kube: watching the API server', { server: api.server, endpoints: this.endpointsApi, namespace: this.opts.namespace ?? '(all)', configMaps });
    const resources = watchedResources(this.endpointsApi, { watchNamespace: this.opts.namespace, configMaps: this.opts.configMaps, defaultCertificate: this.opts.defaultCertificate });
    const perKind = new Map<string, number>();
    for (const r of resources) perKind.set(r.kind, (perKind.get(r.kind) ?? 0) + 1);
    this.reflectors = resources.map(
      (resource) =>
        new Reflector({
          api,
          resource,
          namespace: this.opts.namespace,
          store: this.opts.store,
          log,
          watchTimeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
          backoffInitialMs: this.opts.backoffInitialMs ?? 500,
          backoffMaxMs: this.opts.backoffMaxMs ?? 30_000,
          pageSize: 500,
          sharesKind: (perKind.get(resource.kind) ?? 0) > 1,
          metrics: this.opts.metrics,
          onStateChange: () => this.reportInStep(resource.kind),
        }),
    );
    for (const kind of perKind.keys()) this.reportInStep(kind as WatchedKind);
    for (const r of this.reflectors) void r.run(signal);
    const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([Promise.all(this.reflectors.map((r) => r.synced)), stopped]);
    if (signal.aborted) throw new WharfError('WHARF_E_KUBE_API', 'stopped before the first list of every kind completed');
    log.info('kube: initial list complete', { kinds: this.reflectors.map((r) => r.kind) });
  }

  stop(): void {
    this.abort.abort();
  }

  /** Watch events arrive on their own; there is nothing to wait for (kept for the source interface). */
  settled(): Promise<void> {
    return Promise.resolve();
  }

  /** Per kind: 410 re-lists, watches opened, failed requests, and whether it is in step (logs, admin API, tests). */
  stats(): Partial<Record<WatchedKind, KindStats>> {
    const out: Partial<Record<WatchedKind, KindStats>> = {};
    for (const r of this.reflectors) {
      const s = (out[r.kind] ??= { relists: 0, watches: 0, errors: { list: 0, watch: 0 }, inStep: true });
      s.relists += r.relists;
      s.watches += r.watches;
      s.errors.list += r.errors.list;
      s.errors.watch += r.errors.watch;
      s.inStep &&= r.inStep;
    }
    return out;
  }

  // One gauge per kind, though a kind may have several reflectors (a named Secret beside the TLS watch).
  private reportInStep(kind: WatchedKind): void {
    const mine = this.reflectors.filter((r) => r.kind === kind);
    if (mine.length === 0) return;
    this.opts.metrics?.synced.set({ kind }, mine.every((r) => r.inStep) ? 1 : 0);
  }

  // An unreachable server or refused credentials at start are almost always a configuration
  // mistake, so a few bounded tries and then a clear error beat waiting silently forever.
  private async discover(api: KubeApi, signal: AbortSignal): Promise<EndpointsApi> {
    const attempts = this.opts.discoveryAttempts ?? 5;
    let last: Error | undefined;
    for (let i = 1; i <= attempts && !signal.aborted; i++) {
      try {
        return await discoverEndpointsApi(api, signal);
      } catch (err) {
        last = err as Error;
        this.opts.log.warn('kube: API discovery failed; retrying', { server: api.server, attempt: i, err: last });
        if (i < attempts) await new Promise((r) => setTimeout(r, Math.min(8_000, 500 * 2 ** (i - 1))));
      }
    }
    throw new WharfError('WHARF_E_KUBE_API', `cannot reach the Kubernetes API at ${api.server}: ${last?.message ?? 'stopped'}; check --kubeconfig, the network and the credentials`);
  }
}
