// Side-by-side TCP benchmark of wharf's L4 forwarding against HAProxy's tcp mode on one proxy core:
// small keep-alive HTTP over the forwarded port, and 1 MiB transfers each way. Writes bench/results/tcp.{md,json}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_HOST, UPLOAD_BYTES, echoModulePath } from './http/configs.ts';
import { runWrk, type Load } from './http/drivers.ts';
import { failedRun, medianRounds, planBench, runBench } from './http/cli.ts';
import { freePort, hasCommand, installSignalCleanup, makeTempDir, sleep, startPinned, stopProcess, waitForPort, wasInterrupted, type Started } from './http/processes.ts';
import { fetchOnce, startBenchBackend, verifyTarget, type Target } from './http/targets.ts';
import { describeMachine, loadAverage } from './http/report.ts';
import { treeCpuSeconds } from './tls/cpu.ts';
import { MIB_BYTES, haproxyTcpConfig, largeFileLocation, wharfTcpManifests } from './tcp/configs.ts';
import { tcpMarkdownReport, tcpRatios, tcpResultsTable, tcpVerdict, type TcpMeasurement } from './tcp/report.ts';

const PROXY_CORE = 0;
const LOAD_CORE = 1;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(REPO, 'bench', 'results');

const HELP = `Usage: npm run bench:tcp -- [flags]

  --quick            about a minute: 3 s runs, 1 s warm-up, one round
  --seconds N        seconds per measured run (default 6, quick 3)
  --warmup N         seconds of warm-up per target and scenario (default 2, quick 1)
  --rounds N         interleaved rounds of small keep-alive, median reported (default 3, quick 1)
  --scenarios LIST   comma-separated subset of: small,download,upload
  --targets LIST     comma-separated subset of: direct,haproxy,wharf
  --no-save          print only; do not write bench/results/tcp.{md,json}
`;

interface Scenario {
  key: string;
  name: string;
  path: string;
  connections: number;
  /** Bytes each request moves, for the MiB/s column of the transfer scenarios. */
  bytes?: number;
  upload?: boolean;
}

const SCENARIOS: Scenario[] = [
  { key: 'small', name: 'small keep-alive', path: '/small', connections: 64 },
  { key: 'download', name: '1 MiB download', path: '/1m', connections: 16, bytes: MIB_BYTES },
  { key: 'upload', name: '1 MiB upload', path: '/upload', connections: 16, bytes: UPLOAD_BYTES, upload: true },
];

function ensureTools(): void {
  const missing = ['nginx', 'wrk', 'taskset', 'haproxy'].filter((c) => !hasCommand(c));
  if (missing.length > 0 || echoModulePath() === undefined) throw new Error(`missing ${missing.join(', ') || 'the nginx echo module'}; as root run: apt-get install -y nginx-light libnginx-mod-http-echo wrk haproxy`);
}

async function startHaproxy(core: number, dir: string, port: number, backendPort: number): Promise<Started> {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyTcpConfig(port, backendPort));
  const started = startPinned('haproxy', core, 'haproxy', ['-db', '-f', file]);
  await waitForPort(started, port);
  return started;
}

