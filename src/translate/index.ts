// translate(): the pure step from a cluster Snapshot to the routing table, certificates and diagnostics.
// No I/O, no clock, no randomness: the same snapshot always gives the same, fully sorted result.
import type { Diagnostic } from '../model/diagnostics.ts';
import type { Ingress } from '../model/kube.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { Backend, RoutingTable, TranslateOptions, TranslateResult, VirtualHost } from '../model/table.ts';
import { findServicePort, resolveBackend } from './backends.ts';
import type { BackendRequest } from './backends.ts';
import { backendKey } from './backends.ts';
import { classDecision, isDefaultClassOurs } from './classes.ts';
import { compareDiagnostics, diag, sortByIngressAge } from './diag.ts';
import { ANY_HOST } from './hosts.ts';
import { planIngressCached } from './ingress.ts';
import type { IngressPlan } from './ingress.ts';
import { planL4 } from './l4.ts';
import { mergePlans } from './merge.ts';
import type { BackendUse } from './merge.ts';
import { planPassthrough } from './passthrough.ts';
import { compareMatches } from './paths.ts';
import { indexSnapshot, objectKey } from './snapshot-index.ts';
import type { SnapshotIndex } from './snapshot-index.ts';
import { collectTls } from './tls.ts';

export { renderAnnotationDocs, ANNOTATIONS, ANNOTATION_PREFIX } from './annotations.ts';
export { backendKey } from './backends.ts';
export { LB_CLASS, LB_BALANCE_ANNOTATION } from './l4.ts';
export { compilePathRegex } from './regex.ts';

