/*
 * Logging in and out, and the caller's own account (docs/api.md "Sessions"):
 *   POST   /api/v1/session               {name, password}          public
 *   POST   /api/v1/session/mfa           {ticket, code | recovery_code}  public
 *   POST   /api/v1/session/enrol         {ticket} -> secret, otpauth URI, QR SVG   public
 *   POST   /api/v1/session/enrol/confirm {ticket, code} -> session + recovery codes   public
 *   DELETE /api/v1/session               logout (self)
 *   GET    /api/v1/me                    who am I (self)
 *   GET    /api/v1/me/sessions           my sessions (self)
 *   DELETE /api/v1/me/sessions/{id}      end one of them (self)
 * A completed login answers 200 with the CSRF token in the body and the session in a cookie
 * (HttpOnly; Secure; SameSite=Strict; Path=/). Failures share one answer for an unknown name
 * and a wrong password (401 bad_credentials); throttling and lockout answer 429 with
 * Retry-After. Every attempt, success or not, is in the audit trail (login.success,
 * login.failure, mfa.failure, mfa.enrol, session.logout).
 * Layer: api. Thread: loop, except the *_work functions (workers).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "security/audit.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

enum login_step { STEP_PASSWORD, STEP_TOTP, STEP_RECOVERY, STEP_ENROL, STEP_ENROL_CONFIRM };

/* A login request, copied out of the JSON body (the body is wiped as soon as it is read). */
struct login_req {
    enum login_step step;
    char name[STORE_USER_NAME_MAX];
    char password[256];
    size_t password_len;
    char ticket[SEC_SECRET_STR];
    char code[64];
    char user_agent[STORE_AGENT_MAX];
    struct auth_login out;
    char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN];
    bool have_codes;
};

static void login_req_wipe(struct login_req *l)
{
    auth_login_wipe(&l->out);
    OPENSSL_cleanse(l, sizeof(*l));
}

static void record(struct store *st, struct api_job *j, const char *action,
                   enum audit_outcome outcome, int64_t user_id, const char *name,
                   const char *details)
{
    struct audit_entry e = {.actor_kind = AUDIT_ACTOR_USER,
                            .actor_id = user_id,
                            .actor = name && *name ? name : "unknown",
                            .action = action,
                            .outcome = outcome,
                            .source = j->source,
                            .details = details};
    int rc = audit_record(st, &e, NULL);
    if (rc < 0)
        log_error(NULL, "api", "cannot record a login event in the audit trail",
                  "action=%s err=\"%s\"", action, hx_strerror(rc));
}

