// The Store: every watched object by kind and namespace/name, fed by a source, read as a Snapshot.
// Sources only write here and mark the store dirty; the rebuild scheduler decides when to translate.
import type { KubeObject } from '../src/model/kube.ts';
import type { Snapshot } from '../src/model/snapshot.ts';

export const WATCHED_KINDS = ['Ingress', 'IngressClass', 'Service', 'EndpointSlice', 'Endpoints', 'Secret', 'ConfigMap'] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];

export function isWatchedKind(kind: unknown): kind is WatchedKind {
  return typeof kind === 'string' && (WATCHED_KINDS as readonly string[]).includes(kind);
}

export function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export type StoreListener = (kind: WatchedKind) => void;

export class Store {
  private readonly byKind = new Map<WatchedKind, Map<string, KubeObject>>(WATCHED_KINDS.map((k) => [k, new Map()]));
  private readonly listeners: StoreListener[] = [];
  private cached: Snapshot | undefined;

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
    map.set(key, obj);
    this.changed(kind);
    return true;
  }

  delete(kind: WatchedKind, namespace: string | undefined, name: string): boolean {
    if (!this.map(kind).delete(`${namespace ?? ''}/${name}`)) return false;
    this.changed(kind);
    return true;
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
    this.byKind.set(kind, next);
    this.changed(kind);
    return true;
  }

  /** An immutable view; the same object is returned until the next change. */
  snapshot(): Snapshot {
    if (this.cached) return this.cached;
    const sorted = <T extends KubeObject>(kind: WatchedKind): T[] =>
      [...this.map(kind).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o as T);
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

  private changed(kind: WatchedKind): void {
    this.cached = undefined;
    for (const l of this.listeners) l(kind);
  }
}

// The API server bumps resourceVersion on every write; manifests have none, so compare content.
function sameObject(a: KubeObject, b: KubeObject): boolean {
  if (a.metadata.resourceVersion && b.metadata.resourceVersion) return a.metadata.resourceVersion === b.metadata.resourceVersion;
  return JSON.stringify(a) === JSON.stringify(b);
}
