// `wharf.dev/rewrite-target`: the path the backend sees. Prefix routes swap the matched prefix, Exact
// routes become the target, regex routes become the target with $1..$9 filled from the captures.
import type { Route } from '../../src/model/table.ts';

export function rewritePath(route: Route, path: string, captures: readonly string[] | undefined): string | undefined {
  const target = route.options.rewriteTarget;
  if (target === undefined) return undefined;
  switch (route.match.type) {
    case 'Exact':
      return target;
    case 'Regex':
      // Like nginx's `rewrite`: the whole path is replaced; unknown captures become empty.
      return target.replace(/\$([1-9])/g, (_, n: string) => captures?.[Number(n) - 1] ?? '');
    case 'Prefix': {
      const prefix = route.match.path;
      const rest = prefix === '/' ? path : path.slice(prefix.length);
      const joined = target.endsWith('/') && rest.startsWith('/') ? target + rest.slice(1) : target + rest;
      return joined === '' ? '/' : joined;
    }
  }
}
