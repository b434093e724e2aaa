// How fast a change in the API server reaches wharf's data plane, and how much memory wharf needs
// with 5,000 Ingresses: against the real test cluster, with wharf as a child process.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { startTestCluster, type TestCluster } from '../test/cluster/cluster.ts';
import { boundedAll, clients, createService, ingress, WatchFloor, type Clients } from './propagation/kube.ts';
import { Probe, probeUntil } from './propagation/probe.ts';
import { latencyTable, memoryTable, save, summarise, type LatencyRow, type MemoryRow, type Results, type Summary } from './propagation/report.ts';
import { createIngress, moveEndpoint, runTrials, type MoveState, type Trial, type TrialEnv } from './propagation/trials.ts';
import { startWharfProcess, type WharfProcess } from './propagation/wharf-process.ts';

const { values: opts } = parseArgs({
  options: {
    trials: { type: 'string', default: '200' },
    'scale-ingresses': { type: 'string', default: '5000' },
    'scale-services': { type: 'string', default: '1000' },
    'scale-trials': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '16' },
    quick: { type: 'boolean', default: false },
    'no-save': { type: 'boolean', default: false },
    profile: { type: 'string' },
    'heap-snapshot': { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  process.stdout.write(`npm run bench:propagation -- [--trials N] [--scale-ingresses N] [--scale-services N] [--scale-trials N]
    [--concurrency N] [--quick] [--no-save] [--profile DIR] [--heap-snapshot DIR]
  --quick           30 trials, 1,000 Ingresses over 200 Services, 10 trials at scale
  --profile DIR     run wharf under --cpu-prof; the profile is written to DIR when wharf stops
  --heap-snapshot   write a heap snapshot of wharf to DIR once the scale phase has converged
  --node-flags=...  extra flags for wharf's node, e.g. --node-flags=--max-old-space-size=160
`);
  process.exit(0);
}

const TRIALS = opts.quick ? 30 : Number(opts.trials);
const SCALE_INGRESSES = opts.quick ? 1000 : Number(opts['scale-ingresses']);
const SCALE_SERVICES = opts.quick ? 200 : Number(opts['scale-services']);
const SCALE_TRIALS = opts.quick ? 10 : Number(opts['scale-trials']);
const CONCURRENCY = Number(opts.concurrency);
const NS = 'bench';
const SCALE_NS = 'scale';
const CONVERGE_LIMIT_MS = 300_000;

const log = (msg: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Everything started is stopped in reverse order, on success, on failure and on Ctrl-C.
const teardown: Array<() => Promise<unknown> | unknown> = [];
async function cleanup(): Promise<void> {
  while (teardown.length) {
    const step = teardown.pop() as () => Promise<unknown>;
    await Promise.resolve()
      .then(step)
      .catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
}

function machine(): Record<string, string> {
  const sh = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  return {
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: sh('uname', ['-r']),
    node: process.version,
    'kube-apiserver': '1.20.2 (test/cluster, etcd 3.4), on loopback',
    wharf: sh('git', ['rev-parse', '--short', 'HEAD']) + (sh('git', ['status', '--porcelain', '--', 'src', 'controller', 'proxy']) ? ' (+ uncommitted changes)' : ''),
    'load before': sh('cat', ['/proc/loadavg']),
  };
}

function row(name: string, conditions: string, trials: readonly Trial[], targetMs?: number): LatencyRow {
  const rebuilds = trials.flatMap((t) => (t.rebuildMs === undefined ? [] : [t.rebuildMs]));
  return {
    name,
    conditions,
    wharf: summarise(trials.map((t) => t.wharf)),
    floor: summarise(trials.map((t) => t.floor)),
    applied: summarise(trials.map((t) => t.applied)),
    added: summarise(trials.map((t) => t.wharf - t.floor)),
    ...(rebuilds.length ? { rebuildMs: summarise(rebuilds) } : {}),
    ...(targetMs !== undefined ? { targetMs } : {}),
  };
}

async function probeResolution(probe: Probe, host: string, count: number): Promise<Summary> {
  const rtts: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await probe.get(host);
    rtts.push(performance.now() - t);
  }
  return summarise(rtts);
}

// The snapshot is written by wharf's main thread while it stops serving; done when its size settles.
async function snapshotWritten(dir: string): Promise<string> {
  let last = -1;
  for (let i = 0; i < 240; i++) {
    await sleep(500);
    const file = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).sort().at(-1);
    if (!file) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) return join(dir, file);
    last = size;
  }
  throw new Error(`no complete heap snapshot in ${dir} after 120 s`);
}

let failureTail: (() => string) | undefined;

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const mach = machine();
  log('starting the test cluster (kube-apiserver 1.20.2 + etcd)');
  const cluster: TestCluster = await startTestCluster();
  teardown.push(() => cluster.stop());
  const c: Clients = clients(cluster.kubeconfigPath);

  // Three "pods" on one port, told apart by their loopback address.
  const podA: EchoBackend = await startEchoBackend('pod-a', '127.0.0.2');
  teardown.push(() => podA.close());
  const podB = await startEchoBackend('pod-b', '127.0.0.3', podA.port);
  teardown.push(() => podB.close());
  const podC = await startEchoBackend('pod-c', '127.0.0.4', podA.port);
  teardown.push(() => podC.close());
  const port = podA.port;

  for (const name of [NS, SCALE_NS]) await c.core.createNamespace({ body: { metadata: { name } } });
  await c.networking.createIngressClass({ body: { metadata: { name: 'wharf' }, spec: { controller: 'wharf.dev/ingress-controller' } } });
  const moveRv = await createService(c, NS, 'move', ['127.0.0.2'], port);
  await createService(c, NS, 'target', ['127.0.0.2', '127.0.0.3'], port);
  await c.networking.createNamespacedIngress({ namespace: NS, body: ingress('move', 'move.bench.test', [{ path: '/', service: 'move' }]) });

  const nodeFlags = [
    ...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : []),
    ...(opts['heap-snapshot'] ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${opts['heap-snapshot']}`] : []),
    ...(opts['node-flags'] ? opts['node-flags'].split(/\s+/).filter(Boolean) : []),
  ];
  if (opts['heap-snapshot']) mkdirSync(opts['heap-snapshot'], { recursive: true });
  log(`starting wharf: node bin/wharf.js serve --kubeconfig ... ${nodeFlags.join(' ')}`);
  const wharf: WharfProcess = await startWharfProcess({ kubeconfig: cluster.kubeconfigPath, nodeFlags });
  teardown.push(() => wharf.stop());
  failureTail = () => wharf.tail();
  const measure = async (when: string): Promise<MemoryRow> => ({ when, ...wharf.memory(), ...(await wharf.heap()) });
  const probe = new Probe(wharf.httpPort);
  teardown.push(() => probe.close());
  await probeUntil(probe, 'move.bench.test', (a) => a.backend === 'pod-a', 10_000);
  const memory: MemoryRow[] = [await measure('started, 1 Ingress, first request routed')];
  log(`wharf pid ${wharf.pid} on :${wharf.httpPort}; ${memory[0]?.rssMiB.toFixed(1)} MiB RSS`);

  const sliceFloor = new WatchFloor(cluster.kubeconfigPath, `/apis/discovery.k8s.io/v1beta1/namespaces/${NS}/endpointslices`);
  const ingressFloor = new WatchFloor(cluster.kubeconfigPath, `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`);
  await sliceFloor.start();
  teardown.push(() => sliceFloor.stop());
  await ingressFloor.start();
  teardown.push(() => ingressFloor.stop());

  const probeRes = await probeResolution(probe, 'move.bench.test', 2000);
  log(`probe round trip through wharf: p50 ${probeRes.p50.toFixed(3)} ms, p99 ${probeRes.p99.toFixed(3)} ms`);

  const move: MoveState = {
    namespace: NS,
    service: 'move',
    host: 'move.bench.test',
    port,
    resourceVersion: moveRv,
    at: 'a',
    pods: { a: { address: '127.0.0.2', name: 'pod-a' }, b: { address: '127.0.0.3', name: 'pod-b' } },
  };
  const sliceEnv: TrialEnv = { clients: c, probe, floor: sliceFloor, lines: wharf.rebuilds };
  const ingressEnv: TrialEnv = { clients: c, probe, floor: ingressFloor, lines: wharf.rebuilds };
  let created = 0;
  const newIngress = (): Promise<Trial> => {
    const i = created++;
    return createIngress(ingressEnv, NS, `new-${i}`, `new-${i}.bench.test`, 'target');
  };
  const progress = (what: string) => (i: number) => log(`${what}: ${i} trials`);

  log('warm-up: 10 endpoint moves, 5 new Ingresses (not counted)');
  await runTrials(10, () => moveEndpoint(sliceEnv, move), () => {});
  await runTrials(5, newIngress, () => {});

  const smallEndpointConditions = `${created + 1} Ingresses, 2 Services`;
  const smallIngressConditions = `${created + 1}–${created + TRIALS} Ingresses, 2 Services`;
  log(`EndpointSlice → balancer: ${TRIALS} trials`);
  const endpointTrials = await runTrials(TRIALS, () => moveEndpoint(sliceEnv, move), progress('endpoints'));
  log(`new Ingress → routable: ${TRIALS} trials`);
  const ingressTrials = await runTrials(TRIALS, newIngress, progress('ingresses'));
  memory.push(await measure(`after the small trials (${created + 1} Ingresses)`));

  // --- Scale: SCALE_INGRESSES Ingresses over SCALE_SERVICES Services, each with a 3-endpoint slice.
  log(`scale: ${SCALE_SERVICES} Services + EndpointSlices, then ${SCALE_INGRESSES} Ingresses, ${CONCURRENCY} writes in flight`);
  let peakSampled = 0;
  const sampler = setInterval(() => (peakSampled = Math.max(peakSampled, wharf.memory().rssMiB)), 200);
  teardown.push(() => clearInterval(sampler));
  const tServices = performance.now();
  await boundedAll(SCALE_SERVICES, CONCURRENCY, (i) => createService(c, SCALE_NS, `svc-${i}`, ['127.0.0.2', '127.0.0.3', '127.0.0.4'], port));
  const servicesMs = performance.now() - tServices;
  const tIngresses = performance.now();
  let lastIndex = -1;
  await boundedAll(SCALE_INGRESSES, CONCURRENCY, async (i) => {
    const paths = [
      { path: '/', service: `svc-${i % SCALE_SERVICES}` },
      { path: '/api', service: `svc-${(i + 1) % SCALE_SERVICES}` },
    ];
    await c.networking.createNamespacedIngress({ namespace: SCALE_NS, body: ingress(`ing-${i}`, `ing-${i}.scale.test`, paths) });
    lastIndex = i;
  });
  const writtenMs = performance.now() - tIngresses;
  log(`all ${SCALE_INGRESSES} Ingresses written in ${(writtenMs / 1000).toFixed(1)} s; waiting for the last one to route`);
  const last = await probeUntil(probe, `ing-${lastIndex}.scale.test`, (a) => a.status === 200, CONVERGE_LIMIT_MS);
  const convergedMs = last.at - tIngresses;
  clearInterval(sampler);
  memory.push(await measure(`converged: ${SCALE_INGRESSES + created + 1} Ingresses, ${SCALE_SERVICES + 2} Services (before any request to them)`));
  log(`converged ${(convergedMs / 1000).toFixed(1)} s after the first write; ${memory.at(-1)?.rssMiB.toFixed(1)} MiB RSS, peak ${memory.at(-1)?.hwmMiB.toFixed(1)} MiB`);

  // Every host must route, else the convergence time above would be a lie.
  let routed = 0;
  for (let i = 0; i < SCALE_INGRESSES; i++) if ((await probe.get(`ing-${i}.scale.test`)).status === 200) routed++;
  memory.push(await measure(`after one request to each of the ${SCALE_INGRESSES} hosts (upstream pools open)`));
  log(`${routed}/${SCALE_INGRESSES} scale hosts answer 200`);

  const dir = opts['heap-snapshot'];
  if (dir) {
    log(`heap snapshot → ${dir}`);
    process.kill(wharf.pid, 'SIGUSR2');
    const file = await snapshotWritten(dir);
    log(`heap snapshot written: ${file}`);
    // Taking a snapshot runs a full GC first, so this row is close to the live heap.
    memory.push(await measure('after the heap snapshot (which runs a full GC)'));
  }

  log(`at scale: ${SCALE_TRIALS} new Ingresses, ${SCALE_TRIALS * 2} endpoint moves`);
  const scaleIngressTrials = await runTrials(SCALE_TRIALS, newIngress, () => {});
  const scaleEndpointTrials = await runTrials(SCALE_TRIALS * 2, () => moveEndpoint(sliceEnv, move), () => {});
  memory.push(await measure('end of run'));

  const fullRebuildsAtScale = wharf.rebuilds.filter((l) => l.kind === 'full' && l.hosts >= SCALE_INGRESSES).map((l) => l.ms);
  const latency: LatencyRow[] = [
    row('EndpointSlice → balancer', smallEndpointConditions, endpointTrials, 200),
    row('new Ingress → routable', smallIngressConditions, ingressTrials, 500),
    row('EndpointSlice → balancer', `${SCALE_INGRESSES}+ Ingresses, ${SCALE_SERVICES}+ Services`, scaleEndpointTrials, 200),
    row('new Ingress → routable', `${SCALE_INGRESSES}+ Ingresses, ${SCALE_SERVICES}+ Services`, scaleIngressTrials, 500),
  ];
  const peak = Math.max(...memory.map((m) => m.hwmMiB));
  const verdicts = [
    ...latency.map(
      (r) =>
        `${r.name} (${r.conditions}): p99 ${r.wharf.p99.toFixed(1)} ms, target ${r.targetMs} ms: ${r.wharf.p99 <= (r.targetMs as number) ? 'met' : 'MISSED'} ` +
        `(the API server's own delivery p99 ${r.floor.p99.toFixed(1)} ms; wharf adds p50 ${r.added.p50.toFixed(1)} / p99 ${r.added.p99.toFixed(1)} ms on top)`,
    ),
    `memory with ${SCALE_INGRESSES} Ingresses: peak VmHWM ${peak.toFixed(1)} MiB over the whole run, target < 300 MB (286.1 MiB): ${peak * 2 ** 20 < 300e6 ? 'met' : 'MISSED'}`,
    `all ${SCALE_INGRESSES} scale hosts routed: ${routed === SCALE_INGRESSES ? 'yes' : `NO (${routed})`}`,
  ];
  const results: Results = {
    date,
    machine: { ...mach, 'load after': execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim() },
    settings: { trials: TRIALS, 'scale ingresses': SCALE_INGRESSES, 'scale services': SCALE_SERVICES, 'scale trials': SCALE_TRIALS, 'write concurrency': CONCURRENCY, 'wharf node flags': nodeFlags.join(' ') || '(none)' },
    latency,
    memory,
    scale: {
      'Services + EndpointSlices written (s)': (servicesMs / 1000).toFixed(1),
      'Ingresses written (s)': (writtenMs / 1000).toFixed(1),
      'Ingress writes per second': Math.round(SCALE_INGRESSES / (writtenMs / 1000)),
      'first Ingress write → last Ingress routed (s)': (convergedMs / 1000).toFixed(1),
      'last write acknowledged → last Ingress routed (ms)': Math.round(convergedMs - writtenMs),
      'full rebuilds at full scale: n': fullRebuildsAtScale.length,
      'full rebuild at full scale p50 / max (ms, wharf log)': `${summarise(fullRebuildsAtScale).p50} / ${summarise(fullRebuildsAtScale).max}`,
      'RSS peak sampled every 200 ms while writing (MiB)': peakSampled.toFixed(1),
    },
    probe: probeRes,
    verdicts,
    raw: Object.fromEntries(
      [endpointTrials, ingressTrials, scaleEndpointTrials, scaleIngressTrials].map((t, i) => [`${latency[i]?.name} (${latency[i]?.conditions})`, t.map((x) => ({ ...x, wharf: +x.wharf.toFixed(2), floor: +x.floor.toFixed(2), applied: +x.applied.toFixed(2) }))]),
    ),
  };
  console.log('\n' + latencyTable(latency) + '\n\n' + memoryTable(memory) + '\n');
  for (const [k, v] of Object.entries(results.scale)) console.log(`${k}: ${v}`);
  console.log('');
  for (const v of verdicts) console.log(`VERDICT: ${v}`);
  if (!opts['no-save']) {
    save(new URL('./results/propagation', import.meta.url).pathname, results);
    log('wrote bench/results/propagation.md and .json');
  }
}

try {
  await main();
} catch (err) {
  console.error((err as Error).stack ?? err);
  if (failureTail) console.error(`--- wharf's last lines ---\n${failureTail()}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
