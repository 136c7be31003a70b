/*
 * medhub user add|list|show|disable|enable|role|ward|caseload: the people who use medhub,
 * their roles and care-team scope. `user add` (and `medhub init` for the first admin) hands
 * out the one-time password and the TOTP secret, printed once; only the Argon2id hash and
 * the sealed secret are stored (src/security/, docs/security.md). The credential commands
 * (reset-password, reset-mfa, unlock, sessions, revoke-sessions) are in cmd_user_access.c.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "cli/cmd_user_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "security/auth.h"
#include "security/password.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* ---- Shared with cmd_user_access.c, cmd_token.c and cmd_init.c ---------------------------- */

bool cli_user_name_is_valid(const char *name)
{
    return auth_name_is_valid(name, true);
}

int cli_server_key(const struct cli_ctx *ctx, uint8_t key[SEC_KEY_LEN])
{
    char err[512];
    if (sec_server_key_load(ctx->cfg.data_dir, false, key, err, sizeof(err)) < 0)
        return cli_fail("%s", err);
    return CLI_EXIT_OK;
}

int cli_read_password(const char *cmd, const char *name, char *out, size_t cap)
{
    if (!fgets(out, (int)cap, stdin))
        return cli_fail("no password on standard input");
    size_t n = strlen(out);
    if (n && out[n - 1] != '\n' && !feof(stdin)) {
        OPENSSL_cleanse(out, cap);
        return cli_fail("the password on standard input is too long (at most %d bytes)",
                        SEC_PASSWORD_MAX);
    }
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    enum sec_pw_policy why = sec_password_policy_check(out, n, name);
    if (why != SEC_PW_OK) {
        OPENSSL_cleanse(out, cap);
        return cli_fail("%s: password refused: %s", cmd, sec_password_policy_message(why));
    }
    return CLI_EXIT_OK;
}

int cli_set_password(struct store_user *u, const char *password, struct cli_new_creds *c)
{
    char generated[SEC_PASSWORD_GEN_LEN + 1];
    int rc;
    if (!password) {
        if ((rc = sec_password_generate(generated)) < 0)
            return cli_fail("cannot generate a password: %s", hx_strerror(rc));
        password = generated;
    }
    rc = sec_password_hash(password, strlen(password), u->password_hash);
    u->must_change_password = password == generated;
    if (u->must_change_password)
        snprintf(c->password, sizeof(c->password), "%s", generated);
    OPENSSL_cleanse(generated, sizeof(generated));
    if (rc < 0)
        return cli_fail("cannot hash the password: %s", hx_strerror(rc));
    return CLI_EXIT_OK;
}

int cli_write_qr(const char *path, const struct auth_enrolment *e)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(e->svg, 1, e->svg_len, f) != e->svg_len) {
        if (f)
            fclose(f);
        return cli_fail("cannot write the QR code to %s", path);
    }
    if (fclose(f) != 0)
        return cli_fail("cannot write the QR code to %s", path);
    return CLI_EXIT_OK;
}

void cli_creds_release(struct cli_new_creds *c)
{
    OPENSSL_cleanse(c->password, sizeof(c->password));
    auth_enrolment_release(&c->mfa);
}

void cli_creds_json(json_t *j, const struct cli_new_creds *c)
{
    if (*c->password)
        json_object_set_new(j, "password", json_string(c->password));
    json_object_set_new(j, "totp_secret",
                        *c->mfa.secret ? json_string(c->mfa.secret) : json_null());
    json_object_set_new(j, "otpauth_uri", *c->mfa.uri ? json_string(c->mfa.uri) : json_null());
}

void cli_creds_print(const struct cli_new_creds *c)
{
    if (*c->password)
        printf("one-time password: %s   (to be changed at the first login)\n", c->password);
    if (*c->mfa.secret) {
        printf("TOTP secret:       %s\n", c->mfa.secret);
        printf("otpauth URI:       %s\n", c->mfa.uri);
    }
    if (*c->password || *c->mfa.secret)
        printf("These are shown once: hand them over now. medhub stores only a hash of the\n"
               "password and the TOTP secret encrypted with the server key.\n");
}

/* ---- Argument parsing --------------------------------------------------------------------- */

enum {
    OPT_ROLE = 2000,
    OPT_WARD,
    OPT_PATIENT,
    OPT_DISPLAY,
    OPT_PW_STDIN,
    OPT_NO_MFA,
    OPT_QR,
    OPT_ADD,
    OPT_REMOVE,
    OPT_CLEAR,
};

