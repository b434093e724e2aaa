// Turns argv and WHARF_* environment variables into a validated ServeConfig.
// Flags beat environment variables, which beat defaults; any bad input is one WharfError line.
import { isIP } from 'node:net';
import { WharfError } from '../errors.ts';
import { SERVE_FLAGS, envName, type FlagName, type FlagSpec } from './flags.ts';

export interface NamespacedName {
  namespace: string;
  name: string;
}

export interface ServeConfig {
  kubeconfig?: string;
  manifests?: string;
  ingressClass: string;
  controllerClass: string;
  watchNamespace?: string;
  bind: string;
  httpPort: number;
  httpsPort: number;
  adminPort: number;
  adminBind: string;
  publishService?: NamespacedName;
  publishStatusAddress?: string[];
  electionId: string;
  /** --election-ttl in milliseconds. */
  electionTtl: number;
  defaultBackendService?: NamespacedName;
  defaultSslCertificate?: NamespacedName;
  tcpServicesConfigmap?: NamespacedName;
  udpServicesConfigmap?: NamespacedName;
  /** --lb-default-class: serve LoadBalancer Services without spec.loadBalancerClass too. */
  lbDefaultClass: boolean;
  /** --proxy-protocol: read a PROXY header first on the HTTP and HTTPS ports from trusted sources. */
  proxyProtocol: boolean;
  /** --proxy-protocol-trusted-cidrs, validated and trimmed. */
  proxyProtocolTrustedCidrs: string[];
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeEabKid?: string;
  acmeEabHmacKey?: string;
  acmeCaFile?: string;
  acmeChallenge: 'http-01' | 'tls-alpn-01';
  acmeAccountSecret?: NamespacedName;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  logFormat: 'json' | 'text';
}

export interface ParsedArgs {
  help: boolean;
  config: ServeConfig;
}

const SPEC_BY_NAME = new Map<string, FlagSpec>(SERVE_FLAGS.map((f) => [f.name, f]));

// DNS-1123 label: what Kubernetes accepts for namespaces and most object names.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function bad(where: string, message: string): WharfError {
  return new WharfError('WHARF_E_CONFIG', `${where}: ${message}`);
}

export function parseNamespacedName(value: string, where: string): NamespacedName {
  const parts = value.split('/');
  const [namespace, name] = parts;
  if (parts.length !== 2 || !namespace || !name || !DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(name) || name.length > 253) {
    throw bad(where, `"${value}" is not NAMESPACE/NAME (for example ingress/wharf-default-backend)`);
  }
  return { namespace, name };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function validate(spec: FlagSpec, raw: string, where: string): string | number | boolean | NamespacedName {
  switch (spec.type) {
    case 'duration': {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw);
      if (!m) throw bad(where, `"${raw}" is not a duration (for example 30s, 1m, 500ms)`);
      return Math.round(Number(m[1]) * (DURATION_UNITS[m[2] as string] as number));
    }
    case 'port': {
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw bad(where, `"${raw}" is not a port number (0-65535)`);
      return Number(raw);
    }
    case 'nsname':
      return parseNamespacedName(raw, where);
    case 'enum':
      if (!spec.choices?.includes(raw)) throw bad(where, `"${raw}" is not one of ${spec.choices?.join(', ')}`);
      return raw;
    case 'address':
      if (isIP(raw) === 0 && raw !== 'localhost') throw bad(where, `"${raw}" is not an IP address`);
      return raw;
    case 'string':
    case 'path':
      if (raw === '') throw bad(where, 'needs a value');
      return raw;
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw bad(where, `"${raw}" is not true or false`);
      return raw === 'true';
  }
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Parses `serve` arguments; throws WharfError (code WHARF_E_CONFIG) on anything unknown or invalid. */
export function parseServeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedArgs {
  const given = new Map<FlagName, { raw: string; where: string }>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw bad(`argument "${arg}"`, 'unexpected; flags look like --name value (see wharf serve --help)');
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = SPEC_BY_NAME.get(name);
    if (!spec) throw bad(`flag --${name}`, 'unknown flag (see wharf serve --help)');
    let raw: string | undefined;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (spec.type === 'boolean') raw = 'true';
    else {
      raw = argv[i + 1];
      if (raw === undefined || raw.startsWith('--')) throw bad(`flag --${name}`, 'needs a value');
      i++;
    }
    given.set(spec.name as FlagName, { raw, where: `flag --${name}` });
  }

  const out: Record<string, unknown> = {};
  for (const spec of SERVE_FLAGS as readonly FlagSpec[]) {
    const fromFlag = given.get(spec.name as FlagName);
    const envValue = env[envName(spec.name)];
    const chosen = fromFlag ?? (envValue !== undefined ? { raw: envValue, where: `environment variable ${envName(spec.name)}` } : undefined);
    const raw = chosen?.raw ?? spec.default;
    if (raw === undefined) continue;
    out[camel(spec.name)] = validate(spec, raw, chosen?.where ?? `default of --${spec.name}`);
  }
  if (typeof out.publishStatusAddress === 'string') {
    out.publishStatusAddress = out.publishStatusAddress.split(',').map((s) => s.trim()).filter(Boolean);
  }
  out.proxyProtocolTrustedCidrs = parseCidrList(String(out.proxyProtocolTrustedCidrs), '--proxy-protocol-trusted-cidrs');
  const config = out as unknown as ServeConfig;
  if (config.kubeconfig && config.manifests) throw bad('flags --kubeconfig and --manifests', 'choose one source, not both');
  if (!DNS_SUBDOMAIN.test(config.electionId) || config.electionId.length > 253) throw bad('flag --election-id', `"${config.electionId}" is not a valid Lease name (lower-case letters, digits, '-' and '.')`);
  if (config.electionTtl < 1_000) throw bad('flag --election-ttl', 'must be at least 1s (the Lease counts whole seconds)');
  const ports = [config.httpPort, config.httpsPort, config.adminPort].filter((p) => p !== 0);
  if (new Set(ports).size !== ports.length) throw bad('flags --http-port, --https-port, --admin-port', 'must differ');
  return { help, config };
}

/** `a.b.c.d/n` or `x::y/n` (a bare address means one host); one WharfError naming the bad entry. */
export function parseCidrList(value: string, where: string): string[] {
  const cidrs = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (cidrs.length === 0) throw bad(where, 'needs at least one CIDR');
  for (const cidr of cidrs) {
    const slash = cidr.indexOf('/');
    const address = slash === -1 ? cidr : cidr.slice(0, slash);
    const family = isIP(address);
    const prefix = slash === -1 ? '' : cidr.slice(slash + 1);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || (slash !== -1 && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max))) {
      throw bad(where, `"${cidr}" is not a CIDR (for example 10.0.0.0/8 or 2001:db8::/32)`);
    }
  }
  return cidrs;
}

export function serveHelp(): string {
  const lines = ['Usage: wharf serve [flags]', '', 'Runs the wharf ingress controller and proxy.', '', 'Flags (each also read from the environment variable shown):'];
  for (const spec of SERVE_FLAGS as readonly FlagSpec[]) {
    const value = spec.type === 'boolean' ? '' : ` ${spec.type === 'nsname' ? 'NS/NAME' : spec.type === 'enum' ? (spec.choices ?? []).join('|') : spec.type.toUpperCase()}`;
    lines.push(`  --${spec.name}${value}`);
    lines.push(`      ${spec.help}${spec.default !== undefined ? ` (default: ${spec.default})` : ''} [${envName(spec.name)}]`);
  }
  return lines.join('\n') + '\n';
}
