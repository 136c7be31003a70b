/*
 * Unit tests for the rules engine (src/rules/engine*.c) with a fake clock: threshold
 * persistence and hysteresis, one episode for a flapping vital, severity rising within an
 * episode, NEWS2 bands at the right reading, escalation tiers and repeats until acknowledged,
 * "no data" at interval + grace, restore after a restart, trends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/codes.h"
#include "rules/engine.h"

#include <math.h>
#include <string.h>

#define S(x) ((int64_t)(x)*1000000)
#define T0   S(1800000000) /* a fixed instant in 2027 */

/* What the sink saw. */
struct seen {
    int n[5];          /* per enum alert_event */
    struct alert last; /* last alert */
    enum alert_event last_ev;
    char targets[16][32]; /* escalation targets, in order (raise with tier 0 included) */
    int n_targets;
};

static void on_change(void *arg, const struct alert *a, enum alert_event ev, const char *who,
                      const char *target)
{
    struct seen *s = arg;
    (void)who;
    s->n[ev]++;
    s->last = *a;
    s->last_ev = ev;
    if (target && s->n_targets < 16)
        strcpy(s->targets[s->n_targets++], target);
}

static struct rules_engine *engine(struct seen *s)
{
    memset(s, 0, sizeof(*s));
    struct rules_sink sink = {.changed = on_change, .arg = s};
    struct rules_engine *e;
    rules_engine_new(&e, &sink, 1);
    return e;
}

static void reading(struct rules_engine *e, int64_t patient, int code, double v, int64_t t)
{
    struct obs o = {.patient_id = patient,
                    .device_id = 7,
                    .effective_us = t,
                    .received_us = t,
                    .value = v,
                    .code = (uint16_t)code};
    rules_engine_observe(e, &o, 1, t);
}

static void test_threshold_needs_two_readings_and_clears_past_hysteresis(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    /* Adult ward: SpO2 < 92 medium, < 88 high, hysteresis 2, two readings or 60 s. */
    reading(e, 1, OBS_CODE_SPO2, 97, T0);
    reading(e, 1, OBS_CODE_SPO2, 91, T0 + S(1));
    assert_int_equal(s.n[ALERT_EV_RAISED], 0); /* one reading is not enough */
    reading(e, 1, OBS_CODE_SPO2, 91, T0 + S(2));
    assert_int_equal(s.n[ALERT_EV_RAISED], 1);
    assert_string_equal(s.last.rule, "threshold.spo2.low");
    assert_int_equal(s.last.severity, ALERT_SEV_MEDIUM);
    /* 92 and 93 are inside the hysteresis band: still open. */
    reading(e, 1, OBS_CODE_SPO2, 93, T0 + S(3));
    assert_int_equal(s.n[ALERT_EV_RESOLVED], 0);
    assert_non_null(rules_engine_find(e, 1, "threshold.spo2.low"));
    reading(e, 1, OBS_CODE_SPO2, 94, T0 + S(4));
    assert_int_equal(s.n[ALERT_EV_RESOLVED], 1);
    assert_null(rules_engine_find(e, 1, "threshold.spo2.low"));
    /* A later drop is a new episode with a new id. */
    int64_t first = s.last.id;
    reading(e, 1, OBS_CODE_SPO2, 90, T0 + S(5));
    reading(e, 1, OBS_CODE_SPO2, 90, T0 + S(6));
    assert_int_equal(s.n[ALERT_EV_RAISED], 2);
    assert_true(s.last.id > first);
    rules_engine_free(e);
}

static void test_persistence_by_time(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    struct rules_patient_config c;
    rules_config_defaults(&c, RULES_PROTO_ADULT_WARD);
    char err[128];
    assert_int_equal(rules_config_apply(&c, "spo2.persist", "30", err, sizeof(err)), 0);
    rules_engine_set_patient_config(e, 1, &c);
    reading(e, 1, OBS_CODE_SPO2, 90, T0);
    reading(e, 1, OBS_CODE_SPO2, 90, T0 + S(29));
    assert_int_equal(s.n[ALERT_EV_RAISED], 0);
    reading(e, 1, OBS_CODE_SPO2, 90, T0 + S(30));
    assert_int_equal(s.n[ALERT_EV_RAISED], 1);
    rules_engine_free(e);
}

