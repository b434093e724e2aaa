// translate() reuses the plan of an Ingress object it has seen (same object, same resourceVersion):
// these tests check that reuse never changes an answer, for objects replaced, edited, or reading a ConfigMap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigMap, Ingress, IngressClass } from '../src/model/kube.ts';
import type { Snapshot } from '../src/model/snapshot.ts';
import { translate } from '../src/translate/index.ts';

const options = { ingressClass: 'wharf', controllerClass: 'wharf.dev/ingress-controller' };
const ingressClass = { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'wharf' }, spec: { controller: 'wharf.dev/ingress-controller' } } as IngressClass;

function ingress(host: string, resourceVersion?: string, annotations?: Record<string, string>): Ingress {
  const metadata: Ingress['metadata'] = { name: 'web', namespace: 'shop', creationTimestamp: '2026-01-01T00:00:00Z' };
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  if (annotations) metadata.annotations = annotations;
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec: { ingressClassName: 'wharf', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } } as Ingress;
}

function snapshot(ingresses: Ingress[], configMaps: ConfigMap[] = []): Snapshot {
  return { ingresses, ingressClasses: [ingressClass], services: [], endpointSlices: [], endpoints: [], secrets: [], configMaps } as Snapshot;
}

const hosts = (s: Snapshot): string[] => translate(s, options).table.hosts.map((h) => h.host);

test('an unchanged Ingress object gives the same table; a replaced one (new resourceVersion) its new hosts', () => {
  const a = ingress('a.test', '10');
  const first = translate(snapshot([a]), options);
  assert.deepEqual(translate(snapshot([a]), options), first);
  assert.deepEqual(hosts(snapshot([ingress('b.test', '11')])), ['b.test']);
});

test('an object edited in place is planned again: without a resourceVersion always, with one when it changes', () => {
  const manifest = ingress('a.test');
  assert.deepEqual(hosts(snapshot([manifest])), ['a.test']);
  manifest.spec!.rules![0]!.host = 'c.test';
  assert.deepEqual(hosts(snapshot([manifest])), ['c.test']);

  const fromApi = ingress('a.test', '20');
  assert.deepEqual(hosts(snapshot([fromApi])), ['a.test']);
  fromApi.spec!.rules![0]!.host = 'd.test';
  fromApi.metadata.resourceVersion = '21';
  assert.deepEqual(hosts(snapshot([fromApi])), ['d.test']);
});

test('an Ingress reading a ConfigMap follows the ConfigMap, though the Ingress object is the same', () => {
  const ing = ingress('a.test', '30', { 'wharf.dev/custom-headers': 'hdrs' });
  const cm = (value: string): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hdrs', namespace: 'shop', resourceVersion: value }, data: { 'X-Team': value } }) as ConfigMap;
  const headersOf = (s: Snapshot): unknown => translate(s, options).table.hosts[0]?.routes[0]?.options.customHeaders;
  assert.deepEqual(headersOf(snapshot([ing], [cm('one')])), { 'X-Team': 'one' });
  assert.deepEqual(headersOf(snapshot([ing], [cm('two')])), { 'X-Team': 'two' });
  // And without the ConfigMap the Ingress is reported and not served.
  const result = translate(snapshot([ing]), options);
  assert.deepEqual(result.served, []);
  assert.ok(result.diagnostics.some((d) => d.code === 'WHARF_E_ANNOTATION'));
});
