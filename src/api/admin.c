/*
 * Users and API tokens (docs/api.md "Users and tokens"), all with permission user.admin:
 *   GET    /api/v1/users
 *   POST   /api/v1/users                      {name, role, wards?, patient_mrn?, display_name?,
 *                                              mfa?} -> 201, one-time password + TOTP, ONCE
 *   POST   /api/v1/users/{name}/disable|enable
 *   PUT    /api/v1/users/{name}/role          {role}
 *   PUT    /api/v1/users/{name}/wards         {wards: [...]} (replaces the set)
 *   POST   /api/v1/users/{name}/reset-mfa     -> new TOTP secret, ONCE
 *   POST   /api/v1/users/{name}/reset-password -> one-time password, ONCE
 *   POST   /api/v1/users/{name}/unlock
 *   GET    /api/v1/tokens
 *   POST   /api/v1/tokens                     {name, role, ward?, scopes?, expires_days?}
 *                                              -> 201 with the token, ONCE
 *   DELETE /api/v1/tokens/{name}
 * The same rules as `medhub user` and `medhub token` (names, roles, wards, patient users,
 * MFA roles), plus one the CLI lacks: the last enabled admin can be neither disabled nor
 * given another role (409 last_admin), checked inside the change's transaction so two
 * administrators demoting each other cannot both succeed. Role changes, disabling, password
 * and MFA resets end the user's sessions. Every change appends its audit entry inside its
 * transaction (user.create, user.disable, user.enable, user.role, user.wards, mfa.reset,
 * user.password_reset, user.unlock, token.create, token.revoke); never a credential.
 * Layer: api. Thread: loop, except the *_work functions (workers).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "security/audit.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_US (86400LL * 1000000)

enum user_op { U_CREATE, U_DISABLE, U_ENABLE, U_ROLE, U_WARDS, U_RESET_MFA, U_RESET_PW, U_UNLOCK };

struct user_req {
    enum user_op op;
    struct store_user u; /* create: the new user; else name only until loaded */
    enum rbac_role role;
    char mrn[PAT_MRN_MAX];
    char wards[RBAC_WARDS_MAX][PAT_WARD_MAX];
    int n_wards;
    bool mfa;
    char password[SEC_PASSWORD_GEN_LEN + 1]; /* generated, shown once */
    struct auth_enrolment creds;             /* TOTP, shown once */
};

static void user_after(struct api_job *j)
{
    struct user_req *r = j->arg;
    if (j->a) /* NULL when called only to release a refused request */
        api__auth_cache_evict_name(j->a, false, r->u.name); /* role, wards, disabled: at once */
    auth_enrolment_release(&r->creds);
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
}

static bool take_str(json_t *body, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(body, key);
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap || memchr(json_string_value(v), '\0', n))
        return false;
    memcpy(out, json_string_value(v), n);
    out[n] = '\0';
    return true;
}

/* Reads "wards": an array of distinct valid ward names. Returns an error text or NULL. */
static const char *take_wards(json_t *body, struct user_req *r)
{
    json_t *arr = json_object_get(body, "wards");
    if (!arr || json_is_null(arr))
        return NULL;
    if (!json_is_array(arr) || json_array_size(arr) > RBAC_WARDS_MAX)
        return "\"wards\": expected an array of at most 16 ward names";
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) >= PAT_WARD_MAX ||
            strlen(json_string_value(v)) != json_string_length(v) ||
            !auth_ward_is_valid(json_string_value(v)))
            return "\"wards\": each ward is 1-63 characters without a comma";
        bool dup = false;
        for (int k = 0; k < r->n_wards; k++)
            dup = dup || strcmp(r->wards[k], json_string_value(v)) == 0;
        if (!dup)
            snprintf(r->wards[r->n_wards++], PAT_WARD_MAX, "%s", json_string_value(v));
    }
    return NULL;
}

static int tx_end(struct store *st, int rc)
{
    if (rc < 0) {
        store_rollback(st);
        return rc;
    }
    rc = store_commit(st);
    if (rc < 0)
        store_rollback(st);
    return rc;
}

