// What the side-by-side benches share around their runs: the common flags and how a run's length is
// read from them, a failed run as a result row, and the entry point that always stops what it started.
import { parseArgs } from 'node:util';
import type { Measurement } from './drivers.ts';
import { cleanupAll } from './processes.ts';

/** The flags of bench/http.ts and bench/tls.ts. */
export function parseBenchArgs() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      profile: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return values;
}

export interface RunLength {
  seconds: number;
  warmup: number;
  rounds: number;
}

/** Seconds, warm-up and rounds from the flags, falling back to the bench's defaults (rounds: 1 with --quick, else 3). */
export function runLength(values: { quick: boolean; seconds?: string; warmup?: string; rounds?: string }, defaults: { seconds: number; warmup: number }): RunLength {
  const seconds = Number(values.seconds ?? defaults.seconds);
  const warmup = Number(values.warmup ?? defaults.warmup);
  const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
  if (!(seconds >= 1) || !(warmup >= 0) || !Number.isInteger(rounds) || rounds < 1) throw new Error('--seconds must be >= 1, --warmup >= 0 and --rounds a whole number >= 1');
  return { seconds, warmup, rounds };
}

export interface BenchPlan<T extends string> extends RunLength {
  values: ReturnType<typeof parseBenchArgs>;
  scenarioKeys: string[];
  targetNames: T[];
}

/** What every side-by-side bench reads from its flags; undefined once `--help` has been printed. */
export function planBench<T extends string>(help: string, scenarioKeys: readonly string[], targets: readonly T[], defaults: (quick: boolean) => { seconds: number; warmup: number }): BenchPlan<T> | undefined {
  const values = parseBenchArgs();
  if (values.help) {
    process.stdout.write(help);
    return undefined;
  }
  return {
    values,
    ...runLength(values, defaults(values.quick)),
    scenarioKeys: pickList(values.scenarios, scenarioKeys, 'scenario'),
    targetNames: pickList(values.targets, targets, 'target'),
  };
}

/** Each target's median round by req/s, in target order, carrying every round's rate when there were several. */
export function medianRounds<M extends Measurement>(byTarget: ReadonlyMap<string, readonly M[]>, targets: ReadonlyArray<{ name: string }>): M[] {
  return targets.flatMap((target) => {
    const rounds = byTarget.get(target.name) ?? [];
    const median = [...rounds].sort((a, b) => (a.rps || 0) - (b.rps || 0))[Math.floor(rounds.length / 2)];
    if (median === undefined) return [];
    return [rounds.length < 2 ? median : { ...median, roundsRps: rounds.map((m) => m.rps) }];
  });
}

/** A comma-separated flag as a list of known names; all of them when the flag is absent. */
export function pickList<T extends string>(value: string | undefined, all: readonly T[], what: string): T[] {
  if (value === undefined) return [...all];
  const list = value.split(',').map((s) => s.trim()) as T[];
  for (const item of list) if (!all.includes(item)) throw new Error(`unknown ${what} "${item}" (one of ${all.join(', ')})`);
  return list;
}

/** A run that threw, as a row: no rate, one error, and the first line of the message, so the table still shows it. */
export function failedRun(err: unknown, seconds: number): Omit<Measurement, 'target' | 'scenario' | 'tool'> {
  const message = ((err as Error).message.split('\n')[0] ?? '').slice(0, 200);
  return { requests: 0, seconds, rps: Number.NaN, p50Ms: Number.NaN, p99Ms: Number.NaN, errors: 1, detail: `run failed: ${message}` };
}

/** Runs a bench's main: an error is one line on stderr and exit code 1, and every started process is stopped either way. */
export async function runBench(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await cleanupAll();
  }
}
