// Per-connection buffering bounds of the HTTP/1.1 front end, shared by the request and response sides.
// They trade memory per connection against how often a side is paused.

// Bytes a socket may hold unsent before the other side is paused. Node's 16 KiB default would pause
// on nearly every chunk of a large body; this keeps a few chunks in flight, still bounded per connection.
export const MAX_UNSENT_BYTES = 256 * 1024;
