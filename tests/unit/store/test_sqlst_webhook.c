/*
 * Unit tests for the webhook store functions on the SQLite backend: webhooks CRUD, queueing
 * a notification for the matching webhooks, the claim (durable attempt numbers, leases,
 * expiry to DEAD), results guarded by the attempt number, removal and retry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "store/store.h"
#include "store/store_testutil.h"

#define SEC INT64_C(1000000)
#define T0  (INT64_C(1800000000) * SEC)

struct fx {
    struct tdir t;
    struct store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];
    tdir_init(&f->t);
    int rc = store_open(&f->st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    tdir_release(&f->t);
    free(f);
    return 0;
}

static int64_t add_hook(struct store *st, const char *name, int min_severity)
{
    struct store_webhook w = {.min_severity = min_severity, .enabled = true};
    snprintf(w.name, sizeof(w.name), "%s", name);
    snprintf(w.url, sizeof(w.url), "https://example.org/hooks/%s", name);
    snprintf(w.secret, sizeof(w.secret), "secret-of-%s", name);
    assert_int_equal(store_webhook_add(st, &w), 0);
    assert_true(w.id > 0);
    return w.id;
}

/* Queues a notification at severity for every matching webhook (webhook 0) or one. */
static size_t notify(struct store *st, int64_t webhook_id, int severity, int64_t now,
                     int64_t *last_id)
{
    static const char body[] = "{\"alert\":1}";
    struct store_delivery_new n = {.webhook_id = webhook_id,
                                   .event = "alert.raised",
                                   .alert_id = 7,
                                   .severity = severity,
                                   .payload = body,
                                   .payload_len = sizeof(body) - 1,
                                   .now_us = now,
                                   .expires_us = now + 60 * SEC};
    size_t added = 99;
    assert_int_equal(store_delivery_add(st, &n, &added, last_id), 0);
    return added;
}

/* What a claim or list handed out (strings copied). */
struct seen {
    int n;
    int64_t id[16];
    uint32_t attempts[16];
    enum store_delivery_state state[16];
    int64_t next[16];
    char webhook[16][64];
    char url[16][128];
    char secret[16][64];
    char error[16][256];
    char payload[16][64];
};

static int on_delivery(void *arg, const struct store_delivery *d)
{
    struct seen *s = arg;
    int i = s->n++;
    s->id[i] = d->id;
    s->attempts[i] = d->attempts;
    s->state[i] = d->state;
    s->next[i] = d->next_attempt_us;
    snprintf(s->webhook[i], sizeof(s->webhook[i]), "%s", d->webhook);
    snprintf(s->url[i], sizeof(s->url[i]), "%s", d->url);
    snprintf(s->secret[i], sizeof(s->secret[i]), "%s", d->secret);
    snprintf(s->error[i], sizeof(s->error[i]), "%s", d->last_error);
    snprintf(s->payload[i], sizeof(s->payload[i]), "%.*s", (int)d->payload_len, d->payload);
    return 0;
}

static int on_webhook(void *arg, const struct store_webhook *w)
{
    struct seen *s = arg;
    snprintf(s->webhook[s->n++], sizeof(s->webhook[0]), "%s", w->name);
    return 0;
}

