/*
 * Full-handshake load generator: keeps N connections busy, each one TCP connect + a full TLS handshake
 * (a fresh SSL object, no session cache, so nothing resumes) + one GET with Connection: close; once the
 * server has closed (as HTTP/1.1 says it must), a new connection. Closed loop, one thread, epoll.
 * Prints one JSON line.
 * Built by bench/tls.ts with: cc -O2 -o handshake-client handshake-client.c -lssl -lcrypto
 * Usage: handshake-client <ip> <port> <sni> <host header> <path> <1.2|1.3> <connections> <seconds>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_SAMPLES 4000000
#define BUF 16384
#define TIMEOUT_S 10.0

enum state { IDLE, CONNECTING, HANDSHAKE, WRITING, READING, DRAINING };

struct conn {
  int fd;
  SSL *ssl;
  enum state st;
  double started;
  size_t got;
  size_t sent;
  char buf[BUF];
};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static const char *sni;
static char request[1024];
static size_t request_len;
static int ep;
static double *samples;
static long completed, errors, samples_n;
static char first_error[200];
static char protocol[32], cipher[64], group_note[64];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note_error(const char *what) {
  errors++;
  if (first_error[0] == 0) {
    unsigned long e = ERR_peek_error();
    if (e != 0) snprintf(first_error, sizeof first_error, "%s: %s", what, ERR_reason_error_string(e));
    else snprintf(first_error, sizeof first_error, "%s: %s", what, errno ? strerror(errno) : "closed");
  }
  ERR_clear_error();
}

/* Normal close after the server's: TIME_WAIT stays with the server, so the client's ports do not run out.
 * `abort` (errors, timeouts) resets instead. */
static void close_conn_how(struct conn *c, int abort) {
  if (c->ssl) SSL_free(c->ssl);
  c->ssl = NULL;
  if (c->fd >= 0) {
    if (abort) {
      struct linger lg = {1, 0};
      setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd);
  }
  c->fd = -1;
  c->st = IDLE;
}

static void close_conn(struct conn *c) { close_conn_how(c, 1); }

static void watch(struct conn *c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, op, c->fd, &ev);
}

static void start(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->started = now();
  c->got = c->sent = 0;
  c->st = CONNECTING;
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    note_error("connect");
    close_conn(c);
    return;
  }
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* True when buf holds a whole response: the head and Content-Length bytes of body. */
static int response_complete(struct conn *c) {
  c->buf[c->got < BUF ? c->got : BUF - 1] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end) return 0;
  char *cl = strcasestr(c->buf, "\r\ncontent-length:");
  if (!cl || cl > end) return 0;
  long len = strtol(cl + 17, NULL, 10);
  return (long)c->got >= (end + 4 - c->buf) + len;
}

