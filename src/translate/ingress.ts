// Reads one Ingress into a plan: its validated hosts, paths, backends, TLS entries and settings.
// Structural problems drop the whole Ingress (a half-applied Ingress misroutes); all of them are reported.
import type { Diagnostic, ObjectRef } from '../model/diagnostics.ts';
import type { Ingress, IngressBackend, PathType } from '../model/kube.ts';
import type { PathMatch, RouteOptions } from '../model/table.ts';
import { ANNOTATION_PREFIX, parseAnnotations } from './annotations.ts';
import type { BackendRequest } from './backends.ts';
import { annotationField, diag, ingressRef } from './diag.ts';
import { ANY_HOST, normalizeHost } from './hosts.ts';
import { toPathMatch } from './paths.ts';
import type { IngressSettings } from './settings.ts';
import { buildSettings } from './settings.ts';
import type { SnapshotIndex } from './snapshot-index.ts';

export interface PlannedRoute {
  host: string;
  /** Added through `wharf.dev/server-alias` rather than a rule: yields to hosts that rules declare. */
  alias: boolean;
  match: PathMatch;
  backend: BackendRequest;
  options: RouteOptions;
  source: ObjectRef;
  /** Where in the Ingress this route came from, e.g. `spec.rules[0].http.paths[1]`. */
  field: string;
  /** Where its backend is written, for Service and port diagnostics. */
  backendField: string;
}

export interface PlannedTls {
  secret: string;
  hosts: string[];
  field: string;
}

export interface IngressPlan {
  ingress: Ingress;
  ref: ObjectRef;
  settings: IngressSettings;
  routes: PlannedRoute[];
  /** Vhost names this Ingress has rules for (`*` for rules without host), sorted. */
  ruleHosts: string[];
  defaultBackend?: BackendRequest;
  tls: PlannedTls[];
}

const PATH_TYPES: readonly PathType[] = ['Exact', 'Prefix', 'ImplementationSpecific'];

function readBackend(b: IngressBackend | undefined, field: string, ns: string, settings: IngressSettings, ref: ObjectRef, out: Diagnostic[]): BackendRequest | undefined {
  const bad = (f: string, message: string): undefined => {
    out.push(diag(ref, 'WHARF_E_INGRESS_INVALID', f, message));
    return undefined;
  };
  if (!b) return bad(field, 'the backend is missing; set backend.service.name and backend.service.port.');
  if (b.resource) return bad(`${field}.resource`, 'resource backends are not supported by wharf; use backend.service.');
  const svc = b.service;
  if (!svc || !svc.name) return bad(`${field}.service.name`, 'the backend names no Service; set backend.service.name.');
  const port = svc.port;
  const hasNumber = port?.number !== undefined;
  const hasName = port?.name !== undefined && port.name !== '';
  if (hasNumber && hasName) return bad(`${field}.service.port`, 'set either port.number or port.name, not both.');
  if (hasNumber) {
    const n = port!.number!;
    if (!Number.isInteger(n) || n < 1 || n > 65535) return bad(`${field}.service.port.number`, `port ${n} is not a port number; use 1-65535.`);
    return { namespace: ns, service: svc.name, port: n, protocol: settings.protocol, balance: settings.balance };
  }
  if (hasName) return { namespace: ns, service: svc.name, port: port!.name!, protocol: settings.protocol, balance: settings.balance };
  return bad(`${field}.service.port`, 'the backend names no Service port; set service.port.number or service.port.name.');
}

