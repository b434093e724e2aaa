// Golden tests for translate(): each test/golden/<case>/input.yaml (+ options.json) must translate to
// exactly expected.json. Regenerate with UPDATE_GOLDEN=1 and review the diff before committing it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TranslateOptions } from '../src/model/table.ts';
import { translate } from '../src/translate/index.ts';
import { DEFAULT_OPTIONS, snapshotFromYaml } from './translate.support.ts';

const root = join(import.meta.dirname, 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  test(`golden: ${name}`, () => {
    const snapshot = snapshotFromYaml(readFileSync(join(dir, 'input.yaml'), 'utf8'));
    const optionsFile = join(dir, 'options.json');
    const options: TranslateOptions = existsSync(optionsFile) ? { ...DEFAULT_OPTIONS, ...JSON.parse(readFileSync(optionsFile, 'utf8')) } : DEFAULT_OPTIONS;
    const result = translate(snapshot, options);
    const text = `${JSON.stringify(result, null, 2)}\n`;
    const expectedFile = join(dir, 'expected.json');
    if (update) writeFileSync(expectedFile, text);
    assert.ok(existsSync(expectedFile), `${expectedFile} is missing; run with UPDATE_GOLDEN=1`);
    assert.deepEqual(JSON.parse(text), JSON.parse(readFileSync(expectedFile, 'utf8')));
    // Purity: the same snapshot, with every list reversed, gives byte-identical output.
    const reversed = Object.fromEntries(Object.entries(snapshot).map(([k, v]) => [k, [...(v as unknown[])].reverse()])) as unknown as typeof snapshot;
    assert.equal(`${JSON.stringify(translate(reversed, options), null, 2)}\n`, text);
  });
}
