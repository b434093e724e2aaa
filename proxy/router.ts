// The compiled router: answers "which route and backend" for a host and path in O(path length).
// Built once per table; lookups allocate little and never consult anything but the compiled maps.
//
// Layout: exact hosts in a Map, wildcards by the host minus its first label, Exact paths in a Map,
// Prefix paths in a segment trie, regexes scanned in table order only on hosts that have them.
//
// Semantics (documented for users in src/translate/README.md):
// - Host: lower-cased, port and IPv6 brackets stripped, one trailing dot ignored. An exact vhost beats
//   a wildcard; `*.foo.com` matches one extra label only.
// - Path: matched on the raw path as sent (no percent-decoding, no dot-segment removal), without the
//   query. Precedence inside a vhost: Exact, then Regex (first in table order), then longest Prefix.
// - Fallback: the request's vhost routes, then that vhost's defaultBackend, then the routes of the `*`
//   vhost (rules without host), then its defaultBackend, then the table's defaultBackend, else notFound.
import type { BackendKey, Route, RoutingTable, VirtualHost } from '../src/model/table.ts';
import { compilePathRegex } from '../src/translate/regex.ts';
import { pickCanary } from './router/canary.ts';
import type { HeaderSource } from './router/canary.ts';
import { normalizeRequestHost, routingPath } from './router/host.ts';
import { PrefixTrie } from './router/prefix-trie.ts';
import { rewritePath } from './router/rewrite.ts';

export type { HeaderSource } from './router/canary.ts';

export type MatchReason = 'route' | 'vhostDefault' | 'globalDefault' | 'notFound';

export interface RouteMatch {
  reason: MatchReason;
  /** The vhost that answered: the request's own, or `*` after a fallback; absent for global/notFound. */
  vhost?: VirtualHost;
  route?: Route;
  /** Where to send the request; absent only for notFound. */
  backend?: BackendKey;
  /** Regex capture groups ($1 is captures[0]); unmatched groups are ''. */
  captures?: string[];
  /** The path the backend should see when the route rewrites it (query not included). */
  rewrittenPath?: string;
  /** True when the route's canary was picked. */
  canary?: boolean;
}

export interface CompiledRouter {
  /**
   * `host` as sent (Host header or :authority), `path` as sent (a query is stripped defensively).
   * `headers` and `roll` (uniform in [0, 100)) only matter for routes with a canary.
   */
  match(host: string, path: string, headers?: HeaderSource, roll?: number): RouteMatch;
}

interface CompiledHost {
  vhost: VirtualHost;
  exact: Map<string, Route>;
  regex: Array<{ re: RegExp; route: Route }>;
  prefix: PrefixTrie;
}

function compileHost(vhost: VirtualHost): CompiledHost {
  const c: CompiledHost = { vhost, exact: new Map(), regex: [], prefix: new PrefixTrie() };
  for (const route of vhost.routes) {
    const { type, path } = route.match;
    if (type === 'Exact') {
      if (!c.exact.has(path)) c.exact.set(path, route);
    } else if (type === 'Prefix') c.prefix.insert(path, route);
    else {
      // translate() refused patterns that do not compile; a table from elsewhere is skipped, not fatal.
      try {
        c.regex.push({ re: compilePathRegex(path), route });
      } catch {
        continue;
      }
    }
  }
  return c;
}

function matchIn(c: CompiledHost, path: string): { route: Route; captures?: string[] } | undefined {
  if (path.charCodeAt(0) !== 47 /* '/' */) return undefined;
  const exact = c.exact.get(path);
  if (exact) return { route: exact };
  for (const { re, route } of c.regex) {
    const m = re.exec(path);
    if (m) return { route, captures: m.slice(1).map((g) => g ?? '') };
  }
  const prefix = c.prefix.longest(path);
  return prefix ? { route: prefix } : undefined;
}

export function compileRouter(table: RoutingTable): CompiledRouter {
  const exactHosts = new Map<string, CompiledHost>();
  // Keyed by the wildcard minus `*.`, so a request host minus its first label finds it in one probe.
  const wildcardHosts = new Map<string, CompiledHost>();
  let anyHost: CompiledHost | undefined;
  for (const vhost of table.hosts) {
    const c = compileHost(vhost);
    if (vhost.host === '*') anyHost ??= c;
    else if (vhost.host.startsWith('*.')) {
      if (!wildcardHosts.has(vhost.host.slice(2))) wildcardHosts.set(vhost.host.slice(2), c);
    } else if (!exactHosts.has(vhost.host)) exactHosts.set(vhost.host, c);
  }
  const globalDefault = table.defaultBackend;

  const found = (c: CompiledHost, hit: { route: Route; captures?: string[] }, path: string, headers: HeaderSource | undefined, roll: number | undefined): RouteMatch => {
    const { route, captures } = hit;
    const result: RouteMatch = { reason: 'route', vhost: c.vhost, route, backend: route.backend };
    if (captures) result.captures = captures;
    const rewritten = rewritePath(route, path, captures);
    if (rewritten !== undefined) result.rewrittenPath = rewritten;
    if (route.canary && pickCanary(route.canary, headers, roll)) {
      result.backend = route.canary.backend;
      result.canary = true;
    }
    return result;
  };

  return {
    match(rawHost, rawPath, headers, roll) {
      const host = normalizeRequestHost(rawHost);
      const path = routingPath(rawPath);
      let own = exactHosts.get(host);
      if (!own && wildcardHosts.size > 0) {
        const dot = host.indexOf('.');
        if (dot > 0) own = wildcardHosts.get(host.slice(dot + 1));
      }
      if (own) {
        const hit = matchIn(own, path);
        if (hit) return found(own, hit, path, headers, roll);
        if (own.vhost.defaultBackend !== undefined) return { reason: 'vhostDefault', vhost: own.vhost, backend: own.vhost.defaultBackend };
      }
      if (anyHost) {
        const hit = matchIn(anyHost, path);
        if (hit) return found(anyHost, hit, path, headers, roll);
        if (anyHost.vhost.defaultBackend !== undefined) return { reason: 'vhostDefault', vhost: anyHost.vhost, backend: anyHost.vhost.defaultBackend };
      }
      if (globalDefault !== undefined) return { reason: 'globalDefault', backend: globalDefault };
      return { reason: 'notFound' };
    },
  };
}
