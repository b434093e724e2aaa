// Tests for the serve flags: defaults, flag over environment, and one clear error per bad input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVE_FLAGS, envName } from '../src/config/flags.ts';
import { parseServeArgs, serveHelp } from '../src/config/parse.ts';
import { WharfError } from '../src/errors.ts';

test('defaults match the documented interface', () => {
  const { config, help } = parseServeArgs([], {});
  assert.equal(help, false);
  assert.equal(config.ingressClass, 'wharf');
  assert.equal(config.controllerClass, 'wharf.dev/ingress-controller');
  assert.equal(config.httpPort, 30799);
  assert.equal(config.httpsPort, 31522);
  assert.equal(config.adminPort, 10254);
  assert.equal(config.logFormat, 'json');
  assert.equal(config.logLevel, 'info');
});

test('flags beat WHARF_* variables, which beat defaults', () => {
  const env = { WHARF_HTTP_PORT: '8080', WHARF_INGRESS_CLASS: 'from-env', WHARF_PUBLISH_SERVICE: 'ingress/wharf' };
  const { config } = parseServeArgs(['--http-port', '9090', '--log-format=text'], env);
  assert.equal(config.httpPort, 9090);
  assert.equal(config.ingressClass, 'from-env');
  assert.deepEqual(config.publishService, { namespace: 'ingress', name: 'wharf' });
  assert.equal(config.logFormat, 'text');
});

test('every flag has an environment variable named after it', () => {
  assert.equal(envName('default-ssl-certificate'), 'WHARF_DEFAULT_SSL_CERTIFICATE');
  const help = serveHelp();
  for (const f of SERVE_FLAGS) {
    assert.ok(help.includes(`--${f.name}`), `help lists --${f.name}`);
    assert.ok(help.includes(envName(f.name)), `help names ${envName(f.name)}`);
  }
});

test('publish-status-address takes a comma-separated list', () => {
  const { config } = parseServeArgs(['--publish-status-address', '192.0.2.10, lb.example.com'], {});
  assert.deepEqual(config.publishStatusAddress, ['192.0.2.10', 'lb.example.com']);
});

const bad: Array<[string[], Record<string, string>, RegExp]> = [
  [['--nope'], {}, /flag --nope: unknown flag/],
  [['--http-port', '70000'], {}, /flag --http-port: "70000" is not a port/],
  [['--http-port'], {}, /flag --http-port: needs a value/],
  [['--log-format', 'xml'], {}, /"xml" is not one of json, text/],
  [['--publish-service', 'just-a-name'], {}, /not NAMESPACE\/NAME/],
  [[], { WHARF_ADMIN_PORT: 'abc' }, /environment variable WHARF_ADMIN_PORT: "abc" is not a port/],
  [['--bind', 'example.com'], {}, /not an IP address/],
  [['stray'], {}, /argument "stray": unexpected/],
  [['--manifests', 'a', '--kubeconfig', 'b'], {}, /choose one source/],
  [['--http-port', '8000', '--https-port', '8000'], {}, /must differ/],
];

for (const [argv, env, message] of bad) {
  test(`rejects ${JSON.stringify(argv)} ${JSON.stringify(env)}`, () => {
    assert.throws(() => parseServeArgs(argv, env), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_CONFIG' && message.test(err.message));
  });
}

test('the README lists every error code with its meaning', async () => {
  const { readFileSync } = await import('node:fs');
  const { ERROR_CODES } = await import('../src/errors.ts');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const [code, meaning] of Object.entries(ERROR_CODES)) assert.ok(readme.includes(`| \`${code}\` | ${meaning} |`), `README lists ${code}`);
});
