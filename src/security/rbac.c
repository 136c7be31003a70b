/*
 * The permission table, care-team scoping and break-glass grants (see rbac.h and
 * docs/security.md, which prints the same table: change both together).
 * Layer: security (reads the store). Thread: any; no shared mutable state.
 */
#include "security/rbac.h"
#include "core/err.h"
#include "core/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define P(x) (UINT64_C(1) << RBAC_PERM_##x)

/* Clinical reading shared by clinicians and nurses. */
#define CARE_READ                                                                                  \
    (P(PATIENT_READ) | P(OBS_READ) | P(ALERT_READ) | P(RULES_READ) | P(DEVICE_READ) | P(STREAM))

/* THE table: role -> permissions. Least privilege: admin runs the system but reads no
 * clinical data (and cannot break glass); security and facilities see devices, not patients;
 * the auditor sees the audit trail only. */
static const uint64_t role_perms[RBAC_ROLE__COUNT] = {
    [RBAC_ROLE_NONE] = 0,
    [RBAC_ROLE_ADMIN] = P(USER_ADMIN) | P(DEVICE_READ) | P(DEVICE_WRITE) | P(DEVICE_COMMAND) |
                        P(METRICS) | P(WEBHOOK_ADMIN) | P(SELF),
    [RBAC_ROLE_CLINICIAN] = CARE_READ | P(PATIENT_WRITE) | P(OBS_WRITE) | P(ALERT_ACK) |
                            P(ALERT_RESOLVE) | P(ALERT_ESCALATE) | P(RULES_WRITE) | P(FHIR_READ) |
                            P(BREAK_GLASS) | P(SELF),
    [RBAC_ROLE_NURSE] = CARE_READ | P(OBS_WRITE) | P(ALERT_ACK) | P(ALERT_RESOLVE) |
                        P(ALERT_ESCALATE) | P(BREAK_GLASS) | P(SELF),
    [RBAC_ROLE_FACILITIES] = P(DEVICE_READ) | P(ALERT_READ) | P(STREAM) | P(SELF),
    [RBAC_ROLE_SECURITY] = P(DEVICE_READ) | P(DEVICE_WRITE) | P(AUDIT_READ) | P(METRICS) | P(SELF),
    [RBAC_ROLE_AUDITOR] = P(AUDIT_READ) | P(AUDIT_EXPORT) | P(SELF),
    [RBAC_ROLE_PATIENT] =
        P(PATIENT_READ) | P(OBS_READ) | P(OBS_WRITE) | P(DEVICE_READ) | P(STREAM) | P(SELF),
    [RBAC_ROLE_INTEGRATION] = P(PATIENT_READ) | P(OBS_READ) | P(ALERT_READ) | P(DEVICE_READ) |
                              P(INGEST) | P(FHIR_READ) | P(METRICS) | P(STREAM),
};

static const char *const role_names[RBAC_ROLE__COUNT] = {
    [RBAC_ROLE_NONE] = "none",
    [RBAC_ROLE_ADMIN] = "admin",
    [RBAC_ROLE_CLINICIAN] = "clinician",
    [RBAC_ROLE_NURSE] = "nurse",
    [RBAC_ROLE_FACILITIES] = "facilities",
    [RBAC_ROLE_SECURITY] = "security",
    [RBAC_ROLE_AUDITOR] = "auditor",
    [RBAC_ROLE_PATIENT] = "patient",
    [RBAC_ROLE_INTEGRATION] = "integration",
};

static const char *const perm_names[RBAC_PERM__COUNT] = {
    [RBAC_PERM_PATIENT_READ] = "patient.read",
    [RBAC_PERM_PATIENT_WRITE] = "patient.write",
    [RBAC_PERM_OBS_READ] = "obs.read",
    [RBAC_PERM_OBS_WRITE] = "obs.write",
    [RBAC_PERM_ALERT_READ] = "alert.read",
    [RBAC_PERM_ALERT_ACK] = "alert.ack",
    [RBAC_PERM_ALERT_RESOLVE] = "alert.resolve",
    [RBAC_PERM_ALERT_ESCALATE] = "alert.escalate",
    [RBAC_PERM_RULES_READ] = "rules.read",
    [RBAC_PERM_RULES_WRITE] = "rules.write",
    [RBAC_PERM_DEVICE_READ] = "device.read",
    [RBAC_PERM_DEVICE_WRITE] = "device.write",
    [RBAC_PERM_DEVICE_COMMAND] = "device.command",
    [RBAC_PERM_USER_ADMIN] = "user.admin",
    [RBAC_PERM_AUDIT_READ] = "audit.read",
    [RBAC_PERM_AUDIT_EXPORT] = "audit.export",
    [RBAC_PERM_INGEST] = "ingest",
    [RBAC_PERM_FHIR_READ] = "fhir.read",
    [RBAC_PERM_METRICS] = "metrics",
    [RBAC_PERM_BREAK_GLASS] = "break_glass",
    [RBAC_PERM_STREAM] = "stream",
    [RBAC_PERM_WEBHOOK_ADMIN] = "webhook.admin",
    [RBAC_PERM_SELF] = "self",
};

