// The TCP bench's output: one row per target and scenario with requests per proxy CPU-second and MiB/s,
// wharf/HAProxy ratios, and the verdict on the acceptance target (small keep-alive req/s at least 0.8x HAProxy's).
import type { Measurement } from '../http/drivers.ts';
import { benchDocument, fmtMs, fmtRatio, fmtRps, ratios, table, type Machine, type Ratio } from '../http/report.ts';

export const TARGET_TCP_RPS_RATIO = 0.8;

export interface TcpMeasurement extends Measurement {
  /** User + system CPU seconds the proxy process used during the run. */
  proxyCpuSeconds?: number;
}

function perCpuSecond(m: TcpMeasurement | undefined): number {
  return m?.proxyCpuSeconds === undefined || m.proxyCpuSeconds <= 0 ? Number.NaN : m.requests / m.proxyCpuSeconds;
}

/** wharf/haproxy requests per CPU-second of the proxy, per scenario. */
export function perCpuRatio(measurements: readonly TcpMeasurement[], scenario: string): number {
  const of = (target: string) => measurements.find((m) => m.target === target && m.scenario === scenario);
  return perCpuSecond(of('wharf')) / perCpuSecond(of('haproxy'));
}

export function tcpRatios(measurements: readonly Measurement[]): Ratio[] {
  return ratios(measurements, 'haproxy');
}

export function tcpVerdict(list: readonly Ratio[], measurements: readonly TcpMeasurement[]): { pass: boolean; line: string } {
  const small = list.find((r) => r.scenario === 'small keep-alive');
  if (small === undefined) return { pass: false, line: 'VERDICT: not measured (small keep-alive needs both haproxy and wharf)' };
  const pass = small.rps >= TARGET_TCP_RPS_RATIO;
  const transfers = list.filter((r) => r !== small).map((r) => `; ${r.scenario}: ${fmtRatio(r.rps)}x`);
  const cpu = fmtRatio(perCpuRatio(measurements, small.scenario));
  return { pass, line: `VERDICT: ${pass ? 'PASS' : 'FAIL'} small keep-alive over TCP, one proxy core: wharf/haproxy req/s = ${fmtRatio(small.rps)} (target >= ${TARGET_TCP_RPS_RATIO}), per proxy CPU-second ${cpu}x, p99 = ${fmtRatio(small.p99)}x${transfers.join('')}` };
}

function mibPerSecond(m: Measurement, bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(m.rps) ? '-' : ((m.rps * bytes) / (1024 * 1024)).toFixed(0);
}

export function tcpResultsTable(measurements: readonly TcpMeasurement[], bytesOf: ReadonlyMap<string, number | undefined>): string {
  return table(
    ['target', 'scenario', 'req/s', 'req per proxy CPU-s', 'MiB/s', 'p50 ms', 'p99 ms', 'errors'],
    measurements.map((m) => [m.target, m.scenario, m.roundsRps === undefined ? fmtRps(m.rps) : `${fmtRps(m.rps)} (median of ${m.roundsRps.map(fmtRps).join(' / ')})`, fmtRps(perCpuSecond(m)), mibPerSecond(m, bytesOf.get(m.scenario)), fmtMs(m.p50Ms), fmtMs(m.p99Ms), m.detail === undefined ? String(m.errors) : `${m.errors} (${m.detail})`]),
  );
}

export function tcpMarkdownReport(machine: Machine, setup: string[], measurements: readonly TcpMeasurement[], bytesOf: ReadonlyMap<string, number | undefined>): string {
  const list = tcpRatios(measurements);
  const ratioRows = list.map((r) => [r.scenario, fmtRatio(r.rps), fmtRatio(perCpuRatio(measurements, r.scenario)), fmtRatio(r.p99)]);
  return benchDocument('TCP bench: wharf vs HAProxy tcp mode', machine, setup, [
    ['Results', tcpResultsTable(measurements, bytesOf)],
    ['Ratios (wharf/haproxy)', table(['scenario', 'req/s', 'req per proxy CPU-s', 'p99'], ratioRows)],
  ], tcpVerdict(list, measurements).line);
}
