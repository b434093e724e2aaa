// Times each step of one full rebuild in-process, on objects shaped like the propagation bench's
// scale phase: store.snapshot(), translate(), compileRouter(), dataplane.apply(), and the heap each leaves.
// Usage: node --expose-gc bench/propagation/rebuild-cost.ts [INGRESSES] [SERVICES] [ROUNDS]
import { getHeapStatistics } from 'node:v8';
import { Store } from '../../controller/store.ts';
import { Dataplane } from '../../proxy/dataplane.ts';
import { compileRouter } from '../../proxy/router.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { KubeObject } from '../../src/model/kube.ts';
import { generateDefaultCertificate } from '../../src/tls/default-certificate.ts';
import { translate } from '../../src/translate/index.ts';

const INGRESSES = Number(process.argv[2] ?? 5000);
const SERVICES = Number(process.argv[3] ?? 1000);
const ROUNDS = Number(process.argv[4] ?? 6);
const gc = (globalThis as { gc?: () => void }).gc;

// What the API server hands back (metadata as a real list returns it, managedFields dropped as the reflector does).
function meta(ns: string, name: string, i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, namespace: ns, uid: `0b6f8a1c-8d7e-4b1a-9c1e-${String(i).padStart(12, '0')}`, resourceVersion: String(1000 + i), generation: 1, creationTimestamp: '2026-11-22T06:20:00Z', ...extra };
}

const store = new Store();
store.upsert('IngressClass', { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: meta('', 'wharf', 0), spec: { controller: 'wharf.dev/ingress-controller' } } as unknown as KubeObject);
for (let i = 0; i < SERVICES; i++) {
  store.upsert('Service', { apiVersion: 'v1', kind: 'Service', metadata: meta('scale', `svc-${i}`, i), spec: { clusterIP: 'None', clusterIPs: ['None'], type: 'ClusterIP', sessionAffinity: 'None', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 40000 }] }, status: { loadBalancer: {} } } as unknown as KubeObject);
  store.upsert('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1beta1',
    kind: 'EndpointSlice',
    metadata: meta('scale', `svc-${i}-1`, i, { labels: { 'kubernetes.io/service-name': `svc-${i}` } }),
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 40000, protocol: 'TCP' }],
    endpoints: ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((a) => ({ addresses: [a], conditions: { ready: true } })),
  } as unknown as KubeObject);
}
for (let i = 0; i < INGRESSES; i++) {
  const paths = [
    { path: '/', pathType: 'Prefix', backend: { service: { name: `svc-${i % SERVICES}`, port: { number: 80 } } } },
    { path: '/api', pathType: 'Prefix', backend: { service: { name: `svc-${(i + 1) % SERVICES}`, port: { number: 80 } } } },
  ];
  store.upsert('Ingress', { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: meta('scale', `ing-${i}`, i), spec: { ingressClassName: 'wharf', rules: [{ host: `ing-${i}.scale.test`, http: { paths } }] }, status: { loadBalancer: {} } } as unknown as KubeObject);
}

const log = createLogger({ level: 'error', format: 'json', write: () => {} });
const dataplane = new Dataplane({ log, metrics: createMetrics(), defaultCertificate: await generateDefaultCertificate() });
const options = { ingressClass: 'wharf', controllerClass: 'wharf.dev/ingress-controller' };
const mib = (): number => process.memoryUsage().heapUsed / 2 ** 20;

gc?.();
console.log(`${INGRESSES} Ingresses, ${SERVICES} Services; heap with the store filled: ${mib().toFixed(1)} MiB${gc ? '' : ' (run with --expose-gc for exact heap figures)'}`);
const rows: Array<Record<string, number>> = [];
for (let round = 0; round < ROUNDS; round++) {
  // Every full rebuild starts from a changed store, so the snapshot is rebuilt too.
  store.upsert('Ingress', { ...(store.get('Ingress', 'scale', 'ing-0') as KubeObject), metadata: meta('scale', 'ing-0', 0, { resourceVersion: String(900000 + round) }) } as unknown as KubeObject);
  gc?.();
  const h0 = mib();
  const t0 = performance.now();
  const snapshot = store.snapshot();
  const t1 = performance.now();
  const result = translate(snapshot, options);
  const t2 = performance.now();
  compileRouter(result.table);
  const t3 = performance.now();
  const h3 = mib();
  dataplane.apply(result.table, [], undefined);
  const t4 = performance.now();
  const mem = process.memoryUsage();
  rows.push({ snapshot: t1 - t0, translate: t2 - t1, compileRouter: t3 - t2, 'apply (compiles again)': t4 - t3, 'allocated MiB (before GC)': h3 - h0, 'heap total MiB': mem.heapTotal / 2 ** 20, 'RSS MiB': mem.rss / 2 ** 20 });
}
console.log('round 0 is the warm-up; apply() compiles its own router, so compileRouter is counted once in it and once alone');
console.log(`peak RSS (VmHWM) ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; V8 heap limit ${(getHeapStatistics().heap_size_limit / 2 ** 20).toFixed(0)} MiB${gc ? '' : '; no --expose-gc, so V8 collects on its own schedule as in wharf'}`);
console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 10) / 10]))));
