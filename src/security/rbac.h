/*
 * Role-based access control: eight roles, one permission table (role x permission) checked
 * by one function, rbac_allows, and the care-team scope of clinical data,
 * rbac_patient_in_scope. docs/security.md prints the same table and is the contract the
 * HTTP layer enforces: first the permission (403 when missing), then, for anything about one
 * patient, the scope.
 * Scope in short: clinicians and nurses see the patients of their wards and of their
 * caseload; a patient sees only their own record; an integration token sees its ward (or
 * every ward when it has none); admin, security, facilities and auditor see no clinical data
 * at all. Break-glass gives a clinician or nurse one patient outside their scope for a
 * limited time with a stated reason (HIPAA §164.312(a)(2)(ii) emergency access).
 * Thread: any; functions taking a struct store use it on the calling thread (a worker in the
 * daemon).
 */
#ifndef MEDHUB_SECURITY_RBAC_H
#define MEDHUB_SECURITY_RBAC_H

#include "domain/model.h"
#include "store/store_auth.h"

#include <stdbool.h>
#include <stdint.h>

/* Roles. Stored by name (rbac_role_name), so the numbers are not persisted. */
enum rbac_role {
    RBAC_ROLE_NONE = 0,    /* no role: allowed nothing */
    RBAC_ROLE_ADMIN,       /* users, devices, configuration; no clinical data */
    RBAC_ROLE_CLINICIAN,   /* clinical care of the care team's patients */
    RBAC_ROLE_NURSE,       /* clinical care of the care team's patients */
    RBAC_ROLE_FACILITIES,  /* equipment, environment, technical alerts */
    RBAC_ROLE_SECURITY,    /* devices (enrol, revoke), audit review */
    RBAC_ROLE_AUDITOR,     /* the audit trail and compliance evidence */
    RBAC_ROLE_PATIENT,     /* their own record (patient portal) */
    RBAC_ROLE_INTEGRATION, /* other systems through API tokens */
    RBAC_ROLE__COUNT
};

/* Permissions. Names (rbac_perm_name) appear in docs, token scopes and logs. */
enum rbac_perm {
    RBAC_PERM_PATIENT_READ = 0, /* patient.read: demographics, ward, location */
    RBAC_PERM_PATIENT_WRITE,    /* patient.write: add or change patients */
    RBAC_PERM_OBS_READ,         /* obs.read: observations, charts, NEWS2 */
    RBAC_PERM_OBS_WRITE,        /* obs.write: manual entry of readings */
    RBAC_PERM_ALERT_READ,       /* alert.read: alerts and their history */
    RBAC_PERM_ALERT_ACK,        /* alert.ack: acknowledge */
    RBAC_PERM_ALERT_RESOLVE,    /* alert.resolve: resolve */
    RBAC_PERM_ALERT_ESCALATE,   /* alert.escalate: escalate by hand */
    RBAC_PERM_RULES_READ,       /* rules.read: protocols and settings */
    RBAC_PERM_RULES_WRITE,      /* rules.write: change protocols and overrides */
    RBAC_PERM_DEVICE_READ,      /* device.read: inventory, status, firmware */
    RBAC_PERM_DEVICE_WRITE,     /* device.write: enrol, assign, disable, revoke */
    RBAC_PERM_DEVICE_COMMAND,   /* device.command: send commands to devices */
    RBAC_PERM_USER_ADMIN,       /* user.admin: users, roles, wards, MFA resets, API tokens */
    RBAC_PERM_AUDIT_READ,       /* audit.read: read and verify the audit trail */
    RBAC_PERM_AUDIT_EXPORT,     /* audit.export: export the audit trail and evidence */
    RBAC_PERM_INGEST,           /* ingest: POST readings (gateways) */
    RBAC_PERM_FHIR_READ,        /* fhir.read: the FHIR R4 API */
    RBAC_PERM_METRICS,          /* metrics: /metrics */
    RBAC_PERM_BREAK_GLASS,      /* break_glass: emergency access to one patient */
    RBAC_PERM_STREAM,           /* stream: live server-sent events */
    RBAC_PERM_WEBHOOK_ADMIN,    /* webhook.admin: webhooks and their deliveries */
    RBAC_PERM_SELF,             /* self: own password, MFA, sessions */
    RBAC_PERM__COUNT
};

/* Most wards a principal carries (a user's extra wards are ignored beyond this, and
 * `medhub user ward --add` refuses them). */
#define RBAC_WARDS_MAX 16

/* Who is asking: filled by the HTTP layer from a session (auth_session_principal) or an API
 * token (auth_token_principal), then passed to every check. Plain data, copied freely. */
