// Load generator runs, each pinned to the load core: wrk and autocannon for keep-alive traffic, and
// our own open-loop generator for new connections; every run is parsed into one Measurement.
import { fileURLToPath } from 'node:url';
import { runToEnd } from './processes.ts';

export interface Measurement {
  target: string;
  scenario: string;
  tool: string;
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Error details (socket errors, non-2xx, timeouts) when there were any. */
  detail?: string;
  /** req/s of every round when the row is the median of several. */
  roundsRps?: number[];
}

export interface Load {
  url: string;
  host: string;
  connections: number;
  seconds: number;
  /** POST this file's bytes when set. */
  uploadFile?: string;
}

const NODE = process.execPath;
const AUTOCANNON = fileURLToPath(import.meta.resolve('autocannon/autocannon.js'));
const NEW_CONNECTIONS = fileURLToPath(new URL('./new-connections.ts', import.meta.url));

/** wrk prints latencies as e.g. 812.00us, 1.20ms, 2.01s. */
export function parseWrkDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) return Number.NaN;
  const value = Number(m[1]);
  const unit = m[2];
  return unit === 'us' ? value / 1000 : unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000;
}

export function parseWrk(output: string): Omit<Measurement, 'target' | 'scenario' | 'tool'> {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(output);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s+50%\s+(\S+)/m.exec(output);
  const p99 = /^\s+99%\s+(\S+)/m.exec(output);
  if (total === null || rps === null || p50 === null || p99 === null) throw new Error(`unexpected wrk output:\n${output}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const badStatus = non2xx === null ? 0 : Number(non2xx[1]);
  const details = [socket !== null && socketErrors > 0 ? socket[0] : '', badStatus > 0 ? non2xx?.[0] ?? '' : ''].filter((s) => s !== '');
  return {
    requests: Number(total[1]),
    seconds: parseWrkDuration(`${total[2]}${total[3]}`) / 1000,
    rps: Number(rps[1]),
    p50Ms: parseWrkDuration(p50[1] as string),
    p99Ms: parseWrkDuration(p99[1] as string),
    errors: socketErrors + badStatus,
    ...(details.length > 0 ? { detail: details.join('; ') } : {}),
  };
}

export async function runWrk(core: number, load: Load, luaScript?: string): Promise<Omit<Measurement, 'target' | 'scenario' | 'tool'>> {
  const args = ['-c', String(core), 'wrk', '-t1', `-c${load.connections}`, `-d${load.seconds}s`, '--latency', '--timeout', '10s', '-H', `Host: ${load.host}`];
  if (luaScript !== undefined) args.push('-s', luaScript);
  args.push(load.url);
  const { code, stdout, stderr } = await runToEnd('taskset', args, (load.seconds + 30) * 1000);
  if (code !== 0) throw new Error(`wrk failed (${code}): ${stderr}${stdout}`);
  return parseWrk(stdout);
}

/** wrk sends every request as a POST carrying `bytes` bytes. */
export function wrkUploadScript(bytes: number): string {
  return `wrk.method = "POST"\nwrk.body = string.rep("x", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`;
}

interface AutocannonJson {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
  latency: { p50: number; p99: number };
}

export async function runAutocannon(core: number, load: Load): Promise<Omit<Measurement, 'target' | 'scenario' | 'tool'>> {
  const args = ['-c', String(core), NODE, AUTOCANNON, '-j', '-n', '-c', String(load.connections), '-d', String(load.seconds), '-H', `Host=${load.host}`];
  if (load.uploadFile !== undefined) args.push('-m', 'POST', '-i', load.uploadFile, '-H', 'Content-Type=application/octet-stream');
  args.push(load.url);
  const { code, stdout, stderr } = await runToEnd('taskset', args, (load.seconds + 30) * 1000);
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`autocannon failed (${code}): ${stderr}${stdout}`);
  const result = JSON.parse(line) as AutocannonJson;
  const errors = result.errors + result.non2xx;
  return {
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors,
    ...(errors > 0 ? { detail: `errors ${result.errors} (timeouts ${result.timeouts}), non-2xx ${result.non2xx}` } : {}),
  };
}

export interface NewConnectionsResult {
  scheduled: number;
  completed: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  firstError?: string;
}

/** One new TCP connection per request at a fixed rate (see new-connections.ts). */
export async function runNewConnections(core: number, load: Load, rate: number): Promise<Omit<Measurement, 'target' | 'scenario' | 'tool'>> {
  const url = new URL(load.url);
  const args = ['-c', String(core), NODE, NEW_CONNECTIONS, url.hostname, url.port, url.pathname, load.host, String(rate), String(load.seconds)];
  const { code, stdout, stderr } = await runToEnd('taskset', args, (load.seconds + 30) * 1000);
  if (code !== 0) throw new Error(`new-connections generator failed (${code}): ${stderr}${stdout}`);
  const result = JSON.parse(stdout) as NewConnectionsResult;
  return {
    requests: result.completed,
    seconds: result.seconds,
    rps: result.completed / result.seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    errors: result.errors,
    ...(result.errors > 0 ? { detail: `${result.errors} of ${result.scheduled} failed; first: ${result.firstError ?? '?'}` } : {}),
  };
}
