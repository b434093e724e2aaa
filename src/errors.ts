// The one registry of wharf's error codes: each code has a stable meaning that logs, Events, metrics and docs share.
// Add codes here, never inline strings elsewhere; a test keeps the README's table in step with this list.

export const ERROR_CODES = {
  WHARF_E_CONFIG: 'A command-line flag or WHARF_* environment variable is unknown or has a bad value.',
  WHARF_E_MANIFEST_DIR: 'The --manifests directory is missing or unreadable.',
  WHARF_E_KUBE_API: 'The Kubernetes API could not be reached, refused the credentials, or failed a list or watch (retried with back-off).',
  WHARF_E_MANIFEST_PARSE: 'A manifest file is not valid YAML or holds an object wharf cannot read.',
  WHARF_E_INGRESS_INVALID: 'An Ingress is malformed (missing backend, bad path, bad host).',
  WHARF_E_ANNOTATION: 'A wharf.dev/ annotation has a value that does not validate.',
  WHARF_E_CONFLICT: 'Two Ingresses claim the same host, path and path type, or the same TLS passthrough host; the older one wins.',
  WHARF_E_SERVICE_MISSING: 'An Ingress or a TCP/UDP services entry names a Service that does not exist.',
  WHARF_E_SERVICE_PORT: 'An Ingress or a TCP/UDP services entry names a Service port that the Service does not have.',
  WHARF_E_NO_ENDPOINTS: 'A Service has no ready endpoints; requests answer 503 until it has some.',
  WHARF_E_TLS_SECRET: 'A TLS Secret is missing, is not PEM, or its key does not match its certificate; its hosts get the default certificate.',
  WHARF_E_TLS_EXPIRED: 'A TLS Secret holds a certificate that has expired or is not valid yet; its hosts get the default certificate.',
  WHARF_E_TLS_HOST_MISMATCH: 'A TLS Secret\'s certificate does not cover a host its spec.tls entry names; that host gets the default certificate.',
  WHARF_E_CANARY: 'A canary Ingress has no main route with the same host, path and path type to attach to.',
  WHARF_E_L4_CONFIG: 'A TCP/UDP services ConfigMap entry or a LoadBalancer Service port is malformed or unsupported; only that entry or port is left out.',
  WHARF_E_L4_LISTEN: 'wharf could not bind the port of a TCP or UDP listener (in use, not permitted, or an address not on this host); retried every 30 s and on every change.',
  WHARF_E_L4_PORT_CONFLICT: 'An L4 listener asks for a port that another one or wharf itself (HTTP, HTTPS, admin) already uses; ConfigMap entries win, then the oldest LoadBalancer Service.',
  WHARF_E_CLASS: 'An IngressClass or class annotation could not be resolved.',
  WHARF_E_ACME: 'An ACME order for a TLS Secret failed (the ACME error is in the message); retried with back-off.',
  WHARF_E_REBUILD: 'A rebuild of the routing table failed; the last good table stays in force.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the person running wharf: says what was wrong, where, and what to do. */
export class WharfError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'WharfError';
  }
}
