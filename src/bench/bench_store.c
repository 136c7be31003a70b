/*
 * `medhub bench store`: store ingest through the real writer thread. Registers N patients
 * with one device each in a fresh database, then on a libuv loop produces one snapshot
 * (one reading per code) per patient per simulated second, as fast as the writer accepts
 * (refilling from the completion callbacks after -EAGAIN), for a fixed duration. Reports
 * committed observations/s, commits, rows per commit, enqueue -> durable-callback latency
 * percentiles and CPU time, as text and as JSON (--out).
 * Layer: bench (uses store.h and writer.h only). Thread: main (runs its own loop; the writer
 * has its thread).
 */
#include "bench/bench.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"
#include "store/writer.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define BENCH_MAX_CODES 20

struct bench_opts {
    uint32_t patients;  /* --patients */
    uint32_t codes;     /* --codes: readings per snapshot (codes 1..codes) */
    double seconds;     /* --seconds: producing time */
    enum cfg_sync sync; /* --sync */
    uint32_t batch_max; /* --batch-max */
    uint32_t queue_max; /* --queue-max */
    const char *out;    /* --out FILE.json, NULL for none */
    const char *dir;    /* --dir, NULL for a temporary directory */
    uint32_t rate;      /* --rate: observations/s to offer, 0 = as fast as accepted */
    bool progress;      /* --progress: one line per second on stderr */
};

struct bench {
    struct bench_opts o;              /* parameters */
    uv_loop_t loop;                   /* the producer loop */
    uv_timer_t deadline;              /* stops producing after o.seconds */
    uv_timer_t tick;                  /* progress lines */
    uv_idle_t kick;                   /* first fill once the loop runs */
    uv_timer_t pace;                  /* --rate: refills every millisecond */
    struct store_writer *w;           /* the writer under test */
    int64_t t0_wall_us;               /* simulated time of the first snapshot */
    uint64_t next_snapshot;           /* snapshots produced so far */
    bool producing;                   /* false after the deadline */
    bool blocked;                     /* the last enqueue returned -EAGAIN */
    int64_t start_us;                 /* monotonic start of producing */
    int64_t last_done_us;             /* monotonic time of the last completion */
    int64_t *t_enq;                   /* enqueue time per outstanding request (ring) */
    size_t t_enq_cap;                 /* ring size: more than the most requests in flight */
    int64_t *lat;                     /* one latency per completed request, microseconds */
    size_t n_lat;                     /* latencies recorded */
    size_t lat_cap;                   /* capacity of lat */
    uint64_t done_obs;                /* observations called back with status 0 */
    uint64_t failed_obs;              /* observations called back with an error */
    int first_error;                  /* the first failure status, 0 when none */
    uint64_t last_tick_obs;           /* done_obs at the previous progress line */
    struct store_writer_stats final;  /* writer totals after stop */
    struct obs snap[BENCH_MAX_CODES]; /* the snapshot being built */
};

static void on_done(void *arg, uint64_t last_seq, int status);

/* Builds and enqueues snapshots until the queue is full or producing stops. */
static void fill(struct bench *b)
{
    uint64_t allowed = UINT64_MAX; /* snapshots that may have been produced by now */
    if (b->o.rate) {
        double elapsed = (double)(hx_time_mono_us() - b->start_us) / 1e6;
        allowed = (uint64_t)(elapsed * b->o.rate / b->o.codes) + 1;
    }
    while (b->producing && b->next_snapshot < allowed) {
        uint64_t r = b->next_snapshot;
        int64_t pid = (int64_t)(r % b->o.patients) + 1;
        int64_t t = b->t0_wall_us + (int64_t)(r / b->o.patients) * HX_USEC_PER_SEC;
        for (uint32_t c = 0; c < b->o.codes; c++) {
            b->snap[c] = (struct obs){
                .patient_id = pid,
                .device_id = pid,
                .effective_us = t,
                .received_us = t + 1000,
                .value = 60.0 + (double)((r + c) % 40),
                .code = (uint16_t)(c + 1),
                .status = 0,
            };
        }
        int64_t now = hx_time_mono_us();
        int rc = store_writer_enqueue(b->w, b->snap, b->o.codes, on_done, b, NULL);
        if (rc == -EAGAIN) {
            b->blocked = true;
            return;
        }
        if (rc < 0) {
            fprintf(stderr, "medhub bench store: enqueue failed: %s\n", hx_strerror(rc));
            b->producing = false;
            if (!b->first_error)
                b->first_error = rc;
            return;
        }
        b->t_enq[r % b->t_enq_cap] = now;
        b->next_snapshot++;
    }
}

