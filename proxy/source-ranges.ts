// allow-source-range / deny-source-range at request time: the route's CIDRs compiled once into
// node:net BlockLists (cached per route object), then one lookup per request on routes that have them.
import { BlockList, isIPv4 } from 'node:net';
import type { Route } from '../src/model/table.ts';

interface RouteRanges {
  allow: BlockList | undefined;
  deny: BlockList | undefined;
}

const cache = new WeakMap<Route, RouteRanges>();

/** CIDRs (or bare addresses) of both families in one BlockList; undefined when there are none. */
export function compileCidrs(cidrs: readonly string[] | undefined): BlockList | undefined {
  if (cidrs === undefined || cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const slash = cidr.lastIndexOf('/');
    const address = slash === -1 ? cidr : cidr.slice(0, slash);
    const v4 = isIPv4(address);
    const prefix = slash === -1 ? (v4 ? 32 : 128) : Number(cidr.slice(slash + 1));
    list.addSubnet(address, prefix, v4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; ranges are written as plain IPv4. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Whether a peer address (IPv4, IPv6 or IPv4-mapped IPv6) is inside `list`. */
export function addressInList(list: BlockList, peer: string): boolean {
  const address = plainAddress(peer);
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/** True when the client may use the route: not in a deny range, and in an allow range if any is set. */
export function sourceAllowed(route: Route, clientAddress: string): boolean {
  const { allowSourceRanges, denySourceRanges } = route.options;
  if (allowSourceRanges === undefined && denySourceRanges === undefined) return true;
  let ranges = cache.get(route);
  if (ranges === undefined) {
    ranges = { allow: compileCidrs(allowSourceRanges), deny: compileCidrs(denySourceRanges) };
    cache.set(route, ranges);
  }
  if (ranges.deny !== undefined && addressInList(ranges.deny, clientAddress)) return false;
  return ranges.allow === undefined || addressInList(ranges.allow, clientAddress);
}
