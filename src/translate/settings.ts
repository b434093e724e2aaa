// Turns one Ingress's parsed annotations into the settings its routes and backends carry, checking the
// combinations a single value cannot (regex captures without use-regex, hash vs load-balance, ConfigMaps).
import type { Ingress } from '../model/kube.ts';
import type { BackendProtocol, BalancePolicy, RouteOptions } from '../model/table.ts';
import { isHeaderName, isHeaderValue } from './annotation-values.ts';
import { annotationProblem } from './annotations.ts';
import type { AnnotationProblem, ParsedAnnotations } from './annotations.ts';
import type { SnapshotIndex } from './snapshot-index.ts';
import { objectKey } from './snapshot-index.ts';

export interface CanarySettings {
  weight: number;
  byHeader?: string;
  byHeaderValue?: string;
  byCookie?: string;
}

export interface IngressSettings {
  useRegex: boolean;
  options: RouteOptions;
  protocol: BackendProtocol;
  balance: BalancePolicy;
  canary?: CanarySettings;
  aliases: string[];
  /** `ssl-passthrough`: the rule hosts' TLS goes to the backend unterminated. */
  passthrough: boolean;
}

// Headers that frame or route the response: letting a ConfigMap set them would let it corrupt the stream.
const FORBIDDEN_RESPONSE_HEADERS = new Set([
  'connection', 'content-length', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
]);
const MAX_CUSTOM_HEADERS = 64;

function customHeaders(ingress: Ingress, ref: { namespace?: string; name: string }, raw: string, index: SnapshotIndex): { ok: true; headers: Record<string, string> } | { ok: false; problem: AnnotationProblem } {
  const fail = (reason: string) => ({ ok: false as const, problem: annotationProblem('customHeaders', raw, reason) });
  const ns = ingress.metadata.namespace ?? 'default';
  if (ref.namespace !== undefined && ref.namespace !== ns) {
    return fail(`the ConfigMap must be in the Ingress's namespace ${JSON.stringify(ns)}`);
  }
  const cm = index.configMaps.get(objectKey(ns, ref.name));
  if (!cm) return fail(`ConfigMap ${ns}/${ref.name} does not exist; create it or remove the annotation`);
  const entries = Object.entries(cm.data ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length > MAX_CUSTOM_HEADERS) return fail(`ConfigMap ${ns}/${ref.name} has more than ${MAX_CUSTOM_HEADERS} entries`);
  const headers: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (!isHeaderName(name)) return fail(`ConfigMap key ${JSON.stringify(name)} is not a valid header name`);
    if (FORBIDDEN_RESPONSE_HEADERS.has(name.toLowerCase())) return fail(`header ${JSON.stringify(name)} is managed by wharf and cannot be set`);
    if (!isHeaderValue(value)) return fail(`the value of header ${JSON.stringify(name)} must be visible ASCII without line breaks, at most 4096 characters`);
    headers[name] = value;
  }
  return { ok: true, headers };
}

/** The Strict-Transport-Security header value, in the order and spelling of RFC 6797's examples. */
export function hstsValue(maxAgeSeconds: number, includeSubdomains: boolean, preload: boolean): string {
  return `max-age=${maxAgeSeconds}${includeSubdomains ? '; includeSubDomains' : ''}${preload ? '; preload' : ''}`;
}

