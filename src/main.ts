// The one place that wires wharf together: a source fills the store, the scheduler rebuilds,
// translate() makes the table, the dataplane swaps it in, and the admin server reports on it all.
import type { FastifyInstance } from 'fastify';
import { createAcme, type AcmeParts, type AcmeTuning } from '../controller/acme/index.ts';
import { ManifestsSource, type ManifestProblem } from '../controller/manifests-source.ts';
import { EventRecorder, storeLookup } from '../controller/event-recorder.ts';
import { loadKubeConfig } from '../controller/kube/api-client.ts';
import { createKubeRequester } from '../controller/kube/api-request.ts';
import { createEventsApi } from '../controller/kube/events-api.ts';
import { KubeSource, type KubeSourceOptions } from '../controller/kube-source.ts';
import { LeaderElector, leaseSettings, type Leadership } from '../controller/leader-election.ts';
import { StatusWriter } from '../controller/status-writer.ts';
import { RebuildScheduler } from '../controller/scheduler.ts';
import { Store } from '../controller/store.ts';
import { Dataplane } from '../proxy/dataplane.ts';
import { acmeSettings } from './acme/config.ts';
import { buildAdminApp } from './admin/app.ts';
import type { ServeConfig } from './config/parse.ts';
import { WharfError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics, type WharfMetrics } from './metrics.ts';
import { refString, type Diagnostic } from './model/diagnostics.ts';
import type { EndpointSlice, Endpoints, Service } from './model/kube.ts';
import { emptySnapshot, type Snapshot } from './model/snapshot.ts';
import { resolveCertificates, resolveDefaultCertificate } from './tls/certificates.ts';
import { listenFailureDiagnostic } from './l4/listen-failure.ts';
import { generateDefaultCertificate } from './tls/default-certificate.ts';
import { translate } from './translate/index.ts';
import { refreshBackends } from './translate/refresh.ts';
import { WHARF_VERSION } from './version.ts';

/** How long a TCP or UDP port that could not be bound waits before wharf tries it again. */
const LISTEN_RETRY_MS = 30_000;

export interface WharfHandle {
  log: Logger;
  metrics: WharfMetrics;
  store: Store;
  dataplane: Dataplane;
  httpPort: number;
  httpsPort: number;
  adminPort: number;
  /** Rebuilds now instead of waiting for the scheduler (tests use it to avoid sleeping). */
  rebuildNow(): void;
  /** Resolves once pending manifest reloads are in the store (manifests mode). */
  settled(): Promise<void>;
  diagnostics(): readonly Diagnostic[];
  /** Kubernetes mode only: the Event writer (tests wait on its idle()). */
  events: EventRecorder | undefined;
  /** Kubernetes mode: the leader election (undefined with --manifests, where nothing is written). */
  leadership: Leadership | undefined;
  /** Resolves once no status round is scheduled or running (tests use it to avoid sleeping). */
  statusSettled(): Promise<void>;
  /** With --acme-directory: the challenge book and the issuer. */
  acme: AcmeParts | undefined;
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Watch timeout and back-off of the API source; tests shorten them. */
  kube?: Pick<KubeSourceOptions, 'watchTimeoutSeconds' | 'backoffInitialMs' | 'backoffMaxMs'>;
  /** POD_NAME, POD_NAMESPACE, NODE_NAME (default: process.env); tests run several replicas in one process. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Test-only: quiet time before status writes after a rebuild (default 1 s). */
  statusDebounceMs?: number;
  /** Who may place ACME orders; leader election hands in its predicate (default: the elected leader). */
  acmeIsLeader?: () => boolean;
  acmeTuning?: AcmeTuning;
}

