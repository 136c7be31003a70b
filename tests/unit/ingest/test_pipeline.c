/*
 * Unit tests for src/ingest/pipeline.c with a real store writer on a temporary database:
 * attribution (device, patient at each reading's time, receive time), one writer request per
 * message, completion only when durable, -EAGAIN backpressure with a waiter, and errors that
 * never call back. Device events the same way through the event writer: attribution,
 * durable before the callback, callbacks in submit order, redeliveries stored once, a
 * bounded queue, a store that cannot be opened, and the drain at ingest_stop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hxtime.h"
#include "domain/codes.h"
#include "ingest/pipeline.h"
#include "ingest/registry.h"
#include "ingest/senml.h"
#include "store/store.h"
#include "store/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char dir[64];
    struct cfg_store cfg;
    struct store *st;
    int64_t dev, p1, p2;
    uv_loop_t loop;
    struct store_writer *w;
    struct registry *reg;
    struct ingest *ig;
};

static int setup_with(void **state, uint32_t queue_max)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/medhub-test-pipe-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cfg.path, sizeof(f->cfg.path), "%s/medhub.db", f->dir);
    f->cfg.busy_timeout_ms = 5000;
    f->cfg.batch_max = 8;
    f->cfg.queue_max = queue_max;
    f->cfg.sync = CFG_SYNC_NORMAL;
    char err[256];
    assert_int_equal(store_open(&f->st, &f->cfg, STORE_OPEN_CREATE, err, sizeof(err)), 0);
    struct device d = {.battery_pct = -1};
    snprintf(d.uid, sizeof(d.uid), "dev-a");
    snprintf(d.kind, sizeof(d.kind), "oximeter");
    assert_int_equal(store_device_add(f->st, &d), 0);
    f->dev = d.id;
    struct patient p = {0};
    snprintf(p.mrn, sizeof(p.mrn), "MRN1");
    assert_int_equal(store_patient_add(f->st, &p), 0);
    f->p1 = p.id;
    snprintf(p.mrn, sizeof(p.mrn), "MRN2");
    assert_int_equal(store_patient_add(f->st, &p), 0);
    f->p2 = p.id;
    assert_int_equal(store_device_assign(f->st, f->dev, f->p1, 1000000), 0);
    assert_int_equal(store_device_assign(f->st, f->dev, f->p2, 2000000), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(store_writer_start(&f->w, &f->loop, &f->cfg, err, sizeof(err)), 0);
    assert_int_equal(reg_new(&f->reg, &f->loop, &f->cfg, err, sizeof(err)), 0);
    ingest_new(&f->ig, &f->loop, &f->cfg, f->w, f->reg);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 1024);
}

static int setup_small(void **state)
{
    return setup_with(state, 4);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->w)
        store_writer_stop(f->w);
    reg_stop(f->reg);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ingest_free(f->ig);
    reg_free(f->reg);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    store_close(f->st);
    char p[128];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/medhub.db%s", f->dir, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

struct done {
    int calls;
    int status;
    int64_t rows_at_callback;
    struct store *st;
};

static void on_done(void *arg, int status)
{
    struct done *d = arg;
    d->calls++;
    d->status = status;
    /* Durable means visible to another connection right now. */
    store_obs_count(d->st, &d->rows_at_callback);
}

static void make_obs(struct obs *o, size_t n, int64_t t0)
{
    for (size_t i = 0; i < n; i++)
        o[i] = (struct obs){.code = OBS_CODE_HEART_RATE,
                            .value = 60.0 + (double)i,
                            .effective_us = t0 + (int64_t)i * 1000000};
}

static int collect(void *arg, const struct obs *o)
{
    struct obs *out = arg;
    for (int i = 0; i < 8; i++) {
        if (out[i].code == 0) {
            out[i] = *o;
            return 0;
        }
    }
    return 1;
}