static void on_done(void *arg, uint64_t last_seq, int status)
{
    struct bench *b = arg;
    int64_t now = hx_time_mono_us();
    uint64_t r = last_seq / b->o.codes - 1; /* sequence numbers start at 1 */
    if (b->n_lat == b->lat_cap) {
        b->lat_cap = b->lat_cap ? b->lat_cap * 2 : 65536;
        b->lat = hx_xrealloc(b->lat, b->lat_cap * sizeof(*b->lat));
    }
    b->lat[b->n_lat++] = now - b->t_enq[r % b->t_enq_cap];
    b->last_done_us = now;
    if (status == 0) {
        b->done_obs += b->o.codes;
    } else {
        b->failed_obs += b->o.codes;
        if (!b->first_error)
            b->first_error = status;
    }
    if (b->blocked) {
        b->blocked = false;
        fill(b);
    }
}

static void on_pace(uv_timer_t *h)
{
    struct bench *b = h->data;
    if (!b->blocked)
        fill(b);
}

static void on_kick(uv_idle_t *h)
{
    struct bench *b = h->data;
    uv_idle_stop(h);
    b->start_us = hx_time_mono_us();
    b->producing = true;
    if (b->o.rate)
        uv_timer_start(&b->pace, on_pace, 1, 1);
    fill(b);
}

static void on_deadline(uv_timer_t *h)
{
    struct bench *b = h->data;
    b->producing = false;
    uv_timer_stop(&b->tick);
    uv_timer_stop(&b->pace);
    /* Flushes what is queued and runs the remaining callbacks before returning; the final
     * totals stay readable until the loop runs the writer's close callback. */
    store_writer_stop(b->w);
    store_writer_get_stats(b->w, &b->final);
    b->w = NULL;
}

static void on_tick(uv_timer_t *h)
{
    struct bench *b = h->data;
    struct store_writer_stats s;
    store_writer_get_stats(b->w, &s);
    fprintf(stderr,
            "  t=%5.1fs durable=%" PRIu64 " (+%" PRIu64 "/s) queued=%u commits=%" PRIu64 "\n",
            (double)(hx_time_mono_us() - b->start_us) / 1e6, b->done_obs,
            b->done_obs - b->last_tick_obs, s.queued, s.commits);
    b->last_tick_obs = b->done_obs;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t percentile(const int64_t *sorted, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static int parse_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "medhub bench store: --%s '%s': expected an integer in %u..%u\n", name, s,
                min, max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: medhub bench store [--patients N] [--codes N] [--seconds S]\n"
               "                          [--sync full|normal] [--batch-max N] [--queue-max N]\n"
               "                          [--rate OBS_PER_S] [--out FILE.json] [--dir DIR]\n"
               "                          [--progress]\n"
               "Measures observation ingest through the store writer thread (group commit)\n"
               "into a fresh SQLite database in DIR (default: a temporary directory, removed\n"
               "afterwards): one snapshot (one reading per code) per patient per simulated\n"
               "second, offered as fast as the writer accepts them, or at --rate.\n"
               "Defaults: 1000 patients, 8 codes, 10 s, sync full, batch-max 65536,\n"
               "queue-max 131072, rate 0 (saturate).\n");
}