static void test_flapping_for_ten_minutes_is_one_episode(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    for (int i = 0; i < 600; i++) /* every second, 91 / 93 around the 92 limit */
        reading(e, 1, OBS_CODE_SPO2, i % 2 ? 93 : 91, T0 + S(i));
    reading(e, 1, OBS_CODE_SPO2, 91, T0 + S(600));
    assert_int_equal(s.n[ALERT_EV_RAISED], 1);
    assert_int_equal(s.n[ALERT_EV_RESOLVED], 0);
    const struct alert *a = rules_engine_find(e, 1, "threshold.spo2.low");
    assert_non_null(a);
    assert_true(a->count >= 300);
    rules_engine_free(e);
}

static void test_severity_rises_within_the_episode(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    reading(e, 1, OBS_CODE_SPO2, 91, T0);
    reading(e, 1, OBS_CODE_SPO2, 91, T0 + S(1));
    int64_t id = s.last.id;
    reading(e, 1, OBS_CODE_SPO2, 86, T0 + S(2));
    assert_int_equal(s.n[ALERT_EV_RAISED], 1);
    assert_int_equal(s.last_ev, ALERT_EV_UPDATED);
    assert_int_equal(s.last.id, id);
    assert_int_equal(s.last.severity, ALERT_SEV_HIGH);
    assert_true(s.last.worst_value == 86);
    /* Getting better does not lower it. */
    reading(e, 1, OBS_CODE_SPO2, 90, T0 + S(3));
    assert_int_equal(rules_engine_alert(e, id)->severity, ALERT_SEV_HIGH);
    rules_engine_free(e);
}

/* One full NEWS2 set: the values given, the rest normal. */
static void set(struct rules_engine *e, int64_t t, double rr, double spo2, double sbp, double pulse)
{
    struct obs o[7] = {
        {.code = OBS_CODE_RESP_RATE, .value = rr},     {.code = OBS_CODE_SPO2, .value = spo2},
        {.code = OBS_CODE_O2_FLOW, .value = 0},        {.code = OBS_CODE_BP_SYS, .value = sbp},
        {.code = OBS_CODE_HEART_RATE, .value = pulse}, {.code = OBS_CODE_CONSCIOUSNESS, .value = 1},
        {.code = OBS_CODE_TEMPERATURE, .value = 37.0},
    };
    for (int i = 0; i < 7; i++) {
        o[i].patient_id = 2;
        o[i].device_id = 9;
        o[i].effective_us = o[i].received_us = t;
    }
    rules_engine_observe(e, o, 7, t);
}

static void test_news2_medium_then_high_at_the_right_reading(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    struct rules_patient_config c;
    rules_config_defaults(&c, RULES_PROTO_ADULT_WARD);
    c.n_thresholds = 0; /* NEWS2 alone */
    rules_engine_set_default_config(e, &c);
    set(e, T0, 16, 97, 125, 75); /* 0 */
    assert_null(rules_engine_find(e, 2, "news2"));
    set(e, T0 + S(60), 21, 95, 125, 95); /* rr 2, spo2 1, pulse 1 = 4: low, no alert */
    assert_null(rules_engine_find(e, 2, "news2"));
    set(e, T0 + S(120), 22, 94, 108, 95); /* 2 + 1 + sbp 1 + 1 = 5: medium */
    const struct alert *a = rules_engine_find(e, 2, "news2");
    assert_non_null(a);
    assert_int_equal(a->severity, ALERT_SEV_MEDIUM);
    assert_string_equal(a->title, "NEWS2 5 (medium)");
    set(e, T0 + S(180), 23, 93, 108, 105); /* 2 + 2 + 1 + 1 = 6: still medium */
    assert_int_equal(rules_engine_find(e, 2, "news2")->severity, ALERT_SEV_MEDIUM);
    set(e, T0 + S(240), 23, 93, 99, 105); /* 2 + 2 + sbp 2 + 1 = 7: high */
    a = rules_engine_find(e, 2, "news2");
    assert_int_equal(a->severity, ALERT_SEV_HIGH);
    assert_string_equal(a->title, "NEWS2 7 (high)");
    assert_int_equal(s.n[ALERT_EV_RAISED], 1); /* one episode throughout */
    /* Recovery: two complete scores below the band resolve it. */
    set(e, T0 + S(300), 16, 97, 125, 75);
    assert_non_null(rules_engine_find(e, 2, "news2"));
    set(e, T0 + S(360), 16, 97, 125, 75);
    assert_null(rules_engine_find(e, 2, "news2"));
    rules_engine_free(e);
}

static void test_news2_incomplete_raises_nothing(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    /* Terrible values but no consciousness or oxygen: no valid NEWS2. */
    struct obs o[3] = {{.code = OBS_CODE_RESP_RATE, .value = 30},
                       {.code = OBS_CODE_SPO2, .value = 85},
                       {.code = OBS_CODE_BP_SYS, .value = 85}};
    for (int i = 0; i < 3; i++)
        o[i].patient_id = 2, o[i].effective_us = o[i].received_us = T0;
    rules_engine_observe(e, o, 3, T0);
    assert_null(rules_engine_find(e, 2, "news2"));
    rules_engine_free(e);
}

