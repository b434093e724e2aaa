// The Ingress documentation's path-matching examples (plus the pains users report), shared by the
// end-to-end tests in --manifests mode and through the real API server.

export type PathRow = { paths: Array<[string, 'Prefix' | 'Exact']>; request: string; expect: number | 'none' };

// From the Ingress documentation's "Examples" table; `expect` is the index of the matching path.
export const PATH_TABLE: PathRow[] = [
  { paths: [['/', 'Prefix']], request: '/anything/at/all', expect: 0 },
  { paths: [['/foo', 'Exact']], request: '/foo', expect: 0 },
  { paths: [['/foo', 'Exact']], request: '/bar', expect: 'none' },
  { paths: [['/foo', 'Exact']], request: '/foo/', expect: 'none' },
  { paths: [['/foo/', 'Exact']], request: '/foo', expect: 'none' },
  { paths: [['/foo', 'Prefix']], request: '/foo', expect: 0 },
  { paths: [['/foo', 'Prefix']], request: '/foo/', expect: 0 },
  { paths: [['/foo/', 'Prefix']], request: '/foo', expect: 0 },
  { paths: [['/foo/', 'Prefix']], request: '/foo/', expect: 0 },
  { paths: [['/aaa/bb', 'Prefix']], request: '/aaa/bbb', expect: 'none' },
  { paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbb', expect: 0 },
  { paths: [['/aaa/bbb/', 'Prefix']], request: '/aaa/bbb', expect: 0 },
  { paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbb/', expect: 0 },
  { paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbb/ccc', expect: 0 },
  { paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbbxyz', expect: 'none' },
  { paths: [['/', 'Prefix'], ['/aaa', 'Prefix']], request: '/aaa/ccc', expect: 1 },
  { paths: [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], request: '/aaa/bbb', expect: 2 },
  { paths: [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], request: '/ccc', expect: 0 },
  { paths: [['/aaa', 'Prefix']], request: '/ccc', expect: 'none' },
  { paths: [['/foo', 'Prefix'], ['/foo', 'Exact']], request: '/foo', expect: 1 },
  // The pains users report: /v1 must not match /v11, /admin must not match /administrator.
  { paths: [['/', 'Prefix'], ['/v1', 'Prefix']], request: '/v11', expect: 0 },
  { paths: [['/', 'Prefix'], ['/admin', 'Prefix']], request: '/administrator', expect: 0 },
];


/** Hosts against an exact `foo.bar.com` (path index 0) and a wildcard `*.bar.com` (path index 1). */
export const HOST_TABLE: Array<[host: string, expect: number | 'none']> = [
  ['foo.bar.com', 0],
  ['FOO.Bar.com:8080', 0],
  ['baz.bar.com', 1],
  ['bar.com', 'none'],
  ['a.baz.bar.com', 'none'],
];
