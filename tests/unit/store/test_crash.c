/*
 * The crash test: the store's durability contract under SIGKILL. Each round forks a child
 * that runs a libuv loop with the real writer (sync = full) and enqueues observations whose
 * every field derives from a global index, as fast as the queue allows; on each completion
 * callback it writes the durable last_seq to a pipe. The parent kills the child with SIGKILL
 * at a random moment (50-500 ms after it is ready), reopens the store and checks that it
 * opens cleanly, passes integrity_check, and holds every observation reported durable with
 * exactly the expected values. Rounds share a database (five at a time), so most also test
 * reopening and writing after a crash.
 * MEDHUB_CRASH_ROUNDS (default 20) and MEDHUB_CRASH_SEED override the defaults; the seed is
 * printed so a failure can be replayed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "store/store.h"
#include "store/store_testutil.h"
#include "store/writer.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#define N_PATIENTS 50
#define N_CODES    8
#define T0         INT64_C(1700000000000000)
/* Requests per round's index space: rounds never overlap in time. */
#define ROUND_SPAN    UINT64_C(100000000)
#define ROUNDS_PER_DB 5
#define READY_MARK    UINT64_MAX
#define FAIL_MARK     (UINT64_MAX - 1)

/* Everything about request r (one patient snapshot of N_CODES readings) and its readings
 * g = r * N_CODES + code - 1 follows from the index alone. */
static void make_request(uint64_t r, struct obs *o)
{
    int64_t p = (int64_t)(r % N_PATIENTS) + 1;
    int64_t t = T0 + (int64_t)(r / N_PATIENTS) * 1000;
    for (int c = 0; c < N_CODES; c++) {
        uint64_t g = r * N_CODES + (uint64_t)c;
        o[c] = (struct obs){.patient_id = p,
                            .device_id = p,
                            .code = (uint16_t)(c + 1),
                            .effective_us = t,
                            .received_us = T0 + (int64_t)r,
                            .value = (double)g * 0.25,
                            .status = (uint8_t)(r % 2)};
    }
}

/* ---- child ---- */

struct child {
    struct store_writer *w;
    int fd;           /* pipe to the parent */
    uint64_t first;   /* first request index of this round */
    uint64_t next;    /* next request to enqueue */
    bool blocked;     /* waiting for a completion */
    uv_idle_t kick;   /* starts producing once the loop runs */
    uv_timer_t guard; /* exits if the parent never kills */
};

static void put_u64(int fd, uint64_t v)
{
    if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        _exit(20);
}

static void child_fill(struct child *c);

static void child_done(void *arg, uint64_t last_seq, int status)
{
    struct child *c = arg;
    if (status != 0) {
        put_u64(c->fd, FAIL_MARK);
        _exit(21);
    }
    put_u64(c->fd, last_seq);
    if (c->blocked) {
        c->blocked = false;
        child_fill(c);
    }
}

static void child_fill(struct child *c)
{
    for (;;) {
        struct obs o[N_CODES];
        make_request(c->next, o);
        int rc = store_writer_enqueue(c->w, o, N_CODES, child_done, c, NULL);
        if (rc == -EAGAIN) {
            c->blocked = true;
            return;
        }
        if (rc < 0)
            _exit(22);
        c->next++;
    }
}

static void child_kick(uv_idle_t *h)
{
    uv_idle_stop(h);
    child_fill(h->data);
}

static void child_guard(uv_timer_t *h)
{
    _exit(23); /* the parent should have killed us long ago */
}