/* The answer for a login step's result (worker side; the cookie is added on the loop). */
static void answer_login(struct store *st, struct api_job *j, struct login_req *l)
{
    const struct auth_login *o = &l->out;
    if (!l->name[0] && o->user_id > 0) { /* a second step: the ticket knew the user */
        struct store_user u;
        if (store_user_get_by_id(st, o->user_id, &u) == 0)
            snprintf(l->name, sizeof(l->name), "%s", u.name);
    }
    char details[96];
    snprintf(details, sizeof(details), "{\"result\":\"%s\",\"step\":%d}",
             auth_result_name(o->result), (int)l->step);
    switch (o->result) {
    case AUTH_OK: {
        record(st, j, l->step == STEP_ENROL_CONFIRM ? "mfa.enrol" : "login.success", AUDIT_SUCCESS,
               o->user_id, l->name, details);
        json_t *b =
            json_pack("{s:b, s:s, s:s, s:b, s:I}", "authenticated", 1, "role",
                      rbac_role_name(o->role), "csrf_token", o->csrf_token, "must_change_password",
                      o->must_change_password, "expires_us", (json_int_t)o->session.expires_us);
        if (o->used_recovery_code)
            json_object_set_new(b, "recovery_codes_left", json_integer(o->recovery_codes_left));
        if (l->have_codes) {
            json_t *codes = json_array();
            for (int i = 0; i < SEC_RECOVERY_N; i++)
                json_array_append_new(codes, json_string(l->codes[i]));
            json_object_set_new(b, "recovery_codes", codes);
        }
        api__ok(j, 200, b);
        return;
    }
    case AUTH_MFA_REQUIRED:
    case AUTH_MUST_ENROL_MFA:
        api__ok(j, 200,
                json_pack("{s:b, s:s, s:s}", "authenticated", 0, "next",
                          o->result == AUTH_MFA_REQUIRED ? "mfa" : "mfa_enrol", "ticket",
                          o->ticket));
        return;
    case AUTH_THROTTLED:
    case AUTH_LOCKED:
        record(st, j, "login.failure", AUDIT_DENIED, o->user_id, l->name, details);
        api__fail(j, 429, o->result == AUTH_LOCKED ? "locked" : "throttled",
                  "too many failed attempts; try again in %lld s",
                  (long long)((o->retry_after_us + 999999) / 1000000));
        return;
    case AUTH_DISABLED:
        record(st, j, "login.failure", AUDIT_DENIED, o->user_id, l->name, details);
        api__fail(j, 403, "disabled", "this account is disabled");
        return;
    case AUTH_TICKET_INVALID:
        record(st, j, "mfa.failure", AUDIT_DENIED, 0, l->name, details);
        api__fail(j, 401, "ticket_invalid", "the login has expired; start again");
        return;
    case AUTH_BAD_CREDENTIALS:
    default:
        record(st, j, l->step == STEP_PASSWORD ? "login.failure" : "mfa.failure", AUDIT_DENIED,
               o->user_id, l->name, details);
        api__fail(j, 401, "bad_credentials",
                  l->step == STEP_PASSWORD ? "wrong name or password" : "wrong code");
        return;
    }
}

static void login_work(struct store *st, struct api_job *j)
{
    struct login_req *l = j->arg;
    struct auth_client client = {.address = j->source, .user_agent = l->user_agent};
    int64_t now = hx_time_now_us();
    int rc = 0;
    switch (l->step) {
    case STEP_PASSWORD:
        rc = auth_login_password(st, j->a->key, &j->a->policy, l->name, l->password,
                                 l->password_len, &client, now, &l->out);
        break;
    case STEP_TOTP:
        rc = auth_login_totp(st, j->a->key, &j->a->policy, l->ticket, l->code, &client, now,
                             &l->out);
        break;
    case STEP_RECOVERY:
        rc = auth_login_recovery(st, j->a->key, &j->a->policy, l->ticket, l->code, &client, now,
                                 &l->out);
        break;
    case STEP_ENROL_CONFIRM:
        rc = auth_enrol_confirm(st, j->a->key, &j->a->policy, l->ticket, l->code, &client, now,
                                &l->out, l->codes);
        l->have_codes = rc == 0 && l->out.result == AUTH_OK;
        break;
    case STEP_ENROL: {
        struct auth_enrolment en = {0};
        enum auth_result res;
        rc = auth_enrol_start(st, j->a->key, &j->a->policy, l->ticket, now, &en, &res);
        if (rc == 0 && res == AUTH_OK)
            api__ok(j, 200,
                    json_pack("{s:s, s:s, s:s#}", "secret", en.secret, "otpauth_uri", en.uri,
                              "qr_svg", en.svg ? en.svg : "", (int)en.svg_len));
        else if (rc == 0)
            api__fail(j, 401, "ticket_invalid", "the login has expired; start again");
        auth_enrolment_release(&en);
        break;
    }
    }
    if (rc < 0)
        api__fail_store(j, rc, "login");
    else if (l->step != STEP_ENROL)
        answer_login(st, j, l);
}

