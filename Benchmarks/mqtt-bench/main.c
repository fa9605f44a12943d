// mqtt-bench: an MQTT 3.1.1 load generator that should never be the bottleneck.
//
// Connections are spread over a few threads, each with its own epoll loop. Publishers write
// pre-encoded PUBLISH packets in batches (one write() per batch), subscribers parse in place
// and batch their acknowledgements. Payloads carry the send time (CLOCK_MONOTONIC, ns) in their
// first 8 bytes so subscribers can record end-to-end latency in an HDR-style histogram.
//
//   mqtt-bench --scenario fanin|fanout|p2p|wildcard|connect|idle|storm [options]   (see --help)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "histogram.h"

enum role { ROLE_PUB, ROLE_SUB, ROLE_IDLE, ROLE_CONNECT };
enum state { ST_CONNACK, ST_SUBACK, ST_RUNNING, ST_CLOSED };

struct options {
    const char *host;
    const char *source; // local IPv4 address the clients connect from (NULL: the kernel's choice)
    int port;
    int sub_port; // --sub-port: subscribers connect here (another cluster node); 0: --port
    const char *scenario;
    int publishers, subscribers, connections, qos, payload, threads, window, json, smoke, tls;
    // --mqtt5: protocol level 5; --properties: each publish carries a user property and a
    // content type; --aliases: publishers send the topic once, then its alias, and subscribers
    // allow the broker 10 aliases of its own.
    int mqtt5, properties, aliases;
    // --username/--password: every connection logs in as this user (NULL: anonymous).
    const char *username, *password;
    double duration, rate; // rate: messages/s per publisher, 0 = as fast as possible
};

struct buffer {
    uint8_t *data;
    size_t len, off, cap;
};

struct conn {
    int fd;
    enum role role;
    enum state state;
    int writable;
    char client_id[64];
    char topic[96];
    char filter[96];
    struct buffer in, out;
    uint16_t next_id;
    int outstanding;
    uint64_t delivered; // what this subscriber received of the messages published while measuring
    uint64_t next_send_ns;
    struct worker *worker;
    SSL *ssl;          // --tls: the connection's TLS state (handshaking until `handshaking` is 0)
    int alias_defined; // --aliases: the topic's alias was sent on this connection
    int handshaking;
};

struct worker {
    int epoll;
    pthread_t thread;
    struct conn **conns;
    int count, cap;
    uint64_t sent, delivered, connects, errors;
    struct histogram latency;
    int index;
};

static struct options opt = {
    .host = "127.0.0.1", .port = 1883, .scenario = "fanin", .publishers = 4, .subscribers = 1,
    .connections = 1000, .qos = 0, .payload = 16, .threads = 2, .window = 64, .duration = 10,
};
static atomic_int phase; // 0 setup, 1 measuring, 2 draining (publishers stopped), 3 stop
static SSL_CTX *tls_context; // --tls: no certificate verification, this measures the broker
static atomic_int ready_count;
static uint64_t measure_start_ns, measure_end_ns;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

// ---- buffers and encoding

static void buf_reserve(struct buffer *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap) return;
    }
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + extra) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) die("realloc");
    b->cap = cap;
}

static size_t varint(uint8_t *p, size_t value) {
    size_t n = 0;
    do {
        uint8_t byte = value % 128;
        value /= 128;
        if (value) byte |= 0x80;
        p[n++] = byte;
    } while (value);
    return n;
}

static void put_str(struct buffer *b, const char *s) {
    size_t len = strlen(s);
    b->data[b->len++] = (uint8_t)(len >> 8);
    b->data[b->len++] = (uint8_t)len;
    memcpy(b->data + b->len, s, len);
    b->len += len;
}

// MQTT 5 CONNECT properties: Topic Alias Maximum 10 with --aliases, none otherwise.
static const uint8_t connect_aliases[] = {0x22, 0, 10};
// MQTT 5 PUBLISH properties with --properties: content type and one user property.
static const uint8_t publish_properties[] = {0x03, 0, 10, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n',
                                             0x26, 0, 4, 'u', 'n', 'i', 't', 0, 1, 'C'};

