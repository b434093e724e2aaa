// The propagation bench's side of the API server: typed clients, the objects it writes, a bounded
// concurrent writer, and the floor: a bare watch that records when each write's event arrives.
import { CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { createKubeApi, loadKubeConfig, type WatchEvent } from '../../controller/kube/api-client.ts';

export const SLICES = { group: 'discovery.k8s.io', version: 'v1beta1', plural: 'endpointslices' };

export interface Clients {
  core: CoreV1Api;
  networking: NetworkingV1Api;
  custom: CustomObjectsApi;
}

export function clients(kubeconfig: string): Clients {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { core: kc.makeApiClient(CoreV1Api), networking: kc.makeApiClient(NetworkingV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

export function ingress(name: string, host: string, paths: Array<{ path: string; service: string }>): V1Ingress {
  return {
    metadata: { name },
    spec: {
      ingressClassName: 'wharf',
      rules: [{ host, http: { paths: paths.map((p) => ({ path: p.path, pathType: 'Prefix', backend: { service: { name: p.service, port: { number: 80 } } } })) } }],
    },
  };
}

export function slice(name: string, service: string, addresses: readonly string[], port: number, resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1beta1',
    kind: 'EndpointSlice',
    metadata: { name, labels: { 'kubernetes.io/service-name': service }, ...(resourceVersion ? { resourceVersion } : {}) },
    addressType: 'IPv4',
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  };
}

/** A headless Service (no ClusterIP is allocated, so nothing could route to one) and its slice. */
export async function createService(c: Clients, namespace: string, name: string, addresses: readonly string[], port: number): Promise<string> {
  await c.core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: port }] } } });
  const created = (await c.custom.createNamespacedCustomObject({ ...SLICES, namespace, body: slice(`${name}-1`, name, addresses, port) })) as { metadata: { resourceVersion: string } };
  return created.metadata.resourceVersion;
}

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight; rejects on the first failure. */
export async function boundedAll(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * The floor: a bare watch, over the same raw HTTP client wharf uses, that records when the event of
 * each resourceVersion arrived. Nothing happens on arrival but a Map insert, so this is the API
 * server's delivery latency to a Node process on loopback, and nothing else.
 */
export class WatchFloor {
  private readonly arrivals = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly waiters = new Map<string, (at: number) => void>();
  private running: Promise<void> | undefined;
  private readonly kubeconfig: string;
  private readonly path: string;

  /** `path`: the list path of one resource, e.g. /apis/networking.k8s.io/v1/namespaces/x/ingresses. */
  constructor(kubeconfig: string, path: string) {
    this.kubeconfig = kubeconfig;
    this.path = path;
  }

  /** Lists once for a resourceVersion, then watches from it until stop(). */
  async start(): Promise<void> {
    const api = createKubeApi(loadKubeConfig(this.kubeconfig));
    const list = (await api.getJson(this.path, this.abort.signal)) as { metadata: { resourceVersion: string } };
    const onEvent = (e: WatchEvent): void => {
      const at = performance.now();
      const rv = (e.object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (!rv || e.type === 'BOOKMARK') return;
      this.arrivals.set(rv, at);
      this.waiters.get(rv)?.(at);
    };
    const sep = this.path.includes('?') ? '&' : '?';
    this.running = api
      .watch(`${this.path}${sep}watch=1&timeoutSeconds=3600&resourceVersion=${list.metadata.resourceVersion}`, onEvent, this.abort.signal, 3_700_000)
      .catch(() => undefined);
  }

  /** When the event for `rv` arrived (waits up to `limitMs` for it); undefined if it never did. */
  async arrival(rv: string, limitMs = 5_000): Promise<number | undefined> {
    const seen = this.arrivals.get(rv);
    if (seen !== undefined) return seen;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(rv);
        resolve(undefined);
      }, limitMs);
      this.waiters.set(rv, (at) => {
        clearTimeout(timer);
        this.waiters.delete(rv);
        resolve(at);
      });
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}
