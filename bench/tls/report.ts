// Turns the TLS bench's measurements into its tables: one row per target and scenario (median round,
// every round's rate, the client's CPU share), wharf/nginx ratios, and the markdown file.
import { machineTable, type Machine } from '../http/report.ts';
import type { TlsMeasurement } from './drivers.ts';

export interface TlsRatio {
  scenario: string;
  rate: number;
  p99: number;
  perCpuSecond: number;
}

export function tlsRatios(measurements: readonly TlsMeasurement[]): TlsRatio[] {
  const out: TlsRatio[] = [];
  for (const m of measurements) {
    if (m.target !== 'wharf') continue;
    const peer = measurements.find((n) => n.target === 'nginx' && n.scenario === m.scenario);
    if (peer !== undefined) out.push({ scenario: m.scenario, rate: m.rps / peer.rps, p99: m.p99Ms / peer.p99Ms, perCpuSecond: (m.perCpuSecond ?? Number.NaN) / (peer.perCpuSecond ?? Number.NaN) });
  }
  return out;
}

const fmtRatio = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');
const fmtRate = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
function fmtMs(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function tlsResultsTable(measurements: readonly TlsMeasurement[]): string {
  return table(
    ['scenario', 'target', 'per second (median)', 'rounds', 'per target CPU-second (median)', 'target CPU', 'p50 ms', 'p99 ms', 'client CPU', 'client ceiling', 'errors', 'negotiated'],
    measurements.map((m) => [
      m.scenario,
      m.target,
      fmtRate(m.rps),
      (m.roundsRps ?? [m.rps]).map(fmtRate).join(' / '),
      fmtRate(m.perCpuSecond ?? Number.NaN),
      m.proxyCpuSeconds === undefined ? '-' : `${Math.round((m.proxyCpuSeconds / m.seconds) * 100)}%`,
      fmtMs(m.p50Ms),
      fmtMs(m.p99Ms),
      m.clientCpu === undefined ? '-' : `${Math.round(m.clientCpu * 100)}%`,
      // What the generator would manage with its whole core, at the CPU per handshake it spent here.
      m.clientCpu === undefined || m.clientCpu <= 0 ? '-' : `~${fmtRate(m.rps / m.clientCpu)}/s`,
      m.detail === undefined ? String(m.errors) : `${m.errors} (${m.detail})`,
      m.negotiated ?? '-',
    ]),
  );
}

export function tlsRatiosTable(list: readonly TlsRatio[]): string {
  return table(['scenario', 'wharf/nginx per second', 'wharf/nginx per CPU-second', 'wharf/nginx p99'], list.map((r) => [r.scenario, fmtRatio(r.rate), fmtRatio(r.perCpuSecond), fmtRatio(r.p99)]));
}

export function tlsMarkdown(machine: Machine & { openssl: string }, setup: string[], measurements: readonly TlsMeasurement[]): string {
  return [
    '# TLS bench: wharf vs nginx',
    '',
    machineTable(machine),
    '',
    `OpenSSL (nginx and the handshake client): ${machine.openssl}. Node's bundled OpenSSL: ${process.versions.openssl}.`,
    '',
    ...setup.map((s) => `- ${s}`),
    '',
    '## Results',
    '',
    tlsResultsTable(measurements),
    '',
    '## Ratios',
    '',
    tlsRatiosTable(tlsRatios(measurements)),
    '',
  ].join('\n');
}
