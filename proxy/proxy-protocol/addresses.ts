// IP address text for the PROXY protocol: the strict text forms v1 allows (no leading zeros in IPv4
// octets, hex groups with at most one `::`), to and from the raw bytes v2 carries.

/** Four bytes from a dotted quad with no leading zeros (`010` could be read as octal), or undefined. */
export function ipv4Bytes(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out[i] = value;
  }
  return out;
}

/** Sixteen bytes from IPv6 text: 1–4 hex digits a group, one `::` at most, an optional dotted IPv4 tail. */
export function ipv6Bytes(text: string): Buffer | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1]!, true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const total = head.length + tail.length;
  // Without `::` all eight groups are spelled out; with it, it stands for at least one zero group.
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const out = Buffer.alloc(16);
  head.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  tail.forEach((g, i) => out.writeUInt16BE(g, (8 - tail.length + i) * 2));
  return out;
}

/** The 16-bit groups of one side of `::`; the last side may end in a dotted IPv4 (two groups). */
function groupsOf(side: string, mayEndInIpv4: boolean): number[] | undefined {
  if (side === '') return [];
  const parts = side.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && mayEndInIpv4 && part.includes('.')) {
      const v4 = ipv4Bytes(part);
      if (v4 === undefined) return undefined;
      groups.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

export function formatIpv4(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`; mapped IPv4 dotted like Node prints it. */
export function formatIpv6(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes.subarray(12, 16))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** A port in decimal, 0–65535, no leading zeros; undefined otherwise. */
export function parsePort(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 65535 ? value : undefined;
}

export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 65535;
}
