/*
 * Unit tests for src/domain/model.c: device kinds, status names and the validators for MRN,
 * device uid and birth date, including every error path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/model.h"

#include <string.h>

static void test_model_dev_kind_names_list(void **state)
{
    static const char *const want[] = {
        "monitor", "patch",      "bp_cuff",     "scale",       "oximeter",
        "cgm",     "glucometer", "thermometer", "pill_bottle", "knee_sensor",
        "gateway", "env_sensor", "asset_tag",
    };
    size_t n = 0;
    (void)state;
    while (dev_kind_names[n] != NULL)
        n++;
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(dev_kind_names[i], want[i]);
        assert_true(strlen(dev_kind_names[i]) < DEV_KIND_MAX);
        assert_true(dev_kind_is_valid(want[i]));
    }
}

static void test_model_dev_kind_rejects_unknown(void **state)
{
    (void)state;
    assert_false(dev_kind_is_valid(NULL));
    assert_false(dev_kind_is_valid(""));
    assert_false(dev_kind_is_valid("Monitor"));
    assert_false(dev_kind_is_valid("monitor "));
    assert_false(dev_kind_is_valid("monito"));
    assert_false(dev_kind_is_valid("toaster"));
}

static void test_model_dev_status_names(void **state)
{
    (void)state;
    assert_string_equal(dev_status_name(DEV_STATUS_ACTIVE), "active");
    assert_string_equal(dev_status_name(DEV_STATUS_DISABLED), "disabled");
    assert_string_equal(dev_status_name(DEV_STATUS_QUARANTINED), "quarantined");
    assert_string_equal(dev_status_name((enum dev_status)7), "unknown");
}

static void test_model_dev_event_names(void **state)
{
    (void)state;
    assert_string_equal(dev_event_name(DEV_EVENT_PILL_TAKEN), "pill_taken");
    assert_string_equal(dev_event_name(DEV_EVENT_DOSE_MISSED), "dose_missed");
    assert_string_equal(dev_event_name(DEV_EVENT_BUTTON), "button");
    assert_string_equal(dev_event_name(DEV_EVENT_FALL), "fall");
    assert_string_equal(dev_event_name(DEV_EVENT_CONNECTION_LOST), "connection_lost");
    assert_int_equal(DEV_EVENT_CONNECTION_LOST, 5); /* persisted: never renumber */
    assert_string_equal(dev_event_name((enum dev_event_type)0), "unknown");
    assert_string_equal(dev_event_name((enum dev_event_type)(DEV_EVENT_TYPE_MAX + 1)), "unknown");
    assert_false(dev_event_type_is_valid(0));
    for (int t = 1; t <= DEV_EVENT_TYPE_MAX; t++) {
        assert_true(dev_event_type_is_valid(t));
        assert_string_not_equal(dev_event_name((enum dev_event_type)t), "unknown");
    }
    assert_false(dev_event_type_is_valid(DEV_EVENT_TYPE_MAX + 1));
    assert_false(dev_event_type_is_valid(-1));
}

static void test_model_dev_status_parse_round_trips(void **state)
{
    static const enum dev_status all[] = {DEV_STATUS_ACTIVE, DEV_STATUS_DISABLED,
                                          DEV_STATUS_QUARANTINED};
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        enum dev_status s = (enum dev_status)99;
        assert_int_equal(dev_status_parse(dev_status_name(all[i]), &s), 0);
        assert_int_equal(s, all[i]);
    }
}

static void test_model_dev_status_parse_rejects(void **state)
{
    enum dev_status s = DEV_STATUS_QUARANTINED;
    (void)state;
    assert_int_equal(dev_status_parse(NULL, &s), HX_EINVAL);
    assert_int_equal(dev_status_parse("", &s), HX_EINVAL);
    assert_int_equal(dev_status_parse("Active", &s), HX_EINVAL);
    assert_int_equal(dev_status_parse("active ", &s), HX_EINVAL);
    assert_int_equal(dev_status_parse("unknown", &s), HX_EINVAL);
    assert_int_equal(dev_status_parse("0", &s), HX_EINVAL);
    assert_int_equal(s, DEV_STATUS_QUARANTINED); /* untouched on error */
}

static void test_model_obs_status_names(void **state)
{
    (void)state;
    assert_string_equal(obs_status_name(OBS_STATUS_FINAL), "final");
    assert_string_equal(obs_status_name(OBS_STATUS_PRELIMINARY), "preliminary");
    assert_string_equal(obs_status_name(OBS_STATUS_AMENDED), "amended");
    assert_string_equal(obs_status_name(OBS_STATUS_ENTERED_IN_ERROR), "entered-in-error");
    assert_string_equal(obs_status_name((enum obs_status)9), "unknown");
}

static void test_model_mrn_accepts(void **state)
{
    char max[PAT_MRN_MAX];
    (void)state;
    assert_int_equal(pat_mrn_validate("1"), 0);
    assert_int_equal(pat_mrn_validate("MRN-000123"), 0);
    assert_int_equal(pat_mrn_validate("A 12/34 ~!"), 0); /* inner spaces and punctuation */
    memset(max, '9', PAT_MRN_MAX - 1);
    max[PAT_MRN_MAX - 1] = '\0';
    assert_int_equal(pat_mrn_validate(max), 0); /* 63 characters */
}

