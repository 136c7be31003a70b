/*
 * `medhub bench sse`: live-stream fan-out latency. Opens N server-sent-event connections to
 * GET /api/v1/stream with a bearer token, waits until every one is streaming, then
 * publishes readings over MQTT (QoS 0, one heart rate per message, its SenML time = the
 * publish instant) at a fixed rate from one device, and measures on every connection the
 * time from publish to receipt of each observation event (the event's "effective_us").
 * Publisher and receivers share one process and clock. Reports deliveries expected and
 * received, p50/p99/p99.9/max latency, and writes them as JSON with --out.
 * Layer: bench. Thread: main (one loop).
 */
#include "bench/bench.h"
#include "bench/mqtt_client.h"
#include "core/err.h"
#include "core/hist.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "mqtt/codec.h"

#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Bytes of a previous read kept to find a key split across reads. */
#define SSE_CARRY 48

struct sse_conn {
    struct sse_bench *b;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    char carry[SSE_CARRY + 65536]; /* tail of the last read + the current read */
    size_t carry_len;
    bool streaming; /* the 200 header arrived */
    bool closed;
};

struct sse_bench {
    uv_loop_t *loop;
    struct sockaddr_storage http_addr, mqtt_addr;
    const char *token, *device, *secret;
    int n_clients, rate, seconds;
    struct sse_conn *conns;
    int streaming, failed, closed;
    char request[512];
    /* publisher */
    uv_tcp_t mq;
    uv_connect_t mq_creq;
    bool mq_ok;
    uv_timer_t tick;
    uint64_t published;
    int64_t start_us, stop_us;
    bool publishing;
    bool started; /* publishing began (and may have ended) */
    /* results */
    uint64_t received;
    struct hx_hist lat; /* microseconds */
    char read_buf[65536];
};

static int resolve(const char *hostport, struct sockaddr_storage *out)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof(host))
        return HX_EINVAL;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return HX_EINVAL;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sse_conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->carry + c->carry_len, (unsigned)(sizeof(c->carry) - c->carry_len));
}

/* Finds every "effective_us": in p[0..len) and records its latency. */
static void scan(struct sse_bench *b, const char *p, size_t len, int64_t now)
{
    static const char key[] = "\"effective_us\":";
    size_t kl = sizeof(key) - 1;
    const char *end = p + len;
    while (p < end) {
        const char *k = memmem(p, (size_t)(end - p), key, kl);
        if (!k)
            return;
        const char *v = k + kl;
        int64_t t = 0;
        while (v < end && *v >= '0' && *v <= '9')
            t = t * 10 + (*v++ - '0');
        if (v == end)
            return; /* cut: the carry brings it back next time */
        if (b->publishing || now < b->stop_us + 2000000) {
            b->received++;
            hx_hist_record(&b->lat, now > t ? (uint64_t)(now - t) : 0);
        }
        p = v;
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct sse_conn *c = s->data;
    struct sse_bench *b = c->b;
    (void)buf;
    if (n < 0) {
        if (!c->closed) {
            c->closed = true;
            b->closed++;
            uv_close((uv_handle_t *)&c->tcp, NULL);
        }
        return;
    }
    int64_t now = hx_time_now_us();
    size_t total = c->carry_len + (size_t)n;
    if (!c->streaming) {
        if (total >= 12 && memcmp(c->carry, "HTTP/1.1 200", 12) == 0) {
            c->streaming = true;
            b->streaming++;
        } else if (total >= 12) {
            b->failed++;
            c->closed = true;
            uv_close((uv_handle_t *)&c->tcp, NULL);
            return;
        }
    }
    /* Scan from the start of the carry: a key cut by the last read is found now; one found
     * last time lies wholly before the carry (the carry keeps only bytes after it). */
    scan(b, c->carry, total, now);
    size_t keep = total < SSE_CARRY ? total : SSE_CARRY;
    const char *tail = c->carry + total - keep;
    /* Do not keep a complete key we already counted. */
    const char *q = memmem(tail, keep, "\"effective_us\":", 15);
    while (q) {
        const char *v = q + 15;
        while (v < c->carry + total && *v >= '0' && *v <= '9')
            v++;
        if (v == c->carry + total)
            break;
        keep = (size_t)(c->carry + total - v);
        tail = v;
        q = memmem(tail, keep, "\"effective_us\":", 15);
    }
    memmove(c->carry, tail, keep);
    c->carry_len = keep;
}

static void on_conn(uv_connect_t *req, int status)
{
    struct sse_conn *c = req->data;
    struct sse_bench *b = c->b;
    if (status < 0) {
        b->failed++;
        c->closed = true;
        uv_close((uv_handle_t *)&c->tcp, NULL);
        return;
    }
    uv_buf_t wb = uv_buf_init(b->request, (unsigned)strlen(b->request));
    uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &wb, 1, NULL);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

/* ---- publisher ---------------------------------------------------------------------------- */

static void mq_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sse_bench *b = h->data;
    (void)suggested;
    *buf = uv_buf_init(b->read_buf, sizeof(b->read_buf));
}

