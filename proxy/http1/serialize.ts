// Writes the heads the proxy sends: forwarded request and response heads, and canned error answers.
// Text is built once and encoded once as latin1, so bytes parsed as latin1 go back out unchanged.

import { FIELD_VALUE_CHAR, TARGET_CHAR, TCHAR } from './chars.ts';

const NONE: readonly string[] = [];

export const STATUS_REASONS: Readonly<Record<number, string>> = Object.freeze({
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
});

function allMatch(text: string, allowed: Uint8Array): boolean {
  for (let index = 0; index < text.length; index++) {
    if (allowed[text.charCodeAt(index)] !== 1) return false;
  }
  return true;
}

export function isValidFieldName(name: string): boolean {
  return name.length > 0 && allMatch(name, TCHAR);
}

/** No CR, LF, NUL or other CTL (HTAB allowed), no leading or trailing whitespace: cannot inject a line. */
export function isValidFieldValue(value: string): boolean {
  if (value.length === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09 && allMatch(value, FIELD_VALUE_CHAR);
}

/**
 * Appends field lines. `headers` are trusted to come from the parser (already validated);
 * `extra` come from wharf's own code and config, so they are checked: a CR or LF there would
 * let a value write its own header lines.
 */
function appendFields(out: string, headers: readonly string[], extra: readonly string[]): string {
  for (let index = 0; index + 1 < headers.length; index += 2) {
    out += `${headers[index] as string}: ${headers[index + 1] as string}\r\n`;
  }
  for (let index = 0; index + 1 < extra.length; index += 2) {
    const name = extra[index] as string;
    const value = extra[index + 1] as string;
    if (!isValidFieldName(name) || !isValidFieldValue(value)) {
      throw new TypeError(`refusing to write header field ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** Request head text: request-line, fields, extra fields, blank line. Throws on an unsafe method, target or extra field. */
export function requestHeadText(
  method: string,
  target: string,
  headers: readonly string[],
  extraHeaders: readonly string[] = NONE,
  versionMinor: 0 | 1 = 1,
): string {
  if (!isValidFieldName(method) || target.length === 0 || !allMatch(target, TARGET_CHAR)) {
    throw new TypeError(`refusing to write request-line ${JSON.stringify(`${method} ${target}`)}`);
  }
  return `${appendFields(`${method} ${target} HTTP/1.${versionMinor}\r\n`, headers, extraHeaders)}\r\n`;
}

export function writeRequestHead(
  method: string,
  target: string,
  headers: readonly string[],
  extraHeaders: readonly string[] = NONE,
  versionMinor: 0 | 1 = 1,
): Buffer {
  return Buffer.from(requestHeadText(method, target, headers, extraHeaders, versionMinor), 'latin1');
}

/** Response head text; the reason defaults to the standard phrase and must hold no CR or LF. */
export function responseHeadText(
  status: number,
  reason: string | undefined,
  headers: readonly string[],
  extraHeaders: readonly string[] = NONE,
): string {
  const phrase = reason ?? STATUS_REASONS[status] ?? '';
  if (!Number.isInteger(status) || status < 100 || status > 599 || !allMatch(phrase, FIELD_VALUE_CHAR)) {
    throw new TypeError(`refusing to write status-line ${JSON.stringify(`${status} ${phrase}`)}`);
  }
  return `${appendFields(`HTTP/1.1 ${status} ${phrase}\r\n`, headers, extraHeaders)}\r\n`;
}

export function writeResponseHead(
  status: number,
  reason: string | undefined,
  headers: readonly string[],
  extraHeaders: readonly string[] = NONE,
): Buffer {
  return Buffer.from(responseHeadText(status, reason, headers, extraHeaders), 'latin1');
}

/**
 * A complete answer wharf gives itself (400, 404, 502, …): plain text, exact length, and
 * `Connection: close` because after a framing error the connection's byte stream cannot be trusted.
 * The body is UTF-8; callers answering often with the same bytes should keep the Buffer.
 */
export function errorResponse(status: number, reason?: string, body?: string): Buffer {
  const phrase = reason ?? STATUS_REASONS[status] ?? 'Error';
  const payload = Buffer.from(body ?? `${phrase}\n`, 'utf8');
  const head = responseHeadText(status, phrase, NONE, [
    'Content-Type', 'text/plain; charset=utf-8',
    'Content-Length', String(payload.length),
    'Connection', 'close',
  ]);
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}
