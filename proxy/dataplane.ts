// The dataplane: holds the live routing table, swaps it in one step on apply(), and answers the
// front end's "where does this request go". Backend runtimes (pools, balancer state) survive swaps by key.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { HTTP01_PATH_PREFIX, http01Token, type AcmeChallengeAnswers } from '../src/acme/challenge-book.ts';
import type { Logger } from '../src/log.ts';
import type { WharfMetrics } from '../src/metrics.ts';
import type { Backend, BackendKey, Route, RoutingTable } from '../src/model/table.ts';
import type { ServedCertificate } from '../src/tls/certificates.ts';
import type { Decider, Decision, RequestContext, RespondDecision } from './front/decision.ts';
import { hasDotSegment } from './front/dot-segments.ts';
import { H2Front } from './front/h2-front.ts';
import type { ClientAddress } from './front/client-address.ts';
import { HttpConnection, type ConnectionEvents } from './front/http-connection.ts';
import type { RequestHead } from './http1/types.ts';
import { startListeners, type Listeners, type ProxyProtocolListenOptions } from './listeners.ts';
import { Passthrough } from './passthrough/passthrough.ts';
import { compileRouter, type CompiledRouter } from './router.ts';
import { hostWithoutPort } from './router/host.ts';
import { sourceAllowed } from './source-ranges.ts';
import { CertificateSet } from './tls/certificate-set.ts';
import { recordCertificateExpiry } from './tls/expiry-metric.ts';
import { handshakeErrorReason } from './tls/handshake-errors.ts';
import { BackendRuntime } from './upstream/backend-runtime.ts';
import { H2Upstreams, isH2Protocol } from './upstream/h2/upstreams.ts';
import { L4ListenerSet, type L4SetResult } from './l4/listener-set.ts';
import type { L4Options } from './l4/options.ts';

interface LiveTable {
  table: RoutingTable;
  router: CompiledRouter;
  runtimes: ReadonlyMap<BackendKey, BackendRuntime>;
}

export interface DataplaneOptions {
  log: Logger;
  metrics: WharfMetrics;
  defaultCertificate: ServedCertificate;
  /** Pending ACME challenges: HTTP-01 answered ahead of every route, TLS-ALPN-01 on the HTTPS port. */
  acmeChallenges?: AcmeChallengeAnswers;
  /** L4 timeouts and bounds (tests shorten them); defaults in proxy/l4/options.ts. */
  l4?: Partial<L4Options>;
}

export interface ListenOptions {
  bind: string;
  httpPort: number;
  httpsPort: number;
  /** TLS policy overrides for tests; defaults in proxy/tls/policy.ts. */
  handshakeTimeoutMs?: number;
  ticketKeyRotationMs?: number;
  /** --proxy-protocol: trusted peers start every connection with a PROXY header. */
  proxyProtocol?: Omit<ProxyProtocolListenOptions, 'onHeader'>;
}

export interface ApplyStats {
  backendsAdded: number;
  backendsRemoved: number;
  backendsKept: number;
}

