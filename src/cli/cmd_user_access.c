/*
 * medhub user reset-password|reset-mfa|unlock|sessions|revoke-sessions: a user's
 * credentials, lockout and sessions (the help desk's commands). New secrets are printed
 * once; only hashes and sealed secrets are stored.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "cli/cmd_user_int.h"
#include "security/audit.h"
#include "core/err.h"
#include "core/hxtime.h"

#include <openssl/crypto.h>
#include <string.h>

/* Opens the store for writing and loads user name. */
static int open_user(struct cli_ctx *ctx, const struct cli_opts *o, unsigned flags,
                     const char *name, struct store_user *u)
{
    int rc = cli_open(ctx, o, flags);
    if (rc)
        return rc;
    if ((rc = cli_user_load(ctx, name, u)))
        cli_close(ctx);
    return rc;
}

/* ---- reset-password ----------------------------------------------------------------------- */

static const char reset_password_help[] =
    "Usage: medhub user reset-password NAME [--password-stdin] [--data-dir DIR] [--json]\n"
    "\n"
    "Sets a new password and ends every session of the user. Without --password-stdin a\n"
    "one-time password is generated and printed ONCE, and the user must change it at the\n"
    "next login; --password-stdin reads the password from the first line of standard input\n"
    "(at least 12 characters, not the user name, not a common password). Failed logins and\n"
    "a lockout are cleared too.\n"
    "--json   print {\"name\", \"password\" (only when generated), \"must_change_password\",\n"
    "         \"sessions_ended\"}\n";

int cli_user_reset_password(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user reset-password", reset_password_help, argc, argv, 1, "a user NAME",
                         "password-stdin", &a);
    char password[SEC_PASSWORD_MAX + 2] = "";
    int rc;
    if (a.password_stdin &&
        (rc = cli_read_password("user reset-password", a.pos[0], password, sizeof(password))))
        return rc;
    struct cli_ctx ctx;
    struct store_user u;
    if ((rc = open_user(&ctx, &a.o, 0, a.pos[0], &u)))
        goto out_wipe;
    struct cli_new_creds creds = {0};
    if ((rc = cli_set_password(&u, a.password_stdin ? password : NULL, &creds))) {
        cli_close(&ctx);
        goto out_wipe;
    }
    size_t ended = 0;
    char key[STORE_THROTTLE_KEY_MAX];
    auth_throttle_key_user(u.name, key);
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_user_update(ctx.st, &u, STORE_USER_PASSWORD, hx_time_now_us());
    if (rc == 0)
        rc = store_session_delete_user(ctx.st, u.id, 0, &ended);
    if (rc == 0)
        rc = store_throttle_delete(ctx.st, key);
    if (rc == 0)
        rc = cli_user_audit(&ctx, "user.password_reset", "user", u.name,
                            json_pack("{s:b, s:I}", "one_time", u.must_change_password,
                                      "sessions_ended", (json_int_t)ended));
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc < 0) {
        rc = cli_store_fail("setting the password", rc);
    } else if (a.o.json) {
        json_t *j = json_pack("{s:s, s:b, s:I}", "name", u.name, "must_change_password",
                              u.must_change_password, "sessions_ended", (json_int_t)ended);
        if (*creds.password)
            json_object_set_new(j, "password", json_string(creds.password));
        cli_print_json(j);
    } else {
        printf("new password set for %s; %zu sessions ended\n", u.name, ended);
        cli_creds_print(&creds);
    }
    cli_creds_release(&creds);
out_wipe:
    OPENSSL_cleanse(password, sizeof(password));
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

/* ---- reset-mfa ---------------------------------------------------------------------------- */

static const char reset_mfa_help[] =
    "Usage: medhub user reset-mfa NAME [--clear] [--qr FILE] [--data-dir DIR] [--json]\n"
    "\n"
    "For a user who lost their authenticator: the old TOTP secret and every recovery code\n"
    "stop working and every session of the user ends. Then either\n"
    "  - (default) a new TOTP secret is enrolled at once and printed ONCE with its otpauth://\n"
    "    URI (--qr FILE also writes it as a QR code, SVG): hand it over; or\n"
    "  - with --clear, the user has no authenticator: if their role requires MFA\n"
    "    (auth.mfa_roles) they enrol a new one at the next login, after the password.\n"
    "--json   print {\"name\", \"mfa_enrolled\", \"totp_secret\", \"otpauth_uri\",\n"
    "         \"sessions_ended\"}\n";

