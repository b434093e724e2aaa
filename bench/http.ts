// Side-by-side HTTP benchmark of wharf against nginx on one proxy core: starts an nginx backend, nginx
// as the peer proxy and wharf, drives each with wrk/autocannon and writes bench/results/latest.{md,json}.
// Run with `npm run bench:http` (add `-- --quick` for a one-minute run, `-- --help` for the flags).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_HOST, echoModulePath, peerProxyConfig } from './http/configs.ts';
import { runAutocannon, runNewConnections, runWrk, type Load, type Measurement } from './http/drivers.ts';
import { failedRun, medianRounds, planBench, runBench } from './http/cli.ts';
import { freePort, hasCommand, installSignalCleanup, makeTempDir, stopProcess, wasInterrupted, type Started } from './http/processes.ts';
import { startBenchBackend, startNginx, startWharf, verifyTarget, type Target } from './http/targets.ts';
import { describeMachine, loadAverage, markdownReport, ratios, ratiosTable, resultsTable, verdict } from './http/report.ts';

const PROXY_CORE = 0;
const LOAD_CORE = 1;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(REPO, 'bench', 'results');
const NEW_CONNECTION_RATE = 1000;

const HELP = `Usage: npm run bench:http -- [flags]

  --quick            about one minute: 3 s runs, 1 s warm-up, one tool per scenario except small keep-alive
  --seconds N        seconds per measured run (default 6, quick 3)
  --warmup N         seconds of warm-up per target and scenario (default 2, quick 1)
  --rounds N         interleaved rounds of small keep-alive with wrk, median reported (default 3, quick 1)
  --scenarios LIST   comma-separated subset of: small,64k,upload,newconn
  --targets LIST     comma-separated subset of: direct,nginx,wharf
  --profile DIR      run wharf with --cpu-prof, writing the profile to DIR when it stops
  --no-save          print only; do not write bench/results/latest.{md,json}
`;

type Tool = 'wrk' | 'autocannon' | 'newconn';
interface Scenario {
  key: string;
  name: string;
  path: string;
  connections: number;
  tools: Tool[];
  upload?: boolean;
}

const SCENARIOS: Scenario[] = [
  { key: 'small', name: 'small keep-alive', path: '/small', connections: 64, tools: ['wrk', 'autocannon'] },
  { key: '64k', name: '64 KiB keep-alive', path: '/64k', connections: 64, tools: ['wrk', 'autocannon'] },
  { key: 'upload', name: '1 MiB upload', path: '/upload', connections: 16, tools: ['wrk', 'autocannon'], upload: true },
  { key: 'newconn', name: `new connections ${NEW_CONNECTION_RATE}/s`, path: '/small', connections: 0, tools: ['newconn'] },
];

