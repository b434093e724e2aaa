// Admin clients for the throwaway test cluster, and what most Kubernetes tests start from:
// wharf's IngressClass, the EndpointSlice API of this apiserver, a logger that stays quiet, wharf against the API.
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { parseServeArgs } from '../../src/config/parse.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { startWharf, type StartOptions, type WharfHandle } from '../../src/main.ts';
import type { TestCluster } from '../cluster/cluster.ts';
import { LOOPBACK_ANY_PORTS } from './http.ts';

/** kube-apiserver 1.20 serves EndpointSlices only as v1beta1, which client-node reaches as custom objects. */
export const SLICES = { group: 'discovery.k8s.io', version: 'v1beta1', plural: 'endpointslices' } as const;

export interface AdminClients {
  kc: KubeConfig;
  core: CoreV1Api;
  networking: NetworkingV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  rbac: RbacAuthorizationV1Api;
}

export function adminClients(cluster: TestCluster): AdminClients {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}

/** The IngressClass `wharf` with wharf's default controller value. */
export async function createWharfClass(networking: NetworkingV1Api): Promise<void> {
  await networking.createIngressClass({ body: { metadata: { name: 'wharf' }, spec: { controller: 'wharf.dev/ingress-controller' } } });
}

export const silentLogger = (): Logger => createLogger({ level: 'error', format: 'json', write: () => {} });

/** wharf in-process against the API server `kubeconfig` names, on loopback ports the kernel picks, logging nothing unless `options.log` says otherwise. */
export function startKubeWharf(kubeconfig: string, extraArgs: readonly string[] = [], options: StartOptions = {}): Promise<WharfHandle> {
  const { config } = parseServeArgs(['--kubeconfig', kubeconfig, ...LOOPBACK_ANY_PORTS, ...extraArgs], {});
  return startWharf(config, { log: silentLogger(), ...options });
}

/**
 * A headless Service (no ClusterIP is allocated, so nothing can send to one) with port 80 named `http`,
 * and its EndpointSlice of ready loopback `addresses` on `port`: a Service whose pods the test runs.
 */
export async function createLoopbackService(core: CoreV1Api, custom: CustomObjectsApi, namespace: string, name: string, port: number, addresses: readonly string[]): Promise<void> {
  await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: port }] } } });
  await custom.createNamespacedCustomObject({
    ...SLICES,
    namespace,
    body: {
      apiVersion: 'discovery.k8s.io/v1beta1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port, protocol: 'TCP' }],
      endpoints: addresses.map((address) => ({ addresses: [address], conditions: { ready: true } })),
    },
  });
}