static void test_escalation_tiers_repeat_until_acknowledged(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    struct rules_escalation p;
    char err[128];
    assert_int_equal(
        rules_escalation_parse(&p, "0:nurse,300:charge,600:rrt;repeat=300", err, sizeof(err)), 0);
    rules_engine_set_escalation(e, ALERT_SEV_HIGH, &p);
    reading(e, 1, OBS_CODE_SPO2, 86, T0);
    reading(e, 1, OBS_CODE_SPO2, 86, T0 + S(1)); /* raised high at T0 + 1 s */
    assert_int_equal(s.n_targets, 1);
    assert_string_equal(s.targets[0], "nurse");
    int64_t raised = T0 + S(1);
    assert_int_equal(rules_engine_next_due(e), raised + S(300));
    rules_engine_tick(e, raised + S(299));
    assert_int_equal(s.n_targets, 1);
    rules_engine_tick(e, raised + S(300));
    assert_string_equal(s.targets[1], "charge");
    rules_engine_tick(e, raised + S(600));
    assert_string_equal(s.targets[2], "rrt");
    rules_engine_tick(e, raised + S(900));
    rules_engine_tick(e, raised + S(1200));
    assert_int_equal(s.n_targets, 5); /* two repeats of the last tier */
    assert_string_equal(s.targets[4], "rrt");
    assert_int_equal(rules_engine_ack(e, s.last.id, "nurse.jo", raised + S(1201)), 0);
    assert_int_equal(s.last.state, ALERT_ACKED);
    assert_string_equal(s.last.acked_by, "nurse.jo");
    assert_int_equal(rules_engine_next_due(e), INT64_MAX);
    rules_engine_tick(e, raised + S(5000));
    assert_int_equal(s.n_targets, 5); /* acknowledged: no more */
    assert_int_equal(rules_engine_ack(e, s.last.id, "x", raised + S(5001)), HX_EINVAL);
    assert_int_equal(rules_engine_resolve(e, s.last.id, "dr.who", "treated", raised + S(5002)), 0);
    assert_int_equal(s.last.state, ALERT_RESOLVED);
    assert_string_equal(s.last.note, "treated");
    assert_int_equal(rules_engine_resolve(e, s.last.id, "x", "", raised + S(5003)), HX_ENOTFOUND);
    rules_engine_free(e);
}

/* Escalation by hand (the REST API): the next tier now, the schedule moves on from it; the
 * last tier again once all were notified; "manual" without a policy; nothing once resolved. */
static void test_escalation_by_hand(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    struct rules_escalation p;
    char err[128];
    assert_int_equal(rules_escalation_parse(&p, "0:nurse,300:charge", err, sizeof(err)), 0);
    rules_engine_set_escalation(e, ALERT_SEV_HIGH, &p);
    reading(e, 1, OBS_CODE_SPO2, 86, T0);
    reading(e, 1, OBS_CODE_SPO2, 86, T0 + S(1));
    assert_int_equal(s.n_targets, 1);
    int64_t id = s.last.id;
    assert_int_equal(rules_engine_escalate(e, id, "nurse.jo", T0 + S(10)), 0);
    assert_int_equal(s.last_ev, ALERT_EV_ESCALATED);
    assert_int_equal(s.n_targets, 2);
    assert_string_equal(s.targets[1], "charge");
    assert_int_equal(s.last.tier, 2);
    assert_int_equal(rules_engine_escalate(e, id, "nurse.jo", T0 + S(20)), 0);
    assert_string_equal(s.targets[2], "charge");
    rules_engine_tick(e, T0 + S(400)); /* no repeat configured: the schedule is done */
    assert_int_equal(s.n_targets, 3);
    assert_int_equal(rules_engine_ack(e, id, "nurse.jo", T0 + S(30)), 0);
    assert_int_equal(rules_engine_escalate(e, id, "nurse.jo", T0 + S(40)), 0); /* acked: ok */
    assert_int_equal(rules_engine_resolve(e, id, "nurse.jo", "done", T0 + S(50)), 0);
    assert_int_equal(rules_engine_escalate(e, id, "nurse.jo", T0 + S(60)), HX_ENOTFOUND);
    assert_int_equal(rules_engine_escalate(e, 424242, "x", T0 + S(60)), HX_ENOTFOUND);
    /* A severity without a policy: target "manual". */
    reading(e, 2, OBS_CODE_SPO2, 91, T0);
    reading(e, 2, OBS_CODE_SPO2, 91, T0 + S(1));
    int before = s.n_targets;
    rules_engine_set_escalation(e, s.last.severity, &(struct rules_escalation){0});
    assert_int_equal(rules_engine_escalate(e, s.last.id, "x", T0 + S(2)), 0);
    assert_int_equal(s.n_targets, before + 1);
    assert_string_equal(s.targets[before], "manual");
    rules_engine_free(e);
}