const STATUS_CLASS = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export class Dataplane implements Decider {
  private readonly opts: DataplaneOptions;
  private live: LiveTable;
  /** TCP and UDP listeners of table.l4; they bind once listen() has given the --bind address. */
  readonly l4: L4ListenerSet;
  private l4Bind: string | undefined;
  private l4Result: Promise<L4SetResult> = Promise.resolve({ started: [], kept: [], stopped: [], failed: [] });
  private certs: CertificateSet;
  private listeners: Listeners | undefined;
  private readonly connections = new Set<Socket>();
  private readonly events: ConnectionEvents;
  /** HTTP/2 sessions to the endpoints of GRPC, GRPCS and H2C backends. */
  private readonly h2 = new H2Upstreams();
  /** HTTP/2 to clients: HTTPS connections that negotiated ALPN h2. */
  private readonly h2front: H2Front;
  /** TLS passthrough hosts of the live table, relayed as raw TCP from the HTTPS port by the L4 relay. */
  private readonly passthrough: Passthrough;

  constructor(opts: DataplaneOptions) {
    this.opts = opts;
    const empty: RoutingTable = { hosts: [], backends: {} };
    this.live = { table: empty, router: compileRouter(empty), runtimes: new Map() };
    this.certs = new CertificateSet([], opts.defaultCertificate);
    // Backends are read at each new connection, so the endpoint short path reaches L4 too.
    this.l4 = new L4ListenerSet({ log: opts.log, metrics: opts.metrics.l4, backendOf: (key) => this.live.table.backends[key], options: opts.l4 });
    recordCertificateExpiry(opts.metrics.certificateExpiry, [], opts.defaultCertificate);
    const { requests, upstreamErrors } = opts.metrics;
    // Children bound once: a labelled inc() per request would hash its labels every time.
    const byClass = STATUS_CLASS.map((c) => requests.labels(c));
    const fallback = requests.labels('5xx');
    this.events = {
      response: (status) => (byClass[(status / 100) | 0] ?? fallback).inc(),
      upstreamError: (reason) => upstreamErrors.inc({ reason }),
    };
    this.h2front = new H2Front({ decider: this, events: this.events, idleTimeoutMs: 60_000, maxConnectAttempts: 3 });
    this.passthrough = new Passthrough({ relay: (client, route, first) => this.l4.relay(client, route, first), onResult: (result) => opts.metrics.passthroughConnections.inc({ result }) });
  }

  /** Builds the new table aside and swaps it in; requests already routed finish on what they hold. */
  apply(table: RoutingTable, certificates: readonly ServedCertificate[], defaultCertificate?: ServedCertificate): ApplyStats {
    const router = compileRouter(table);
    this.routerBuilds++;
    const certs = new CertificateSet(certificates, defaultCertificate ?? this.opts.defaultCertificate);
    const old = this.live.runtimes;
    const runtimes = new Map<BackendKey, BackendRuntime>();
    let added = 0;
    let kept = 0;
    for (const [key, backend] of Object.entries(table.backends)) {
      const existing = old.get(key);
      if (existing) {
        existing.setEndpoints(backend);
        runtimes.set(key, existing);
        kept++;
      } else {
        runtimes.set(key, new BackendRuntime(backend));
        added++;
      }
    }
    let removed = 0;
    for (const [key, runtime] of old) {
      if (!runtimes.has(key)) {
        runtime.close();
        removed++;
      }
    }
    this.live = { table, router, runtimes };
    this.passthrough.setHosts(table.passthrough);
    this.certs = certs;
    recordCertificateExpiry(this.opts.metrics.certificateExpiry, certificates, certs.defaultCertificate);
    this.applyL4();
    return { backendsAdded: added, backendsRemoved: removed, backendsKept: kept };
  }

  private applyL4(): void {
    if (this.l4Bind !== undefined) this.l4Result = this.l4.set(this.live.table.l4 ?? [], this.l4Bind);
  }

  /** What the latest L4 change did; `failed` lists listeners that could not bind (to report as diagnostics). */
  l4Applied(): Promise<L4SetResult> {
    return this.l4Result;
  }

  /**
   * The endpoint short path: new versions of some backends (same keys) update their pools in place;
   * the router is not rebuilt. Keys not in the live table are ignored (a full apply will bring them).
   */
  updateBackends(backends: Readonly<Record<BackendKey, Backend>>): number {
    const live = this.live;
    const merged = { ...live.table.backends };
    let updated = 0;
    for (const [key, backend] of Object.entries(backends)) {
      const runtime = live.runtimes.get(key);
      if (runtime === undefined) continue;
      runtime.setEndpoints(backend);
      merged[key] = backend;
      updated++;
    }
    this.live = { table: { ...live.table, backends: merged }, router: live.router, runtimes: live.runtimes };
    return updated;
  }

  /** How many times a router was compiled: full applies only, never the endpoint short path. */
  routerBuilds = 0;

  /** HTTP/2 sessions open now with clients (HTTPS connections that chose h2). */
  clientH2Sessions(): number {
    return this.h2front.sessionCount();
  }

  /** HTTP/2 sessions open to backends now (GRPC, GRPCS, H2C). */
  h2Sessions(): number {
    return this.h2.openSessions();
  }

  table(): RoutingTable {
    return this.live.table;
  }

  async listen(opts: ListenOptions): Promise<{ httpPort: number; httpsPort: number }> {
    this.listeners = await startListeners({
      ...opts,
      certificates: () => this.certs,
      onConnection: (socket, secure, client) => this.accept(socket, secure, client),
      onTlsError: (err) => {
        const reason = handshakeErrorReason(err);
        this.opts.metrics.tlsHandshakeErrors.inc({ reason });
        this.opts.log.debug('tls handshake failed', { reason, err });
      },
      acmeChallenges: this.opts.acmeChallenges,
      proxyProtocol: opts.proxyProtocol && { ...opts.proxyProtocol, onHeader: (listener, result) => this.opts.metrics.proxyProtocolHeaders.inc({ listener, result }) },
      passthrough: this.passthrough,
    });
    this.httpsPort = this.listeners.httpsPort;
    this.l4Bind = opts.bind;
    this.applyL4();
    return { httpPort: this.listeners.httpPort, httpsPort: this.listeners.httpsPort };
  }

  private httpsPort = 443;
  private currentHeaders: readonly string[] = [];
  private readonly headerLookup = (name: string): string | undefined => headerValue(this.currentHeaders, name);

  /** Stops accepting, then gives open connections up to `graceMs` to finish before cutting them. */
  async close(graceMs: number): Promise<void> {
    this.l4Bind = undefined;
    const l4Closing = this.l4.close(graceMs);
    const closing = this.listeners?.close();
    this.h2front.shutdown();
    const deadline = Date.now() + graceMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.connections) s.destroy();
    await closing;
    for (const runtime of this.live.runtimes.values()) runtime.close();
    this.h2.close();
    await l4Closing;
  }

  private accept(socket: Socket, secure: boolean, clientAddress?: ClientAddress): void {
    const gauge = this.opts.metrics.openConnections;
    const listener = secure ? 'https' : 'http';
    this.connections.add(socket);
    gauge.inc({ listener });
    socket.once('close', () => {
      this.connections.delete(socket);
      gauge.dec({ listener });
    });
    if (secure && (socket as TLSSocket).alpnProtocol === 'h2') {
      this.h2front.accept(socket as TLSSocket, clientAddress);
      return;
    }
    new HttpConnection(socket, {
      decider: this,
      secure,
      events: this.events,
      keepAliveTimeoutMs: 60_000,
      maxConnectAttempts: 3,
      clientAddress,
    });
  }

  decide(head: RequestHead, ctx: RequestContext): Decision {
    // ACME HTTP-01 before routes, redirects and source ranges: those must never block validation.
    if (this.opts.acmeChallenges !== undefined && head.path.startsWith(HTTP01_PATH_PREFIX)) {
      const answer = acmeHttp01(this.opts.acmeChallenges, head.path);
      if (answer !== undefined) return answer;
    }
    if (hasDotSegment(head.path)) return { kind: 'respond', status: 400, reason: 'Bad Request', body: 'the path has a "." or ".." segment; send the resolved path\n' };
    const live = this.live;
    // One lookup function for all requests: match() is synchronous, so the current head is safe to share.
    this.currentHeaders = head.headers;
    const m = live.router.match(head.host, head.path, this.headerLookup, Math.random() * 100);
    const backendKey = m.backend;
    const route: Route | undefined = m.route;
    // HSTS: HTTPS answers only, on hosts with TLS; every answer of the route carries it, local ones too.
    const sts = ctx.secure && route?.options.hsts !== undefined && (m.vhost?.tlsSecret !== undefined || this.certs.hasCertificate(head.host)) ? route : undefined;
    if (route !== undefined) {
      const o = route.options;
      if (!sourceAllowed(route, ctx.clientAddress)) return withHsts(sts, { kind: 'respond', status: 403, reason: 'Forbidden', body: 'your address is not allowed on this route\n' });
      // TLS is a property of the request's host (even when its routes fell back to the `*` rules).
      if (!ctx.secure && (o.forceSslRedirect || (o.sslRedirect && (m.vhost?.tlsSecret !== undefined || this.certs.hasCertificate(head.host))))) {
        const port = this.httpsPort === 443 ? '' : `:${this.httpsPort}`;
        // The host lower-cased as nginx's $host; path and query exactly as sent.
        return redirect(308, 'Permanent Redirect', `https://${hostWithoutPort(head.host).toLowerCase()}${port}${head.path}${head.query}`);
      }
      if (o.permanentRedirect) return withHsts(sts, redirect(301, 'Moved Permanently', o.permanentRedirect));
      if (o.temporalRedirect) return withHsts(sts, redirect(302, 'Found', o.temporalRedirect));
      if (o.appRoot && head.path === '/') return withHsts(sts, redirect(302, 'Found', o.appRoot));
    }
    if (backendKey === undefined) return { kind: 'respond', status: 404, reason: 'Not Found', body: 'no Ingress rule matches this host and path\n' };
    const runtime = live.runtimes.get(backendKey);
    if (runtime === undefined) return withHsts(sts, { kind: 'respond', status: 503, reason: 'Service Unavailable', body: `backend ${backendKey} is not known\n` });
    if (runtime.readyCount() === 0) {
      const why = runtime.backend.unavailable === 'serviceMissing' ? 'the Service does not exist' : runtime.backend.unavailable === 'portMissing' ? 'the Service has no such port' : 'the Service has no ready endpoint';
      return withHsts(sts, { kind: 'respond', status: 503, reason: 'Service Unavailable', body: `${runtime.backend.service.namespace}/${runtime.backend.service.name}: ${why}\n` });
    }
    const protocol = runtime.backend.protocol;
    const h2 = isH2Protocol(protocol);
    if (h2 && head.upgrade !== undefined && head.upgrade.toLowerCase() !== 'h2c') {
      // A WebSocket over HTTP/2 needs extended CONNECT (RFC 8441), which wharf does not speak to backends.
      // (An `Upgrade: h2c` offer is simply not taken: the request is served as HTTP/1.1.)
      return withHsts(sts, { kind: 'respond', status: 501, reason: 'Not Implemented', body: `backend-protocol ${protocol} speaks HTTP/2 to the backend; wharf does not carry an HTTP/1.1 Upgrade (${head.upgrade}) over HTTP/2; use backend-protocol HTTP or HTTPS for this route\n` });
    }
    const o = route?.options;
    return {
      kind: 'proxy',
      runtime,
      connectTimeoutMs: o?.timeouts.connectMs ?? 5_000,
      readTimeoutMs: o?.timeouts.readMs ?? 60_000,
      sendTimeoutMs: o?.timeouts.sendMs ?? 60_000,
      maxBodyBytes: o?.maxBodyBytes ?? 0,
      target: m.rewrittenPath !== undefined ? m.rewrittenPath + head.query : undefined,
      responseHeaders: sts === undefined ? o?.customHeaders : secureResponseHeaders(sts),
      // Only hash and affinity policies read the request again; round robin pays one undefined check.
      pickContext: runtime.pickContextOf === undefined ? undefined : runtime.pickContextOf(head, ctx.clientAddress),
      h2: h2 ? this.h2 : undefined,
    };
  }
}

