/*
 * Unit tests for the store writer on a real libuv loop: callbacks in enqueue order with
 * status 0 and the data queryable a moment afterwards, backpressure (-EAGAIN at queue_max),
 * argument errors, a locked database delaying only the apply (never the acknowledgement),
 * the ingest log replayed at the next start when a stop could not apply it, and stop
 * flushing everything. Every test ends with uv_loop_close() == 0.
 * White-box in one place: the lock test reaches the SQLite handle through sqlst_int.h to
 * hold a write lock from a second connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "store/sqlite/sqlst_int.h"
#include "store/store.h"
#include "store/store_testutil.h"
#include "store/writer.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

struct done {
    uint64_t last_seq; /* from the callback */
    int status;        /* from the callback */
    int order;         /* how many callbacks ran before this one */
};

struct fx {
    struct tdir t;
    uv_loop_t loop;
    struct store_writer *w;
    struct done done[64]; /* by request number */
    int n_done;           /* callbacks run */
    /* For callbacks that act: */
    struct obs retry_obs; /* enqueued from a callback */
    int retry_rc;         /* its result, 1 before */
};

struct req {
    struct fx *f;
    int i; /* request number */
};

static struct req reqs[64];

static void on_done(void *arg, uint64_t last_seq, int status)
{
    struct req *r = arg;
    r->f->done[r->i] = (struct done){.last_seq = last_seq, .status = status, .order = r->f->n_done};
    r->f->n_done++;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tdir_init(&f->t);
    char err[256];
    struct store *st;
    if (store_open(&st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    store_close(st);
    uv_loop_init(&f->loop);
    for (int i = 0; i < 64; i++)
        reqs[i] = (struct req){.f = f, .i = i};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tdir_release(&f->t);
    free(f);
    return 0;
}

static void start(struct fx *f)
{
    char err[256];
    int rc = store_writer_start(&f->w, &f->loop, &f->t.cfg, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "store_writer_start: %s\n", err);
    assert_int_equal(rc, 0);
}

/* Runs the loop until n callbacks have run (5 s guard). */
static void run_until(struct fx *f, int n)
{
    int64_t deadline = hx_time_mono_us() + 5 * HX_USEC_PER_SEC;
    while (f->n_done < n) {
        assert_true(hx_time_mono_us() < deadline);
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

/* Stops the writer, runs the loop to free it, and checks nothing is left on the loop. */
static void stop_and_close(struct fx *f)
{
    store_writer_stop(f->w);
    f->w = NULL;
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* n readings of patient p, code 1, at t0, t0+1, ... with value = base + i. */
static void make(struct obs *o, size_t n, int64_t p, int64_t t0, double base)
{
    for (size_t i = 0; i < n; i++)
        o[i] = tobs(p, p, 1, t0 + (int64_t)i, base + (double)i);
}

static int64_t count_rows(struct fx *f)
{
    char err[256];
    struct store *st;
    assert_int_equal(store_open(&st, &f->t.cfg, STORE_OPEN_READONLY, err, sizeof(err)), 0);
    int64_t n = -1;
    assert_int_equal(store_obs_count(st, &n), 0);
    store_close(st);
    return n;
}

/* Acknowledged rows reach the database a moment after their callback (the apply thread):
 * waits up to 5 s for n rows. */
static int64_t wait_rows(struct fx *f, int64_t n)
{
    int64_t deadline = hx_time_mono_us() + 5 * HX_USEC_PER_SEC, got;
    while ((got = count_rows(f)) < n && hx_time_mono_us() < deadline)
        usleep(5000);
    return got;
}

static void test_writer_callbacks_in_order(void **state)
{
    struct fx *f = *state;
    start(f);
    static const size_t sizes[] = {1, 3, 8, 2, 5};
    uint64_t want_seq = 0;
    int64_t t = 1000;
    for (int i = 0; i < 5; i++) {
        struct obs o[8];
        make(o, sizes[i], 1 + i, t, 100.0 * i);
        t += 100;
        uint64_t last = 0;
        assert_int_equal(store_writer_enqueue(f->w, o, sizes[i], on_done, &reqs[i], &last), 0);
        want_seq += sizes[i];
        assert_int_equal(last, want_seq);
    }
    struct store_writer_stats s;
    store_writer_get_stats(f->w, &s);
    assert_int_equal(s.enqueued, 19);
    run_until(f, 5);
    want_seq = 0;
    for (int i = 0; i < 5; i++) {
        want_seq += sizes[i];
        assert_int_equal(f->done[i].status, 0);
        assert_int_equal(f->done[i].order, i);
        assert_int_equal(f->done[i].last_seq, want_seq);
    }
    store_writer_get_stats(f->w, &s);
    assert_int_equal(s.committed, 19);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.durable_seq, 19);
    assert_true(s.commits >= 1 && s.commits <= 5);

    /* The data is there, visible to another connection, with the right values. */
    assert_int_equal(wait_rows(f, 19), 19);
    char err[256];
    struct store *st;
    assert_int_equal(store_open(&st, &f->t.cfg, STORE_OPEN_READONLY, err, sizeof(err)), 0);
    struct obs_bucket b[1];
    assert_int_equal(store_obs_downsample(st, 3, 1, 1200, 1300, 1, b), 0); /* request 2 */
    assert_int_equal(b[0].count, 8);
    assert_true(b[0].min == 200 && b[0].max == 207);
    store_close(st);

    /* A duplicate request commits (status 0) and is counted as a duplicate. */
    struct obs o[3];
    make(o, 3, 2, 1100, 100);
    assert_int_equal(store_writer_enqueue(f->w, o, 3, on_done, &reqs[5], NULL), 0);
    run_until(f, 6);
    assert_int_equal(f->done[5].status, 0);
    store_writer_stop(f->w); /* the apply thread counts duplicates: read its final totals */
    store_writer_get_stats(f->w, &s);
    assert_int_equal(s.duplicates, 3);
    assert_int_equal(s.applied, 22);
    f->w = NULL;
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(count_rows(f), 19);
}

static void on_done_retry(void *arg, uint64_t last_seq, int status)
{
    struct req *r = arg;
    on_done(arg, last_seq, status);
    if (r->f->retry_rc == 1) /* the first completion frees room: retry right here */
        r->f->retry_rc =
            store_writer_enqueue(r->f->w, &r->f->retry_obs, 1, on_done, &reqs[40], NULL);
}

static void test_writer_backpressure_and_limits(void **state)
{
    struct fx *f = *state;
    f->t.cfg.queue_max = 16;
    f->t.cfg.batch_max = 8;
    start(f);
    struct obs o[9];
    make(o, 9, 1, 0, 1);
    f->retry_obs = tobs(1, 1, 2, 0, 5);
    f->retry_rc = 1;

    assert_int_equal(store_writer_enqueue(f->w, o, 9, on_done, &reqs[0], NULL), HX_ETOOBIG);
    assert_int_equal(store_writer_enqueue(f->w, o, 0, on_done, &reqs[0], NULL), HX_EINVAL);
    struct obs bad = tobs(1, 1, 1, 5, NAN);
    assert_int_equal(store_writer_enqueue(f->w, &bad, 1, on_done, &reqs[0], NULL), HX_EINVAL);
    bad.value = INFINITY;
    assert_int_equal(store_writer_enqueue(f->w, &bad, 1, on_done, &reqs[0], NULL), HX_EINVAL);

    assert_int_equal(store_writer_enqueue(f->w, o, 8, on_done_retry, &reqs[0], NULL), 0);
    make(o, 8, 1, 100, 1);
    assert_int_equal(store_writer_enqueue(f->w, o, 8, on_done, &reqs[1], NULL), 0);
    /* 16 queued: full until a callback has run, whatever the writer has committed. */
    make(o, 1, 1, 200, 1);
    assert_int_equal(store_writer_enqueue(f->w, o, 1, on_done, &reqs[2], NULL), -EAGAIN);
    usleep(50 * 1000);
    assert_int_equal(store_writer_enqueue(f->w, o, 1, on_done, &reqs[2], NULL), -EAGAIN);
    struct store_writer_stats s;
    store_writer_get_stats(f->w, &s);
    assert_int_equal(s.queued, 16);
    assert_int_equal(s.enqueued, 16);

    run_until(f, 1);
    assert_int_equal(f->retry_rc, 0); /* room after the first completion, from its callback */
    run_until(f, 3);
    assert_int_equal(f->done[0].status, 0);
    assert_int_equal(f->done[1].status, 0);
    assert_int_equal(f->done[40].status, 0);
    assert_int_equal(f->done[40].last_seq, 17);
    assert_int_equal(store_writer_enqueue(f->w, o, 1, on_done, &reqs[2], NULL), 0);
    run_until(f, 4);
    stop_and_close(f);
    assert_int_equal(count_rows(f), 18);
}

static void test_writer_locked_database_delays_only_the_apply(void **state)
{
    struct fx *f = *state;
    f->t.cfg.busy_timeout_ms = 0; /* the apply's BEGIN IMMEDIATE fails at once when locked */
    start(f);

    /* A second connection holds the write lock. */
    char err[256];
    struct store *other;
    assert_int_equal(store_open(&other, &f->t.cfg, 0, err, sizeof(err)), 0);
    struct sqlst *db = sqlst__from(other);
    assert_int_equal(sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    /* Durable in the ingest log: acknowledged although the database cannot take them. */
    struct obs o[4];
    make(o, 4, 1, 0, 1);
    assert_int_equal(store_writer_enqueue(f->w, o, 2, on_done, &reqs[0], NULL), 0);
    assert_int_equal(store_writer_enqueue(f->w, o + 2, 2, on_done, &reqs[1], NULL), 0);
    run_until(f, 2);
    assert_int_equal(f->done[0].status, 0);
    assert_int_equal(f->done[1].status, 0);
    usleep(100 * 1000);
    assert_int_equal(count_rows(f), 0);
    struct store_writer_stats s;
    store_writer_get_stats(f->w, &s);
    assert_int_equal(s.committed, 4);
    assert_int_equal(s.applied, 0);

    /* Lock released: the apply thread's retry (every second) writes them. */
    assert_int_equal(sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    store_close(other);
    assert_int_equal(wait_rows(f, 4), 4);
    make(o, 4, 2, 0, 1);
    assert_int_equal(store_writer_enqueue(f->w, o, 4, on_done, &reqs[2], NULL), 0);
    run_until(f, 3);
    assert_int_equal(f->done[2].status, 0);
    assert_int_equal(f->done[2].last_seq, 8);
    stop_and_close(f);
    assert_int_equal(count_rows(f), 8);
}

static void test_writer_replays_the_log_at_the_next_start(void **state)
{
    struct fx *f = *state;
    f->t.cfg.busy_timeout_ms = 0;
    start(f);
    char err[256];
    struct store *other;
    assert_int_equal(store_open(&other, &f->t.cfg, 0, err, sizeof(err)), 0);
    struct sqlst *db = sqlst__from(other);
    assert_int_equal(sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct obs o[6];
    make(o, 6, 3, 500, 7);
    assert_int_equal(store_writer_enqueue(f->w, o, 6, on_done, &reqs[0], NULL), 0);
    run_until(f, 1);
    assert_int_equal(f->done[0].status, 0);
    /* Stopping while the database stays locked: the apply gives up, the log keeps them. */
    stop_and_close(f);
    assert_int_equal(count_rows(f), 0);
    assert_int_equal(sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    store_close(other);

    /* The next start applies them before anything else, exactly once. */
    assert_int_equal(uv_loop_init(&f->loop), 0);
    start(f);
    assert_int_equal(count_rows(f), 6);
    stop_and_close(f);
    assert_int_equal(count_rows(f), 6);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    start(f); /* and a clean stop left nothing to replay */
    stop_and_close(f);
    assert_int_equal(count_rows(f), 6);
}

static void on_done_during_stop(void *arg, uint64_t last_seq, int status)
{
    struct req *r = arg;
    on_done(arg, last_seq, status);
    r->f->retry_rc = store_writer_enqueue(r->f->w, &r->f->retry_obs, 1, on_done, &reqs[41], NULL);
}

static void test_writer_stop_flushes_everything(void **state)
{
    struct fx *f = *state;
    f->t.cfg.batch_max = 64;
    start(f);
    f->retry_obs = tobs(9, 9, 9, 9, 9);
    f->retry_rc = 1;
    /* 30 requests of 10, never running the loop: stop must commit them all and run every
     * callback, in order, before it returns. */
    for (int i = 0; i < 30; i++) {
        struct obs o[10];
        make(o, 10, 1 + i % 3, 1000 * i, i);
        assert_int_equal(store_writer_enqueue(f->w, o, 10, i == 29 ? on_done_during_stop : on_done,
                                              &reqs[i], NULL),
                         0);
    }
    store_writer_stop(f->w);
    assert_int_equal(f->n_done, 30);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(f->done[i].status, 0);
        assert_int_equal(f->done[i].order, i);
        assert_int_equal(f->done[i].last_seq, (uint64_t)(10 * (i + 1)));
    }
    assert_int_equal(f->retry_rc, HX_ESHUTDOWN); /* enqueue from a callback during stop */
    struct store_writer_stats s;
    store_writer_get_stats(f->w, &s); /* final totals, valid until the close callback */
    assert_int_equal(s.committed, 300);
    assert_int_equal(s.queued, 0);
    assert_int_equal(store_writer_enqueue(f->w, &f->retry_obs, 1, on_done, &reqs[42], NULL),
                     HX_ESHUTDOWN);
    f->w = NULL;
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(count_rows(f), 300);
}

static void test_writer_start_errors(void **state)
{
    struct fx *f = *state;
    struct cfg_store c = f->t.cfg;
    snprintf(c.path, sizeof(c.path), "%s/missing.db", f->t.dir);
    char err[256];
    struct store_writer *w = (struct store_writer *)1;
    assert_int_equal(store_writer_start(&w, &f->loop, &c, err, sizeof(err)), -ENOENT);
    assert_null(w);
    assert_non_null(strstr(err, "run 'medhub init' first"));
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writer_callbacks_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_backpressure_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_locked_database_delays_only_the_apply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writer_replays_the_log_at_the_next_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writer_stop_flushes_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_start_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
