// Shapes shared by the HTTP/1.1 codec: limits, parsed heads and the discriminated results of the parsers.
// Plain data only, so the proxy can hold heads without keeping parser state alive.

export interface HeadLimits {
  /** Bytes from the start of a head to the end of its blank line; more answers 431 even before the head ends. */
  maxHeadBytes: number;
  /** Field lines in one head; more answers 431. */
  maxHeaderCount: number;
  /** Bytes of the request-target; more answers 414. */
  maxTargetLength: number;
}

export const DEFAULT_HEAD_LIMITS: Readonly<HeadLimits> = Object.freeze({
  maxHeadBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxTargetLength: 8 * 1024,
});

export interface ChunkedLimits {
  /** Bytes of chunk extensions on one chunk-size line. */
  maxExtensionBytes: number;
  /** Bytes of the whole trailer section, including its line ends. */
  maxTrailerBytes: number;
  /** Trailer field lines. */
  maxTrailerCount: number;
}

export const DEFAULT_CHUNKED_LIMITS: Readonly<ChunkedLimits> = Object.freeze({
  maxExtensionBytes: 4 * 1024,
  maxTrailerBytes: 16 * 1024,
  maxTrailerCount: 100,
});

export interface RequestHead {
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /** Target without its query; '*' for asterisk-form, '' for CONNECT's authority-form. */
  path: string;
  /** '?…' including the question mark, or ''. */
  query: string;
  /** Authority of an absolute-form target (`http://host:port/…`), which overrides Host. */
  absoluteHost: string | undefined;
  versionMinor: 0 | 1;
  /** Flat [name, value, name, value, …]; names as sent, values without surrounding OWS. */
  headers: string[];
  /** Authority to route on: absolute-form authority, else the Host field; '' when neither. */
  host: string;
  contentLength: number | undefined;
  chunked: boolean;
  keepAlive: boolean;
  /** Upgrade field value, only when Connection lists `upgrade` on HTTP/1.1. */
  upgrade: string | undefined;
  expectContinue: boolean;
  /** Lower-case tokens of all Connection fields, for hop-by-hop removal. */
  connectionTokens: readonly string[];
}

export type BodyKind = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  status: number;
  reason: string;
  versionMinor: 0 | 1;
  headers: string[];
  bodyKind: BodyKind;
  /** Set when bodyKind is 'length' (also kept for HEAD/304 answers, for the caller's information). */
  contentLength: number | undefined;
  /** False when the upstream connection cannot carry another exchange after this response. */
  keepAlive: boolean;
  /** Upgrade field value of a 101 answer. */
  upgrade: string | undefined;
  connectionTokens: readonly string[];
}

export type RequestErrorStatus = 400 | 414 | 431 | 501 | 505;

export interface HeadError<Status extends number> {
  kind: 'error';
  status: Status;
  reason: string;
}

/** Not enough bytes yet; pass `resumeAt` back as `scanFrom` so the next call does not rescan. */
export interface HeadIncomplete {
  kind: 'incomplete';
  resumeAt: number;
}

export type RequestHeadResult =
  | HeadIncomplete
  | { kind: 'head'; head: RequestHead; end: number }
  | HeadError<RequestErrorStatus>;

/** Every malformed upstream head is a 502 for the client. */
export type ResponseHeadResult =
  | HeadIncomplete
  | { kind: 'head'; head: ResponseHead; end: number }
  | HeadError<502>;
