/*
 * medhub news2: scores one set of observations with NEWS2 (rules/news2.h) and prints the
 * sub-scores, the aggregate, the band, the clinical response and the monitoring frequency,
 * as a table or JSON. A parameter left out makes the score INCOMPLETE, never a zero.
 * Touches no data directory. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "rules/news2.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CMD "news2"

static const char news2_help[] =
    "Usage: medhub news2 --rr N --spo2 N [--scale 1|2] --o2 air|oxygen --sbp N --pulse N\n"
    "                    --acvpu A|C|V|P|U --temp N [--json]\n"
    "\n"
    "Scores one set of observations with NEWS2 (Royal College of Physicians 2017, Chart 1)\n"
    "and prints each parameter's score, the total, the band (none, low, low-medium, medium,\n"
    "high), the clinical response and the minimum monitoring frequency.\n"
    "\n"
    "  --rr N          respiration rate, breaths/min\n"
    "  --spo2 N        oxygen saturation, %\n"
    "  --scale 1|2     SpO2 scale (default 1). Scale 2 only for patients with hypercapnic\n"
    "                  respiratory failure and a prescribed target of 88-92 %\n"
    "  --o2 air|oxygen breathing air, or on any supplemental oxygen\n"
    "  --sbp N         systolic blood pressure, mmHg\n"
    "  --pulse N       pulse, beats/min\n"
    "  --acvpu L       consciousness: A alert, C new confusion, V voice, P pain,\n"
    "                  U unresponsive\n"
    "  --temp N        temperature, degC\n"
    "  --json          print {score, band, single_parameter_3, complete, missing,\n"
    "                  partial_score, minimum_band, response, monitoring, parameters}\n"
    "\n"
    "Values are rounded as charted before scoring: temperature to 0.1 degC, the rest to\n"
    "whole numbers, half-way values up (38.04 is 38.0, 38.05 is 38.1). Leaving a parameter\n"
    "out gives an INCOMPLETE result (no score; exit status 0) that names what is missing,\n"
    "with the partial score and the band the set has already reached. A value that is not\n"
    "a number, or outside the plausible range, is a usage error (exit status 2).\n"
    "See docs/news2.md.\n";

/* What the command line gave, before scoring. */
struct news2_args {
    struct rules_news2_input in;
    bool scale_given; /* --scale was on the command line */
    bool json;        /* --json */
};

/* Display label and unit of each parameter in the table. */
static const struct {
    const char *label;
    const char *unit;
} params[RULES_NEWS2__COUNT] = {
    [RULES_NEWS2_RR] = {"respiration rate", "/min"}, [RULES_NEWS2_SPO2] = {"SpO2", "%"},
    [RULES_NEWS2_O2] = {"air or oxygen", ""},        [RULES_NEWS2_SBP] = {"systolic BP", "mmHg"},
    [RULES_NEWS2_PULSE] = {"pulse", "/min"},         [RULES_NEWS2_ACVPU] = {"consciousness", ""},
    [RULES_NEWS2_TEMP] = {"temperature", "°C"},
};

/* Where a numeric parameter lives in the input; NULL for O2 and ACVPU. */
static double *numeric_field(struct rules_news2_input *in, enum rules_news2_param p)
{
    switch (p) {
    case RULES_NEWS2_RR:
        return &in->rr;
    case RULES_NEWS2_SPO2:
        return &in->spo2;
    case RULES_NEWS2_SBP:
        return &in->sbp;
    case RULES_NEWS2_PULSE:
        return &in->pulse;
    case RULES_NEWS2_TEMP:
        return &in->temp;
    default:
        return NULL;
    }
}

/* A plain decimal: optional minus, digits, at most one point. No exponents, hex, inf or nan,
 * so that what the user typed is what gets charted. */
static bool is_decimal(const char *s)
{
    if (*s == '-')
        s++;
    bool digit = false, point = false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digit = true;
        else if (*s == '.' && !point)
            point = true;
        else
            return false;
    }
    return digit;
}

static int set_numeric(struct news2_args *a, enum rules_news2_param p, const char *text)
{
    const char *name = rules_news2_param_name(p);
    if (!is_decimal(text))
        return cli_usage_error(CMD, "--%s '%s': expected a number", name, text);
    double v = strtod(text, NULL);
    double min, max;
    if (rules_news2_range(p, &min, &max) == 0 && (v < min || v > max))
        return cli_usage_error(CMD, "--%s %s: outside the plausible range %g-%g %s", name, text,
                               min, max, params[p].unit);
    *numeric_field(&a->in, p) = v;
    return 0;
}

