// Tests for the manifests source: multi-document files, defaults, live reload, and a broken file
// that is reported with its line while the store keeps its last good objects.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManifestsSource, parseManifestText } from '../controller/manifests-source.ts';
import { Store } from '../controller/store.ts';
import { WharfError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { eventually } from './support/http.ts';

const quiet = createLogger({ level: 'error', format: 'json', write: () => {} });

test('parses multi-document YAML, Lists, defaults namespaces and skips foreign kinds', () => {
  const objs = parseManifestText(
    `apiVersion: v1
kind: Service
metadata: {name: a}
---
# a comment-only document
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: x}}
  - {apiVersion: networking.k8s.io/v1, kind: IngressClass, metadata: {name: wharf, namespace: should-drop}}
`,
    'f.yaml',
  );
  assert.deepEqual(
    objs.map((o) => [o.kind, o.obj.metadata.namespace, o.obj.metadata.name]),
    [
      ['Service', 'default', 'a'],
      ['ConfigMap', 'x', 'c'],
      ['IngressClass', undefined, 'wharf'],
    ],
  );
});

test('a syntax error names the line', () => {
  assert.throws(() => parseManifestText('kind: Service\nmetadata: {name: a\n', 'bad.yaml'), (err: Error & { line?: number }) => typeof err.line === 'number' && err.line >= 1);
  assert.throws(() => parseManifestText('kind: Service\nmetadata: {}\n', 'x.yaml'), /a Service has no metadata.name/);
});

test('watches the directory: new, changed, broken and removed files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-manifests-'));
  const store = new Store();
  const problems: unknown[][] = [];
  const source = new ManifestsSource({ dir, store, log: quiet, onProblems: (p) => problems.push(p), debounceMs: 10 });
  await writeFile(join(dir, 'a.yaml'), 'kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n');
  await writeFile(join(dir, 'b.yaml'), 'kind: Service\nmetadata: {name: b}\n');
  await source.start();
  try {
    assert.deepEqual(store.snapshot().services.map((s) => s.metadata.name), ['a', 'b']);
    // Break a.yaml: its last good Service stays, b keeps serving, the problem is reported with the file.
    await writeFile(join(dir, 'a.yaml'), 'kind: Service\nmetadata: {name: a\n');
    await eventually(() => source.problems().length === 1);
    assert.match(source.problems()[0]?.file ?? '', /a\.yaml$/);
    assert.deepEqual(store.snapshot().services.map((s) => s.metadata.name), ['a', 'b']);
    assert.equal(store.snapshot().services[0]?.spec?.ports?.[0]?.port, 80);
    // Fix it with a change: picked up, problem gone.
    await writeFile(join(dir, 'a.yaml'), 'kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 81}]}\n');
    await eventually(() => store.snapshot().services[0]?.spec?.ports?.[0]?.port === 81);
    assert.equal(source.problems().length, 0);
    await rm(join(dir, 'b.yaml'));
    await eventually(() => store.snapshot().services.length === 1);
  } finally {
    source.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing directory is a clear error', async () => {
  const source = new ManifestsSource({ dir: '/nonexistent/wharf-manifests', store: new Store(), log: quiet });
  await assert.rejects(source.start(), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_MANIFEST_DIR' && /no such directory/.test(err.message));
});

test('--watch-namespace keeps only that namespace (and cluster-wide IngressClasses)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-ns-'));
  const store = new Store();
  await writeFile(join(dir, 'all.yaml'), 'kind: Service\nmetadata: {name: a, namespace: team-a}\n---\nkind: Service\nmetadata: {name: b, namespace: team-b}\n---\nkind: IngressClass\nmetadata: {name: wharf}\n');
  const source = new ManifestsSource({ dir, store, log: quiet, namespace: 'team-a' });
  try {
    await source.start();
    assert.deepEqual(store.snapshot().services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`), ['team-a/a']);
    assert.equal(store.snapshot().ingressClasses.length, 1);
  } finally {
    source.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