static int audit_change(struct store *st, struct api_job *j, const char *action,
                        const char *object_type, const char *name, json_t *details)
{
    char *text = details ? json_dumps(details, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(details);
    struct audit_entry e = {.action = action,
                            .outcome = AUDIT_SUCCESS,
                            .object_type = object_type,
                            .object_id = name,
                            .details = text};
    api__audit_actor(j, &e);
    int rc = audit_append(st, &e, NULL);
    free(text);
    return rc;
}

/* ---- listing ------------------------------------------------------------------------------- */

static int collect_ward(void *arg, const char *ward)
{
    json_array_append_new(arg, json_string(ward));
    return 0;
}

static const char *lock_state(struct store *st, const struct auth_policy *pol, const char *name,
                              int64_t now)
{
    char key[STORE_THROTTLE_KEY_MAX];
    struct store_throttle t;
    auth_throttle_key_user(name, key);
    if (store_throttle_get(st, key, &t) < 0)
        return "";
    struct sec_throttle s = {t.failures, t.last_failure_us, t.next_allowed_us, t.locked_until_us};
    int64_t wait = 0;
    enum sec_throttle_state state = sec_throttle_check(&s, &pol->account, now, &wait);
    return state == SEC_THROTTLE_LOCKED ? "locked" : state == SEC_THROTTLE_DELAYED ? "delayed" : "";
}

/* A user as listed: never a hash or secret. Patient users' MRN is not shown (no clinical
 * data for administrators); has_patient says one is linked. */
static json_t *user_json(struct store *st, const struct auth_policy *pol,
                         const struct store_user *u)
{
    char created[40], login[40] = "";
    hx_time_format_rfc3339(u->created_us, created, sizeof(created));
    if (u->last_login_us)
        hx_time_format_rfc3339(u->last_login_us, login, sizeof(login));
    json_t *wards = json_array();
    store_user_ward_list(st, u->id, collect_ward, wards);
    const char *lock = lock_state(st, pol, u->name, hx_time_now_us());
    return json_pack("{s:s, s:s, s:s, s:o, s:b, s:s, s:b, s:b, s:b, s:s?, s:s}", "name", u->name,
                     "role", u->role, "display_name", u->display_name, "wards", wards,
                     "has_patient", u->patient_id != 0, "status",
                     u->disabled ? "disabled"
                     : *lock     ? lock
                                 : "active",
                     "disabled", u->disabled, "mfa_enrolled", u->mfa_enrolled,
                     "must_change_password", u->must_change_password, "last_login",
                     *login ? login : NULL, "created", created);
}

struct users_list {
    struct store *st;
    struct api_job *j;
};

static int list_user(void *arg, const struct store_user *u)
{
    struct users_list *l = arg;
    json_array_append_new(l->j->body, user_json(l->st, &l->j->a->policy, u));
    return 0;
}

static void users_work(struct store *st, struct api_job *j)
{
    api__ok(j, 200, json_array());
    struct users_list l = {st, j};
    int rc = store_user_list(st, list_user, &l);
    if (rc < 0)
        api__fail_store(j, rc, "user");
}

static void h_users(struct http_exchange *x, void *arg)
{
    api__run(arg, x, users_work, NULL);
}

/* ---- create -------------------------------------------------------------------------------- */

static void create_work(struct store *st, struct api_job *j)
{
    struct user_req *r = j->arg;
    struct store_user *u = &r->u;
    int rc;
    if (*r->mrn) {
        struct patient p;
        if ((rc = store_patient_get_by_mrn(st, r->mrn, &p)) < 0) {
            if (rc == HX_ENOTFOUND)
                api__fail(j, 400, "unknown_patient", "no patient with that MRN");
            else
                api__fail_store(j, rc, "patient");
            return;
        }
        u->patient_id = p.id;
    }
    /* The slow part (Argon2id) before the transaction: no write lock is held meanwhile. */
    if ((rc = sec_password_generate(r->password)) < 0 ||
        (rc = sec_password_hash(r->password, strlen(r->password), u->password_hash)) < 0) {
        api__fail(j, 500, "internal", "cannot set a password");
        return;
    }
    u->must_change_password = true;
    int64_t now = hx_time_now_us();
    if (r->mfa && (rc = auth_mfa_provision(st, j->a->key, u, now, &r->creds)) < 0) {
        api__fail(j, 500, "internal", "cannot set up TOTP");
        return;
    }
    rc = store_begin(st);
    if (rc == 0)
        rc = store_user_add(st, u);
    for (int i = 0; rc == 0 && i < r->n_wards; i++)
        if ((rc = store_user_ward_add(st, u->id, r->wards[i])) == HX_EEXIST)
            rc = 0;
    json_t *wards = json_array();
    for (int i = 0; i < r->n_wards; i++)
        json_array_append_new(wards, json_string(r->wards[i]));
    if (rc == 0)
        rc = audit_change(st, j, "user.create", "user", u->name,
                          json_pack("{s:s, s:O, s:b, s:b}", "role", u->role, "wards", wards, "mfa",
                                    r->mfa, "patient_user", u->patient_id != 0));
    rc = tx_end(st, rc);
    if (rc == HX_EEXIST) {
        json_decref(wards);
        api__fail(j, 409, "conflict", "a user with that name already exists");
        return;
    }
    if (rc < 0) {
        json_decref(wards);
        api__fail_store(j, rc, "user");
        return;
    }
    json_t *b = json_pack("{s:s, s:s, s:s, s:o, s:s?, s:s, s:b, s:b}", "name", u->name, "role",
                          u->role, "display_name", u->display_name, "wards", wards, "patient_mrn",
                          *r->mrn ? r->mrn : NULL, "password", r->password, "must_change_password",
                          1, "mfa_enrolled", u->mfa_enrolled);
    json_object_set_new(b, "totp_secret",
                        *r->creds.secret ? json_string(r->creds.secret) : json_null());
    json_object_set_new(b, "otpauth_uri", *r->creds.uri ? json_string(r->creds.uri) : json_null());
    api__ok(j, 201, b);
}

static void h_create(struct http_exchange *x, void *arg)
{
    struct api *a = arg;
    json_t *body = api__json_body(x);
    if (!body)
        return;
    struct user_req *r = hx_xcalloc(1, sizeof(*r));
    r->op = U_CREATE;
    char role[STORE_ROLE_MAX] = "";
    json_t *mfa = json_object_get(body, "mfa");
    json_t *mrn = json_object_get(body, "patient_mrn");
    json_t *disp = json_object_get(body, "display_name");
    const char *why = NULL;
    if (!take_str(body, "name", r->u.name, sizeof(r->u.name)) ||
        !auth_name_is_valid(r->u.name, true))
        why = "\"name\": expected 1-63 characters of A-Z a-z 0-9 . _ - @";
    else if (!take_str(body, "role", role, sizeof(role)) ||
             (r->role = rbac_role_parse(role)) == RBAC_ROLE_NONE)
        why = "\"role\": expected one of admin, clinician, nurse, facilities, security, auditor, "
              "patient, integration";
    else if (mrn && !json_is_null(mrn) && !take_str(body, "patient_mrn", r->mrn, sizeof(r->mrn)))
        why = "\"patient_mrn\": expected a non-empty string";
    else if (disp && !json_is_null(disp) &&
             !take_str(body, "display_name", r->u.display_name, sizeof(r->u.display_name)))
        why = "\"display_name\": expected a string of at most 127 bytes";
    else if (mfa && !json_is_boolean(mfa))
        why = "\"mfa\": expected true or false";
    else
        why = take_wards(body, r);
    json_decref(body);
    r->mfa = !mfa || json_is_true(mfa);
    if (!why && r->role == RBAC_ROLE_PATIENT && !*r->mrn)
        why = "\"patient_mrn\" is required for role patient";
    else if (!why && *r->mrn && r->role != RBAC_ROLE_PATIENT)
        why = "\"patient_mrn\" is only for role patient";
    else if (!why && r->n_wards && r->role != RBAC_ROLE_CLINICIAN && r->role != RBAC_ROLE_NURSE)
        why = "\"wards\" are only for roles clinician and nurse";
    else if (!why && !r->mfa && auth_mfa_required(&a->policy, r->role))
        why = "\"mfa\": this role requires MFA (auth.mfa_roles)";
    if (why) {
        user_after(&(struct api_job){.arg = r});
        http_error(x, 400, "invalid", why);
        return;
    }
    snprintf(r->u.role, sizeof(r->u.role), "%s", rbac_role_name(r->role));
    api__run_after(a, x, create_work, r, user_after);
}

/* ---- changes to one user ------------------------------------------------------------------- */

/* Inside the transaction: OUT: *last true when u is the last enabled admin (and the change
 * would take that away); then returns HX_EDENIED so the transaction rolls back. */
static int check_last_admin(struct store *st, const struct store_user *u, bool *last)
{
    if (u->disabled || rbac_role_parse(u->role) != RBAC_ROLE_ADMIN)
        return 0;
    int64_t n = 0;
    int rc = store_user_count_role(st, "admin", false, &n);
    if (rc < 0)
        return rc;
    *last = n <= 1;
    return *last ? HX_EDENIED : 0;
}

/* Replaces u's wards with r's. */
static int set_wards(struct store *st, const struct store_user *u, const struct user_req *r,
                     json_t *before)
{
    int rc = store_user_ward_list(st, u->id, collect_ward, before);
    size_t i;
    json_t *v;
    json_array_foreach(before, i, v)
    {
        bool keep = false;
        for (int k = 0; k < r->n_wards; k++)
            keep = keep || strcmp(r->wards[k], json_string_value(v)) == 0;
        if (rc == 0 && !keep)
            rc = store_user_ward_remove(st, u->id, json_string_value(v));
    }
    for (int k = 0; rc == 0 && k < r->n_wards; k++)
        if ((rc = store_user_ward_add(st, u->id, r->wards[k])) == HX_EEXIST)
            rc = 0;
    return rc;
}

static void change_work(struct store *st, struct api_job *j)
{
    struct user_req *r = j->arg;
    struct store_user *u = &r->u;
    int rc = store_user_get(st, u->name, u);
    if (rc < 0) {
        api__fail_store(j, rc, "user");
        return;
    }
    enum rbac_role old_role = rbac_role_parse(u->role);
    char old[STORE_ROLE_MAX];
    snprintf(old, sizeof(old), "%s", u->role);
    int64_t now = hx_time_now_us();
    if (r->op == U_ROLE && old_role == RBAC_ROLE_PATIENT) {
        api__fail(j, 409, "patient_user", "a patient user's role cannot change");
        return;
    }
    if (r->op == U_WARDS && old_role != RBAC_ROLE_CLINICIAN && old_role != RBAC_ROLE_NURSE) {
        api__fail(j, 409, "no_wards", "only clinicians and nurses have wards");
        return;
    }
    if (r->op == U_RESET_PW) { /* Argon2id outside the transaction */
        if ((rc = sec_password_generate(r->password)) < 0 ||
            (rc = sec_password_hash(r->password, strlen(r->password), u->password_hash)) < 0) {
            api__fail(j, 500, "internal", "cannot set a password");
            return;
        }
        u->must_change_password = true;
    }
    size_t ended = 0;
    bool last_admin = false;
    const char *action = "";
    json_t *details = NULL, *wards = NULL;
    char key[STORE_THROTTLE_KEY_MAX];
    auth_throttle_key_user(u->name, key);
    rc = store_begin(st);
    switch (r->op) {
    case U_DISABLE:
    case U_ENABLE:
        action = r->op == U_DISABLE ? "user.disable" : "user.enable";
        if (rc == 0 && r->op == U_DISABLE)
            rc = check_last_admin(st, u, &last_admin);
        u->disabled = r->op == U_DISABLE;
        if (rc == 0)
            rc = store_user_update(st, u, STORE_USER_DISABLED, now);
        if (rc == 0 && u->disabled)
            rc = store_session_delete_user(st, u->id, 0, &ended);
        break;
    case U_ROLE:
        action = "user.role";
        if (rc == 0 && r->role != RBAC_ROLE_ADMIN)
            rc = check_last_admin(st, u, &last_admin);
        snprintf(u->role, sizeof(u->role), "%s", rbac_role_name(r->role));
        if (rc == 0)
            rc = store_user_update(st, u, STORE_USER_ROLE, now);
        if (rc == 0)
            rc = store_session_delete_user(st, u->id, 0, &ended);
        /* Wards mean nothing outside clinical care: a role without them drops them. */
        if (rc == 0 && r->role != RBAC_ROLE_CLINICIAN && r->role != RBAC_ROLE_NURSE) {
            wards = json_array();
            rc = set_wards(st, u, r, wards); /* r->n_wards is 0: removes them all */
        }
        details = json_pack("{s:s, s:s}", "from", old, "to", u->role);
        break;
    case U_WARDS:
        action = "user.wards";
        wards = json_array();
        if (rc == 0)
            rc = set_wards(st, u, r, wards);
        details = json_pack("{s:O, s:[]}", "from", wards, "to");
        for (int k = 0; k < r->n_wards; k++)
            json_array_append_new(json_object_get(details, "to"), json_string(r->wards[k]));
        break;
    case U_RESET_MFA:
        action = "mfa.reset";
        if (rc == 0)
            rc = auth_mfa_provision(st, j->a->key, u, now, &r->creds);
        if (rc == 0)
            rc = store_recovery_set(st, u->id, NULL, 0);
        if (rc == 0)
            rc = store_session_delete_user(st, u->id, 0, &ended);
        break;
    case U_RESET_PW:
        action = "user.password_reset";
        if (rc == 0)
            rc = store_user_update(st, u, STORE_USER_PASSWORD, now);
        if (rc == 0)
            rc = store_session_delete_user(st, u->id, 0, &ended);
        if (rc == 0)
            rc = store_throttle_delete(st, key);
        break;
    case U_UNLOCK:
        action = "user.unlock";
        if (rc == 0)
            rc = store_throttle_delete(st, key);
        if (rc == HX_ENOTFOUND)
            rc = 0;
        break;
    case U_CREATE:
        break;
    }
    if (rc == 0) {
        if (!details)
            details = json_object();
        json_object_set_new(details, "sessions_ended", json_integer((json_int_t)ended));
        rc = audit_change(st, j, action, "user", u->name, details);
        details = NULL;
    }
    json_decref(details);
    json_decref(wards);
    rc = tx_end(st, rc);
    if (last_admin) {
        api__fail(j, 409, "last_admin", "this is the last enabled admin: add another admin first");
        return;
    }
    if (rc < 0) {
        api__fail_store(j, rc, "user");
        return;
    }
    json_t *b = user_json(st, &j->a->policy, u);
    json_object_set_new(b, "sessions_ended", json_integer((json_int_t)ended));
    if (r->op == U_ROLE)
        json_object_set_new(b, "previous_role", json_string(old));
    if (r->op == U_RESET_PW)
        json_object_set_new(b, "password", json_string(r->password));
    if (r->op == U_RESET_MFA) {
        json_object_set_new(b, "totp_secret", json_string(r->creds.secret));
        json_object_set_new(b, "otpauth_uri", json_string(r->creds.uri));
    }
    api__ok(j, 200, b);
}

static void start_change(struct http_exchange *x, void *arg, enum user_op op)
{
    const char *name = http_exchange_param(x, "name");
    if (!name || !auth_name_is_valid(name, true)) {
        http_error(x, 404, "not_found", "no such user");
        return;
    }
    struct user_req *r = hx_xcalloc(1, sizeof(*r));
    r->op = op;
    snprintf(r->u.name, sizeof(r->u.name), "%s", name);
    if (op == U_ROLE || op == U_WARDS) {
        json_t *body = api__json_body(x);
        if (!body) {
            free(r);
            return;
        }
        char role[STORE_ROLE_MAX] = "";
        const char *why = NULL;
        if (op == U_ROLE && (!take_str(body, "role", role, sizeof(role)) ||
                             (r->role = rbac_role_parse(role)) == RBAC_ROLE_NONE))
            why = "\"role\": expected one of admin, clinician, nurse, facilities, security, "
                  "auditor, integration";
        else if (op == U_ROLE && r->role == RBAC_ROLE_PATIENT)
            why = "\"role\": a user cannot become a patient user; add one with role patient";
        else if (op == U_WARDS && !json_is_array(json_object_get(body, "wards")))
            why = "send {\"wards\": [\"...\"]}";
        else if (op == U_WARDS)
            why = take_wards(body, r);
        json_decref(body);
        if (why) {
            free(r);
            http_error(x, 400, "invalid", why);
            return;
        }
    }
    api__run_after(arg, x, change_work, r, user_after);
}

static void h_disable(struct http_exchange *x, void *arg)
{
    start_change(x, arg, U_DISABLE);
}

static void h_enable(struct http_exchange *x, void *arg)
{
    start_change(x, arg, U_ENABLE);
}

static void h_role(struct http_exchange *x, void *arg)
{
    start_change(x, arg, U_ROLE);
}

static void h_wards(struct http_exchange *x, void *arg)
{
    start_change(x, arg, U_WARDS);
}

static void h_reset_mfa(struct http_exchange *x, void *arg)
{
    start_change(x, arg, U_RESET_MFA);
}

static void h_reset_pw(struct http_exchange *x, void *arg)
{
    start_change(x, arg, U_RESET_PW);
}

static void h_unlock(struct http_exchange *x, void *arg)
{
    start_change(x, arg, U_UNLOCK);
}

/* ---- tokens -------------------------------------------------------------------------------- */

struct token_req {
    struct store_apitoken t;
    char token[SEC_APITOKEN_STR];
};

static void token_after(struct api_job *j)
{
    api__auth_cache_evict_name(j->a, true, ((struct token_req *)j->arg)->t.name);
    OPENSSL_cleanse(j->arg, sizeof(struct token_req));
    free(j->arg);
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
    const char *state = t->revoked_us                           ? "revoked"
                        : t->expires_us && now >= t->expires_us ? "expired"
                                                                : "active";
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s?, s:s?}", "name", t->name, "role",
                     t->role, "ward", *t->ward ? t->ward : NULL, "scopes",
                     *t->scopes ? t->scopes : NULL, "expires", *expires ? expires : NULL, "state",
                     state, "created", created, "last_used", *used ? used : NULL, "revoked",
                     *revoked ? revoked : NULL);
}