static void test_pipeline_attributes_and_calls_back_when_durable(void **state)
{
    struct fx *f = *state;
    struct obs o[3];
    make_obs(o, 3, 500000); /* 0.5 s (unassigned), 1.5 s (MRN1), 2.5 s (MRN2) */
    struct done d = {.st = f->st};
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 3, 777, on_done, &d), 0);
    assert_int_equal(d.calls, 0); /* never synchronously */
    uv_run(&f->loop, UV_RUN_ONCE);
    while (d.calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    /* Durable (in the ingest log) at the callback; in the database a moment later. */
    int64_t rows = 0, deadline = hx_time_mono_us() + 5 * HX_USEC_PER_SEC;
    while (store_obs_count(f->st, &rows) == 0 && rows < 3 && hx_time_mono_us() < deadline)
        usleep(2000);
    assert_int_equal(rows, 3);
    struct obs got[8];
    memset(got, 0, sizeof(got));
    assert_int_equal(store_obs_range(f->st, f->p1, 0, 0, INT64_MAX, 0, collect, got), 0);
    assert_int_equal(got[0].device_id, f->dev);
    assert_int_equal(got[0].effective_us, 1500000);
    assert_int_equal(got[0].received_us, 777);
    assert_int_equal(got[1].code, 0); /* only one for MRN1 */
    memset(got, 0, sizeof(got));
    assert_int_equal(store_obs_range(f->st, f->p2, 0, 0, INT64_MAX, 0, collect, got), 0);
    assert_int_equal(got[0].effective_us, 2500000);
    struct ingest_stats st;
    ingest_get_stats(f->ig, &st);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.observations, 3);
    assert_int_equal(st.durable, 1);
    assert_int_equal(st.unassigned, 1);
    assert_int_equal(st.in_flight, 0);
}

/* A manual entry: device 0, the patient given (whatever the time), durable before the
 * callback, seen by the observer like a device's reading. */
struct seen_obs {
    int calls;
    struct obs first;
};

static void on_observe(void *arg, const struct obs *obs, size_t n, int64_t now_us)
{
    struct seen_obs *s = arg;
    (void)n;
    (void)now_us;
    s->calls++;
    s->first = obs[0];
}

static void test_pipeline_manual_entry(void **state)
{
    struct fx *f = *state;
    struct seen_obs seen = {0};
    assert_int_equal(ingest_add_observer(f->ig, on_observe, &seen), 0);
    struct obs o[1];
    make_obs(o, 1, 100); /* before any assignment: still the patient given */
    struct done d = {.st = f->st};
    assert_int_equal(ingest_submit_manual(f->ig, 0, o, 1, 1, on_done, &d), HX_EINVAL);
    assert_int_equal(ingest_submit_manual(f->ig, f->p2, o, 0, 1, on_done, &d), HX_EINVAL);
    assert_int_equal(ingest_submit_manual(f->ig, f->p2, o, 1, 888, on_done, &d), 0);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.first.patient_id, f->p2);
    assert_int_equal(seen.first.device_id, 0);
    while (d.calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(d.status, 0);
    int64_t rows = 0, deadline = hx_time_mono_us() + 5 * HX_USEC_PER_SEC;
    while (store_obs_count(f->st, &rows) == 0 && rows < 1 && hx_time_mono_us() < deadline)
        usleep(2000);
    struct obs got[8];
    memset(got, 0, sizeof(got));
    assert_int_equal(store_obs_range(f->st, f->p2, 0, 0, INT64_MAX, 0, collect, got), 0);
    assert_int_equal(got[0].device_id, 0);
    assert_int_equal(got[0].effective_us, 100);
    assert_int_equal(got[0].received_us, 888);
    ingest_remove_observer(f->ig, on_observe, &seen);
}

static void test_pipeline_errors_never_call_back(void **state)
{
    struct fx *f = *state;
    struct obs o[9];
    make_obs(o, 9, 1500000);
    struct done d = {.st = f->st};
    assert_int_equal(ingest_submit(f->ig, 4242, o, 1, 1, on_done, &d), HX_ENOTFOUND);
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 0, 1, on_done, &d), HX_EINVAL);
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 9, 1, on_done, &d), HX_ETOOBIG);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(d.calls, 0);
    struct ingest_stats st;
    ingest_get_stats(f->ig, &st);
    assert_int_equal(st.rejected, 3);
}

