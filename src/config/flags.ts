// The one table of `wharf serve` flags: name, type, default and help. It drives parsing,
// the WHARF_* environment variables, `--help` and the README's flag table.

export type FlagType = 'string' | 'path' | 'port' | 'nsname' | 'enum' | 'boolean' | 'address' | 'duration';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  default?: string;
  choices?: readonly string[];
}

export const SERVE_FLAGS = [
  { name: 'kubeconfig', type: 'path', help: 'Kubeconfig file for the Kubernetes API. Without it and without --manifests, wharf uses the in-cluster service account.' },
  { name: 'manifests', type: 'path', help: 'Serve the Kubernetes YAML manifests in this directory instead of a cluster; changes to its files are picked up live.' },
  { name: 'ingress-class', type: 'string', default: 'wharf', help: 'IngressClass name (and legacy kubernetes.io/ingress.class value) that wharf serves.' },
  { name: 'controller-class', type: 'string', default: 'wharf.dev/ingress-controller', help: 'spec.controller value of IngressClasses that belong to wharf.' },
  { name: 'watch-namespace', type: 'string', help: 'Watch only this namespace (default: all namespaces).' },
  { name: 'bind', type: 'address', default: '0.0.0.0', help: 'Address the HTTP and HTTPS listeners bind to (e.g. 0.0.0.0, ::, 127.0.0.1).' },
  { name: 'http-port', type: 'port', default: '30799', help: 'Port of the HTTP listener.' },
  { name: 'https-port', type: 'port', default: '31522', help: 'Port of the HTTPS listener.' },
  { name: 'admin-port', type: 'port', default: '10254', help: 'Port of the admin server (/healthz, /readyz, /metrics, /diagnostics).' },
  { name: 'admin-bind', type: 'address', default: '0.0.0.0', help: 'Address the admin server binds to.' },
  { name: 'publish-service', type: 'nsname', help: 'NS/NAME of the Service whose address is written into the status of served Ingresses.' },
  { name: 'publish-status-address', type: 'string', help: 'Fixed address (IP or hostname, comma-separated for several) written into the status of served Ingresses.' },
  { name: 'election-id', type: 'string', default: 'wharf-leader', help: 'Name of the coordination.k8s.io Lease that elects the one replica writing Ingress status (namespace: POD_NAMESPACE, else that of --publish-service, else default).' },
  { name: 'election-ttl', type: 'duration', default: '30s', help: 'Lease duration of the leader election (e.g. 30s, 1m); the leader renews every fifth of it and steps down after two thirds without a renewal.' },
  { name: 'default-backend-service', type: 'nsname', help: 'NS/NAME of the Service that answers requests no Ingress matches (default: a plain 404).' },
  { name: 'default-ssl-certificate', type: 'nsname', help: 'NS/NAME of the kubernetes.io/tls Secret served when no other certificate matches (default: a self-signed certificate made at start).' },
  { name: 'tcp-services-configmap', type: 'nsname', help: 'NS/NAME of the ConfigMap of TCP services ("<port>": "<ns>/<svc>:<port>[:PROXY][:PROXY]").' },
  { name: 'udp-services-configmap', type: 'nsname', help: 'NS/NAME of the ConfigMap of UDP services ("<port>": "<ns>/<svc>:<port>").' },
  { name: 'lb-default-class', type: 'boolean', default: 'false', help: 'Also serve LoadBalancer Services that name no spec.loadBalancerClass (those naming wharf.dev/lb are always served).' },
  { name: 'proxy-protocol', type: 'boolean', default: 'false', help: 'Expect a PROXY protocol header (v1 or v2) at the start of every connection to the HTTP and HTTPS ports from --proxy-protocol-trusted-cidrs; its source address is the client address.' },
  { name: 'proxy-protocol-trusted-cidrs', type: 'string', default: '0.0.0.0/0,::/0', help: 'Comma-separated CIDRs whose connections must carry the PROXY header when --proxy-protocol is on; others are direct clients and send none.' },
  { name: 'acme-directory', type: 'string', help: 'ACME directory URL (https) of the issuer for Ingresses annotated wharf.dev/acme: "true" (e.g. https://acme-v02.api.letsencrypt.org/directory). Without it, ACME is off.' },
  { name: 'acme-email', type: 'string', help: 'Contact e-mail address registered with the ACME account.' },
  { name: 'acme-eab-kid', type: 'string', help: 'External account binding key ID, for issuers that require one (with --acme-eab-hmac-key).' },
  { name: 'acme-eab-hmac-key', type: 'string', help: 'External account binding HMAC key (base64url); prefer the environment variable, which ps does not show.' },
  { name: 'acme-ca-file', type: 'path', help: 'PEM file of CA certificates trusted for the ACME server\'s HTTPS (a private or test CA); default: the system CAs.' },
  { name: 'acme-challenge', type: 'enum', default: 'http-01', choices: ['http-01', 'tls-alpn-01'], help: 'ACME challenge type wharf answers: http-01 on the HTTP port or tls-alpn-01 on the HTTPS port.' },
  { name: 'acme-account-secret', type: 'nsname', help: 'NS/NAME of the Opaque Secret holding the ACME account key (created when missing; default: <POD_NAMESPACE or default>/wharf-acme-account). Pending challenges go to the ConfigMap wharf-acme-challenges in the same namespace.' },
  { name: 'log-level', type: 'enum', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'Least severe log level printed.' },
  { name: 'log-format', type: 'enum', default: 'json', choices: ['json', 'text'], help: 'Log format: one JSON object per line, or readable text.' },
] as const satisfies readonly FlagSpec[];

export type FlagName = (typeof SERVE_FLAGS)[number]['name'];

/** `--http-port` → `WHARF_HTTP_PORT`. */
export function envName(flag: string): string {
  return `WHARF_${flag.toUpperCase().replaceAll('-', '_')}`;
}
