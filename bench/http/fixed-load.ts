// A fixed number of keep-alive requests over N connections, each connection sending its next request when
// the previous answer is complete; for instruction counts per request, where a timed run would not do.
// Usage: node bench/http/fixed-load.ts <port> <path> <requests> <connections> [uploadBytes]
import { connect } from 'node:net';
import { BENCH_HOST } from './configs.ts';

const [port, path, totalText, connectionsText, uploadText] = process.argv.slice(2);
const total = Number(totalText);
const connections = Number(connectionsText);
const upload = Number(uploadText ?? 0);
if (!(total > 0) || !(connections > 0) || path === undefined) throw new Error('usage: fixed-load.ts <port> <path> <requests> <connections> [uploadBytes]');
const body = upload > 0 ? Buffer.alloc(upload, 'x') : undefined;
const head = Buffer.from(`${body ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: ${BENCH_HOST}\r\n${body ? `Content-Length: ${upload}\r\n` : ''}\r\n`, 'latin1');
let sent = 0;
let done = 0;
let bad = 0;
const started = performance.now();
await new Promise<void>((resolve, reject) => {
  for (let i = 0; i < connections; i++) {
    const socket = connect(Number(port), '127.0.0.1');
    let buffered: Buffer = Buffer.alloc(0);
    let need = -1;
    const next = (): void => {
      if (sent >= total) {
        socket.end();
        return;
      }
      sent++;
      socket.write(head);
      if (body) socket.write(body);
    };
    socket.on('connect', next);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length > 0 ? Buffer.concat([buffered, chunk]) : chunk;
      // Content-Length framed answers only: what the bench backend sends.
      for (;;) {
        if (need < 0) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) return;
          const text = buffered.toString('latin1', 0, end);
          if (!text.startsWith('HTTP/1.1 200')) bad++;
          const length = /content-length:\s*(\d+)/i.exec(text);
          need = end + 4 + Number(length?.[1] ?? 0);
        }
        if (buffered.length < need) return;
        buffered = buffered.subarray(need);
        need = -1;
        if (++done >= total) resolve();
        next();
      }
    });
  }
});
process.stdout.write(`done ${done} bad ${bad} in ${(performance.now() - started).toFixed(0)} ms\n`);
process.exit(bad > 0 ? 1 : 0);
