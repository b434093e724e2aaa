// Single JSON requests with any verb (GET, POST, PUT, merge PATCH) for the writers: the Lease of
// leader election and Ingress status. Non-2xx answers become ApiError with the server's reason.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { apiErrorOf, readBody } from './api-client.ts';

export type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface KubeRequester {
  readonly server: string;
  /** Sends `body` as JSON (PATCH as a JSON merge patch) and parses the answer; throws ApiError on non-2xx. */
  request(verb: Verb, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown>;
}

// Each request is bounded: a write stuck on a dead connection must not stall leader election.
const REQUEST_TIMEOUT_MS = 10_000;

export function createKubeRequester(kc: KubeConfig, timeoutMs = REQUEST_TIMEOUT_MS): KubeRequester {
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
  const secure = server.startsWith('https:');
  return {
    server,
    async request(verb, path, body, signal) {
      const url = new URL(server + path);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (payload) {
        headers['content-type'] = verb === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
        headers['content-length'] = payload.length;
      }
      const timeout = AbortSignal.timeout(timeoutMs);
      const opts: RequestOptions = { method: verb, headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout };
      // Auth per request: service-account token files rotate and are re-read.
      await kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
      if (!secure) delete opts.agent;
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = (secure ? httpsRequest : httpRequest)(url, opts, resolve);
        req.on('error', reject);
        req.end(payload);
      });
      const text = await readBody(res);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return text === '' ? undefined : (JSON.parse(text) as unknown);
      throw apiErrorOf(verb, path, status, text);
    },
  };
}