function acmeHttp01(challenges: AcmeChallengeAnswers, path: string): Decision | undefined {
  const token = http01Token(path);
  const keyAuthorization = token === undefined ? undefined : challenges.http01(token);
  return keyAuthorization === undefined ? undefined : { kind: 'respond', status: 200, reason: 'OK', body: keyAuthorization };
}

const STS = 'Strict-Transport-Security';
// Per route, built on first use: routes are immutable, and a table swap brings new ones.
const secureHeaders = new WeakMap<Route, Readonly<Record<string, string>>>();

/** The route's custom headers plus HSTS; an STS header the user set in custom-headers wins. */
function secureResponseHeaders(route: Route): Readonly<Record<string, string>> {
  let headers = secureHeaders.get(route);
  if (headers === undefined) {
    const custom = route.options.customHeaders ?? {};
    headers = userSts(route) !== undefined ? custom : { ...custom, [STS]: route.options.hsts as string };
    secureHeaders.set(route, headers);
  }
  return headers;
}

function userSts(route: Route): string | undefined {
  for (const [name, value] of Object.entries(route.options.customHeaders ?? {})) if (name.toLowerCase() === 'strict-transport-security') return value;
  return undefined;
}

function withHsts(route: Route | undefined, d: RespondDecision): RespondDecision {
  if (route === undefined) return d;
  return { ...d, headers: [...(d.headers ?? []), [STS, userSts(route) ?? (route.options.hsts as string)]] };
}

function redirect(status: number, reason: string, location: string): RespondDecision {
  return { kind: 'respond', status, reason, body: `redirecting to ${location}\n`, headers: [['Location', location]] };
}

/** First value of a header by lower-case name, from the flat [name, value, …] list. */
function headerValue(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

