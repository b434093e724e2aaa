// Which passthrough host a server name picks: exact before wildcard, one label per `*`, case and a
// trailing root dot ignored, no name no match, and the table's first entry for a name wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePassthroughHosts } from '../proxy/passthrough/hosts.ts';
import type { PassthroughHost } from '../src/model/l4.ts';

const host = (name: string, backend: string): PassthroughHost => ({ host: name, backend, source: { kind: 'Ingress', namespace: 'default', name: backend } });

test('exact names beat wildcards; a wildcard covers exactly one more label', () => {
  const match = compilePassthroughHosts([host('*.example.com', 'wild'), host('api.example.com', 'api'), host('Mixed.Example.org', 'mixed')]);
  assert.ok(match);
  const backendOf = (name: string | undefined): string | undefined => match(name)?.backend;
  assert.equal(backendOf('api.example.com'), 'api');
  assert.equal(backendOf('API.Example.COM.'), 'api');
  assert.equal(backendOf('web.example.com'), 'wild');
  assert.equal(backendOf('a.web.example.com'), undefined);
  assert.equal(backendOf('example.com'), undefined);
  assert.equal(backendOf('.example.com'), undefined);
  assert.equal(backendOf('mixed.example.org'), 'mixed');
  assert.equal(backendOf(undefined), undefined);
  assert.equal(backendOf(''), undefined);
});

test('no hosts, no matcher (the HTTPS port then does not peek); duplicates keep the first', () => {
  assert.equal(compilePassthroughHosts(undefined), undefined);
  assert.equal(compilePassthroughHosts([]), undefined);
  assert.equal(compilePassthroughHosts([host('a.test', 'first'), host('A.test', 'second')])?.('a.test')?.backend, 'first');
});
