// The L4 metrics are documented: every wharf_l4_* metric of the registry has a row, with its labels,
// in the README's metrics table.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMetrics } from '../src/metrics.ts';

test('every wharf_l4_* metric has a README row naming its type and labels', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const metrics = createMetrics();
  const l4 = (await metrics.registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('wharf_l4_'));
  assert.equal(l4.length, 8);
  for (const m of l4) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${m.name}\` |`));
    assert.ok(row !== undefined, `README lists ${m.name}`);
    assert.ok(row.includes(`| ${m.type} |`), `${m.name} is a ${m.type}`);
    const labels = (metrics.registry.getSingleMetric(m.name) as unknown as { labelNames: string[] }).labelNames;
    for (const label of labels) assert.ok(row.includes(`\`${label}\``), `${m.name}'s row names its label ${label}`);
  }
});
