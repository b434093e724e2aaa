// Percentiles, the printed table and the results files of the propagation bench.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles: p99 of 200 samples is the 198th smallest, so one or two outliers show. */
export function summarise(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const at = (p: number): number => (v.length === 0 ? NaN : (v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))] as number));
  return { n: v.length, p50: at(50), p90: at(90), p99: at(99), max: v.length ? (v[v.length - 1] as number) : NaN };
}

export interface LatencyRow {
  name: string;
  conditions: string;
  /** Write → first right answer through wharf, ms. */
  wharf: Summary;
  /** Write → the bare watch's event for the same write, ms. */
  floor: Summary;
  /** Write → wharf's log line for the rebuild or endpoint update, ms (its own watch + scheduler + work). */
  applied: Summary;
  /** Per trial, wharf minus floor: what wharf adds on top of the API server's own delivery, ms. */
  added: Summary;
  /** wharf's own measure of each full rebuild in these trials (translate, router, apply), ms. */
  rebuildMs?: Summary;
  targetMs?: number;
}

export interface MemoryRow {
  when: string;
  rssMiB: number;
  hwmMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
}

export interface Results {
  date: string;
  machine: Record<string, string>;
  settings: Record<string, string | number>;
  latency: LatencyRow[];
  memory: MemoryRow[];
  scale: Record<string, number | string>;
  probe: Summary;
  verdicts: string[];
  /** Every trial of every row, in order, for looking at outliers. */
  raw?: Record<string, unknown[]>;
}

const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}x` : '—');

export function latencyTable(rows: readonly LatencyRow[]): string {
  const head = '| measurement | conditions | n | p50 ms | p90 ms | p99 ms | max ms | floor p50 | floor p99 | wharf/floor p50 | wharf/floor p99 | added by wharf p50 | added by wharf p99 | applied p50 | applied p99 | full rebuild p50/max ms | target p99 |';
  const sep = `|${' --- |'.repeat(17)}`;
  const lines = rows.map((r) =>
    `| ${r.name} | ${r.conditions} | ${r.wharf.n} | ${f(r.wharf.p50)} | ${f(r.wharf.p90)} | ${f(r.wharf.p99)} | ${f(r.wharf.max)} | ${f(r.floor.p50)} | ${f(r.floor.p99)} | ${ratio(r.wharf.p50, r.floor.p50)} | ${ratio(r.wharf.p99, r.floor.p99)} | ${f(r.added.p50)} | ${f(r.added.p99)} | ${f(r.applied.p50)} | ${f(r.applied.p99)} | ${r.rebuildMs ? `${f(r.rebuildMs.p50, 0)}/${f(r.rebuildMs.max, 0)}` : '—'} | ${r.targetMs !== undefined ? `${r.targetMs} ms: ${r.wharf.p99 <= r.targetMs ? 'met' : 'MISSED'}` : '—'} |`,
  );
  return [head, sep, ...lines].join('\n');
}

export function memoryTable(rows: readonly MemoryRow[]): string {
  return [
    '| when | VmRSS MiB | VmHWM (peak) MiB | V8 heap used MiB | V8 heap total MiB | external MiB |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.when} | ${f(r.rssMiB)} | ${f(r.hwmMiB)} | ${f(r.heapUsedMiB)} | ${f(r.heapTotalMiB)} | ${f(r.externalMiB)} |`),
  ].join('\n');
}

export function markdown(r: Results): string {
  return [
    `# Propagation bench results (${r.date})`,
    '',
    'Written by `npm run bench:propagation`; methodology in `bench/README.md`.',
    '',
    '## Machine and settings',
    '',
    '| | |',
    '| --- | --- |',
    ...Object.entries({ ...r.machine, ...r.settings }).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '## Latency: API write → first right answer through wharf',
    '',
    latencyTable(r.latency),
    '',
    `Probe resolution (one keep-alive round trip through wharf on loopback): p50 ${f(r.probe.p50, 2)} ms, p99 ${f(r.probe.p99, 2)} ms, max ${f(r.probe.max, 2)} ms (n=${r.probe.n}).`,
    '',
    '## Memory of the wharf process',
    '',
    memoryTable(r.memory),
    '',
    '## Scale phase',
    '',
    '| | |',
    '| --- | --- |',
    ...Object.entries(r.scale).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '## Verdicts',
    '',
    ...r.verdicts.map((v) => `- ${v}`),
    '',
  ].join('\n');
}

export function save(path: string, r: Results): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.json`, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(`${path}.md`, markdown(r));
}