static int list_token(void *arg, const struct store_apitoken *t)
{
    struct api_job *j = arg;
    json_array_append_new(j->body, token_json(t, hx_time_now_us()));
    return 0;
}

static void tokens_work(struct store *st, struct api_job *j)
{
    api__ok(j, 200, json_array());
    int rc = store_apitoken_list(st, list_token, j);
    if (rc < 0)
        api__fail_store(j, rc, "token");
}

static void h_tokens(struct http_exchange *x, void *arg)
{
    api__run(arg, x, tokens_work, NULL);
}

static void token_create_work(struct store *st, struct api_job *j)
{
    struct token_req *r = j->arg;
    int rc = store_begin(st);
    if (rc == 0)
        rc = sec_apitoken_create(st, j->a->key, &r->t, r->token);
    if (rc == 0)
        rc = audit_change(st, j, "token.create", "token", r->t.name,
                          json_pack("{s:s, s:s*, s:s*, s:I}", "role", r->t.role, "ward",
                                    *r->t.ward ? r->t.ward : NULL, "scopes",
                                    *r->t.scopes ? r->t.scopes : NULL, "expires_us",
                                    (json_int_t)r->t.expires_us));
    rc = tx_end(st, rc);
    if (rc == HX_EEXIST) {
        api__fail(j, 409, "conflict",
                  "a token with that name already exists (names of revoked tokens stay taken)");
        return;
    }
    if (rc < 0) {
        api__fail_store(j, rc, "token");
        return;
    }
    json_t *b = token_json(&r->t, hx_time_now_us());
    json_object_set_new(b, "token", json_string(r->token));
    api__ok(j, 201, b);
}