static void mq_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct sse_bench *b = s->data;
    (void)buf;
    if (n > 0 && !b->mq_ok && (uint8_t)b->read_buf[0] == 0x20)
        b->mq_ok = true; /* CONNACK (success is checked by the deliveries) */
    if (n < 0 && b->publishing)
        fprintf(stderr, "bench sse: the MQTT connection closed\n");
}

struct mq_write {
    uv_write_t req;
    uint8_t buf[512];
};

static void mq_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void mq_send(struct sse_bench *b, const uint8_t *p, size_t len)
{
    struct mq_write *w = hx_xmalloc(sizeof(*w));
    memcpy(w->buf, p, len);
    uv_buf_t wb = uv_buf_init((char *)w->buf, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&b->mq, &wb, 1, mq_written) < 0)
        free(w);
}

static void mq_connected(uv_connect_t *req, int status)
{
    struct sse_bench *b = req->data;
    if (status < 0) {
        fprintf(stderr, "bench sse: cannot connect to MQTT: %s\n", uv_strerror(status));
        return;
    }
    struct bench_mqtt_connect m = {.version = MQTT_V5,
                                   .keep_alive = 600,
                                   .client_id = slice_cstr(b->device),
                                   .username = slice_cstr(b->device),
                                   .password = slice_cstr(b->secret)};
    uint8_t buf[512];
    size_t len;
    if (bench_mqtt_connect_encode(&m, buf, sizeof(buf), &len) == 0)
        mq_send(b, buf, len);
    uv_read_start((uv_stream_t *)&b->mq, mq_alloc, mq_read);
}