static void test_nodata_at_interval_plus_grace_and_clears_on_data(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    rules_engine_set_nodata_grace(e, 2000);
    rules_engine_watch_device(e, 7, 1, 10, T0, T0);
    assert_int_equal(rules_engine_next_due(e), T0 + S(12));
    /* Data at +5 s moves the deadline lazily: the timer fires at +12 and re-arms. */
    reading(e, 1, OBS_CODE_SPO2, 97, T0 + S(5));
    rules_engine_tick(e, T0 + S(12));
    assert_int_equal(s.n[ALERT_EV_RAISED], 0);
    assert_int_equal(rules_engine_next_due(e), T0 + S(17));
    rules_engine_tick(e, T0 + S(17));
    assert_int_equal(s.n[ALERT_EV_RAISED], 1);
    assert_string_equal(s.last.rule, "nodata");
    assert_int_equal(s.last.cls, ALERT_CLASS_TECHNICAL);
    assert_int_equal(s.last.device_id, 7);
    reading(e, 1, OBS_CODE_SPO2, 97, T0 + S(30));
    assert_int_equal(s.n[ALERT_EV_RESOLVED], 1);
    assert_int_equal(rules_engine_next_due(e), T0 + S(42));
    rules_engine_free(e);
}

static void test_restore_rearms_escalation_and_keeps_the_episode(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    struct alert a = {.id = 41,
                      .patient_id = 1,
                      .cls = ALERT_CLASS_PHYSIOLOGICAL,
                      .severity = ALERT_SEV_HIGH,
                      .state = ALERT_RAISED,
                      .tier = 1,
                      .count = 3,
                      .raised_us = T0,
                      .updated_us = T0,
                      .next_escalation_us = T0 + S(300)};
    strcpy(a.rule, "threshold.spo2.low");
    a.first_value = a.worst_value = a.current_value = 86;
    rules_engine_restore(e, &a, T0 + S(10));
    assert_int_equal(rules_engine_next_due(e), T0 + S(300));
    reading(e, 1, OBS_CODE_SPO2, 85, T0 + S(20));
    assert_int_equal(s.n[ALERT_EV_RAISED], 0); /* the same episode goes on */
    assert_int_equal(rules_engine_find(e, 1, "threshold.spo2.low")->id, 41);
    rules_engine_tick(e, T0 + S(300));
    assert_string_equal(s.targets[0], "charge_nurse");
    /* New alerts get ids above the restored one. */
    reading(e, 5, OBS_CODE_HEART_RATE, 160, T0 + S(400));
    reading(e, 5, OBS_CODE_HEART_RATE, 160, T0 + S(401));
    assert_int_equal(s.last.id, 42);
    rules_engine_free(e);
}

static void test_heart_failure_weight_gain(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    struct rules_patient_config c;
    rules_config_defaults(&c, RULES_PROTO_HOME_HF);
    rules_engine_set_patient_config(e, 3, &c);
    int64_t day = S(86400);
    reading(e, 3, OBS_CODE_WEIGHT, 80.0, T0);
    reading(e, 3, OBS_CODE_WEIGHT, 80.9, T0 + day);
    reading(e, 3, OBS_CODE_WEIGHT, 81.5, T0 + 2 * day);
    assert_null(rules_engine_find(e, 3, "trend.weight_3d"));
    reading(e, 3, OBS_CODE_WEIGHT, 82.1, T0 + 3 * day); /* +2.1 kg in 3 days */
    assert_non_null(rules_engine_find(e, 3, "trend.weight_3d"));
    assert_null(rules_engine_find(e, 3, "trend.weight_1d"));
    reading(e, 3, OBS_CODE_WEIGHT, 83.7, T0 + 4 * day); /* +1.6 kg in 1 day */
    assert_non_null(rules_engine_find(e, 3, "trend.weight_1d"));
    rules_engine_free(e);
}

