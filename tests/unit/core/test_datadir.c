/*
 * Unit tests for src/core/datadir.c: creation with mode 0700 and the single-instance lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/datadir.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_datadir_create_makes_private_dirs(void **state)
{
    (void)state;
    char base[] = "/tmp/medhub-test-dd-XXXXXX";
    assert_non_null(mkdtemp(base));
    char dir[512], err[256];
    snprintf(dir, sizeof(dir), "%s/data", base);
    assert_int_equal(datadir_create(dir, err, sizeof(err)), 0);
    assert_int_equal(datadir_create(dir, err, sizeof(err)), 0); /* idempotent */
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    char tls[600];
    snprintf(tls, sizeof(tls), "%s/tls", dir);
    assert_int_equal(stat(tls, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    rmdir(tls);
    rmdir(dir);

    /* A file where the directory should be is an error that says so. */
    FILE *f = fopen(dir, "w");
    fclose(f);
    assert_true(datadir_create(dir, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "not a directory"));
    unlink(dir);
    rmdir(base);
}

static void test_datadir_lock_is_exclusive_and_released(void **state)
{
    (void)state;
    char dir[] = "/tmp/medhub-test-lock-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256] = "";
    int fd1 = -1, fd2 = -1;
    assert_int_equal(datadir_lock(dir, &fd1, err, sizeof(err)), 0);
    /* flock locks belong to the open file description: a second open is refused even in
     * the same process, just as a second daemon would be. */
    assert_int_equal(datadir_lock(dir, &fd2, err, sizeof(err)), HX_ELOCKED);
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    assert_non_null(strstr(err, pid));
    datadir_unlock(dir, fd1);
    assert_int_equal(datadir_lock(dir, &fd2, err, sizeof(err)), 0);
    datadir_unlock(dir, fd2);
    char path[512];
    snprintf(path, sizeof(path), "%s/medhub.lock", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datadir_create_makes_private_dirs),
        cmocka_unit_test(test_datadir_lock_is_exclusive_and_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