_Static_assert(RBAC_PERM__COUNT <= 64, "permissions fit a uint64_t mask");

const char *rbac_role_name(enum rbac_role role)
{
    return (unsigned)role < RBAC_ROLE__COUNT ? role_names[role] : "unknown";
}

enum rbac_role rbac_role_parse(const char *name)
{
    for (int r = RBAC_ROLE_NONE + 1; r < RBAC_ROLE__COUNT; r++)
        if (name && strcmp(name, role_names[r]) == 0)
            return (enum rbac_role)r;
    return RBAC_ROLE_NONE;
}

const char *rbac_perm_name(enum rbac_perm perm)
{
    return (unsigned)perm < RBAC_PERM__COUNT ? perm_names[perm] : "unknown";
}

int rbac_perm_parse(const char *name)
{
    for (int p = 0; p < RBAC_PERM__COUNT; p++)
        if (name && strcmp(name, perm_names[p]) == 0)
            return p;
    return -1;
}

const char *rbac_scope_name(enum rbac_scope scope)
{
    switch (scope) {
    case RBAC_SCOPE_DENIED:
        return "denied";
    case RBAC_SCOPE_WARD:
        return "ward";
    case RBAC_SCOPE_CASELOAD:
        return "caseload";
    case RBAC_SCOPE_SELF:
        return "self";
    case RBAC_SCOPE_ALL:
        return "all";
    case RBAC_SCOPE_BREAK_GLASS:
        return "break_glass";
    }
    return "unknown";
}

bool rbac_allows(enum rbac_role role, enum rbac_perm perm)
{
    if ((unsigned)role >= RBAC_ROLE__COUNT || (unsigned)perm >= RBAC_PERM__COUNT)
        return false;
    return (role_perms[role] >> perm) & 1;
}

bool rbac_principal_allows(const struct principal *p, enum rbac_perm perm)
{
    if (!rbac_allows(p->role, perm))
        return false;
    if (p->must_change_password && perm != RBAC_PERM_SELF)
        return false;
    if (p->is_token && p->scopes && !((p->scopes >> perm) & 1))
        return false;
    return true;
}

bool rbac_role_is_clinical(enum rbac_role role)
{
    return rbac_allows(role, RBAC_PERM_PATIENT_READ);
}

bool rbac_ward_in_scope(const struct principal *p, const char *ward)
{
    if (!rbac_role_is_clinical(p->role) || p->role == RBAC_ROLE_PATIENT)
        return false;
    if (p->is_token && p->all_wards)
        return true;
    if (!ward || !*ward)
        return false;
    for (int i = 0; i < p->n_wards && i < RBAC_WARDS_MAX; i++)
        if (strcmp(p->wards[i], ward) == 0)
            return true;
    return false;
}

/* Calls fn(name, arg) for each trimmed, non-empty item of a comma-separated list. */
static int each_item(const char *list, int (*fn)(const char *name, void *arg), void *arg, char *bad,
                     size_t bad_len)
{
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if (end == start)
            continue;
        char name[64];
        size_t n = (size_t)(end - start);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, start, n);
        name[n] = '\0';
        if (fn(name, arg) < 0) {
            if (bad_len)
                snprintf(bad, bad_len, "%s", name);
            return HX_EINVAL;
        }
    }
    return 0;
}

static int add_perm(const char *name, void *arg)
{
    int p = rbac_perm_parse(name);
    if (p < 0)
        return -1;
    *(uint64_t *)arg |= UINT64_C(1) << p;
    return 0;
}

static int add_role(const char *name, void *arg)
{
    enum rbac_role r = rbac_role_parse(name);
    if (r == RBAC_ROLE_NONE)
        return -1;
    *(unsigned *)arg |= 1u << r;
    return 0;
}

int rbac_scopes_parse(const char *list, uint64_t *mask, char *bad, size_t bad_len)
{
    *mask = 0;
    return each_item(list, add_perm, mask, bad, bad_len);
}

int rbac_roles_parse(const char *list, unsigned *mask, char *bad, size_t bad_len)
{
    *mask = 0;
    return each_item(list, add_role, mask, bad, bad_len);
}