export async function startWharf(config: ServeConfig, options: StartOptions = {}): Promise<WharfHandle> {
  const log = options.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const metrics = createMetrics();
  const store = new Store();
  let ready = false;
  let diagnostics: Diagnostic[] = [];
  let sourceProblems: ManifestProblem[] = [];
  let statusWriter: StatusWriter | undefined;
  let serviceStatusWriter: StatusWriter | undefined;
  let lastServed: readonly string[] = [];
  let lastLoadBalancers: readonly string[] = [];
  let elector: LeaderElector | undefined;

  // --manifests, else --kubeconfig, else the in-cluster service account when running in a pod.
  const inCluster = Boolean(process.env.KUBERNETES_SERVICE_HOST);
  if (!config.manifests && !config.kubeconfig && !inCluster) {
    throw new WharfError('WHARF_E_CONFIG', 'no source of objects: give --kubeconfig PATH, run inside a cluster (service account), or run with --manifests DIR');
  }
  const source = config.manifests
    ? new ManifestsSource({ dir: config.manifests, store, log, namespace: config.watchNamespace, onProblems: (p) => (sourceProblems = p) })
    : new KubeSource({
        ...options.kube,
        kubeconfig: config.kubeconfig,
        store,
        log,
        namespace: config.watchNamespace,
        configMaps: [config.tcpServicesConfigmap, config.udpServicesConfigmap].flatMap((c) => (c ? [c] : [])),
        defaultCertificate: config.defaultSslCertificate,
        metrics: metrics.kube,
      });
  const defaultCertificate = await generateDefaultCertificate();
  // ACME: every replica answers challenges from the shared ConfigMap; only the leader orders.
  const acmeConfig = acmeSettings(config, (options.env ?? process.env).POD_NAMESPACE);
  if (acmeConfig && config.manifests) throw new WharfError('WHARF_E_CONFIG', 'flag --acme-directory: ACME stores certificates in Secrets and needs the Kubernetes API, not --manifests');
  const acme = acmeConfig
    ? createAcme({ settings: acmeConfig, kubeconfig: config.kubeconfig, log, metrics, isLeader: options.acmeIsLeader ?? (() => elector?.isLeader() === true), onDiagnostics: () => { fullPending = true; scheduler.markDirty(); }, ...options.acmeTuning })
    : undefined;
  const dataplane = new Dataplane({ log, metrics, defaultCertificate, acmeChallenges: acme?.book });
  // One client for every write to the API (Events, the Lease, Ingress status).
  const writer = config.manifests ? undefined : createKubeRequester(loadKubeConfig(config.kubeconfig));
  // Kubernetes mode only: Events on the objects that diagnostics name, written by the elected
  // leader alone so replicas do not count one problem several times.
  const events = writer && new EventRecorder({ api: createEventsApi(writer), log, metrics, isLeader: () => elector?.isLeader() === true, lookup: storeLookup(store) });

  const reported = new Set<string>();
  // A certificate that expires (or becomes valid) changes what is served while no object changes:
  // rebuild just after that instant. Capped at setTimeout's limit; an early rebuild is harmless.
  let certificateRecheck: NodeJS.Timeout | undefined;
  const recheckCertificatesAt = (at: Date | undefined): void => {
    clearTimeout(certificateRecheck);
    if (at === undefined) return;
    certificateRecheck = setTimeout(() => {
      fullPending = true;
      scheduler.markDirty();
    }, Math.min(Math.max(at.getTime() - Date.now() + 1, 0), 2 ** 31 - 1));
    certificateRecheck.unref();
  };
  // Diagnostics are what translate() and the certificates found, plus the L4 ports that could not be
  // bound, which the proxy learns a moment after the table is applied.
  let translated: Diagnostic[] = [];
  let listenProblems: Diagnostic[] = [];
  let listenRetry: NodeJS.Timeout | undefined;
  let stopped = false;
  const publishDiagnostics = (): void => {
    diagnostics = [...translated, ...listenProblems];
    reportDiagnostics(log, metrics, diagnostics, reported);
    events?.observe(diagnostics);
  };
  const watchListenFailures = (): void => {
    const pending = dataplane.l4Applied();
    void pending.then((result) => {
      // A newer change reports for itself; after stop() nothing is retried.
      if (pending !== dataplane.l4Applied() || stopped) return;
      const found = result.failed.map(listenFailureDiagnostic);
      clearTimeout(listenRetry);
      // A port in use may be freed: try again later, without waiting for an object to change.
      if (found.length > 0) {
        listenRetry = setTimeout(() => {
          fullPending = true;
          scheduler.markDirty();
        }, LISTEN_RETRY_MS);
        listenRetry.unref();
      }
      if (JSON.stringify(found) === JSON.stringify(listenProblems)) return;
      listenProblems = found;
      publishDiagnostics();
    });
  };
  const rebuild = (): void => {
    const started = performance.now();
    try {
      const snapshot = store.snapshot();
      const result = translate(snapshot, {
        ingressClass: config.ingressClass,
        controllerClass: config.controllerClass,
        defaultBackendService: config.defaultBackendService ? `${config.defaultBackendService.namespace}/${config.defaultBackendService.name}` : undefined,
        tcpServicesConfigMap: config.tcpServicesConfigmap ? `${config.tcpServicesConfigmap.namespace}/${config.tcpServicesConfigmap.name}` : undefined,
        udpServicesConfigMap: config.udpServicesConfigmap ? `${config.udpServicesConfigmap.namespace}/${config.udpServicesConfigmap.name}` : undefined,
        lbDefaultClass: config.lbDefaultClass,
        reservedPorts: [config.httpPort, config.httpsPort, config.adminPort],
      });
      const certs = resolveCertificates(result.certificates, snapshot.secrets, new Date());
      const chosenDefault = config.defaultSslCertificate ? resolveDefaultCertificate(config.defaultSslCertificate, snapshot.secrets, new Date()) : undefined;
      const stats = dataplane.apply(result.table, certs.certificates, chosenDefault?.certificate);
      const at = [certs.recheckAt, chosenDefault?.recheckAt].filter((d) => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0];
      recheckCertificatesAt(at);
      lastServed = result.served;
      statusWriter?.update(result.served);
      lastLoadBalancers = result.loadBalancers ?? [];
      serviceStatusWriter?.update(lastLoadBalancers);
      acme?.issuer.observe(result.certificates, snapshot);
      translated = [...result.diagnostics, ...certs.diagnostics, ...(chosenDefault?.diagnostics ?? []), ...(acme?.issuer.diagnostics() ?? [])];
      publishDiagnostics();
      watchListenFailures();
      metrics.reloads.inc({ result: 'success' });
      metrics.lastReloadSuccess.set(Date.now() / 1000);
      metrics.tableStale.set(0);
      log.info('routing table applied', { hosts: result.table.hosts.length, backends: Object.keys(result.table.backends).length, served: result.served.length, diagnostics: diagnostics.length, ...stats, ms: Math.round(performance.now() - started) });
    } catch (err) {
      // The last good table stays in force; the stale gauge and the log say so.
      metrics.reloads.inc({ result: 'failure' });
      metrics.tableStale.set(1);
      log.error('rebuild failed; the last good routing table stays in force', { code: 'WHARF_E_REBUILD', err: err as Error });
    }
  };
  // What changed since the last rebuild decides how much work the next one does.
  let fullPending = true;
  const touchedServices = new Set<string>();
  const refreshEndpoints = (): void => {
    const keys = new Set(touchedServices);
    const partial: Snapshot = {
      ...emptySnapshot(),
      services: [...keys].flatMap((k) => store.get('Service', ...splitKey(k)) ?? []) as Service[],
      endpointSlices: [...keys].flatMap((k) => store.slicesOf(k)) as EndpointSlice[],
      endpoints: [...keys].flatMap((k) => store.get('Endpoints', ...splitKey(k)) ?? []) as Endpoints[],
    };
    const updated = dataplane.updateBackends(refreshBackends(dataplane.table(), partial, keys));
    metrics.endpointUpdates.inc();
    log.debug('endpoints updated in place', { services: keys.size, backends: updated });
  };
  const scheduler = new RebuildScheduler({
    quietMs: 100,
    maxDelayMs: 500,
    fastQuietMs: 10,
    fastMaxDelayMs: 50,
    rebuild: () => {
      const full = fullPending;
      fullPending = false;
      if (full) rebuild();
      else {
        try {
          refreshEndpoints();
        } catch (err) {
          log.error('endpoint update failed; rebuilding everything', { err: err as Error });
          rebuild();
        }
      }
      touchedServices.clear();
    },
  });
  store.onChange((kind, _key, serviceKey, statusOnly) => {
    // Only an Ingress's or a Service's status changed (mostly wharf's own write coming back): no rebuild,
    // but the status writers look again, so a status someone else changed is put back and a publish
    // Service's new address reaches the Ingresses.
    if (statusOnly) {
      statusWriter?.update(lastServed);
      serviceStatusWriter?.update(lastLoadBalancers);
      return;
    }
    const endpointsOnly = (kind === 'EndpointSlice' || kind === 'Endpoints') && serviceKey !== undefined;
    if (endpointsOnly) touchedServices.add(serviceKey);
    else fullPending = true;
    scheduler.markDirty(endpointsOnly);
  });

  await source.start();
  // Kubernetes mode only: one elected replica writes Ingress status.
  if (writer) {
    const env = options.env ?? process.env;
    const api = writer;
    elector = new LeaderElector({ api, log, ...leaseSettings(config, env) });
    elector.onChange((leader) => {
      metrics.leader.set(leader ? 1 : 0);
      // A new leader reports the problems that are there now instead of waiting for its timer.
      if (leader) {
        events?.resync();
        acme?.issuer.kick();
      }
    });
    if (StatusWriter.wanted(config)) {
      statusWriter = new StatusWriter({ api, store, leadership: elector, log, publishService: config.publishService, publishStatusAddress: config.publishStatusAddress, nodeName: env.NODE_NAME, onWrite: (result) => metrics.statusWrites.inc({ result }), debounceMs: options.statusDebounceMs });
    }
    // Served LoadBalancer Services get the address wharf listens on, whatever the Ingress flags say.
    serviceStatusWriter = new StatusWriter({ kind: 'Service', api, store, leadership: elector, log, publishStatusAddress: config.publishStatusAddress, nodeName: env.NODE_NAME, onWrite: (result) => metrics.statusWrites.inc({ result }), debounceMs: options.statusDebounceMs });
  }
  events?.start();
  // The synced gate: the first table is built from the complete initial state.
  fullPending = true;
  scheduler.markDirty();
  scheduler.flush();
  const proxyProtocol = config.proxyProtocol ? { trustedCidrs: config.proxyProtocolTrustedCidrs } : undefined;
  const ports = await dataplane.listen({ bind: config.bind, httpPort: config.httpPort, httpsPort: config.httpsPort, proxyProtocol }).catch((err: Error & { code?: string }) => {
    source.stop();
    scheduler.stop();
    events?.stop();
    void acme?.stop();
    throw new WharfError('WHARF_E_CONFIG', `cannot listen on ${config.bind} ports ${config.httpPort}/${config.httpsPort}: ${err.message}`);
  });
  // The L4 listeners bind only now that the listen address is known: report those that could not.
  watchListenFailures();
  ready = true;
  // Orders start once the listeners answer: a challenge must never reach a port not yet bound.
  await acme?.start();

  const admin: FastifyInstance = buildAdminApp({
    readiness: () => (ready ? { ready: true } : { ready: false, reason: 'waiting for the first sync and the listeners' }),
    registry: metrics.registry,
    diagnostics: () => diagnostics,
    sourceProblems: () => sourceProblems,
  });
  await admin.listen({ host: config.adminBind, port: config.adminPort }).catch(async (err: Error) => {
    await dataplane.close(0);
    source.stop();
    scheduler.stop();
    events?.stop();
    void acme?.stop();
    throw new WharfError('WHARF_E_CONFIG', `cannot listen on admin port ${config.adminPort}: ${err.message}`);
  });
  const adminAddr = admin.server.address();
  const adminPort = typeof adminAddr === 'object' && adminAddr ? adminAddr.port : config.adminPort;
  statusWriter?.start();
  serviceStatusWriter?.start();
  elector?.start();
  log.info('wharf is serving', { version: WHARF_VERSION, ...(config.manifests ? { source: 'manifests', dir: config.manifests } : { source: 'kubernetes' }), http: ports.httpPort, https: ports.httpsPort, admin: adminPort });

  return {
    log,
    metrics,
    store,
    dataplane,
    httpPort: ports.httpPort,
    httpsPort: ports.httpsPort,
    adminPort,
    rebuildNow: () => scheduler.flush(),
    settled: () => source.settled(),
    diagnostics: () => diagnostics,
    events,
    leadership: elector,
    statusSettled: async () => {
      await statusWriter?.settled();
      await serviceStatusWriter?.settled();
    },
    acme,
    async stop(graceMs = 10_000) {
      ready = false;
      stopped = true;
      clearTimeout(certificateRecheck);
      clearTimeout(listenRetry);
      statusWriter?.stop();
      serviceStatusWriter?.stop();
      // Released before the listeners drain, so another replica takes over status at once.
      await elector?.stop();
      source.stop();
      scheduler.stop();
      events?.stop();
      await acme?.stop();
      await dataplane.close(graceMs);
      await admin.close();
    },
  };
}

/** Logs each distinct diagnostic once while it persists, and keeps the gauge current. */
function reportDiagnostics(log: Logger, metrics: WharfMetrics, diagnostics: readonly Diagnostic[], reported: Set<string>): void {
  metrics.diagnostics.reset();
  const current = new Set<string>();
  for (const d of diagnostics) {
    metrics.diagnostics.inc({ code: d.code, severity: d.severity });
    const key = `${refString(d.object)}|${d.code}|${d.field}|${d.message}`;
    current.add(key);
    if (!reported.has(key)) log[d.severity === 'error' ? 'error' : 'warn'](`${refString(d.object)}: ${d.field}: ${d.message}`, { code: d.code });
  }
  reported.clear();
  for (const k of current) reported.add(k);
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