static void step(struct conn *c) {
  for (;;) {
    if (c->st == CONNECTING) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        note_error("connect");
        close_conn(c);
        return;
      }
      c->ssl = SSL_new(ctx);
      SSL_set_fd(c->ssl, c->fd);
      SSL_set_tlsext_host_name(c->ssl, sni);
      c->st = HANDSHAKE;
    }
    if (c->st == HANDSHAKE) {
      int r = SSL_connect(c->ssl);
      if (r != 1) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLLIN, EPOLL_CTL_MOD);
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLLOUT, EPOLL_CTL_MOD);
        note_error("handshake");
        close_conn(c);
        return;
      }
      if (protocol[0] == 0) {
        snprintf(protocol, sizeof protocol, "%s", SSL_get_version(c->ssl));
        snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(c->ssl));
        EVP_PKEY *peer = NULL;
        if (SSL_get_peer_tmp_key(c->ssl, &peer) == 1) {
          snprintf(group_note, sizeof group_note, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(peer)) ? OBJ_nid2sn(EVP_PKEY_get_base_id(peer)) : "?");
          EVP_PKEY_free(peer);
        }
      }
      if (SSL_session_reused(c->ssl)) {
        note_error("session was resumed");
      }
      c->st = WRITING;
    }
    if (c->st == WRITING) {
      int r = SSL_write(c->ssl, request + c->sent, (int)(request_len - c->sent));
      if (r <= 0) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLLIN, EPOLL_CTL_MOD);
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLLOUT, EPOLL_CTL_MOD);
        note_error("write");
        close_conn(c);
        return;
      }
      c->sent += (size_t)r;
      if (c->sent < request_len) continue;
      c->st = READING;
    }
    if (c->st == READING) {
      int r = SSL_read(c->ssl, c->buf + c->got, (int)(BUF - 1 - c->got));
      if (r <= 0) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLLIN, EPOLL_CTL_MOD);
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLLOUT, EPOLL_CTL_MOD);
        note_error("read before a whole response");
        close_conn(c);
        return;
      }
      c->got += (size_t)r;
      if (c->got >= BUF - 1 || response_complete(c)) {
        if (strncmp(c->buf, "HTTP/1.1 200", 12) == 0) {
          completed++;
          if (samples_n < MAX_SAMPLES) samples[samples_n++] = now() - c->started;
          c->st = DRAINING;
          continue;
        }
        note_error("status not 200");
        close_conn(c);
        return;
      }
    }
    if (c->st == DRAINING) {
      /* The server's close_notify and FIN; anything else is discarded. */
      char sink[512];
      int r = SSL_read(c->ssl, sink, sizeof sink);
      if (r > 0) continue;
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLLIN, EPOLL_CTL_MOD);
      if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLLOUT, EPOLL_CTL_MOD);
      ERR_clear_error();
      close_conn_how(c, 0);
      return;
    }
  }
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s ip port sni host path 1.2|1.3 connections seconds\n", argv[0]);
    return 2;
  }
  sni = argv[3];
  int version = strcmp(argv[6], "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
  int nconns = atoi(argv[7]);
  double seconds = atof(argv[8]);
  if (nconns < 1 || nconns > MAX_CONNS || seconds <= 0) return 2;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)atoi(argv[2]));
  inet_pton(AF_INET, argv[1], &addr.sin_addr);
  request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", argv[5], argv[4]);

  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  /* No client session cache and a fresh SSL per connection: every handshake is a full one. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  samples = malloc(sizeof(double) * MAX_SAMPLES);
  ep = epoll_create1(0);

  struct conn *conns = calloc((size_t)nconns, sizeof(struct conn));
  double t0 = now();
  double deadline = t0 + seconds;
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = -1;
    start(&conns[i]);
  }
  struct epoll_event events[256];
  while (now() < deadline) {
    int n = epoll_wait(ep, events, 256, 50);
    for (int i = 0; i < n; i++) step((struct conn *)events[i].data.ptr);
    double t = now();
    for (int i = 0; i < nconns; i++) {
      struct conn *c = &conns[i];
      if (c->st != IDLE && t - c->started > TIMEOUT_S) {
        errno = ETIMEDOUT;
        note_error(c->st == DRAINING ? "server did not close" : "timeout");
        close_conn(c);
      }
      if (c->st == IDLE && t < deadline) start(c);
    }
  }
  double elapsed = now() - t0;
  for (int i = 0; i < nconns; i++)
    if (conns[i].st != IDLE) close_conn(&conns[i]);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  qsort(samples, (size_t)samples_n, sizeof(double), cmp);
  double p50 = samples_n ? samples[samples_n / 2] * 1000 : -1;
  double p99 = samples_n ? samples[(long)(samples_n * 0.99)] * 1000 : -1;
  for (char *p = first_error; *p; p++)
    if (*p == '"' || *p == '\\') *p = '\'';
  printf("{\"completed\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"clientCpuSeconds\":%.3f,\"protocol\":\"%s\",\"cipher\":\"%s\",\"keyExchange\":\"%s\",\"firstError\":\"%s\"}\n",
         completed, errors, elapsed, p50, p99, cpu, protocol, cipher, group_note, first_error);
  return 0;
}