/* An observer that counts what it saw and records its turn in a shared order log. */
struct seen {
    int calls;            /* calls so far */
    size_t n;             /* observations in the last call */
    int64_t patient;      /* the last call's first observation's patient */
    int *order, *n_order; /* shared: ids in call order */
    int id;               /* this observer's id */
};

static void observe(void *arg, const struct obs *obs, size_t n, int64_t now_us)
{
    struct seen *s = arg;
    (void)now_us;
    s->calls++;
    s->n = n;
    s->patient = obs[0].patient_id;
    s->order[(*s->n_order)++] = s->id;
}

static void test_pipeline_observers_in_order_add_remove(void **state)
{
    struct fx *f = *state;
    int order[16], n_order = 0;
    struct seen a = {.order = order, .n_order = &n_order, .id = 1};
    struct seen b = {.order = order, .n_order = &n_order, .id = 2};
    struct seen extra[INGEST_OBSERVERS_MAX];
    assert_int_equal(ingest_add_observer(f->ig, observe, &a), 0);
    assert_int_equal(ingest_add_observer(f->ig, observe, &b), 0);
    assert_int_equal(ingest_add_observer(f->ig, observe, &a), HX_EEXIST);
    assert_int_equal(ingest_add_observer(f->ig, NULL, &a), HX_EINVAL);
    for (int i = 0; i < INGEST_OBSERVERS_MAX - 2; i++)
        assert_int_equal(ingest_add_observer(f->ig, observe, &extra[i]), 0);
    assert_int_equal(ingest_add_observer(f->ig, observe, &extra[INGEST_OBSERVERS_MAX - 2]),
                     HX_EFULL);
    for (int i = 0; i < INGEST_OBSERVERS_MAX - 2; i++)
        ingest_remove_observer(f->ig, observe, &extra[i]);
    struct obs o[2];
    make_obs(o, 2, 1500000);
    struct done d = {.st = f->st};
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 2, 1, on_done, &d), 0);
    /* Both saw it at once, attributed, in the order they were added. */
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.patient, f->p1);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    /* A refused submit is not observed; a removed observer sees nothing more. */
    assert_int_equal(ingest_submit(f->ig, 4242, o, 1, 1, on_done, &d), HX_ENOTFOUND);
    ingest_remove_observer(f->ig, observe, &a);
    ingest_remove_observer(f->ig, observe, &a); /* a no-op */
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 1, 1, on_done, &d), 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 2);
    while (d.calls < 2)
        uv_run(&f->loop, UV_RUN_ONCE);
}

struct waiter_fx {
    struct fx *f;
    struct ingest_waiter w;
    int woken;
    struct done d2;
};

static void on_space(void *arg)
{
    struct waiter_fx *wf = arg;
    wf->woken++;
    struct obs o[3];
    make_obs(o, 3, 10000000);
    assert_int_equal(ingest_submit(wf->f->ig, wf->f->dev, o, 3, 1, on_done, &wf->d2), 0);
}

static void test_pipeline_backpressure_and_waiter(void **state)
{
    struct fx *f = *state; /* queue_max 4 */
    struct obs o[3];
    make_obs(o, 3, 1500000);
    struct done d1 = {.st = f->st};
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 3, 1, on_done, &d1), 0);
    struct waiter_fx wf = {.f = f, .d2 = {.st = f->st}};
    wf.w.cb = on_space;
    wf.w.arg = &wf;
    make_obs(o, 3, 5000000);
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 3, 1, on_done, &wf.d2), -EAGAIN);
    ingest_wait_space(f->ig, &wf.w);
    while (wf.d2.calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(d1.calls, 1);
    assert_int_equal(wf.woken, 1);
    assert_int_equal(wf.d2.status, 0);
    assert_false(wf.w.linked);
    struct ingest_stats st;
    ingest_get_stats(f->ig, &st);
    assert_int_equal(st.backpressure, 1);
    assert_int_equal(st.durable, 2);
    /* A cancelled waiter is never called. */
    ingest_wait_space(f->ig, &wf.w);
    ingest_waiter_cancel(f->ig, &wf.w);
    assert_false(wf.w.linked);
}

