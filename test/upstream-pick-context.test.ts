// What the balancer reads from a request: hash keys for every `upstream-hash-by` form translate accepts,
// the affinity cookie, and nothing at all for policies that need nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestHead } from '../proxy/http1/types.ts';
import { compileHashKey, compilePickContext, cookieValue } from '../proxy/upstream/pick-context.ts';

function head(headers: string[], path = '/p', query = '', host = 'Shop.Example:8080'): RequestHead {
  return {
    method: 'GET', target: path + query, path, query, absoluteHost: undefined, versionMinor: 1, headers, host,
    contentLength: undefined, chunked: false, keepAlive: true, upgrade: undefined, expectContinue: false, connectionTokens: [],
  };
}

const H = head(['Host', 'shop.example', 'X-User', 'alice', 'Cookie', 'a=1; Session="s-9"; route=tok', 'cookie', 'late=2'], '/cart/items', '?Page=3&x');

test('hash keys for every form upstream-hash-by accepts', () => {
  const key = (by: string): string | undefined => compileHashKey(by)(H, '192.0.2.7');
  assert.equal(key('$remote_addr'), '192.0.2.7');
  assert.equal(key('$request_uri'), '/cart/items?Page=3&x');
  assert.equal(key('$uri'), '/cart/items');
  assert.equal(key('$host'), 'shop.example');
  assert.equal(key('$http_x_user'), 'alice');
  assert.equal(key('$http_x_missing'), undefined);
  assert.equal(key('$cookie_session'), 's-9');
  assert.equal(key('$cookie_late'), '2');
  assert.equal(key('$cookie_none'), undefined);
  assert.equal(key('$arg_page'), '3');
  assert.equal(key('$arg_x'), '');
  assert.equal(key('$arg_y'), undefined);
  assert.equal(key('constant'), 'constant');
});

test('cookieValue: exact name by default, quoted values unquoted, later Cookie fields searched', () => {
  assert.equal(cookieValue(H.headers, 'route'), 'tok');
  assert.equal(cookieValue(H.headers, 'session'), undefined);
  assert.equal(cookieValue(H.headers, 'Session'), 's-9');
  assert.equal(cookieValue(H.headers, 'late'), '2');
  assert.equal(cookieValue(['Cookie', 'novalue; k=v'], 'k'), 'v');
  assert.equal(cookieValue([], 'k'), undefined);
});

test('compilePickContext: nothing for round robin and friends; hash key and/or affinity otherwise', () => {
  assert.equal(compilePickContext({ algorithm: 'round_robin' }), undefined);
  assert.equal(compilePickContext({ algorithm: 'ewma' }), undefined);
  assert.deepEqual(compilePickContext({ algorithm: 'hash', hashBy: '$http_x_user' })?.(H, '192.0.2.7'), { hashKey: 'alice' });
  assert.deepEqual(compilePickContext({ algorithm: 'least_request', affinity: { cookieName: 'route' } })?.(H, '192.0.2.7'), { affinity: 'tok' });
  assert.deepEqual(compilePickContext({ algorithm: 'hash', hashBy: '$remote_addr', affinity: { cookieName: 'route' } })?.(H, '192.0.2.7'), { hashKey: '192.0.2.7', affinity: 'tok' });
});
