/*
 * medhub token add|list|revoke: API tokens (Bearer) for other systems. `token add` prints the
 * token once; only its keyed hash is stored (src/security/apitoken.h, docs/security.md).
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "cli/cmd_user_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "security/apitoken.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define DAY_US (86400 * INT64_C(1000000))

enum { OPT_ROLE = 2000, OPT_WARD, OPT_EXPIRES, OPT_SCOPE };

struct token_args {
    struct cli_opts o; /* common options */
    const char *name;  /* positional NAME */
    const char *role;  /* --role */
    const char *ward;  /* --ward */
    const char *scope; /* --scope */
    long expires_days; /* --expires, 0 = never */
};

static int parse_token_args(const char *cmd, const char *help, int argc, char **argv,
                            bool need_name, const char *extra, struct token_args *a)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"role", required_argument, NULL, OPT_ROLE},
        {"ward", required_argument, NULL, OPT_WARD},
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {0},
    };
    memset(a, 0, sizeof(*a));
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (c >= OPT_ROLE && c <= OPT_SCOPE) {
            const char *name = opts[c - OPT_ROLE + 5].name;
            if (!strstr(extra, name))
                return cli_usage_error(cmd, "--%s is not an option of this command", name);
            if (c == OPT_ROLE) {
                a->role = optarg;
            } else if (c == OPT_WARD) {
                a->ward = optarg;
            } else if (c == OPT_SCOPE) {
                a->scope = optarg;
            } else {
                char *end;
                long v = strtol(optarg, &end, 10);
                if (!*optarg || *end || v < 1 || v > 3650)
                    return cli_usage_error(cmd, "--expires: expected a number of days from 1 to "
                                                "3650");
                a->expires_days = v;
            }
            continue;
        }
        if (!cli_common_option(&a->o, c, optarg))
            return cli_usage_error(cmd, "unknown option");
    }
    int n = need_name ? 1 : 0;
    if (argc - optind > n)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + n]);
    if (argc - optind < n)
        return cli_usage_error(cmd, "expected a token NAME");
    if (need_name)
        a->name = argv[optind];
    return 0;
}

#define PARSE_OR_RETURN(...)                                                                       \
    do {                                                                                           \
        int prc_ = parse_token_args(__VA_ARGS__);                                                  \
        if (prc_ < 0)                                                                              \
            return CLI_EXIT_OK;                                                                    \
        if (prc_ > 0)                                                                              \
            return prc_;                                                                           \
    } while (0)

static const char *token_state(const struct store_apitoken *t, int64_t now)
{
    if (t->revoked_us)
        return "revoked";
    if (t->expires_us && now >= t->expires_us)
        return "expired";
    return "active";
}

static json_t *token_json(const struct store_apitoken *t, int64_t now)
{
    char created[40], expires[40] = "", used[40] = "", revoked[40] = "";
    hx_time_format_rfc3339(t->created_us, created, sizeof(created));
    if (t->expires_us)
        hx_time_format_rfc3339(t->expires_us, expires, sizeof(expires));
    if (t->last_used_us)
        hx_time_format_rfc3339(t->last_used_us, used, sizeof(used));
    if (t->revoked_us)
        hx_time_format_rfc3339(t->revoked_us, revoked, sizeof(revoked));
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s?, s:s?}", "name", t->name, "role",
                     t->role, "ward", *t->ward ? t->ward : NULL, "scopes",
                     *t->scopes ? t->scopes : NULL, "expires", *expires ? expires : NULL, "state",
                     token_state(t, now), "created", created, "last_used", *used ? used : NULL,
                     "revoked", *revoked ? revoked : NULL);
}

/* ---- add ---------------------------------------------------------------------------------- */