static void child_main(const struct cfg_store *cfg, int fd, uint64_t first)
{
    uv_loop_t loop;
    struct child c = {.fd = fd, .first = first, .next = first};
    char err[256];
    uv_loop_init(&loop);
    if (store_writer_start(&c.w, &loop, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "crash child: %s\n", err);
        _exit(24);
    }
    put_u64(fd, READY_MARK);
    uv_idle_init(&loop, &c.kick);
    c.kick.data = &c;
    uv_idle_start(&c.kick, child_kick);
    uv_timer_init(&loop, &c.guard);
    uv_timer_start(&c.guard, child_guard, 20000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(25);
}

/* ---- parent ---- */

/* Reads u64 values from fd until the deadline, until EOF when deadline_us is 0, or until the
 * ready mark when it is INT64_MAX. OUT: *max_seq the last durable sequence number seen,
 * *ready once the child's writer runs. Returns false on a child failure or hang. */
static bool read_reports(int fd, int64_t deadline_us, uint64_t *max_seq, bool *ready)
{
    static unsigned char buf[8192];
    static size_t have;
    for (;;) {
        bool wait_ready = deadline_us == INT64_MAX;
        int timeout = -1;
        if (wait_ready) {
            timeout = 30000; /* the writer starts in milliseconds; this is a hang guard */
        } else if (deadline_us) {
            int64_t left = deadline_us - hx_time_mono_us();
            if (left <= 0)
                return true;
            timeout = (int)(left / 1000) + 1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && wait_ready)
            return false;
        if (n == 0)
            continue;
        ssize_t got = read(fd, buf + have, sizeof(buf) - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            have = 0; /* EOF: a torn last value was never a complete report */
            return true;
        }
        have += (size_t)got;
        size_t i = 0;
        for (; i + 8 <= have; i += 8) {
            uint64_t v;
            memcpy(&v, buf + i, 8);
            if (v == READY_MARK) {
                *ready = true;
            } else if (v == FAIL_MARK) {
                return false;
            } else {
                assert_true(v > *max_seq);        /* callbacks in order */
                assert_int_equal(v % N_CODES, 0); /* whole requests */
                *max_seq = v;
            }
        }
        memmove(buf, buf + i, have - i);
        have -= i;
        if (*ready && deadline_us == INT64_MAX)
            return true;
    }
}

struct verify {
    uint64_t first;     /* first request of the round */
    uint64_t durable;   /* observations reported durable */
    uint64_t found;     /* rows of this round in the store */
    uint64_t found_dur; /* of which reported durable */
    uint8_t *seen;      /* by sequence number - 1, to catch duplicates */
    size_t n_seen;      /* entries in seen */
};

static int verify_row(void *arg, const struct obs *o)
{
    struct verify *v = arg;
    int64_t step = (o->effective_us - T0) / 1000;
    assert_int_equal((o->effective_us - T0) % 1000, 0);
    uint64_t r = (uint64_t)step * N_PATIENTS + (uint64_t)(o->patient_id - 1);
    assert_true(r >= v->first && r < v->first + ROUND_SPAN);
    struct obs want[N_CODES];
    make_request(r, want);
    assert_true(o->code >= 1 && o->code <= N_CODES);
    const struct obs *w = &want[o->code - 1];
    assert_int_equal(o->device_id, w->device_id);
    assert_int_equal(o->received_us, w->received_us);
    assert_int_equal(o->status, w->status);
    assert_true(o->value == w->value);
    uint64_t seq = (r - v->first) * N_CODES + o->code; /* 1-based within the round */
    assert_true(seq <= v->n_seen);
    assert_int_equal(v->seen[seq - 1], 0);
    v->seen[seq - 1] = 1;
    v->found++;
    if (seq <= v->durable)
        v->found_dur++;
    return 0;
}

/* A fresh database with the patients and devices the generator refers to (ids 1..N). */
static void new_db(struct tdir *t)
{
    tdir_init(t);
    t->cfg.sync = CFG_SYNC_FULL;
    t->cfg.batch_max = 8192;
    t->cfg.queue_max = 65536;
    char err[256];
    struct store *st;
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_CREATE, err, sizeof(err)), 0);
    for (int i = 1; i <= N_PATIENTS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "CRASH-%d", i);
        struct patient p = tpatient(id, "Crash Test", "ward", "");
        struct device d = tdevice(id, "monitor");
        assert_int_equal(store_patient_add(st, &p), 0);
        assert_int_equal(store_device_add(st, &d), 0);
        assert_int_equal(p.id, i);
        assert_int_equal(d.id, i);
    }
    store_close(st);
}