static const struct option user_opts[] = {
    CLI_COMMON_OPTIONS,
    {"role", required_argument, NULL, OPT_ROLE},
    {"ward", required_argument, NULL, OPT_WARD},
    {"patient", required_argument, NULL, OPT_PATIENT},
    {"display-name", required_argument, NULL, OPT_DISPLAY},
    {"password-stdin", no_argument, NULL, OPT_PW_STDIN},
    {"no-mfa", no_argument, NULL, OPT_NO_MFA},
    {"qr", required_argument, NULL, OPT_QR},
    {"add", required_argument, NULL, OPT_ADD},
    {"remove", required_argument, NULL, OPT_REMOVE},
    {"clear", no_argument, NULL, OPT_CLEAR},
    {0},
};

int cli_user_parse(const char *cmd, const char *help, int argc, char **argv, int n_args,
                   const char *what, const char *extra, struct user_args *a)
{
    memset(a, 0, sizeof(*a));
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", user_opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (c >= OPT_ROLE && c <= OPT_CLEAR) {
            const char *name = user_opts[c - OPT_ROLE + 5].name;
            if (!strstr(extra, name))
                return cli_usage_error(cmd, "--%s is not an option of this command", name);
            switch (c) {
            case OPT_ROLE:
                a->role = optarg;
                break;
            case OPT_WARD:
            case OPT_ADD:
            case OPT_REMOVE:
                if (a->n_items == (int)(sizeof(a->items) / sizeof(a->items[0])))
                    return cli_usage_error(cmd, "too many --%s options", name);
                a->items[a->n_items] = optarg;
                a->item_add[a->n_items++] = c != OPT_REMOVE;
                break;
            case OPT_PATIENT:
                a->patient = optarg;
                break;
            case OPT_DISPLAY:
                a->display = optarg;
                break;
            case OPT_PW_STDIN:
                a->password_stdin = true;
                break;
            case OPT_NO_MFA:
                a->no_mfa = true;
                break;
            case OPT_QR:
                a->qr = optarg;
                break;
            case OPT_CLEAR:
                a->clear = true;
                break;
            }
            continue;
        }
        if (!cli_common_option(&a->o, c, optarg))
            return cli_usage_error(cmd, "unknown option");
    }
    if (argc - optind > n_args)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + n_args]);
    if (argc - optind < n_args)
        return cli_usage_error(cmd, "expected %s", what);
    for (int i = 0; i < n_args; i++)
        a->pos[i] = argv[optind + i];
    return 0;
}

int cli_user_load(struct cli_ctx *ctx, const char *name, struct store_user *u)
{
    int rc = store_user_get(ctx->st, name, u);
    if (rc == HX_ENOTFOUND)
        return cli_fail("no user named '%s' (see 'medhub user list')", name);
    if (rc < 0)
        return cli_store_fail("reading the user", rc);
    return CLI_EXIT_OK;
}

static const char roles_text[] =
    "admin, clinician, nurse, facilities, security, auditor, patient, integration";

/* ---- add ---------------------------------------------------------------------------------- */

static const char add_help[] =
    "Usage: medhub user add NAME --role ROLE [--ward WARD]... [--patient MRN]\n"
    "                       [--display-name TEXT] [--password-stdin] [--no-mfa] [--qr FILE]\n"
    "                       [--data-dir DIR] [--json]\n"
    "\n"
    "Adds a user and prints their credentials ONCE: hand them over now.\n"
    "  - Without --password-stdin a one-time password is generated and printed; the user\n"
    "    must change it at the first login. --password-stdin reads the password from the\n"
    "    first line of standard input instead (at least 12 characters, not the user name,\n"
    "    not a common password).\n"
    "  - A TOTP secret is generated, enrolled at once and printed with its otpauth:// URI\n"
    "    (--qr FILE also writes the URI as a QR code, SVG); the user adds it to an\n"
    "    authenticator app. --no-mfa skips it, for roles that do not require MFA\n"
    "    (auth.mfa_roles; by default patient and integration).\n"
    "medhub stores only an Argon2id hash of the password and the TOTP secret encrypted with\n"
    "the server key.\n"
    "\n"
    "NAME    1-63 characters of A-Z a-z 0-9 . _ - @\n"
    "ROLE    admin, clinician, nurse, facilities, security, auditor, patient, integration\n"
    "--ward WARD     a ward of the user's care team (clinician, nurse; repeatable)\n"
    "--patient MRN   the patient record of a patient user (required for role patient)\n"
    "--json   print {\"name\", \"role\", \"display_name\", \"wards\", \"patient\", \"password\" "
    "(only\n"
    "         when generated), \"must_change_password\", \"totp_secret\", \"otpauth_uri\"}\n";

