// The configuration text of the bench's processes: the nginx backend with fixed bodies, nginx as the
// peer proxy set up to do the same per-request work as wharf, and the manifests wharf serves.
import { existsSync } from 'node:fs';

export const BENCH_HOST = 'bench.test';
export const SMALL_BODY = 'hello from backend\n'; // 19 bytes
export const LARGE_BODY_BYTES = 64 * 1024;
export const UPLOAD_BYTES = 1024 * 1024;

const ECHO_MODULE_PATHS = ['/usr/lib/nginx/modules/ngx_http_echo_module.so', '/usr/share/nginx/modules/ngx_http_echo_module.so'];

/** The echo module (Debian's nginx-light depends on it) lets the backend read a whole upload and say how much it read. */
export function echoModulePath(): string | undefined {
  return ECHO_MODULE_PATHS.find((p) => existsSync(p));
}

/** The head every bench nginx shares: one worker in the foreground, pid and error log under dir. */
export function commonHead(dir: string, modules: readonly string[] = []): string {
  return `${modules.map((m) => `load_module ${m};\n`).join('')}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
`;
}

/** Temp paths under dir, so nginx never writes outside the run's directory. */
export function tempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;\n`).join('');
}

/**
 * The backend: /small answers 19 bytes, /64k a 64 KiB file, /upload reads the whole request body into
 * memory and answers with $request_length (head + body bytes read), so a check can prove 1 MiB arrived.
 */
export function backendConfig(dir: string, port: number, echoModule: string, extraLocations = ''): string {
  return `${commonHead(dir, [echoModule])}http {
  access_log off;
  default_type application/octet-stream;
${tempPaths(dir)}  sendfile on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /small { default_type text/plain; return 200 "${SMALL_BODY.replace('\n', '\\n')}"; }
    location = /64k { alias ${dir}/64k.bin; }
    location = /upload {
      client_max_body_size 2m;
      client_body_buffer_size 2m;
      client_body_in_single_buffer on;
      echo_read_request_body;
      echo $request_length;
    }
${extraLocations}  }
}
`;
}

/** The per-request work wharf does, in nginx terms: pooled HTTP/1.1 upstream, wharf's request headers, streamed bodies. */
export const PROXY_DIRECTIVES = `      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Request-ID $request_id;
      proxy_buffering off;
      proxy_request_buffering off;
`;

/**
 * nginx as the peer proxy: one worker, pooled keep-alive upstream connections, and the same request
 * headers wharf sets (X-Forwarded-*, X-Real-IP, X-Request-ID), so both proxies do comparable work.
 * Bodies stream in both directions as wharf's do (nginx would otherwise spool 1 MiB uploads to disk);
 * buffers are generous, which if anything favours nginx.
 */
export function peerProxyConfig(dir: string, port: number, backendPort: number): string {
  return `${commonHead(dir, [])}http {
  access_log off;
${tempPaths(dir)}  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    server_name ${BENCH_HOST};
    client_max_body_size 0;
    location / {
${PROXY_DIRECTIVES}      proxy_buffer_size 64k;
      proxy_buffers 4 64k;
      client_body_buffer_size 64k;
    }
  }
}
`;
}

/** One Ingress rule sending host/ to the backend Service's port 80. */
export function ingressRule(host: string): string {
  return `    - host: ${host}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: backend
                port:
                  number: 80
`;
}

/** The manifests every wharf bench shares: the wharf IngressClass, and the backend Service with its EndpointSlice at 127.0.0.1:backendPort. */
export function wharfBaseManifests(backendPort: number): { 'class.yaml': string; 'backend.yaml': string } {
  return {
    'class.yaml': `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: wharf
spec:
  controller: wharf.dev/ingress-controller
`,
    'backend.yaml': `apiVersion: v1
kind: Service
metadata:
  name: backend
  namespace: bench
spec:
  ports:
    - name: http
      port: 80
      targetPort: ${backendPort}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: backend-1
  namespace: bench
  labels:
    kubernetes.io/service-name: backend
addressType: IPv4
ports:
  - name: http
    port: ${backendPort}
    protocol: TCP
endpoints:
  - addresses: ["127.0.0.1"]
    conditions:
      ready: true
`,
  };
}

/** IngressClass, Service, EndpointSlice and Ingress routing bench.test/ to the backend, with no body size limit. */
export function wharfManifests(backendPort: number): Record<string, string> {
  const base = wharfBaseManifests(backendPort);
  return {
    'class.yaml': base['class.yaml'],
    'backend.yaml': `${base['backend.yaml']}---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bench
  namespace: bench
  annotations:
    wharf.dev/proxy-body-size: "0"
spec:
  ingressClassName: wharf
  rules:
${ingressRule(BENCH_HOST)}`,
  };
}
