// Unit tests for translate()'s building blocks: CIDRs, hashing and backend keys, path regex guards,
// host and path normalisation, annotation parsing and the generated docs table, and router helpers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pickCanary } from '../proxy/router/canary.ts';
import { normalizeRequestHost, routingPath } from '../proxy/router/host.ts';
import { PrefixTrie } from '../proxy/router/prefix-trie.ts';
import { rewritePath } from '../proxy/router/rewrite.ts';
import type { Route } from '../src/model/table.ts';
import { parseSize } from '../src/translate/annotation-values.ts';
import { ANNOTATIONS, parseAnnotations, renderAnnotationDocs } from '../src/translate/annotations.ts';
import { backendKey } from '../src/translate/backends.ts';
import { formatCidr, parseCidr } from '../src/translate/cidr.ts';
import { canonicalJson, fnv1a32 } from '../src/translate/hash.ts';
import { normalizeHost } from '../src/translate/hosts.ts';
import { compareMatches, toPathMatch } from '../src/translate/paths.ts';
import { pathRegexProblem } from '../src/translate/regex.ts';

const cidr = (s: string): string | undefined => {
  const c = parseCidr(s);
  return c && formatCidr(c);
};

describe('CIDR', () => {
  test('IPv4 ranges are masked to their network', () => {
    assert.equal(cidr('10.1.2.3/8'), '10.0.0.0/8');
    assert.equal(cidr('192.0.2.7'), '192.0.2.7/32');
    assert.equal(cidr('0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(cidr('198.51.100.255/25'), '198.51.100.128/25');
  });
  test('IPv6 ranges are rendered per RFC 5952', () => {
    assert.equal(cidr('2001:DB8:0:0:0::1/64'), '2001:db8::/64');
    assert.equal(cidr('::1'), '::1/128');
    assert.equal(cidr('::'), '::/128');
    assert.equal(cidr('2001:db8:0:1:0:0:0:1/128'), '2001:db8:0:1::1/128');
    assert.equal(cidr('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1/128', 'the longest zero run is compressed');
    assert.equal(cidr('2001:0:0:1:0:0:1:1'), '2001::1:0:0:1:1/128', 'the first of two equal zero runs is compressed');
    assert.equal(cidr('fe80::1:2/10'), 'fe80::/10');
    assert.equal(cidr('::ffff:192.0.2.1'), '::ffff:192.0.2.1/128');
  });
  test('malformed ranges are refused', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0/8', '10.0.0.256', '010.0.0.1', '10.0.0.0/08', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::/129', 'fe80::g', '', '/8', '10.0.0.0/', 'example.com']) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });
});

describe('hashing and backend keys', () => {
  test('FNV-1a matches the reference vectors', () => {
    assert.equal(fnv1a32(''), '811c9dc5');
    assert.equal(fnv1a32('a'), 'e40c292c');
    assert.equal(fnv1a32('foobar'), 'bf9cf968');
  });
  test('canonical JSON sorts keys at every level and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined }], c: null } }), '{"a":{"c":null,"d":[2,{"z":1}]},"b":1}');
  });
  test('default policy keys carry no hash; others a stable one independent of key order', () => {
    const base = { namespace: 'ns', service: 'svc', port: 'http' as const };
    assert.equal(backendKey({ ...base, protocol: 'HTTP', balance: { algorithm: 'round_robin' } }), 'ns/svc:http');
    const a = backendKey({ ...base, protocol: 'GRPC', balance: { algorithm: 'hash', hashBy: '$host' } });
    const b = backendKey({ ...base, protocol: 'GRPC', balance: { hashBy: '$host', algorithm: 'hash' } });
    assert.equal(a, b);
    assert.match(a, /^ns\/svc:http#[0-9a-f]{8}$/);
    assert.equal(a, `ns/svc:http#${fnv1a32('{"balance":{"algorithm":"hash","hashBy":"$host"},"protocol":"GRPC"}')}`);
    assert.notEqual(a, backendKey({ ...base, protocol: 'GRPCS', balance: { algorithm: 'hash', hashBy: '$host' } }));
  });
});

