/*
 * Unit tests for the device event store (store_event_put_batch, store_event_list) on the
 * SQLite backend: flag and text values round trip, redelivered events are stored once,
 * listing filters (device, patient, window, limit, early stop) and newest-first order, and
 * events keep the patient they were attributed to when the device is reassigned.
 * Each test gets a fresh database in its own temporary directory.
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

struct fx {
    struct tdir t;
    struct store *st;
    int64_t dev1, dev2; /* device ids */
    int64_t p1, p2;     /* patient ids */
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
    struct device d = tdevice("pillbox-1", "pill_bottle");
    assert_int_equal(store_device_add(f->st, &d), 0);
    f->dev1 = d.id;
    d = tdevice("pendant-2", "gateway");
    assert_int_equal(store_device_add(f->st, &d), 0);
    f->dev2 = d.id;
    struct patient p = tpatient("MRN-A", "A", "", "");
    assert_int_equal(store_patient_add(f->st, &p), 0);
    f->p1 = p.id;
    p = tpatient("MRN-B", "B", "", "");
    assert_int_equal(store_patient_add(f->st, &p), 0);
    f->p2 = p.id;
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

static struct dev_event flag_event(int64_t dev, int64_t pat, enum dev_event_type type, int64_t t,
                                   bool flag)
{
    return (struct dev_event){.device_id = dev,
                              .patient_id = pat,
                              .type = type,
                              .time_us = t,
                              .received_us = t + 7,
                              .flag = flag};
}

static struct dev_event text_event(int64_t dev, int64_t pat, enum dev_event_type type, int64_t t,
                                   const char *text)
{
    struct dev_event e = flag_event(dev, pat, type, t, false);
    e.has_text = true;
    snprintf(e.text, sizeof(e.text), "%s", text);
    return e;
}

/* Collects list results. */
struct collect {
    struct dev_event ev[32];
    int n;
    int stop_after; /* return 5 after this many (0: never) */
};

static int on_event(void *arg, const struct dev_event *e)
{
    struct collect *c = arg;
    assert_true(c->n < 32);
    c->ev[c->n++] = *e;
    return c->stop_after && c->n == c->stop_after ? 5 : 0;
}

static int list(struct fx *f, int64_t dev, int64_t pat, int64_t since, int64_t until, size_t limit,
                struct collect *c)
{
    memset(c->ev, 0, sizeof(c->ev));
    c->n = 0;
    return store_event_list(f->st, dev, pat, since, until, limit, on_event, c);
}