int cli_user_prepare(struct cli_ctx *ctx, const uint8_t key[SEC_KEY_LEN], struct store_user *u,
                     const char *password, bool mfa, struct cli_new_creds *c)
{
    memset(c, 0, sizeof(*c));
    int rc = cli_set_password(u, password, c);
    if (rc)
        return rc;
    if (mfa && (rc = auth_mfa_provision(ctx->st, key, u, hx_time_now_us(), &c->mfa)) < 0) {
        cli_creds_release(c);
        return cli_fail("cannot set up TOTP: %s", hx_strerror(rc));
    }
    return CLI_EXIT_OK;
}

static int user_add(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user add", add_help, argc, argv, 1, "a user NAME",
                         "role ward patient display-name password-stdin no-mfa qr", &a);
    const char *name = a.pos[0];
    if (!cli_user_name_is_valid(name))
        return cli_usage_error(
            "user add", "user name '%s': expected 1-63 characters of A-Z a-z 0-9 . _ - @", name);
    if (!a.role)
        return cli_usage_error("user add", "--role is required");
    enum rbac_role role = rbac_role_parse(a.role);
    if (role == RBAC_ROLE_NONE)
        return cli_usage_error("user add", "--role '%s': expected one of %s", a.role, roles_text);
    if (role == RBAC_ROLE_PATIENT && !a.patient)
        return cli_usage_error("user add", "--patient MRN is required for role patient");
    if (a.patient && role != RBAC_ROLE_PATIENT)
        return cli_usage_error("user add", "--patient is only for role patient");
    if (a.n_items && role != RBAC_ROLE_CLINICIAN && role != RBAC_ROLE_NURSE)
        return cli_usage_error("user add", "--ward is only for roles clinician and nurse");
    if (a.n_items > RBAC_WARDS_MAX)
        return cli_usage_error("user add", "at most %d wards", RBAC_WARDS_MAX);
    for (int i = 0; i < a.n_items; i++)
        if (!auth_ward_is_valid(a.items[i]))
            return cli_usage_error("user add", "--ward '%s': expected 1-63 characters, no comma",
                                   a.items[i]);
    struct store_user u = {0};
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "%s", rbac_role_name(role));
    if (a.display) {
        if (strlen(a.display) >= sizeof(u.display_name))
            return cli_usage_error("user add", "--display-name is too long");
        snprintf(u.display_name, sizeof(u.display_name), "%s", a.display);
    }
    char password[SEC_PASSWORD_MAX + 2] = "";
    int rc;
    if (a.password_stdin && (rc = cli_read_password("user add", name, password, sizeof(password))))
        return rc;

    struct cli_ctx ctx;
    uint8_t key[SEC_KEY_LEN];
    if ((rc = cli_open(&ctx, &a.o, 0)))
        goto out_wipe_pw;
    struct auth_policy pol;
    auth_policy_from_cfg(&ctx.cfg, &pol);
    if (a.no_mfa && auth_mfa_required(&pol, role)) {
        rc = cli_usage_error("user add", "--no-mfa: role %s requires MFA (auth.mfa_roles)", u.role);
        goto out_close;
    }
    if ((rc = cli_server_key(&ctx, key)))
        goto out_close;
    struct patient p = {0};
    if (a.patient) {
        int src = store_patient_get_by_mrn(ctx.st, a.patient, &p);
        if (src < 0) {
            rc = src == HX_ENOTFOUND
                     ? cli_fail("no patient with MRN '%s' (see 'medhub patient list')", a.patient)
                     : cli_store_fail("reading the patient", src);
            goto out_close;
        }
        u.patient_id = p.id;
    }
    /* The slow part (Argon2id) before the transaction: no write lock is held meanwhile. */
    struct cli_new_creds creds;
    if ((rc = cli_user_prepare(&ctx, key, &u, a.password_stdin ? password : NULL, !a.no_mfa,
                               &creds)))
        goto out_close;
    if ((rc = store_begin(ctx.st)) == 0 && (rc = store_user_add(ctx.st, &u)) == 0) {
        json_t *wards = json_array();
        for (int i = 0; rc == 0 && i < a.n_items; i++) {
            if ((rc = store_user_ward_add(ctx.st, u.id, a.items[i])) == HX_EEXIST)
                rc = 0;
            json_array_append_new(wards, json_string(a.items[i]));
        }
        if (rc == 0)
            rc = cli_user_audit(
                &ctx, "user.create", "user", u.name,
                json_pack("{s:s, s:o, s:b}", "role", u.role, "wards", wards, "mfa", !a.no_mfa));
        else
            json_decref(wards);
    }
    rc = cli_end(&ctx, rc);
    if (rc < 0) {
        rc = rc == HX_EEXIST ? cli_fail("a user named '%s' already exists", u.name)
                             : cli_store_fail("adding the user", rc);
        goto out_creds;
    }
    if (a.qr && *creds.mfa.uri && (rc = cli_write_qr(a.qr, &creds.mfa)))
        goto out_creds;
    if (a.o.json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "name", u.name, "role", u.role, "display_name",
                              u.display_name);
        json_t *wards = json_array();
        for (int i = 0; i < a.n_items; i++)
            json_array_append_new(wards, json_string(a.items[i]));
        json_object_set_new(j, "wards", wards);
        json_object_set_new(j, "patient", a.patient ? json_string(a.patient) : json_null());
        json_object_set_new(j, "must_change_password", json_boolean(u.must_change_password));
        json_object_set_new(j, "mfa_enrolled", json_boolean(u.mfa_enrolled));
        cli_creds_json(j, &creds);
        cli_print_json(j);
    } else {
        printf("added user %s (%s)", u.name, u.role);
        for (int i = 0; i < a.n_items; i++)
            printf("%s%s", i ? ", " : " on wards ", a.items[i]);
        if (a.patient)
            printf(" for patient %s", a.patient);
        printf("\n");
        cli_creds_print(&creds);
        if (a.qr && *creds.mfa.uri)
            printf("QR code of the URI written to %s\n", a.qr);
    }