static void test_webhook_add_get_list(void **state)
{
    struct fx *f = *state;
    add_hook(f->st, "pager", 4);
    add_hook(f->st, "ehr", 1);
    struct store_webhook w = {.min_severity = 1};
    snprintf(w.name, sizeof(w.name), "pager");
    snprintf(w.url, sizeof(w.url), "http://x/");
    snprintf(w.secret, sizeof(w.secret), "s");
    assert_int_equal(store_webhook_add(f->st, &w), HX_EEXIST);
    w.min_severity = 6;
    snprintf(w.name, sizeof(w.name), "other");
    assert_int_equal(store_webhook_add(f->st, &w), HX_EINVAL);
    w.min_severity = 3;
    w.secret[0] = '\0';
    assert_int_equal(store_webhook_add(f->st, &w), HX_EINVAL);

    struct store_webhook got;
    assert_int_equal(store_webhook_get(f->st, "pager", &got), 0);
    assert_string_equal(got.url, "https://example.org/hooks/pager");
    assert_string_equal(got.secret, "secret-of-pager");
    assert_int_equal(got.min_severity, 4);
    assert_true(got.enabled);
    assert_true(got.created_us > 0);
    assert_int_equal(store_webhook_get(f->st, "nope", &got), HX_ENOTFOUND);

    struct seen s = {0};
    assert_int_equal(store_webhook_list(f->st, on_webhook, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.webhook[0], "ehr"); /* by name */
    assert_string_equal(s.webhook[1], "pager");
}

static void test_delivery_add_matches_severity(void **state)
{
    struct fx *f = *state;
    int64_t ehr = add_hook(f->st, "ehr", 1);
    int64_t pager = add_hook(f->st, "pager", 4);
    int64_t last = 0;
    assert_int_equal(notify(f->st, 0, 3, T0, &last), 1); /* below the pager's filter */
    assert_int_equal(notify(f->st, 0, 5, T0, &last), 2);
    assert_int_equal(notify(f->st, pager, 1, T0, &last), 1); /* one webhook: no filter */
    struct seen s = {0};
    assert_int_equal(store_delivery_get(f->st, last, on_delivery, &s), 0);
    assert_string_equal(s.webhook[0], "pager");
    assert_string_equal(s.payload[0], "{\"alert\":1}");
    assert_string_equal(s.url[0], ""); /* only a claim lends the url and secret */
    assert_string_equal(s.secret[0], "");
    int64_t n;
    assert_int_equal(store_delivery_count(f->st, STORE_DELIVERY_PENDING, &n), 0);
    assert_int_equal(n, 4);
    (void)ehr;

    struct store_delivery_new bad = {.webhook_id = 999,
                                     .event = "x",
                                     .severity = 1,
                                     .payload = "{}",
                                     .payload_len = 2,
                                     .now_us = T0,
                                     .expires_us = T0 + SEC};
    assert_int_equal(store_delivery_add(f->st, &bad, NULL, NULL), HX_ENOTFOUND);
    bad.webhook_id = 0;
    bad.event = "";
    assert_int_equal(store_delivery_add(f->st, &bad, NULL, NULL), HX_EINVAL);
    bad.event = "x";
    bad.payload_len = STORE_DELIVERY_PAYLOAD_MAX + 1;
    assert_int_equal(store_delivery_add(f->st, &bad, NULL, NULL), HX_EINVAL);
}

static void test_delivery_claim_leases_and_counts_attempts(void **state)
{
    struct fx *f = *state;
    add_hook(f->st, "ehr", 1);
    for (int i = 0; i < 3; i++)
        notify(f->st, 0, 2, T0 + i, NULL);

    struct seen s = {0};
    /* Nothing due before T0. */
    assert_int_equal(store_delivery_claim(f->st, T0 - 1, T0 + 10 * SEC, 4, on_delivery, &s), 0);
    assert_int_equal(s.n, 0);
    /* Two slots: the two oldest due rows are claimed, attempt 1, with url and secret. */
    assert_int_equal(store_delivery_claim(f->st, T0 + 5, T0 + 10 * SEC, 2, on_delivery, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.attempts[0], 1);
    assert_int_equal(s.state[0], STORE_DELIVERY_PENDING);
    assert_int_equal(s.next[0], T0 + 10 * SEC);
    assert_string_equal(s.url[0], "https://example.org/hooks/ehr");
    assert_string_equal(s.secret[0], "secret-of-ehr");
    assert_true(s.id[0] < s.id[1]);
    /* The leased rows are not due again; the third is. */
    s.n = 0;
    assert_int_equal(store_delivery_claim(f->st, T0 + 6, T0 + 10 * SEC, 4, on_delivery, &s), 0);
    assert_int_equal(s.n, 1);
    int64_t third = s.id[0];
    /* No result before the lease ends (a crash): due again, with a new attempt number. */
    s.n = 0;
    assert_int_equal(store_delivery_claim(f->st, T0 + 10 * SEC, T0 + 20 * SEC, 4, on_delivery, &s),
                     0);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.attempts[i], 2);

    /* Results only apply to the attempt that is current. */
    assert_int_equal(store_delivery_set_result(f->st, third, 1, STORE_DELIVERY_DELIVERED, 0, NULL,
                                               T0 + 11 * SEC),
                     HX_ENOTFOUND);
    assert_int_equal(store_delivery_set_result(f->st, third, 2, STORE_DELIVERY_PENDING,
                                               T0 + 12 * SEC, "HTTP 503", T0 + 11 * SEC),
                     0);
    s.n = 0;
    assert_int_equal(store_delivery_get(f->st, third, on_delivery, &s), 0);
    assert_string_equal(s.error[0], "HTTP 503");
    assert_int_equal(s.next[0], T0 + 12 * SEC);
    assert_int_equal(
        store_delivery_set_result(f->st, third, 2, STORE_DELIVERY_DELIVERED, 0, "", T0 + 12 * SEC),
        0);
    /* Final: nothing changes it any more. */
    assert_int_equal(
        store_delivery_set_result(f->st, third, 2, STORE_DELIVERY_PENDING, 0, "", T0 + 13 * SEC),
        HX_ENOTFOUND);
    int64_t n;
    assert_int_equal(store_delivery_count(f->st, STORE_DELIVERY_DELIVERED, &n), 0);
    assert_int_equal(n, 1);
}

static void test_delivery_claim_expires_to_dead(void **state)
{
    struct fx *f = *state;
    add_hook(f->st, "ehr", 1);
    int64_t id;
    notify(f->st, 0, 2, T0, &id); /* expires at T0 + 60 s */
    struct seen s = {0};
    assert_int_equal(store_delivery_claim(f->st, T0, T0 + 5 * SEC, 1, on_delivery, &s), 0);
    assert_int_equal(store_delivery_set_result(f->st, id, 1, STORE_DELIVERY_PENDING, T0 + 6 * SEC,
                                               "connection refused", T0 + SEC),
                     0);
    /* Due after expiry (the daemon was down): dead, not attempted, even with no slot. */
    s.n = 0;
    assert_int_equal(store_delivery_claim(f->st, T0 + 61 * SEC, T0 + 70 * SEC, 0, on_delivery, &s),
                     0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.state[0], STORE_DELIVERY_DEAD);
    assert_int_equal(s.attempts[0], 1);
    assert_string_equal(s.error[0], "expired after 1 attempts: connection refused");

    s.n = 0;
    assert_int_equal(store_delivery_list(f->st, STORE_DELIVERY_DEAD, 0, on_delivery, &s), 0);
    assert_int_equal(s.n, 1);
    /* Retry: pending again, due now, attempts keep counting. */
    assert_int_equal(store_delivery_retry(f->st, id, T0 + 100 * SEC, T0 + 200 * SEC), 0);
    assert_int_equal(store_delivery_retry(f->st, id, T0 + 100 * SEC, T0 + 200 * SEC),
                     HX_ENOTFOUND); /* not dead any more */
    s.n = 0;
    assert_int_equal(
        store_delivery_claim(f->st, T0 + 100 * SEC, T0 + 110 * SEC, 1, on_delivery, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.attempts[0], 2);
}

static void test_webhook_remove_moves_pending_to_dead(void **state)
{
    struct fx *f = *state;
    add_hook(f->st, "ehr", 1);
    add_hook(f->st, "pager", 1);
    int64_t last;
    notify(f->st, 0, 2, T0, &last); /* one each */
    notify(f->st, 0, 2, T0, &last);
    struct seen s = {0};
    /* One of pager's is delivered first: it stays delivered. */
    assert_int_equal(store_delivery_claim(f->st, T0, T0 + SEC, 4, on_delivery, &s), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(
        store_delivery_set_result(f->st, last, 1, STORE_DELIVERY_DELIVERED, 0, "", T0 + 1), 0);

    size_t n_dead = 99;
    assert_int_equal(store_webhook_remove(f->st, "pager", T0 + 2, &n_dead), 0);
    assert_int_equal(n_dead, 1);
    assert_int_equal(store_webhook_remove(f->st, "pager", T0 + 2, &n_dead), HX_ENOTFOUND);
    s.n = 0;
    assert_int_equal(store_delivery_list(f->st, STORE_DELIVERY_DEAD, 0, on_delivery, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.error[0], "webhook removed");
    assert_string_equal(s.webhook[0], ""); /* the name went with the webhook */
    /* A dead delivery of a removed webhook cannot be retried. */
    assert_int_equal(store_delivery_retry(f->st, s.id[0], T0 + 3, T0 + 100 * SEC), HX_ENOTFOUND);
    /* The in-flight attempt's result is ignored now. */
    assert_int_equal(
        store_delivery_set_result(f->st, s.id[0], 1, STORE_DELIVERY_DELIVERED, 0, "", T0 + 4),
        HX_ENOTFOUND);
    s.n = 0;
    assert_int_equal(store_delivery_list(f->st, -1, 2, on_delivery, &s), 0);
    assert_int_equal(s.n, 2); /* limit */
    assert_true(s.id[0] > s.id[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_webhook_add_get_list),
        T(test_delivery_add_matches_severity),
        T(test_delivery_claim_leases_and_counts_attempts),
        T(test_delivery_claim_expires_to_dead),
        T(test_webhook_remove_moves_pending_to_dead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
