// Writes core/v1 Events: create, read and merge-patch one Event by namespace and name.
// Kept apart from the read-only list/watch client; errors are ApiErrors carrying status and reason.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { InvolvedObject } from '../../src/events/describe.ts';
import { ApiError } from './api-client.ts';

/** The fields of a core/v1 Event that wharf writes and reads back. */
export interface KubeEvent {
  apiVersion?: 'v1';
  kind?: 'Event';
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string };
  involvedObject: InvolvedObject;
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  source?: { component?: string; host?: string };
  firstTimestamp?: string;
  lastTimestamp?: string;
  count?: number;
  /** The Go field is ReportingController; its JSON name is reportingComponent. */
  reportingComponent?: string;
  reportingInstance?: string;
}

export interface EventsApi {
  create(namespace: string, event: KubeEvent): Promise<KubeEvent>;
  get(namespace: string, name: string): Promise<KubeEvent>;
  /** JSON merge patch (RFC 7386) of an existing Event. */
  patch(namespace: string, name: string, patch: Partial<KubeEvent>): Promise<KubeEvent>;
}

export function createEventsApi(kc: KubeConfig, timeoutMs = 10_000): EventsApi {
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
  const secure = server.startsWith('https:');
  const path = (namespace: string, name?: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/events${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

  const call = async (method: 'GET' | 'POST' | 'PATCH', p: string, body?: unknown): Promise<KubeEvent> => {
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
    if (status >= 200 && status < 300) return JSON.parse(text) as KubeEvent;
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
    create: (namespace, event) => call('POST', path(namespace), event),
    get: (namespace, name) => call('GET', path(namespace, name)),
    patch: (namespace, name, patch) => call('PATCH', path(namespace, name), patch),
  };
}