out_creds:
    cli_creds_release(&creds);
out_close:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(&u, sizeof(u));
    cli_close(&ctx);
out_wipe_pw:
    OPENSSL_cleanse(password, sizeof(password));
    return rc;
}

/* ---- list and show ------------------------------------------------------------------------ */

/* Lock state of a user from its throttle record: "locked", "delayed" or "". OUT: *failures
 * counted (0 once they have aged out), *until the end of the wait (0 when none). */
static const char *lock_state(struct store *st, const struct auth_policy *pol, const char *name,
                              int64_t now, int64_t *failures, int64_t *until)
{
    char key[STORE_THROTTLE_KEY_MAX];
    struct store_throttle t;
    auth_throttle_key_user(name, key);
    *failures = 0;
    *until = 0;
    if (store_throttle_get(st, key, &t) < 0)
        return "";
    struct sec_throttle s = {t.failures, t.last_failure_us, t.next_allowed_us, t.locked_until_us};
    int64_t wait = 0;
    enum sec_throttle_state state = sec_throttle_check(&s, &pol->account, now, &wait);
    bool aged = pol->account.reset_after_us &&
                now - s.last_failure_us >= pol->account.reset_after_us && now >= s.locked_until_us;
    *failures = aged ? 0 : s.failures;
    *until = wait ? now + wait : 0;
    return state == SEC_THROTTLE_LOCKED ? "locked" : state == SEC_THROTTLE_DELAYED ? "delayed" : "";
}

struct wards_ctx {
    json_t *arr;    /* JSON, or NULL */
    char text[512]; /* comma-separated */
};

static int collect_ward(void *arg, const char *ward)
{
    struct wards_ctx *w = arg;
    if (w->arr)
        json_array_append_new(w->arr, json_string(ward));
    size_t n = strlen(w->text);
    snprintf(w->text + n, sizeof(w->text) - n, "%s%s", n ? "," : "", ward);
    return 0;
}

struct user_list_ctx {
    struct store *st;
    const struct auth_policy *pol;
    int64_t now;
    json_t *arr;
    struct table *t;
};

static const char *user_status(const struct store_user *u, const char *lock)
{
    return u->disabled ? "disabled" : *lock ? lock : "active";
}

