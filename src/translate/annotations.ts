// The one declaration of every wharf.dev/ annotation: name, type, allowed values, default and docs.
// This table drives parsing (parseAnnotations), diagnostics and the README section (renderAnnotationDocs).
import {
  integerIn, oneOf, parseBoolean, parseCidrList, parseHashBy, parseHostList, parseObjectName,
  parseRedirectUrl, parseSize, parseTargetPath, parseToken,
} from './annotation-values.ts';
import type { Parsed } from './annotation-values.ts';

export const ANNOTATION_PREFIX = 'wharf.dev/';

export interface AnnotationDef<T> {
  /** The name after `wharf.dev/`. */
  name: string;
  /** Short type for the docs table. */
  type: string;
  /** What values are accepted, in words; quoted in diagnostics. */
  allowed: string;
  /** The raw text used when the annotation is absent; parsed by `parse` like a user value. */
  default?: string;
  doc: string;
  parse(raw: string): Parsed<T>;
}

const def = <T>(d: AnnotationDef<T>): AnnotationDef<T> => d;
const BOOL = { type: 'boolean', allowed: '"true" or "false"', parse: parseBoolean } as const;
const SECONDS = { type: 'integer (seconds)', allowed: 'a whole number of seconds from 1 to 86400', parse: integerIn(1, 86400) } as const;
const TOKEN_ALLOWED = 'a header or cookie name: letters, digits and !#$%&\'*+-.^_`|~';