static void test_pipeline_failure_after_shutdown(void **state)
{
    struct fx *f = *state;
    struct obs o[1];
    make_obs(o, 1, 1500000);
    store_writer_stop(f->w);
    f->w = NULL;
    struct done d = {.st = f->st};
    /* The pipeline still points at the stopped writer until the loop runs its close. */
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 1, 1, on_done, &d), HX_ESHUTDOWN);
    assert_int_equal(d.calls, 0);
}

/* ---- device events ------------------------------------------------------------------------ */

static int count_event(void *arg, const struct dev_event *e)
{
    (void)e;
    (*(int64_t *)arg)++;
    return 0;
}

static int64_t n_events(struct store *st)
{
    int64_t n = 0;
    assert_int_equal(store_event_list(st, 0, 0, INT64_MIN, INT64_MAX, 0, count_event, &n), 0);
    return n;
}

struct ev_done {
    int calls;
    int status;
    int64_t rows_at_callback;
    struct store *st;
    int *order; /* appends its id here, when set */
    int *n_order;
    int id;
};

static void on_ev_done(void *arg, int status)
{
    struct ev_done *d = arg;
    d->calls++;
    d->status = status;
    /* Durable means visible to another connection right now. */
    d->rows_at_callback = n_events(d->st);
    if (d->order)
        d->order[(*d->n_order)++] = d->id;
}

/* n events one second apart from t0: alternately text (pill_taken) and flag (fall). */
static void make_events(struct senml_event *ev, size_t n, int64_t t0)
{
    for (size_t i = 0; i < n; i++) {
        ev[i] = (struct senml_event){.time_us = t0 + (int64_t)i * 1000000};
        if (i % 2 == 0) {
            ev[i].type = DEV_EVENT_PILL_TAKEN;
            ev[i].has_text = true;
            snprintf(ev[i].text, sizeof(ev[i].text), "dose-%zu", i);
        } else {
            ev[i].type = DEV_EVENT_FALL;
            ev[i].flag = true;
        }
    }
}

static void run_until(struct fx *f, const int *calls, int want)
{
    while (*calls < want)
        uv_run(&f->loop, UV_RUN_ONCE);
}

struct ev_collect {
    struct dev_event ev[16];
    int n;
};

static int collect_event(void *arg, const struct dev_event *e)
{
    struct ev_collect *c = arg;
    if (c->n < 16)
        c->ev[c->n] = *e;
    c->n++;
    return 0;
}

