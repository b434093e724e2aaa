// Writes status.loadBalancer.ingress of the Ingresses (or LoadBalancer Services) wharf serves, and withdraws
// it from those it stops serving; only while leader, only what differs, debounced after rebuilds, retried with back-off.
import type { NamespacedName } from '../src/config/parse.ts';
import type { Logger } from '../src/log.ts';
import type { Service } from '../src/model/kube.ts';
import { fixedAddresses, nodeAddresses, planStatusWrites, publishServiceAddresses, servedServiceAddresses, type AddressChoice, type Node, type StatusCarrier, type StatusWrite } from '../src/status/addresses.ts';
import { ApiError } from './kube/api-client.ts';
import type { KubeRequester } from './kube/api-request.ts';
import { backoff } from './kube/reflector.ts';
import type { Leadership } from './leader-election.ts';
import type { Store } from './store.ts';

export type StatusWriteResult = 'success' | 'conflict' | 'notFound' | 'failure';

export interface StatusWriterOptions {
  /**
   * Whose status: served Ingresses (the default; addresses from the publish flags), or served
   * LoadBalancer Services (--publish-status-address, else the node's address).
   */
  kind?: 'Ingress' | 'Service';
  api: KubeRequester;
  store: Store;
  leadership: Leadership;
  log: Logger;
  publishService?: NamespacedName;
  publishStatusAddress?: readonly string[];
  /** NODE_NAME (downward API): the node whose address a non-LoadBalancer publish Service (or a served LoadBalancer Service) stands for. */
  nodeName?: string;
  /** Counts each write by result (a metric). */
  onWrite?: (result: StatusWriteResult) => void;
  /** Quiet time after a rebuild before writing, so a burst of rebuilds makes one round of writes. */
  debounceMs?: number;
  /** Periodic re-check while leader: picks up Node address changes and objects outside the watched namespace. */
  resyncMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export class StatusWriter {
  private readonly opts: StatusWriterOptions;
  private readonly kind: 'Ingress' | 'Service';
  private served = new Set<string>();
  /** Services: those served since they last lost (or never had) wharf's addresses; only they are withdrawn from. */
  private readonly wasServed: Set<string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private failures = 0;
  private stopped = false;
  private lastReason: string | undefined;
  private node: { node: Node | undefined; atMs: number } | undefined;
  /** Our last write per object and the resourceVersion it replaced: skips re-writing before the watch catches up. */
  private readonly written = new Map<string, { fromVersion: string | undefined; addresses: string }>();
  private removeListener: (() => void) | undefined;
  private idle: Array<() => void> = [];

  constructor(opts: StatusWriterOptions) {
    this.opts = opts;
    this.kind = opts.kind ?? 'Ingress';
    this.wasServed = this.kind === 'Service' ? new Set() : undefined;
  }

  /** True when a flag asks for status writes at all. */
  static wanted(opts: Pick<StatusWriterOptions, 'publishService' | 'publishStatusAddress'>): boolean {
    return Boolean(opts.publishService || opts.publishStatusAddress?.length);
  }

  start(): void {
    this.removeListener = this.opts.leadership.onChange((leader) => {
      if (leader) this.schedule(0);
      else this.cancel();
    });
    const every = this.opts.resyncMs ?? 60_000;
    this.resync = setInterval(() => {
      this.node = undefined;
      this.schedule(0);
    }, every);
    this.resync.unref();
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.removeListener?.();
    this.cancel();
    clearInterval(this.resync);
  }

  /** After each rebuild, on every replica: the objects translate() served (`ns/name`). */
  update(served: readonly string[]): void {
    this.served = new Set(served);
    if (this.wasServed) {
      for (const key of served) this.wasServed.add(key);
      // Followers run no rounds, so Services deleted after they stopped being served leave the list here too.
      if (this.wasServed.size > this.served.size) {
        const present = new Set(this.opts.store.list('Service').map((o) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`));
        for (const key of this.wasServed) if (!present.has(key)) this.wasServed.delete(key);
      }
    }
    this.schedule(this.opts.debounceMs ?? 1_000);
  }

  /** Resolves once no round is scheduled or running (tests wait on it instead of sleeping). */
  settled(): Promise<void> {
    if (!this.timer && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.timer || this.running) return;
    const waiting = this.idle;
    this.idle = [];
    for (const r of waiting) r();
  }

  private schedule(ms: number): void {
    if (this.stopped || !this.opts.leadership.isLeader()) return;
    if (this.running) {
      // A round in progress may have read the old state; one more follows it.
      this.again = true;
      return;
    }
    // A later, shorter request (leadership won) moves the round earlier; a rebuild burst pushes it later.
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.round().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule(0);
        }
        this.notifyIdle();
      });
    }, ms);
  }

  private async round(): Promise<void> {
    let retry = false;
    try {
      // No Service served, none to withdraw from: no address to work out (no Node read), nothing to log.
      if (this.wasServed?.size === 0) return;
      const choice = await this.addresses();
      if (choice.reason !== this.lastReason) {
        this.lastReason = choice.reason;
        // A served LoadBalancer Service with no address to publish is a setup problem (no NODE_NAME, a Node without addresses).
        const level = choice.addresses === undefined && this.kind === 'Service' ? 'warn' : 'info';
        this.opts.log[level]('status: addresses to publish', { kind: this.kind, reason: choice.reason, addresses: choice.addresses?.map((a) => a.ip ?? a.hostname) });
      }
      // Not known (Service or Node missing): leave every status as it is, and look again later.
      if (choice.addresses === undefined) {
        // A Node still registering may have no addresses yet.
        retry = choice.reason === 'nodeMissing' || choice.reason === 'nodeHasNoAddress';
      } else {
        const objects = this.opts.store.list(this.kind) as StatusCarrier[];
        // Forget writes to objects that are gone, so the memos stay as small as the store.
        const present = new Set(objects.map((i) => `${i.metadata.namespace ?? 'default'}/${i.metadata.name}`));
        for (const key of this.written.keys()) if (!present.has(key)) this.written.delete(key);
        const planned = planStatusWrites(objects, this.served, choice.addresses, this.wasServed);
        this.forgetUnserved(present, planned);
        const writes = planned.filter((w) => !this.alreadyWritten(w, objects));
        for (const w of writes) {
          if (this.stopped || !this.opts.leadership.isLeader()) break;
          if (!(await this.write(w, objects))) retry = true;
        }
      }
    } catch (err) {
      this.opts.log.warn('status: cannot work out the addresses to publish', { code: 'WHARF_E_KUBE_API', err: err as Error });
      retry = true;
    }
    if (retry) {
      this.failures++;
      this.again = false;
      const delay = backoff(this.failures, this.opts.backoffInitialMs ?? 1_000, this.opts.backoffMaxMs ?? 30_000);
      setTimeout(() => this.schedule(0), delay).unref();
    } else {
      this.failures = 0;
    }
  }

  /** A Service that is no longer served and has nothing of wharf's left to withdraw is off the list. */
  private forgetUnserved(present: ReadonlySet<string>, planned: readonly StatusWrite[]): void {
    if (!this.wasServed) return;
    const withdrawing = new Set(planned.filter((w) => w.reason === 'withdraw').map((w) => `${w.namespace}/${w.name}`));
    for (const key of this.wasServed) if (!present.has(key) || (!this.served.has(key) && !withdrawing.has(key))) this.wasServed.delete(key);
  }

  private alreadyWritten(w: StatusWrite, objects: readonly StatusCarrier[]): boolean {
    const key = `${w.namespace}/${w.name}`;
    const mine = this.written.get(key);
    const current = objects.find((i) => (i.metadata.namespace ?? 'default') === w.namespace && i.metadata.name === w.name);
    return mine !== undefined && mine.fromVersion === current?.metadata.resourceVersion && mine.addresses === JSON.stringify(w.addresses);
  }

  /** One merge patch on the status subresource; false when it should be tried again. */
  private async write(w: StatusWrite, objects: readonly StatusCarrier[]): Promise<boolean> {
    const key = `${w.namespace}/${w.name}`;
    const current = objects.find((i) => (i.metadata.namespace ?? 'default') === w.namespace && i.metadata.name === w.name);
    const version = current?.metadata.resourceVersion;
    const namespaced = `namespaces/${encodeURIComponent(w.namespace)}`;
    const path = this.kind === 'Service' ? `/api/v1/${namespaced}/services/${encodeURIComponent(w.name)}/status` : `/apis/networking.k8s.io/v1/${namespaced}/ingresses/${encodeURIComponent(w.name)}/status`;
    const logKey = this.kind === 'Service' ? 'service' : 'ingress';
    // The resourceVersion is a precondition: if the status changed since we read it (say another
    // controller took the object over), the server answers 409 and we decide again on fresh data.
    const patch = { metadata: { resourceVersion: version }, status: { loadBalancer: { ingress: w.addresses.length > 0 ? w.addresses : null } } };
    try {
      await this.opts.api.request('PATCH', path, patch);
      this.written.set(key, { fromVersion: version, addresses: JSON.stringify(w.addresses) });
      this.opts.onWrite?.('success');
      this.opts.log.info(w.reason === 'publish' ? 'status: addresses written' : 'status: addresses withdrawn', { [logKey]: key, addresses: w.addresses.map((a) => a.ip ?? a.hostname) });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // The object is gone; its delete event will reach the store shortly.
        this.opts.onWrite?.('notFound');
        return true;
      }
      if (err instanceof ApiError && err.status === 409) {
        // The watch brings the newer object, whose rebuild schedules another round.
        this.opts.onWrite?.('conflict');
        this.opts.log.debug(`status: ${this.kind} changed while writing; deciding again`, { [logKey]: key });
        return true;
      }
      this.opts.onWrite?.('failure');
      this.opts.log.warn('status: write failed; retrying with back-off', { code: 'WHARF_E_KUBE_API', [logKey]: key, err: err as Error });
      return false;
    }
  }

  private async addresses(): Promise<AddressChoice> {
    const { publishService, publishStatusAddress } = this.opts;
    if (this.kind === 'Service') {
      const node = publishStatusAddress?.length ? undefined : await this.currentNode();
      return servedServiceAddresses(publishStatusAddress, this.opts.nodeName, node);
    }
    if (publishStatusAddress?.length) return fixedAddresses(publishStatusAddress);
    if (!publishService) return { addresses: undefined, reason: 'notConfigured' };
    const service = this.opts.store.get('Service', publishService.namespace, publishService.name) as Service | undefined;
    // Outside --watch-namespace the Service is not in the store: read it directly.
    const svc = service ?? (await this.getOrUndefined<Service>(`/api/v1/namespaces/${encodeURIComponent(publishService.namespace)}/services/${encodeURIComponent(publishService.name)}`));
    if (!svc || svc.spec?.type === 'LoadBalancer' || !this.opts.nodeName) return publishServiceAddresses(svc, this.opts.nodeName, undefined);
    return publishServiceAddresses(svc, this.opts.nodeName, await this.currentNode());
  }

  /** The Node NODE_NAME names, read once per resync period; a missing Node, or one without addresses, is read again on the retry rather than remembered. */
  private async currentNode(): Promise<Node | undefined> {
    if (!this.opts.nodeName) return undefined;
    if (!this.node) {
      this.node = { node: await this.getOrUndefined<Node>(`/api/v1/nodes/${encodeURIComponent(this.opts.nodeName)}`), atMs: Date.now() };
    }
    const node = this.node.node;
    if (!node || !nodeAddresses(node)) this.node = undefined;
    return node;
  }

  private async getOrUndefined<T>(path: string): Promise<T | undefined> {
    try {
      return (await this.opts.api.request('GET', path)) as T;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }
}
