// Turns measurements into the bench's output: the machine it ran on, one row per run, wharf/nginx
// ratios per scenario and tool, and the verdict on the acceptance target (small keep-alive).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import type { Measurement } from './drivers.ts';

export interface Machine {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  nginx: string;
  wrk: string;
  autocannon: string;
  /** The wharf code measured: HEAD, plus a note when src/, proxy/ or bin/ had uncommitted changes. */
  wharfRevision: string;
  loadBefore: string;
  loadAfter?: string;
}

/** stdout and stderr together: nginx -v prints to stderr, wrk -v exits 1 after printing its banner. */
function commandOutput(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

export function loadAverage(): string {
  return loadavg().map((n) => n.toFixed(2)).join(' ');
}

function wharfRevision(): string {
  const head = commandOutput('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = commandOutput('git', ['status', '--porcelain', '--', 'src', 'proxy', 'bin']);
  return dirty === '' ? head : `${head} + uncommitted changes in ${dirty.split('\n').length} file(s)`;
}

export function describeMachine(): Machine {
  const nginxVersion = commandOutput('nginx', ['-v']).replace(/^nginx version:\s*/, '');
  const wrkVersion = (commandOutput('wrk', ['-v']).split('\n')[0] ?? '').replace(/\s+Copyright.*$/, '');
  const require = createRequire(import.meta.url);
  const autocannonPackage = JSON.parse(readFileSync(require.resolve('autocannon/package.json'), 'utf8')) as { version: string };
  return {
    date: new Date().toISOString(),
    nproc: Number(commandOutput('nproc', [])) || cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    nginx: nginxVersion,
    wrk: wrkVersion,
    autocannon: autocannonPackage.version,
    wharfRevision: wharfRevision(),
    loadBefore: loadAverage(),
  };
}

export interface Ratio {
  scenario: string;
  tool: string;
  rps: number;
  p99: number;
}

/** wharf/peer (nginx unless said) for every scenario and tool both targets ran. */
export function ratios(measurements: readonly Measurement[], peerName = 'nginx'): Ratio[] {
  const out: Ratio[] = [];
  for (const m of measurements) {
    if (m.target !== 'wharf') continue;
    const peer = measurements.find((n) => n.target === peerName && n.scenario === m.scenario && n.tool === m.tool);
    if (peer === undefined) continue;
    out.push({ scenario: m.scenario, tool: m.tool, rps: m.rps / peer.rps, p99: m.p99Ms / peer.p99Ms });
  }
  return out;
}

export const TARGET_RPS_RATIO = 0.5;
export const TARGET_P99_RATIO = 2;

/** The acceptance check uses wrk (the load generator with the higher ceiling) on small keep-alive. */
export function verdict(list: readonly Ratio[]): { pass: boolean; line: string } {
  const primary = list.find((r) => r.scenario === 'small keep-alive' && r.tool === 'wrk') ?? list.find((r) => r.scenario === 'small keep-alive');
  if (primary === undefined) return { pass: false, line: 'VERDICT: not measured (small keep-alive needs both nginx and wharf)' };
  const pass = primary.rps >= TARGET_RPS_RATIO && primary.p99 <= TARGET_P99_RATIO;
  const others = list.filter((r) => r.scenario === 'small keep-alive' && r !== primary).map((r) => `; ${r.tool}: ${fmtRatio(r.rps)}x req/s, ${fmtRatio(r.p99)}x p99`);
  return {
    pass,
    line: `VERDICT: ${pass ? 'PASS' : 'FAIL'} small keep-alive, one proxy core (${primary.tool}): wharf/nginx req/s = ${fmtRatio(primary.rps)} (target >= ${TARGET_RPS_RATIO}), p99 = ${fmtRatio(primary.p99)}x (target <= ${TARGET_P99_RATIO}x)${others.join('')}`,
  };
}

export function fmtRatio(n: number): string {
  return Number.isFinite(n) ? n.toFixed(2) : '-';
}

export function fmtRps(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

export function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function machineTable(machine: Machine): string {
  return table(
    ['item', 'value'],
    [
      ['date', machine.date],
      ['nproc', String(machine.nproc)],
      ['CPU', machine.cpuModel],
      ['memory', `${machine.memoryGiB} GiB`],
      ['kernel', machine.kernel],
      ['Node.js', machine.node],
      ['nginx', machine.nginx],
      ['wrk', machine.wrk],
      ['autocannon', machine.autocannon],
      ['wharf revision', machine.wharfRevision],
      ['load average before / after', `${machine.loadBefore} / ${machine.loadAfter ?? '-'}`],
    ],
  );
}

export function resultsTable(measurements: readonly Measurement[]): string {
  return table(
    ['target', 'scenario', 'tool', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
    measurements.map((m) => [m.target, m.scenario, m.tool, m.roundsRps === undefined ? fmtRps(m.rps) : `${fmtRps(m.rps)} (median of ${m.roundsRps.map(fmtRps).join(' / ')})`, fmtMs(m.p50Ms), fmtMs(m.p99Ms), m.detail === undefined ? String(m.errors) : `${m.errors} (${m.detail})`]),
  );
}

export function ratiosTable(list: readonly Ratio[]): string {
  return table(
    ['scenario', 'tool', 'wharf/nginx req/s', 'wharf/nginx p99'],
    list.map((r) => [r.scenario, r.tool, fmtRatio(r.rps), fmtRatio(r.p99)]),
  );
}

/** A bench's results file: title, machine, setup, then titled tables, then the verdict line. */
export function benchDocument(title: string, machine: Machine, setup: readonly string[], sections: ReadonlyArray<[heading: string, body: string]>, verdictLine: string): string {
  const parts = [`# ${title}`, '', machineTable(machine), '', ...setup.map((s) => `- ${s}`), ''];
  for (const [heading, body] of sections) parts.push(`## ${heading}`, '', body, '');
  return [...parts, verdictLine, ''].join('\n');
}

export function markdownReport(machine: Machine, setup: string[], measurements: readonly Measurement[]): string {
  const list = ratios(measurements);
  return benchDocument('HTTP bench: wharf vs nginx', machine, setup, [['Results', resultsTable(measurements)], ['Ratios', ratiosTable(list)]], verdict(list).line);
}
