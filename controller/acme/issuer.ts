// Keeps the certificates of opted-in Ingresses issued: on the one replica allowed to order (the
// leader predicate), orders through acme-client, stores the result in the Secret, renews, backs off.
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import { challengeKey } from '../../src/acme/challenge-book.ts';
import type { AcmeSettings } from '../../src/acme/config.ts';
import { acmeRequests, backoffMs, certificateState, type AcmeRequest } from '../../src/acme/plan.ts';
import type { Logger } from '../../src/log.ts';
import type { WharfMetrics } from '../../src/metrics.ts';
import type { Diagnostic } from '../../src/model/diagnostics.ts';
import type { Secret } from '../../src/model/kube.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import type { CertificateRef } from '../../src/model/table.ts';
import { ApiError } from '../kube/api-client.ts';
import type { AcmeObjectsApi } from './kube-objects.ts';

/** Where key authorizations go while a challenge is pending (ChallengeSync in production). */
export interface ChallengePublisher {
  publish(key: string, keyAuthorization: string): Promise<void>;
  withdraw(key: string): Promise<void>;
  /** Drops shared entries no order of this replica owns (a crashed leader's leftovers). */
  prune?(): Promise<number>;
}

export interface AcmeIssuerOptions {
  settings: AcmeSettings;
  api: AcmeObjectsApi;
  challenges: ChallengePublisher;
  log: Logger;
  metrics: WharfMetrics;
  /** True only on the replica that may place orders (leader election); asked before each order. */
  isLeader: () => boolean;
  /** Extra trusted CA certificates (PEM) for the ACME server's HTTPS, e.g. --acme-ca-file. */
  caPem?: string;
  /** Called when diagnostics() changed, so the caller republishes them (log, Events, /diagnostics). */
  onDiagnostics?: () => void;
  now?: () => Date;
  /** First retry delay after a failed order; doubles per failure up to backoffMaxMs. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Pause after publishing a challenge, so the other replicas' watches see it before the ACME server asks. */
  propagationMs?: number;
  /** The loop looks again at least this often (leadership changes, renewal times). */
  checkIntervalMs?: number;
}

export const ACCOUNT_KEY_FIELD = 'account.key';
export const ISSUED_HOSTS_ANNOTATION = 'wharf.dev/acme-hosts';
const WRITTEN_TRUST_MS = 60_000;

interface Failure {
  count: number;
  nextAt: number;
  diagnostic: Diagnostic;
}

export class AcmeIssuer {
  private readonly opts: AcmeIssuerOptions;
  private readonly abort = new AbortController();
  private requests: AcmeRequest[] = [];
  private planDiagnostics: Diagnostic[] = [];
  private secrets = new Map<string, Secret>();
  /** Secrets this replica just wrote: trusted until the watch brings them back (or a minute passes). */
  private readonly written = new Map<string, { secret: Secret; at: number }>();
  private readonly failures = new Map<string, Failure>();
  private client: acme.Client | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** Secrets with a renewal-time gauge, so the series of a Secret no longer asked for goes away. */
  private readonly gauged = new Set<string>();

  constructor(opts: AcmeIssuerOptions) {
    this.opts = opts;
  }