static void h_token_create(struct http_exchange *x, void *arg)
{
    json_t *body = api__json_body(x);
    if (!body)
        return;
    struct token_req *r = hx_xcalloc(1, sizeof(*r));
    struct store_apitoken *t = &r->t;
    char role[STORE_ROLE_MAX] = "", scopes[STORE_SCOPES_MAX] = "";
    enum rbac_role rl = RBAC_ROLE_NONE;
    json_t *ward = json_object_get(body, "ward");
    json_t *sc = json_object_get(body, "scopes");
    json_t *days = json_object_get(body, "expires_days");
    uint64_t mask = 0;
    char bad[64] = "";
    const char *why = NULL;
    if (!take_str(body, "name", t->name, sizeof(t->name)) || !auth_name_is_valid(t->name, false))
        why = "\"name\": expected 1-63 characters of A-Z a-z 0-9 . _ -";
    else if (!take_str(body, "role", role, sizeof(role)) ||
             (rl = rbac_role_parse(role)) == RBAC_ROLE_NONE || rl == RBAC_ROLE_PATIENT)
        why = "\"role\": expected one of integration, admin, clinician, nurse, facilities, "
              "security, auditor";
    else if (ward && !json_is_null(ward) &&
             (!take_str(body, "ward", t->ward, sizeof(t->ward)) || !auth_ward_is_valid(t->ward)))
        why = "\"ward\": expected 1-63 characters, no comma";
    else if (days && !json_is_null(days) &&
             (!json_is_integer(days) || json_integer_value(days) < 1 ||
              json_integer_value(days) > 3660))
        why = "\"expires_days\": expected a whole number of days from 1 to 3660";
    else if (sc && !json_is_null(sc) &&
             (!take_str(body, "scopes", scopes, sizeof(scopes)) ||
              rbac_scopes_parse(scopes, &mask, bad, sizeof(bad)) < 0))
        why = "\"scopes\": expected comma-separated permission names (docs/security.md)";
    if (!why)
        for (int p = 0; p < RBAC_PERM__COUNT; p++)
            if (((mask >> p) & 1) && !rbac_allows(rl, (enum rbac_perm)p))
                why = "\"scopes\": the role does not have one of these permissions";
    if (!why) {
        snprintf(t->role, sizeof(t->role), "%s", rbac_role_name(rl));
        size_t o = 0; /* stored canonical: names in table order */
        for (int p = 0; p < RBAC_PERM__COUNT; p++)
            if ((mask >> p) & 1)
                o += (size_t)snprintf(t->scopes + o, sizeof(t->scopes) - o, "%s%s", o ? "," : "",
                                      rbac_perm_name((enum rbac_perm)p));
        if (days && json_is_integer(days))
            t->expires_us = hx_time_now_us() + (int64_t)json_integer_value(days) * DAY_US;
    }
    json_decref(body);
    if (why) {
        free(r);
        http_error(x, 400, "invalid", why);
        return;
    }
    api__run_after(arg, x, token_create_work, r, token_after);
}