export const ANNOTATIONS = {
  useRegex: def({ name: 'use-regex', ...BOOL, default: 'false', doc: 'Treat this Ingress\'s `ImplementationSpecific` paths as regular expressions (JavaScript syntax, anchored at the start of the path, case-sensitive, at most 256 characters; nested quantifiers and backreferences refused). Regex routes are tried after Exact and before Prefix routes, longest pattern first. Exact and Prefix paths keep their meaning.' }),
  rewriteTarget: def({ name: 'rewrite-target', type: 'path', allowed: 'a path starting with "/" made of URL path characters; $1..$9 refer to regex captures and need use-regex', parse: parseTargetPath, doc: 'Rewrite the request path before it reaches the backend. For a Prefix route the matched prefix is replaced by the target (`/app` + target `/` sends `/app/x` as `/x`); for an Exact route the path becomes the target; for a regex route the whole path becomes the target with `$1`..`$9` replaced by the captures. The query string is kept.' }),
  sslRedirect: def({ name: 'ssl-redirect', ...BOOL, default: 'true', doc: 'Redirect plain HTTP requests to HTTPS (308) when the host has TLS.' }),
  forceSslRedirect: def({ name: 'force-ssl-redirect', ...BOOL, default: 'false', doc: 'Redirect plain HTTP requests to HTTPS (308) even when the host has no TLS of its own (e.g. TLS ends at an outer load balancer).' }),
  hsts: def({ name: 'hsts', ...BOOL, default: 'true', doc: 'Send `Strict-Transport-Security` on HTTPS answers for hosts with TLS (a Secret in `spec.tls`), never on plain HTTP. A `Strict-Transport-Security` entry of `custom-headers` takes its place.' }),
  hstsMaxAge: def({ name: 'hsts-max-age', type: 'integer (seconds)', allowed: 'a whole number of seconds from 0 to 63072000 (two years); 0 tells browsers to forget the policy', default: '31536000', parse: integerIn(0, 63072000), doc: 'How long browsers keep to HTTPS for the host. One year by default (ingress-nginx uses 15724800, half a year; a year is what the browsers\' preload lists require).' }),
  hstsIncludeSubdomains: def({ name: 'hsts-include-subdomains', ...BOOL, default: 'true', doc: 'Add `includeSubDomains`: the policy covers every subdomain of the host too.' }),
  hstsPreload: def({ name: 'hsts-preload', ...BOOL, default: 'false', doc: 'Add `preload`, consent to inclusion in the browsers\' built-in HSTS lists (hard to undo). Needs `hsts-include-subdomains` and a `hsts-max-age` of at least 31536000.' }),
  backendProtocol: def({ name: 'backend-protocol', type: 'enum', allowed: 'HTTP, HTTPS, GRPC, GRPCS or H2C', default: 'HTTP', parse: oneOf(['HTTP', 'HTTPS', 'GRPC', 'GRPCS', 'H2C'] as const), doc: 'The protocol wharf speaks to the backend: HTTP/1.1 (HTTP), HTTP/1.1 over TLS (HTTPS), HTTP/2 with prior knowledge (GRPC, H2C) or HTTP/2 over TLS with ALPN h2 (GRPCS). Backend certificates are not verified.' }),
  loadBalance: def({ name: 'load-balance', type: 'enum', allowed: 'round_robin, least_request, ewma or hash', default: 'round_robin', parse: oneOf(['round_robin', 'least_request', 'ewma', 'hash'] as const), doc: 'How requests are spread over the ready endpoints. `hash` hashes `upstream-hash-by` (default `$remote_addr`).' }),
  upstreamHashBy: def({ name: 'upstream-hash-by', type: 'string', allowed: 'one of $remote_addr, $request_uri, $uri, $host, $http_<name>, $cookie_<name>, $arg_<name>', parse: parseHashBy, doc: 'Consistent hashing on this request property; implies `load-balance: hash` and may not be combined with another load-balance value.' }),
  affinity: def({ name: 'affinity', type: 'enum', allowed: 'cookie', parse: oneOf(['cookie'] as const), doc: 'Sticky sessions: wharf sets a cookie naming the endpoint and sends later requests carrying it to the same endpoint while it is ready.' }),
  sessionCookieName: def({ name: 'session-cookie-name', type: 'string', allowed: TOKEN_ALLOWED, default: 'INGRESSCOOKIE', parse: parseToken, doc: 'The affinity cookie\'s name (with `affinity: cookie`).' }),
  sessionCookieMaxAge: def({ name: 'session-cookie-max-age', type: 'integer (seconds)', allowed: 'a whole number of seconds from 1 to 315360000', parse: integerIn(1, 315360000), doc: 'The affinity cookie\'s Max-Age; absent means a session cookie.' }),
  proxyConnectTimeout: def({ name: 'proxy-connect-timeout', ...SECONDS, default: '5', doc: 'Seconds to wait for a connection to an endpoint.' }),
  proxyReadTimeout: def({ name: 'proxy-read-timeout', ...SECONDS, default: '60', doc: 'Seconds to wait between two reads from the backend.' }),
  proxySendTimeout: def({ name: 'proxy-send-timeout', ...SECONDS, default: '60', doc: 'Seconds to wait between two writes to the backend.' }),
  proxyBodySize: def({ name: 'proxy-body-size', type: 'size', allowed: 'bytes with an optional k, m or g suffix (e.g. 512k, 1m, 8m); 0 means unlimited', default: '1m', parse: parseSize, doc: 'Largest request body accepted; larger bodies get 413.' }),
  allowSourceRange: def({ name: 'allow-source-range', type: 'CIDR list', allowed: 'comma-separated IPv4/IPv6 CIDRs, e.g. "10.0.0.0/8, 2001:db8::/32"', parse: parseCidrList, doc: 'Only clients from these ranges are served; others get 403.' }),
  denySourceRange: def({ name: 'deny-source-range', type: 'CIDR list', allowed: 'comma-separated IPv4/IPv6 CIDRs, e.g. "192.0.2.0/24"', parse: parseCidrList, doc: 'Clients from these ranges get 403; checked before allow-source-range.' }),
  canary: def({ name: 'canary', ...BOOL, default: 'false', doc: 'Mark this Ingress as a canary: it adds no routes of its own but attaches its backend to the main Ingress\'s route with the same host, path and path type.' }),
  canaryWeight: def({ name: 'canary-weight', type: 'integer (percent)', allowed: 'a whole number from 0 to 100', default: '0', parse: integerIn(0, 100), doc: 'Share of requests (percent) sent to the canary when no header or cookie decides.' }),
  canaryByHeader: def({ name: 'canary-by-header', type: 'string', allowed: TOKEN_ALLOWED, parse: parseToken, doc: 'A request header that picks the canary: `always` sends to the canary, `never` to the main backend (or, with `canary-by-header-value`, that exact value sends to the canary).' }),
  canaryByHeaderValue: def({ name: 'canary-by-header-value', type: 'string', allowed: TOKEN_ALLOWED, parse: parseToken, doc: 'The header value that selects the canary; needs `canary-by-header`.' }),
  canaryByCookie: def({ name: 'canary-by-cookie', type: 'string', allowed: TOKEN_ALLOWED, parse: parseToken, doc: 'A cookie that picks the canary: `always` or `never`; checked after the header, before the weight.' }),
  permanentRedirect: def({ name: 'permanent-redirect', type: 'URL', allowed: 'an absolute http(s) URL without credentials, or a path starting with "/"', parse: parseRedirectUrl, doc: 'Answer every request on these routes with a 301 to this URL.' }),
  temporalRedirect: def({ name: 'temporal-redirect', type: 'URL', allowed: 'an absolute http(s) URL without credentials, or a path starting with "/"', parse: parseRedirectUrl, doc: 'Answer every request on these routes with a 302 to this URL.' }),
  appRoot: def({ name: 'app-root', type: 'path', allowed: 'a path starting with "/" other than "/" itself', parse: parseTargetPath, doc: 'Redirect requests for `/` (302) to this path.' }),
  serverAlias: def({ name: 'server-alias', type: 'host list', allowed: 'comma-separated DNS names, each optionally starting with "*."', parse: parseHostList, doc: 'Extra host names that get the same routes as this Ingress\'s hosts. A host that some Ingress declares in its rules keeps its own routes; the alias is then skipped with a warning.' }),
  acme: def({ name: 'acme', ...BOOL, default: 'false', doc: 'Obtain and renew the certificates of this Ingress\'s `spec.tls` entries from the ACME issuer configured with `--acme-directory` (HTTP-01 or TLS-ALPN-01, answered by wharf itself); each goes into the entry\'s `secretName` as a `kubernetes.io/tls` Secret. Wildcard hosts are skipped. See [ACME certificates](#acme-certificates).' }),
  sslPassthrough: def({ name: 'ssl-passthrough', ...BOOL, default: 'false', doc: 'Pass TLS for this Ingress\'s rule hosts through to the backend instead of terminating it: the HTTPS port reads the SNI of the ClientHello and splices the raw TCP connection to the backend of the host\'s `/` path (else its first path, else the Ingress\'s `defaultBackend`). The certificate is the backend\'s; HTTP-level annotations do not apply to that traffic. Plain HTTP still routes as usual. Hosts from `server-alias` are not passed through; when two Ingresses pass one host through, the older wins. See [TCP and UDP services](#tcp-and-udp-services).' }),
  customHeaders: def({ name: 'custom-headers', type: 'ConfigMap', allowed: 'the name (or namespace/name, same namespace) of a ConfigMap whose keys are header names and values header values', parse: parseObjectName, doc: 'Add the ConfigMap\'s entries as response headers. The ConfigMap must live in the Ingress\'s namespace, so one tenant cannot publish another\'s data. Framing and hop-by-hop headers are refused.' }),
} as const;