  /** Every rebuild: the certificates translate() wants and the current Secrets. */
  observe(certificates: readonly CertificateRef[], snapshot: Pick<Snapshot, 'ingresses' | 'secrets'>): void {
    const plan = acmeRequests(certificates, snapshot.ingresses);
    this.requests = plan.requests;
    this.planDiagnostics = plan.diagnostics;
    this.secrets = new Map(snapshot.secrets.map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s]));
    // A failure for a Secret no Ingress asks for any more is no longer news.
    const wanted = new Set(plan.requests.map((r) => r.secret));
    for (const key of this.failures.keys()) if (!wanted.has(key)) this.failures.delete(key);
    for (const key of this.gauged) {
      if (wanted.has(key)) continue;
      this.opts.metrics.acmeRenewal.remove({ secret: key });
      this.gauged.delete(key);
    }
    this.wake?.();
  }

  /** Look again now, e.g. when this replica has just become the leader (else within checkIntervalMs). */
  kick(): void {
    this.wake?.();
  }

  diagnostics(): Diagnostic[] {
    return [...this.planDiagnostics, ...[...this.failures.values()].map((f) => f.diagnostic)];
  }

  start(): void {
    if (this.opts.caPem) {
      // acme-client talks through one shared axios instance; the extra CA joins the system ones.
      acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, this.opts.caPem], keepAlive: true });
    }
    this.loop = this.run();
  }

  /** Ends the loop; an order in flight is not waited for beyond a second (shutdown must not hang on the CA). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, 1_000)))]);
    clearTimeout(timer);
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private async run(): Promise<void> {
    const interval = this.opts.checkIntervalMs ?? 30_000;
    while (!this.abort.signal.aborted) {
      let nextMs = interval;
      try {
        if (this.opts.isLeader()) nextMs = await this.pass(interval);
      } catch (err) {
        // order() reports its own failures; this is a bug or a broken predicate, and the loop must live on.
        this.opts.log.error('acme: unexpected error; trying again later', { code: 'WHARF_E_ACME', err: err as Error });
      }
      if (this.abort.signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(10, nextMs));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }

  /** One walk over the requests, ordering what is due; returns how long until the next is due. */
  private async pass(interval: number): Promise<number> {
    let nextMs = interval;
    for (const request of this.requests) {
      if (this.abort.signal.aborted || !this.opts.isLeader()) break;
      const due = this.dueIn(request);
      if (due > 0) {
        nextMs = Math.min(nextMs, due);
        continue;
      }
      await this.order(request);
      const retry = this.failures.get(request.secret);
      if (retry) nextMs = Math.min(nextMs, Math.max(0, retry.nextAt - this.now().getTime()));
    }
    return nextMs;
  }

  /** 0 when an order is due now, else milliseconds until it is (renewal time or back-off). */
  private dueIn(request: AcmeRequest): number {
    const now = this.now();
    const failure = this.failures.get(request.secret);
    const recent = this.written.get(request.secret);
    const fresh = recent && now.getTime() - recent.at < WRITTEN_TRUST_MS ? recent.secret : undefined;
    const observed = certificateState(request, this.secrets.get(request.secret), now);
    const state = observed.action === 'keep' || !fresh ? observed : certificateState(request, fresh, now);
    if (state.action === 'keep') {
      this.opts.metrics.acmeRenewal.set({ secret: request.secret }, state.renewAt.getTime() / 1000);
      this.gauged.add(request.secret);
      return state.renewAt.getTime() - now.getTime();
    }
    if (failure && failure.nextAt > now.getTime()) return failure.nextAt - now.getTime();
    return 0;
  }

  private async order(request: AcmeRequest): Promise<void> {
    const { log, metrics, settings } = this.opts;
    const started = Date.now();
    await this.opts.challenges.prune?.();
    log.info('acme: ordering a certificate', { secret: request.secret, hosts: request.hosts, challenge: settings.challenge });
    try {
      const client = await this.accountClient();
      const commonName = request.hosts.find((h) => h.length <= 64);
      const [keyPem, csr] = await acme.crypto.createCsr({ commonName, altNames: request.hosts }, await acme.crypto.createPrivateEcdsaKey());
      const certPem = await client.auto({
        csr,
        email: settings.email,
        termsOfServiceAgreed: true,
        challengePriority: [settings.challenge],
        // The self-check would dial the host from inside the cluster, which often cannot reach it.
        skipChallengeVerification: true,
        challengeCreateFn: async (authz, challenge, keyAuthorization) => {
          await this.opts.challenges.publish(this.keyOf(authz.identifier.value, challenge), keyAuthorization);
          await new Promise((r) => setTimeout(r, this.opts.propagationMs ?? 2_000));
        },
        challengeRemoveFn: async (authz, challenge) => {
          await this.opts.challenges.withdraw(this.keyOf(authz.identifier.value, challenge));
        },
      });
      const secret = await this.store(request, certPem, keyPem.toString());
      this.written.set(request.secret, { secret, at: this.now().getTime() });
      metrics.acmeOrders.inc({ result: 'success' });
      log.info('acme: certificate issued and stored', { secret: request.secret, hosts: request.hosts, ms: Date.now() - started });
      if (this.failures.delete(request.secret)) this.opts.onDiagnostics?.();
    } catch (err) {
      metrics.acmeOrders.inc({ result: 'failure' });
      const count = (this.failures.get(request.secret)?.count ?? 0) + 1;
      const delay = backoffMs(count, this.opts.backoffInitialMs ?? 30_000, this.opts.backoffMaxMs ?? 3_600_000);
      const message = `Secret ${request.secret} (hosts ${request.hosts.join(', ')}): the ACME order failed: ${errorText(err)}; wharf retries with back-off`;
      this.failures.set(request.secret, {
        count,
        nextAt: this.now().getTime() + delay,
        diagnostic: { object: request.source, severity: 'error', code: 'WHARF_E_ACME', field: 'spec.tls', message },
      });
      log.warn('acme: order failed', { code: 'WHARF_E_ACME', secret: request.secret, hosts: request.hosts, failures: count, retryInMs: delay, err: errorText(err) });
      this.opts.onDiagnostics?.();
    }
  }

  private keyOf(domain: string, challenge: { type: string; token?: string }): string {
    if (challenge.type === 'http-01' && challenge.token) return challengeKey('http-01', challenge.token);
    if (challenge.type === 'tls-alpn-01') return challengeKey('tls-alpn-01', domain);
    throw new Error(`the ACME server offers no ${this.opts.settings.challenge} challenge for ${domain} (got ${challenge.type}); choose another --acme-challenge`);
  }

  /** The ACME client for the account key in its Secret, creating both key and Secret the first time. */
  private async accountClient(): Promise<acme.Client> {
    if (this.client) return this.client;
    const { api, settings } = this.opts;
    const { namespace, name } = settings.accountSecret;
    let secret = await api.get<Secret>('secrets', namespace, name);
    if (!secret?.data?.[ACCOUNT_KEY_FIELD]) {
      const key = (await acme.crypto.createPrivateEcdsaKey()).toString();
      const data = { [ACCOUNT_KEY_FIELD]: Buffer.from(key).toString('base64') };
      try {
        secret = secret
          ? await api.patch<Secret>('secrets', namespace, name, { data })
          : await api.create<Secret>('secrets', namespace, { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'wharf' } }, data });
        this.opts.log.info('acme: created the account key', { secret: `${namespace}/${name}` });
      } catch (err) {
        // Another replica created it first (a leader change mid-start): use theirs.
        if (!(err instanceof ApiError && err.status === 409)) throw err;
        secret = await api.get<Secret>('secrets', namespace, name);
      }
    }
    const b64 = secret?.data?.[ACCOUNT_KEY_FIELD];
    if (!b64) throw new Error(`Secret ${namespace}/${name} has no ${ACCOUNT_KEY_FIELD}`);
    this.client = new acme.Client({
      directoryUrl: settings.directoryUrl,
      accountKey: Buffer.from(b64, 'base64'),
      externalAccountBinding: settings.eab,
    });
    return this.client;
  }

  /** Writes the certificate chain and key into the kubernetes.io/tls Secret, creating it when missing. */
  private async store(request: AcmeRequest, certPem: string, keyPem: string): Promise<Secret> {
    const { api } = this.opts;
    const [namespace, name] = splitKey(request.secret);
    const data = { 'tls.crt': Buffer.from(certPem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') };
    const annotations = { [ISSUED_HOSTS_ANNOTATION]: request.hosts.join(',') };
    const existing = await api.get<Secret>('secrets', namespace, name);
    if (existing && existing.type !== 'kubernetes.io/tls') {
      throw new Error(`Secret ${request.secret} exists with type ${existing.type ?? 'Opaque'}; a certificate needs type kubernetes.io/tls (delete the Secret and wharf creates it)`);
    }
    if (existing) return api.patch<Secret>('secrets', namespace, name, { metadata: { annotations }, data });
    try {
      return await api.create<Secret>('secrets', namespace, { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace, annotations, labels: { 'app.kubernetes.io/managed-by': 'wharf' } }, data });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      return api.patch<Secret>('secrets', namespace, name, { metadata: { annotations }, data });
    }
  }
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** acme-client errors carry the server's problem detail in the message; keep it on one line and bounded. */
function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ').slice(0, 600);
}
