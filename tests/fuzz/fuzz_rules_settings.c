/*
 * libFuzzer target for the rule settings parsers behind `medhub rules set` and the daemon's
 * settings reload: rules_config_apply (KEY=VALUE, from the first '=') on every protocol's
 * defaults, and rules_escalation_parse. Invariants: an accepted setting leaves every
 * threshold rule within its limits (at most RULES_TIERS_MAX tiers, severities 1..5 and not
 * falling, limits finite), and a refused one says why.
 * Layer: tests. Thread: main.
 */
#include "core/mem.h"
#include "rules/protocol.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct rules_patient_config *c)
{
    if (c->n_thresholds > RULES_THRESHOLDS_MAX || c->spo2_scale < 1 || c->spo2_scale > 2)
        abort();
    for (size_t i = 0; i < c->n_thresholds; i++) {
        const struct rules_threshold *t = &c->thresholds[i];
        if (t->n_tiers > RULES_TIERS_MAX)
            abort();
        for (int k = 0; k < t->n_tiers; k++) {
            if (!isfinite(t->limit[k]) || t->severity[k] < ALERT_SEV_INFO ||
                t->severity[k] > ALERT_SEV_CRITICAL || (k && t->severity[k] < t->severity[k - 1]))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = hx_xstrndup((const char *)data, size);
    char *eq = strchr(s, '=');
    char err[200];
    if (eq) {
        *eq = '\0';
        for (int p = 0; p < RULES_PROTO__COUNT; p++) {
            struct rules_patient_config c;
            rules_config_defaults(&c, p);
            err[0] = '\0';
            if (rules_config_apply(&c, s, eq + 1, err, sizeof(err)) == 0)
                check(&c);
            else if (!err[0])
                abort(); /* a refusal always says why */
        }
    }
    struct rules_escalation e;
    err[0] = '\0';
    if (rules_escalation_parse(&e, eq ? eq + 1 : s, err, sizeof(err)) == 0) {
        if (e.n_tiers > RULES_ESC_TIERS_MAX)
            abort();
        for (int k = 1; k < e.n_tiers; k++)
            if (e.after_s[k] <= e.after_s[k - 1])
                abort();
    } else if (!err[0]) {
        abort();
    }
    free(s);
    return 0;
}
