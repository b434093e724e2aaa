// Side-by-side TLS benchmark of wharf against nginx on one proxy core: full handshakes per second (TLS 1.3
// and 1.2, ECDSA P-256 and RSA 2048, same certificates) and keep-alive HTTPS requests per second.
// Run with `npm run bench:tls` (`-- --quick` for about a minute, `-- --help` for the flags).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_HOST, SMALL_BODY, backendConfig, echoModulePath } from './http/configs.ts';
import { runWrk } from './http/drivers.ts';
import { failedRun, parseBenchArgs, pickList, runBench, runLength } from './http/cli.ts';
import { freePort, hasCommand, installSignalCleanup, makeTempDir, sleep, startPinned, stopProcess, waitForPort, wasInterrupted, type Started } from './http/processes.ts';
import { describeMachine, loadAverage } from './http/report.ts';
import { KEY_HOSTS, makeCertificate, nginxTlsDirectConfig, nginxTlsProxyConfig, wharfTlsManifests, type BenchCert, type KeyType } from './tls/configs.ts';
import { buildHandshakeClient, fetchTls, runHandshakes, type TlsMeasurement } from './tls/drivers.ts';
import { treeCpuSeconds } from './tls/cpu.ts';
import { tlsMarkdown, tlsRatios, tlsRatiosTable, tlsResultsTable } from './tls/report.ts';

const PROXY_CORE = 0;
const LOAD_CORE = 1;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(REPO, 'bench', 'results');
const CONNECTIONS = 64;
const NODE_ENDPOINT = fileURLToPath(new URL('./tls/node-endpoint.ts', import.meta.url));

const HELP = `Usage: npm run bench:tls -- [flags]

  --quick            about a minute: 3 s runs, 1 s warm-up, one round
  --seconds N        seconds per measured run (default 5, quick 3)
  --warmup N         seconds of warm-up per target and scenario (default 1)
  --rounds N         interleaved rounds per scenario, each target's median reported (default 3, quick 1)
  --scenarios LIST   comma-separated subset of: hs13-ecdsa,hs12-ecdsa,hs13-rsa,hs12-rsa,keepalive
  --targets LIST     comma-separated subset of: direct,nginx,node-tls,wharf
  --profile DIR      run wharf with --cpu-prof, writing the profile to DIR when it stops
  --no-save          print only; do not write bench/results/tls.{md,json}
`;

interface Scenario {
  key: string;
  name: string;
  handshake?: { version: '1.2' | '1.3'; key: KeyType };
}

const SCENARIOS: Scenario[] = [
  { key: 'hs13-ecdsa', name: 'handshakes TLS 1.3 ECDSA', handshake: { version: '1.3', key: 'ecdsa' } },
  { key: 'hs12-ecdsa', name: 'handshakes TLS 1.2 ECDSA', handshake: { version: '1.2', key: 'ecdsa' } },
  { key: 'hs13-rsa', name: 'handshakes TLS 1.3 RSA', handshake: { version: '1.3', key: 'rsa' } },
  { key: 'hs12-rsa', name: 'handshakes TLS 1.2 RSA', handshake: { version: '1.2', key: 'rsa' } },
  { key: 'keepalive', name: 'keep-alive HTTPS small' },
];

interface Target {
  name: string;
  port: number;
  note: string;
  pid: number;
}

