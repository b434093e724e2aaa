// Store behaviour that keeps rebuilds proportional to what changed: an Ingress or Service status write (wharf's
// own comes back as a MODIFIED event) is reported as status-only (no rebuild), and unchanged kinds keep their sorted lists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../controller/store.ts';
import type { KubeObject } from '../src/model/kube.ts';

function ingress(rv: string, extra: { status?: unknown; host?: string; labels?: Record<string, string>; managedFields?: unknown[] } = {}): KubeObject {
  const metadata: Record<string, unknown> = { name: 'web', namespace: 'shop', resourceVersion: rv, uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z' };
  if (extra.labels) metadata.labels = extra.labels;
  if (extra.managedFields) metadata.managedFields = extra.managedFields;
  const obj: Record<string, unknown> = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec: { rules: [{ host: extra.host ?? 'a.test' }] } };
  if (extra.status) obj.status = extra.status;
  return obj as unknown as KubeObject;
}

test('an Ingress change in status, resourceVersion or managedFields only is stored and reported as status-only', () => {
  const store = new Store();
  const seen: string[] = [];
  store.onChange((kind, key, _svc, statusOnly) => seen.push(`${kind} ${key}${statusOnly ? ' status' : ''}`));
  assert.equal(store.upsert('Ingress', ingress('1')), true);
  const before = store.snapshot();

  const withStatus = ingress('2', { status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } }, managedFields: [{ manager: 'wharf' }] });
  assert.equal(store.upsert('Ingress', withStatus), true);
  assert.deepEqual(seen, ['Ingress shop/web', 'Ingress shop/web status']);
  // The status writer reads the current object (its resourceVersion is the write precondition).
  assert.equal(store.get('Ingress', 'shop', 'web'), withStatus);
  assert.deepEqual(store.list('Ingress'), [withStatus]);
  // translate() reads no status, so the cached snapshot may stay.
  assert.equal(store.snapshot(), before);

  // Anything translate() reads does rebuild: the spec, and metadata such as labels and annotations.
  assert.equal(store.upsert('Ingress', ingress('3', { host: 'b.test' })), true);
  assert.equal(store.upsert('Ingress', ingress('4', { host: 'b.test', labels: { tier: 'web' } })), true);
  assert.deepEqual(seen, ['Ingress shop/web', 'Ingress shop/web status', 'Ingress shop/web', 'Ingress shop/web']);
  assert.equal((store.snapshot().ingresses[0]!.metadata as { resourceVersion?: string }).resourceVersion, '4');
});

test('a Service change in status only is reported as status-only; a spec change still rebuilds', () => {
  const store = new Store();
  const seen: string[] = [];
  store.onChange((kind, key, _svc, statusOnly) => seen.push(`${kind} ${key}${statusOnly ? ' status' : ''}`));
  const svc = (rv: string, port: number, status?: unknown): KubeObject => ({ kind: 'Service', metadata: { name: 'lb', namespace: 'shop', resourceVersion: rv }, spec: { type: 'LoadBalancer', ports: [{ port }] }, ...(status ? { status } : {}) }) as unknown as KubeObject;
  store.upsert('Service', svc('1', 80));
  const before = store.snapshot();
  const written = svc('2', 80, { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } });
  store.upsert('Service', written);
  assert.deepEqual(seen, ['Service shop/lb', 'Service shop/lb status']);
  // The status writers read the live object; the snapshot translate() reads may stay.
  assert.equal(store.get('Service', 'shop', 'lb'), written);
  assert.equal(store.snapshot(), before);
  store.upsert('Service', svc('3', 81, { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } }));
  assert.deepEqual(seen, ['Service shop/lb', 'Service shop/lb status', 'Service shop/lb']);
});

test('a snapshot reuses the sorted lists of kinds that did not change, and re-sorts the one that did', () => {
  const store = new Store();
  const svc = (name: string, port = 80): KubeObject => ({ kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port }] } }) as unknown as KubeObject;
  store.upsert('Service', svc('b'));
  store.upsert('Service', svc('a'));
  store.upsert('Ingress', ingress('1'));
  const s1 = store.snapshot();
  assert.deepEqual(s1.services.map((s) => s.metadata.name), ['a', 'b']);

  store.upsert('Ingress', ingress('2', { host: 'c.test' }));
  const s2 = store.snapshot();
  assert.notEqual(s2, s1);
  assert.equal(s2.services, s1.services);
  assert.notEqual(s2.ingresses, s1.ingresses);
  assert.equal(s2.ingresses[0]!.spec?.rules?.[0]?.host, 'c.test');

  store.upsert('Service', svc('a', 81));
  store.delete('Service', 'default', 'b');
  const s3 = store.snapshot();
  assert.equal(s3.ingresses, s2.ingresses);
  assert.deepEqual(s3.services.map((s) => `${s.metadata.name}:${s.spec?.ports?.[0]?.port}`), ['a:81']);
  // Earlier snapshots are not changed by later writes.
  assert.deepEqual(s1.services.map((s) => s.metadata.name), ['a', 'b']);
});
