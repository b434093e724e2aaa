// Runs `wharf serve --kubeconfig` as a child process for the propagation bench, learns its ports
// from the "wharf is serving" log line, reads its memory from /proc and keeps its rebuild log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Memory {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** Peak resident set size since start (VmHWM), MiB. */
  hwmMiB: number;
}

export interface HeapStats {
  /** V8 heap in use (live objects plus garbage not yet collected), MiB. */
  heapUsedMiB: number;
  /** V8 heap reserved, MiB. */
  heapTotalMiB: number;
  /** Memory of C++ objects tied to JS ones (Buffers among them), MiB. */
  externalMiB: number;
}

export interface RebuildLine {
  /** performance.now() in the bench process when the line arrived. */
  at: number;
  /** 'full': translate + compileRouter + apply; 'endpoints': the in-place pool update. */
  kind: 'full' | 'endpoints';
  hosts: number;
  /** wharf's own measure of a full rebuild (ms, rounded); 0 for endpoint updates, which log none. */
  ms: number;
}

export interface WharfProcess {
  pid: number;
  httpPort: number;
  adminPort: number;
  memory(): Memory;
  /** wharf's own view of its V8 heap, from the default Node metrics on its admin /metrics. */
  heap(): Promise<HeapStats>;
  /** Full rebuilds ("routing table applied") and endpoint short-path updates seen since start, in order. */
  rebuilds: RebuildLine[];
  /** The last lines of output, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

export interface WharfOptions {
  kubeconfig: string;
  /** Extra flags for node itself, e.g. --cpu-prof or --heapsnapshot-signal. */
  nodeFlags?: string[];
  startTimeoutMs?: number;
}

export function readMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

export async function startWharfProcess(opts: WharfOptions): Promise<WharfProcess> {
  // The project's Node 24 runs wharf exactly as `npm run serve` would, minus npm in between.
  const args = [
    ...(opts.nodeFlags ?? []),
    'bin/wharf.js',
    'serve',
    '--kubeconfig', opts.kubeconfig,
    '--bind', '127.0.0.1',
    '--admin-bind', '127.0.0.1',
    '--http-port', '0',
    '--https-port', '0',
    '--admin-port', '0',
    // debug adds exactly one line per endpoint short-path update, which times that path too.
    '--log-level', 'debug',
  ];
  const child: ChildProcess = spawn('node_modules/.bin/node', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail: string[] = [];
  const rebuilds: RebuildLine[] = [];
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const ready = new Promise<{ http: number; admin: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wharf did not report serving within ${opts.startTimeoutMs ?? 60_000} ms:\n${tail.join('\n')}`)), opts.startTimeoutMs ?? 60_000);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`wharf exited before serving (${child.exitCode ?? child.signalCode}):\n${tail.join('\n')}`));
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        tail = [...tail.slice(-40), line];
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (rec.msg === 'routing table applied') rebuilds.push({ at: performance.now(), kind: 'full', hosts: Number(rec.hosts), ms: Number(rec.ms) });
        else if (rec.msg === 'endpoints updated in place') rebuilds.push({ at: performance.now(), kind: 'endpoints', hosts: 0, ms: 0 });
        if (rec.msg === 'wharf is serving') {
          clearTimeout(timer);
          resolve({ http: Number(rec.http), admin: Number(rec.admin) });
        }
      });
    }
  });
  let ports: { http: number; admin: number };
  try {
    ports = await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const pid = child.pid as number;
  return {
    pid,
    httpPort: ports.http,
    adminPort: ports.admin,
    memory: () => readMemory(pid),
    async heap() {
      const text = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`, { signal: AbortSignal.timeout(120_000) })).text();
      const mib = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
      return { heapUsedMiB: mib('nodejs_heap_size_used_bytes'), heapTotalMiB: mib('nodejs_heap_size_total_bytes'), externalMiB: mib('nodejs_external_memory_bytes') };
    },
    rebuilds,
    tail: () => tail.join('\n'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGTERM lets wharf drain and lets --cpu-prof write its profile; SIGKILL if it hangs.
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
    },
  };
}
