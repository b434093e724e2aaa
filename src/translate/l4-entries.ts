// Parses one entry of a tcp-services or udp-services ConfigMap in ingress-nginx's format:
// `"<port>": "<ns>/<svc>:<port>[:PROXY][:PROXY]"`. Pure: the text in, a typed entry or a problem out.
import type { L4Protocol } from '../model/l4.ts';

export interface L4Entry {
  /** The port wharf listens on (the data key). */
  listenPort: number;
  namespace: string;
  service: string;
  /** The Service port, by number or by name, as written. */
  servicePort: number | string;
  /** The first `PROXY`: clients send a PROXY protocol header. */
  decodeProxyProtocol: boolean;
  /** The second `PROXY`: wharf sends a PROXY protocol v1 header to the upstream. */
  sendProxyProtocol: boolean;
}

export type L4EntryResult = { ok: true; entry: L4Entry } | { ok: false; problem: string };

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
// IANA service names, which Service port names are: at most 15 characters, at least one letter.
const PORT_NAME = /^(?=.*[a-z])[a-z0-9](?:[-a-z0-9]{0,13}[a-z0-9])?$/;
// No leading zero: "80" and "080" would otherwise be two keys for one port.
const PORT_NUMBER = /^[1-9][0-9]{0,4}$/;

export const ENTRY_FORMAT = '"<namespace>/<service>:<port>[:PROXY][:PROXY]"';

/** A port number 1-65535 written without sign, spaces or leading zeros, else undefined. */
export function parsePortNumber(text: string): number | undefined {
  if (!PORT_NUMBER.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function proxyFlag(text: string | undefined): boolean | undefined {
  if (text === undefined || text === '') return false;
  return text.toUpperCase() === 'PROXY' ? true : undefined;
}

/**
 * One data entry. `key` is the listening port; `value` names the target. For UDP no PROXY field is
 * allowed: PROXY protocol is defined for streams only. An empty third field (`ns/svc:53::PROXY`) asks
 * to send PROXY protocol without expecting it from clients.
 */
export function parseL4Entry(key: string, value: string, protocol: L4Protocol): L4EntryResult {
  const listenPort = parsePortNumber(key);
  if (listenPort === undefined) return { ok: false, problem: `the key ${JSON.stringify(key)} is not a port number; use 1-65535 without leading zeros` };
  const target = value.trim();
  const slash = target.indexOf('/');
  const fields = target.slice(slash + 1).split(':');
  const namespace = target.slice(0, Math.max(slash, 0));
  const [service = '', port = ''] = fields;
  const format = `write ${ENTRY_FORMAT}`;
  if (slash === -1 || fields.length < 2) return { ok: false, problem: `the value ${JSON.stringify(value)} is not ${ENTRY_FORMAT}` };
  if (!DNS_LABEL.test(namespace)) return { ok: false, problem: `the namespace ${JSON.stringify(namespace)} is not a valid namespace name; ${format}` };
  if (!DNS_LABEL.test(service)) return { ok: false, problem: `the Service name ${JSON.stringify(service)} is not a valid Service name; ${format}` };
  let servicePort: number | string;
  if (/^[0-9]+$/.test(port)) {
    const n = parsePortNumber(port);
    if (n === undefined) return { ok: false, problem: `the Service port ${JSON.stringify(port)} is not a port number; use 1-65535 without leading zeros, or the port's name` };
    servicePort = n;
  } else if (PORT_NAME.test(port)) servicePort = port;
  else return { ok: false, problem: `the Service port ${JSON.stringify(port)} is neither a port number nor a port name; ${format}` };
  if (fields.length > 4) return { ok: false, problem: `the value ${JSON.stringify(value)} has more than two fields after the port; ${format}` };
  const decode = proxyFlag(fields[2]);
  const send = proxyFlag(fields[3]);
  if (decode === undefined || send === undefined) {
    const bad = decode === undefined ? fields[2] : fields[3];
    return { ok: false, problem: `${JSON.stringify(bad)} after the port is not PROXY; ${format}` };
  }
  if (protocol === 'UDP' && (decode || send)) {
    return { ok: false, problem: 'PROXY protocol works on TCP streams only; remove :PROXY from this UDP entry' };
  }
  return { ok: true, entry: { listenPort, namespace, service, servicePort, decodeProxyProtocol: decode, sendProxyProtocol: send } };
}