static int set_o2(struct news2_args *a, const char *text)
{
    if (strcasecmp(text, "air") == 0)
        a->in.o2 = RULES_NEWS2_AIR;
    else if (strcasecmp(text, "oxygen") == 0)
        a->in.o2 = RULES_NEWS2_OXYGEN;
    else
        return cli_usage_error(CMD, "--o2 '%s': expected air or oxygen", text);
    return 0;
}

static const char acvpu_letters[] = "?ACVPU"; /* indexed by enum rules_news2_acvpu */

static const char *acvpu_word(enum rules_news2_acvpu c)
{
    static const char *const words[] = {"?",     "alert", "new confusion",
                                        "voice", "pain",  "unresponsive"};
    return (unsigned)c < sizeof(words) / sizeof(words[0]) ? words[c] : "?";
}

static int set_acvpu(struct news2_args *a, const char *text)
{
    for (int i = RULES_NEWS2_ALERT; i <= RULES_NEWS2_UNRESPONSIVE && text[0] && !text[1]; i++) {
        if (toupper((unsigned char)text[0]) == acvpu_letters[i]) {
            a->in.acvpu = (enum rules_news2_acvpu)i;
            return 0;
        }
    }
    return cli_usage_error(CMD, "--acvpu '%s': expected A, C, V, P or U (C = new confusion)", text);
}

static int set_scale(struct news2_args *a, const char *text)
{
    if (strcmp(text, "1") == 0)
        a->in.scale = RULES_NEWS2_SCALE_1;
    else if (strcmp(text, "2") == 0)
        a->in.scale = RULES_NEWS2_SCALE_2;
    else
        return cli_usage_error(CMD, "--scale '%s': expected 1 or 2", text);
    a->scale_given = true;
    return 0;
}

enum { OPT_SCALE = RULES_NEWS2__COUNT };

/* Parses argv into a. Returns 0, CLI_EXIT_OK with help printed (*done set), or a usage
 * error's exit status. */
static int parse_args(int argc, char **argv, struct news2_args *a, bool *done)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"rr", required_argument, NULL, RULES_NEWS2_RR},
        {"spo2", required_argument, NULL, RULES_NEWS2_SPO2},
        {"o2", required_argument, NULL, RULES_NEWS2_O2},
        {"sbp", required_argument, NULL, RULES_NEWS2_SBP},
        {"pulse", required_argument, NULL, RULES_NEWS2_PULSE},
        {"acvpu", required_argument, NULL, RULES_NEWS2_ACVPU},
        {"temp", required_argument, NULL, RULES_NEWS2_TEMP},
        {"scale", required_argument, NULL, OPT_SCALE},
        {0},
    };
    struct cli_opts common = {0};
    int c, rc = 0;
    optind = 1;
    opterr = 0; /* one line of our own instead of getopt's message plus ours */
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c >= 0 && c < RULES_NEWS2__COUNT) {
            enum rules_news2_param p = (enum rules_news2_param)c;
            /* Two readings of one parameter is a mistake to show, not one to pick from. */
            if (a->in.present & RULES_NEWS2_BIT(p))
                return cli_usage_error(CMD, "--%s given twice", rules_news2_param_name(p));
            if (p == RULES_NEWS2_O2)
                rc = set_o2(a, optarg);
            else if (p == RULES_NEWS2_ACVPU)
                rc = set_acvpu(a, optarg);
            else
                rc = set_numeric(a, p, optarg);
            if (rc)
                return rc;
            a->in.present |= RULES_NEWS2_BIT(p);
            continue;
        }
        switch (c) {
        case OPT_SCALE:
            if (a->scale_given)
                return cli_usage_error(CMD, "--scale given twice");
            if ((rc = set_scale(a, optarg)))
                return rc;
            break;
        case CLI_OPT_HELP:
            fputs(news2_help, stdout);
            *done = true;
            return CLI_EXIT_OK;
        case ':':
            return cli_usage_error(CMD, "%s needs a value", argv[optind - 1]);
        case '?':
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        default:
            /* --data-dir, --config and --set are accepted and unused: news2 reads no data. */
            if (!cli_common_option(&common, c, optarg))
                return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (a->in.present == 0)
        return cli_usage_error(CMD, "no observations given");
    /* Scale 1 is the chart's default for every patient not prescribed scale 2. */
    if (!a->scale_given)
        a->in.scale = RULES_NEWS2_SCALE_1;
    a->json = common.json;
    return 0;
}

