// Reads the PROXY protocol header a peer must send before anything else, bounded in bytes and time, and
// puts back the bytes after it, so HTTP, TLS or an L4 relay starts reading exactly where the header ends.
import type { Socket } from 'node:net';
import type { ClientAddress } from '../front/client-address.ts';
import { MAX_PREFIX_READS, readPrefix } from '../read-prefix.ts';
import { parseProxyHeader } from './index.ts';
import { V2_DEFAULT_MAX_BYTES, type ProxyHeader, type ProxyParseResult } from './types.ts';

/** What a PROXY header read came to; also the `result` label of wharf_proxy_protocol_headers_total. */
export type ProxyHeaderResult = 'v1' | 'v2' | 'invalid' | 'timeout' | 'closed';

export type ProxyHeaderOutcome =
  | { result: 'v1' | 'v2'; header: ProxyHeader; client: ClientAddress | undefined }
  | { result: 'invalid'; reason: string }
  | { result: 'timeout' | 'closed' };

/** The HTTP and HTTPS ports give a peer this long to send its whole header (HAProxy and cloud balancers send it at once). */
export const PROXY_HEADER_TIMEOUT_MS = 10_000;

/**
 * The one socket-level PROXY header reader, for the HTTP and HTTPS ports and for L4 listeners; each
 * caller counts the outcome its own way. At most V2_DEFAULT_MAX_BYTES are read for a header. On success
 * the socket is paused with the bytes after the header unshifted; the caller resumes it or hands it on.
 * `client` is the header's source, or undefined for LOCAL and UNKNOWN (the peer itself).
 */
export function readProxyHeader(socket: Socket, timeoutMs: number, done: (outcome: ProxyHeaderOutcome) => void): void {
  const decide = (bytes: Buffer): Exclude<ProxyParseResult, { state: 'incomplete' }> | undefined => {
    const r = parseProxyHeader(bytes);
    if (r.state !== 'incomplete') return r;
    // The parser answers long before this (a v1 line ends within 107 bytes, a v2 length is checked
    // once its 16 fixed bytes are in); the bound here keeps the reader bounded whatever the parser does.
    return bytes.length > V2_DEFAULT_MAX_BYTES ? { state: 'invalid', reason: `no complete header within ${V2_DEFAULT_MAX_BYTES} bytes` } : undefined;
  };
  readPrefix(socket, decide, timeoutMs, (outcome) => {
    if (outcome.kind === 'fragmented') return done({ result: 'invalid', reason: `no complete header in ${MAX_PREFIX_READS} reads` });
    if (outcome.kind !== 'decided') return done({ result: outcome.kind });
    const r = outcome.value;
    if (r.state === 'invalid') return done({ result: 'invalid', reason: r.reason });
    const rest = outcome.bytes.subarray(r.length);
    if (rest.length > 0) socket.unshift(rest);
    const a = r.header.command === 'PROXY' ? r.header.addresses : undefined;
    done({ result: r.header.version === 1 ? 'v1' : 'v2', header: r.header, client: a && { address: a.sourceAddress, port: a.sourcePort } });
  });
}
