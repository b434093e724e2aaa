// Builds small manifest sets for tests: a Service with an EndpointSlice pointing at loopback pods,
// and Ingresses, as YAML text written into a scratch manifests directory.

export function serviceYaml(ns: string, name: string, port: number, pods: ReadonlyArray<{ address: string; ready?: boolean }>): string {
  const endpoints = pods.map((p) => `  - addresses: [${p.address}]\n    conditions: {ready: ${p.ready ?? true}}`).join('\n');
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  ports: [{name: http, port: 80, targetPort: ${port}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: ${ns}
  labels: {kubernetes.io/service-name: ${name}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints:
${endpoints || '  []'}
`;
}

export interface PathSpec {
  path: string;
  type?: 'Prefix' | 'Exact' | 'ImplementationSpecific';
  service: string;
}

export function ingressYaml(ns: string, name: string, host: string, paths: readonly PathSpec[], extra = ''): string {
  const list = paths
    .map((p) => `          - path: ${p.path}\n            pathType: ${p.type ?? 'Prefix'}\n            backend: {service: {name: ${p.service}, port: {number: 80}}}`)
    .join('\n');
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}, namespace: ${ns}}
spec:
  ingressClassName: wharf
${extra}  rules:
    - host: "${host}"
      http:
        paths:
${list}
`;
}

export const INGRESS_CLASS_YAML = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: wharf}
spec: {controller: wharf.dev/ingress-controller}
`;