static void enc_connect(struct buffer *b, const char *client_id) {
    size_t props = opt.aliases ? sizeof connect_aliases : 0;
    size_t credentials = opt.username ? 2 + strlen(opt.username) + (opt.password ? 2 + strlen(opt.password) : 0) : 0;
    size_t remaining = 10 + 2 + strlen(client_id) + (opt.mqtt5 ? 1 + props : 0) + credentials;
    buf_reserve(b, remaining + 5);
    b->data[b->len++] = 0x10;
    b->len += varint(b->data + b->len, remaining);
    put_str(b, "MQTT");
    b->data[b->len++] = opt.mqtt5 ? 5 : 4;
    // clean session / clean start, and the user name and password flags
    b->data[b->len++] = 0x02 | (opt.username ? 0x80 : 0) | (opt.username && opt.password ? 0x40 : 0);
    b->data[b->len++] = 0;
    b->data[b->len++] = 60;   // keepalive
    if (opt.mqtt5) {
        b->data[b->len++] = (uint8_t)props;
        memcpy(b->data + b->len, connect_aliases, props);
        b->len += props;
    }
    put_str(b, client_id);
    if (opt.username) {
        put_str(b, opt.username);
        if (opt.password) put_str(b, opt.password);
    }
}

static void enc_subscribe(struct buffer *b, const char *filter, int qos) {
    size_t remaining = 2 + 2 + strlen(filter) + 1 + (opt.mqtt5 ? 1 : 0);
    buf_reserve(b, remaining + 5);
    b->data[b->len++] = 0x82;
    b->len += varint(b->data + b->len, remaining);
    b->data[b->len++] = 0;
    b->data[b->len++] = 1;
    if (opt.mqtt5) b->data[b->len++] = 0; // no properties
    put_str(b, filter);
    b->data[b->len++] = (uint8_t)qos;
}

static void enc_ack(struct buffer *b, uint8_t first, uint16_t id) {
    buf_reserve(b, 4);
    b->data[b->len++] = first;
    b->data[b->len++] = 2;
    b->data[b->len++] = (uint8_t)(id >> 8);
    b->data[b->len++] = (uint8_t)id;
}

static void enc_publish(struct buffer *b, const char *topic, int qos, uint16_t id, uint64_t stamp, int *alias_defined) {
    // --aliases: the first PUBLISH names the topic and alias 1, the later ones only the alias.
    int alias = opt.mqtt5 && opt.aliases;
    const char *sent_topic = alias && *alias_defined ? "" : topic;
    size_t topic_len = strlen(sent_topic);
    size_t props = opt.mqtt5 ? (opt.properties ? sizeof publish_properties : 0) + (alias ? 3 : 0) : 0;
    size_t remaining = 2 + topic_len + (qos ? 2 : 0) + (opt.mqtt5 ? 1 + props : 0) + (size_t)opt.payload;
    buf_reserve(b, remaining + 5);
    b->data[b->len++] = (uint8_t)(0x30 | (qos << 1));
    b->len += varint(b->data + b->len, remaining);
    put_str(b, sent_topic);
    if (qos) {
        b->data[b->len++] = (uint8_t)(id >> 8);
        b->data[b->len++] = (uint8_t)id;
    }
    if (opt.mqtt5) {
        b->data[b->len++] = (uint8_t)props;
        if (alias) {
            b->data[b->len++] = 0x23;
            b->data[b->len++] = 0;
            b->data[b->len++] = 1;
            *alias_defined = 1;
        }
        if (opt.properties) {
            memcpy(b->data + b->len, publish_properties, sizeof publish_properties);
            b->len += sizeof publish_properties;
        }
    }
    uint8_t *payload = b->data + b->len;
    memset(payload, 'x', (size_t)opt.payload);
    if (opt.payload >= 8) memcpy(payload, &stamp, 8);
    b->len += (size_t)opt.payload;
}

// ---- connections

static int open_socket(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "mqtt-bench: --host must be an IPv4 address\n");
        exit(2);
    }
    if (opt.source) {
        struct sockaddr_in local = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, opt.source, &local.sin_addr) != 1) {
            fprintf(stderr, "mqtt-bench: --source must be an IPv4 address\n");
            exit(2);
        }
        // A port chosen by bind() is one that tests and brokers pick for listeners too; with
        // SO_REUSEADDR its TIME_WAIT after the run does not keep them from binding it.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) die("connect");
    return fd;
}