struct principal {
    enum rbac_role role;                      /* what they may do */
    bool is_token;                            /* an API token, not a person */
    int64_t user_id;                          /* users.id, 0 for tokens */
    int64_t token_id;                         /* api_tokens.id, 0 for users */
    int64_t session_id;                       /* sessions.id, 0 for tokens */
    int64_t patient_id;                       /* patient users: their record, else 0 */
    char name[STORE_USER_NAME_MAX];           /* user or token name (for the audit trail) */
    char wards[RBAC_WARDS_MAX][PAT_WARD_MAX]; /* users: care-team wards; tokens: its ward */
    int n_wards;                              /* entries used in wards */
    bool all_wards;                           /* a token without a ward: every ward */
    uint64_t scopes;                          /* tokens: allowed perms (1 << perm), 0 = role's */
    bool must_change_password;                /* only RBAC_PERM_SELF until it is changed */
};

/* How a patient came to be in scope, or not. */
enum rbac_scope {
    RBAC_SCOPE_DENIED = 0,  /* not in scope */
    RBAC_SCOPE_WARD,        /* on one of the principal's wards */
    RBAC_SCOPE_CASELOAD,    /* on the user's caseload */
    RBAC_SCOPE_SELF,        /* the patient user's own record */
    RBAC_SCOPE_ALL,         /* a token without a ward */
    RBAC_SCOPE_BREAK_GLASS, /* an emergency grant (audit it as such) */
};

/* Role and permission names. name functions return a static string ("unknown" when out of
 * range); parse functions return RBAC_ROLE_NONE / -1 for an unknown name. */
const char *rbac_role_name(enum rbac_role role);
enum rbac_role rbac_role_parse(const char *name);
const char *rbac_perm_name(enum rbac_perm perm);
int rbac_perm_parse(const char *name);
const char *rbac_scope_name(enum rbac_scope scope);

/* THE permission table: may role do perm? Pure. */
bool rbac_allows(enum rbac_role role, enum rbac_perm perm);

/* rbac_allows for a principal, narrowed by a token's scopes and by must_change_password
 * (only RBAC_PERM_SELF then). Pure. */
bool rbac_principal_allows(const struct principal *p, enum rbac_perm perm);

/* Whether role may ever see clinical data of patients (scoping applies on top). Pure. */
bool rbac_role_is_clinical(enum rbac_role role);

/* Whether a ward is in the principal's ward scope (for filtering listings). Pure. */
bool rbac_ward_in_scope(const struct principal *p, const char *ward);

/* Parses a comma-separated list of permission names (token scopes) into a mask.
 * Returns 0, or HX_EINVAL naming nothing (bad is set to the first unknown name, copied into
 * bad[bad_len]). An empty list is mask 0 (the role's permissions). */
int rbac_scopes_parse(const char *list, uint64_t *mask, char *bad, size_t bad_len);

/* Parses a comma-separated list of role names into a mask of (1u << role).
 * Returns 0 or HX_EINVAL with the first unknown name in bad. */
int rbac_roles_parse(const char *list, unsigned *mask, char *bad, size_t bad_len);

/* Is patient_id in p's scope at now_us? OUT: *how the reason (RBAC_SCOPE_DENIED when not).
 * Reads the patient's ward, the caseload and break-glass grants from st.
 * Returns 0, HX_ENOTFOUND when the patient does not exist (answer it like a denial when the
 * caller must not reveal which records exist), or a store error. */
int rbac_patient_in_scope(struct store *st, const struct principal *p, int64_t patient_id,
                          int64_t now_us, enum rbac_scope *how);

#define RBAC_BREAK_GLASS_REASON_MIN 10  /* characters, after trimming spaces */
#define RBAC_BREAK_GLASS_MAX_MIN    240 /* longest grant, minutes */

/* Emergency access: grants p (a user whose role has RBAC_PERM_BREAK_GLASS) access to
 * patient_id from now_us for minutes (1..max_minutes, itself at most
 * RBAC_BREAK_GLASS_MAX_MIN), recording reason. The HTTP layer audits the grant and every
 * access made under it. OUT: *out the grant (may be NULL).
 * Errors: HX_EDENIED (role, a token, or must_change_password), HX_EINVAL (reason shorter
 * than RBAC_BREAK_GLASS_REASON_MIN characters or too long, minutes out of range),
 * HX_ENOTFOUND (no such patient), store errors. */
int rbac_break_glass(struct store *st, const struct principal *p, int64_t patient_id,
                     const char *reason, int minutes, int max_minutes, int64_t now_us,
                     struct store_break_glass *out);

/* Fills out for user u with session_id: role, ids, wards (read from st). Used by
 * auth_session_principal; exposed for tests and tools. Returns 0 or a store error. */
int rbac_principal_for_user(struct store *st, const struct store_user *u, int64_t session_id,
                            struct principal *out);

/* Fills out for API token t. Pure. */
void rbac_principal_for_token(const struct store_apitoken *t, struct principal *out);

#endif
