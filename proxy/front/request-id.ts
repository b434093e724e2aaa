// X-Request-ID for each forwarded request: the client's own when it is sane, else a fresh one that is
// unique per process and cheap to make (a random prefix and a counter, 28 hex digits in all).
import { randomBytes } from 'node:crypto';

const PREFIX = randomBytes(6).toString('hex');
let counter = 0;
const SANE = /^[\w.:@/+=-]{1,200}$/;

function nextRequestId(): string {
  counter = (counter + 1) % 0x10000000000;
  return PREFIX + counter.toString(16).padStart(16, '0');
}

/** The X-Request-ID to send upstream, from flat [name, value, …] request headers. */
export function requestIdFor(headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 12 && name.toLowerCase() === 'x-request-id' && SANE.test(headers[i + 1] as string)) return headers[i + 1] as string;
  }
  return nextRequestId();
}
