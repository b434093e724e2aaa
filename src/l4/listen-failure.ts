// A listener that wharf could not bind, as a Diagnostic on the ConfigMap or Service that asked for it,
// so a port in use or not permitted shows up as an Event and on the admin API, not only in the log.
import type { Diagnostic } from '../model/diagnostics.ts';
import type { L4Listener } from '../model/l4.ts';

/** What the proxy reports for a port it could not bind (structurally the proxy's own failure record). */
export interface ListenFailure {
  listener: L4Listener;
  address: string;
  /** The errno code: EADDRINUSE, EACCES, EADDRNOTAVAIL, ... */
  code: string;
  message: string;
}

const WHY: Record<string, string> = {
  EADDRINUSE: 'another process already listens there',
  EACCES: 'wharf may not bind ports below 1024 without privilege',
  EADDRNOTAVAIL: 'that address is not on this host',
};

export function listenFailureDiagnostic(failure: ListenFailure): Diagnostic {
  const { listener, address, code } = failure;
  const field = listener.origin === 'configMap' ? `data['${listener.port}']` : `spec.ports (port ${listener.port}/${listener.protocol})`;
  const why = WHY[code] ?? failure.message;
  return {
    object: listener.source,
    severity: 'error',
    code: 'WHARF_E_L4_LISTEN',
    field,
    message: `wharf cannot listen on ${listener.protocol} ${address.includes(':') ? `[${address}]` : address}:${listener.port} (${code}: ${why}), so it is not served; free the port or choose another. wharf tries again every 30 s and on every change.`,
  };
}
