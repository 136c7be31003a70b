/*
 * Unit tests for src/core/idmap.c (the id -> pointer map of sessions, devices and alerts).
 * Values are only used as distinct pointers here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/idmap.h"

#include <stdlib.h>

#define N 5000

static void *fake(size_t i)
{
    static char slots[N + 1];
    return (void *)&slots[i];
}

static void test_live_put_get_del_under_growth_and_collisions(void **state)
{
    (void)state;
    struct hx_idmap t = {0};
    assert_null(hx_idmap_get(&t, 1));
    assert_false(hx_idmap_del(&t, 1, fake(1)));
    /* Ids with a stride that collides often under Fibonacci hashing. */
    for (size_t i = 0; i < N; i++)
        hx_idmap_put(&t, (int64_t)(i * 1024 + 7), fake(i));
    assert_int_equal(t.n, N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(hx_idmap_get(&t, (int64_t)(i * 1024 + 7)), fake(i));
    /* Delete every third entry in a scrambled order; the rest must stay reachable. */
    for (size_t k = 0; k < N; k++) {
        size_t i = (k * 7919) % N;
        if (i % 3 == 0)
            assert_true(hx_idmap_del(&t, (int64_t)(i * 1024 + 7), fake(i)));
    }
    for (size_t i = 0; i < N; i++) {
        void *want = i % 3 == 0 ? NULL : fake(i);
        assert_ptr_equal(hx_idmap_get(&t, (int64_t)(i * 1024 + 7)), want);
    }
    hx_idmap_release(&t);
}

static void test_live_del_only_removes_the_current_session(void **state)
{
    (void)state;
    struct hx_idmap t = {0};
    hx_idmap_put(&t, 42, fake(1));
    hx_idmap_put(&t, 42, fake(2)); /* takeover: the newer session replaces the older */
    assert_int_equal(t.n, 1);
    assert_false(hx_idmap_del(&t, 42, fake(1))); /* the old one closing later */
    assert_ptr_equal(hx_idmap_get(&t, 42), fake(2));
    assert_true(hx_idmap_del(&t, 42, fake(2)));
    assert_null(hx_idmap_get(&t, 42));
    hx_idmap_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_put_get_del_under_growth_and_collisions),
        cmocka_unit_test(test_live_del_only_removes_the_current_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