export function buildSettings(ingress: Ingress, parsed: ParsedAnnotations, index: SnapshotIndex): { settings?: IngressSettings; problems: AnnotationProblem[] } {
  const problems = [...parsed.problems];
  const v = parsed.values;
  const raw = (key: string): string => ingress.metadata.annotations?.[`wharf.dev/${key}`] ?? '';
  const useRegex = v.useRegex ?? false;

  if (v.rewriteTarget !== undefined && !useRegex && /\$[0-9]/.test(v.rewriteTarget)) {
    problems.push(annotationProblem('rewriteTarget', v.rewriteTarget, 'capture references like $1 need wharf.dev/use-regex: "true"'));
  }
  if (v.appRoot === '/') problems.push(annotationProblem('appRoot', '/', 'redirecting "/" to "/" would loop'));
  if (v.permanentRedirect !== undefined && v.temporalRedirect !== undefined) {
    problems.push(annotationProblem('temporalRedirect', v.temporalRedirect, 'permanent-redirect is also set; keep only one of the two'));
  }
  if (v.upstreamHashBy !== undefined && parsed.explicit.has('loadBalance') && v.loadBalance !== 'hash') {
    problems.push(annotationProblem('loadBalance', raw('load-balance'), 'upstream-hash-by asks for hashing; remove one of the two or set load-balance to hash'));
  }
  if (v.canaryByHeaderValue !== undefined && v.canaryByHeader === undefined) {
    problems.push(annotationProblem('canaryByHeaderValue', v.canaryByHeaderValue, 'it needs wharf.dev/canary-by-header naming the header'));
  }
  if (v.hsts !== false && v.hstsPreload === true && (v.hstsIncludeSubdomains === false || (v.hstsMaxAge !== undefined && v.hstsMaxAge < 31536000))) {
    problems.push(annotationProblem('hstsPreload', raw('hsts-preload'), 'the browsers\' preload lists need hsts-include-subdomains "true" and hsts-max-age of at least 31536000'));
  }
  let headers: Record<string, string> | undefined;
  if (v.customHeaders !== undefined) {
    const result = customHeaders(ingress, v.customHeaders, raw('custom-headers'), index);
    if (result.ok) headers = result.headers;
    else problems.push(result.problem);
  }
  if (problems.length > 0) return { problems };

  const hashing = v.upstreamHashBy !== undefined || v.loadBalance === 'hash';
  const balance: BalancePolicy = { algorithm: hashing ? 'hash' : (v.loadBalance ?? 'round_robin') };
  if (hashing) balance.hashBy = v.upstreamHashBy ?? '$remote_addr';
  if (v.affinity === 'cookie') {
    balance.affinity = { cookieName: v.sessionCookieName ?? 'INGRESSCOOKIE' };
    if (v.sessionCookieMaxAge !== undefined) balance.affinity.maxAgeSeconds = v.sessionCookieMaxAge;
  }
  const options: RouteOptions = {
    sslRedirect: v.sslRedirect ?? true,
    forceSslRedirect: v.forceSslRedirect ?? false,
    timeouts: { connectMs: (v.proxyConnectTimeout ?? 5) * 1000, readMs: (v.proxyReadTimeout ?? 60) * 1000, sendMs: (v.proxySendTimeout ?? 60) * 1000 },
    maxBodyBytes: v.proxyBodySize ?? 1024 * 1024,
  };
  if (v.hsts !== false) options.hsts = hstsValue(v.hstsMaxAge ?? 31536000, v.hstsIncludeSubdomains ?? true, v.hstsPreload ?? false);
  if (v.rewriteTarget !== undefined) options.rewriteTarget = v.rewriteTarget;
  if (v.allowSourceRange !== undefined) options.allowSourceRanges = v.allowSourceRange;
  if (v.denySourceRange !== undefined) options.denySourceRanges = v.denySourceRange;
  if (v.permanentRedirect !== undefined) options.permanentRedirect = v.permanentRedirect;
  if (v.temporalRedirect !== undefined) options.temporalRedirect = v.temporalRedirect;
  if (v.appRoot !== undefined) options.appRoot = v.appRoot;
  if (headers !== undefined) options.customHeaders = headers;

  const settings: IngressSettings = { useRegex, options, protocol: v.backendProtocol ?? 'HTTP', balance, aliases: v.serverAlias ?? [], passthrough: v.sslPassthrough ?? false };
  if (v.canary === true) {
    const canary: CanarySettings = { weight: v.canaryWeight ?? 0 };
    if (v.canaryByHeader !== undefined) canary.byHeader = v.canaryByHeader;
    if (v.canaryByHeaderValue !== undefined) canary.byHeaderValue = v.canaryByHeaderValue;
    if (v.canaryByCookie !== undefined) canary.byCookie = v.canaryByCookie;
    settings.canary = canary;
  }
  return { settings, problems };
}