type Defs = typeof ANNOTATIONS;
export type AnnotationName = keyof Defs;
export type AnnotationValues = { [K in AnnotationName]: Defs[K] extends AnnotationDef<infer T> ? T | undefined : never };

export interface AnnotationProblem {
  annotation: string;
  value: string;
  message: string;
}

export interface ParsedAnnotations {
  values: AnnotationValues;
  /** Keys the user wrote explicitly, so combination checks can tell a default from a choice. */
  explicit: Set<AnnotationName>;
  problems: AnnotationProblem[];
  /** wharf.dev/ keys that name no annotation (likely typos), sorted. */
  unknown: string[];
}

const BY_NAME = new Map<string, AnnotationName>(Object.entries(ANNOTATIONS).map(([key, d]) => [d.name, key as AnnotationName]));
const ENTRIES = Object.entries(ANNOTATIONS) as Array<[AnnotationName, AnnotationDef<unknown>]>;
// Defaults go through the same parsers as user values, once, so a bad default fails at load time.
const DEFAULTS = Object.fromEntries(ENTRIES.map(([key, d]) => {
  if (d.default === undefined) return [key, undefined];
  const parsed = d.parse(d.default);
  if (!parsed.ok) throw new Error(`default of ${ANNOTATION_PREFIX}${d.name} does not parse`);
  return [key, parsed.value];
})) as AnnotationValues;

function describe(d: AnnotationDef<unknown>, raw: string, reason?: string): string {
  const because = reason ? ` (${reason})` : '';
  return `${ANNOTATION_PREFIX}${d.name} is ${JSON.stringify(raw)}${because}; allowed: ${d.allowed}. Fix or remove the annotation.`;
}

export function parseAnnotations(annotations: Record<string, string> | undefined): ParsedAnnotations {
  const values = { ...DEFAULTS } as Record<AnnotationName, unknown>;
  const explicit = new Set<AnnotationName>();
  const problems: AnnotationProblem[] = [];
  const unknown: string[] = [];
  // Sorted so problems come out in the same order whatever order the API server returned the map in.
  for (const key of Object.keys(annotations ?? {}).sort()) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const name = BY_NAME.get(key.slice(ANNOTATION_PREFIX.length));
    if (name === undefined) {
      unknown.push(key);
      continue;
    }
    const d = ANNOTATIONS[name] as AnnotationDef<unknown>;
    const raw = String(annotations![key]);
    explicit.add(name);
    const parsed = d.parse(raw);
    if (parsed.ok) values[name] = parsed.value;
    else {
      values[name] = undefined;
      problems.push({ annotation: ANNOTATION_PREFIX + d.name, value: raw, message: describe(d, raw, parsed.reason) });
    }
  }
  return { values: values as AnnotationValues, explicit, problems, unknown };
}

/** Builds the message for a value that parses alone but not in combination (or against the cluster). */
export function annotationProblem(name: AnnotationName, value: string, reason: string): AnnotationProblem {
  const d = ANNOTATIONS[name] as AnnotationDef<unknown>;
  return { annotation: ANNOTATION_PREFIX + d.name, value, message: describe(d, value, reason) };
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The README section: one markdown table row per annotation, generated from the table above. */
export function renderAnnotationDocs(): string {
  const rows = Object.values(ANNOTATIONS).map((d: AnnotationDef<unknown>) =>
    `| \`${ANNOTATION_PREFIX}${d.name}\` | ${cell(d.type)} | ${d.default === undefined ? '—' : `\`${cell(d.default)}\``} | ${cell(d.allowed)} | ${cell(d.doc)} |`);
  return ['| Annotation | Type | Default | Allowed values | What it does |', '|---|---|---|---|---|', ...rows].join('\n') + '\n';
}
