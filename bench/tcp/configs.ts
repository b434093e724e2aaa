// The configuration text of the TCP bench: HAProxy in tcp mode as the peer, and the manifests that make
// wharf forward one TCP port (a tcp-services ConfigMap entry) to the same nginx backend.
import { wharfBaseManifests } from '../http/configs.ts';

export const MIB_BYTES = 1024 * 1024;

/** The backend's extra location: /1m answers a 1 MiB file, for the transfer scenario. */
export function largeFileLocation(dir: string): string {
  return `    location = /1m { alias ${dir}/1m.bin; }\n`;
}

/** HAProxy 2.6 in tcp mode, one thread, timeouts as loose as wharf's defaults so neither side cuts a run short. */
export function haproxyTcpConfig(port: number, backendPort: number): string {
  return `global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend bench
  bind 127.0.0.1:${port}
  default_backend upstream
backend upstream
  server backend 127.0.0.1:${backendPort}
`;
}

/** The backend Service and its EndpointSlice, and a tcp-services ConfigMap mapping `listenPort` to it. */
export function wharfTcpManifests(backendPort: number, listenPort: number): Record<string, string> {
  const base = wharfBaseManifests(backendPort);
  return {
    'class.yaml': base['class.yaml'],
    'backend.yaml': base['backend.yaml'],
    'tcp-services.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: tcp-services
  namespace: bench
data:
  "${listenPort}": "bench/backend:80"
`,
  };
}