/** Exact hosts, then wildcards, then `*`; alphabetical within each group. */
function compareHosts(a: string, b: string): number {
  const rank = (h: string): number => (h === ANY_HOST ? 2 : h.startsWith('*.') ? 1 : 0);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

const DEFAULT_POLICY = { protocol: 'HTTP', balance: { algorithm: 'round_robin' } } as const;

/** `--default-backend-service` as `ns/name` or `ns/name:port`; without a port, the Service's first port. */
function globalDefault(value: string, index: SnapshotIndex, out: Diagnostic[]): BackendUse | undefined {
  const m = /^([a-z0-9-]{1,63})\/([a-z0-9.-]{1,253})(?::([0-9]{1,5}|[a-z0-9-]{1,63}))?$/.exec(value);
  if (!m) {
    out.push(diag({ kind: 'Service', name: value }, 'WHARF_E_CONFIG', 'defaultBackendService', `--default-backend-service ${JSON.stringify(value)} is not namespace/name or namespace/name:port; no default backend is used.`));
    return undefined;
  }
  const [, namespace, name, portText] = m as unknown as [string, string, string, string | undefined];
  let port: number | string;
  if (portText !== undefined) port = /^[0-9]+$/.test(portText) ? Number(portText) : portText;
  else port = index.services.get(objectKey(namespace, name))?.spec?.ports?.[0]?.port ?? 80;
  const request: BackendRequest = { namespace, service: name, port, ...DEFAULT_POLICY, balance: { algorithm: 'round_robin' } };
  return { request, source: { kind: 'Service', namespace, name }, field: 'defaultBackendService' };
}

/** Resolves every used backend once and reports missing Services and ports where each was written. */
function resolveBackends(uses: BackendUse[], index: SnapshotIndex, out: Diagnostic[]): Record<string, Backend> {
  const backends = new Map<string, Backend>();
  for (const use of uses) {
    const key = backendKey(use.request);
    let backend = backends.get(key);
    if (!backend) backends.set(key, (backend = resolveBackend(index, use.request)));
    const { namespace, service, port } = use.request;
    const fromOption = use.field === 'defaultBackendService';
    if (backend.unavailable === 'serviceMissing') {
      const what = index.services.has(objectKey(namespace, service)) ? 'is an ExternalName Service without spec.externalName' : 'does not exist';
      out.push(diag(use.source, 'WHARF_E_SERVICE_MISSING', fromOption ? use.field : `${use.field}.service.name`, `Service ${namespace}/${service} ${what}, so requests answer 503; create it or fix the name.`));
    } else if (backend.unavailable === 'portMissing') {
      const svc = index.services.get(objectKey(namespace, service));
      const known = (svc?.spec?.ports ?? []).map((p) => (p.name ? `${p.name} (${p.port})` : String(p.port))).join(', ') || 'none';
      const what = typeof port === 'number' ? `port ${port}` : `port named ${JSON.stringify(port)}`;
      const field = fromOption ? use.field : `${use.field}.service.port.${typeof port === 'number' ? 'number' : 'name'}`;
      if (!svc || !findServicePort(svc, port)) out.push(diag(use.source, 'WHARF_E_SERVICE_PORT', field, `Service ${namespace}/${service} has no ${what} (it has: ${known}), so requests answer 503; use one of its ports.`));
    }
  }
  const sorted: Record<string, Backend> = {};
  for (const key of [...backends.keys()].sort()) sorted[key] = backends.get(key)!;
  return sorted;
}

export function translate(snapshot: Snapshot, options: TranslateOptions): TranslateResult {
  const index = indexSnapshot(snapshot);
  const weAreDefault = isDefaultClassOurs(index, options);
  const diagnostics: Diagnostic[] = [];
  const ours: Ingress[] = sortByIngressAge(snapshot.ingresses.filter((ing) => classDecision(ing, index, options, weAreDefault) !== 'foreign'));

  const plans: IngressPlan[] = [];
  const canaries: IngressPlan[] = [];
  for (const ingress of ours) {
    const { plan, diagnostics: found } = planIngressCached(ingress, index);
    diagnostics.push(...found);
    if (!plan) continue;
    (plan.settings.canary ? canaries : plans).push(plan);
  }

  const merged = mergePlans(plans, canaries);
  diagnostics.push(...merged.diagnostics);
  const tls = collectTls(plans);
  diagnostics.push(...tls.diagnostics);

  const uses = [...merged.uses];
  let defaultBackend = merged.catchAll?.key;
  if (defaultBackend === undefined && options.defaultBackendService) {
    const use = globalDefault(options.defaultBackendService, index, diagnostics);
    if (use) {
      uses.push(use);
      defaultBackend = backendKey(use.request);
    }
  }

  const hosts: VirtualHost[] = [...merged.hosts.values()]
    .sort((a, b) => compareHosts(a.host, b.host))
    .map((draft) => {
      const vh: VirtualHost = { host: draft.host, routes: [...draft.routes.values()].sort((a, b) => compareMatches(a.match, b.match)) };
      if (draft.defaultBackend) vh.defaultBackend = draft.defaultBackend.key;
      const secret = draft.host === ANY_HOST ? undefined : tls.secretFor(draft.host);
      if (secret) vh.tlsSecret = secret;
      return vh;
    });

  const passthrough = planPassthrough(plans);
  diagnostics.push(...passthrough.diagnostics);
  // A passthrough backend is usually a route's too; a use already listed would report its problems twice.
  if (passthrough.uses.length > 0) {
    const useId = (u: BackendUse): string => `${backendKey(u.request)} ${u.source.namespace}/${u.source.name} ${u.field}`;
    const listed = new Set(uses.map(useId));
    for (const u of passthrough.uses) if (!listed.has(useId(u))) uses.push(u);
  }
  const l4 = planL4(index, snapshot.services, options);
  diagnostics.push(...l4.diagnostics);
  uses.push(...l4.uses);

  const table: RoutingTable = { hosts, backends: resolveBackends(uses, index, diagnostics) };
  if (defaultBackend !== undefined) table.defaultBackend = defaultBackend;
  // Absent rather than empty, so tables without L4 stay exactly as they were.
  if (l4.listeners.length > 0) table.l4 = l4.listeners;
  if (passthrough.hosts.length > 0) table.passthrough = passthrough.hosts;

  const served = [...plans, ...canaries].map((p) => `${p.ref.namespace}/${p.ref.name}`).sort();
  const result: TranslateResult = { table, certificates: tls.certificates, diagnostics: diagnostics.sort(compareDiagnostics), served };
  if (l4.loadBalancers.length > 0) result.loadBalancers = l4.loadBalancers;
  return result;
}
