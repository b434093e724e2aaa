// Which peers must send a PROXY protocol header: --proxy-protocol-trusted-cidrs compiled once, with the
// same CIDR handling as allow-source-range (IPv4 peers of a dual-stack listener match IPv4 ranges).
import { addressInList, compileCidrs } from '../source-ranges.ts';

export function compileTrustedCidrs(cidrs: readonly string[]): (peer: string | undefined) => boolean {
  const list = compileCidrs(cidrs);
  return (peer) => peer !== undefined && list !== undefined && addressInList(list, peer);
}
