// Compares two wharf source trees (a base revision and this one) and nginx on one proxy core, in the
// same run, rounds interleaved, with the CPU time each proxy spends per request. For tuning, not a verdict.
// Usage: node bench/http-ab.ts --base <dir with another wharf checkout> [--scenario small|64k|upload] [--rounds 6]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_HOST, echoModulePath, peerProxyConfig } from './http/configs.ts';
import { runWrk, type Load } from './http/drivers.ts';
import { runBench } from './http/cli.ts';
import { freePort, installSignalCleanup, makeTempDir, type Started } from './http/processes.ts';
import { startBenchBackend, startNginx, startWharf, verifyTarget, type Target } from './http/targets.ts';

const PROXY_CORE = 0;
const LOAD_CORE = 1;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const SCENARIOS: Record<string, { path: string; connections: number; upload?: boolean }> = {
  small: { path: '/small', connections: 64 },
  '64k': { path: '/64k', connections: 64 },
  upload: { path: '/upload', connections: 16, upload: true },
};

/** utime + stime of a process and all its threads, in clock ticks (1/100 s on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** nginx's master forks the worker that does the work; that is the process to charge. */
function nginxWorker(started: Started): number {
  const pid = started.child.pid as number;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  return children[0] ?? pid;
}

interface Row {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      scenario: { type: 'string', default: 'small' },
      rounds: { type: 'string', default: '6' },
      seconds: { type: 'string', default: '5' },
      'no-nginx': { type: 'boolean', default: false },
    },
  });
  if (values.base === undefined) throw new Error('--base <dir> is required: a checkout of the wharf revision to compare against');
  const scenario = SCENARIOS[values.scenario];
  if (scenario === undefined) throw new Error(`--scenario is one of ${Object.keys(SCENARIOS).join(', ')}`);
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  installSignalCleanup();
  const echo = echoModulePath();
  if (echo === undefined) throw new Error('the nginx echo module is missing');

  const { dir: backendDir, port: backendPort } = await startBenchBackend('backend', LOAD_CORE, echo);

  const targets: (Target & { pid: number })[] = [];
  if (!values['no-nginx']) {
    const dir = makeTempDir('peer');
    const port = await freePort();
    const started = await startNginx('nginx', PROXY_CORE, dir, peerProxyConfig(dir, port, backendPort), port);
    targets.push({ name: 'nginx', port, note: '', pid: nginxWorker(started) });
  }
  for (const [name, repo] of [['base', values.base], ['cand', REPO]] as const) {
    const ports = { http: await freePort(), https: await freePort(), admin: await freePort() };
    const started = await startWharf(repo, PROXY_CORE, backendPort, ports);
    targets.push({ name, port: ports.http, note: repo, pid: started.child.pid as number });
  }
  for (const t of targets) await verifyTarget(t);

  const load = (t: Target, secs: number): Load => ({
    url: `http://127.0.0.1:${t.port}${scenario.path}`,
    host: BENCH_HOST,
    connections: scenario.connections,
    seconds: secs,
    ...(scenario.upload === true ? { uploadFile: join(backendDir, 'upload.bin') } : {}),
  });
  const lua = scenario.upload === true ? join(backendDir, 'upload.lua') : undefined;
  for (const t of targets) await runWrk(LOAD_CORE, load(t, 2), lua);

  const rows = new Map<string, Row[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    // Forward then backward (A B C C B A ...): a drift in the machine's load hits every target alike.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const before = cpuTicks(t.pid);
      const m = await runWrk(LOAD_CORE, load(t, seconds), lua);
      const ticks = cpuTicks(t.pid) - before;
      const row = { rps: m.rps, p50: m.p50Ms, p99: m.p99Ms, cpuUsPerReq: (ticks * 10_000) / Math.max(1, m.requests) };
      rows.get(t.name)?.push(row);
      process.stdout.write(`round ${round + 1} ${t.name.padEnd(6)} ${Math.round(row.rps).toString().padStart(7)} req/s  p50 ${row.p50.toFixed(2)}  p99 ${row.p99.toFixed(2)} ms  cpu ${row.cpuUsPerReq.toFixed(1)} us/req${m.errors > 0 ? `  errors ${m.errors}` : ''}\n`);
    }
  }
  process.stdout.write(`\nmedians over ${rounds} rounds (${values.scenario}, wrk -t1 -c${scenario.connections} -d${seconds}s):\n`);
  const med = new Map<string, Row>();
  for (const t of targets) {
    const r = rows.get(t.name) ?? [];
    const m = { rps: median(r.map((x) => x.rps)), p50: median(r.map((x) => x.p50)), p99: median(r.map((x) => x.p99)), cpuUsPerReq: median(r.map((x) => x.cpuUsPerReq)) };
    med.set(t.name, m);
    process.stdout.write(`${t.name.padEnd(6)} ${Math.round(m.rps).toString().padStart(7)} req/s  p50 ${m.p50.toFixed(2)}  p99 ${m.p99.toFixed(2)} ms  cpu ${m.cpuUsPerReq.toFixed(1)} us/req\n`);
  }
  const nginx = med.get('nginx');
  if (nginx !== undefined) {
    for (const name of ['base', 'cand']) {
      const m = med.get(name) as Row;
      // Per round ratios too: each round's wharf run sits next to that round's nginx run.
      const perRound = (rows.get(name) ?? []).map((r, i) => r.p99 / ((rows.get('nginx') ?? [])[i]?.p99 ?? Number.NaN));
      process.stdout.write(`${name}/nginx: req/s ${(m.rps / nginx.rps).toFixed(2)}  p99 ${(m.p99 / nginx.p99).toFixed(2)} (per round ${perRound.map((x) => x.toFixed(2)).join(' ')})\n`);
    }
  }
}

await runBench(main);
