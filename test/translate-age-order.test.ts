// Unit test for the priority order between Ingresses (oldest first, then namespace/name), which
// decides every route conflict; sortByIngressAge parses each timestamp once and must keep that order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ingress } from '../src/model/kube.ts';
import { sortByIngressAge } from '../src/translate/diag.ts';

function ing(namespace: string | undefined, name: string, creationTimestamp?: string): Ingress {
  const metadata: Ingress['metadata'] = { name };
  if (namespace !== undefined) metadata.namespace = namespace;
  if (creationTimestamp !== undefined) metadata.creationTimestamp = creationTimestamp;
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec: {} } as Ingress;
}

test('Ingresses sort oldest first, ties by namespace/name, no or bad timestamp last', () => {
  const input = [
    ing('b', 'x'),
    ing('a', 'late', '2026-01-02T00:00:00Z'),
    ing('b', 'same', '2026-01-01T00:00:00Z'),
    ing('a', 'same', '2026-01-01T00:00:00Z'),
    ing(undefined, 'nodefault', 'not a date'),
    ing('a', 'z'),
    // An offset that makes the later-looking string the earlier instant: the order is by time, not text.
    ing('c', 'offset', '2026-01-01T05:00:00+09:00'),
  ];
  const order = sortByIngressAge(input).map((i) => `${i.metadata.namespace ?? 'default'}/${i.metadata.name}`);
  assert.deepEqual(order, ['c/offset', 'a/same', 'b/same', 'a/late', 'a/z', 'b/x', 'default/nodefault']);
  // The input is left as it was: translate() sorts a filtered copy, never the snapshot's own list.
  assert.equal(input[0]!.metadata.name, 'x');
});
