// Value parsers for wharf.dev/ annotations: each takes the raw string a user wrote and returns a typed
// value or the reason it is refused. Strict on purpose: a value either validates exactly or is refused.
import { formatCidr, parseCidr } from './cidr.ts';
import { normalizeHost } from './hosts.ts';
import { hasSpaceOrControl } from './paths.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason?: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const refused = <T>(reason?: string): Parsed<T> => (reason ? { ok: false, reason } : { ok: false });

export function parseBoolean(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if (v === 'true') return ok(true);
  if (v === 'false') return ok(false);
  return refused();
}

export function integerIn(min: number, max: number): (raw: string) => Parsed<number> {
  return (raw) => {
    const v = raw.trim();
    if (!/^[0-9]{1,15}$/.test(v)) return refused();
    const n = Number(v);
    return n >= min && n <= max ? ok(n) : refused();
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** nginx size syntax: bytes with an optional k/m/g suffix; 0 means unlimited. */
export function parseSize(raw: string): Parsed<number> {
  const m = /^(0|[1-9][0-9]{0,9})([kKmMgG]?)$/.exec(raw.trim());
  if (!m) return refused();
  return ok(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

export function oneOf<const T extends string>(values: readonly T[]): (raw: string) => Parsed<T> {
  return (raw) => {
    const v = raw.trim();
    return (values as readonly string[]).includes(v) ? ok(v as T) : refused();
  };
}

function splitList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const MAX_LIST_ENTRIES = 1000;

/** Comma-separated IPv4/IPv6 CIDRs (a bare address means that one host), rendered canonically and de-duplicated. */
export function parseCidrList(raw: string): Parsed<string[]> {
  const items = splitList(raw);
  if (items.length === 0) return refused('the list is empty');
  if (items.length > MAX_LIST_ENTRIES) return refused(`more than ${MAX_LIST_ENTRIES} entries`);
  const out: string[] = [];
  for (const item of items) {
    const cidr = parseCidr(item);
    if (!cidr) return refused(`${JSON.stringify(item)} is not an IPv4 or IPv6 CIDR`);
    const text = formatCidr(cidr);
    if (!out.includes(text)) out.push(text);
  }
  return ok(out);
}

/** Comma-separated host names (exact or `*.` wildcard), lower-cased, de-duplicated and sorted. */
export function parseHostList(raw: string): Parsed<string[]> {
  const items = splitList(raw);
  if (items.length === 0) return refused('the list is empty');
  if (items.length > MAX_LIST_ENTRIES) return refused(`more than ${MAX_LIST_ENTRIES} entries`);
  const out = new Set<string>();
  for (const item of items) {
    const host = normalizeHost(item);
    if (!host.ok) return refused(host.problem);
    out.add(host.host);
  }
  return ok([...out].sort());
}

// RFC 9110 token: the characters a header field name (and an RFC 6265 cookie name) may use.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;

export function parseToken(raw: string): Parsed<string> {
  const v = raw.trim();
  return TOKEN.test(v) ? ok(v) : refused();
}

export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** Visible ASCII, space and tab only: no CR, LF or NUL that could split a header, no leading/trailing space. */
export function isHeaderValue(value: string): boolean {
  return value.length <= 4096 && /^[\x21-\x7e]?(?:[\x20-\x7e\t]*[\x21-\x7e])?$/.test(value);
}

// The characters RFC 3986 allows in a path, plus `$` for capture references; nothing that could end a line.
const PATH_CHARS = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]{0,1023}$/;

export function parseTargetPath(raw: string): Parsed<string> {
  const v = raw.trim();
  if (!PATH_CHARS.test(v)) return refused();
  if (v.startsWith('//')) return refused('a path starting with "//" would be read as a host name');
  return ok(v);
}

/** An absolute http(s) URL, or a path on the same host; returned exactly as written once validated. */
export function parseRedirectUrl(raw: string): Parsed<string> {
  const v = raw.trim();
  if (v.length > 2048 || hasSpaceOrControl(v)) return refused();
  if (v.startsWith('/')) return parseTargetPath(v);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return refused();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refused('only http and https URLs are allowed');
  if (url.username !== '' || url.password !== '') return refused('credentials in a redirect URL would leak to every client');
  return ok(v);
}

/** One request property to hash on, in nginx variable syntax. */
export function parseHashBy(raw: string): Parsed<string> {
  const v = raw.trim();
  return /^\$(?:remote_addr|request_uri|uri|host|(?:http|cookie|arg)_[a-z0-9_]{1,64})$/.test(v) ? ok(v) : refused();
}

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** `name` or `namespace/name` of an object; the namespace is filled in by the caller when absent. */
export function parseObjectName(raw: string): Parsed<{ namespace?: string; name: string }> {
  const v = raw.trim();
  const parts = v.split('/');
  if (parts.length === 1 && DNS_SUBDOMAIN.test(v)) return ok({ name: v });
  if (parts.length === 2 && DNS_LABEL.test(parts[0]!) && DNS_SUBDOMAIN.test(parts[1]!)) return ok({ namespace: parts[0]!, name: parts[1]! });
  return refused();
}
