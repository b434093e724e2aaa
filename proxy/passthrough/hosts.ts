// Which passthrough host a ClientHello's server name picks: exact names first, then a `*.` wildcard
// covering exactly one more label, case-insensitive (the same rules as HTTP hosts and certificates).
import type { PassthroughHost } from '../../src/model/l4.ts';

export type PassthroughMatcher = (serverName: string | undefined) => PassthroughHost | undefined;

export function compilePassthroughHosts(hosts: readonly PassthroughHost[] | undefined): PassthroughMatcher | undefined {
  if (hosts === undefined || hosts.length === 0) return undefined;
  const exact = new Map<string, PassthroughHost>();
  const wildcard = new Map<string, PassthroughHost>();
  for (const h of hosts) {
    const host = h.host.toLowerCase();
    // The table is sorted; the first entry for a name wins, as translate() decided.
    if (host.startsWith('*.')) {
      if (!wildcard.has(host.slice(2))) wildcard.set(host.slice(2), h);
    } else if (!exact.has(host)) exact.set(host, h);
  }
  return (serverName) => {
    if (serverName === undefined || serverName.length === 0) return undefined;
    let name = serverName.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    const found = exact.get(name);
    if (found !== undefined) return found;
    const dot = name.indexOf('.');
    return dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined;
  };
}