static void test_model_mrn_rejects(void **state)
{
    char big[PAT_MRN_MAX + 1];
    (void)state;
    assert_int_equal(pat_mrn_validate(NULL), HX_EINVAL);
    assert_int_equal(pat_mrn_validate(""), HX_EINVAL);
    memset(big, '9', PAT_MRN_MAX);
    big[PAT_MRN_MAX] = '\0';
    assert_int_equal(pat_mrn_validate(big), HX_EINVAL); /* 64 characters */
    assert_int_equal(pat_mrn_validate(" 123"), HX_EINVAL);
    assert_int_equal(pat_mrn_validate("123 "), HX_EINVAL);
    assert_int_equal(pat_mrn_validate(" "), HX_EINVAL);
    assert_int_equal(pat_mrn_validate("12\t3"), HX_EINVAL);
    assert_int_equal(pat_mrn_validate("123\n"), HX_EINVAL);
    assert_int_equal(pat_mrn_validate("12\x7f"), HX_EINVAL);
    assert_int_equal(pat_mrn_validate("\x1b[31m"), HX_EINVAL);
    assert_int_equal(pat_mrn_validate("M\xc3\xbcller"), HX_EINVAL); /* non-ASCII */
}

static void test_model_uid_accepts(void **state)
{
    char max[DEV_ID_MAX];
    (void)state;
    assert_int_equal(dev_uid_validate("a"), 0);
    assert_int_equal(dev_uid_validate("oxi-0024befffe804ff1"), 0);
    assert_int_equal(dev_uid_validate("Ward_3.bed-12"), 0);
    assert_int_equal(dev_uid_validate("..."), 0);
    assert_int_equal(dev_uid_validate(".hidden"), 0);
    memset(max, 'z', DEV_ID_MAX - 1);
    max[DEV_ID_MAX - 1] = '\0';
    assert_int_equal(dev_uid_validate(max), 0);
}

static void test_model_uid_rejects(void **state)
{
    char big[DEV_ID_MAX + 1];
    static const char *const bad[] = {
        "",    "dev/1", "dev+", "dev#", "dev 1", " dev", "dev:1", "dev$", "$SYS",
        "dév", "dev\n", "a*b",  "a\\b", "a%2e",  "a@b",  "a,b",   ".",    "..",
    };
    (void)state;
    assert_int_equal(dev_uid_validate(NULL), HX_EINVAL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (dev_uid_validate(bad[i]) != HX_EINVAL)
            fail_msg("uid '%s' accepted", bad[i]);
    }
    memset(big, 'z', DEV_ID_MAX);
    big[DEV_ID_MAX] = '\0';
    assert_int_equal(dev_uid_validate(big), HX_EINVAL); /* 64 characters */
}

static void test_model_birth_date_accepts(void **state)
{
    static const char *const good[] = {
        "1970-01-01", "2000-02-29", /* divisible by 400: leap */
        "2024-02-29", "1999-12-31", "2023-04-30", "2023-01-31",
        "0001-01-01", "9999-12-31", "2100-02-28", "2030-06-15", /* the future is allowed */
    };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (pat_birth_date_validate(good[i]) != 0)
            fail_msg("date '%s' rejected", good[i]);
    }
}

static void test_model_birth_date_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "1970-1-01",
        "1970-01-1",
        "70-01-01",
        "1970/01/01",
        "19700101",
        "1970-01-01 ",
        " 1970-01-01",
        "1970-01-01T00:00:00Z",
        "1970-00-01",
        "1970-13-01",
        "1970-01-00",
        "1970-01-32",
        "2023-02-29",
        "1900-02-29", /* divisible by 100: not leap */
        "2100-02-29",
        "2024-02-30",
        "2023-04-31",
        "2023-06-31",
        "2023-09-31",
        "2023-11-31",
        "0000-01-01",
        "197a-01-01",
        "1970-0a-01",
        "1970-01-0a",
        "+970-01-01",
        "1970-01--1",
        "1970--01-01",
        "1970-01-01\n",
    };
    (void)state;
    assert_int_equal(pat_birth_date_validate(NULL), HX_EINVAL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pat_birth_date_validate(bad[i]) != HX_EINVAL)
            fail_msg("date '%s' accepted", bad[i]);
    }
}

/* Every month's last day is valid and the day after it is not. */
static void test_model_birth_date_month_lengths(void **state)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char buf[11];
    (void)state;
    for (int m = 1; m <= 12; m++) {
        for (int d = 1; d <= 32; d++) {
            buf[0] = '2';
            buf[1] = '0';
            buf[2] = '2';
            buf[3] = '3';
            buf[4] = '-';
            buf[5] = (char)('0' + m / 10);
            buf[6] = (char)('0' + m % 10);
            buf[7] = '-';
            buf[8] = (char)('0' + d / 10);
            buf[9] = (char)('0' + d % 10);
            buf[10] = '\0';
            int want = d <= days[m - 1] ? 0 : HX_EINVAL;
            if (pat_birth_date_validate(buf) != want)
                fail_msg("date '%s': want %d", buf, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_dev_kind_names_list),
        cmocka_unit_test(test_model_dev_kind_rejects_unknown),
        cmocka_unit_test(test_model_dev_status_names),
        cmocka_unit_test(test_model_dev_event_names),
        cmocka_unit_test(test_model_dev_status_parse_round_trips),
        cmocka_unit_test(test_model_dev_status_parse_rejects),
        cmocka_unit_test(test_model_obs_status_names),
        cmocka_unit_test(test_model_mrn_accepts),
        cmocka_unit_test(test_model_mrn_rejects),
        cmocka_unit_test(test_model_uid_accepts),
        cmocka_unit_test(test_model_uid_rejects),
        cmocka_unit_test(test_model_birth_date_accepts),
        cmocka_unit_test(test_model_birth_date_rejects),
        cmocka_unit_test(test_model_birth_date_month_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