static const char add_help[] =
    "Usage: medhub token add NAME --role ROLE [--ward WARD] [--expires DAYS]\n"
    "                        [--scope PERMISSIONS] [--data-dir DIR] [--json]\n"
    "\n"
    "Creates an API token for another system and prints it ONCE. Systems send it as\n"
    "'Authorization: Bearer TOKEN'. It starts with mhk_ so that secret scanners recognise\n"
    "it; medhub keeps only a keyed hash, so a lost token cannot be shown again (revoke it and\n"
    "add another). A token logs in without MFA: give it the least it needs.\n"
    "\n"
    "NAME    1-63 characters of A-Z a-z 0-9 . _ -\n"
    "ROLE    integration (usual), or admin, clinician, nurse, facilities, security, auditor\n"
    "--ward WARD        the token sees only patients of this ward (default: every ward)\n"
    "--expires DAYS     the token stops working after DAYS days, 1-3650 (default: never)\n"
    "--scope PERMS      comma-separated permissions narrowing the role, e.g.\n"
    "                   'ingest' for a gateway or 'metrics' for a scraper (docs/security.md)\n"
    "--json   print {\"name\", \"token\", \"role\", \"ward\", \"scopes\", \"expires\", "
    "\"created\"}\n";

static int token_add(int argc, char **argv)
{
    struct token_args a;
    PARSE_OR_RETURN("token add", add_help, argc, argv, true, "role ward expires scope", &a);
    if (!auth_name_is_valid(a.name, false))
        return cli_usage_error(
            "token add", "token name '%s': expected 1-63 characters of A-Z a-z 0-9 . _ -", a.name);
    if (!a.role)
        return cli_usage_error("token add", "--role is required");
    enum rbac_role role = rbac_role_parse(a.role);
    if (role == RBAC_ROLE_NONE || role == RBAC_ROLE_PATIENT)
        return cli_usage_error("token add",
                               "--role '%s': expected one of integration, admin, clinician, "
                               "nurse, facilities, security, auditor",
                               a.role);
    struct store_apitoken t = {0};
    snprintf(t.name, sizeof(t.name), "%s", a.name);
    snprintf(t.role, sizeof(t.role), "%s", rbac_role_name(role));
    if (a.ward) {
        if (!*a.ward || strlen(a.ward) >= sizeof(t.ward) || strchr(a.ward, ','))
            return cli_usage_error("token add", "--ward: expected 1-63 characters, no comma");
        snprintf(t.ward, sizeof(t.ward), "%s", a.ward);
    }
    if (a.scope) {
        uint64_t mask;
        char bad[64];
        if (strlen(a.scope) >= sizeof(t.scopes) ||
            rbac_scopes_parse(a.scope, &mask, bad, sizeof(bad)) < 0)
            return cli_usage_error("token add",
                                   "--scope: '%s' is not a permission (see "
                                   "docs/security.md)",
                                   bad);
        for (int p = 0; p < RBAC_PERM__COUNT; p++)
            if (((mask >> p) & 1) && !rbac_allows(role, (enum rbac_perm)p))
                return cli_usage_error("token add", "--scope: role %s does not have %s", t.role,
                                       rbac_perm_name((enum rbac_perm)p));
        /* Stored canonical: names in table order. */
        size_t o = 0;
        for (int p = 0; p < RBAC_PERM__COUNT; p++)
            if ((mask >> p) & 1)
                o += (size_t)snprintf(t.scopes + o, sizeof(t.scopes) - o, "%s%s", o ? "," : "",
                                      rbac_perm_name((enum rbac_perm)p));
    }
    int64_t now = hx_time_now_us();
    if (a.expires_days)
        t.expires_us = now + a.expires_days * DAY_US;

    struct cli_ctx ctx;
    uint8_t key[SEC_KEY_LEN];
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    if ((rc = cli_server_key(&ctx, key))) {
        cli_close(&ctx);
        return rc;
    }
    char token[SEC_APITOKEN_STR];
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = sec_apitoken_create(ctx.st, key, &t, token);
    if (rc == 0)
        rc = cli_user_audit(&ctx, "token.create", "token", t.name,
                            json_pack("{s:s, s:s}", "role", t.role, "ward", t.ward));
    rc = cli_end(&ctx, rc);
    OPENSSL_cleanse(key, sizeof(key));
    cli_close(&ctx);
    if (rc == HX_EEXIST)
        return cli_fail("a token named '%s' already exists (names of revoked tokens stay taken)",
                        t.name);
    if (rc < 0)
        return cli_store_fail("adding the token", rc);
    if (a.o.json) {
        char created[40], expires[40] = "";
        hx_time_format_rfc3339(t.created_us, created, sizeof(created));
        if (t.expires_us)
            hx_time_format_rfc3339(t.expires_us, expires, sizeof(expires));
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "name", t.name, "token",
                                 token, "role", t.role, "ward", *t.ward ? t.ward : NULL, "scopes",
                                 *t.scopes ? t.scopes : NULL, "expires", *expires ? expires : NULL,
                                 "created", created));
    } else {
        printf("added token %s (%s%s%s)%s\n", t.name, t.role, *t.ward ? ", ward " : "", t.ward,
               t.expires_us ? "" : ", never expires");
        printf("token: %s\n", token);
        printf("This token is shown once. medhub stores only a keyed hash of it.\n");
    }
    OPENSSL_cleanse(token, sizeof(token));
    return CLI_EXIT_OK;
}