describe('paths', () => {
  test('Prefix paths lose their trailing slashes; Exact keep them', () => {
    assert.deepEqual(toPathMatch('/foo/', 'Prefix', false), { ok: true, match: { type: 'Prefix', path: '/foo' } });
    assert.deepEqual(toPathMatch('/', 'Prefix', false), { ok: true, match: { type: 'Prefix', path: '/' } });
    assert.deepEqual(toPathMatch('/foo/', 'Exact', false), { ok: true, match: { type: 'Exact', path: '/foo/' } });
    assert.deepEqual(toPathMatch('/foo/', 'ImplementationSpecific', false), { ok: true, match: { type: 'Prefix', path: '/foo' } });
    assert.deepEqual(toPathMatch('/foo/.*', 'ImplementationSpecific', true), { ok: true, match: { type: 'Regex', path: '/foo/.*' } });
    assert.deepEqual(toPathMatch('/foo', 'Exact', true), { ok: true, match: { type: 'Exact', path: '/foo' } });
  });
  test('route order: Exact, Regex longest first, Prefix longest first', () => {
    const ms = [
      { type: 'Prefix', path: '/' }, { type: 'Regex', path: '/a.*' }, { type: 'Exact', path: '/z' },
      { type: 'Prefix', path: '/abc' }, { type: 'Regex', path: '/a/b.*' }, { type: 'Exact', path: '/a' },
    ] as const;
    assert.deepEqual([...ms].sort(compareMatches).map((m) => `${m.type} ${m.path}`), ['Exact /a', 'Exact /z', 'Regex /a/b.*', 'Regex /a.*', 'Prefix /abc', 'Prefix /']);
  });
  test('regex guard refuses what could hang or escape the anchor', () => {
    assert.equal(pathRegexProblem('/api/(v[0-9]+)/(.*)'), undefined);
    assert.match(pathRegexProblem('/(a*)*b')!, /catastrophic/);
    assert.match(pathRegexProblem('/(?:x+){2,}')!, /catastrophic/);
    assert.match(pathRegexProblem('/(?<n>a)\\k<n>')!, /backreferences/);
    assert.match(pathRegexProblem('/a)|(.*')!, /does not compile/);
    assert.match(pathRegexProblem('/[')!, /does not compile/);
  });
});

describe('hosts', () => {
  test('rule hosts', () => {
    assert.deepEqual(normalizeHost('Foo.Example.com'), { ok: true, host: 'foo.example.com' });
    assert.deepEqual(normalizeHost('*.example.com'), { ok: true, host: '*.example.com' });
    for (const bad of ['*', '*.', 'a..b', '-a.com', 'a-.com', 'foo.com.', 'a.*.com', '**.com', '10.0.0.1', 'a:80', 'a_b.com']) {
      assert.equal(normalizeHost(bad).ok, false, bad);
    }
  });
  test('request hosts', () => {
    assert.equal(normalizeRequestHost('Example.COM:8080'), 'example.com');
    assert.equal(normalizeRequestHost('[::1]:443'), '::1');
    assert.equal(normalizeRequestHost('[2001:DB8::1]'), '2001:db8::1');
    assert.equal(normalizeRequestHost('::1'), '::1');
    assert.equal(normalizeRequestHost('example.com.'), 'example.com');
    assert.equal(normalizeRequestHost('example.com'), 'example.com');
    assert.equal(routingPath('/a?b#c'), '/a');
    assert.equal(routingPath('/a#c?d'), '/a');
    assert.equal(routingPath('?x'), '/');
  });
});

describe('annotations', () => {
  test('defaults fill every value that has one', () => {
    const { values, problems, explicit } = parseAnnotations(undefined);
    assert.deepEqual(problems, []);
    assert.equal(explicit.size, 0);
    assert.equal(values.proxyBodySize, 1024 * 1024);
    assert.equal(values.sslRedirect, true);
    assert.equal(values.loadBalance, 'round_robin');
    assert.equal(values.rewriteTarget, undefined);
  });
  test('sizes follow nginx', () => {
    assert.deepEqual(parseSize('512k'), { ok: true, value: 524288 });
    assert.deepEqual(parseSize('1M'), { ok: true, value: 1048576 });
    assert.deepEqual(parseSize('2g'), { ok: true, value: 2 * 1024 ** 3 });
    assert.deepEqual(parseSize('0'), { ok: true, value: 0 });
    assert.equal(parseSize('1mb').ok, false);
    assert.equal(parseSize('-1').ok, false);
  });
  test('foreign prefixes are not ours; unknown wharf.dev/ keys are reported', () => {
    const r = parseAnnotations({ 'nginx.ingress.kubernetes.io/rewrite-target': '/', 'wharf.dev/proxy-body-sise': '1m', 'wharf.dev/canary-weight': '7' });
    assert.deepEqual(r.unknown, ['wharf.dev/proxy-body-sise']);
    assert.equal(r.values.canaryWeight, 7);
    assert.deepEqual([...r.explicit], ['canaryWeight']);
  });
  test('the docs table has one row per annotation, with defaults', () => {
    const docs = renderAnnotationDocs();
    const rows = docs.trim().split('\n');
    assert.equal(rows.length, Object.keys(ANNOTATIONS).length + 2);
    assert.ok(rows.some((r) => r.startsWith('| `wharf.dev/proxy-body-size` | size | `1m` |')));
    assert.ok(rows.some((r) => r.startsWith('| `wharf.dev/use-regex` | boolean | `false` |')));
  });
  test('the README in src/translate carries the current table', () => {
    const readme = readFileSync(join(import.meta.dirname, '../src/translate/README.md'), 'utf8');
    assert.ok(readme.endsWith(renderAnnotationDocs()), 'regenerate the table at the end of src/translate/README.md with renderAnnotationDocs()');
  });
});

