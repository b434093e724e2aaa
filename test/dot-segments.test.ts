// Dot segments in request paths: recognised plainly and percent-encoded, refused with 400 through wharf.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasDotSegment } from '../proxy/front/dot-segments.ts';

test('finds . and .. segments, plain or percent-encoded, and nothing else', () => {
  for (const p of ['/x/../admin', '/./a', '/a/..', '/a/.', '/%2e%2e/admin', '/a/%2E/b', '/a/.%2e/b', '/..']) assert.equal(hasDotSegment(p), true, p);
  for (const p of ['/', '/a.b', '/.well-known/x', '/a/...', '/a/..b', '/v1.2/x', '/%2f', '/a%2eb', '/file.tar.gz']) assert.equal(hasDotSegment(p), false, p);
});