int rbac_patient_in_scope(struct store *st, const struct principal *p, int64_t patient_id,
                          int64_t now_us, enum rbac_scope *how)
{
    *how = RBAC_SCOPE_DENIED;
    struct patient pat;
    int rc = store_patient_get(st, patient_id, &pat);
    if (rc < 0)
        return rc;
    if (!rbac_role_is_clinical(p->role) || p->must_change_password)
        return 0;
    if (p->role == RBAC_ROLE_PATIENT) {
        if (!p->is_token && p->patient_id == patient_id)
            *how = RBAC_SCOPE_SELF;
        return 0;
    }
    if (p->is_token) {
        if (p->all_wards)
            *how = RBAC_SCOPE_ALL;
        else if (rbac_ward_in_scope(p, pat.ward))
            *how = RBAC_SCOPE_WARD;
        return 0;
    }
    if (rbac_ward_in_scope(p, pat.ward)) {
        *how = RBAC_SCOPE_WARD;
        return 0;
    }
    bool on_caseload = false;
    if ((rc = store_user_has_patient(st, p->user_id, patient_id, &on_caseload)) < 0)
        return rc;
    if (on_caseload) {
        *how = RBAC_SCOPE_CASELOAD;
        return 0;
    }
    if (rbac_allows(p->role, RBAC_PERM_BREAK_GLASS)) {
        rc = store_break_glass_active(st, p->user_id, patient_id, now_us, NULL);
        if (rc == 0)
            *how = RBAC_SCOPE_BREAK_GLASS;
        else if (rc != HX_ENOTFOUND)
            return rc;
    }
    return 0;
}

/* Characters of reason without leading and trailing white space. */
static size_t trimmed_len(const char *s, const char **start)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    *start = s;
    return n;
}

int rbac_break_glass(struct store *st, const struct principal *p, int64_t patient_id,
                     const char *reason, int minutes, int max_minutes, int64_t now_us,
                     struct store_break_glass *out)
{
    if (p->is_token || p->must_change_password || !rbac_allows(p->role, RBAC_PERM_BREAK_GLASS))
        return HX_EDENIED;
    if (max_minutes <= 0 || max_minutes > RBAC_BREAK_GLASS_MAX_MIN)
        max_minutes = RBAC_BREAK_GLASS_MAX_MIN;
    const char *start;
    size_t n = reason ? trimmed_len(reason, &start) : 0;
    if (n < RBAC_BREAK_GLASS_REASON_MIN || n >= STORE_REASON_MAX || minutes < 1 ||
        minutes > max_minutes)
        return HX_EINVAL;
    struct store_break_glass g = {
        .user_id = p->user_id,
        .patient_id = patient_id,
        .granted_us = now_us,
        .expires_us = now_us + (int64_t)minutes * 60 * INT64_C(1000000),
    };
    memcpy(g.reason, start, n);
    g.reason[n] = '\0';
    int rc = store_break_glass_add(st, &g);
    if (rc == 0 && out)
        *out = g;
    return rc;
}

static int add_ward(void *arg, const char *ward)
{
    struct principal *p = arg;
    if (p->n_wards < RBAC_WARDS_MAX)
        snprintf(p->wards[p->n_wards++], PAT_WARD_MAX, "%s", ward);
    return 0;
}

int rbac_principal_for_user(struct store *st, const struct store_user *u, int64_t session_id,
                            struct principal *out)
{
    memset(out, 0, sizeof(*out));
    out->role = rbac_role_parse(u->role);
    out->user_id = u->id;
    out->session_id = session_id;
    out->patient_id = out->role == RBAC_ROLE_PATIENT ? u->patient_id : 0;
    out->must_change_password = u->must_change_password;
    snprintf(out->name, sizeof(out->name), "%s", u->name);
    if (!rbac_role_is_clinical(out->role) || out->role == RBAC_ROLE_PATIENT)
        return 0;
    return store_user_ward_list(st, u->id, add_ward, out);
}

void rbac_principal_for_token(const struct store_apitoken *t, struct principal *out)
{
    memset(out, 0, sizeof(*out));
    out->role = rbac_role_parse(t->role);
    out->is_token = true;
    out->token_id = t->id;
    snprintf(out->name, sizeof(out->name), "%s", t->name);
    if (*t->ward) {
        snprintf(out->wards[0], PAT_WARD_MAX, "%s", t->ward);
        out->n_wards = 1;
    } else {
        out->all_wards = true;
    }
    uint64_t mask = 0;
    char bad[64];
    if (rbac_scopes_parse(t->scopes, &mask, bad, sizeof(bad)) < 0)
        mask = UINT64_C(1) << RBAC_PERM_SELF; /* unreadable scopes: allow nothing useful */
    out->scopes = mask;
}
