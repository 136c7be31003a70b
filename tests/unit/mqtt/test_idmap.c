/*
 * Unit tests for src/mqtt/live.c: the connected-session table used for session takeover.
 * Sessions are only used as distinct pointers here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mqtt/session_int.h"

#include <stdlib.h>

#define N 5000

static struct mqtt_session *fake(size_t i)
{
    static char slots[N + 1];
    return (struct mqtt_session *)(void *)&slots[i];
}

static void test_live_put_get_del_under_growth_and_collisions(void **state)
{
    (void)state;
    struct mqtt__idmap t = {0};
    assert_null(mqtt__idmap_get(&t, 1));
    assert_false(mqtt__idmap_del(&t, 1, fake(1)));
    /* Ids with a stride that collides often under Fibonacci hashing. */
    for (size_t i = 0; i < N; i++)
        mqtt__idmap_put(&t, (int64_t)(i * 1024 + 7), fake(i));
    assert_int_equal(t.n, N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(mqtt__idmap_get(&t, (int64_t)(i * 1024 + 7)), fake(i));
    /* Delete every third entry in a scrambled order; the rest must stay reachable. */
    for (size_t k = 0; k < N; k++) {
        size_t i = (k * 7919) % N;
        if (i % 3 == 0)
            assert_true(mqtt__idmap_del(&t, (int64_t)(i * 1024 + 7), fake(i)));
    }
    for (size_t i = 0; i < N; i++) {
        struct mqtt_session *want = i % 3 == 0 ? NULL : fake(i);
        assert_ptr_equal(mqtt__idmap_get(&t, (int64_t)(i * 1024 + 7)), want);
    }
    mqtt__idmap_release(&t);
}

static void test_live_del_only_removes_the_current_session(void **state)
{
    (void)state;
    struct mqtt__idmap t = {0};
    mqtt__idmap_put(&t, 42, fake(1));
    mqtt__idmap_put(&t, 42, fake(2)); /* takeover: the newer session replaces the older */
    assert_int_equal(t.n, 1);
    assert_false(mqtt__idmap_del(&t, 42, fake(1))); /* the old one closing later */
    assert_ptr_equal(mqtt__idmap_get(&t, 42), fake(2));
    assert_true(mqtt__idmap_del(&t, 42, fake(2)));
    assert_null(mqtt__idmap_get(&t, 42));
    mqtt__idmap_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_put_get_del_under_growth_and_collisions),
        cmocka_unit_test(test_live_del_only_removes_the_current_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
