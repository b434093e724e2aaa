// Writes core/v1 Events: create, read and merge-patch one Event by namespace and name.
// Requests go through the shared writer client; errors are ApiErrors carrying status and reason.
import type { InvolvedObject } from '../../src/events/describe.ts';
import type { KubeRequester } from './api-request.ts';

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

/** Events over the shared JSON requester (same auth, timeout and ApiError mapping as the other writers). */
export function createEventsApi(requester: KubeRequester): EventsApi {
  const path = (namespace: string, name?: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/events${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  const call = async (verb: 'GET' | 'POST' | 'PATCH', p: string, body?: unknown): Promise<KubeEvent> => (await requester.request(verb, p, body)) as KubeEvent;
  return {
    create: (namespace, event) => call('POST', path(namespace), event),
    get: (namespace, name) => call('GET', path(namespace, name)),
    patch: (namespace, name, patch) => call('PATCH', path(namespace, name), patch),
  };
}