/* The number given for a numeric parameter; NAN for O2 and ACVPU. */
static double given_value(const struct rules_news2_input *in, enum rules_news2_param p)
{
    switch (p) {
    case RULES_NEWS2_RR:
        return in->rr;
    case RULES_NEWS2_SPO2:
        return in->spo2;
    case RULES_NEWS2_SBP:
        return in->sbp;
    case RULES_NEWS2_PULSE:
        return in->pulse;
    case RULES_NEWS2_TEMP:
        return in->temp;
    default:
        return NAN;
    }
}

static bool is_numeric(enum rules_news2_param p)
{
    return p != RULES_NEWS2_O2 && p != RULES_NEWS2_ACVPU;
}

static json_t *json_number(double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* A parameter's value for the table: as charted with its unit ("38.0 °C (given 38.04)"),
 * "-" when missing. */
static void format_value(const struct news2_args *a, const struct rules_news2_result *r,
                         enum rules_news2_param p, char *buf, size_t len)
{
    const struct rules_news2_input *in = &a->in;
    if (!(in->present & RULES_NEWS2_BIT(p))) {
        snprintf(buf, len, "-");
        return;
    }
    if (p == RULES_NEWS2_O2) {
        snprintf(buf, len, "%s", in->o2 == RULES_NEWS2_OXYGEN ? "oxygen" : "air");
        return;
    }
    if (p == RULES_NEWS2_ACVPU) {
        snprintf(buf, len, "%c (%s)", acvpu_letters[in->acvpu], acvpu_word(in->acvpu));
        return;
    }
    double given = given_value(in, p);
    double charted = r->charted[p];
    int decimals = p == RULES_NEWS2_TEMP ? 1 : 0;
    int n = snprintf(buf, len, "%.*f %s", decimals, charted, params[p].unit);
    /* Show what was typed when rounding as charted changed it. */
    if (n > 0 && (size_t)n < len && fabs(given - charted) > 1e-9)
        snprintf(buf + n, len - (size_t)n, " (given %.10g)", given);
}

static void format_score(const struct rules_news2_result *r, enum rules_news2_param p, char *buf,
                         size_t len)
{
    if (r->sub[p] >= 0)
        snprintf(buf, len, "%d", r->sub[p]);
    else if (r->missing & RULES_NEWS2_BIT(p))
        snprintf(buf, len, "missing");
    else
        snprintf(buf, len, "needs o2"); /* SpO2 scale 2 at 93 % or more */
}

static void missing_list(const struct rules_news2_result *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0; p < RULES_NEWS2__COUNT; p++) {
        if (!(r->missing & RULES_NEWS2_BIT(p)))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                         rules_news2_param_name((enum rules_news2_param)p));
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

static void print_table(const struct news2_args *a, const struct rules_news2_result *r)
{
    static const char *const headers[] = {"PARAMETER", "VALUE", "SCORE"};
    struct table t;
    table_init(&t, 3, headers);
    for (int i = 0; i < RULES_NEWS2__COUNT; i++) {
        enum rules_news2_param p = (enum rules_news2_param)i;
        char label[48], value[64], score[16];
        if (p == RULES_NEWS2_SPO2)
            snprintf(label, sizeof(label), "SpO2 scale %d", (int)a->in.scale);
        else
            snprintf(label, sizeof(label), "%s", params[p].label);
        format_value(a, r, p, value, sizeof(value));
        format_score(r, p, score, sizeof(score));
        const char *cells[] = {label, value, score};
        table_add(&t, cells);
    }
    table_print(&t, stdout);
    table_release(&t);
    putchar('\n');

    if (r->complete) {
        printf("NEWS2               %d\n", r->score);
        printf("band                %s\n", rules_news2_band_name(r->band));
        printf("single parameter 3  %s\n", r->single_parameter_3 ? "yes" : "no");
        printf("response            %s\n", rules_news2_band_response(r->band));
        printf("monitoring          %s\n", rules_news2_band_monitoring(r->band));
        return;
    }
    char missing[96];
    missing_list(r, missing, sizeof(missing));
    int n_scored = 0;
    for (int p = 0; p < RULES_NEWS2__COUNT; p++)
        n_scored += r->sub[p] >= 0;
    printf("NEWS2               INCOMPLETE: missing %s\n", missing);
    printf("partial score       %d from %d of %d parameters (not a NEWS2)\n", r->partial_score,
           n_scored, RULES_NEWS2__COUNT);
    printf("band                incomplete; at least %s\n", rules_news2_band_name(r->minimum_band));
    printf("single parameter 3  %s\n", r->single_parameter_3 ? "yes" : "none so far");
    printf("response            %s\n", rules_news2_band_response(RULES_NEWS2_BAND_INCOMPLETE));
    printf("monitoring          %s\n", rules_news2_band_monitoring(RULES_NEWS2_BAND_INCOMPLETE));
    /* What the values seen so far already call for, whatever the missing ones are. */
    if (r->minimum_band != RULES_NEWS2_BAND_NONE)
        printf("minimum band        %s: %s; %s\n", rules_news2_band_name(r->minimum_band),
               rules_news2_band_response(r->minimum_band),
               rules_news2_band_monitoring(r->minimum_band));
}

static json_t *param_json(const struct news2_args *a, const struct rules_news2_result *r,
                          enum rules_news2_param p)
{
    const struct rules_news2_input *in = &a->in;
    bool present = (in->present & RULES_NEWS2_BIT(p)) != 0;
    json_t *j = json_object();
    json_t *value = json_null();
    if (present && p == RULES_NEWS2_O2) {
        value = json_string(in->o2 == RULES_NEWS2_OXYGEN ? "oxygen" : "air");
    } else if (present && p == RULES_NEWS2_ACVPU) {
        char letter[2] = {acvpu_letters[in->acvpu], '\0'};
        value = json_string(letter);
    } else if (present) {
        value = json_number(given_value(in, p));
    }
    json_object_set_new(j, "value", value);
    if (is_numeric(p))
        json_object_set_new(j, "charted",
                            present ? (p == RULES_NEWS2_TEMP ? json_real(r->charted[p])
                                                             : json_number(r->charted[p]))
                                    : json_null());
    if (p == RULES_NEWS2_SPO2)
        json_object_set_new(j, "scale", json_integer(in->scale));
    json_object_set_new(j, "score", r->sub[p] >= 0 ? json_integer(r->sub[p]) : json_null());
    return j;
}

static void print_json(const struct news2_args *a, const struct rules_news2_result *r)
{
    json_t *missing = json_array();
    json_t *parameters = json_object();
    for (int i = 0; i < RULES_NEWS2__COUNT; i++) {
        enum rules_news2_param p = (enum rules_news2_param)i;
        if (r->missing & RULES_NEWS2_BIT(p))
            json_array_append_new(missing, json_string(rules_news2_param_name(p)));
        json_object_set_new(parameters, rules_news2_param_name(p), param_json(a, r, p));
    }
    json_t *j = json_object();
    json_object_set_new(j, "score", r->complete ? json_integer(r->score) : json_null());
    json_object_set_new(j, "band", json_string(rules_news2_band_name(r->band)));
    json_object_set_new(j, "single_parameter_3", json_boolean(r->single_parameter_3));
    json_object_set_new(j, "complete", json_boolean(r->complete));
    json_object_set_new(j, "missing", missing);
    json_object_set_new(j, "partial_score", json_integer(r->partial_score));
    json_object_set_new(j, "minimum_band", json_string(rules_news2_band_name(r->minimum_band)));
    json_object_set_new(j, "response", json_string(rules_news2_band_response(r->band)));
    json_object_set_new(j, "monitoring", json_string(rules_news2_band_monitoring(r->band)));
    json_object_set_new(j, "parameters", parameters);
    cli_print_json(j);
}

int cmd_news2(int argc, char **argv)
{
    struct news2_args a = {0};
    bool done = false;
    int rc = parse_args(argc, argv, &a, &done);
    if (rc || done)
        return rc;
    struct rules_news2_result r;
    int src = rules_news2_score(&a.in, &r);
    /* parse_args checked every value, so this is a bug, not bad input. */
    if (HX_UNLIKELY_BUG(src < 0))
        return cli_fail("news2: %s", hx_strerror(src));
    if (a.json)
        print_json(&a, &r);
    else
        print_table(&a, &r);
    return CLI_EXIT_OK;
}
