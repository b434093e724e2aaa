// The few API calls ACME needs: get, create and merge-patch of Secrets (account key, issued
// certificates) and of the shared challenges ConfigMap. Errors are ApiErrors with status and reason.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ConfigMap, Secret } from '../../src/model/kube.ts';
import { ApiError } from '../kube/api-client.ts';

type Kind = 'secrets' | 'configmaps';

export interface AcmeObjectsApi {
  /** Undefined when the object does not exist (404). */
  get<T extends Secret | ConfigMap>(kind: Kind, namespace: string, name: string): Promise<T | undefined>;
  create<T extends Secret | ConfigMap>(kind: Kind, namespace: string, object: T): Promise<T>;
  /** JSON merge patch (RFC 7386): `null` values delete keys. */
  patch<T extends Secret | ConfigMap>(kind: Kind, namespace: string, name: string, patch: unknown): Promise<T>;
}

export function createAcmeObjectsApi(kc: KubeConfig, timeoutMs = 10_000): AcmeObjectsApi {
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
  const secure = server.startsWith('https:');
  const path = (kind: Kind, namespace: string, name?: string): string =>
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/${kind}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

  const call = async <T>(method: 'GET' | 'POST' | 'PATCH', p: string, body?: unknown): Promise<T> => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
      headers['content-length'] = payload.length;
    }
    const opts: RequestOptions = { method, headers, signal: AbortSignal.timeout(timeoutMs) };
    // Auth per request: a service-account token file rotates and is read again.
    await kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
    if (!secure) delete opts.agent;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(new URL(server + p), opts, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
    if (status >= 200 && status < 300) return JSON.parse(text) as T;
    let message = text.slice(0, 300);
    let reason: string | undefined;
    try {
      const s = JSON.parse(text) as { message?: string; reason?: string };
      message = s.message ?? message;
      reason = s.reason;
    } catch {
      // Not a Status object (a proxy in between); the raw text is the best we have.
    }
    throw new ApiError(status, `${method} ${p}: ${status} ${message}`, reason);
  };

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