static void test_pipeline_events_attributed_and_durable(void **state)
{
    struct fx *f = *state;
    struct senml_event ev[3];
    make_events(ev, 3, 500000); /* 0.5 s (unassigned), 1.5 s (MRN1), 2.5 s (MRN2) */
    struct ev_done d = {.st = f->st};
    assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 3, 777, on_ev_done, &d), 0);
    assert_int_equal(d.calls, 0); /* never synchronously */
    run_until(f, &d.calls, 1);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.rows_at_callback, 3);

    struct ev_collect c = {0};
    assert_int_equal(store_event_list(f->st, f->dev, 0, INT64_MIN, INT64_MAX, 0, collect_event, &c),
                     0);
    assert_int_equal(c.n, 3);
    /* Newest first: 2.5 s pill_taken (MRN2), 1.5 s fall (MRN1), 0.5 s pill_taken (none). */
    assert_int_equal(c.ev[0].patient_id, f->p2);
    assert_int_equal(c.ev[0].type, DEV_EVENT_PILL_TAKEN);
    assert_true(c.ev[0].has_text);
    assert_string_equal(c.ev[0].text, "dose-2");
    assert_int_equal(c.ev[0].received_us, 777);
    assert_int_equal(c.ev[0].device_id, f->dev);
    assert_int_equal(c.ev[1].patient_id, f->p1);
    assert_int_equal(c.ev[1].type, DEV_EVENT_FALL);
    assert_false(c.ev[1].has_text);
    assert_true(c.ev[1].flag);
    assert_int_equal(c.ev[2].patient_id, 0);
    assert_int_equal(c.ev[2].time_us, 500000);

    struct ingest_stats st;
    ingest_get_stats(f->ig, &st);
    assert_int_equal(st.event_messages, 1);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.events_stored, 3);
    assert_int_equal(st.events_duplicate, 0);
    assert_int_equal(st.events_failed, 0);
    assert_int_equal(st.events_unassigned, 1);
    assert_int_equal(st.events_queued, 0);
    assert_int_equal(st.messages, 0); /* events are not telemetry */
}

static void test_pipeline_events_in_submit_order_and_redelivery_once(void **state)
{
    struct fx *f = *state;
    int order[8], n_order = 0;
    struct ev_done d[5];
    struct senml_event ev[2];
    for (int i = 0; i < 5; i++) {
        d[i] = (struct ev_done){.st = f->st, .order = order, .n_order = &n_order, .id = i};
        /* Request 3 redelivers request 1 (the same events, as after a lost PUBACK). */
        make_events(ev, 2, 1500000 + (i == 3 ? 1 : i) * 10000000);
        assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 2, 1, on_ev_done, &d[i]), 0);
    }
    run_until(f, &n_order, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(order[i], i);
        assert_int_equal(d[i].status, 0);
    }
    assert_int_equal(n_events(f->st), 8);
    struct ingest_stats st;
    ingest_get_stats(f->ig, &st);
    assert_int_equal(st.event_messages, 5);
    assert_int_equal(st.events, 10);
    assert_int_equal(st.events_stored, 8);
    assert_int_equal(st.events_duplicate, 2);
}

static void test_pipeline_events_errors_never_call_back(void **state)
{
    struct fx *f = *state; /* queue_max 4 */
    struct senml_event ev[5];
    make_events(ev, 5, 1500000);
    struct ev_done d = {.st = f->st};
    assert_int_equal(ingest_submit_events(f->ig, 4242, ev, 1, 1, on_ev_done, &d), HX_ENOTFOUND);
    assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 0, 1, on_ev_done, &d), HX_EINVAL);
    assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 5, 1, on_ev_done, &d), HX_ETOOBIG);
    ev[1].type = (enum dev_event_type)99;
    assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 2, 1, on_ev_done, &d), HX_EINVAL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(d.calls, 0);
    struct ingest_stats st;
    ingest_get_stats(f->ig, &st);
    assert_int_equal(st.rejected, 4);
    assert_int_equal(st.event_messages, 0);
}

struct ev_waiter_fx {
    struct fx *f;
    struct ingest_waiter w;
    int woken;
    struct ev_done d2;
};

static void on_ev_space(void *arg)
{
    struct ev_waiter_fx *wf = arg;
    wf->woken++;
    struct senml_event ev[3];
    make_events(ev, 3, 10000000);
    assert_int_equal(ingest_submit_events(wf->f->ig, wf->f->dev, ev, 3, 1, on_ev_done, &wf->d2), 0);
}