function hasWharfAnnotation(ingress: Ingress): boolean {
  const annotations = ingress.metadata.annotations;
  if (annotations === undefined) return false;
  for (const key in annotations) if (key.startsWith(ANNOTATION_PREFIX)) return true;
  return false;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// Most Ingresses carry no wharf.dev/ annotation, and their settings are then all defaults, which depend
// on neither the Ingress nor the cluster. Built once and shared (frozen, so no consumer can change them
// for all): at 5,000 Ingresses this saves ~7 MiB of allocation and a quarter of planIngress's time per
// rebuild, and lets backendKey()'s per-policy cache hit across Ingresses.
let sharedDefaults: IngressSettings | undefined;
function defaultSettings(ingress: Ingress, index: SnapshotIndex): IngressSettings {
  sharedDefaults ??= deepFreeze(buildSettings(ingress, parseAnnotations(undefined), index).settings!);
  return sharedDefaults;
}

type PlanResult = { plan?: IngressPlan; diagnostics: Diagnostic[] };

// A full rebuild re-plans every Ingress though usually one changed. An Ingress from the API server is
// replaced, never edited, when it changes (a new object with a new resourceVersion), and its plan
// depends on nothing else unless it reads a ConfigMap (custom-headers). So plans are kept per object,
// checked against its resourceVersion: the same answer as planning again, without the work or the
// garbage. Objects without a resourceVersion (manifests, tests) are always planned afresh.
const plans = new WeakMap<Ingress, { resourceVersion: string; result: PlanResult }>();

/** planIngress(), reusing the plan of an unchanged Ingress object from an earlier rebuild. */
export function planIngressCached(ingress: Ingress, index: SnapshotIndex): PlanResult {
  const resourceVersion = ingress.metadata.resourceVersion;
  if (!resourceVersion || ingress.metadata.annotations?.[`${ANNOTATION_PREFIX}custom-headers`] !== undefined) return planIngress(ingress, index);
  const hit = plans.get(ingress);
  if (hit?.resourceVersion === resourceVersion) return hit.result;
  const result = planIngress(ingress, index);
  plans.set(ingress, { resourceVersion, result });
  return result;
}

/** Validates one Ingress. Returns no plan when anything structural is wrong; diagnostics say what. */
export function planIngress(ingress: Ingress, index: SnapshotIndex): PlanResult {
  const ref = ingressRef(ingress);
  const ns = ref.namespace!;
  const out: Diagnostic[] = [];

  let settings: IngressSettings | undefined;
  if (!hasWharfAnnotation(ingress)) settings = defaultSettings(ingress, index);
  else {
    const parsed = parseAnnotations(ingress.metadata.annotations);
    for (const key of parsed.unknown) {
      out.push(diag(ref, 'WHARF_E_ANNOTATION', annotationField(key), `${key} is not a wharf annotation and is ignored; check the spelling against the annotation table in the README.`, 'warning'));
    }
    const built = buildSettings(ingress, parsed, index);
    for (const p of built.problems) out.push(diag(ref, 'WHARF_E_ANNOTATION', annotationField(p.annotation), p.message));
    settings = built.settings;
  }
  if (!settings) return { diagnostics: out };

  const spec = ingress.spec ?? {};
  const rules = spec.rules ?? [];
  const routes: PlannedRoute[] = [];
  const ruleHosts = new Set<string>();
  let structural = false;
  const invalid = (field: string, message: string): void => {
    structural = true;
    out.push(diag(ref, 'WHARF_E_INGRESS_INVALID', field, message));
  };

  rules.forEach((rule, i) => {
    let host = ANY_HOST;
    if (rule.host !== undefined && rule.host !== '') {
      const h = normalizeHost(rule.host);
      if (!h.ok) return invalid(`spec.rules[${i}].host`, `${h.problem}.`);
      host = h.host;
    }
    ruleHosts.add(host);
    (rule.http?.paths ?? []).forEach((p, j) => {
      const field = `spec.rules[${i}].http.paths[${j}]`;
      let pathType = p.pathType;
      if (pathType === undefined) {
        // networking.k8s.io/v1 requires pathType; a hand-written manifest may omit it, read as ingress-nginx does.
        out.push(diag(ref, 'WHARF_E_INGRESS_INVALID', `${field}.pathType`, 'pathType is missing; wharf reads it as ImplementationSpecific. Set Exact, Prefix or ImplementationSpecific.', 'warning'));
        pathType = 'ImplementationSpecific';
      } else if (!PATH_TYPES.includes(pathType)) {
        return invalid(`${field}.pathType`, `pathType ${JSON.stringify(pathType)} is not one of Exact, Prefix, ImplementationSpecific.`);
      }
      const m = toPathMatch(p.path, pathType, settings.useRegex);
      if (!m.ok) return invalid(`${field}.path`, `${m.problem}.`);
      const backend = readBackend(p.backend, `${field}.backend`, ns, settings, ref, out);
      if (!backend) {
        structural = true;
        return;
      }
      routes.push({ host, alias: false, match: m.match, backend, options: settings.options, source: ref, field, backendField: `${field}.backend` });
    });
  });

  let defaultBackend: BackendRequest | undefined;
  if (spec.defaultBackend !== undefined) {
    defaultBackend = readBackend(spec.defaultBackend, 'spec.defaultBackend', ns, settings, ref, out);
    if (!defaultBackend) structural = true;
  }
  if (rules.length === 0 && spec.defaultBackend === undefined) {
    invalid('spec', 'the Ingress has neither rules nor a defaultBackend, so it serves nothing; add spec.rules or spec.defaultBackend.');
  }

  const tls: PlannedTls[] = [];
  (spec.tls ?? []).forEach((entry, i) => {
    if (!entry.secretName) {
      out.push(diag(ref, 'WHARF_E_TLS_SECRET', `spec.tls[${i}].secretName`, 'the TLS entry names no Secret and is ignored; set secretName to a kubernetes.io/tls Secret in this namespace.', 'warning'));
      return;
    }
    const hosts = new Set<string>();
    (entry.hosts ?? []).forEach((raw, j) => {
      const h = normalizeHost(raw);
      if (h.ok) hosts.add(h.host);
      else invalid(`spec.tls[${i}].hosts[${j}]`, `${h.problem}.`);
    });
    tls.push({ secret: `${ns}/${entry.secretName}`, hosts: [...hosts].sort(), field: `spec.tls[${i}]` });
  });
  // A TLS entry without hosts covers this Ingress's rule hosts that no other entry of it names.
  const named = new Set(tls.flatMap((t) => t.hosts));
  const unnamed = [...ruleHosts].filter((h) => h !== ANY_HOST && !named.has(h)).sort();
  for (const t of tls) if (t.hosts.length === 0) t.hosts = unnamed;

  if (structural) return { diagnostics: out };

  // server-alias: the same routes under more names, yielding later to any host that rules declare.
  const aliasRoutes: PlannedRoute[] = [];
  for (const alias of settings.aliases) {
    if (ruleHosts.has(alias)) continue;
    for (const r of routes) aliasRoutes.push({ ...r, host: alias, alias: true, field: annotationField(`${ANNOTATION_PREFIX}server-alias`) });
  }
  const plan: IngressPlan = { ingress, ref, settings, routes: [...routes, ...aliasRoutes], ruleHosts: [...ruleHosts].sort(), tls };
  if (defaultBackend) plan.defaultBackend = defaultBackend;
  return { plan, diagnostics: out };
}
