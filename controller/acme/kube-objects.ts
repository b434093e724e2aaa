// The few API calls ACME needs: get, create and merge-patch of Secrets (account key, issued
// certificates) and of the shared challenges ConfigMap. Errors are ApiErrors with status and reason.
import type { ConfigMap, Secret } from '../../src/model/kube.ts';
import { ApiError } from '../kube/api-client.ts';
import type { KubeRequester } from '../kube/api-request.ts';

type Kind = 'secrets' | 'configmaps';

export interface AcmeObjectsApi {
  /** Undefined when the object does not exist (404). */
  get<T extends Secret | ConfigMap>(kind: Kind, namespace: string, name: string): Promise<T | undefined>;
  create<T extends Secret | ConfigMap>(kind: Kind, namespace: string, object: T): Promise<T>;
  /** JSON merge patch (RFC 7386): `null` values delete keys. */
  patch<T extends Secret | ConfigMap>(kind: Kind, namespace: string, name: string, patch: unknown): Promise<T>;
}

/** The ACME calls over the shared JSON requester (auth, timeout and ApiError mapping in one place). */
export function createAcmeObjectsApi(requester: KubeRequester): AcmeObjectsApi {
  const path = (kind: Kind, namespace: string, name?: string): string =>
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/${kind}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  const call = async <T>(verb: 'GET' | 'POST' | 'PATCH', p: string, body?: unknown): Promise<T> => (await requester.request(verb, p, body)) as T;
  return {
    async get<T>(kind: Kind, namespace: string, name: string) {
      try {
        return await call<T>('GET', path(kind, namespace, name));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    create: (kind, namespace, object) => call('POST', path(kind, namespace), object),
    patch: (kind, namespace, name, patch) => call('PATCH', path(kind, namespace, name), patch),
  };
}
