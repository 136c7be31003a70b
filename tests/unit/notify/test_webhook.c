/*
 * Unit tests for src/notify/webhook.c and webhook_http.c on a real loop: the dispatcher
 * stores a notification, claims it and POSTs it through libcurl to a tiny HTTP receiver
 * (a thread with a blocking socket); failures are retried with new attempt numbers until a
 * 2xx; a stop with an attempt in flight abandons it at once and leaves the delivery pending.
 * Each test ends by closing every handle and checking uv_loop_close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hxtime.h"
#include "notify/webhook.h"
#include "store/store.h"
#include "store/store_testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- A tiny HTTP receiver --------------------------------------------------------------- */

struct receiver {
    int fd;                /* listening socket */
    uint16_t port;         /* bound port */
    pthread_t thread;      /* accept loop */
    atomic_bool stop;      /* ends the loop */
    atomic_int n_fail;     /* answer 500 to this many requests first */
    atomic_bool silent;    /* read requests but never answer */
    atomic_int n_requests; /* requests read */
    char attempts[8][64];  /* X-Medhub-Attempt values, in order */
    char signature[8][80]; /* X-Medhub-Signature values */
    char timestamp[8][32]; /* X-Medhub-Timestamp values */
    char body[8][128];     /* bodies */
    pthread_mutex_t lock;  /* guards the arrays */
};

static void header_value(const char *req, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    const char *p = strcasestr(req, name);
    if (!p)
        return;
    p += strlen(name);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(out, len, "%.*s", (int)n, p);
}

static void serve_one(struct receiver *rv, int c)
{
    char buf[8192];
    size_t got = 0;
    const char *end = NULL;
    while (got < sizeof(buf) - 1) {
        ssize_t n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            return;
        got += (size_t)n;
        buf[got] = '\0';
        if ((end = strstr(buf, "\r\n\r\n"))) {
            char cl[16];
            header_value(buf, "Content-Length:", cl, sizeof(cl));
            size_t want = (size_t)(end + 4 - buf) + (size_t)strtoul(cl, NULL, 10);
            if (got >= want)
                break;
        }
    }
    if (!end)
        return;
    pthread_mutex_lock(&rv->lock);
    int i = atomic_load(&rv->n_requests);
    if (i < 8) {
        header_value(buf, "X-Medhub-Attempt:", rv->attempts[i], sizeof(rv->attempts[i]));
        header_value(buf, "X-Medhub-Signature:", rv->signature[i], sizeof(rv->signature[i]));
        header_value(buf, "X-Medhub-Timestamp:", rv->timestamp[i], sizeof(rv->timestamp[i]));
        snprintf(rv->body[i], sizeof(rv->body[i]), "%s", end + 4);
    }
    atomic_fetch_add(&rv->n_requests, 1);
    pthread_mutex_unlock(&rv->lock);
    if (atomic_load(&rv->silent)) {
        while (!atomic_load(&rv->stop) && recv(c, buf, sizeof(buf), 0) > 0)
            ;
        return;
    }
    bool fail = atomic_fetch_sub(&rv->n_fail, 1) > 0;
    const char *resp = fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n"
                            : "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    send(c, resp, strlen(resp), MSG_NOSIGNAL);
}

static void *receiver_main(void *arg)
{
    struct receiver *rv = arg;
    while (!atomic_load(&rv->stop)) {
        struct pollfd pfd = {.fd = rv->fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int c = accept(rv->fd, NULL, NULL);
        if (c < 0)
            continue;
        struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        serve_one(rv, c);
        close(c);
    }
    return NULL;
}

static void receiver_start(struct receiver *rv)
{
    memset(rv, 0, sizeof(*rv));
    pthread_mutex_init(&rv->lock, NULL);
    rv->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(rv->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(rv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(rv->fd, 16), 0);
    socklen_t len = sizeof(a);
    getsockname(rv->fd, (struct sockaddr *)&a, &len);
    rv->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&rv->thread, NULL, receiver_main, rv), 0);
}

static void receiver_stop(struct receiver *rv)
{
    atomic_store(&rv->stop, true);
    pthread_join(rv->thread, NULL);
    close(rv->fd);
    pthread_mutex_destroy(&rv->lock);
}

/* ---- Fixture ---------------------------------------------------------------------------- */