static void publish_one(struct sse_bench *b)
{
    char topic[160], payload[200];
    snprintf(topic, sizeof(topic), "medhub/v1/devices/%s/telemetry", b->device);
    int64_t now = hx_time_now_us();
    int n = snprintf(payload, sizeof(payload),
                     "[{\"bn\":\"%s/\",\"bt\":%" PRId64 ".%06" PRId64 ",\"n\":\"hr\",\"v\":%d}]",
                     b->device, now / 1000000, now % 1000000, 60 + (int)(b->published % 40));
    struct mqtt_publish p = {.qos = 0,
                             .topic = slice_cstr(topic),
                             .payload = slice_make((const uint8_t *)payload, (size_t)n)};
    uint8_t buf[512];
    size_t len;
    if (mqtt_publish_encode(&p, MQTT_V5, buf, sizeof(buf), &len) == 0) {
        mq_send(b, buf, len);
        b->published++;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct sse_bench *b = t->data;
    int64_t now = hx_time_now_us();
    if (!b->started) {
        if (b->streaming + b->failed + b->closed < b->n_clients || !b->mq_ok)
            return;
        b->publishing = true;
        b->started = true;
        b->start_us = now;
        b->stop_us = now + (int64_t)b->seconds * 1000000;
        fprintf(stderr, "bench sse: %d clients streaming (%d failed); publishing %d/s for %d s\n",
                b->streaming, b->failed, b->rate, b->seconds);
    }
    if (now >= b->stop_us) {
        b->publishing = false;
        if (now >= b->stop_us + 2000000) { /* drain: 2 s for the last events */
            uv_timer_stop(t);
            uv_stop(b->loop);
        }
        return;
    }
    /* Keep the schedule: as many as are due since the start. */
    uint64_t due = (uint64_t)((now - b->start_us) * b->rate / 1000000) + 1;
    while (b->published < due)
        publish_one(b);
}

static void usage(void)
{
    fputs("Usage: medhub bench sse --http HOST:PORT --token TOKEN --mqtt HOST:PORT --device ID\n"
          "                        --secret SECRET [--clients N] [--rate R] [--seconds S]\n"
          "                        [--out FILE.json]\n"
          "Opens N live-stream connections (plain HTTP), publishes R readings/s over MQTT\n"
          "for S seconds and reports publish-to-receipt latency over every delivery.\n",
          stdout);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int bench_sse_main(int argc, char **argv)
{
    struct sse_bench *b = hx_xcalloc(1, sizeof(*b));
    b->n_clients = 1000;
    b->rate = 100;
    b->seconds = 10;
    const char *http = NULL, *mqtt = NULL, *out = NULL;
    static const struct option opts[] = {
        {"http", required_argument, NULL, 'h'},
        {"mqtt", required_argument, NULL, 'm'},
        {"token", required_argument, NULL, 't'},
        {"device", required_argument, NULL, 'd'},
        {"secret", required_argument, NULL, 's'},
        {"clients", required_argument, NULL, 'c'},
        {"rate", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h':
            http = optarg;
            break;
        case 'm':
            mqtt = optarg;
            break;
        case 't':
            b->token = optarg;
            break;
        case 'd':
            b->device = optarg;
            break;
        case 's':
            b->secret = optarg;
            break;
        case 'c':
            b->n_clients = (int)strtol(optarg, NULL, 10);
            break;
        case 'r':
            b->rate = (int)strtol(optarg, NULL, 10);
            break;
        case 'S':
            b->seconds = (int)strtol(optarg, NULL, 10);
            break;
        case 'o':
            out = optarg;
            break;
        case 'H':
            usage();
            free(b);
            return 0;
        default:
            usage();
            free(b);
            return 2;
        }
    }
    if (!http || !mqtt || !b->token || !b->device || !b->secret || b->n_clients <= 0 ||
        b->rate <= 0 || b->seconds <= 0 || resolve(http, &b->http_addr) < 0 ||
        resolve(mqtt, &b->mqtt_addr) < 0) {
        usage();
        free(b);
        return 2;
    }
    snprintf(b->request, sizeof(b->request),
             "GET /api/v1/stream HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n"
             "Authorization: Bearer %s\r\n\r\n",
             b->token);
    uv_loop_t loop;
    uv_loop_init(&loop);
    b->loop = &loop;
    b->conns = hx_alloc_array((size_t)b->n_clients, sizeof(*b->conns));
    memset(b->conns, 0, (size_t)b->n_clients * sizeof(*b->conns));
    for (int i = 0; i < b->n_clients; i++) {
        struct sse_conn *c = &b->conns[i];
        c->b = b;
        uv_tcp_init(&loop, &c->tcp);
        uv_tcp_nodelay(&c->tcp, 1);
        c->tcp.data = c;
        c->creq.data = c;
        if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&b->http_addr, on_conn) < 0)
            b->failed++;
    }
    uv_tcp_init(&loop, &b->mq);
    uv_tcp_nodelay(&b->mq, 1);
    b->mq.data = b;
    b->mq_creq.data = b;
    uv_tcp_connect(&b->mq_creq, &b->mq, (const struct sockaddr *)&b->mqtt_addr, mq_connected);
    uv_timer_init(&loop, &b->tick);
    b->tick.data = b;
    uv_timer_start(&b->tick, on_tick, 100, 1);
    uv_run(&loop, UV_RUN_DEFAULT);

    uint64_t expected = b->published * (uint64_t)b->streaming;
    double p50 = (double)hx_hist_quantile(&b->lat, 0.50) / 1000.0;
    double p99 = (double)hx_hist_quantile(&b->lat, 0.99) / 1000.0;
    double p999 = (double)hx_hist_quantile(&b->lat, 0.999) / 1000.0;
    double max = (double)b->lat.max / 1000.0;
    char cpu[128];
    bench_cpu_model(cpu, sizeof(cpu));
    printf("bench sse: clients=%d streaming=%d failed=%d dropped=%d published=%" PRIu64
           " rate=%d/s expected=%" PRIu64 " received=%" PRIu64
           " latency_ms p50=%.2f p99=%.2f p99.9=%.2f max=%.2f\n",
           b->n_clients, b->streaming, b->failed, b->closed, b->published, b->rate, expected,
           b->received, p50, p99, p999, max);
    int rc = 0;
    if (out) {
        FILE *f = fopen(out, "w");
        if (f) {
            fprintf(f,
                    "{\"bench\":\"sse\",\"cpu\":\"%s\",\"clients\":%d,\"streaming\":%d,"
                    "\"failed\":%d,\"dropped\":%d,\"rate_per_s\":%d,\"seconds\":%d,"
                    "\"published\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"received\":%" PRIu64
                    ",\"deliveries_per_s\":%.0f,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,"
                    "\"p999\":%.3f,\"max\":%.3f}}\n",
                    cpu, b->n_clients, b->streaming, b->failed, b->closed, b->rate, b->seconds,
                    b->published, expected, b->received, (double)b->received / (double)b->seconds,
                    p50, p99, p999, max);
            fclose(f);
        } else {
            rc = 1;
        }
    }
    if (b->received < expected || b->failed)
        rc = 1;
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(b->conns);
    free(b);
    return rc;
}
