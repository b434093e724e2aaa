// The TCP bench's output: one row per target and scenario with MiB/s for the transfers, wharf/HAProxy
// ratios, and the verdict on the acceptance target (small keep-alive req/s at least 0.8x HAProxy's).
import type { Measurement } from '../http/drivers.ts';
import { fmtMs, fmtRatio, fmtRps, machineTable, ratios, table, type Machine, type Ratio } from '../http/report.ts';

export const TARGET_TCP_RPS_RATIO = 0.8;

export function tcpRatios(measurements: readonly Measurement[]): Ratio[] {
  return ratios(measurements, 'haproxy');
}

export function tcpVerdict(list: readonly Ratio[]): { pass: boolean; line: string } {
  const small = list.find((r) => r.scenario === 'small keep-alive');
  if (small === undefined) return { pass: false, line: 'VERDICT: not measured (small keep-alive needs both haproxy and wharf)' };
  const pass = small.rps >= TARGET_TCP_RPS_RATIO;
  const transfers = list.filter((r) => r !== small).map((r) => `; ${r.scenario}: ${fmtRatio(r.rps)}x`);
  return { pass, line: `VERDICT: ${pass ? 'PASS' : 'FAIL'} small keep-alive over TCP, one proxy core: wharf/haproxy req/s = ${fmtRatio(small.rps)} (target >= ${TARGET_TCP_RPS_RATIO}), p99 = ${fmtRatio(small.p99)}x${transfers.join('')}` };
}

function mibPerSecond(m: Measurement, bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(m.rps) ? '-' : ((m.rps * bytes) / (1024 * 1024)).toFixed(0);
}

export function tcpResultsTable(measurements: readonly Measurement[], bytesOf: ReadonlyMap<string, number | undefined>): string {
  return table(
    ['target', 'scenario', 'req/s', 'MiB/s', 'p50 ms', 'p99 ms', 'errors'],
    measurements.map((m) => [m.target, m.scenario, m.roundsRps === undefined ? fmtRps(m.rps) : `${fmtRps(m.rps)} (median of ${m.roundsRps.map(fmtRps).join(' / ')})`, mibPerSecond(m, bytesOf.get(m.scenario)), fmtMs(m.p50Ms), fmtMs(m.p99Ms), m.detail === undefined ? String(m.errors) : `${m.errors} (${m.detail})`]),
  );
}

export function tcpMarkdownReport(machine: Machine, setup: string[], measurements: readonly Measurement[], bytesOf: ReadonlyMap<string, number | undefined>): string {
  const list = tcpRatios(measurements);
  return [
    '# TCP bench: wharf vs HAProxy tcp mode',
    '',
    machineTable(machine),
    '',
    ...setup.map((s) => `- ${s}`),
    '',
    '## Results',
    '',
    tcpResultsTable(measurements, bytesOf),
    '',
    '## Ratios (wharf/haproxy)',
    '',
    table(['scenario', 'req/s', 'p99'], list.map((r) => [r.scenario, fmtRatio(r.rps), fmtRatio(r.p99)])),
    '',
    tcpVerdict(list).line,
    '',
  ].join('\n');
}
