// Names why a TLS handshake failed, as a small fixed set of reasons for the handshake error metric.
// OpenSSL's error codes (via node) and node's own are folded into what an operator can act on.
export type HandshakeErrorReason =
  | 'protocol_version'
  | 'no_shared_cipher'
  | 'no_application_protocol'
  | 'certificate_rejected'
  | 'http_request'
  | 'malformed'
  | 'timeout'
  | 'client_closed'
  | 'other';

export const HANDSHAKE_ERROR_REASONS: readonly HandshakeErrorReason[] = [
  'protocol_version', 'no_shared_cipher', 'no_application_protocol', 'certificate_rejected', 'http_request', 'malformed', 'timeout', 'client_closed', 'other',
];

const BY_CODE: Readonly<Record<string, HandshakeErrorReason>> = {
  // The client offers only versions below TLS 1.2 (or above what we speak).
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'protocol_version',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'protocol_version',
  ERR_SSL_VERSION_TOO_LOW: 'protocol_version',
  ERR_SSL_NO_SHARED_CIPHER: 'no_shared_cipher',
  'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE': 'no_shared_cipher',
  ERR_SSL_NO_APPLICATION_PROTOCOL: 'no_application_protocol',
  // The client did not accept the certificate we served: the "wrong certificate" signal.
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'certificate_rejected',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'certificate_rejected',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'certificate_rejected',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'certificate_rejected',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: 'certificate_rejected',
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: 'certificate_rejected',
  // Plain HTTP sent to the HTTPS port.
  ERR_SSL_HTTP_REQUEST: 'http_request',
  ERR_SSL_HTTPS_PROXY_REQUEST: 'http_request',
  ERR_SSL_WRONG_VERSION_NUMBER: 'malformed',
  // wharf's own: the HTTPS port's ClientHello peek gave up on a hello trickled in hundreds of pieces.
  WHARF_FRAGMENTED_CLIENT_HELLO: 'malformed',
  ERR_SSL_UNKNOWN_PROTOCOL: 'malformed',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'malformed',
  ERR_SSL_RECORD_LENGTH_MISMATCH: 'malformed',
  ERR_SSL_LENGTH_MISMATCH: 'malformed',
  ERR_SSL_BAD_PACKET_LENGTH: 'malformed',
  ERR_SSL_UNEXPECTED_MESSAGE: 'malformed',
  ERR_SSL_DECODE_ERROR: 'malformed',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'timeout',
  ECONNRESET: 'client_closed',
  EPIPE: 'client_closed',
};

export function handshakeErrorReason(err: Error & { code?: unknown }): HandshakeErrorReason {
  const code = typeof err.code === 'string' ? err.code : '';
  const known = BY_CODE[code];
  if (known !== undefined) return known;
  // A client that closes before sending a whole ClientHello surfaces as "socket hang up" without a code.
  if (/socket hang up/i.test(err.message)) return 'client_closed';
  return 'other';
}
