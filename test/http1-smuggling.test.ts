// Every request shape that two HTTP readers could frame differently must be refused, with the exact status.
// Each case is raw bytes; the table makes the expected answer for each vector easy to review.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequestHead } from '../proxy/http1/request-head.ts';

const H = 'Host: example.com\r\n';

const REJECTED: Array<[string, string, number]> = [
  ['CL and TE together', `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
  ['TE then CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`, 400],
  ['chunked not final', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n`, 400],
  ['xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`, 400],
  ['chunked twice', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n`, 400],
  ['chunked twice in two fields', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
  ['empty TE', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: \r\n\r\n`, 400],
  ['unknown coding before chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501],
  ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['space before colon', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n`, 400],
  ['tab before colon', `POST / HTTP/1.1\r\n${H}Content-Length\t: 5\r\n\r\n`, 400],
  ['differing CL', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`, 400],
  ['CL list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\n`, 400],
  ['CL list of equal values', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\n`, 400],
  ['CL with sign', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n`, 400],
  ['CL negative', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
  ['CL hex', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\n`, 400],
  ['CL empty', `POST / HTTP/1.1\r\n${H}Content-Length: \r\n\r\n`, 400],
  ['CL inner space', `POST / HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\n`, 400],
  ['CL above 2^53', `POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740992\r\n\r\n`, 400],
  ['CL of 30 digits', `POST / HTTP/1.1\r\n${H}Content-Length: ${'9'.repeat(30)}\r\n\r\n`, 400],
  ['obs-fold', `GET / HTTP/1.1\r\n${H}X-A: 1\r\n 2\r\n\r\n`, 400],
  ['obs-fold with tab', `GET / HTTP/1.1\r\n${H}X-A: 1\r\n\t2\r\n\r\n`, 400],
  ['obs-fold on first field', 'GET / HTTP/1.1\r\n Host: example.com\r\n\r\n', 400],
  ['bare LF ending a field', `GET / HTTP/1.1\r\n${H}X-A: 1\n\r\n`, 400],
  ['bare LF ending the request-line', `GET / HTTP/1.1\n${H}\r\n`, 400],
  ['bare LF head (incomplete forever otherwise)', 'GET / HTTP/1.1\nHost: a\n\n', 400],
  ['bare CR in value', `GET / HTTP/1.1\r\n${H}X-A: 1\r2\r\n\r\n`, 400],
  ['bare CR at line end', `GET / HTTP/1.1\r\n${H}X-A: 1\r\r\n\r\n`, 400],
  ['bare CR in request-line', `GET /\r HTTP/1.1\r\n${H}\r\n`, 400],
  ['NUL in value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400],
  ['DEL in value', `GET / HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`, 400],
  ['VT in value', `GET / HTTP/1.1\r\n${H}X-A: a\x0bb\r\n\r\n`, 400],
  ['invalid name char', `GET / HTTP/1.1\r\n${H}X(A): 1\r\n\r\n`, 400],
  ['non-ASCII name', `GET / HTTP/1.1\r\n${H}X-\xe9: 1\r\n\r\n`, 400],
  ['empty name', `GET / HTTP/1.1\r\n${H}: 1\r\n\r\n`, 400],
  ['field without colon', `GET / HTTP/1.1\r\n${H}X-A\r\n\r\n`, 400],
  ['missing Host on 1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two Host fields', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
  ['Host with a path', 'GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n', 400],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n', 400],
  ['Host with a space', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
  ['two spaces after method', `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
  ['two spaces before version', `GET /  HTTP/1.1\r\n${H}\r\n`, 400],
  ['trailing space after version', `GET / HTTP/1.1 \r\n${H}\r\n`, 400],
  ['missing version', `GET /\r\n${H}\r\n`, 400],
  ['tab as separator', `GET\t/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['invalid method', `G(T / HTTP/1.1\r\n${H}\r\n`, 400],
  ['empty method', ` / HTTP/1.1\r\n${H}\r\n`, 400],
  ['lower-case version', `GET / http/1.1\r\n${H}\r\n`, 400],
  ['version with extra digit', `GET / HTTP/1.10\r\n${H}\r\n`, 400],
  ['version without minor', `GET / HTTP/1\r\n${H}\r\n`, 400],
  ['HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`, 505],
  ['HTTP/2.0', `GET / HTTP/2.0\r\n${H}\r\n`, 505],
  ['HTTP/0.9', `GET / HTTP/0.9\r\n${H}\r\n`, 505],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
  ['relative target', `GET a/b HTTP/1.1\r\n${H}\r\n`, 400],
  ['authority-form without CONNECT', `GET example.com:80 HTTP/1.1\r\n${H}\r\n`, 400],
  ['CONNECT with origin-form', `CONNECT / HTTP/1.1\r\n${H}\r\n`, 400],
  ['CONNECT without port', `CONNECT example.com HTTP/1.1\r\n${H}\r\n`, 400],
  ['asterisk-form without OPTIONS', `GET * HTTP/1.1\r\n${H}\r\n`, 400],
  ['ftp absolute-form', `GET ftp://h/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['absolute-form with userinfo', `GET http://u@h/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['absolute-form with user:pass', `GET http://u:p@h/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['absolute-form with empty authority', `GET http:///p HTTP/1.1\r\n${H}\r\n`, 400],
  ['raw space in target', `GET /a b HTTP/1.1\r\n${H}\r\n`, 400],
  ['CTL in target', `GET /a\x01b HTTP/1.1\r\n${H}\r\n`, 400],
  ['non-ASCII in target', `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`, 400],
  ['fragment in target', `GET /a#b HTTP/1.1\r\n${H}\r\n`, 400],
  ['NUL in target', `GET /\x00 HTTP/1.1\r\n${H}\r\n`, 400],
];

describe('parseRequestHead: smuggling and strictness', () => {
  for (const [name, raw, status] of REJECTED) {
    it(`${name} → ${status}`, () => {
      const result = parseRequestHead(Buffer.from(raw, 'latin1'), 0);
      if (result.kind !== 'error') assert.fail(`accepted: ${JSON.stringify(result)}`);
      assert.equal(result.status, status, result.reason);
      assert.ok(result.reason.length > 0);
    });
  }
});
