// Benchmark for translate() and the compiled router at scale: 10,000 Ingresses × 5 paths with their
// Services and EndpointSlices. Run with `node bench/translate.ts`; results are recorded in bench/translate.md.
import { availableParallelism, cpus } from 'node:os';
import { compileRouter } from '../proxy/router.ts';
import type { EndpointSlice, Ingress, Service } from '../src/model/kube.ts';
import type { Snapshot } from '../src/model/snapshot.ts';
import { translate } from '../src/translate/index.ts';

const INGRESSES = Number(process.env.BENCH_INGRESSES ?? 10_000);
const PATHS = 5;
const LOOKUPS = 1_000_000;
const options = { ingressClass: 'wharf', controllerClass: 'wharf.dev/ingress-controller' };

function buildSnapshot(): Snapshot {
  const ingresses: Ingress[] = [];
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  for (let i = 0; i < INGRESSES; i++) {
    const ns = `team-${i % 100}`;
    const name = `app-${i}`;
    const paths = [];
    for (let p = 0; p < PATHS; p++) {
      paths.push({
        path: p === 0 ? '/' : `/api/v${p}/items`,
        pathType: p % 2 === 0 ? ('Prefix' as const) : ('Exact' as const),
        backend: { service: { name, port: p === 4 ? { number: 8080 } : { name: 'http' } } },
      });
    }
    ingresses.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name, namespace: ns, creationTimestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(), annotations: i % 10 === 0 ? { 'wharf.dev/load-balance': 'least_request', 'wharf.dev/proxy-body-size': '8m' } : {} },
      spec: { ingressClassName: 'wharf', rules: [{ host: `${name}.example.com`, http: { paths } }], tls: i % 4 === 0 ? [{ hosts: [`${name}.example.com`], secretName: `${name}-tls` }] : [] },
    });
    services.push({ metadata: { name, namespace: ns }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'alt', port: 8080, targetPort: 9090 }] } });
    endpointSlices.push({
      metadata: { name: `${name}-abcde`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'alt', port: 9090, protocol: 'TCP' }],
      endpoints: [0, 1, 2].map((e) => ({ addresses: [`10.${(i >> 8) & 255}.${i & 255}.${e + 1}`], conditions: { ready: e !== 2, terminating: e === 2 } })),
    });
  }
  return { ingresses, ingressClasses: [], services, endpointSlices, endpoints: [], secrets: [], configMaps: [] };
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

const snapshot = buildSnapshot();
const runs: number[] = [];
let result = translate(snapshot, options);
for (let r = 0; r < 5; r++) {
  const t = time(() => translate(snapshot, options));
  runs.push(t.ms);
  result = t.value;
}
const compile = time(() => compileRouter(result.table));
const router = compile.value;

// A fixed mix of requests (deterministic LCG, no Math.random): routes of every kind, misses and odd hosts.
const requests: Array<[string, string]> = [];
let seed = 12345;
const next = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
};
for (let k = 0; k < 4096; k++) {
  const i = next(INGRESSES);
  const kind = next(6);
  const host = kind === 5 ? `nobody-${i}.example.org` : `app-${i}.example.com${kind === 4 ? ':443' : ''}`;
  const path = ['/', '/api/v1/items', '/api/v2/items/42/details?x=1', '/static/js/app.js', '/api/v3/items', '/api/v4/items/x'][next(6)]!;
  requests.push([host, path]);
}
let hits = 0;
const lookup = time(() => {
  for (let n = 0; n < LOOKUPS; n++) {
    const [host, path] = requests[n & 4095]!;
    if (router.match(host, path).backend !== undefined) hits++;
  }
});

const routes = result.table.hosts.reduce((sum, h) => sum + h.routes.length, 0);
const best = Math.min(...runs);
const median = [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
const rows: Array<[string, string]> = [
  ['machine', `${availableParallelism()} cpus, ${cpus()[0]?.model ?? 'unknown'}, node ${process.version}`],
  ['input', `${INGRESSES} Ingresses × ${PATHS} paths, ${snapshot.services.length} Services, ${snapshot.endpointSlices.length} EndpointSlices`],
  ['output', `${result.table.hosts.length} vhosts, ${routes} routes, ${Object.keys(result.table.backends).length} backends, ${result.certificates.length} certificates, ${result.diagnostics.length} diagnostics`],
  ['translate() best / median of 5', `${best.toFixed(1)} ms / ${median.toFixed(1)} ms`],
  ['compileRouter()', `${compile.ms.toFixed(1)} ms`],
  [`match() × ${LOOKUPS}`, `${lookup.ms.toFixed(0)} ms total, ${((lookup.ms * 1000) / LOOKUPS).toFixed(3)} µs per lookup (${hits} answered with a backend)`],
];
const width = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
if (best > 1000) {
  console.error(`translate() took ${best.toFixed(0)} ms, over the 1 s budget`);
  process.exitCode = 1;
}
