// `npm start` as a user meets it: the demo process serves on the documented ports (HTTP 30799, HTTPS
// 31522, admin 10254, raw TCP 30900), every curl line it prints works, and Ctrl-C stops it cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from './support/http.ts';

const REPO = join(import.meta.dirname, '..');

test('npm start: the demo answers every line it prints, over HTTP, HTTPS, raw TCP and the admin port', { timeout: 90_000 }, async () => {
  // What `npm start` runs (package.json "start"), on the Node the tests run on.
  const child = spawn(process.execPath, ['demo/run.ts'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${out}`)), 60_000);
      const poll = setInterval(() => {
        if (!out.includes('Press Ctrl-C to stop.')) return;
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }, 50);
      void exited.then((code) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`the demo exited (${code}) before serving:\n${out}`));
      });
    });
    for (const port of [30799, 31522, 10254, 30900]) assert.ok(out.includes(`:${port}`), `the demo prints a line for port ${port}`);

    const web = await get(30799, 'demo.wharf.local', '/');
    assert.equal(web.status, 200);
    assert.equal(web.headers['x-backend'], 'web');
    const api = [await get(30799, 'demo.wharf.local', '/api/users'), await get(30799, 'demo.wharf.local', '/api/users')];
    assert.deepEqual(api.map((r) => r.headers['x-backend']).sort(), ['api-1', 'api-2']);
    assert.equal((await get(30799, 'nobody.example', '/')).status, 404);
    const redirect = await get(30799, 'shop.wharf.local', '/cart');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, 'https://shop.wharf.local:31522/cart');
    const shop = await get(31522, 'shop.wharf.local', '/cart', { https: true, servername: 'shop.wharf.local' });
    assert.equal(shop.status, 200);
    assert.equal(shop.headers['x-backend'], 'shop');
    // Port 30900 is raw TCP (the tcp-services ConfigMap) to the api pods, round robin per connection.
    const tcp = [await get(30900, 'any.host', '/api/users'), await get(30900, 'any.host', '/api/users')];
    assert.deepEqual(tcp.map((r) => r.headers['x-backend']).sort(), ['api-1', 'api-2']);
    assert.match((await get(10254, 'admin', '/metrics')).body, /wharf_l4_connections_accepted_total\{listener="TCP\/\*:30900"\} 2/);
    assert.equal((await get(10254, 'admin', '/diagnostics')).status, 200);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, `the demo stops cleanly on Ctrl-C:\n${out}`);
});