describe('router helpers', () => {
  const route = (type: 'Exact' | 'Prefix' | 'Regex', path: string, rewriteTarget?: string): Route => ({
    match: { type, path }, backend: `b:${path}`, source: { kind: 'Ingress', namespace: 'ns', name: 'n' },
    options: { sslRedirect: true, forceSslRedirect: false, timeouts: { connectMs: 1, readMs: 1, sendMs: 1 }, maxBodyBytes: 0, ...(rewriteTarget ? { rewriteTarget } : {}) },
  });
  test('the prefix trie matches element-wise, the longest wins', () => {
    const trie = new PrefixTrie();
    for (const p of ['/', '/a', '/a/b', '/a/b/c/d']) trie.insert(p, route('Prefix', p));
    const at = (path: string): string | undefined => trie.longest(path)?.match.path;
    assert.equal(at('/'), '/');
    assert.equal(at('/a'), '/a');
    assert.equal(at('/a/'), '/a');
    assert.equal(at('/ab'), '/');
    assert.equal(at('/a/b/c'), '/a/b');
    assert.equal(at('/a/b/c/'), '/a/b');
    assert.equal(at('/a/b/c/d/e'), '/a/b/c/d');
    assert.equal(at('/a//b'), '/a');
    const noRoot = new PrefixTrie();
    noRoot.insert('/x', route('Prefix', '/x'));
    assert.equal(noRoot.longest('/y'), undefined);
    assert.equal(noRoot.longest('/'), undefined);
  });
  test('rewrites', () => {
    assert.equal(rewritePath(route('Prefix', '/app', '/'), '/app/x', undefined), '/x');
    assert.equal(rewritePath(route('Prefix', '/app', '/v2'), '/app/x', undefined), '/v2/x');
    assert.equal(rewritePath(route('Prefix', '/', '/base/'), '/x/y', undefined), '/base/x/y');
    assert.equal(rewritePath(route('Exact', '/old', '/new'), '/old', undefined), '/new');
    assert.equal(rewritePath(route('Regex', '/(a)(b)?', '/$2-$1-$3'), '/a', ['a', '']), '/-a-');
    assert.equal(rewritePath(route('Prefix', '/app'), '/app/x', undefined), undefined);
  });
  test('canary precedence: header value, header always/never, cookie, weight', () => {
    const src = { kind: 'Ingress' as const, name: 'c' };
    assert.equal(pickCanary({ backend: 'c', weight: 100, byHeader: 'X-C', source: src }, { 'x-c': 'never' }, 0), false);
    assert.equal(pickCanary({ backend: 'c', weight: 0, byHeader: 'X-C', byHeaderValue: 'v2', source: src }, (n) => (n === 'x-c' ? 'v2' : undefined), undefined), true);
    assert.equal(pickCanary({ backend: 'c', weight: 0, byHeader: 'X-C', byHeaderValue: 'v2', source: src }, { 'x-c': 'always' }, undefined), false);
    assert.equal(pickCanary({ backend: 'c', weight: 100, byCookie: 'k', source: src }, { cookie: 'k=never' }, 0), false);
    assert.equal(pickCanary({ backend: 'c', weight: 0, byCookie: 'k', source: src }, { cookie: ['x=1; k=always'] }, undefined), true);
    assert.equal(pickCanary({ backend: 'c', weight: 30, source: src }, undefined, 29), true);
    assert.equal(pickCanary({ backend: 'c', weight: 30, source: src }, undefined, 30), false);
  });
});

test('the top-level README carries the current annotation table', () => {
  const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
  const start = readme.indexOf('<!-- annotations:begin -->\n');
  const end = readme.indexOf('<!-- annotations:end -->');
  assert.ok(start !== -1 && end > start, 'README has the annotation markers');
  assert.equal(readme.slice(start + '<!-- annotations:begin -->\n'.length, end), renderAnnotationDocs(), 'regenerate the README table with renderAnnotationDocs()');
});
