// Lists where a kept callgrind dump (bench/http/callgrind.sh with CALLGRIND_KEEP=<dir>) spent its
// instructions, per request and by function, naming JIT code from node's --perf-basic-prof map.
// Usage: node bench/http/callgrind-names.ts <dir> [top=60] [--inclusive]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, topText, mode] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: callgrind-names.ts <dir> [top] [--inclusive]');
const top = Number(topText ?? 60);
const requests = Number(readFileSync(join(dir, 'requests'), 'latin1').trim());

/** Code ranges from the perf map, sorted by start, for a binary search per address. */
const ranges: Array<{ start: number; end: number; name: string }> = [];
for (const line of readFileSync(join(dir, 'perf.map'), 'latin1').split('\n')) {
  const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
  if (match === null) continue;
  const start = parseInt(match[1] as string, 16);
  ranges.push({ start, end: start + parseInt(match[2] as string, 16), name: match[3] as string });
}
ranges.sort((a, b) => a.start - b.start);

function nameOf(address: number): string | undefined {
  let low = 0;
  let high = ranges.length - 1;
  let found: (typeof ranges)[number] | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const range = ranges[middle] as (typeof ranges)[number];
    if (range.start <= address) {
      found = range;
      low = middle + 1;
    } else high = middle - 1;
  }
  // Code objects are reused as they are replaced; the last entry that starts at or before the address wins.
  return found !== undefined && address < found.end ? found.name : undefined;
}

const args = [`--inclusive=${mode === '--inclusive' ? 'yes' : 'no'}`, '--threshold=100', join(dir, 'cg.out')];
const text = execFileSync('callgrind_annotate', args, { encoding: 'latin1', maxBuffer: 256 * 1024 * 1024 });
const totals = new Map<string, number>();
for (const line of text.split('\n')) {
  const match = /^\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(.*)$/.exec(line);
  if (match === null || line.includes('PROGRAM TOTALS')) continue;
  const count = Number((match[1] as string).replace(/,/g, ''));
  let name = (match[2] as string).replace(/ \[[^\]]*\]$/, '').replace(/^\?\?\?:/, '');
  const address = /^0x([0-9a-f]+)$/.exec(name);
  if (address !== null) name = nameOf(parseInt(address[1] as string, 16)) ?? name;
  totals.set(name, (totals.get(name) ?? 0) + count);
}
const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [name, count] of rows) console.log(`${(count / requests).toFixed(0).padStart(7)}  ${name.slice(0, 150)}`);
