// Summarises a V8 .heapsnapshot by what holds the memory: self size and count per node type and
// constructor name, largest first. Usage: node bench/propagation/heap-summary.ts FILE [TOP]
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/propagation/heap-summary.ts FILE.heapsnapshot [TOP]');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 40);
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const iType = fields.indexOf('type');
const iName = fields.indexOf('name');
const iSize = fields.indexOf('self_size');

const groups = new Map<string, { size: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + iType] as number] ?? '?';
  // Strings are grouped as one; objects by their constructor; code and arrays by kind.
  const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : (snap.strings[snap.nodes[i + iName] as number] ?? '?');
  const key = `${type}${name ? `: ${name.slice(0, 60)}` : ''}`;
  const size = snap.nodes[i + iSize] as number;
  total += size;
  const g = groups.get(key) ?? { size: 0, count: 0 };
  g.size += size;
  g.count++;
  groups.set(key, g);
}
console.log(`total self size ${(total / 2 ** 20).toFixed(1)} MiB in ${snap.nodes.length / width} nodes\n`);
console.log('| self MiB | share | count | type: constructor |\n| --- | --- | --- | --- |');
for (const [key, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top)) {
  console.log(`| ${(g.size / 2 ** 20).toFixed(1)} | ${((100 * g.size) / total).toFixed(1)}% | ${g.count} | ${key.replaceAll('|', '\\|')} |`);
}
