// Which peers must send a PROXY protocol header: --proxy-protocol-trusted-cidrs compiled once into
// node:net BlockLists; IPv4 peers of a dual-stack listener (::ffff:a.b.c.d) match IPv4 ranges.
import { BlockList, isIPv4 } from 'node:net';

export function compileTrustedCidrs(cidrs: readonly string[]): (peer: string | undefined) => boolean {
  const v4 = new BlockList();
  const v6 = new BlockList();
  for (const cidr of cidrs) {
    const slash = cidr.indexOf('/');
    const address = slash === -1 ? cidr : cidr.slice(0, slash);
    const ipv4 = isIPv4(address);
    const prefix = slash === -1 ? (ipv4 ? 32 : 128) : Number(cidr.slice(slash + 1));
    (ipv4 ? v4 : v6).addSubnet(address, prefix, ipv4 ? 'ipv4' : 'ipv6');
  }
  return (peer) => {
    if (peer === undefined) return false;
    const plain = peer.startsWith('::ffff:') && isIPv4(peer.slice(7)) ? peer.slice(7) : peer;
    return isIPv4(plain) ? v4.check(plain, 'ipv4') : v6.check(plain, 'ipv6');
  };
}