static void test_event_flag_and_text_round_trip(void **state)
{
    struct fx *f = *state;
    char long_text[DEV_EVENT_TEXT_MAX];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    struct dev_event ev[] = {
        text_event(f->dev1, f->p1, DEV_EVENT_PILL_TAKEN, 10 * SEC, "am-dose"),
        flag_event(f->dev1, f->p1, DEV_EVENT_FALL, 20 * SEC, true),
        flag_event(f->dev1, f->p1, DEV_EVENT_DOSE_MISSED, 30 * SEC, false),
        text_event(f->dev1, 0, DEV_EVENT_CONNECTION_LOST, 40 * SEC, long_text),
    };
    size_t ins = 99;
    assert_int_equal(store_event_put_batch(f->st, ev, 4, &ins), 0);
    assert_int_equal(ins, 4);

    struct collect c = {0};
    assert_int_equal(list(f, 0, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 4);
    /* Newest first. */
    assert_int_equal(c.ev[0].type, DEV_EVENT_CONNECTION_LOST);
    assert_true(c.ev[0].has_text);
    assert_string_equal(c.ev[0].text, long_text);
    assert_int_equal(c.ev[0].patient_id, 0);
    assert_int_equal(c.ev[1].type, DEV_EVENT_DOSE_MISSED);
    assert_false(c.ev[1].has_text);
    assert_false(c.ev[1].flag);
    assert_string_equal(c.ev[1].text, "");
    assert_int_equal(c.ev[2].type, DEV_EVENT_FALL);
    assert_false(c.ev[2].has_text);
    assert_true(c.ev[2].flag);
    assert_int_equal(c.ev[3].type, DEV_EVENT_PILL_TAKEN);
    assert_true(c.ev[3].has_text);
    assert_false(c.ev[3].flag);
    assert_string_equal(c.ev[3].text, "am-dose");
    assert_int_equal(c.ev[3].device_id, f->dev1);
    assert_int_equal(c.ev[3].patient_id, f->p1);
    assert_int_equal(c.ev[3].time_us, 10 * SEC);
    assert_int_equal(c.ev[3].received_us, 10 * SEC + 7);

    /* n = 0 writes nothing and is not an error; n_inserted may be NULL. */
    ins = 99;
    assert_int_equal(store_event_put_batch(f->st, ev, 0, &ins), 0);
    assert_int_equal(ins, 0);
    assert_int_equal(store_event_put_batch(f->st, ev, 1, NULL), 0);
}

static void test_event_redelivery_stored_once(void **state)
{
    struct fx *f = *state;
    struct dev_event ev[] = {
        text_event(f->dev1, f->p1, DEV_EVENT_BUTTON, 5 * SEC, "sos"),
        flag_event(f->dev1, f->p1, DEV_EVENT_FALL, 5 * SEC, true), /* same time, other type */
        flag_event(f->dev2, f->p1, DEV_EVENT_FALL, 5 * SEC, true), /* same time, other device */
    };
    size_t ins;
    assert_int_equal(store_event_put_batch(f->st, ev, 3, &ins), 0);
    assert_int_equal(ins, 3);
    /* The same message again (MQTT DUP): nothing new, no error. */
    assert_int_equal(store_event_put_batch(f->st, ev, 3, &ins), 0);
    assert_int_equal(ins, 0);
    /* The key is (device, type, time): a changed value at the same key keeps the first. */
    struct dev_event again[] = {
        text_event(f->dev1, f->p1, DEV_EVENT_BUTTON, 5 * SEC, "call"),
        flag_event(f->dev1, f->p1, DEV_EVENT_BUTTON, 6 * SEC, true),
        flag_event(f->dev1, f->p1, DEV_EVENT_BUTTON, 6 * SEC, false), /* twice in one batch */
    };
    assert_int_equal(store_event_put_batch(f->st, again, 3, &ins), 0);
    assert_int_equal(ins, 1);
    struct collect c = {0};
    assert_int_equal(list(f, f->dev1, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.ev[0].time_us, 6 * SEC);
    assert_true(c.ev[0].flag); /* the first of the batch */
    /* Ties at 5 s: higher type first (fall 4, button 3). */
    assert_int_equal(c.ev[1].type, DEV_EVENT_FALL);
    assert_int_equal(c.ev[2].type, DEV_EVENT_BUTTON);
    assert_string_equal(c.ev[2].text, "sos");
}

static void test_event_invalid_type_stores_nothing(void **state)
{
    struct fx *f = *state;
    struct dev_event ev[] = {
        flag_event(f->dev1, f->p1, DEV_EVENT_FALL, 1 * SEC, true),
        flag_event(f->dev1, f->p1, (enum dev_event_type)(DEV_EVENT_TYPE_MAX + 1), 2 * SEC, true),
    };
    size_t ins = 99;
    assert_int_equal(store_event_put_batch(f->st, ev, 2, &ins), HX_EINVAL);
    assert_int_equal(ins, 0);
    ev[1].type = (enum dev_event_type)0;
    assert_int_equal(store_event_put_batch(f->st, ev, 2, &ins), HX_EINVAL);
    struct collect c = {0};
    assert_int_equal(list(f, 0, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 0);
}

static void test_event_read_only_connection_refuses(void **state)
{
    struct fx *f = *state;
    struct store *ro;
    char err[256];
    assert_int_equal(store_open(&ro, &f->t.cfg, STORE_OPEN_READONLY, err, sizeof(err)), 0);
    struct dev_event e = flag_event(f->dev1, f->p1, DEV_EVENT_FALL, 1 * SEC, true);
    size_t ins = 99;
    assert_int_equal(store_event_put_batch(ro, &e, 1, &ins), HX_EREADONLY);
    assert_int_equal(ins, 0);
    store_close(ro);
    struct collect c = {0};
    assert_int_equal(list(f, 0, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 0);
}

static void test_event_list_filters(void **state)
{
    struct fx *f = *state;
    struct dev_event ev[] = {
        flag_event(f->dev1, f->p1, DEV_EVENT_PILL_TAKEN, 10 * SEC, true),
        flag_event(f->dev1, f->p1, DEV_EVENT_PILL_TAKEN, 20 * SEC, true),
        flag_event(f->dev2, f->p1, DEV_EVENT_BUTTON, 15 * SEC, true),
        flag_event(f->dev2, f->p2, DEV_EVENT_BUTTON, 25 * SEC, true),
        flag_event(f->dev2, 0, DEV_EVENT_CONNECTION_LOST, 30 * SEC, true),
    };
    assert_int_equal(store_event_put_batch(f->st, ev, 5, NULL), 0);
    struct collect c = {0};

    /* Device. */
    assert_int_equal(list(f, f->dev1, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ev[0].time_us, 20 * SEC);
    assert_int_equal(c.ev[1].time_us, 10 * SEC);
    /* Patient, across devices, newest first; unattributed events are not a patient's. */
    assert_int_equal(list(f, 0, f->p1, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.ev[0].time_us, 20 * SEC);
    assert_int_equal(c.ev[1].time_us, 15 * SEC);
    assert_int_equal(c.ev[1].device_id, f->dev2);
    assert_int_equal(c.ev[2].time_us, 10 * SEC);
    /* Device and patient. */
    assert_int_equal(list(f, f->dev2, f->p2, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ev[0].time_us, 25 * SEC);
    assert_int_equal(list(f, f->dev1, f->p2, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 0);
    /* Window: since inclusive, until exclusive. */
    assert_int_equal(list(f, 0, 0, 15 * SEC, 25 * SEC, 0, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ev[0].time_us, 20 * SEC);
    assert_int_equal(c.ev[1].time_us, 15 * SEC);
    assert_int_equal(list(f, f->dev2, 0, 15 * SEC, 25 * SEC, 0, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(list(f, 0, f->p1, 15 * SEC, 25 * SEC, 0, &c), 0);
    assert_int_equal(c.n, 2);
    /* An empty or inverted window lists nothing. */
    assert_int_equal(list(f, 0, 0, 25 * SEC, 25 * SEC, 0, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(list(f, 0, 0, 30 * SEC, 10 * SEC, 0, &c), 0);
    assert_int_equal(c.n, 0);
    /* Limit keeps the newest. */
    assert_int_equal(list(f, 0, 0, INT64_MIN, INT64_MAX, 2, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ev[0].time_us, 30 * SEC);
    assert_int_equal(c.ev[1].time_us, 25 * SEC);
    assert_int_equal(list(f, 0, f->p1, INT64_MIN, INT64_MAX, 1, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ev[0].time_us, 20 * SEC);
    /* The callback's non-zero return stops the listing and is returned. */
    c.stop_after = 3;
    assert_int_equal(list(f, 0, 0, INT64_MIN, INT64_MAX, 0, &c), 5);
    assert_int_equal(c.n, 3);
    /* The statement was reset: the next listing starts afresh. */
    c.stop_after = 0;
    assert_int_equal(list(f, 0, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 5);
    /* Unknown ids list nothing. */
    assert_int_equal(list(f, 4242, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 0);
}

/* Events keep the patient they were attributed to (the assignment at the event's time, as
 * the ingest pipeline resolves it): a later reassignment changes nothing stored. */
static void test_event_attribution_survives_reassignment(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_device_assign(f->st, f->dev1, f->p1, 100 * SEC), 0);
    assert_int_equal(store_device_assign(f->st, f->dev1, f->p2, 200 * SEC), 0);
    const int64_t times[] = {50 * SEC, 150 * SEC, 250 * SEC};
    struct dev_event ev[3];
    for (int i = 0; i < 3; i++) {
        int64_t pat;
        assert_int_equal(store_device_patient_at(f->st, f->dev1, times[i], &pat), 0);
        ev[i] = flag_event(f->dev1, pat, DEV_EVENT_PILL_TAKEN, times[i], true);
    }
    assert_int_equal(store_event_put_batch(f->st, ev, 3, NULL), 0);
    assert_int_equal(store_device_unassign(f->st, f->dev1, 300 * SEC), 0);

    struct collect c = {0};
    assert_int_equal(list(f, 0, f->p1, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ev[0].time_us, 150 * SEC);
    assert_int_equal(list(f, 0, f->p2, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ev[0].time_us, 250 * SEC);
    assert_int_equal(list(f, f->dev1, 0, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.ev[2].time_us, 50 * SEC);
    assert_int_equal(c.ev[2].patient_id, 0); /* before any assignment */
    /* A redelivery after the reassignment is still the same event: not stored again. */
    size_t ins = 99;
    struct dev_event late = flag_event(f->dev1, f->p2, DEV_EVENT_PILL_TAKEN, 150 * SEC, true);
    assert_int_equal(store_event_put_batch(f->st, &late, 1, &ins), 0);
    assert_int_equal(ins, 0);
    assert_int_equal(list(f, 0, f->p1, INT64_MIN, INT64_MAX, 0, &c), 0);
    assert_int_equal(c.n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event_flag_and_text_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_redelivery_stored_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_invalid_type_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_read_only_connection_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_attribution_survives_reassignment, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