static void test_pipeline_events_backpressure_and_waiter(void **state)
{
    struct fx *f = *state; /* queue_max 4: the event queue holds 4 events */
    struct senml_event ev[3];
    make_events(ev, 3, 1500000);
    struct ev_done d1 = {.st = f->st};
    assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 3, 1, on_ev_done, &d1), 0);
    struct ev_waiter_fx wf = {.f = f, .d2 = {.st = f->st}};
    wf.w.cb = on_ev_space;
    wf.w.arg = &wf;
    assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 3, 1, on_ev_done, &wf.d2), -EAGAIN);
    ingest_wait_space(f->ig, &wf.w);
    run_until(f, &wf.d2.calls, 1);
    assert_int_equal(d1.calls, 1);
    assert_int_equal(wf.woken, 1);
    assert_int_equal(wf.d2.status, 0);
    assert_false(wf.w.linked);
    assert_int_equal(n_events(f->st), 6);
    struct ingest_stats st;
    ingest_get_stats(f->ig, &st);
    assert_int_equal(st.backpressure, 1);
    assert_int_equal(st.events_stored, 6);
}

static void test_pipeline_events_store_failure_calls_back_with_error(void **state)
{
    struct fx *f = *state;
    /* A second pipeline whose event writer cannot open its database. */
    struct cfg_store bad = f->cfg;
    snprintf(bad.path, sizeof(bad.path), "%s/missing/medhub.db", f->dir);
    struct ingest *ig;
    ingest_new(&ig, &f->loop, &bad, f->w, f->reg);
    struct senml_event ev[2];
    make_events(ev, 2, 1500000);
    struct ev_done d1 = {.st = f->st}, d2 = {.st = f->st};
    assert_int_equal(ingest_submit_events(ig, f->dev, ev, 2, 1, on_ev_done, &d1), 0);
    run_until(f, &d1.calls, 1);
    assert_int_equal(d1.status, -ENOENT);
    assert_int_equal(d1.rows_at_callback, 0);
    /* The next request tries to open again (and fails again), in order. */
    assert_int_equal(ingest_submit_events(ig, f->dev, ev, 2, 1, on_ev_done, &d2), 0);
    run_until(f, &d2.calls, 1);
    assert_int_equal(d2.status, -ENOENT);
    struct ingest_stats st;
    ingest_get_stats(ig, &st);
    assert_int_equal(st.events_failed, 4);
    assert_int_equal(st.events_stored, 0);
    assert_int_equal(st.events_queued, 0);
    ingest_stop(ig);
    ingest_free(ig);
}

static void test_pipeline_events_drain_at_stop(void **state)
{
    struct fx *f = *state;
    struct ev_done d[3];
    struct senml_event ev[2];
    int order[4], n_order = 0;
    for (int i = 0; i < 3; i++) {
        d[i] = (struct ev_done){.st = f->st, .order = order, .n_order = &n_order, .id = i};
        make_events(ev, 2, 1500000 + i * 10000000);
        assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 2, 1, on_ev_done, &d[i]), 0);
    }
    /* One job is in flight, two requests wait: stop refuses new work and drains the rest. */
    ingest_stop(f->ig);
    struct ev_done late = {.st = f->st};
    assert_int_equal(ingest_submit_events(f->ig, f->dev, ev, 2, 1, on_ev_done, &late),
                     HX_ESHUTDOWN);
    struct obs o[1];
    make_obs(o, 1, 1500000);
    struct done dobs = {.st = f->st};
    assert_int_equal(ingest_submit(f->ig, f->dev, o, 1, 1, on_done, &dobs), HX_ESHUTDOWN);
    store_writer_stop(f->w);
    f->w = NULL;
    reg_stop(f->reg);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* returns once the last event job has called back */
    assert_int_equal(n_order, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(order[i], i);
        assert_int_equal(d[i].status, 0);
    }
    assert_int_equal(late.calls, 0);
    assert_int_equal(dobs.calls, 0);
    assert_int_equal(n_events(f->st), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_attributes_and_calls_back_when_durable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_manual_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_errors_never_call_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_observers_in_order_add_remove, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_backpressure_and_waiter, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_failure_after_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_events_attributed_and_durable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_events_in_submit_order_and_redelivery_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_events_errors_never_call_back, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_events_backpressure_and_waiter, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_events_store_failure_calls_back_with_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_events_drain_at_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