function ensureTools(): void {
  const missing = ['nginx', 'wrk', 'taskset'].filter((c) => !hasCommand(c));
  if (missing.length === 0 && echoModulePath() !== undefined) return;
  if (process.getuid?.() !== 0) throw new Error(`missing ${missing.join(', ') || 'the nginx echo module'}; as root run: apt-get update && apt-get install -y nginx-light wrk`);
  process.stderr.write('bench: installing nginx-light and wrk\n');
  execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', 'nginx-light', 'wrk', 'libnginx-mod-http-echo'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** One warm-up (when `warmupSeconds` > 0) and one measured run; undefined when the bench was interrupted. */
async function runOne(scenario: Scenario, tool: Tool, target: Target, warmupSeconds: number, seconds: number, backendDir: string): Promise<Measurement | undefined> {
  const load: Load = { url: `http://127.0.0.1:${target.port}${scenario.path}`, host: BENCH_HOST, connections: scenario.connections, seconds };
  if (scenario.upload === true) load.uploadFile = join(backendDir, 'upload.bin');
  const uploadScript = join(backendDir, 'upload.lua');
  let result: Omit<Measurement, 'target' | 'scenario' | 'tool'>;
  try {
    if (warmupSeconds > 0) await measure(tool, { ...load, seconds: warmupSeconds }, uploadScript);
    result = await measure(tool, load, uploadScript);
  } catch (err) {
    if (wasInterrupted()) return undefined;
    result = failedRun(err, seconds);
  }
  return { target: target.name, scenario: scenario.name, tool, ...result };
}

async function measure(tool: Tool, load: Load, uploadScript: string): Promise<Omit<Measurement, 'target' | 'scenario' | 'tool'>> {
  if (tool === 'wrk') return runWrk(LOAD_CORE, load, load.uploadFile === undefined ? undefined : uploadScript);
  if (tool === 'autocannon') return runAutocannon(LOAD_CORE, load);
  return runNewConnections(LOAD_CORE, load, NEW_CONNECTION_RATE);
}

async function main(): Promise<void> {
  const plan = planBench(HELP, SCENARIOS.map((s) => s.key), ['direct', 'nginx', 'wharf'] as const, (quick) => ({ seconds: quick ? 3 : 6, warmup: quick ? 1 : 2 }));
  if (plan === undefined) return;
  const { values, seconds, warmup, rounds, scenarioKeys, targetNames } = plan;
  const scenarios = SCENARIOS.filter((s) => scenarioKeys.includes(s.key)).map((s) => (values.quick && s.key !== 'small' ? { ...s, tools: s.tools.slice(0, 1) } : s));

  installSignalCleanup();
  ensureTools();
  const echoModule = echoModulePath();
  if (echoModule === undefined) throw new Error('the nginx echo module is missing (apt-get install -y libnginx-mod-http-echo)');
  const machine = describeMachine();
  const began = Date.now();

  // Backends: one on the load core for the proxies, one on the proxy core for the direct runs.
  const { dir: backendDir, port: backendPort } = await startBenchBackend('backend', LOAD_CORE, echoModule);

  const targets: Target[] = [];
  if (targetNames.includes('direct')) {
    const { port } = await startBenchBackend('direct backend', PROXY_CORE, echoModule);
    targets.push({ name: 'direct', port, note: 'no proxy: a second nginx backend on the proxy core' });
  }
  if (targetNames.includes('nginx')) {
    const dir = makeTempDir('peer');
    const port = await freePort();
    await startNginx('nginx peer proxy', PROXY_CORE, dir, peerProxyConfig(dir, port, backendPort), port);
    targets.push({ name: 'nginx', port, note: 'nginx proxy, 1 worker, upstream keepalive 64' });
  }
  let wharf: Started | undefined;
  if (targetNames.includes('wharf')) {
    const ports = { http: await freePort(), https: await freePort(), admin: await freePort() };
    wharf = await startWharf(REPO, PROXY_CORE, backendPort, ports, values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile]);
    targets.push({ name: 'wharf', port: ports.http, note: 'wharf serve --manifests' });
  }
  for (const target of targets) await verifyTarget(target);

  const setup = [
    `Proxy under test (and the direct-run backend) pinned to core ${PROXY_CORE}; load generator and the proxies' nginx backend pinned to core ${LOAD_CORE}; targets measured one at a time, the others idle.`,
    `Each run: ${warmup} s warm-up per target and scenario, then ${seconds} s measured; small keep-alive with wrk is ${rounds} interleaved round(s), each target's median round reported. wrk -t1; autocannon one process; keep-alive runs use 64 connections, uploads 16.`,
    `Backend: nginx (1 worker, access_log off); /small 19 bytes, /64k 65,536 bytes, /upload reads the whole body (echo module) and answers its length.`,
    `Targets: ${targets.map((t) => `${t.name} (${t.note})`).join('; ')}.`,
  ];
  process.stdout.write(`${setup.join('\n')}\n\n`);

  const measurements: Measurement[] = [];
  for (const scenario of scenarios) {
    const warmed = new Set<string>();
    for (const tool of scenario.tools) {
      // The acceptance pair gets interleaved rounds (nginx, wharf, nginx, wharf, ...) and reports each
      // target's median round, so a neighbour's burst on this shared machine moves one round, not the verdict.
      const roundCount = scenario.key === 'small' && tool === 'wrk' ? rounds : 1;
      const byTarget = new Map<string, Measurement[]>();
      for (let round = 1; round <= roundCount; round++) {
        for (const target of targets) {
          const row = await runOne(scenario, tool, target, warmed.has(target.name) ? 0 : warmup, seconds, backendDir);
          warmed.add(target.name);
          if (row === undefined) return new Promise<never>(() => {}); // interrupted: cleanup is exiting the process
          byTarget.set(target.name, [...(byTarget.get(target.name) ?? []), row]);
          const label = roundCount > 1 ? `${tool} ${round}/${roundCount}` : tool;
          process.stdout.write(`${row.scenario.padEnd(24)} ${label.padEnd(10)} ${row.target.padEnd(7)} ${Math.round(row.rps).toString().padStart(7)} req/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms  errors ${row.errors}${row.detail === undefined ? '' : ` (${row.detail})`}\n`);
        }
      }
      measurements.push(...medianRounds(byTarget, targets));
    }
  }

  if (wharf !== undefined) await stopProcess(wharf, 15_000);
  machine.loadAfter = loadAverage();
  const list = ratios(measurements);
  const outcome = verdict(list);
  process.stdout.write(`\n${resultsTable(measurements)}\n\n${ratiosTable(list)}\n\n${outcome.line}\n`);
  process.stdout.write(`(total ${Math.round((Date.now() - began) / 1000)} s; load average before ${machine.loadBefore}, after ${machine.loadAfter})\n`);
  if (!values['no-save']) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'latest.md'), markdownReport(machine, setup, measurements));
    writeFileSync(join(RESULTS_DIR, 'latest.json'), JSON.stringify({ machine, setup, seconds, warmup, rounds, measurements, ratios: list, verdict: outcome }, null, 2) + '\n');
    process.stdout.write(`wrote ${join('bench', 'results', 'latest.md')} and latest.json\n`);
  }
}

await runBench(main);
