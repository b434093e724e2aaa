// Request host normalisation for routing: lower-case, no port, no IPv6 brackets, no trailing root dot.
// Kept allocation-free for the common case (an already lower-case name without port).

function needsWork(host: string): boolean {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c === 58 /* : */ || c === 91 /* [ */) return true;
  }
  return host.charCodeAt(host.length - 1) === 46; /* trailing '.' */
}

/** `Foo.Example.com:8080` → `foo.example.com`; `[::1]:80` → `::1`; `example.com.` → `example.com`. */
export function normalizeRequestHost(host: string): string {
  if (host.length === 0 || !needsWork(host)) return host;
  let h = host;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    h = end < 0 ? h.slice(1) : h.slice(1, end);
  } else {
    const colon = h.indexOf(':');
    // More than one colon without brackets is a bare IPv6 address, not host:port.
    if (colon >= 0 && h.indexOf(':', colon + 1) < 0) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** `host:8080` → `host`, `[::1]:443` → `[::1]`: the Host header as written, minus its port (for URLs). */
export function hostWithoutPort(host: string): string {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The path part of a request-target: the query and fragment are not part of what routes match. */
export function routingPath(path: string): string {
  let end = path.indexOf('?');
  const hash = path.indexOf('#');
  if (hash >= 0 && (end < 0 || hash < end)) end = hash;
  const p = end < 0 ? path : path.slice(0, end);
  return p === '' ? '/' : p;
}
