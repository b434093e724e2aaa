// The Store: every watched object by kind and namespace/name, fed by a source, read as a Snapshot.
// Sources only write here and mark the store dirty; the rebuild scheduler decides when to translate.
import { SERVICE_NAME_LABEL, type KubeObject } from '../src/model/kube.ts';
import type { Snapshot } from '../src/model/snapshot.ts';

export const WATCHED_KINDS = ['Ingress', 'IngressClass', 'Service', 'EndpointSlice', 'Endpoints', 'Secret', 'ConfigMap'] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];

export function isWatchedKind(kind: unknown): kind is WatchedKind {
  return typeof kind === 'string' && (WATCHED_KINDS as readonly string[]).includes(kind);
}

export function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

/**
 * `objKey` is `ns/name` of what changed; undefined when a whole kind was replaced. `statusOnly`: an
 * Ingress or Service changed only in status, resourceVersion or managedFields, which translate() does not read.
 */
export type StoreListener = (kind: WatchedKind, objKey: string | undefined, serviceKey: string | undefined, statusOnly?: boolean) => void;

/** `ns/service` an EndpointSlice or Endpoints object belongs to; undefined for other kinds. */
export function owningService(kind: WatchedKind, obj: KubeObject): string | undefined {
  if (kind === 'Endpoints') return objectKey(obj);
  if (kind !== 'EndpointSlice') return undefined;
  const svc = obj.metadata.labels?.[SERVICE_NAME_LABEL];
  return svc === undefined ? undefined : `${obj.metadata.namespace ?? ''}/${svc}`;
}

export class Store {
  private readonly byKind = new Map<WatchedKind, Map<string, KubeObject>>(WATCHED_KINDS.map((k) => [k, new Map()]));
  private readonly listeners: StoreListener[] = [];
  private readonly slicesByService = new Map<string, Set<string>>();
  private cached: Snapshot | undefined;
  /** Each kind's sorted list, kept until that kind changes: one changed Ingress does not re-sort 1,000 Services. */
  private readonly sortedCache = new Map<WatchedKind, KubeObject[]>();

  onChange(listener: StoreListener): void {
    this.listeners.push(listener);
  }

  get(kind: WatchedKind, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.map(kind).get(`${namespace ?? ''}/${name}`);
  }

  list(kind: WatchedKind): KubeObject[] {
    return [...this.map(kind).values()];
  }

  /** Inserts or replaces one object; returns false (and stays quiet) when nothing changed. */
  upsert(kind: WatchedKind, obj: KubeObject): boolean {
    const map = this.map(kind);
    const key = objectKey(obj);
    const old = map.get(key);
    if (old && sameObject(old, obj)) return false;
    if (old && (kind === 'Ingress' || kind === 'Service') && sameRoutingInput(old, obj)) {
      // Kept (the status writer reads the current status and resourceVersion) but the cached snapshot
      // stays: a status write, wharf's own included, comes back as a MODIFIED event that cannot change
      // the routing table. Listeners are told it was status only, so nothing rebuilds.
      map.set(key, obj);
      this.sortedCache.delete(kind);
      for (const l of this.listeners) l(kind, key, undefined, true);
      return true;
    }
    if (old) this.unindex(kind, old);
    map.set(key, obj);
    this.index(kind, obj);
    // A slice that moved to another Service changes both.
    const before = old ? owningService(kind, old) : undefined;
    const after = owningService(kind, obj);
    if (before !== undefined && before !== after) this.changed(kind, key, before);
    this.changed(kind, key, after);
    return true;
  }

  delete(kind: WatchedKind, namespace: string | undefined, name: string): boolean {
    const key = `${namespace ?? ''}/${name}`;
    const old = this.map(kind).get(key);
    if (!old) return false;
    this.map(kind).delete(key);
    this.unindex(kind, old);
    this.changed(kind, key, owningService(kind, old));
    return true;
  }

