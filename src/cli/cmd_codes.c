/*
 * medhub codes: prints the observation code table (LOINC, UCUM, SenML names, MDC, plausible
 * range) so integrators know what the gateways accept. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "domain/codes.h"

#include <string.h>

int cmd_codes(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            puts("Usage: medhub codes [--json]\n\n"
                 "Lists every observation code medhub understands: LOINC code, canonical UCUM\n"
                 "unit (values are stored in it), SenML record names, IEEE 11073 MDC code and\n"
                 "the plausible range outside which readings are rejected.");
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            return cli_usage_error("codes", "unknown argument '%s'", argv[i]);
    }
    static const char *const headers[] = {"LOINC",       "MEASUREMENT", "UCUM",
                                          "SENML NAMES", "MDC",         "PLAUSIBLE"};
    struct table t;
    json_t *arr = json ? json_array() : NULL;
    table_init(&t, 6, headers);
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        const struct obs_code *c = obs_code_get(id);
        if (!c)
            continue;
        if (json) {
            json_t *j =
                json_pack("{s:s, s:s, s:s, s:s, s:s?, s:f, s:f}", "loinc", c->loinc, "display",
                          c->display, "ucum", c->ucum, "senml_name", c->senml_name, "senml_alias",
                          c->senml_alias, "min", c->min, "max", c->max);
            json_object_set_new(j, "mdc", c->mdc ? json_integer(c->mdc) : json_null());
            json_array_append_new(arr, j);
            continue;
        }
        char names[96], mdc[16] = "-", range[48];
        snprintf(names, sizeof(names), "%s%s%s", c->senml_name, c->senml_alias ? ", " : "",
                 c->senml_alias ? c->senml_alias : "");
        if (c->mdc)
            snprintf(mdc, sizeof(mdc), "%u", c->mdc);
        snprintf(range, sizeof(range), "%g-%g", c->min, c->max);
        const char *cells[] = {c->loinc, c->display, c->ucum, names, mdc, range};
        table_add(&t, cells);
    }
    if (json)
        cli_print_json(arr);
    else
        table_print(&t, stdout);
    table_release(&t);
    return CLI_EXIT_OK;
}
