// Diagnostics: problems found in user objects, carried as data from translate() to logs, Events and the admin API.
// Every Diagnostic names the object, the field, what is wrong and what to do, with a stable code.
import type { ErrorCode } from '../errors.ts';

export type ObjectKind = 'Ingress' | 'IngressClass' | 'Service' | 'EndpointSlice' | 'Endpoints' | 'Secret' | 'ConfigMap' | 'File';

export interface ObjectRef {
  kind: ObjectKind;
  namespace?: string;
  name: string;
}

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  object: ObjectRef;
  severity: Severity;
  code: ErrorCode;
  /** JSON-path-like location inside the object, e.g. `spec.rules[0].http.paths[1].backend.service.port`. */
  field: string;
  /** What is wrong and what to do about it, in one sentence or two. */
  message: string;
}

export function refString(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}