/* On the loop: the cookie of a completed login, then the wipe. */
static void login_after(struct api_job *j)
{
    struct login_req *l = j->arg;
    if (j->body && l->out.result == AUTH_OK && l->out.session_token[0]) {
        char cookie[256];
        long max_age = (long)j->a->policy.session.absolute_us / 1000000;
        snprintf(cookie, sizeof(cookie),
                 API_SESSION_COOKIE "=%s; Path=/; Max-Age=%ld; HttpOnly; Secure; SameSite=Strict",
                 l->out.session_token, max_age);
        http_add_header(j->x, "Set-Cookie", cookie);
        OPENSSL_cleanse(cookie, sizeof(cookie));
    } else if (!j->body && j->status == 429) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%lld", (long long)((l->out.retry_after_us + 999999) / 1000000));
        http_add_header(j->x, "Retry-After", ra);
    }
    login_req_wipe(l);
    free(l);
}

/* Copies a string member of the body into out (1..cap-1 bytes). */
static bool take_str(json_t *body, const char *key, char *out, size_t cap, size_t *len)
{
    json_t *v = json_object_get(body, key);
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap || memchr(json_string_value(v), '\0', n))
        return false;
    memcpy(out, json_string_value(v), n);
    out[n] = '\0';
    if (len)
        *len = n;
    return true;
}

/* Wipes a JSON body that held a secret (jansson keeps the strings in its own memory). */
static void body_wipe(json_t *body)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(body);
}

static void start_login(struct http_exchange *x, void *arg, enum login_step step)
{
    struct api *a = arg;
    json_t *body = api__json_body(x);
    if (!body)
        return;
    struct login_req *l = hx_xcalloc(1, sizeof(*l));
    l->step = step;
    bool ok;
    switch (step) {
    case STEP_PASSWORD:
        ok = take_str(body, "name", l->name, sizeof(l->name), NULL) &&
             take_str(body, "password", l->password, sizeof(l->password), &l->password_len);
        break;
    case STEP_TOTP:
        ok = take_str(body, "ticket", l->ticket, sizeof(l->ticket), NULL);
        if (ok && take_str(body, "recovery_code", l->code, sizeof(l->code), NULL))
            l->step = STEP_RECOVERY;
        else
            ok = ok && take_str(body, "code", l->code, sizeof(l->code), NULL);
        break;
    case STEP_ENROL:
        ok = take_str(body, "ticket", l->ticket, sizeof(l->ticket), NULL);
        break;
    default:
        ok = take_str(body, "ticket", l->ticket, sizeof(l->ticket), NULL) &&
             take_str(body, "code", l->code, sizeof(l->code), NULL);
        break;
    }
    body_wipe(body);
    if (!ok) {
        login_req_wipe(l);
        free(l);
        http_error(x, 400, "invalid",
                   step == STEP_PASSWORD ? "send {\"name\", \"password\"}"
                                         : "send {\"ticket\", \"code\"} (or \"recovery_code\")");
        return;
    }
    const struct http_header *ua = http_request_header(http_exchange_request(x), "User-Agent");
    if (ua)
        snprintf(l->user_agent, sizeof(l->user_agent), "%.*s", (int)ua->value.len,
                 (const char *)ua->value.ptr);
    api__run_after(a, x, login_work, l, login_after);
}

static void h_login(struct http_exchange *x, void *arg)
{
    start_login(x, arg, STEP_PASSWORD);
}

static void h_mfa(struct http_exchange *x, void *arg)
{
    start_login(x, arg, STEP_TOTP);
}

static void h_enrol(struct http_exchange *x, void *arg)
{
    start_login(x, arg, STEP_ENROL);
}

static void h_enrol_confirm(struct http_exchange *x, void *arg)
{
    start_login(x, arg, STEP_ENROL_CONFIRM);
}

/* ---- logged in --------------------------------------------------------------------------- */

static void logout_work(struct store *st, struct api_job *j)
{
    const struct principal *p = j->who;
    int rc = store_session_delete(st, p->session_id, p->user_id);
    if (rc < 0 && rc != HX_ENOTFOUND) {
        api__fail_store(j, rc, "session");
        return;
    }
    struct audit_entry e = {.action = "session.logout", .outcome = AUDIT_SUCCESS};
    api__audit_actor(j, &e);
    (void)audit_record(st, &e, NULL);
    api__ok(j, 200, json_pack("{s:b}", "logged_out", 1));
}