static void test_crash_sigkill_keeps_every_durable_observation(void **state)
{
    int rounds = 20;
    const char *e = getenv("MEDHUB_CRASH_ROUNDS");
    if (e && *e)
        rounds = (int)strtol(e, NULL, 10);
    unsigned seed = (unsigned)hx_time_now_us();
    e = getenv("MEDHUB_CRASH_SEED");
    if (e && *e)
        seed = (unsigned)strtoul(e, NULL, 10);
    printf("crash test: seed=%u rounds=%d (MEDHUB_CRASH_SEED / MEDHUB_CRASH_ROUNDS)\n", seed,
           rounds);
    fflush(stdout);
    srand(seed);

    uint64_t total_durable = 0, total_found = 0;
    struct tdir t;
    char err[256];
    struct store *st;
    for (int round = 0; round < rounds; round++) {
        /* Rounds share a database, so a round also reopens and writes after a crash; a
         * fresh one every ROUNDS_PER_DB keeps the per-round checks cheap. */
        if (round % ROUNDS_PER_DB == 0) {
            if (round)
                tdir_release(&t);
            new_db(&t);
        }
        uint64_t first = (uint64_t)(round % ROUNDS_PER_DB) * ROUND_SPAN;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(&t.cfg, fds[1], first);
        }
        close(fds[1]);
        uint64_t max_seq = 0;
        bool ready = false;
        /* Wait for the writer to be up, then let it run 50-500 ms. */
        assert_true(read_reports(fds[0], INT64_MAX, &max_seq, &ready));
        assert_true(ready);
        int delay_ms = 50 + rand() % 451;
        assert_true(read_reports(fds[0], hx_time_mono_us() + delay_ms * 1000, &max_seq, &ready));
        kill(pid, SIGKILL);
        /* What the child wrote before it died was reported durable too. */
        assert_true(read_reports(fds[0], 0, &max_seq, &ready));
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        /* Restart as the daemon would after a crash: replay the ingest log, then check. */
        if (store_writer_recover(&t.cfg, err, sizeof(err)) < 0)
            fail_msg("recovery failed: %s", err);
        assert_int_equal(store_open(&st, &t.cfg, STORE_OPEN_WRITER, err, sizeof(err)), 0);
        char msg[256];
        assert_int_equal(store_integrity_check(st, false, msg, sizeof(msg)), 0);
        struct verify v = {.first = first, .durable = max_seq};
        v.n_seen = (size_t)max_seq + 2 * 65536 + N_CODES; /* durable + at most a queue more */
        v.seen = calloc(v.n_seen, 1);
        int64_t since = T0 + (int64_t)(first / N_PATIENTS) * 1000;
        int64_t until = T0 + (int64_t)((first + ROUND_SPAN) / N_PATIENTS) * 1000;
        for (int p = 1; p <= N_PATIENTS; p++)
            assert_int_equal(store_obs_range(st, p, 0, since, until, 0, verify_row, &v), 0);
        store_close(st);
        free(v.seen);
        if (v.found_dur != max_seq)
            fail_msg("round %d (seed %u): %llu observations reported durable, %llu found", round,
                     seed, (unsigned long long)max_seq, (unsigned long long)v.found_dur);
        printf("  round %2d: killed after %3d ms, %7llu durable, %7llu stored\n", round, delay_ms,
               (unsigned long long)max_seq, (unsigned long long)v.found);
        total_durable += max_seq;
        total_found += v.found;
    }
    printf("crash test: %llu observations reported durable, all present (%llu stored)\n",
           (unsigned long long)total_durable, (unsigned long long)total_found);
    assert_true(total_durable > 0);
    if (rounds > 0)
        tdir_release(&t);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_sigkill_keeps_every_durable_observation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
