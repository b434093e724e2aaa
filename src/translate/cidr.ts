// CIDR parsing for allow/deny source ranges: IPv4 and IPv6, validated and rendered canonically
// (network address with host bits cleared, RFC 5952 text for IPv6) so equal ranges compare equal.

export interface Cidr {
  family: 4 | 6;
  /** 4 or 16 bytes, host bits cleared. */
  bytes: number[];
  prefix: number;
}

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    // Leading zeros are refused: some parsers read them as octal, and ambiguity is worse than strictness.
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  for (const g of text.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  return groups;
}

function parseIPv6(text: string): number[] | undefined {
  let head = text;
  let tail: number[] = [];
  // An embedded IPv4 tail (`::ffff:192.0.2.1`) counts as the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    head = text.slice(0, lastColon + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const left = parseGroups(halves[0]!);
    const right = parseGroups(halves[1]!);
    if (!left || !right) return undefined;
    const missing = 8 - left.length - right.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right, ...tail];
  } else {
    const all = parseGroups(head);
    if (!all) return undefined;
    groups = [...all, ...tail];
  }
  if (groups.length !== 8) return undefined;
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function formatIPv6(bytes: number[]): string {
  // RFC 5952 §5: IPv4-mapped addresses keep their dotted tail.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses `addr/prefix` or a bare address (a host range: /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const v4 = parseIPv4(addr);
  const bytes = v4 ?? (addr.includes(':') ? parseIPv6(addr) : undefined);
  if (!bytes) return undefined;
  const family: 4 | 6 = v4 ? 4 : 6;
  const maxPrefix = family === 4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > maxPrefix) return undefined;
  }
  const masked = bytes.map((b, i) => {
    const bitsBefore = i * 8;
    if (bitsBefore + 8 <= prefix) return b;
    if (bitsBefore >= prefix) return 0;
    return b & (0xff << (8 - (prefix - bitsBefore))) & 0xff;
  });
  return { family, bytes: masked, prefix };
}

export function formatCidr(cidr: Cidr): string {
  const addr = cidr.family === 4 ? cidr.bytes.join('.') : formatIPv6(cidr.bytes);
  return `${addr}/${cidr.prefix}`;
}