static void logout_after(struct api_job *j)
{
    if (j->body)
        http_add_header(j->x, "Set-Cookie",
                        API_SESSION_COOKIE
                        "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
}

static void h_logout(struct http_exchange *x, void *arg)
{
    const struct principal *p = api__principal(x);
    if (p->is_token) {
        http_error(x, 400, "invalid", "API tokens have no session (revoke the token instead)");
        return;
    }
    struct slice c;
    if (api__session_cookie(http_exchange_request(x), &c))
        api__auth_cache_evict(arg, (const char *)c.ptr, c.len); /* at once, not in 5 s */
    api__run_after(arg, x, logout_work, NULL, logout_after);
}

static void me_work(struct store *st, struct api_job *j)
{
    const struct principal *p = j->who;
    json_t *wards = json_array();
    for (int i = 0; i < p->n_wards; i++)
        json_array_append_new(wards, json_string(p->wards[i]));
    json_t *perms = json_array();
    for (int i = 0; i < RBAC_PERM__COUNT; i++)
        if (rbac_principal_allows(p, (enum rbac_perm)i))
            json_array_append_new(perms, json_string(rbac_perm_name((enum rbac_perm)i)));
    json_t *b = json_pack("{s:s, s:s, s:b, s:o, s:b, s:o, s:b}", "name", p->name, "role",
                          rbac_role_name(p->role), "is_token", p->is_token, "wards", wards,
                          "all_wards", p->all_wards, "permissions", perms, "must_change_password",
                          p->must_change_password);
    if (!p->is_token) {
        struct store_user u;
        if (store_user_get_by_id(st, p->user_id, &u) == 0) {
            json_object_set_new(b, "display_name", json_string(u.display_name));
            json_object_set_new(b, "mfa_enrolled", json_boolean(u.mfa_enrolled));
        }
    }
    if (p->patient_id)
        json_object_set_new(b, "patient_id", json_integer(p->patient_id));
    api__ok(j, 200, b);
}

static void h_me(struct http_exchange *x, void *arg)
{
    api__run(arg, x, me_work, NULL);
}

static int add_session(void *arg, const struct store_session *s)
{
    struct api_job *j = arg;
    char created[40], seen[40];
    hx_time_format_rfc3339(s->created_us, created, sizeof(created));
    hx_time_format_rfc3339(s->last_seen_us, seen, sizeof(seen));
    json_array_append_new(
        j->body, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)s->id, "created",
                           created, "last_seen", seen, "address", s->address, "user_agent",
                           s->user_agent, "current", s->id == j->who->session_id));
    return 0;
}

static void sessions_work(struct store *st, struct api_job *j)
{
    api__ok(j, 200, json_array());
    int rc = store_session_list(st, j->who->user_id, add_session, j);
    if (rc < 0)
        api__fail_store(j, rc, "session");
}

static void h_sessions(struct http_exchange *x, void *arg)
{
    if (api__principal(x)->is_token) {
        http_error(x, 400, "invalid", "API tokens have no sessions");
        return;
    }
    api__run(arg, x, sessions_work, NULL);
}

static void session_end_work(struct store *st, struct api_job *j)
{
    int64_t id = *(int64_t *)j->arg;
    int rc = store_session_delete(st, id, j->who->user_id); /* only one's own: else 404 */
    if (rc < 0) {
        api__fail_store(j, rc, "session");
        return;
    }
    char oid[24];
    snprintf(oid, sizeof(oid), "%lld", (long long)id);
    struct audit_entry e = {.action = "session.revoke",
                            .outcome = AUDIT_SUCCESS,
                            .object_type = "session",
                            .object_id = oid};
    api__audit_actor(j, &e);
    (void)audit_record(st, &e, NULL);
    api__ok(j, 200, json_pack("{s:b}", "revoked", 1));
}