/** `wharf serve` over a tcp-services ConfigMap forwarding `tcpPort` to the backend; resolves once that port answers /small. */
async function startWharfTcp(core: number, backendPort: number, tcpPort: number): Promise<Started> {
  const dir = makeTempDir('tcp-manifests');
  for (const [file, yaml] of Object.entries(wharfTcpManifests(backendPort, tcpPort))) writeFileSync(join(dir, file), yaml);
  const ports = { http: await freePort(), https: await freePort(), admin: await freePort() };
  const args = [join(REPO, 'bin', 'wharf.js'), 'serve', '--manifests', dir, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1', '--tcp-services-configmap', 'bench/tcp-services'];
  args.push('--http-port', String(ports.http), '--https-port', String(ports.https), '--admin-port', String(ports.admin), '--log-level', 'warn');
  const started = startPinned('wharf', core, process.execPath, args, REPO);
  await waitForPort(started, ports.admin, 30_000);
  for (let attempt = 0; attempt < 150; attempt++) {
    const routed = await fetchOnce(tcpPort, '/small').catch(() => ({ status: 0 }));
    if (routed.status === 200) return started;
    await sleep(200);
  }
  throw new Error(`wharf's TCP port ${tcpPort} never answered /small:\n${started.output()}`);
}

/** One wrk run; the proxy's own CPU seconds during it give requests per CPU-second, which a busy machine distorts far less. */
async function measure(scenario: Scenario, target: Target, seconds: number, backendDir: string): Promise<TcpMeasurement> {
  const load: Load = { url: `http://127.0.0.1:${target.port}${scenario.path}`, host: BENCH_HOST, connections: scenario.connections, seconds };
  if (scenario.upload === true) load.uploadFile = join(backendDir, 'upload.bin');
  const pid = target.started?.child.pid;
  try {
    const cpuBefore = pid === undefined ? 0 : treeCpuSeconds(pid);
    const result = await runWrk(LOAD_CORE, load, scenario.upload === true ? join(backendDir, 'upload.lua') : undefined);
    const cpu = pid === undefined ? {} : { proxyCpuSeconds: treeCpuSeconds(pid) - cpuBefore };
    return { target: target.name, scenario: scenario.name, tool: 'wrk', ...result, ...cpu };
  } catch (err) {
    return { target: target.name, scenario: scenario.name, tool: 'wrk', ...failedRun(err, seconds) };
  }
}

async function main(): Promise<void> {
  const plan = planBench(HELP, SCENARIOS.map((s) => s.key), ['direct', 'haproxy', 'wharf'] as const, (quick) => ({ seconds: quick ? 3 : 6, warmup: quick ? 1 : 2 }));
  if (plan === undefined) return;
  const { values, seconds, warmup, rounds, scenarioKeys, targetNames } = plan;
  installSignalCleanup();
  ensureTools();
  const echoModule = echoModulePath() as string;
  const machine = describeMachine();
  const began = Date.now();

  const withLargeFile = { files: { '1m.bin': Buffer.alloc(MIB_BYTES, 'm') }, locations: largeFileLocation };
  const { dir: backendDir, port: backendPort } = await startBenchBackend('tcp backend', LOAD_CORE, echoModule, withLargeFile);

  const targets: Target[] = [];
  if (targetNames.includes('direct')) {
    const { port, started } = await startBenchBackend('direct backend', PROXY_CORE, echoModule, withLargeFile);
    targets.push({ name: 'direct', port, note: 'no proxy: a second nginx backend on the proxy core', started });
  }
  if (targetNames.includes('haproxy')) {
    const port = await freePort();
    const started = await startHaproxy(PROXY_CORE, makeTempDir('haproxy'), port, backendPort);
    targets.push({ name: 'haproxy', port, note: 'HAProxy tcp mode, nbthread 1', started });
  }
  let wharf: Started | undefined;
  if (targetNames.includes('wharf')) {
    const port = await freePort();
    wharf = await startWharfTcp(PROXY_CORE, backendPort, port);
    targets.push({ name: 'wharf', port, note: 'wharf serve --manifests with a tcp-services ConfigMap entry', started: wharf });
  }
  for (const target of targets) {
    await verifyTarget(target);
    const large = await fetchOnce(target.port, '/1m');
    if (large.status !== 200 || large.body.length !== MIB_BYTES) throw new Error(`${target.name}: /1m answered ${large.status} with ${large.body.length} bytes`);
  }

  const setup = [
    `Proxy under test (and the direct-run backend) pinned to core ${PROXY_CORE}; wrk and the proxies' nginx backend pinned to core ${LOAD_CORE}; targets measured one at a time, the others idle.`,
    `Each run: ${warmup} s warm-up per target and scenario, then ${seconds} s measured; every scenario is ${rounds} interleaved round(s) and each target's median round is reported. wrk -t1; small keep-alive 64 connections, 1 MiB transfers 16.`,
    'Backend: nginx (1 worker, access_log off); /small 19 bytes, /1m a 1 MiB file, /upload reads the whole body and answers its length. The proxies forward bytes only (no HTTP parsing).',
    `Targets: ${targets.map((t) => `${t.name} (${t.note})`).join('; ')}.`,
  ];
  process.stdout.write(`${setup.join('\n')}\n\n`);

  const measurements: TcpMeasurement[] = [];
  for (const scenario of SCENARIOS.filter((s) => scenarioKeys.includes(s.key))) {
    const byTarget = new Map<string, TcpMeasurement[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        if (round === 1 && warmup > 0) await measure(scenario, target, warmup, backendDir);
        const row = await measure(scenario, target, seconds, backendDir);
        if (wasInterrupted()) return new Promise<never>(() => {}); // interrupted: cleanup is exiting the process
        byTarget.set(target.name, [...(byTarget.get(target.name) ?? []), row]);
        const perCpu = row.proxyCpuSeconds === undefined || row.proxyCpuSeconds <= 0 ? '' : `  ${Math.round(row.requests / row.proxyCpuSeconds)}/CPU-s`;
        process.stdout.write(`${row.scenario.padEnd(18)} ${`${round}/${rounds}`.padEnd(5)} ${row.target.padEnd(8)} ${Math.round(row.rps).toString().padStart(7)} req/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms${perCpu}  errors ${row.errors}${row.detail === undefined ? '' : ` (${row.detail})`}\n`);
      }
    }
    measurements.push(...medianRounds(byTarget, targets));
  }

  if (wharf !== undefined) await stopProcess(wharf, 15_000);
  machine.loadAfter = loadAverage();
  const bytesOf = new Map(SCENARIOS.map((s) => [s.name, s.bytes]));
  const list = tcpRatios(measurements);
  const outcome = tcpVerdict(list, measurements);
  process.stdout.write(`\n${tcpResultsTable(measurements, bytesOf)}\n\n${outcome.line}\n`);
  process.stdout.write(`(total ${Math.round((Date.now() - began) / 1000)} s; load average before ${machine.loadBefore}, after ${machine.loadAfter})\n`);
  if (!values['no-save']) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'tcp.md'), tcpMarkdownReport(machine, setup, measurements, bytesOf));
    writeFileSync(join(RESULTS_DIR, 'tcp.json'), JSON.stringify({ machine, setup, seconds, warmup, rounds, measurements, ratios: list, verdict: outcome }, null, 2) + '\n');
    process.stdout.write(`wrote ${join('bench', 'results', 'tcp.md')} and tcp.json\n`);
  }
}

await runBench(main);