/* ---- list and revoke ---------------------------------------------------------------------- */

struct list_ctx {
    int64_t now;
    json_t *arr;
    struct table *t;
};

static int list_token(void *arg, const struct store_apitoken *t)
{
    struct list_ctx *l = arg;
    if (l->arr) {
        json_array_append_new(l->arr, token_json(t, l->now));
        return 0;
    }
    char expires[40] = "never", used[40] = "never";
    if (t->expires_us)
        cli_format_time(t->expires_us, expires, sizeof(expires));
    if (t->last_used_us)
        cli_format_time(t->last_used_us, used, sizeof(used));
    const char *cells[] = {t->name,
                           t->role,
                           *t->ward ? t->ward : "(all)",
                           *t->scopes ? t->scopes : "(role)",
                           token_state(t, l->now),
                           expires,
                           used};
    table_add(l->t, cells);
    return 0;
}

static const char list_help[] =
    "Usage: medhub token list [--data-dir DIR] [--json]\n"
    "\n"
    "Lists API tokens by name with role, ward, scopes, state (active, expired, revoked),\n"
    "expiry and last use. Never prints the tokens (medhub does not have them).\n"
    "--json   an array of {\"name\", \"role\", \"ward\", \"scopes\", \"expires\", \"state\",\n"
    "         \"created\", \"last_used\", \"revoked\"}\n";

static int token_list(int argc, char **argv)
{
    struct token_args a;
    PARSE_OR_RETURN("token list", list_help, argc, argv, false, "", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    static const char *const headers[] = {"NAME",  "ROLE",    "WARD",     "SCOPES",
                                          "STATE", "EXPIRES", "LAST USED"};
    struct table t;
    table_init(&t, 7, headers);
    struct list_ctx l = {.now = hx_time_now_us(), .arr = a.o.json ? json_array() : NULL, .t = &t};
    rc = store_apitoken_list(ctx.st, list_token, &l);
    cli_close(&ctx);
    return cli_finish_listing(rc, l.arr, &t, "listing tokens", "no tokens");
}

static const char revoke_help[] =
    "Usage: medhub token revoke NAME [--data-dir DIR] [--json]\n"
    "\n"
    "Revokes an API token: it stops working at once (a running daemon checks every request).\n"
    "The record stays listed as revoked, and its name stays taken.\n";

static int token_revoke(int argc, char **argv)
{
    struct token_args a;
    PARSE_OR_RETURN("token revoke", revoke_help, argc, argv, true, "", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_apitoken_revoke(ctx.st, a.name, hx_time_now_us());
    if (rc == 0)
        rc = cli_user_audit(&ctx, "token.revoke", "token", a.name, NULL);
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc == HX_ENOTFOUND)
        return cli_fail("no active token named '%s' (see 'medhub token list')", a.name);
    if (rc < 0)
        return cli_store_fail("revoking the token", rc);
    if (a.o.json)
        cli_print_json(json_pack("{s:s, s:s}", "name", a.name, "state", "revoked"));
    else
        printf("revoked token %s\n", a.name);
    return CLI_EXIT_OK;
}

int cmd_token(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"add", "create an API token (printed once)", token_add},
        {"list", "list API tokens", token_list},
        {"revoke", "revoke an API token", token_revoke},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("token", "Usage: medhub token COMMAND [OPTIONS]", subs, argc, argv);
}
