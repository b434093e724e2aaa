// The HTTP/1.1 wire codec the proxy's hot path is built on: strict head parsers, a chunked-body
// boundary scanner and head writers, all pure functions or small state machines on Buffers.

export { parseRequestHead } from './request-head.ts';
export { parseResponseHead } from './response-head.ts';
export { ChunkedScanner } from './chunked.ts';
export type { ChunkedProgress } from './chunked.ts';
export {
  STATUS_REASONS,
  errorResponse,
  isValidFieldName,
  isValidFieldValue,
  requestHeadText,
  responseHeadText,
  writeRequestHead,
  writeResponseHead,
} from './serialize.ts';
export { withoutHopByHop } from './hop-by-hop.ts';
export type { HopByHopOptions } from './hop-by-hop.ts';
export { DEFAULT_CHUNKED_LIMITS, DEFAULT_HEAD_LIMITS } from './types.ts';
export type {
  BodyKind,
  ChunkedLimits,
  HeadError,
  HeadIncomplete,
  HeadLimits,
  RequestErrorStatus,
  RequestHead,
  RequestHeadResult,
  ResponseHead,
  ResponseHeadResult,
} from './types.ts';
