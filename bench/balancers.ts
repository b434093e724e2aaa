// Measures BackendRuntime.pick() per algorithm, and the pick context the dataplane builds per request.
// Prints ns/pick; run with `node bench/balancers.ts` (ITERATIONS to change the bounded loop length).
import { cpus } from 'node:os';
import type { RequestHead } from '../proxy/http1/types.ts';
import { BackendRuntime, type PickedEndpoint } from '../proxy/upstream/backend-runtime.ts';
import type { Backend, BalancePolicy } from '../src/model/table.ts';

const ITERATIONS = Number(process.env.ITERATIONS ?? 2_000_000);
const WARMUP = Math.min(200_000, ITERATIONS);

function backend(n: number, balance: BalancePolicy): Backend {
  const endpoints = Array.from({ length: n }, (_, i) => ({ address: `10.1.${i >> 8}.${i & 255}`, port: 8080, ready: true, terminating: false }));
  return { key: 'bench/web:80', service: { namespace: 'bench', name: 'web', port: 80 }, protocol: 'HTTP', balance, endpoints };
}

const HEAD: RequestHead = {
  method: 'GET', target: '/api/orders', path: '/api/orders', query: '', absoluteHost: undefined, versionMinor: 1,
  headers: ['Host', 'shop.example', 'User-Agent', 'bench', 'Accept', '*/*', 'X-User', 'user-1234', 'Cookie', 'session=3f2a; theme=dark'],
  host: 'shop.example', contentLength: undefined, chunked: false, keepAlive: true, upgrade: undefined, expectContinue: false, connectionTokens: [],
};

function measure(name: string, rt: BackendRuntime, withContext = false): void {
  let sink = 0;
  const read = rt.pickContextOf;
  const once = (): void => {
    const ctx = withContext && read !== undefined ? read(HEAD, '192.0.2.10') : undefined;
    sink += (rt.pick(undefined, ctx) as PickedEndpoint).endpoint.port;
  };
  for (let i = 0; i < WARMUP; i++) once();
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) once();
  const ns = Number(process.hrtime.bigint() - started) / ITERATIONS;
  console.log(`${name.padEnd(52)} ${ns.toFixed(1).padStart(7)} ns/pick${sink === 0 ? ' ' : ''}`);
}

console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, ${ITERATIONS} picks per line`);
// The plain path first, while the call site in measure() still sees one shape.
for (const n of [3, 50]) measure(`round_robin, ${n} endpoints (plain path)`, new BackendRuntime(backend(n, { algorithm: 'round_robin' })));
for (const n of [3, 50]) {
  const ramping = new BackendRuntime(backend(n, { algorithm: 'round_robin' }));
  ramping.setEndpoints(backend(n + 1, { algorithm: 'round_robin' }));
  measure(`round_robin, ${n}+1 endpoints, one ramping`, ramping);
  measure(`least_request, ${n} endpoints`, new BackendRuntime(backend(n, { algorithm: 'least_request' })));
  measure(`ewma, ${n} endpoints`, new BackendRuntime(backend(n, { algorithm: 'ewma' })));
  measure(`hash by $http_x_user, ${n} endpoints (with key read)`, new BackendRuntime(backend(n, { algorithm: 'hash', hashBy: '$http_x_user' })), true);
  measure(`round_robin + cookie affinity, ${n} (no cookie: assigns)`, new BackendRuntime(backend(n, { algorithm: 'round_robin', affinity: { cookieName: 'route' } })), true);
}