  /** The EndpointSlices labelled for `ns/service`, without scanning every slice. */
  slicesOf(serviceKey: string): KubeObject[] {
    const keys = this.slicesByService.get(serviceKey);
    if (!keys) return [];
    const map = this.map('EndpointSlice');
    return [...keys].sort().flatMap((k) => {
      const o = map.get(k);
      return o ? [o] : [];
    });
  }

  private index(kind: WatchedKind, obj: KubeObject): void {
    const svc = kind === 'EndpointSlice' ? owningService(kind, obj) : undefined;
    if (svc === undefined) return;
    let set = this.slicesByService.get(svc);
    if (!set) this.slicesByService.set(svc, (set = new Set()));
    set.add(objectKey(obj));
  }

  private unindex(kind: WatchedKind, obj: KubeObject): void {
    const svc = kind === 'EndpointSlice' ? owningService(kind, obj) : undefined;
    if (svc === undefined) return;
    const set = this.slicesByService.get(svc);
    set?.delete(objectKey(obj));
    if (set?.size === 0) this.slicesByService.delete(svc);
  }

  /** Replaces every object of a kind at once (a re-list, or a re-read of the manifests). */
  replaceAll(kind: WatchedKind, objs: readonly KubeObject[]): boolean {
    const map = this.map(kind);
    const next = new Map(objs.map((o) => [objectKey(o), o]));
    let differs = next.size !== map.size;
    if (!differs) {
      for (const [key, obj] of next) {
        const old = map.get(key);
        if (!old || !sameObject(old, obj)) {
          differs = true;
          break;
        }
      }
    }
    if (!differs) return false;
    for (const o of map.values()) this.unindex(kind, o);
    this.byKind.set(kind, next);
    for (const o of next.values()) this.index(kind, o);
    this.changed(kind, undefined, undefined);
    return true;
  }

  /** An immutable view; the same object is returned until the next change. */
  snapshot(): Snapshot {
    if (this.cached) return this.cached;
    const sorted = <T extends KubeObject>(kind: WatchedKind): T[] => {
      let list = this.sortedCache.get(kind);
      if (!list) {
        list = [...this.map(kind).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
        this.sortedCache.set(kind, list);
      }
      return list as T[];
    };
    this.cached = Object.freeze({
      ingresses: sorted('Ingress'),
      ingressClasses: sorted('IngressClass'),
      services: sorted('Service'),
      endpointSlices: sorted('EndpointSlice'),
      endpoints: sorted('Endpoints'),
      secrets: sorted('Secret'),
      configMaps: sorted('ConfigMap'),
    }) as unknown as Snapshot;
    return this.cached;
  }

  private map(kind: WatchedKind): Map<string, KubeObject> {
    return this.byKind.get(kind) as Map<string, KubeObject>;
  }

  private changed(kind: WatchedKind, objKey: string | undefined, serviceKey: string | undefined): void {
    this.cached = undefined;
    this.sortedCache.delete(kind);
    for (const l of this.listeners) l(kind, objKey, serviceKey);
  }
}

/**
 * True when two versions of an Ingress differ at most in status, resourceVersion and managedFields,
 * none of which translate() reads. Key order is the API server's, stable for one object; a false
 * "differs" only costs a rebuild.
 */
function sameRoutingInput(a: KubeObject, b: KubeObject): boolean {
  const input = (o: KubeObject): string => {
    const { resourceVersion: _rv, managedFields: _mf, ...metadata } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
    return JSON.stringify([o.apiVersion, o.kind, metadata, (o as { spec?: unknown }).spec]);
  };
  return input(a) === input(b);
}

// The API server bumps resourceVersion on every write; manifests have none, so compare content.
function sameObject(a: KubeObject, b: KubeObject): boolean {
  if (a.metadata.resourceVersion && b.metadata.resourceVersion) return a.metadata.resourceVersion === b.metadata.resourceVersion;
  return JSON.stringify(a) === JSON.stringify(b);
}