static json_t *user_json(struct store *st, const struct store_user *u, const char *lock,
                         int64_t failures, int64_t until)
{
    char created[40], login[40] = "", locked[40] = "";
    hx_time_format_rfc3339(u->created_us, created, sizeof(created));
    if (u->last_login_us)
        hx_time_format_rfc3339(u->last_login_us, login, sizeof(login));
    if (until)
        hx_time_format_rfc3339(until, locked, sizeof(locked));
    struct wards_ctx w = {.arr = json_array()};
    store_user_ward_list(st, u->id, collect_ward, &w);
    struct patient p;
    bool has_patient = u->patient_id && store_patient_get(st, u->patient_id, &p) == 0;
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:o, s:s?, s:s, s:b, s:b, s:b, s:I, s:s?, s:s?, s:s}", "name",
                  u->name, "role", u->role, "display_name", u->display_name, "wards", w.arr,
                  "patient", has_patient ? p.mrn : NULL, "status", user_status(u, lock), "disabled",
                  u->disabled, "mfa_enrolled", u->mfa_enrolled, "must_change_password",
                  u->must_change_password, "failed_logins", (json_int_t)failures, "throttled_until",
                  until ? locked : NULL, "last_login", *login ? login : NULL, "created", created);
    return j;
}

static int list_user(void *arg, const struct store_user *u)
{
    struct user_list_ctx *l = arg;
    int64_t failures, until;
    const char *lock = lock_state(l->st, l->pol, u->name, l->now, &failures, &until);
    if (l->arr) {
        json_array_append_new(l->arr, user_json(l->st, u, lock, failures, until));
        return 0;
    }
    struct wards_ctx w = {0};
    store_user_ward_list(l->st, u->id, collect_ward, &w);
    char login[40] = "never";
    if (u->last_login_us)
        cli_format_time(u->last_login_us, login, sizeof(login));
    const char *cells[] = {
        u->name, u->role, w.text, u->mfa_enrolled ? "yes" : "no", user_status(u, lock), login};
    table_add(l->t, cells);
    return 0;
}

static const char list_help[] =
    "Usage: medhub user list [--data-dir DIR] [--json]\n"
    "\n"
    "Lists users by name with their role, wards, MFA enrolment, status (active, disabled,\n"
    "locked after repeated failed logins, or delayed) and last login. Never prints secrets.\n"
    "--json   an array of {\"name\", \"role\", \"display_name\", \"wards\", \"patient\", "
    "\"status\",\n"
    "         \"disabled\", \"mfa_enrolled\", \"must_change_password\", \"failed_logins\",\n"
    "         \"throttled_until\", \"last_login\", \"created\"}\n";

static int user_list(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user list", list_help, argc, argv, 0, "", "", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    struct auth_policy pol;
    auth_policy_from_cfg(&ctx.cfg, &pol);
    static const char *const headers[] = {"NAME", "ROLE", "WARDS", "MFA", "STATUS", "LAST LOGIN"};
    struct table t;
    table_init(&t, 6, headers);
    struct user_list_ctx l = {.st = ctx.st,
                              .pol = &pol,
                              .now = hx_time_now_us(),
                              .arr = a.o.json ? json_array() : NULL,
                              .t = &t};
    rc = store_user_list(ctx.st, list_user, &l);
    cli_close(&ctx);
    return cli_finish_listing(rc, l.arr, &t, "listing users", "no users");
}

static int collect_mrn(void *arg, int64_t id)
{
    struct cli_names *n = ((void **)arg)[0];
    json_t *arr = ((void **)arg)[1];
    const char *mrn = cli_name_of(n, id);
    json_array_append_new(arr, json_string(mrn ? mrn : "?"));
    return 0;
}

static const char show_help[] =
    "Usage: medhub user show NAME [--data-dir DIR] [--json]\n"
    "\n"
    "Shows one user: role, wards, caseload, linked patient, MFA enrolment and recovery codes\n"
    "left, failed logins and lockout, sessions, last login. Never prints secrets.\n"
    "--json   as 'user list --json', plus \"caseload\" (MRNs), \"recovery_codes_left\" and\n"
    "         \"sessions\"\n";