static void token_revoke_work(struct store *st, struct api_job *j)
{
    struct token_req *r = j->arg;
    int rc = store_begin(st);
    if (rc == 0)
        rc = store_apitoken_revoke(st, r->t.name, hx_time_now_us());
    if (rc == 0)
        rc = audit_change(st, j, "token.revoke", "token", r->t.name, NULL);
    rc = tx_end(st, rc);
    if (rc == HX_ENOTFOUND)
        api__fail(j, 404, "not_found", "no active token with that name");
    else if (rc < 0)
        api__fail_store(j, rc, "token");
    else
        api__ok(j, 200, json_pack("{s:s, s:s}", "name", r->t.name, "state", "revoked"));
}

static void h_token_revoke(struct http_exchange *x, void *arg)
{
    const char *name = http_exchange_param(x, "name");
    if (!name || !auth_name_is_valid(name, false)) {
        http_error(x, 404, "not_found", "no active token with that name");
        return;
    }
    struct token_req *r = hx_xcalloc(1, sizeof(*r));
    snprintf(r->t.name, sizeof(r->t.name), "%s", name);
    api__run_after(arg, x, token_revoke_work, r, token_after);
}

int api__admin_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def defs[] = {
        {"GET", "/api/v1/users", h_users, a, "users.list", "user.admin", 0},
        {"POST", "/api/v1/users", h_create, a, "users.create", "user.admin", 0},
        {"POST", "/api/v1/users/{name}/disable", h_disable, a, "users.disable", "user.admin", 0},
        {"POST", "/api/v1/users/{name}/enable", h_enable, a, "users.enable", "user.admin", 0},
        {"PUT", "/api/v1/users/{name}/role", h_role, a, "users.role", "user.admin", 0},
        {"PUT", "/api/v1/users/{name}/wards", h_wards, a, "users.wards", "user.admin", 0},
        {"POST", "/api/v1/users/{name}/reset-mfa", h_reset_mfa, a, "users.reset_mfa", "user.admin",
         0},
        {"POST", "/api/v1/users/{name}/reset-password", h_reset_pw, a, "users.reset_password",
         "user.admin", 0},
        {"POST", "/api/v1/users/{name}/unlock", h_unlock, a, "users.unlock", "user.admin", 0},
        {"GET", "/api/v1/tokens", h_tokens, a, "tokens.list", "user.admin", 0},
        {"POST", "/api/v1/tokens", h_token_create, a, "tokens.create", "user.admin", 0},
        {"DELETE", "/api/v1/tokens/{name}", h_token_revoke, a, "tokens.revoke", "user.admin", 0},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(defs); i++) {
        int rc = http_router_add_route(r, &defs[i]);
        if (rc < 0)
            return rc;
    }
    int rc = api__audit_routes(a, r);
    if (rc == 0)
        rc = api__openapi_routes(a, r);
    return rc;
}
