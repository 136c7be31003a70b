/*
 * Unit tests for opening databases: migrations on a fresh file, refusal of newer schemas,
 * foreign and non-SQLite files, missing files, and a file-size limit (HX_EFULL) that must
 * leave earlier data intact.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "store/migrate/sqlite_migrations.h"
#include "store/store.h"
#include "store/store_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int setup(void **state)
{
    struct tdir *t = calloc(1, sizeof(*t));
    tdir_init(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tdir_release(*state);
    free(*state);
    return 0;
}

/* Reads a whole file. OUT: *len. Returns owned memory. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Writes a big-endian 32-bit value into the database header (SQLite file format 1.3). */
static void patch_header_u32(const char *path, long offset, uint32_t v)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    assert_int_equal(pwrite(fd, b, 4, offset), 4);
    close(fd);
}

static uint32_t read_header_u32(const char *path, long offset)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    unsigned char b[4];
    assert_int_equal(pread(fd, b, 4, offset), 4);
    close(fd);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

#define HDR_USER_VERSION   60
#define HDR_APPLICATION_ID 68

/* Creates a medhub database with one patient and closes it (WAL checkpointed away). */
static void make_db(struct tdir *t)
{
    char err[256];
    struct store *st;
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_CREATE, err, sizeof(err)), 0);
    struct patient p = tpatient("MRN-1", "N", "", "");
    assert_int_equal(store_patient_add(st, &p), 0);
    store_close(st);
}

static void test_migrate_fresh_db_gets_current_version(void **state)
{
    struct tdir *t = *state;
    char err[256];
    struct store *st;
    assert_int_equal(
        store_open(&st, &t->cfg, STORE_OPEN_CREATE | STORE_OPEN_WRITER, err, sizeof(err)), 0);
    int v = 0;
    assert_int_equal(store_schema_version(st, &v), 0);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    store_close(st);
    assert_int_equal(read_header_u32(t->cfg.path, HDR_APPLICATION_ID), 0x4D484231u);
    assert_int_equal(read_header_u32(t->cfg.path, HDR_USER_VERSION), STORE_SCHEMA_VERSION);
    assert_int_equal(store_sqlite_migrations[store_sqlite_n_migrations - 1].version,
                     STORE_SCHEMA_VERSION);

    /* Reopening (already current) migrates nothing and works read-only too. */
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_READONLY, err, sizeof(err)), 0);
    assert_int_equal(store_schema_version(st, &v), 0);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    store_close(st);
}

static void test_migrate_newer_schema_refused_and_untouched(void **state)
{
    struct tdir *t = *state;
    make_db(t);
    patch_header_u32(t->cfg.path, HDR_USER_VERSION, 99);
    size_t len0, len1;
    unsigned char *before = slurp(t->cfg.path, &len0);

    static const unsigned flags[] = {0, STORE_OPEN_WRITER, STORE_OPEN_READONLY};
    for (size_t i = 0; i < 3; i++) {
        char err[256] = "";
        struct store *st = (struct store *)1;
        assert_int_equal(store_open(&st, &t->cfg, flags[i], err, sizeof(err)), HX_ESCHEMA);
        assert_null(st);
        char want[128];
        snprintf(want, sizeof(want),
                 "database schema version 99 is newer than this medhub (knows %d); upgrade medhub",
                 STORE_SCHEMA_VERSION);
        assert_non_null(strstr(err, want));
    }
    unsigned char *after = slurp(t->cfg.path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(before);
    free(after);
}

static void test_migrate_text_file_is_corrupt(void **state)
{
    struct tdir *t = *state;
    FILE *f = fopen(t->cfg.path, "w");
    fputs("this is not a database, just some notes\n", f);
    fclose(f);
    char err[512];
    struct store *st;
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), HX_ECORRUPT);
    char want[CFG_PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s is not a medhub database (not an SQLite file)", t->cfg.path);
    assert_string_equal(err, want);
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_READONLY, err, sizeof(err)), HX_ECORRUPT);
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_CREATE, err, sizeof(err)), HX_ECORRUPT);
    /* A short file too. */
    f = fopen(t->cfg.path, "w");
    fputs("SQLite", f);
    fclose(f);
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), HX_ECORRUPT);
}

static void test_migrate_other_app_db_is_corrupt(void **state)
{
    struct tdir *t = *state;
    make_db(t);
    char err[512], want[CFG_PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s is not a medhub database", t->cfg.path);
    struct store *st;

    /* Another application's id. */
    patch_header_u32(t->cfg.path, HDR_APPLICATION_ID, 0x12345678);
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), HX_ECORRUPT);
    assert_string_equal(err, want);
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_READONLY, err, sizeof(err)), HX_ECORRUPT);

    /* No id but tables: some other SQLite database. */
    patch_header_u32(t->cfg.path, HDR_APPLICATION_ID, 0);
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_WRITER, err, sizeof(err)), HX_ECORRUPT);
    assert_string_equal(err, want);

    /* Restored, it opens again. */
    patch_header_u32(t->cfg.path, HDR_APPLICATION_ID, STORE_SQLITE_APPLICATION_ID);
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), 0);
    store_close(st);
}