static int user_show(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user show", show_help, argc, argv, 1, "a user NAME", "", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    struct auth_policy pol;
    auth_policy_from_cfg(&ctx.cfg, &pol);
    struct store_user u;
    if ((rc = cli_user_load(&ctx, a.pos[0], &u))) {
        cli_close(&ctx);
        return rc;
    }
    int64_t failures, until, codes = 0, n_sessions = 0;
    const char *lock = lock_state(ctx.st, &pol, u.name, hx_time_now_us(), &failures, &until);
    json_t *j = user_json(ctx.st, &u, lock, failures, until);
    struct cli_names names = {.st = ctx.st, .patients = true};
    json_t *caseload = json_array();
    void *cl_args[2] = {&names, caseload};
    rc = store_user_patient_list(ctx.st, u.id, collect_mrn, cl_args);
    if (rc == 0)
        rc = store_recovery_count(ctx.st, u.id, &codes);
    if (rc == 0)
        rc = cli_count_sessions(ctx.st, &pol, u.id, &n_sessions);
    cli_close(&ctx);
    if (rc < 0) {
        json_decref(j);
        json_decref(caseload);
        return cli_store_fail("reading the user", rc);
    }
    json_object_set_new(j, "caseload", caseload);
    json_object_set_new(j, "recovery_codes_left", json_integer(codes));
    json_object_set_new(j, "sessions", json_integer(n_sessions));
    if (a.o.json) {
        cli_print_json(j);
        return CLI_EXIT_OK;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        printf("%-22s %s\n", k, json_is_string(v) ? json_string_value(v) : text ? text : "");
        free(text);
    }
    json_decref(j);
    return CLI_EXIT_OK;
}

/* ---- enable, disable, role, ward, caseload ------------------------------------------------ */

/* Opens the store for writing and loads user name. */
static int open_user(struct cli_ctx *ctx, const struct cli_opts *o, const char *name,
                     struct store_user *u)
{
    int rc = cli_open(ctx, o, 0);
    if (rc)
        return rc;
    if ((rc = cli_user_load(ctx, name, u)))
        cli_close(ctx);
    return rc;
}

static const char disable_help[] =
    "Usage: medhub user disable NAME [--data-dir DIR] [--json]\n"
    "\n"
    "Disables a user: they cannot log in, and every session of theirs ends now.\n";

static const char enable_help[] = "Usage: medhub user enable NAME [--data-dir DIR] [--json]\n"
                                  "\n"
                                  "Enables a disabled user again.\n";

static int set_disabled(const char *cmd, const char *help, int argc, char **argv, bool disabled)
{
    struct user_args a;
    USER_PARSE_OR_RETURN(cmd, help, argc, argv, 1, "a user NAME", "", &a);
    struct cli_ctx ctx;
    struct store_user u;
    int rc;
    if ((rc = open_user(&ctx, &a.o, a.pos[0], &u)))
        return rc;
    u.disabled = disabled;
    size_t ended = 0;
    int64_t now = hx_time_now_us();
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_user_update(ctx.st, &u, STORE_USER_DISABLED, now);
    if (rc == 0 && disabled)
        rc = store_session_delete_user(ctx.st, u.id, 0, &ended);
    if (rc == 0)
        rc = cli_user_audit(&ctx, disabled ? "user.disable" : "user.enable", "user", u.name,
                            json_pack("{s:I}", "sessions_ended", (json_int_t)ended));
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail(disabled ? "disabling the user" : "enabling the user", rc);
    if (a.o.json)
        cli_print_json(json_pack("{s:s, s:b, s:I}", "name", u.name, "disabled", disabled,
                                 "sessions_ended", (json_int_t)ended));
    else if (disabled)
        printf("disabled user %s; %zu sessions ended\n", u.name, ended);
    else
        printf("enabled user %s\n", u.name);
    return CLI_EXIT_OK;
}

static int user_disable(int argc, char **argv)
{
    return set_disabled("user disable", disable_help, argc, argv, true);
}

static int user_enable(int argc, char **argv)
{
    return set_disabled("user enable", enable_help, argc, argv, false);
}

static const char role_help[] =
    "Usage: medhub user role NAME ROLE [--data-dir DIR] [--json]\n"
    "\n"
    "Changes a user's role. Their sessions end (the next login uses the new role).\n"
    "ROLE    admin, clinician, nurse, facilities, security, auditor, integration\n"
    "        (a patient user is added with 'user add --role patient --patient MRN')\n";