static void test_glucose_falling_fast(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    struct rules_patient_config c;
    rules_config_defaults(&c, RULES_PROTO_DIABETES);
    rules_engine_set_patient_config(e, 4, &c);
    for (int i = 0; i <= 10; i++) /* -2.5 mg/dL per minute from 180 */
        reading(e, 4, OBS_CODE_GLUCOSE_CGM, 180 - 2.5 * i, T0 + S(60 * i));
    const struct alert *a = rules_engine_find(e, 4, "trend.glucose_fall");
    assert_non_null(a);
    assert_int_equal(a->severity, ALERT_SEV_HIGH);
    rules_engine_free(e);
}

static void test_forecast_predicts_a_slow_decline_then_yields_to_the_threshold(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    /* SpO2 falling 0.2 % a minute from 98: crosses 92 after 30 minutes. */
    int64_t t = T0;
    for (int i = 0; i < 8; i++, t += S(60))
        reading(e, 1, OBS_CODE_SPO2, 98 - 0.2 * i, t);
    const struct alert *a = rules_engine_find(e, 1, "forecast.spo2.low");
    assert_non_null(a);
    assert_int_equal(a->severity, ALERT_SEV_LOW);
    assert_non_null(strstr(a->title, "SpO2") ? a->title : strstr(a->title, "saturation"));
    assert_null(rules_engine_find(e, 1, "threshold.spo2.low"));
    /* Later the real crossing: the threshold alert takes over from its prediction. */
    reading(e, 1, OBS_CODE_SPO2, 91, t);
    reading(e, 1, OBS_CODE_SPO2, 91, t + S(60));
    assert_non_null(rules_engine_find(e, 1, "threshold.spo2.low"));
    assert_null(rules_engine_find(e, 1, "forecast.spo2.low"));
    rules_engine_free(e);
}

static void test_flat_series_predicts_nothing(void **state)
{
    (void)state;
    struct seen s;
    struct rules_engine *e = engine(&s);
    for (int i = 0; i < 30; i++)
        reading(e, 1, OBS_CODE_SPO2, i % 2 ? 96 : 97, T0 + S(60 * i));
    assert_int_equal(s.n[ALERT_EV_RAISED], 0);
    rules_engine_free(e);
}

static void test_settings_parse_and_refuse(void **state)
{
    (void)state;
    struct rules_patient_config c;
    rules_config_defaults(&c, RULES_PROTO_ADULT_WARD);
    char err[160];
    assert_int_equal(rules_config_apply(&c, "protocol", "copd", err, sizeof(err)), 0);
    assert_int_equal(c.spo2_scale, 2);
    assert_int_equal(rules_config_apply(&c, "spo2.low", "88:medium,85:high", err, sizeof(err)), 0);
    const struct rules_threshold *t = rules_config_threshold(&c, OBS_CODE_SPO2, RULES_LOW);
    assert_non_null(t);
    assert_true(t->limit[0] == 88 && t->limit[1] == 85 && t->severity[1] == ALERT_SEV_HIGH);
    assert_int_equal(rules_config_apply(&c, "spo2.low", "85,88", err, sizeof(err)), HX_EINVAL);
    assert_int_equal(rules_config_apply(&c, "nonsense.low", "1", err, sizeof(err)), HX_EINVAL);
    assert_non_null(strstr(err, "unknown code 'nonsense'"));
    assert_int_equal(rules_config_apply(&c, "schedule.weight", "25:00", err, sizeof(err)),
                     HX_EINVAL);
    assert_int_equal(rules_config_apply(&c, "schedule.weight", "07:30", err, sizeof(err)), 0);
    assert_int_equal(c.schedule_minute[0], 450);
    assert_int_equal(rules_config_apply(&c, "protocol", "icu", err, sizeof(err)), HX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_needs_two_readings_and_clears_past_hysteresis),
        cmocka_unit_test(test_escalation_by_hand),
        cmocka_unit_test(test_persistence_by_time),
        cmocka_unit_test(test_flapping_for_ten_minutes_is_one_episode),
        cmocka_unit_test(test_severity_rises_within_the_episode),
        cmocka_unit_test(test_news2_medium_then_high_at_the_right_reading),
        cmocka_unit_test(test_news2_incomplete_raises_nothing),
        cmocka_unit_test(test_escalation_tiers_repeat_until_acknowledged),
        cmocka_unit_test(test_nodata_at_interval_plus_grace_and_clears_on_data),
        cmocka_unit_test(test_restore_rearms_escalation_and_keeps_the_episode),
        cmocka_unit_test(test_heart_failure_weight_gain),
        cmocka_unit_test(test_glucose_falling_fast),
        cmocka_unit_test(test_forecast_predicts_a_slow_decline_then_yields_to_the_threshold),
        cmocka_unit_test(test_flat_series_predicts_nothing),
        cmocka_unit_test(test_settings_parse_and_refuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