struct fx {
    struct tdir t;
    struct cfg *cfg;
    struct store *st; /* the test's own connection */
    uv_loop_t loop;
    struct receiver rv;
    struct webhooks *w;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tdir_init(&f->t);
    f->cfg = calloc(1, sizeof(*f->cfg));
    char err[256];
    struct cfg_sources src = {.data_dir = f->t.dir};
    static const char conf[] = "[webhook]\ntimeout_ms = 2000\nbackoff_initial_ms = 50\n"
                               "backoff_max_ms = 200\nexpire_s = 60\n";
    if (cfg_load_string(f->cfg, conf, strlen(conf), NULL, &src, err, sizeof(err)) < 0 ||
        store_open(&f->st, &f->cfg->storage, STORE_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    uv_loop_init(&f->loop);
    receiver_start(&f->rv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    receiver_stop(&f->rv);
    store_close(f->st);
    tdir_release(&f->t);
    free(f->cfg);
    free(f);
    return 0;
}

static void add_hook(struct fx *f, const char *name, int min_severity)
{
    struct store_webhook w = {.min_severity = min_severity, .enabled = true};
    snprintf(w.name, sizeof(w.name), "%s", name);
    snprintf(w.url, sizeof(w.url), "http://127.0.0.1:%u/hook", f->rv.port);
    snprintf(w.secret, sizeof(w.secret), "s3cr3t-key");
    assert_int_equal(store_webhook_add(f->st, &w), 0);
}

/* Runs the loop until cond(f) holds or timeout_ms passes; returns whether it held. */
struct wait {
    struct fx *f;
    bool (*cond)(struct fx *f);
    bool met;
};

static void on_check(uv_timer_t *t)
{
    struct wait *wt = t->data;
    if (wt->cond(wt->f)) {
        wt->met = true;
        uv_stop(t->loop);
    }
}

static void on_deadline(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static bool run_until(struct fx *f, bool (*cond)(struct fx *f), uint64_t timeout_ms)
{
    struct wait wt = {.f = f, .cond = cond};
    uv_timer_t check, deadline;
    uv_timer_init(&f->loop, &check);
    uv_timer_init(&f->loop, &deadline);
    check.data = &wt;
    uv_timer_start(&check, on_check, 10, 10);
    uv_timer_start(&deadline, on_deadline, timeout_ms, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&check, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return wt.met;
}

/* Stops the dispatcher, runs the loop dry, frees it and checks that nothing leaked. */
static void stop_all(struct fx *f)
{
    int64_t t0 = hx_time_mono_us();
    webhooks_stop(f->w);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(hx_time_mono_us() - t0 < 2 * HX_USEC_PER_SEC); /* never waits on a receiver */
    webhooks_free(f->w);
    f->w = NULL;
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void start(struct fx *f)
{
    char err[256] = "";
    int rc = webhooks_start(&f->w, &f->loop, f->cfg, err, sizeof(err));
    if (rc < 0)
        fail_msg("webhooks_start: %s", err);
}

static bool delivered_one(struct fx *f)
{
    struct webhooks_stats s;
    webhooks_get_stats(f->w, &s);
    return s.delivered >= 1;
}

struct row {
    enum store_delivery_state state;
    uint32_t attempts;
    int64_t id, next_us;
    char error[256];
};

static int on_row(void *arg, const struct store_delivery *d)
{
    struct row *r = arg;
    r->state = d->state;
    r->attempts = d->attempts;
    r->id = d->id;
    r->next_us = d->next_attempt_us;
    snprintf(r->error, sizeof(r->error), "%s", d->last_error);
    return 0;
}

static void test_webhook_delivers_signed_post(void **state)
{
    struct fx *f = *state;
    add_hook(f, "ehr", 2);
    add_hook(f, "pager", 5); /* filtered out: severity 4 < 5 */
    start(f);
    webhooks_notify(f->w, "alert.raised", 7, 4, "{\"alert\":7}");
    assert_true(run_until(f, delivered_one, 10000));
    stop_all(f);

    struct webhooks_stats s = {0};
    assert_int_equal(atomic_load(&f->rv.n_requests), 1);
    assert_string_equal(f->rv.attempts[0], "1.1");
    assert_string_equal(f->rv.body[0], "{\"alert\":7}");
    char sig[WEBHOOK_SIG_LEN];
    int64_t ts = strtoll(f->rv.timestamp[0], NULL, 10);
    assert_true(llabs(ts - hx_time_now_us() / HX_USEC_PER_SEC) < 30);
    assert_int_equal(webhook_sign("s3cr3t-key", ts, "{\"alert\":7}", 11, sig), 0);
    assert_string_equal(f->rv.signature[0], sig);
    struct row r = {0};
    assert_int_equal(store_delivery_get(f->st, 1, on_row, &r), 0);
    assert_int_equal(r.state, STORE_DELIVERY_DELIVERED);
    assert_int_equal(r.attempts, 1);
    int64_t n = -1;
    assert_int_equal(store_delivery_count(f->st, STORE_DELIVERY_PENDING, &n), 0);
    assert_int_equal(n, 0); /* the pager got no row at all */
    (void)s;
}

static void test_webhook_retries_with_new_attempt_ids(void **state)
{
    struct fx *f = *state;
    add_hook(f, "ehr", 1);
    atomic_store(&f->rv.n_fail, 2);
    start(f);
    webhooks_notify(f->w, "alert.raised", 8, 3, "{\"alert\":8}");
    assert_true(run_until(f, delivered_one, 10000));
    struct webhooks_stats s;
    webhooks_get_stats(f->w, &s);
    assert_int_equal(s.failed_attempts, 2);
    assert_int_equal(s.queued, 1);
    stop_all(f);
    assert_int_equal(atomic_load(&f->rv.n_requests), 3);
    assert_string_equal(f->rv.attempts[0], "1.1");
    assert_string_equal(f->rv.attempts[1], "1.2");
    assert_string_equal(f->rv.attempts[2], "1.3");
    struct row r = {0};
    assert_int_equal(store_delivery_get(f->st, 1, on_row, &r), 0);
    assert_int_equal(r.state, STORE_DELIVERY_DELIVERED);
    assert_int_equal(r.attempts, 3);
}

static bool one_request(struct fx *f)
{
    return atomic_load(&f->rv.n_requests) >= 1;
}

static void test_webhook_stop_abandons_in_flight_attempt(void **state)
{
    struct fx *f = *state;
    add_hook(f, "ehr", 1);
    atomic_store(&f->rv.silent, true);
    start(f);
    webhooks_notify(f->w, "alert.raised", 9, 3, "{\"alert\":9}");
    assert_true(run_until(f, one_request, 10000));
    int64_t before = hx_time_now_us();
    stop_all(f); /* asserts the stop did not wait for the 2 s attempt timeout */
    struct row r = {0};
    assert_int_equal(store_delivery_get(f->st, 1, on_row, &r), 0);
    assert_int_equal(r.state, STORE_DELIVERY_PENDING);
    assert_int_equal(r.attempts, 1);
    assert_true(r.next_us <= hx_time_now_us() && r.next_us >= before); /* due at once */
    assert_string_equal(r.error, "abandoned: shutting down");
}

static bool one_dead(struct fx *f)
{
    struct webhooks_stats s;
    webhooks_get_stats(f->w, &s);
    return s.dead >= 1;
}

static void test_webhook_gives_up_at_expiry(void **state)
{
    struct fx *f = *state;
    add_hook(f, "ehr", 1);
    atomic_store(&f->rv.n_fail, 1000000);
    f->cfg->webhook.expire_s = 1;
    start(f);
    webhooks_notify(f->w, "alert.raised", 10, 3, "{\"alert\":10}");
    assert_true(run_until(f, one_dead, 10000));
    stop_all(f);
    struct row r = {0};
    assert_int_equal(store_delivery_get(f->st, 1, on_row, &r), 0);
    assert_int_equal(r.state, STORE_DELIVERY_DEAD);
    assert_true(r.attempts >= 2);
    assert_int_equal((int)r.attempts, atomic_load(&f->rv.n_requests));
    char want[64];
    snprintf(want, sizeof(want), "expired after %u attempts: HTTP 500", r.attempts);
    assert_string_equal(r.error, want);
}

static void test_webhook_bad_notifications_are_dropped(void **state)
{
    struct fx *f = *state;
    add_hook(f, "ehr", 1);
    start(f);
    webhooks_notify(f->w, "Bad Event", 1, 3, "{}");
    webhooks_notify(f->w, "alert.raised", 1, 0, "{}");
    webhooks_notify(f->w, "alert.raised", 1, 3, "");
    webhooks_notify(NULL, "alert.raised", 1, 3, "{}"); /* not running: ignored */
    struct webhooks_stats s;
    webhooks_get_stats(f->w, &s);
    assert_int_equal(s.lost, 3);
    assert_int_equal(s.notified, 0);
    stop_all(f);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_webhook_delivers_signed_post),
        T(test_webhook_retries_with_new_attempt_ids),
        T(test_webhook_stop_abandons_in_flight_attempt),
        T(test_webhook_gives_up_at_expiry),
        T(test_webhook_bad_notifications_are_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