static int user_role(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user role", role_help, argc, argv, 2, "a user NAME and a ROLE", "", &a);
    enum rbac_role role = rbac_role_parse(a.pos[1]);
    if (role == RBAC_ROLE_NONE)
        return cli_usage_error("user role", "role '%s': expected one of %s", a.pos[1], roles_text);
    if (role == RBAC_ROLE_PATIENT)
        return cli_usage_error("user role", "a user cannot become a patient user; add one with "
                                            "'user add --role patient --patient MRN'");
    struct cli_ctx ctx;
    struct store_user u;
    int rc;
    if ((rc = open_user(&ctx, &a.o, a.pos[0], &u)))
        return rc;
    if (rbac_role_parse(u.role) == RBAC_ROLE_PATIENT) {
        cli_close(&ctx);
        return cli_fail("'%s' is a patient user; their role cannot change", u.name);
    }
    char old[STORE_ROLE_MAX];
    snprintf(old, sizeof(old), "%s", u.role);
    snprintf(u.role, sizeof(u.role), "%s", rbac_role_name(role));
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_user_update(ctx.st, &u, STORE_USER_ROLE, hx_time_now_us());
    if (rc == 0)
        rc = store_session_delete_user(ctx.st, u.id, 0, NULL);
    if (rc == 0)
        rc = cli_user_audit(&ctx, "user.role", "user", u.name,
                            json_pack("{s:s, s:s}", "role", u.role, "previous_role", old));
    rc = cli_end(&ctx, rc);
    struct auth_policy pol;
    auth_policy_from_cfg(&ctx.cfg, &pol);
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail("changing the role", rc);
    if (a.o.json) {
        cli_print_json(
            json_pack("{s:s, s:s, s:s}", "name", u.name, "role", u.role, "previous_role", old));
        return CLI_EXIT_OK;
    }
    printf("user %s: role %s (was %s); sessions ended\n", u.name, u.role, old);
    if (auth_mfa_required(&pol, role) && !u.mfa_enrolled)
        printf("role %s requires MFA: %s will enrol an authenticator at the next login\n", u.role,
               u.name);
    return CLI_EXIT_OK;
}

static const char ward_help[] =
    "Usage: medhub user ward NAME [--add WARD]... [--remove WARD]... [--data-dir DIR] [--json]\n"
    "\n"
    "Changes the wards of a clinician's or nurse's care team: they see the patients of these\n"
    "wards (docs/security.md). Without --add or --remove, prints the wards.\n"
    "--json   print {\"name\", \"wards\"}\n";

static const char caseload_help[] =
    "Usage: medhub user caseload NAME [--add MRN]... [--remove MRN]... [--data-dir DIR]\n"
    "                            [--json]\n"
    "\n"
    "Changes a clinician's or nurse's caseload: patients they see by name, whatever their\n"
    "ward (remote monitoring at home). Without --add or --remove, prints the caseload.\n"
    "--json   print {\"name\", \"caseload\"} (MRNs)\n";

/* Applies --add/--remove items (wards, or patient MRNs when patients). */
static int apply_items(struct cli_ctx *ctx, const struct user_args *a, const struct store_user *u,
                       bool patients)
{
    int n_wards = 0;
    if (!patients) {
        struct wards_ctx w = {0};
        int rc = store_user_ward_list(ctx->st, u->id, collect_ward, &w);
        if (rc < 0)
            return cli_store_fail("reading the wards", rc);
        for (const char *p = w.text; *p; p++)
            n_wards += *p == ',';
        n_wards += *w.text != '\0';
    }
    for (int i = 0; i < a->n_items; i++) {
        const char *item = a->items[i];
        int rc;
        if (patients) {
            struct patient p;
            if ((rc = store_patient_get_by_mrn(ctx->st, item, &p)) == HX_ENOTFOUND)
                return cli_fail("no patient with MRN '%s' (see 'medhub patient list')", item);
            if (rc == 0)
                rc = a->item_add[i] ? store_user_patient_add(ctx->st, u->id, p.id)
                                    : store_user_patient_remove(ctx->st, u->id, p.id);
        } else {
            if (a->item_add[i] && !auth_ward_is_valid(item))
                return cli_usage_error("user ward",
                                       "--add '%s': expected 1-63 characters, no "
                                       "comma",
                                       item);
            if (a->item_add[i] && n_wards >= RBAC_WARDS_MAX)
                return cli_fail("%s already has %d wards, the most a user may have", u->name,
                                RBAC_WARDS_MAX);
            rc = a->item_add[i] ? store_user_ward_add(ctx->st, u->id, item)
                                : store_user_ward_remove(ctx->st, u->id, item);
            if (rc == 0)
                n_wards += a->item_add[i] ? 1 : -1;
        }
        if (rc == HX_ENOTFOUND && !a->item_add[i])
            return cli_fail("'%s' is not on %s's %s", item, u->name,
                            patients ? "caseload" : "wards");
        if (rc < 0 && rc != HX_EEXIST)
            return cli_store_fail(patients ? "changing the caseload" : "changing the wards", rc);
    }
    return CLI_EXIT_OK;
}