static void h_session_end(struct http_exchange *x, void *arg)
{
    int64_t *id = http_exchange_alloc(x, sizeof(*id));
    if (!api__param_id(x, "id", id))
        return;
    api__run(arg, x, session_end_work, id);
}

struct pw_req {
    char old_pw[256], new_pw[256];
    size_t old_len, new_len;
};

static void password_work(struct store *st, struct api_job *j)
{
    struct pw_req *r = j->arg;
    enum sec_pw_policy why = 0;
    int rc = auth_password_change(st, j->who->user_id, r->old_pw, r->old_len, r->new_pw, r->new_len,
                                  j->who->session_id, hx_time_now_us(), &why);
    struct audit_entry e = {.action = "user.password",
                            .outcome = rc == 0 ? AUDIT_SUCCESS : AUDIT_DENIED,
                            .object_type = "user",
                            .object_id = j->who->name};
    api__audit_actor(j, &e);
    (void)audit_record(st, &e, NULL);
    if (rc == HX_EDENIED)
        api__fail(j, 403, "bad_credentials", "the current password is wrong");
    else if (rc == HX_EINVAL)
        api__fail(j, 400, "weak_password", "%s", sec_password_policy_message(why));
    else if (rc < 0)
        api__fail_store(j, rc, "user");
    else
        api__ok(j, 200, json_pack("{s:b}", "changed", 1));
}

static void password_after(struct api_job *j)
{
    struct slice c; /* again: a request in between may have cached the old state */
    if (api__session_cookie(http_exchange_request(j->x), &c))
        api__auth_cache_evict(j->a, (const char *)c.ptr, c.len);
    OPENSSL_cleanse(j->arg, sizeof(struct pw_req));
    free(j->arg);
}

static void h_password(struct http_exchange *x, void *arg)
{
    if (api__principal(x)->is_token) {
        http_error(x, 400, "invalid", "API tokens have no password");
        return;
    }
    json_t *body = api__json_body(x);
    if (!body)
        return;
    struct pw_req *r = hx_xcalloc(1, sizeof(*r));
    bool ok = take_str(body, "old_password", r->old_pw, sizeof(r->old_pw), &r->old_len) &&
              take_str(body, "new_password", r->new_pw, sizeof(r->new_pw), &r->new_len);
    body_wipe(body);
    if (!ok) {
        OPENSSL_cleanse(r, sizeof(*r));
        free(r);
        http_error(x, 400, "invalid", "send {\"old_password\", \"new_password\"}");
        return;
    }
    struct slice c; /* the cached principal still says "must change" */
    if (api__session_cookie(http_exchange_request(x), &c))
        api__auth_cache_evict(arg, (const char *)c.ptr, c.len);
    api__run_after(arg, x, password_work, r, password_after);
}

int api__session_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def defs[] = {
        {"POST", "/api/v1/session", h_login, a, "session.login", NULL, HTTP_ROUTE_PUBLIC},
        {"POST", "/api/v1/session/mfa", h_mfa, a, "session.mfa", NULL, HTTP_ROUTE_PUBLIC},
        {"POST", "/api/v1/session/enrol", h_enrol, a, "session.enrol", NULL, HTTP_ROUTE_PUBLIC},
        {"POST", "/api/v1/session/enrol/confirm", h_enrol_confirm, a, "session.enrol_confirm", NULL,
         HTTP_ROUTE_PUBLIC},
        {"DELETE", "/api/v1/session", h_logout, a, "session.logout", "self", 0},
        {"GET", "/api/v1/me", h_me, a, "me.show", NULL, 0}, /* tokens too */
        {"GET", "/api/v1/me/sessions", h_sessions, a, "me.sessions", "self", 0},
        {"DELETE", "/api/v1/me/sessions/{id}", h_session_end, a, "me.session_end", "self", 0},
        {"POST", "/api/v1/me/password", h_password, a, "me.password", "self", 0},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(defs); i++) {
        int rc = http_router_add_route(r, &defs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
