// CPU time a process tree has used, from /proc: the proxy's own CPU seconds during a run give a rate per
// CPU-second, which a busy shared machine distorts far less than the wall-clock rate.
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function ownTicks(pid: number): number {
  try {
    // Fields after the ")" that closes the command name: state is 3rd, utime 14th, stime 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

/** User + system CPU seconds of pid and its descendants (nginx: master and worker), a bounded walk. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  const queue = [pid];
  for (let seen = 0; queue.length > 0 && seen < 64; seen++) {
    const p = queue.shift() as number;
    ticks += ownTicks(p);
    queue.push(...childrenOf(p));
  }
  return ticks / TICKS_PER_SECOND;
}