int cli_user_reset_mfa(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user reset-mfa", reset_mfa_help, argc, argv, 1, "a user NAME", "clear qr",
                         &a);
    if (a.clear && a.qr)
        return cli_usage_error("user reset-mfa", "--qr makes no sense with --clear");
    struct cli_ctx ctx;
    struct store_user u;
    uint8_t key[SEC_KEY_LEN];
    int rc;
    if ((rc = open_user(&ctx, &a.o, 0, a.pos[0], &u)))
        return rc;
    if ((rc = cli_server_key(&ctx, key))) {
        cli_close(&ctx);
        return rc;
    }
    struct cli_new_creds creds = {0};
    int64_t now = hx_time_now_us();
    size_t ended = 0;
    if ((rc = store_begin(ctx.st)) < 0)
        goto out_fail;
    if (a.clear) {
        u.mfa_secret[0] = u.mfa_pending[0] = '\0';
        u.mfa_enrolled = false;
        u.mfa_last_step = 0;
        rc = store_user_update(ctx.st, &u, STORE_USER_MFA | STORE_USER_MFA_PENDING, now);
    } else {
        rc = auth_mfa_provision(ctx.st, key, &u, now, &creds.mfa);
    }
    if (rc == 0)
        rc = store_recovery_set(ctx.st, u.id, NULL, 0);
    if (rc == 0)
        rc = store_session_delete_user(ctx.st, u.id, 0, &ended);
    if (rc == 0)
        rc = cli_user_audit(
            &ctx, "mfa.reset", "user", u.name,
            json_pack("{s:b, s:I}", "cleared", a.clear, "sessions_ended", (json_int_t)ended));
    rc = cli_end(&ctx, rc);
out_fail:
    if (rc < 0) {
        store_rollback(ctx.st);
        cli_close(&ctx);
        cli_creds_release(&creds);
        OPENSSL_cleanse(key, sizeof(key));
        return cli_store_fail("resetting MFA", rc);
    }
    struct auth_policy pol;
    auth_policy_from_cfg(&ctx.cfg, &pol);
    cli_close(&ctx);
    OPENSSL_cleanse(key, sizeof(key));
    if (a.qr && (rc = cli_write_qr(a.qr, &creds.mfa)))
        goto out_release;
    if (a.o.json) {
        json_t *j = json_pack("{s:s, s:b, s:I}", "name", u.name, "mfa_enrolled", u.mfa_enrolled,
                              "sessions_ended", (json_int_t)ended);
        cli_creds_json(j, &creds);
        cli_print_json(j);
    } else if (a.clear) {
        printf("MFA cleared for %s; %zu sessions ended\n", u.name, ended);
        if (auth_mfa_required(&pol, rbac_role_parse(u.role)))
            printf("role %s requires MFA: %s enrols a new authenticator at the next login\n",
                   u.role, u.name);
    } else {
        printf("new TOTP secret for %s; %zu sessions ended\n", u.name, ended);
        cli_creds_print(&creds);
        if (a.qr)
            printf("QR code of the URI written to %s\n", a.qr);
    }
out_release:
    cli_creds_release(&creds);
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

/* ---- unlock ------------------------------------------------------------------------------- */

static const char unlock_help[] =
    "Usage: medhub user unlock NAME [--data-dir DIR] [--json]\n"
    "\n"
    "Clears a user's failed logins: ends a lockout (auth.lockout_failures) and the delay\n"
    "between attempts. Throttling of client addresses is not changed.\n";

int cli_user_unlock(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user unlock", unlock_help, argc, argv, 1, "a user NAME", "", &a);
    struct cli_ctx ctx;
    struct store_user u;
    int rc;
    if ((rc = open_user(&ctx, &a.o, 0, a.pos[0], &u)))
        return rc;
    char key[STORE_THROTTLE_KEY_MAX];
    auth_throttle_key_user(u.name, key);
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_throttle_delete(ctx.st, key);
    if (rc == 0)
        rc = cli_user_audit(&ctx, "user.unlock", "user", u.name, NULL);
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail("unlocking the user", rc);
    if (a.o.json)
        cli_print_json(json_pack("{s:s, s:b}", "name", u.name, "unlocked", 1));
    else
        printf("unlocked %s: failed logins cleared\n", u.name);
    return CLI_EXIT_OK;
}

