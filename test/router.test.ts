// End-to-end routing checks: Kubernetes objects → translate() → compileRouter() → match(), asserting
// the Kubernetes docs' path and host tables, the fallback order, regex captures, rewrites and canaries.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { compileRouter } from '../proxy/router.ts';
import type { CompiledRouter, RouteMatch } from '../proxy/router.ts';
import type { TranslateOptions } from '../src/model/table.ts';
import { translate } from '../src/translate/index.ts';
import { DEFAULT_OPTIONS, snapshotFromYaml } from './translate.support.ts';

function routerFor(yaml: string, options: TranslateOptions = DEFAULT_OPTIONS): CompiledRouter {
  const result = translate(snapshotFromYaml(yaml), options);
  return compileRouter(result.table);
}

function backendOf(m: RouteMatch): string | undefined {
  return m.backend;
}

/** One Ingress with the given host and paths; `paths` entries are [pathType, path, service]. */
function ingress(name: string, host: string | undefined, paths: Array<[string, string, string]>, extra = ''): string {
  const hostLine = host === undefined ? '' : `host: ${host}\n      `;
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${name}, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"${extra} }
spec:
  ingressClassName: wharf
  rules:
    - ${hostLine}http:
        paths:
${paths.map(([t, p, s]) => `          - { path: "${p}", pathType: ${t}, backend: { service: { name: ${s}, port: { number: 80 } } } }`).join('\n')}
`;
}

describe('Kubernetes path matching table', () => {
  const router = routerFor(readFileSync(join(import.meta.dirname, 'golden/paths-spec-table/input.yaml'), 'utf8'));
  // [row host, request path, expected backend or undefined for "no match"], in the order of the docs' table.
  const cases: Array<[string, string, string | undefined]> = [
    ['row01', '/', 'default/svc-a:80'],
    ['row01', '/anything/at/all', 'default/svc-a:80'],
    ['row02', '/foo', 'default/svc-a:80'],
    ['row02', '/bar', undefined],
    ['row02', '/foo/', undefined],
    ['row03', '/foo', undefined],
    ['row03', '/foo/', 'default/svc-a:80'],
    ['row04', '/foo', 'default/svc-a:80'],
    ['row04', '/foo/', 'default/svc-a:80'],
    ['row05', '/foo', 'default/svc-a:80'],
    ['row05', '/foo/', 'default/svc-a:80'],
    ['row06', '/aaa/bbb', undefined],
    ['row07', '/aaa/bbb', 'default/svc-a:80'],
    ['row08', '/aaa/bbb', 'default/svc-a:80'],
    ['row07', '/aaa/bbb/', 'default/svc-a:80'],
    ['row07', '/aaa/bbb/ccc', 'default/svc-a:80'],
    ['row07', '/aaa/bbbxyz', undefined],
    ['row09', '/aaa/ccc', 'default/svc-b:80'],
    ['row10', '/aaa/bbb', 'default/svc-c:80'],
    ['row10', '/ccc', 'default/svc-a:80'],
    ['row11', '/ccc', undefined],
    ['row12', '/foo', 'default/svc-b:80'],
  ];
  for (const [row, path, expected] of cases) {
    test(`${row}: ${path} → ${expected ?? 'no match'}`, () => {
      const m = router.match(`${row}.example.com`, path);
      assert.equal(backendOf(m), expected);
      assert.equal(m.reason, expected === undefined ? 'notFound' : 'route');
    });
  }
  test('Prefix match of the longer rule wins over a shorter one at every depth', () => {
    const m = router.match('row10.example.com', '/aaa/bbb/ccc/ddd');
    assert.equal(m.route?.match.path, '/aaa/bbb');
  });
  test('the query string is not part of the path', () => {
    assert.equal(backendOf(router.match('row02.example.com', '/foo?x=/bar')), 'default/svc-a:80');
    assert.equal(backendOf(router.match('row07.example.com', '/aaa/bbbxyz?a=/aaa/bbb')), undefined);
  });
  test('Exact paths are case-sensitive and matched on the raw (percent-encoded) path', () => {
    assert.equal(backendOf(router.match('row02.example.com', '/FOO')), undefined);
    assert.equal(backendOf(router.match('row02.example.com', '/%66oo')), undefined);
  });
});

describe('Kubernetes host matching table', () => {
  const router = routerFor([
    ingress('wild', '"*.foo.com"', [['Prefix', '/', 'wild']]),
    ingress('exact', 'bar.foo.com', [['Prefix', '/', 'exact']]),
    ingress('apex', 'foo.com', [['Prefix', '/', 'apex']]),
  ].join('---\n'));
  const cases: Array<[string, string | undefined]> = [
    ['bar.foo.com', 'default/exact:80'],
    ['baz.foo.com', 'default/wild:80'],
    ['baz.bar.foo.com', undefined],
    ['foo.com', 'default/apex:80'],
    ['BAZ.Foo.COM', 'default/wild:80'],
    ['baz.foo.com:8080', 'default/wild:80'],
    ['Bar.Foo.Com:443', 'default/exact:80'],
    ['bar.foo.com.', 'default/exact:80'],
    ['other.com', undefined],
    ['[::1]:80', undefined],
    ['', undefined],
  ];
  for (const [host, expected] of cases) {
    test(`${JSON.stringify(host)} → ${expected ?? 'no match'}`, () => {
      assert.equal(backendOf(router.match(host, '/')), expected);
    });
  }
  test('a wildcard never matches its own apex', () => {
    const only = routerFor(ingress('wild', '"*.foo.com"', [['Prefix', '/', 'wild']]));
    assert.equal(only.match('foo.com', '/').reason, 'notFound');
    assert.equal(only.match('x.foo.com', '/').vhost?.host, '*.foo.com');
  });
});

describe('fallback order', () => {
  const yaml = [
    ingress('api', 'api.example.com', [['Prefix', '/v1', 'api']]),
    ingress('any', undefined, [['Prefix', '/shared', 'shared'], ['Exact', '/health', 'health']]),
    ingress('docs', 'docs.example.com', [['Prefix', '/guide', 'guide']]).replace('  rules:', '  defaultBackend: { service: { name: docs-home, port: { number: 80 } } }\n  rules:'),
  ].join('---\n');
  const router = routerFor(yaml, { ...DEFAULT_OPTIONS, defaultBackendService: 'wharf-system/fallback:8080' });
  test('own route first', () => {
    const m = router.match('api.example.com', '/v1/users');
    assert.deepEqual([m.reason, m.backend, m.vhost?.host], ['route', 'default/api:80', 'api.example.com']);
  });
  test('then the rules without host', () => {
    const m = router.match('api.example.com', '/shared/x');
    assert.deepEqual([m.reason, m.backend, m.vhost?.host], ['route', 'default/shared:80', '*']);
  });
  test('the host defaultBackend beats the rules without host', () => {
    const m = router.match('docs.example.com', '/shared/x');
    assert.deepEqual([m.reason, m.backend, m.vhost?.host], ['vhostDefault', 'default/docs-home:80', 'docs.example.com']);
  });
  test('unknown hosts use the rules without host', () => {
    assert.equal(router.match('unknown.test', '/health').backend, 'default/health:80');
    assert.equal(router.match('unknown.test', '/health/').route, undefined);
  });
  test('then the global default backend', () => {
    const m = router.match('api.example.com', '/v2');
    assert.deepEqual([m.reason, m.backend, m.vhost], ['globalDefault', 'wharf-system/fallback:8080', undefined]);
  });
  test('and with none of those, notFound', () => {
    const bare = routerFor(ingress('api', 'api.example.com', [['Prefix', '/v1', 'api']]));
    assert.deepEqual(bare.match('api.example.com', '/v2'), { reason: 'notFound' });
  });
});

describe('regex routes, rewrites and canaries', () => {
  const regexIngress = ingress('re', 'app.example.com', [['ImplementationSpecific', '/api/v([0-9]+)/(.*)', 'api'], ['Prefix', '/', 'web'], ['Exact', '/api/v1/exact', 'exact']],
    ', annotations: { wharf.dev/use-regex: "true", wharf.dev/rewrite-target: "/$2?v=$1" }');
  test('rewrite-target with a query is refused, and the Ingress dropped', () => {
    const result = translate(snapshotFromYaml(regexIngress), DEFAULT_OPTIONS);
    assert.equal(result.table.hosts.length, 0);
    assert.equal(result.diagnostics[0]?.code, 'WHARF_E_ANNOTATION');
    assert.equal(result.diagnostics[0]?.field, "metadata.annotations['wharf.dev/rewrite-target']");
  });
  const router = routerFor(regexIngress.replace('/$2?v=$1', '/v$1/$2'));
  test('Exact beats Regex, Regex beats Prefix, captures fill the rewrite', () => {
    assert.equal(router.match('app.example.com', '/api/v1/exact').backend, 'default/exact:80');
    const m = router.match('app.example.com', '/api/v12/users/7?x=1');
    assert.equal(m.backend, 'default/api:80');
    assert.deepEqual(m.captures, ['12', 'users/7']);
    assert.equal(m.rewrittenPath, '/v12/users/7');
    assert.equal(router.match('app.example.com', '/api/vX/users').backend, 'default/web:80');
    assert.equal(router.match('app.example.com', '/x/api/v1/a').backend, 'default/web:80', 'regexes are anchored at the start');
  });
  test('Prefix rewrite swaps the matched prefix', () => {
    const r = routerFor(ingress('p', 'p.example.com', [['Prefix', '/app/', 'app']], ', annotations: { wharf.dev/rewrite-target: "/" }'));
    assert.equal(r.match('p.example.com', '/app/x/y').rewrittenPath, '/x/y');
    assert.equal(r.match('p.example.com', '/app').rewrittenPath, '/');
    assert.equal(r.match('p.example.com', '/app/').rewrittenPath, '/');
  });
  test('canary by header, cookie and weight', () => {
    const main = ingress('main', 'c.example.com', [['Prefix', '/', 'stable']]);
    const canary = ingress('canary', 'c.example.com', [['Prefix', '/', 'next']],
      ', annotations: { wharf.dev/canary: "true", wharf.dev/canary-weight: "20", wharf.dev/canary-by-header: X-Canary, wharf.dev/canary-by-cookie: canary }');
    const r = routerFor(`${main}---\n${canary}`);
    assert.equal(r.match('c.example.com', '/').backend, 'default/stable:80', 'no roll, no header: main');
    assert.equal(r.match('c.example.com', '/', { 'x-canary': 'always' }).backend, 'default/next:80');
    assert.equal(r.match('c.example.com', '/', { 'x-canary': 'never' }, 0).backend, 'default/stable:80', 'never beats the weight');
    assert.equal(r.match('c.example.com', '/', { cookie: 'a=b; canary=always' }).backend, 'default/next:80');
    assert.equal(r.match('c.example.com', '/', {}, 19.9).canary, true);
    assert.equal(r.match('c.example.com', '/', {}, 20).canary, undefined);
  });
});