function ensureTools(): void {
  const missing = ['nginx', 'wrk', 'taskset', 'openssl', 'cc'].filter((c) => !hasCommand(c));
  if (missing.length === 0 && echoModulePath() !== undefined) return;
  if (process.getuid?.() !== 0) throw new Error(`missing ${missing.join(', ') || 'the nginx echo module'}; as root run: apt-get update && apt-get install -y nginx-light wrk libnginx-mod-http-echo openssl gcc libssl-dev`);
  process.stderr.write('bench: installing nginx-light, wrk, openssl, gcc and libssl-dev\n');
  execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', 'nginx-light', 'wrk', 'libnginx-mod-http-echo', 'openssl', 'gcc', 'libssl-dev'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

async function startNginx(name: string, core: number, dir: string, config: string, port: number): Promise<Started> {
  writeFileSync(join(dir, 'nginx.conf'), config);
  const started = startPinned(name, core, 'nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
  await waitForPort(started, port);
  return started;
}

function adminStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function startWharf(backendPort: number, certs: readonly BenchCert[], ports: { http: number; https: number; admin: number }, profileDir: string | undefined): Promise<Started> {
  const dir = makeTempDir('tls-manifests');
  for (const [file, yaml] of Object.entries(wharfTlsManifests(backendPort, certs))) writeFileSync(join(dir, file), yaml);
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const args = [...nodeArgs, join(REPO, 'bin', 'wharf.js'), 'serve', '--manifests', dir, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1'];
  args.push('--http-port', String(ports.http), '--https-port', String(ports.https), '--admin-port', String(ports.admin), '--log-level', 'warn');
  const started = startPinned('wharf', PROXY_CORE, process.execPath, args, REPO);
  await waitForPort(started, ports.admin, 30_000);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await adminStatus(ports.admin);
    const routed = ready === 200 ? await fetchTls(ports.https, BENCH_HOST, BENCH_HOST, '/small').catch(() => ({ status: 0 })) : { status: 0 };
    if (routed.status === 200) return started;
    if (Date.now() > deadline) throw new Error(`wharf not ready (readyz ${ready}, https /small ${routed.status}):\n${started.output()}`);
    await sleep(200);
  }
}

/** Every target serves the bench's own certificate for each host and answers /small over HTTPS. */
async function verifyTarget(target: Target, certs: readonly BenchCert[]): Promise<void> {
  for (const cert of certs) {
    const a = await fetchTls(target.port, cert.host, cert.host, '/small');
    if (a.status !== 200 || a.body !== SMALL_BODY) throw new Error(`${target.name} (${cert.host}): /small answered ${a.status} ${JSON.stringify(a.body.slice(0, 200))}`);
    if (a.fingerprint256 !== cert.fingerprint256) throw new Error(`${target.name} served another certificate for ${cert.host}`);
  }
}

async function runOne(client: string, scenario: Scenario, target: Target, warmup: number, seconds: number): Promise<TlsMeasurement | undefined> {
  const hs = scenario.handshake;
  const measure = async (secs: number): Promise<Omit<TlsMeasurement, 'target' | 'scenario' | 'tool'>> => {
    if (hs === undefined) return runWrk(LOAD_CORE, { url: `https://127.0.0.1:${target.port}/small`, host: BENCH_HOST, connections: CONNECTIONS, seconds: secs });
    const host = KEY_HOSTS[hs.key];
    return runHandshakes(client, LOAD_CORE, { port: target.port, sni: host, host, path: '/small', version: hs.version, connections: CONNECTIONS, seconds: secs });
  };
  let result: Omit<TlsMeasurement, 'target' | 'scenario' | 'tool'>;
  try {
    if (warmup > 0) await measure(warmup);
    const cpuBefore = treeCpuSeconds(target.pid);
    result = await measure(seconds);
    result.proxyCpuSeconds = treeCpuSeconds(target.pid) - cpuBefore;
  } catch (err) {
    if (wasInterrupted()) return undefined;
    result = failedRun(err, seconds);
  }
  return { target: target.name, scenario: scenario.name, tool: hs === undefined ? 'wrk' : 'handshake-client', ...result };
}

async function main(): Promise<void> {
  const values = parseBenchArgs();
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const { seconds, warmup, rounds } = runLength(values, { seconds: values.quick ? 3 : 5, warmup: 1 });
  const scenarioKeys = pickList(values.scenarios, SCENARIOS.map((s) => s.key), 'scenario');
  const targetNames = pickList(values.targets, ['direct', 'nginx', 'node-tls', 'wharf'] as const, 'target');
  const scenarios = SCENARIOS.filter((s) => scenarioKeys.includes(s.key));

  installSignalCleanup();
  ensureTools();
  const echoModule = echoModulePath();
  if (echoModule === undefined) throw new Error('the nginx echo module is missing (apt-get install -y libnginx-mod-http-echo)');
  const machine = { ...describeMachine(), openssl: execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim() };
  const began = Date.now();

  const certDir = makeTempDir('tls-certs');
  const certs = (['ecdsa', 'rsa'] as const).map((k) => makeCertificate(certDir, k));
  const client = buildHandshakeClient(certDir);

  // The proxies' backend sits on the load core, as in the HTTP bench.
  const backendDir = makeTempDir('tls-backend');
  const backendPort = await freePort();
  await startNginx('backend', LOAD_CORE, backendDir, backendConfig(backendDir, backendPort, echoModule), backendPort);

  const targets: Target[] = [];
  if (targetNames.includes('direct')) {
    const dir = makeTempDir('tls-direct');
    const port = await freePort();
    const started = await startNginx('nginx TLS endpoint', PROXY_CORE, dir, nginxTlsDirectConfig(dir, port, certs), port);
    targets.push({ name: 'direct', port, pid: started.child.pid ?? 0, note: 'no proxy: nginx answering /small itself over TLS on the proxy core' });
  }
  if (targetNames.includes('nginx')) {
    const dir = makeTempDir('tls-peer');
    const port = await freePort();
    const started = await startNginx('nginx TLS proxy', PROXY_CORE, dir, nginxTlsProxyConfig(dir, port, backendPort, certs), port);
    targets.push({ name: 'nginx', port, pid: started.child.pid ?? 0, note: 'nginx HTTPS proxy, 1 worker, upstream keepalive 64' });
  }
  if (targetNames.includes('node-tls')) {
    const dir = makeTempDir('tls-node');
    const port = await freePort();
    writeFileSync(join(dir, 'certs.json'), JSON.stringify(certs.map((c) => ({ host: c.host, certFile: c.certFile, keyFile: c.keyFile }))));
    const started = startPinned('node TLS endpoint', PROXY_CORE, process.execPath, [NODE_ENDPOINT, String(port), join(dir, 'certs.json')], REPO);
    await waitForPort(started, port, 30_000);
    targets.push({ name: 'node-tls', port, pid: started.child.pid ?? 0, note: "no proxy: a bare node:tls server with wharf's TLS setup (policy, CertificateSet SNI, ALPN callback) answering /small itself" });
  }
  let wharf: Started | undefined;
  if (targetNames.includes('wharf')) {
    const ports = { http: await freePort(), https: await freePort(), admin: await freePort() };
    wharf = await startWharf(backendPort, certs, ports, values.profile);
    targets.push({ name: 'wharf', port: ports.https, pid: wharf.child.pid ?? 0, note: 'wharf serve --manifests, TLS Secrets for both hosts' });
  }
  for (const target of targets) await verifyTarget(target, certs);

  const setup = [
    `Proxy under test (and the direct and node-tls endpoints) pinned to core ${PROXY_CORE}; load generator and the proxies' nginx backend pinned to core ${LOAD_CORE}; targets measured one at a time, the others idle.`,
    `Each scenario: ${rounds} interleaved round(s) (direct, nginx, node-tls, wharf, direct, ...), ${warmup} s warm-up per target before its first round, ${seconds} s measured; each target's median round reported.`,
    `Handshakes: bench/tls/handshake-client.c (C, OpenSSL, epoll, one thread), ${CONNECTIONS} connections in a closed loop; each is TCP connect, a full handshake with a fresh SSL object and no session cache (resumption is counted as an error; none happened), one GET /small with Connection: close, then the client reads to the server's close (TIME_WAIT stays with the server) and opens the next. "per second" = completed handshake+request pairs. Client CPU = the generator's CPU time / wall time; client ceiling = per second / client CPU, what the generator would do with its whole core.`,
    `Keep-alive: wrk -t1 -c${CONNECTIONS} over https, GET /small (19 bytes), Host ${BENCH_HOST}; wrk sends SNI 127.0.0.1 so both get their default certificate (handshakes are 64 per run, not what is measured).`,
    `Same certificates for nginx and wharf: ECDSA P-256 for ${KEY_HOSTS.ecdsa}, RSA 2048 for ${KEY_HOSTS.rsa} (openssl req, self-signed; checked by fingerprint before measuring). Both: TLS 1.2 + 1.3, wharf's TLS 1.2 suites (ECDHE + AEAD, server order), default TLS 1.3 suites and groups; tickets issued by both and never redeemed; no session cache.`,
    `Per target CPU-second: completed requests / CPU seconds (user + system, /proc) the target's processes used during the run (nginx: master + worker; wharf: the node process). The machine is shared, so the wall-clock rate mostly shows how much of core ${PROXY_CORE} a target got; the per-CPU-second rate is its cost per request, which neighbours distort far less.`,
    `Targets: ${targets.map((t) => `${t.name} (${t.note})`).join('; ')}.`,
  ];
  process.stdout.write(`${setup.join('\n')}\n\n`);

  const measurements: TlsMeasurement[] = [];
  for (const scenario of scenarios) {
    const byTarget = new Map<string, TlsMeasurement[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        const row = await runOne(client, scenario, target, round === 1 ? warmup : 0, seconds);
        if (row === undefined) return new Promise<never>(() => {}); // interrupted: cleanup is exiting the process
        byTarget.set(target.name, [...(byTarget.get(target.name) ?? []), row]);
        const cpu = `${row.proxyCpuSeconds === undefined ? '' : `  ${Math.round(row.requests / row.proxyCpuSeconds)}/CPU-s (target CPU ${Math.round((row.proxyCpuSeconds / row.seconds) * 100)}%)`}${row.clientCpu === undefined ? '' : `  client CPU ${Math.round(row.clientCpu * 100)}%`}`;
        process.stdout.write(`${row.scenario.padEnd(26)} ${`${round}/${rounds}`.padEnd(4)} ${row.target.padEnd(8)} ${Math.round(row.rps).toString().padStart(7)}/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms${cpu}  errors ${row.errors}${row.detail === undefined ? '' : ` (${row.detail})`}${row.negotiated === undefined ? '' : `  [${row.negotiated}]`}\n`);
      }
    }
    for (const target of targets) {
      const all = byTarget.get(target.name) ?? [];
      const median = [...all].sort((a, b) => (a.rps || 0) - (b.rps || 0))[Math.floor(all.length / 2)];
      const perCpu = all.map((m) => (m.proxyCpuSeconds !== undefined && m.proxyCpuSeconds > 0 ? m.requests / m.proxyCpuSeconds : Number.NaN));
      const perCpuMedian = [...perCpu].sort((a, b) => (a || 0) - (b || 0))[Math.floor(perCpu.length / 2)];
      if (median !== undefined) measurements.push({ ...median, roundsRps: all.map((m) => m.rps), perCpuSecond: perCpuMedian, perCpuSecondRounds: perCpu });
    }
  }

  if (wharf !== undefined) await stopProcess(wharf, 15_000);
  machine.loadAfter = loadAverage();
  const list = tlsRatios(measurements);
  process.stdout.write(`\n${tlsResultsTable(measurements)}\n\n${tlsRatiosTable(list)}\n`);
  process.stdout.write(`(total ${Math.round((Date.now() - began) / 1000)} s; load average before ${machine.loadBefore}, after ${machine.loadAfter})\n`);
  if (!values['no-save']) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'tls.md'), tlsMarkdown(machine, setup, measurements));
    writeFileSync(join(RESULTS_DIR, 'tls.json'), JSON.stringify({ machine, setup, seconds, warmup, rounds, connections: CONNECTIONS, measurements, ratios: list }, null, 2) + '\n');
    process.stdout.write(`wrote ${join('bench', 'results', 'tls.md')} and tls.json\n`);
  }
}

await runBench(main);