/* ---- sessions and revoke-sessions --------------------------------------------------------- */

struct sess_ctx {
    const struct auth_policy *pol;
    int64_t now;
    int64_t n;
    json_t *arr;
    struct table *t;
};

static int each_session(void *arg, const struct store_session *s)
{
    struct sess_ctx *c = arg;
    enum sec_session_state state = sec_session_state(s, &c->pol->session, c->now);
    if (state != SEC_SESSION_VALID)
        return 0; /* ended by time; deleted at the next look-up or purge */
    c->n++;
    if (!c->arr && !c->t)
        return 0;
    char created[40], seen[40], expires[40], id[24];
    int64_t idle_end = s->last_seen_us + c->pol->session.idle_us;
    int64_t end = s->expires_us < idle_end ? s->expires_us : idle_end;
    if (c->arr) {
        hx_time_format_rfc3339(s->created_us, created, sizeof(created));
        hx_time_format_rfc3339(s->last_seen_us, seen, sizeof(seen));
        hx_time_format_rfc3339(end, expires, sizeof(expires));
        json_array_append_new(c->arr,
                              json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)s->id,
                                        "created", created, "last_seen", seen, "expires", expires,
                                        "address", s->address, "user_agent", s->user_agent));
        return 0;
    }
    cli_format_time(s->created_us, created, sizeof(created));
    cli_format_time(s->last_seen_us, seen, sizeof(seen));
    cli_format_time(end, expires, sizeof(expires));
    snprintf(id, sizeof(id), "%lld", (long long)s->id);
    const char *cells[] = {id, created, seen, expires, s->address, s->user_agent};
    table_add(c->t, cells);
    return 0;
}

int cli_count_sessions(struct store *st, const struct auth_policy *pol, int64_t user_id, int64_t *n)
{
    struct sess_ctx c = {.pol = pol, .now = hx_time_now_us()};
    int rc = store_session_list(st, user_id, each_session, &c);
    *n = c.n;
    return rc;
}

static const char sessions_help[] =
    "Usage: medhub user sessions NAME [--data-dir DIR] [--json]\n"
    "\n"
    "Lists a user's live login sessions, newest first: when each started, when it was last\n"
    "used, when it ends (idle or absolute timeout, whichever is first), the client address\n"
    "and browser. Never prints session tokens (medhub does not have them).\n"
    "--json   an array of {\"id\", \"created\", \"last_seen\", \"expires\", \"address\",\n"
    "         \"user_agent\"}\n";

int cli_user_sessions(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user sessions", sessions_help, argc, argv, 1, "a user NAME", "", &a);
    struct cli_ctx ctx;
    struct store_user u;
    int rc;
    if ((rc = open_user(&ctx, &a.o, STORE_OPEN_READONLY, a.pos[0], &u)))
        return rc;
    struct auth_policy pol;
    auth_policy_from_cfg(&ctx.cfg, &pol);
    static const char *const headers[] = {"ID",   "CREATED", "LAST SEEN",
                                          "ENDS", "ADDRESS", "USER AGENT"};
    struct table t;
    table_init(&t, 6, headers);
    struct sess_ctx c = {.pol = &pol,
                         .now = hx_time_now_us(),
                         .arr = a.o.json ? json_array() : NULL,
                         .t = a.o.json ? NULL : &t};
    rc = store_session_list(ctx.st, u.id, each_session, &c);
    cli_close(&ctx);
    OPENSSL_cleanse(&u, sizeof(u));
    return cli_finish_listing(rc, c.arr, &t, "listing sessions", "no sessions");
}

static const char revoke_help[] =
    "Usage: medhub user revoke-sessions NAME [--data-dir DIR] [--json]\n"
    "\n"
    "Ends every login session of a user now (a lost laptop, a shared screen). The user can\n"
    "log in again; to stop that, 'medhub user disable'.\n"
    "--json   print {\"name\", \"sessions_ended\"}\n";

