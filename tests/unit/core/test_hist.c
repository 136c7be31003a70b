/*
 * Unit tests for src/core/hist.c: quantiles within the bucket width (about 6 %), exact small
 * values, the maximum, an empty histogram, and values beyond the last bucket.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/hist.h"

#include <string.h>

static void assert_near(uint64_t got, uint64_t want)
{
    /* An upper bound within one bucket: never below, at most 1/16 above. */
    assert_true(got >= want);
    assert_true(got <= want + want / 16 + 1);
}

static void test_hist_quantiles_of_a_uniform_run(void **state)
{
    (void)state;
    static struct hx_hist h;
    memset(&h, 0, sizeof(h));
    for (uint64_t v = 1; v <= 100000; v++)
        hx_hist_record(&h, v);
    assert_int_equal(h.count, 100000);
    assert_near(hx_hist_quantile(&h, 0.5), 50000);
    assert_near(hx_hist_quantile(&h, 0.99), 99000);
    assert_near(hx_hist_quantile(&h, 0.999), 99900);
    assert_int_equal(hx_hist_quantile(&h, 1.0), 100000); /* capped at the maximum */
}

static void test_hist_small_values_are_exact(void **state)
{
    (void)state;
    static struct hx_hist h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(hx_hist_quantile(&h, 0.5), 0); /* empty */
    for (uint64_t v = 0; v < 16; v++)
        hx_hist_record(&h, v);
    assert_int_equal(hx_hist_quantile(&h, 0.5), 7);
    assert_int_equal(hx_hist_quantile(&h, 1.0), 15);
}

static void test_hist_one_outlier_is_the_max(void **state)
{
    (void)state;
    static struct hx_hist h;
    memset(&h, 0, sizeof(h));
    for (int i = 0; i < 999; i++)
        hx_hist_record(&h, 100);
    hx_hist_record(&h, UINT64_C(1) << 62); /* beyond the last bucket: still counted */
    assert_near(hx_hist_quantile(&h, 0.99), 100);
    assert_int_equal(hx_hist_quantile(&h, 1.0), UINT64_C(1) << 62);
    assert_int_equal(h.max, UINT64_C(1) << 62);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_quantiles_of_a_uniform_run),
        cmocka_unit_test(test_hist_small_values_are_exact),
        cmocka_unit_test(test_hist_one_outlier_is_the_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
