/*
 * medhub fhir get: runs one FHIR read or search (src/fhir) against the data directory, with no
 * HTTP server: the integrator's and the tests' way to see exactly the JSON the /fhir routes
 * serve. The query string is percent-decoded here the way an HTTP query parser would.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/mem.h"
#include "fhir/fhir.h"

#include <getopt.h>
#include <string.h>

static const char get_help[] =
    "Usage: medhub fhir get PATH [--scope SCOPE] [--lenient] [--base URL] [--data-dir DIR]\n"
    "\n"
    "Prints the FHIR R4 JSON the server answers for GET /fhir/PATH, without a server:\n"
    "  metadata                              the CapabilityStatement\n"
    "  Patient/12, Observation/12.1.1767225600000000.3   a read by id\n"
    "  'Observation?patient=12&code=8867-4&date=ge2026-01-01'   a search (quote the ?)\n"
    "Options:\n"
    "  --scope SCOPE   whose data is visible: all (default), ward:NAME[,NAME...] or\n"
    "                  patient:MRN\n"
    "  --lenient       as Prefer: handling=lenient: ignore unknown parameters\n"
    "  --base URL      service base for fullUrl and links (default http://localhost/fhir)\n"
    "Exit status 0 for HTTP 200, 1 otherwise (the status is printed on stderr).\n";

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) in place ('+' is a space, as in forms). Returns the new length,
 * or -1 on a bad escape. */
static long decode(char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= len || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
                return -1;
            s[n++] = (char)(h << 4 | l);
            i += 2;
        } else {
            s[n++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    return (long)n;
}

/* Splits query (modified in place) into params. Returns the count or -1. */
static long parse_query(char *query, struct fhir_param *params, size_t max)
{
    size_t n = 0;
    char *p = query;
    while (*p) {
        char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            if (n == max)
                return -1;
            char *eq = memchr(p, '=', len);
            size_t nl = eq ? (size_t)(eq - p) : len;
            long dn = decode(p, nl);
            long dv = eq ? decode(eq + 1, len - nl - 1) : 0;
            if (dn < 0 || dv < 0)
                return -1;
            params[n++] = (struct fhir_param){p, (size_t)dn, eq ? eq + 1 : "", (size_t)dv};
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return (long)n;
}

static int fhir_get(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"scope", required_argument, NULL, 's'},
        {"lenient", no_argument, NULL, 'l'},
        {"base", required_argument, NULL, 'b'},
        {0},
    };
    struct cli_opts o = {0};
    const char *scope_text = "all", *base = "http://localhost/fhir";
    bool lenient = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_HELP:
            fputs(get_help, stdout);
            return CLI_EXIT_OK;
        case 's':
            scope_text = optarg;
            break;
        case 'l':
            lenient = true;
            break;
        case 'b':
            base = optarg;
            break;
        default:
            if (!cli_common_option(&o, c, optarg))
                return cli_usage_error("fhir get", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("fhir get", "expected one PATH");
    char *path = hx_xstrdup(argv[optind]);
    if (path[0] == '/')
        memmove(path, path + 1, strlen(path));

    struct fhir_scope scope = {.kind = STORE_SCOPE_ALL};
    char *wards_buf = NULL;
    const char *wards[STORE_SCOPE_WARDS_MAX];
    const char *scope_mrn = NULL;
    if (strncmp(scope_text, "ward:", 5) == 0) {
        wards_buf = hx_xstrdup(scope_text + 5);
        scope.kind = STORE_SCOPE_WARDS;
        scope.wards = wards;
        for (char *w = wards_buf; w && *w && scope.n_wards < STORE_SCOPE_WARDS_MAX;) {
            char *comma = strchr(w, ',');
            if (comma)
                *comma = '\0';
            wards[scope.n_wards++] = w;
            w = comma ? comma + 1 : NULL;
        }
    } else if (strncmp(scope_text, "patient:", 8) == 0) {
        scope.kind = STORE_SCOPE_PATIENT;
        scope_mrn = scope_text + 8;
    } else if (strcmp(scope_text, "all") != 0) {
        free(path);
        return cli_usage_error("fhir get", "--scope '%s': expected all, ward:NAME or patient:MRN",
                               scope_text);
    }

    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY))) {
        free(path);
        free(wards_buf);
        return rc;
    }
    if (scope_mrn) {
        struct patient p;
        int src = store_patient_get_by_mrn(ctx.st, scope_mrn, &p);
        scope.patient_id = src == 0 ? p.id : -1; /* nobody */
    }
    struct fhir_request rq = {
        .base_url = base, .scope = &scope, .flags = lenient ? FHIR_LENIENT : 0};
    json_t *body = NULL;
    int status = 0;
    char *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    char *slash = strchr(path, '/');
    if (slash)
        *slash = '\0';
    enum fhir_type type;
    if (strcmp(path, "metadata") == 0 && !slash) {
        body = fhir_capability(base);
        status = 200;
    } else if (fhir_type_parse(path, strlen(path), &type) < 0) {
        body = fhir_outcome_unknown_type(path, strlen(path));
        status = 404;
    } else if (slash) {
        long n = decode(slash + 1, strlen(slash + 1));
        if (n < 0) {
            body = fhir_outcome_new("error", "invalid", "bad percent-encoding in the id");
            status = 400;
        } else {
            fhir_read(ctx.st, &rq, type, slash + 1, (size_t)n, &body, &status);
        }
    } else {
        struct fhir_param params[128];
        long n = query ? parse_query(query, params, 128) : 0;
        if (n < 0) {
            body = fhir_outcome_new("error", "invalid", "bad query string");
            status = 400;
        } else {
            fhir_search(ctx.st, &rq, type, params, (size_t)n, &body, &status);
        }
    }
    cli_close(&ctx);
    free(path);
    free(wards_buf);
    if (!body)
        return cli_fail("out of memory building the answer");
    cli_print_json(body);
    if (status != 200) {
        fprintf(stderr, "HTTP %d\n", status);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int cmd_fhir(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"get", "print the FHIR JSON of a read or search, without a server", fhir_get},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("fhir", "Usage: medhub fhir COMMAND [OPTIONS]", subs, argc, argv);
}