static void test_migrate_missing_file(void **state)
{
    struct tdir *t = *state;
    char err[512], want[CFG_PATH_MAX + 64];
    snprintf(want, sizeof(want), "no database at %s; run 'medhub init' first", t->cfg.path);
    struct store *st;
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_READONLY, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, want);
    assert_int_equal(
        store_open(&st, &t->cfg, STORE_OPEN_READONLY | STORE_OPEN_CREATE, err, sizeof(err)),
        -ENOENT);
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), -ENOENT);
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_WRITER, err, sizeof(err)), -ENOENT);
    struct stat sb;
    assert_int_equal(stat(t->cfg.path, &sb), -1); /* nothing was created */

    /* A directory that does not exist, even with CREATE. */
    struct cfg_store c = t->cfg;
    snprintf(c.path, sizeof(c.path), "%s/no/such/dir/medhub.db", t->dir);
    assert_int_equal(store_open(&st, &c, STORE_OPEN_CREATE, err, sizeof(err)), -ENOENT);
}

static void test_migrate_readonly_never_migrates(void **state)
{
    struct tdir *t = *state;
    /* An empty file is an empty database: read-write opens migrate it, read-only refuses. */
    FILE *f = fopen(t->cfg.path, "w");
    fclose(f);
    char err[512];
    struct store *st;
    assert_int_equal(store_open(&st, &t->cfg, STORE_OPEN_READONLY, err, sizeof(err)), HX_ESCHEMA);
    assert_non_null(strstr(err, "older than this medhub"));
    struct stat sb;
    assert_int_equal(stat(t->cfg.path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), 0);
    int v = 0;
    assert_int_equal(store_schema_version(st, &v), 0);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    store_close(st);
}

/* Child of the file-size test: writes batches under RLIMIT_FSIZE until one fails; reports
 * the rows committed and the failure code through fd. */
static void fsize_child(const struct cfg_store *cfg, int fd)
{
    signal(SIGXFSZ, SIG_IGN); /* get EFBIG instead of dying */
    struct stat sb;
    if (stat(cfg->path, &sb) < 0)
        _exit(10);
    struct rlimit rl = {.rlim_cur = (rlim_t)sb.st_size + 256 * 1024,
                        .rlim_max = (rlim_t)sb.st_size + 256 * 1024};
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        _exit(11);
    char err[256];
    struct store *st;
    int rc = store_open(&st, cfg, STORE_OPEN_WRITER, err, sizeof(err));
    int64_t committed = 0;
    for (int b = 0; rc == 0 && b < 10000; b++) {
        struct obs batch[500];
        for (int i = 0; i < 500; i++)
            batch[i] = tobs(1 + i % 7, 1, 1 + i % 8, INT64_C(1000000) * (1 + b) + i, b + i);
        rc = store_obs_put_batch(st, batch, 500, NULL);
        if (rc == 0)
            committed += 500;
    }
    int64_t msg[2] = {committed, rc};
    if (write(fd, msg, sizeof(msg)) != sizeof(msg))
        _exit(12);
    if (st)
        store_close(st);
    _exit(0);
}

static void test_migrate_file_size_limit_is_full(void **state)
{
    struct tdir *t = *state;
    make_db(t);
    char err[256];
    struct store *st;
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), 0);
    struct obs early[100];
    for (int i = 0; i < 100; i++)
        early[i] = tobs(1, 1, 1, i, 0.5 * i);
    assert_int_equal(store_obs_put_batch(st, early, 100, NULL), 0);
    store_close(st);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        fsize_child(&t->cfg, fds[1]);
    }
    close(fds[1]);
    int64_t msg[2] = {-1, -1};
    assert_int_equal(read(fds[0], msg, sizeof(msg)), sizeof(msg));
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(msg[1], HX_EFULL);
    assert_true(msg[0] >= 0);

    /* Reopened without the limit: clean, the early data intact, and exactly the batches
     * that were reported committed. */
    assert_int_equal(store_open(&st, &t->cfg, 0, err, sizeof(err)), 0);
    char check[256];
    assert_int_equal(store_integrity_check(st, false, check, sizeof(check)), 0);
    int64_t n = 0;
    assert_int_equal(store_obs_count(st, &n), 0);
    assert_int_equal(n, 100 + msg[0]);
    struct obs_bucket b[1];
    assert_int_equal(store_obs_downsample(st, 1, 1, 0, 100, 1, b), 0);
    assert_int_equal(b[0].count, 100);
    assert_true(b[0].min == 0 && b[0].max == 49.5);
    struct patient p;
    assert_int_equal(store_patient_get_by_mrn(st, "MRN-1", &p), 0);
    /* And it accepts writes again. */
    assert_int_equal(store_obs_put_batch(st, early, 1, NULL), 0);
    store_close(st);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_fresh_db_gets_current_version, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migrate_newer_schema_refused_and_untouched, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migrate_text_file_is_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_other_app_db_is_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_readonly_never_migrates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_file_size_limit_is_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