int cli_user_revoke_sessions(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user revoke-sessions", revoke_help, argc, argv, 1, "a user NAME", "", &a);
    struct cli_ctx ctx;
    struct store_user u;
    int rc;
    if ((rc = open_user(&ctx, &a.o, 0, a.pos[0], &u)))
        return rc;
    size_t ended = 0;
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_session_delete_user(ctx.st, u.id, 0, &ended);
    if (rc == 0)
        rc = cli_user_audit(&ctx, "session.revoke", "user", u.name,
                            json_pack("{s:I}", "sessions_ended", (json_int_t)ended));
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail("ending the sessions", rc);
    if (a.o.json)
        cli_print_json(
            json_pack("{s:s, s:I}", "name", u.name, "sessions_ended", (json_int_t)ended));
    else
        printf("%zu sessions of %s ended\n", ended, u.name);
    OPENSSL_cleanse(&u, sizeof(u));
    return CLI_EXIT_OK;
}

/* ---- break-glass -------------------------------------------------------------------------- */

static const char grants_help[] =
    "Usage: medhub user break-glass [--data-dir DIR] [--json]\n"
    "\n"
    "Lists emergency access (break-glass) grants, newest first, for post-hoc review: who,\n"
    "which patient, the reason they gave, and from when to when (docs/security.md). Grants\n"
    "are made by clinicians and nurses through the web application, never by this command.\n"
    "--json   an array of {\"id\", \"user\", \"patient\", \"reason\", \"granted\", \"expires\",\n"
    "         \"active\"}\n";

struct grants_ctx {
    struct store *st;
    struct cli_names patients;
    int64_t now;
    json_t *arr;
    struct table *t;
};

static int each_grant(void *arg, const struct store_break_glass *g)
{
    struct grants_ctx *c = arg;
    struct store_user u;
    char who[STORE_USER_NAME_MAX], granted[40], expires[40], id[24];
    if (store_user_get_by_id(c->st, g->user_id, &u) == 0)
        snprintf(who, sizeof(who), "%s", u.name);
    else
        snprintf(who, sizeof(who), "#%lld", (long long)g->user_id);
    OPENSSL_cleanse(&u, sizeof(u));
    const char *mrn = cli_name_of(&c->patients, g->patient_id);
    bool active = g->granted_us <= c->now && c->now < g->expires_us;
    if (c->arr) {
        hx_time_format_rfc3339(g->granted_us, granted, sizeof(granted));
        hx_time_format_rfc3339(g->expires_us, expires, sizeof(expires));
        json_array_append_new(c->arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b}", "id",
                                                (json_int_t)g->id, "user", who, "patient",
                                                mrn ? mrn : "", "reason", g->reason, "granted",
                                                granted, "expires", expires, "active", active));
        return 0;
    }
    cli_format_time(g->granted_us, granted, sizeof(granted));
    cli_format_time(g->expires_us, expires, sizeof(expires));
    snprintf(id, sizeof(id), "%lld", (long long)g->id);
    const char *cells[] = {id,       who, mrn ? mrn : "", granted, expires, active ? "yes" : "no",
                           g->reason};
    table_add(c->t, cells);
    return 0;
}

int cli_user_break_glass(int argc, char **argv)
{
    struct user_args a;
    USER_PARSE_OR_RETURN("user break-glass", grants_help, argc, argv, 0, "", "", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    static const char *const headers[] = {"ID",      "USER",   "PATIENT", "GRANTED",
                                          "EXPIRES", "ACTIVE", "REASON"};
    struct table t;
    table_init(&t, 7, headers);
    struct grants_ctx c = {.st = ctx.st,
                           .patients = {.st = ctx.st, .patients = true},
                           .now = hx_time_now_us(),
                           .arr = a.o.json ? json_array() : NULL,
                           .t = &t};
    rc = store_break_glass_list(ctx.st, 0, 0, each_grant, &c);
    cli_close(&ctx);
    return cli_finish_listing(rc, c.arr, &t, "listing break-glass grants", "no break-glass grants");
}

int cli_user_audit(struct cli_ctx *ctx, const char *action, const char *object_type,
                   const char *name, json_t *details)
{
    char *text = cli_details(details);
    struct audit_entry e = {
        .action = action, .object_type = object_type, .object_id = name, .details = text};
    int rc = cli_audit(ctx, &e);
    free(text);
    return rc;
}