static int parse_args(struct bench_opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"patients", required_argument, NULL, 'p'},  {"codes", required_argument, NULL, 'c'},
        {"seconds", required_argument, NULL, 's'},   {"sync", required_argument, NULL, 'y'},
        {"batch-max", required_argument, NULL, 'b'}, {"queue-max", required_argument, NULL, 'q'},
        {"out", required_argument, NULL, 'o'},       {"dir", required_argument, NULL, 'd'},
        {"progress", no_argument, NULL, 'P'},        {"help", no_argument, NULL, 'h'},
        {"rate", required_argument, NULL, 'r'},      {NULL, 0, NULL, 0},
    };
    *o = (struct bench_opts){.patients = 1000,
                             .codes = 8,
                             .seconds = 10,
                             .sync = CFG_SYNC_FULL,
                             .batch_max = 65536,
                             .queue_max = 131072};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        uint32_t secs;
        switch (c) {
        case 'p':
            if (parse_u32("patients", optarg, 1, 10000000, &o->patients) < 0)
                return 2;
            break;
        case 'c':
            if (parse_u32("codes", optarg, 1, BENCH_MAX_CODES, &o->codes) < 0)
                return 2;
            break;
        case 's':
            if (parse_u32("seconds", optarg, 1, 3600, &secs) < 0)
                return 2;
            o->seconds = secs;
            break;
        case 'y':
            if (strcmp(optarg, "full") == 0) {
                o->sync = CFG_SYNC_FULL;
            } else if (strcmp(optarg, "normal") == 0) {
                o->sync = CFG_SYNC_NORMAL;
            } else {
                fprintf(stderr, "medhub bench store: --sync '%s': expected full or normal\n",
                        optarg);
                return 2;
            }
            break;
        case 'b':
            if (parse_u32("batch-max", optarg, 1, 10000000, &o->batch_max) < 0)
                return 2;
            break;
        case 'q':
            if (parse_u32("queue-max", optarg, 1, 100000000, &o->queue_max) < 0)
                return 2;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 'P':
            o->progress = true;
            break;
        case 'r':
            if (parse_u32("rate", optarg, 0, 100000000, &o->rate) < 0)
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "medhub bench store: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->codes > o->batch_max || o->codes > o->queue_max) {
        fprintf(stderr, "medhub bench store: --codes must not exceed --batch-max/--queue-max\n");
        return 2;
    }
    return 0;
}