static int ward_or_caseload(const char *cmd, const char *help, int argc, char **argv, bool patients)
{
    struct user_args a;
    USER_PARSE_OR_RETURN(cmd, help, argc, argv, 1, "a user NAME", "add remove", &a);
    struct cli_ctx ctx;
    struct store_user u;
    int rc;
    if ((rc = open_user(&ctx, &a.o, a.pos[0], &u)))
        return rc;
    enum rbac_role role = rbac_role_parse(u.role);
    if (a.n_items && role != RBAC_ROLE_CLINICIAN && role != RBAC_ROLE_NURSE) {
        cli_close(&ctx);
        return cli_fail("%s is a%s %s user; only clinicians and nurses have %s", u.name,
                        role == RBAC_ROLE_ADMIN || role == RBAC_ROLE_AUDITOR ||
                                role == RBAC_ROLE_INTEGRATION
                            ? "n"
                            : "",
                        u.role, patients ? "a caseload" : "wards");
    }
    if ((rc = store_begin(ctx.st)) < 0) {
        cli_close(&ctx);
        return cli_store_fail("changing the user", rc);
    }
    if ((rc = apply_items(&ctx, &a, &u, patients))) {
        store_rollback(ctx.st);
        cli_close(&ctx);
        return rc;
    }
    json_t *items = json_array();
    for (int i = 0; i < a.n_items; i++)
        json_array_append_new(items,
                              patients /* a caseload names patients: ids stay out */
                                  ? json_pack("{s:s}", "op", a.item_add[i] ? "add" : "remove")
                                  : json_pack("{s:s, s:s}", "op", a.item_add[i] ? "add" : "remove",
                                              "ward", a.items[i]));
    rc = cli_user_audit(&ctx, patients ? "user.caseload" : "user.wards", "user", u.name,
                        json_pack("{s:o}", "changes", items));
    if ((rc = cli_end(&ctx, rc)) < 0) {
        cli_close(&ctx);
        return cli_store_fail("changing the user", rc);
    }
    json_t *arr = json_array();
    struct wards_ctx w = {.arr = arr};
    struct cli_names names = {.st = ctx.st, .patients = true};
    void *cl_args[2] = {&names, arr};
    rc = patients ? store_user_patient_list(ctx.st, u.id, collect_mrn, cl_args)
                  : store_user_ward_list(ctx.st, u.id, collect_ward, &w);
    cli_close(&ctx);
    if (rc < 0) {
        json_decref(arr);
        return cli_store_fail("reading the user", rc);
    }
    if (a.o.json) {
        cli_print_json(
            json_pack("{s:s, s:o}", "name", u.name, patients ? "caseload" : "wards", arr));
        return CLI_EXIT_OK;
    }
    printf("%s %s:", u.name, patients ? "caseload" : "wards");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) printf("%s %s", i ? "," : "", json_string_value(v));
    printf("%s\n", json_array_size(arr) ? "" : " (none)");
    json_decref(arr);
    return CLI_EXIT_OK;
}

static int user_ward(int argc, char **argv)
{
    return ward_or_caseload("user ward", ward_help, argc, argv, false);
}

static int user_caseload(int argc, char **argv)
{
    return ward_or_caseload("user caseload", caseload_help, argc, argv, true);
}

int cmd_user(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"add", "add a user (prints the password and TOTP secret once)", user_add},
        {"list", "list users", user_list},
        {"show", "show a user", user_show},
        {"disable", "stop a user from logging in; end their sessions", user_disable},
        {"enable", "allow a disabled user again", user_enable},
        {"role", "change a user's role", user_role},
        {"ward", "change a user's care-team wards", user_ward},
        {"caseload", "change a user's caseload of patients", user_caseload},
        {"reset-password", "set a new (one-time) password", cli_user_reset_password},
        {"reset-mfa", "new TOTP secret, or enrolment at the next login", cli_user_reset_mfa},
        {"unlock", "clear failed logins and a lockout", cli_user_unlock},
        {"sessions", "list a user's sessions", cli_user_sessions},
        {"revoke-sessions", "end every session of a user", cli_user_revoke_sessions},
        {"break-glass", "list emergency access grants for review", cli_user_break_glass},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("user", "Usage: medhub user COMMAND [OPTIONS]", subs, argc, argv);
}