static void conn_start(struct conn *c) {
    c->fd = open_socket(c->role == ROLE_SUB && opt.sub_port ? opt.sub_port : opt.port);
    c->state = ST_CONNACK;
    c->writable = 0;
    c->in.len = c->in.off = 0;
    c->out.len = c->out.off = 0;
    c->outstanding = 0;
    c->alias_defined = 0;
    enc_connect(&c->out, c->client_id);
    if (tls_context) {
        c->ssl = SSL_new(tls_context);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_connect_state(c->ssl);
        SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        c->handshaking = 1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(c->worker->epoll, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
}

static void conn_close(struct conn *c) {
    if (c->state == ST_CLOSED) return;
    epoll_ctl(c->worker->epoll, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->state = ST_CLOSED;
}

// Reads or writes through TLS when --tls is on; returns like read()/write(), with errno EAGAIN
// when TLS needs the socket to become readable or writable first.
static ssize_t conn_io(struct conn *c, int writing, void *data, size_t len) {
    if (!c->ssl) return writing ? write(c->fd, data, len) : read(c->fd, data, len);
    int n = writing ? SSL_write(c->ssl, data, (int)len) : SSL_read(c->ssl, data, (int)len);
    if (n > 0) return n;
    int error = SSL_get_error(c->ssl, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (error == SSL_ERROR_ZERO_RETURN) return 0;
    errno = EPROTO;
    return -1;
}

// One step of the TLS handshake; returns 1 once it is complete.
static int tls_handshake(struct conn *c) {
    int n = SSL_do_handshake(c->ssl);
    if (n == 1) {
        c->handshaking = 0;
        c->writable = 1;
        return 1;
    }
    int error = SSL_get_error(c->ssl, n);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        fprintf(stderr, "mqtt-bench: TLS handshake failed: %s\n", ERR_reason_error_string(ERR_get_error()));
        exit(2);
    }
    return 0;
}

static void conn_flush(struct conn *c) {
    if (c->handshaking) return;
    while (c->writable && c->out.off < c->out.len) {
        ssize_t n = conn_io(c, 1, c->out.data + c->out.off, c->out.len - c->out.off);
        if (n > 0) {
            c->out.off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->writable = 0;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            c->worker->errors++;
            conn_close(c);
            return;
        }
    }
    if (c->out.off == c->out.len) c->out.off = c->out.len = 0;
}

static void became_ready(struct conn *c) {
    c->state = ST_RUNNING;
    atomic_fetch_add(&ready_count, 1);
}

static void handle_packet(struct conn *c, uint8_t first, const uint8_t *body, size_t len) {
    struct worker *w = c->worker;
    switch (first >> 4) {
    case 2: // CONNACK
        if (len < 2 || body[1] != 0) {
            fprintf(stderr, "mqtt-bench: connection refused (code %d)\n", len >= 2 ? body[1] : -1);
            exit(2);
        }
        if (c->role == ROLE_CONNECT) {
            // Counted, closed, and opened again by the worker loop on its next turn.
            if (atomic_load(&phase) == 1) w->connects++;
            conn_close(c);
            return;
        }
        if (c->role == ROLE_SUB) {
            enc_subscribe(&c->out, c->filter, opt.qos);
            c->state = ST_SUBACK;
        } else {
            became_ready(c);
        }
        break;
    case 9: // SUBACK (MQTT 5: properties before the reason code; ours and Mosquitto's send none)
        if (len < 3 || body[opt.mqtt5 && len >= 4 ? 3 : 2] >= 0x80) {
            fprintf(stderr, "mqtt-bench: subscription refused\n");
            exit(2);
        }
        became_ready(c);
        break;
    case 3: { // PUBLISH
        int qos = (first >> 1) & 3;
        if (len < 2) break;
        size_t topic_len = ((size_t)body[0] << 8) | body[1];
        size_t at = 2 + topic_len;
        uint16_t id = 0;
        if (qos) {
            id = (uint16_t)((body[at] << 8) | body[at + 1]);
            at += 2;
        }
        if (opt.mqtt5 && at < len) { // skip the properties: their length, then the bytes
            size_t props = 0, mult = 1;
            while (at < len) {
                uint8_t byte = body[at++];
                props += (size_t)(byte & 127) * mult;
                mult *= 128;
                if (!(byte & 128)) break;
            }
            at += props;
            if (at > len) at = len;
        }
        // What each member got of the messages published while measuring, drain included.
        if (atomic_load(&phase) >= 1) c->delivered++;
        if (atomic_load(&phase) == 1) {
            w->delivered++;
            if (len - at >= 8 && opt.payload >= 8) {
                uint64_t stamp;
                memcpy(&stamp, body + at, 8);
                uint64_t now = now_ns();
                if (now > stamp) histogram_record(&w->latency, (now - stamp) / 1000);
            }
        }
        if (qos == 1) enc_ack(&c->out, 0x40, id);
        if (qos == 2) enc_ack(&c->out, 0x50, id);
        break;
    }
    case 4: // PUBACK
    case 7: // PUBCOMP
        if (c->outstanding > 0) c->outstanding--;
        break;
    case 5: // PUBREC
        if (len >= 2) enc_ack(&c->out, 0x62, (uint16_t)((body[0] << 8) | body[1]));
        break;
    case 6: // PUBREL
        if (len >= 2) enc_ack(&c->out, 0x70, (uint16_t)((body[0] << 8) | body[1]));
        break;
    default:
        break;
    }
}

static void conn_read(struct conn *c) {
    for (;;) {
        buf_reserve(&c->in, 65536);
        ssize_t n = conn_io(c, 0, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n > 0) {
            c->in.len += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (atomic_load(&phase) < 2 && c->role != ROLE_CONNECT) {
                fprintf(stderr, "mqtt-bench: the broker closed a connection (%s)\n", n == 0 ? "EOF" : strerror(errno));
                c->worker->errors++;
            }
            conn_close(c);
            return;
        }
        // Parse every complete packet in place.
        for (;;) {
            size_t avail = c->in.len - c->in.off;
            const uint8_t *p = c->in.data + c->in.off;
            if (avail < 2) break;
            size_t remaining = 0, mult = 1, i = 1;
            int complete = 0;
            for (; i < avail && i <= 4; i++) {
                remaining += (p[i] & 127) * mult;
                mult *= 128;
                if (!(p[i] & 128)) { complete = 1; break; }
            }
            if (!complete) break;
            size_t header = i + 1;
            if (avail < header + remaining) break;
            handle_packet(c, p[0], p + header, remaining);
            if (c->state == ST_CLOSED) return;
            c->in.off += header + remaining;
        }
        if (c->in.off == c->in.len) c->in.off = c->in.len = 0;
    }
}

// ---- publishing

static void publish_some(struct conn *c, uint64_t now) {
    if (c->role != ROLE_PUB || c->state != ST_RUNNING || atomic_load(&phase) != 1) return;
    int batch = 0;
    while (batch < 64 && c->out.len - c->out.off < 256 * 1024) {
        if (opt.qos > 0 && c->outstanding >= opt.window) break;
        if (opt.rate > 0) {
            if (now < c->next_send_ns) break;
            c->next_send_ns += (uint64_t)(1e9 / opt.rate);
        }
        uint16_t id = 0;
        if (opt.qos > 0) {
            c->next_id = c->next_id == 65535 ? 1 : c->next_id + 1;
            id = c->next_id;
            c->outstanding++;
        }
        enc_publish(&c->out, c->topic, opt.qos, id, now_ns(), &c->alias_defined);
        c->worker->sent++;
        batch++;
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct epoll_event events[256];
    while (atomic_load(&phase) < 3) {
        int busy = atomic_load(&phase) == 1 && opt.rate == 0;
        int n = epoll_wait(w->epoll, events, 256, busy ? 0 : 1);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->state == ST_CLOSED) continue;
            if (events[i].events & EPOLLOUT) c->writable = 1;
            if (c->handshaking && !tls_handshake(c)) continue;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) conn_read(c);
        }
        uint64_t now = now_ns();
        for (int i = 0; i < w->count; i++) {
            struct conn *c = w->conns[i];
            if (c->state == ST_CLOSED) {
                if (c->role == ROLE_CONNECT && atomic_load(&phase) == 1) conn_start(c);
                continue;
            }
            publish_some(c, now);
            if (c->out.len > c->out.off) conn_flush(c);
        }
    }
    return NULL;
}

// ---- set-up

static struct worker *workers;
static int total_conns;

static struct conn *add_conn(enum role role, const char *topic, const char *filter) {
    struct worker *w = &workers[total_conns % opt.threads];
    struct conn *c = calloc(1, sizeof *c);
    c->role = role;
    c->worker = w;
    snprintf(c->client_id, sizeof c->client_id, "bench-%d-%d", (int)getpid(), total_conns);
    if (topic) snprintf(c->topic, sizeof c->topic, "%s", topic);
    if (filter) snprintf(c->filter, sizeof c->filter, "%s", filter);
    if (w->count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->conns = realloc(w->conns, sizeof *w->conns * (size_t)w->cap);
    }
    w->conns[w->count++] = c;
    total_conns++;
    if (role == ROLE_CONNECT) {
        c->state = ST_CLOSED; // the workers open these once measuring starts
    } else {
        conn_start(c);
    }
    return c;
}

static int expected_ready;

static void build_scenario(void) {
    char topic[96];
    const char *s = opt.scenario;
    if (!strcmp(s, "fanin")) {
        for (int i = 0; i < opt.subscribers; i++) add_conn(ROLE_SUB, NULL, "bench/fanin");
        for (int i = 0; i < opt.publishers; i++) add_conn(ROLE_PUB, "bench/fanin", NULL);
    } else if (!strcmp(s, "fanout")) {
        for (int i = 0; i < opt.subscribers; i++) add_conn(ROLE_SUB, NULL, "bench/fanout");
        for (int i = 0; i < opt.publishers; i++) add_conn(ROLE_PUB, "bench/fanout", NULL);
    } else if (!strcmp(s, "shared")) {
        // One shared subscription group ($share/…, MQTT 5 §4.8.2, accepted from 3.1.1 clients):
        // each message goes to one of the subscribers.
        for (int i = 0; i < opt.subscribers; i++) add_conn(ROLE_SUB, NULL, "$share/bench/bench/shared");
        for (int i = 0; i < opt.publishers; i++) add_conn(ROLE_PUB, "bench/shared", NULL);
    } else if (!strcmp(s, "p2p")) {
        for (int i = 0; i < opt.publishers; i++) {
            snprintf(topic, sizeof topic, "bench/p2p/%d", i);
            add_conn(ROLE_SUB, NULL, topic);
            add_conn(ROLE_PUB, topic, NULL);
        }
    } else if (!strcmp(s, "wildcard")) {
        for (int i = 0; i < opt.subscribers; i++) add_conn(ROLE_SUB, NULL, i % 2 ? "s/#" : "s/+/v");
        for (int i = 0; i < opt.publishers; i++) {
            snprintf(topic, sizeof topic, "s/%d/v", i);
            add_conn(ROLE_PUB, topic, NULL);
        }
    } else if (!strcmp(s, "connect")) {
        for (int i = 0; i < opt.connections; i++) add_conn(ROLE_CONNECT, NULL, NULL);
        expected_ready = 0;
        return;
    } else if (!strcmp(s, "idle") || !strcmp(s, "storm")) {
        // storm: the same connections, all connecting at once; the result is how long until
        // every one has its CONNACK.
        for (int i = 0; i < opt.connections; i++) add_conn(ROLE_IDLE, NULL, NULL);
    } else {
        fprintf(stderr, "mqtt-bench: unknown scenario %s\n", s);
        exit(2);
    }
    expected_ready = total_conns;
}

static void usage(void) {
    puts("usage: mqtt-bench --scenario fanin|fanout|shared|p2p|wildcard|connect|idle|storm [options]\n"
         "  --host A --port N        broker address (IPv4, default 127.0.0.1:1883)\n"
         "  --source A               connect from this local IPv4 address (e.g. 127.100.100.100)\n"
         "  --sub-port N             subscribers connect to this port instead (another cluster node)\n"
         "  --publishers P           publishers (fanin/fanout/shared/wildcard) or pairs (p2p)\n"
         "  --subscribers S          subscribers (fanin/fanout/wildcard), members (shared)\n"
         "  --connections N          connections for connect (concurrent), idle and storm (all at once:\n"
         "                           connects/s = N / time until the last CONNACK)\n"
         "  --qos Q --payload BYTES  QoS 0/1/2 and payload size (latency needs >= 8 bytes)\n"
         "  --rate R                 messages/s per publisher (default: as fast as possible)\n"
         "  --window W               unacknowledged QoS 1/2 publishes per publisher (64)\n"
         "  --duration S             measuring time in seconds (10)\n"
         "  --threads T              load generator threads (2)\n"
         "  --tls                    connect with TLS (no certificate verification)\n"
         "  --username U --password P  every connection logs in as U\n"
         "  --mqtt5                  speak MQTT 5 (protocol level 5)\n"
         "  --properties             MQTT 5: a content type and a user property on every publish\n"
         "  --aliases                MQTT 5: publishers use a topic alias, subscribers allow 10\n"
         "  --json                   also print the result as JSON\n"
         "  --smoke                  exit 1 unless messages (or connections) flowed");
}

int main(int argc, char **argv) {
    static struct option longopts[] = {
        {"host", 1, 0, 'h'}, {"source", 1, 0, 'b'}, {"port", 1, 0, 'p'}, {"sub-port", 1, 0, 'o'}, {"scenario", 1, 0, 's'}, {"publishers", 1, 0, 'P'},
        {"subscribers", 1, 0, 'S'}, {"connections", 1, 0, 'c'}, {"qos", 1, 0, 'q'}, {"payload", 1, 0, 'l'},
        {"rate", 1, 0, 'r'}, {"window", 1, 0, 'w'}, {"duration", 1, 0, 'd'}, {"threads", 1, 0, 't'},
        {"json", 0, 0, 'j'}, {"tls", 0, 0, 'T'}, {"smoke", 0, 0, 'k'}, {"mqtt5", 0, 0, '5'},
        {"properties", 0, 0, 'y'}, {"aliases", 0, 0, 'a'}, {"username", 1, 0, 'u'}, {"password", 1, 0, 'x'},
        {"help", 0, 0, '?'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'b': opt.source = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'o': opt.sub_port = atoi(optarg); break;
        case 's': opt.scenario = optarg; break;
        case 'P': opt.publishers = atoi(optarg); break;
        case 'S': opt.subscribers = atoi(optarg); break;
        case 'c': opt.connections = atoi(optarg); break;
        case 'q': opt.qos = atoi(optarg); break;
        case 'l': opt.payload = atoi(optarg); break;
        case 'r': opt.rate = atof(optarg); break;
        case 'w': opt.window = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 't': opt.threads = atoi(optarg); break;
        case 'j': opt.json = 1; break;
        case 'T': opt.tls = 1; break;
        case 'k': opt.smoke = 1; break;
        case '5': opt.mqtt5 = 1; break;
        case 'y': opt.properties = 1; break;
        case 'a': opt.aliases = 1; break;
        case 'u': opt.username = optarg; break;
        case 'x': opt.password = optarg; break;
        default: usage(); return ch == '?' ? 0 : 2;
        }
    }
    if (opt.threads < 1 || opt.qos < 0 || opt.qos > 2 || opt.payload < 0) { usage(); return 2; }
    signal(SIGPIPE, SIG_IGN);
    if (opt.tls) {
        tls_context = SSL_CTX_new(TLS_client_method());
        if (!tls_context) die("SSL_CTX_new");
        SSL_CTX_set_verify(tls_context, SSL_VERIFY_NONE, NULL);
    }
    workers = calloc((size_t)opt.threads, sizeof *workers);
    for (int i = 0; i < opt.threads; i++) {
        workers[i].epoll = epoll_create1(0);
        workers[i].index = i;
        histogram_init(&workers[i].latency);
    }
    build_scenario();
    uint64_t connecting_since_ns = now_ns();
    for (int i = 0; i < opt.threads; i++) pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);

    // Wait (at most 30 s) until every connection has its CONNACK/SUBACK, then measure.
    uint64_t deadline = now_ns() + 30000000000ull;
    while (atomic_load(&ready_count) < expected_ready && now_ns() < deadline) usleep(1000);
    if (atomic_load(&ready_count) < expected_ready) {
        fprintf(stderr, "mqtt-bench: only %d of %d connections ready\n", atomic_load(&ready_count), expected_ready);
        return 2;
    }
    if (!strcmp(opt.scenario, "storm")) {
        // Polled every millisecond above: the figure is good to about a millisecond.
        double seconds = (double)(now_ns() - connecting_since_ns) / 1e9;
        printf("scenario=storm%s connections=%d seconds=%.3f connects/s=%.0f errors=0\n", opt.tls ? "+tls" : "",
               expected_ready, seconds, expected_ready / seconds);
        fflush(stdout);
        _exit(0);  // the workers hold every connection open; the process ending closes them
    }
    // Let subscriptions settle across shards (and, with --sub-port, reach the other node).
    usleep(opt.sub_port ? 1500000 : 200000);
    measure_start_ns = now_ns();
    for (int i = 0; i < opt.threads; i++)
        for (int j = 0; j < workers[i].count; j++) workers[i].conns[j]->next_send_ns = measure_start_ns;
    atomic_store(&phase, 1);
    usleep((useconds_t)(opt.duration * 1e6));
    atomic_store(&phase, 2);
    measure_end_ns = now_ns();
    // The shared scenario's spread counts every message published while measuring: a second
    // for what is still in flight (otherwise the spread measures where the run was cut).
    if (!strcmp(opt.scenario, "shared")) usleep(1000000);
    atomic_store(&phase, 3);
    for (int i = 0; i < opt.threads; i++) pthread_join(workers[i].thread, NULL);

    uint64_t sent = 0, delivered = 0, connects = 0, errors = 0;
    struct histogram all;
    histogram_init(&all);
    for (int i = 0; i < opt.threads; i++) {
        sent += workers[i].sent;
        delivered += workers[i].delivered;
        connects += workers[i].connects;
        errors += workers[i].errors;
        histogram_merge(&all, &workers[i].latency);
    }
    double seconds = (double)(measure_end_ns - measure_start_ns) / 1e9;
    double p50 = histogram_percentile(&all, 50), p99 = histogram_percentile(&all, 99),
           p999 = histogram_percentile(&all, 99.9);
    char spread[160] = "";
    if (!strcmp(opt.scenario, "shared")) {
        // How evenly the group spread the messages: the busiest and idlest member against the mean.
        uint64_t least = UINT64_MAX, most = 0, total = 0;
        int members = 0;
        for (int i = 0; i < opt.threads; i++)
            for (int j = 0; j < workers[i].count; j++) {
                struct conn *c = workers[i].conns[j];
                if (c->role != ROLE_SUB) continue;
                members++;
                total += c->delivered;
                if (c->delivered < least) least = c->delivered;
                if (c->delivered > most) most = c->delivered;
            }
        double mean = members ? (double)total / members : 0;
        snprintf(spread, sizeof spread, " members=%d member_min=%llu member_max=%llu spread_pct=%.1f", members,
                 (unsigned long long)least, (unsigned long long)most,
                 mean > 0 ? 100.0 * (double)(most - least) / mean : 0.0);
    }
    printf("scenario=%s%s qos=%d payload=%d publishers=%d subscribers=%d connections=%d rate=%.0f seconds=%.2f "
           "sent/s=%.0f delivered/s=%.0f connects/s=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f errors=%llu%s\n",
           opt.scenario, opt.tls ? "+tls" : "", opt.qos, opt.payload, opt.publishers, opt.subscribers, total_conns,
           opt.rate, seconds, sent / seconds, delivered / seconds, connects / seconds, p50, p99, p999,
           (unsigned long long)errors, spread);
    if (opt.json)
        printf("{\"scenario\":\"%s\",\"tls\":%s,\"qos\":%d,\"payload\":%d,\"publishers\":%d,\"subscribers\":%d,"
               "\"connections\":%d,\"rate\":%.0f,\"seconds\":%.3f,\"sent_per_s\":%.0f,\"delivered_per_s\":%.0f,"
               "\"connects_per_s\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,\"errors\":%llu}\n",
               opt.scenario, opt.tls ? "true" : "false", opt.qos, opt.payload, opt.publishers, opt.subscribers,
               total_conns, opt.rate, seconds, sent / seconds, delivered / seconds, connects / seconds, p50, p99, p999,
               (unsigned long long)errors);
    fflush(stdout);
    if (opt.smoke) {
        int flowed = !strcmp(opt.scenario, "connect") ? connects > 0
                   : !strcmp(opt.scenario, "idle")    ? atomic_load(&ready_count) == expected_ready
                                                      : delivered > 0;
        return flowed && errors == 0 ? 0 : 1;
    }
    return 0;
}