/* Creates the database with the patients and one assigned device per patient. */
static int setup_db(const struct cfg_store *cfg, uint32_t patients, int64_t now)
{
    char err[512];
    struct store *st;
    int rc = store_open(&st, cfg, STORE_OPEN_CREATE, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "medhub bench store: %s\n", err);
        return rc;
    }
    for (uint32_t i = 1; i <= patients && rc == 0; i++) {
        struct patient p = {0};
        snprintf(p.mrn, sizeof(p.mrn), "BENCH-%06u", i);
        snprintf(p.name, sizeof(p.name), "Bench Patient %u", i);
        snprintf(p.ward, sizeof(p.ward), "ward-%u", i % 20);
        struct device d = {.battery_pct = -1};
        snprintf(d.uid, sizeof(d.uid), "bench-dev-%06u", i);
        snprintf(d.kind, sizeof(d.kind), "monitor");
        rc = store_patient_add(st, &p);
        if (rc == 0)
            rc = store_device_add(st, &d);
        if (rc == 0)
            rc = store_device_assign(st, d.id, p.id, now - HX_USEC_PER_SEC);
    }
    if (rc < 0)
        fprintf(stderr, "medhub bench store: registering patients failed: %s\n", hx_strerror(rc));
    store_close(st);
    return rc;
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void remove_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < HX_ARRAY_LEN(suffixes); i++) {
        char p[CFG_PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

struct bench_result {
    double wall_s;      /* first enqueue to last durable callback */
    double obs_per_s;   /* durable observations / wall_s */
    double cpu_user_s;  /* process user CPU (loop + writer threads) */
    double cpu_sys_s;   /* process system CPU */
    int64_t p50;        /* enqueue -> durable callback latency percentiles, microseconds */
    int64_t p95;        /* ... */
    int64_t p99;        /* ... */
    int64_t max;        /* ... */
    long long db_bytes; /* database file size at the end (after the final checkpoint) */
};

static void report(const struct bench *b, const struct bench_result *r, FILE *f, bool json)
{
    const struct store_writer_stats *s = &b->final;
    double rows_per_commit = s->commits ? (double)s->committed / (double)s->commits : 0;
    double cpu = r->cpu_user_s + r->cpu_sys_s;
    const char *sync = b->o.sync == CFG_SYNC_FULL ? "full" : "normal";
    if (!json) {
        fprintf(f,
                "durable:     %" PRIu64 " observations in %.2f s = %.0f obs/s\n"
                "commits:     %" PRIu64 " (%.0f rows/commit, %.1f commits/s)\n"
                "latency:     p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms "
                "(enqueue -> durable callback, %zu requests of %u)\n"
                "cpu:         user %.2f s  sys %.2f s  (%.0f%% of one core)\n"
                "database:    %.1f MiB\n",
                b->done_obs, r->wall_s, r->obs_per_s, s->commits, rows_per_commit,
                r->wall_s > 0 ? (double)s->commits / r->wall_s : 0, (double)r->p50 / 1e3,
                (double)r->p95 / 1e3, (double)r->p99 / 1e3, (double)r->max / 1e3, b->n_lat,
                b->o.codes, r->cpu_user_s, r->cpu_sys_s,
                r->wall_s > 0 ? 100.0 * cpu / r->wall_s : 0, (double)r->db_bytes / 1048576.0);
        return;
    }
    char date[40], cpu_name[128];
    hx_time_format_rfc3339(hx_time_now_us(), date, sizeof(date));
    bench_cpu_model(cpu_name, sizeof(cpu_name));
    fprintf(f,
            "{\n"
            "  \"benchmark\": \"store-ingest\",\n"
            "  \"date\": \"%s\",\n"
            "  \"machine\": {\"nproc\": %ld, \"cpu\": \"%s\"},\n"
            "  \"sqlite_version\": \"%s\",\n"
            "  \"medhub_version\": \"%s\",\n"
            "  \"sync\": \"%s\",\n"
            "  \"parameters\": {\"patients\": %u, \"codes\": %u, \"seconds\": %.0f, "
            "\"batch_max\": %u, \"queue_max\": %u, \"rate\": %u},\n"
            "  \"observations\": %" PRIu64 ",\n"
            "  \"failed\": %" PRIu64 ",\n"
            "  \"duplicates\": %" PRIu64 ",\n"
            "  \"wall_s\": %.3f,\n"
            "  \"obs_per_s\": %.0f,\n"
            "  \"commits\": %" PRIu64 ",\n"
            "  \"rows_per_commit\": %.1f,\n"
            "  \"latency_us\": {\"p50\": %" PRId64 ", \"p95\": %" PRId64 ", \"p99\": %" PRId64
            ", \"max\": %" PRId64 ", \"requests\": %zu},\n"
            "  \"cpu_s\": {\"user\": %.2f, \"sys\": %.2f},\n"
            "  \"db_bytes\": %lld\n"
            "}\n",
            date, sysconf(_SC_NPROCESSORS_ONLN), cpu_name, store_engine_version(CFG_BACKEND_SQLITE),
            MEDHUB_VERSION, sync, b->o.patients, b->o.codes, b->o.seconds, b->o.batch_max,
            b->o.queue_max, b->o.rate, b->done_obs, b->failed_obs, s->duplicates, r->wall_s,
            r->obs_per_s, s->commits, rows_per_commit, r->p50, r->p95, r->p99, r->max, b->n_lat,
            r->cpu_user_s, r->cpu_sys_s, r->db_bytes);
}

int bench_store_main(int argc, char **argv)
{
    struct bench *b = hx_xcalloc(1, sizeof(*b));
    log_set_level(LOG_WARN); /* keep the report readable; errors still show */
    int rc = parse_args(&b->o, argc, argv);
    if (rc) {
        free(b);
        return rc == 1 ? 0 : rc;
    }
    char tmpdir[] = "/tmp/medhub-bench-XXXXXX";
    const char *dir = b->o.dir;
    if (!dir) {
        dir = mkdtemp(tmpdir);
        if (!dir) {
            fprintf(stderr, "medhub bench store: cannot create a temporary directory\n");
            free(b);
            return 1;
        }
    } else if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "medhub bench store: cannot create %s\n", dir);
        free(b);
        return 1;
    }
    struct cfg_store cfg = {
        .backend = CFG_BACKEND_SQLITE,
        .sync = b->o.sync,
        .batch_max = b->o.batch_max,
        .queue_max = b->o.queue_max,
        .busy_timeout_ms = 5000,
    };
    snprintf(cfg.path, sizeof(cfg.path), "%s/bench.db", dir);
    remove_db(cfg.path);

    int64_t now = hx_time_now_us();
    b->t0_wall_us = now - now % HX_USEC_PER_SEC;
    int exit_code = 1;
    printf("bench store: registering %u patients and devices\n", b->o.patients);
    if (setup_db(&cfg, b->o.patients, b->t0_wall_us) < 0)
        goto out_rm;

    b->t_enq_cap = b->o.queue_max / b->o.codes + 2;
    b->t_enq = hx_alloc_array(b->t_enq_cap, sizeof(*b->t_enq));
    uv_loop_init(&b->loop);
    char err[512];
    rc = store_writer_start(&b->w, &b->loop, &cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "medhub bench store: %s\n", err);
        uv_loop_close(&b->loop);
        goto out_free;
    }
    printf("bench store: %u patients x %u codes, %.0f s, sync=%s, batch_max=%u, queue_max=%u, "
           "db %s\n",
           b->o.patients, b->o.codes, b->o.seconds, b->o.sync == CFG_SYNC_FULL ? "full" : "normal",
           b->o.batch_max, b->o.queue_max, cfg.path);
    fflush(stdout);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uv_idle_init(&b->loop, &b->kick);
    b->kick.data = b;
    uv_idle_start(&b->kick, on_kick);
    uv_timer_init(&b->loop, &b->deadline);
    b->deadline.data = b;
    uv_timer_start(&b->deadline, on_deadline, (uint64_t)(b->o.seconds * 1000), 0);
    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    uv_timer_init(&b->loop, &b->pace);
    b->pace.data = b;
    if (b->o.progress)
        uv_timer_start(&b->tick, on_tick, 1000, 1000);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    getrusage(RUSAGE_SELF, &ru1);
    uv_close((uv_handle_t *)&b->kick, NULL);
    uv_close((uv_handle_t *)&b->deadline, NULL);
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_close((uv_handle_t *)&b->pace, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&b->loop) != 0)
        fprintf(stderr, "medhub bench store: loop still had handles\n");

    struct bench_result res = {
        .wall_s = (double)(b->last_done_us - b->start_us) / 1e6,
        .cpu_user_s = bench_tv_s(ru1.ru_utime) - bench_tv_s(ru0.ru_utime),
        .cpu_sys_s = bench_tv_s(ru1.ru_stime) - bench_tv_s(ru0.ru_stime),
        .db_bytes = file_size(cfg.path),
    };
    qsort(b->lat, b->n_lat, sizeof(*b->lat), cmp_i64);
    res.p50 = percentile(b->lat, b->n_lat, 50);
    res.p95 = percentile(b->lat, b->n_lat, 95);
    res.p99 = percentile(b->lat, b->n_lat, 99);
    res.max = b->n_lat ? b->lat[b->n_lat - 1] : 0;
    res.obs_per_s = res.wall_s > 0 ? (double)b->done_obs / res.wall_s : 0;
    report(b, &res, stdout, false);
    if (b->o.out) {
        FILE *f = fopen(b->o.out, "w");
        if (!f) {
            fprintf(stderr, "medhub bench store: cannot write %s\n", b->o.out);
        } else {
            report(b, &res, f, true);
            fclose(f);
        }
    }
    if (b->first_error)
        fprintf(stderr, "medhub bench store: %" PRIu64 " observations failed: %s\n", b->failed_obs,
                hx_strerror(b->first_error));
    exit_code = b->first_error ? 1 : 0;

out_free:
    free(b->t_enq);
    free(b->lat);
out_rm:
    if (!b->o.dir) {
        remove_db(cfg.path);
        rmdir(dir);
    }
    free(b);
    return exit_code;
}
