/*
 * Unit tests for src/ingest/pipeline.c with a real store writer on a temporary database:
 * attribution (device, patient at each reading's time, receive time), one writer request per
 * message, completion only when durable, -EAGAIN backpressure with a waiter, and errors that
 * never call back.
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
    ingest_new(&f->ig, f->w, f->reg);
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
    assert_int_equal(d.rows_at_callback, 3);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_attributes_and_calls_back_when_durable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_errors_never_call_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_backpressure_and_waiter, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_failure_after_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
