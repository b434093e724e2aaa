// values.yaml of the chart as documentation: every value has a comment, the schema knows every
// value, and the README's values table names the values the issue asks users to find.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isMap, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';

const CHART = new URL('../charts/wharf/', import.meta.url);
const values = parseDocument(readFileSync(new URL('values.yaml', CHART), 'utf8'));
const schema = JSON.parse(readFileSync(new URL('values.schema.json', CHART), 'utf8')) as Schema;

interface Schema {
  properties?: Record<string, Schema>;
  $ref?: string;
  definitions?: Record<string, Schema>;
}

function resolve(node: Schema): Schema {
  const ref = node.$ref?.replace('#/definitions/', '');
  return ref !== undefined ? (schema.definitions?.[ref] ?? {}) : node;
}

interface Found {
  uncommented: string[];
  unknownToSchema: string[];
}

/** Walks values.yaml beside the schema; maps the schema leaves open (resources, nodeSelector) are examples, not values. */
function walk(map: YAMLMap, node: Schema, path: string[], found: Found): void {
  map.items.forEach((pair, i) => {
    const key = String((pair.key as { value: unknown }).value);
    const where = [...path, key].join('.');
    const child = node.properties?.[key];
    if (child === undefined) {
      found.unknownToSchema.push(where);
      return;
    }
    const v = pair.value;
    const leaf = isScalar(v) || isSeq(v) || (isMap(v) && (v.items.length === 0 || v.flow === true));
    // The first key of a block map carries its comment on the map itself.
    const comment = (pair.key as { commentBefore?: string | null }).commentBefore ?? (i === 0 ? map.commentBefore : undefined);
    const structured = resolve(child).properties !== undefined;
    if ((leaf || !structured) && !comment) found.uncommented.push(where);
    if (isMap(v) && !leaf && structured) walk(v, resolve(child), [...path, key], found);
  });
}

test('every value in values.yaml has a comment and is known to values.schema.json', () => {
  const found: Found = { uncommented: [], unknownToSchema: [] };
  walk(values.contents as YAMLMap, schema, [], found);
  assert.deepEqual(found.unknownToSchema, [], 'values the schema does not describe');
  assert.deepEqual(found.uncommented, [], 'values without a comment');
});

test('the values the issue names exist, and the README table lists them', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('## Install with Helm'), readme.indexOf('### The container image'));
  const has = (path: string): boolean => values.getIn(path.split('.')) !== undefined || values.hasIn(path.split('.'));
  for (const path of [
    'controller.kind', 'controller.replicaCount', 'controller.image.repository', 'controller.image.tag', 'controller.image.pullPolicy',
    'controller.hostNetwork', 'controller.service.type', 'controller.service.nodePorts.http', 'controller.service.nodePorts.https',
    'controller.service.loadBalancerClass', 'controller.ingressClassResource.enabled', 'controller.ingressClassResource.name',
    'controller.ingressClassResource.default', 'controller.ingressClassResource.controllerValue', 'controller.extraArgs',
    'controller.resources', 'controller.podDisruptionBudget', 'controller.tcp', 'controller.udp', 'controller.lbDefaultClass',
    'controller.proxyProtocol.enabled', 'controller.proxyProtocol.trustedCidrs', 'controller.privilegedPorts', 'defaultBackend', 'defaultTLS',
    'acme', 'metrics.serviceMonitor.enabled', 'rbac.create', 'serviceAccount', 'announcer',
  ]) {
    assert.ok(has(path), `${path} is in values.yaml`);
    // The table names a value, a value under it (`acme.{enabled,...}`), or its group (`a.{b,c}`).
    const head = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : path;
    assert.ok(table.includes(`\`${path}\``) || table.includes(`| \`${path}.`) || table.includes(`\`${head}.{`), `the README table lists ${path}`);
  }
  assert.equal(values.getIn(['controller', 'service', 'nodePorts', 'http']), 30799);
  assert.equal(values.getIn(['controller', 'service', 'nodePorts', 'https']), 31522);
});
