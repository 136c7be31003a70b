/*
 * Devices (docs/api.md "Devices"):
 *   GET  /api/v1/devices                      device.read     inventory (scoped, below)
 *   GET  /api/v1/devices/{id}                 device.read     one device by its uid
 *   POST /api/v1/devices                      device.write    {id, kind, model?, patient_mrn?}
 *                                                             -> 201 with the secret, ONCE
 *   POST /api/v1/devices/{id}/assign          device.write    {patient_mrn}
 *   POST /api/v1/devices/{id}/unassign        device.write
 *   POST /api/v1/devices/{id}/disable|enable  device.write
 *   POST /api/v1/devices/{id}/commands        device.command  {payload, qos?, retain?, expires_s?}
 *   GET  /api/v1/devices/{id}/commands        device.read     newest first
 * Scope: roles that see no clinical data (admin, facilities, security) see every device and
 * only whether it is assigned, never to whom. Clinical roles (clinician, nurse, patient,
 * integration) see only devices assigned now to a patient in their scope (rbac_patient_in_scope:
 * wards, caseload, their own record, break-glass), with that patient's MRN; any other device is
 * 404 to them, like a device that does not exist.
 * Every change appends its audit entry (device.create, device.assign, device.unassign,
 * device.disable, device.enable, device.command) inside the change's transaction, with the
 * caller as actor; never the secret nor the command payload. The MQTT gateway sees changes at
 * its registry's next refresh (2 s) and delivers stored commands from its poller.
 * Layer: api. Thread: loop, except the *_work functions (workers).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "security/audit.h"
#include "security/secret.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default and largest expiry of a command, seconds (as `medhub device send`). */
#define CMD_EXPIRES_DEFAULT 3600
#define CMD_EXPIRES_MAX     (366L * 86400)
/* Most commands a listing returns. */
#define CMD_LIST_LIMIT 100

enum dev_op { OP_ASSIGN, OP_UNASSIGN, OP_DISABLE, OP_ENABLE };

/* One request, copied out of the path and body on the loop. */
struct dev_req {
    char uid[DEV_ID_MAX];
    char kind[DEV_KIND_MAX];
    char model[DEV_TEXT_MAX];
    char mrn[PAT_MRN_MAX];
    enum dev_op op;
    char *payload; /* commands: owned (freed by dev_after) */
    size_t payload_len;
    int qos;
    bool retain;
    long expires_s;
    char secret[SEC_SECRET_STR]; /* create: the new secret (wiped by dev_after) */
};

static void dev_after(struct api_job *j)
{
    struct dev_req *r = j->arg;
    free(r->payload);
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
}

/* Copies string member key of body into out: false when absent, not a string, empty, too long
 * or holding a NUL. */
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

/* The path's {id} as a device uid, or answers 404 and returns NULL. */
static struct dev_req *req_for_path(struct http_exchange *x)
{
    const char *id = http_exchange_param(x, "id");
    if (!id || dev_uid_validate(id) < 0) {
        http_error(x, 404, "not_found", "no such device");
        return NULL;
    }
    struct dev_req *r = hx_xcalloc(1, sizeof(*r));
    snprintf(r->uid, sizeof(r->uid), "%s", id);
    return r;
}

/* Ends the change's transaction: commit on success, else roll back. Returns rc or the
 * commit's error. */
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

/* Appends the audit entry of a change to device uid (details taken, may be NULL). */
static int audit_change(struct store *st, struct api_job *j, const char *action, const char *uid,
                        int64_t patient_id, json_t *details)
{
    char *text = details ? json_dumps(details, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(details);
    struct audit_entry e = {.action = action,
                            .outcome = AUDIT_SUCCESS,
                            .patient_id = patient_id,
                            .object_type = "device",
                            .object_id = uid,
                            .details = text};
    api__audit_actor(j, &e);
    int rc = audit_append(st, &e, NULL);
    free(text);
    return rc;
}

/* ---- visibility ---------------------------------------------------------------------------- */

/* Whether the caller may see device_id, assigned now to patient_id (0: none). OUT: *mrn the
 * patient's MRN when the caller may see it ("" otherwise). Returns 0 or a store error. */
static int device_visible(struct store *st, const struct principal *p, int64_t patient_id,
                          int64_t now, bool *visible, char mrn[PAT_MRN_MAX])
{
    mrn[0] = '\0';
    if (!rbac_role_is_clinical(p->role)) {
        *visible = true; /* every device, never the patient */
        return 0;
    }
    *visible = false;
    if (!patient_id)
        return 0;
    enum rbac_scope how = RBAC_SCOPE_DENIED;
    int rc = rbac_patient_in_scope(st, p, patient_id, now, &how);
    if (rc == HX_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (how == RBAC_SCOPE_DENIED)
        return 0;
    struct patient pat;
    if ((rc = store_patient_get(st, patient_id, &pat)) < 0)
        return rc == HX_ENOTFOUND ? 0 : rc;
    snprintf(mrn, PAT_MRN_MAX, "%s", pat.mrn);
    *visible = true;
    return 0;
}

static json_t *device_json(const struct device *d, int64_t patient_id, const char *mrn)
{
    char created[40], t[40];
    hx_time_format_rfc3339(d->created_us, created, sizeof(created));
    json_t *j = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:b}", "id", d->uid, "kind", d->kind,
                          "model", *d->model ? d->model : NULL, "firmware",
                          *d->firmware ? d->firmware : NULL, "status", dev_status_name(d->status),
                          "created", created, "assigned", patient_id != 0);
    const int64_t when[3] = {d->last_seen_us, d->connected_us, d->disconnected_us};
    const char *const keys[3] = {"last_seen", "connected", "disconnected"};
    for (int i = 0; i < 3; i++) {
        if (when[i])
            hx_time_format_rfc3339(when[i], t, sizeof(t));
        json_object_set_new(j, keys[i], when[i] ? json_string(t) : json_null());
    }
    json_object_set_new(j, "battery_pct",
                        d->battery_pct >= 0 ? json_integer(d->battery_pct) : json_null());
    json_object_set_new(j, "rssi_dbm", d->rssi_dbm ? json_integer(d->rssi_dbm) : json_null());
    if (mrn && *mrn)
        json_object_set_new(j, "patient_mrn", json_string(mrn));
    return j;
}

/* Loads device uid and checks the caller may see it (404 otherwise, answered). OUT: *pid its
 * patient now, mrn as device_visible. Returns false when answered. */
static bool load_visible(struct store *st, struct api_job *j, const char *uid, struct device *d,
                         int64_t *pid, char mrn[PAT_MRN_MAX])
{
    int64_t now = hx_time_now_us();
    bool visible = false;
    int rc = store_device_get(st, uid, d);
    if (rc == 0)
        rc = store_device_patient_at(st, d->id, now, pid);
    if (rc == 0)
        rc = device_visible(st, j->who, *pid, now, &visible, mrn);
    if (rc == 0 && !visible)
        rc = HX_ENOTFOUND;
    if (rc < 0) {
        api__fail_store(j, rc, "device");
        return false;
    }
    return true;
}

/* ---- reads --------------------------------------------------------------------------------- */

struct list_state {
    struct store *st;
    struct api_job *j;
    int64_t now;
    int rc;
};

static int list_one(void *arg, const struct device *d)
{
    struct list_state *s = arg;
    int64_t pid = 0;
    bool visible = false;
    char mrn[PAT_MRN_MAX];
    int rc = store_device_patient_at(s->st, d->id, s->now, &pid);
    if (rc == 0)
        rc = device_visible(s->st, s->j->who, pid, s->now, &visible, mrn);
    if (rc < 0) {
        s->rc = rc;
        return 1;
    }
    if (visible)
        json_array_append_new(s->j->body, device_json(d, pid, mrn));
    return 0;
}

static void list_work(struct store *st, struct api_job *j)
{
    api__ok(j, 200, json_array());
    struct list_state s = {.st = st, .j = j, .now = hx_time_now_us()};
    int rc = store_device_list(st, list_one, &s);
    if (s.rc < 0)
        rc = s.rc;
    if (rc < 0)
        api__fail_store(j, rc, "device");
}

static void h_list(struct http_exchange *x, void *arg)
{
    api__run(arg, x, list_work, NULL);
}

static void show_work(struct store *st, struct api_job *j)
{
    struct dev_req *r = j->arg;
    struct device d;
    int64_t pid = 0;
    char mrn[PAT_MRN_MAX];
    if (load_visible(st, j, r->uid, &d, &pid, mrn))
        api__ok(j, 200, device_json(&d, pid, mrn));
}

static void h_show(struct http_exchange *x, void *arg)
{
    struct dev_req *r = req_for_path(x);
    if (r)
        api__run_after(arg, x, show_work, r, dev_after);
}

/* ---- enrolment ----------------------------------------------------------------------------- */

static void create_work(struct store *st, struct api_job *j)
{
    struct dev_req *r = j->arg;
    struct device d = {.status = DEV_STATUS_ACTIVE, .battery_pct = -1};
    snprintf(d.uid, sizeof(d.uid), "%s", r->uid);
    snprintf(d.kind, sizeof(d.kind), "%s", r->kind);
    snprintf(d.model, sizeof(d.model), "%s", r->model);
    struct patient p = {0};
    int rc;
    if (*r->mrn && (rc = store_patient_get_by_mrn(st, r->mrn, &p)) < 0) {
        if (rc == HX_ENOTFOUND)
            api__fail(j, 400, "unknown_patient", "no patient with that MRN");
        else
            api__fail_store(j, rc, "patient");
        return;
    }
    if ((rc = sec_secret_generate(r->secret)) < 0) {
        api__fail(j, 500, "internal", "cannot generate a secret");
        return;
    }
    sec_secret_hash(j->a->key, r->secret, strlen(r->secret), d.secret_hash);
    rc = store_begin(st);
    if (rc == 0)
        rc = store_device_add(st, &d);
    if (rc == 0 && p.id)
        rc = store_device_assign(st, d.id, p.id, hx_time_now_us());
    if (rc == 0)
        rc = audit_change(
            st, j, "device.create", d.uid, p.id,
            json_pack("{s:s, s:s*}", "kind", d.kind, "model", *d.model ? d.model : NULL));
    rc = tx_end(st, rc);
    if (rc == HX_EEXIST) {
        api__fail(j, 409, "conflict", "a device with that id already exists");
        return;
    }
    if (rc < 0) {
        api__fail_store(j, rc, "device");
        return;
    }
    json_t *b = device_json(&d, p.id, p.mrn);
    json_object_set_new(b, "secret", json_string(r->secret));
    api__ok(j, 201, b);
}

static void h_create(struct http_exchange *x, void *arg)
{
    json_t *body = api__json_body(x);
    if (!body)
        return;
    struct dev_req *r = hx_xcalloc(1, sizeof(*r));
    const char *why = NULL;
    json_t *model = json_object_get(body, "model");
    json_t *mrn = json_object_get(body, "patient_mrn");
    if (!take_str(body, "id", r->uid, sizeof(r->uid)) || dev_uid_validate(r->uid) < 0)
        why = "\"id\": expected 1-63 characters of A-Z a-z 0-9 . _ -";
    else if (!take_str(body, "kind", r->kind, sizeof(r->kind)) || !dev_kind_is_valid(r->kind))
        why = "\"kind\": expected one of monitor, patch, bp_cuff, scale, oximeter, cgm, "
              "glucometer, thermometer, pill_bottle, knee_sensor, gateway, env_sensor, asset_tag";
    else if (model && !json_is_null(model) && !take_str(body, "model", r->model, sizeof(r->model)))
        why = "\"model\": expected a string of at most 63 characters";
    else if (mrn && !json_is_null(mrn) && !take_str(body, "patient_mrn", r->mrn, sizeof(r->mrn)))
        why = "\"patient_mrn\": expected a non-empty string";
    json_decref(body);
    if (why) {
        free(r);
        http_error(x, 400, "invalid", why);
        return;
    }
    api__run_after(arg, x, create_work, r, dev_after);
}

/* ---- assignment and status ----------------------------------------------------------------- */

static void change_work(struct store *st, struct api_job *j)
{
    struct dev_req *r = j->arg;
    struct device d;
    int rc = store_device_get(st, r->uid, &d);
    if (rc < 0) {
        api__fail_store(j, rc, "device");
        return;
    }
    struct patient p = {0};
    if (r->op == OP_ASSIGN && (rc = store_patient_get_by_mrn(st, r->mrn, &p)) < 0) {
        if (rc == HX_ENOTFOUND)
            api__fail(j, 400, "unknown_patient", "no patient with that MRN");
        else
            api__fail_store(j, rc, "patient");
        return;
    }
    int64_t now = hx_time_now_us();
    char when[40];
    hx_time_format_rfc3339(now, when, sizeof(when));
    int64_t pid = 0;
    enum dev_status to = r->op == OP_DISABLE ? DEV_STATUS_DISABLED : DEV_STATUS_ACTIVE;
    rc = store_begin(st);
    switch (r->op) {
    case OP_ASSIGN:
        if (rc == 0)
            rc = store_device_assign(st, d.id, p.id, now);
        if (rc == 0)
            rc = audit_change(st, j, "device.assign", d.uid, p.id, json_pack("{s:s}", "at", when));
        break;
    case OP_UNASSIGN:
        if (rc == 0)
            rc = store_device_patient_at(st, d.id, now, &pid); /* whose assignment ends */
        if (rc == 0 && !pid)
            rc = HX_ENOTFOUND;
        if (rc == 0)
            rc = store_device_unassign(st, d.id, now);
        if (rc == 0)
            rc = audit_change(st, j, "device.unassign", d.uid, pid, json_pack("{s:s}", "at", when));
        if (rc == HX_ENOTFOUND) {
            store_rollback(st);
            api__fail(j, 409, "not_assigned", "the device is not assigned to anyone");
            return;
        }
        break;
    case OP_DISABLE:
    case OP_ENABLE:
        if (rc == 0)
            rc = store_device_set_status(st, d.id, to);
        if (rc == 0)
            rc = audit_change(st, j, r->op == OP_DISABLE ? "device.disable" : "device.enable",
                              d.uid, 0,
                              json_pack("{s:s, s:s}", "from", dev_status_name(d.status), "to",
                                        dev_status_name(to)));
        break;
    }
    rc = tx_end(st, rc);
    if (rc < 0) {
        api__fail_store(j, rc, "device");
        return;
    }
    if (r->op == OP_DISABLE || r->op == OP_ENABLE)
        d.status = to;
    json_t *b = json_pack("{s:s, s:s, s:b}", "id", d.uid, "status", dev_status_name(d.status),
                          "assigned", r->op == OP_ASSIGN);
    if (r->op == OP_ASSIGN)
        json_object_set_new(b, "patient_mrn", json_string(p.mrn));
    if (r->op == OP_DISABLE || r->op == OP_ENABLE)
        json_object_del(b, "assigned");
    api__ok(j, 200, b);
}

static void start_change(struct http_exchange *x, void *arg, enum dev_op op)
{
    struct dev_req *r = req_for_path(x);
    if (!r)
        return;
    r->op = op;
    if (op == OP_ASSIGN) {
        json_t *body = api__json_body(x);
        if (!body) {
            free(r);
            return;
        }
        bool ok = take_str(body, "patient_mrn", r->mrn, sizeof(r->mrn));
        json_decref(body);
        if (!ok) {
            free(r);
            http_error(x, 400, "invalid", "send {\"patient_mrn\": \"...\"}");
            return;
        }
    }
    api__run_after(arg, x, change_work, r, dev_after);
}

static void h_assign(struct http_exchange *x, void *arg)
{
    start_change(x, arg, OP_ASSIGN);
}

static void h_unassign(struct http_exchange *x, void *arg)
{
    start_change(x, arg, OP_UNASSIGN);
}

static void h_disable(struct http_exchange *x, void *arg)
{
    start_change(x, arg, OP_DISABLE);
}

static void h_enable(struct http_exchange *x, void *arg)
{
    start_change(x, arg, OP_ENABLE);
}

/* ---- commands ------------------------------------------------------------------------------ */

static const char *cmd_state_name(enum store_cmd_state s)
{
    switch (s) {
    case STORE_CMD_NEW:
        return "new";
    case STORE_CMD_QUEUED:
        return "queued";
    case STORE_CMD_SENT:
        return "sent";
    case STORE_CMD_DELIVERED:
        return "delivered";
    case STORE_CMD_EXPIRED:
        return "expired";
    }
    return "unknown";
}

static json_t *command_json(const struct dev_command *c, const char *uid, bool with_payload)
{
    char created[40], expires[40], updated[40];
    hx_time_format_rfc3339(c->created_us, created, sizeof(created));
    hx_time_format_rfc3339(c->expires_us, expires, sizeof(expires));
    hx_time_format_rfc3339(c->updated_us ? c->updated_us : c->created_us, updated, sizeof(updated));
    json_t *j = json_pack("{s:I, s:s, s:s, s:i, s:b, s:s, s:s, s:s}", "id", (json_int_t)c->id,
                          "device", uid, "state", cmd_state_name(c->state), "qos", c->qos, "retain",
                          c->retain, "created", created, "expires", expires, "updated", updated);
    if (with_payload) {
        json_t *p = c->payload_len ? json_loadb((const char *)c->payload, c->payload_len,
                                                JSON_DECODE_ANY, NULL)
                                   : NULL;
        json_object_set_new(j, "payload", p ? p : json_null());
    }
    return j;
}

static void send_work(struct store *st, struct api_job *j)
{
    struct dev_req *r = j->arg;
    struct device d;
    int rc = store_device_get(st, r->uid, &d);
    if (rc < 0) {
        api__fail_store(j, rc, "device");
        return;
    }
    struct dev_command c = {
        .device_id = d.id,
        .payload = (const uint8_t *)r->payload,
        .payload_len = r->payload_len,
        .qos = (uint8_t)r->qos,
        .retain = r->retain,
        .expires_us = hx_time_now_us() + (int64_t)r->expires_s * 1000000,
    };
    rc = store_begin(st);
    if (rc == 0)
        rc = store_command_add(st, &c);
    if (rc == 0) /* not the payload: it may carry anything */
        rc = audit_change(st, j, "device.command", d.uid, 0,
                          json_pack("{s:I, s:i, s:b, s:I, s:I}", "command_id", (json_int_t)c.id,
                                    "qos", r->qos, "retain", r->retain, "bytes",
                                    (json_int_t)r->payload_len, "expires_s",
                                    (json_int_t)r->expires_s));
    rc = tx_end(st, rc);
    if (rc < 0) {
        api__fail_store(j, rc, "command");
        return;
    }
    c.state = STORE_CMD_NEW;
    c.updated_us = c.created_us;
    api__ok(j, 201, command_json(&c, d.uid, false));
}

/* Reads an optional integer member in [lo, hi] into *out. False when present and bad. */
static bool take_int(json_t *body, const char *key, long lo, long hi, long *out)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = (long)json_integer_value(v);
    return true;
}

static void h_send(struct http_exchange *x, void *arg)
{
    struct dev_req *r = req_for_path(x);
    if (!r)
        return;
    json_t *body = api__json_body(x);
    if (!body) {
        free(r);
        return;
    }
    long qos = 1, expires = CMD_EXPIRES_DEFAULT;
    json_t *payload = json_object_get(body, "payload");
    json_t *retain = json_object_get(body, "retain");
    const char *why = NULL;
    if (!payload)
        why = "\"payload\": the command, a JSON value, is required";
    else if (!take_int(body, "qos", 0, 2, &qos))
        why = "\"qos\": expected 0, 1 or 2";
    else if (!take_int(body, "expires_s", 1, CMD_EXPIRES_MAX, &expires))
        why = "\"expires_s\": expected a whole number of seconds from 1 to 31622400";
    else if (retain && !json_is_boolean(retain) && !json_is_null(retain))
        why = "\"retain\": expected true or false";
    if (!why) {
        r->payload = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        r->payload_len = r->payload ? strlen(r->payload) : 0;
        if (!r->payload)
            why = "\"payload\": cannot be encoded";
        else if (r->payload_len > STORE_CMD_PAYLOAD_MAX)
            why = "\"payload\": larger than 65536 bytes";
    }
    r->qos = (int)qos;
    r->expires_s = expires;
    r->retain = json_is_true(retain);
    json_decref(body);
    if (why) {
        free(r->payload);
        free(r);
        http_error(x, 400, "invalid", why);
        return;
    }
    api__run_after(arg, x, send_work, r, dev_after);
}

struct cmd_list {
    struct api_job *j;
    const char *uid;
};

static int cmd_one(void *arg, const struct dev_command *c)
{
    struct cmd_list *l = arg;
    json_array_append_new(l->j->body, command_json(c, l->uid, true));
    return 0;
}

static void commands_work(struct store *st, struct api_job *j)
{
    struct dev_req *r = j->arg;
    struct device d;
    int64_t pid = 0;
    char mrn[PAT_MRN_MAX];
    if (!load_visible(st, j, r->uid, &d, &pid, mrn))
        return;
    api__ok(j, 200, json_array());
    struct cmd_list l = {.j = j, .uid = d.uid};
    int rc = store_command_list(st, d.id, CMD_LIST_LIMIT, cmd_one, &l);
    if (rc < 0)
        api__fail_store(j, rc, "command");
}

static void h_commands(struct http_exchange *x, void *arg)
{
    struct dev_req *r = req_for_path(x);
    if (r)
        api__run_after(arg, x, commands_work, r, dev_after);
}

int api__device_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def defs[] = {
        {"GET", "/api/v1/devices", h_list, a, "devices.list", "device.read", 0},
        {"POST", "/api/v1/devices", h_create, a, "devices.create", "device.write", 0},
        {"GET", "/api/v1/devices/{id}", h_show, a, "devices.show", "device.read", 0},
        {"POST", "/api/v1/devices/{id}/assign", h_assign, a, "devices.assign", "device.write", 0},
        {"POST", "/api/v1/devices/{id}/unassign", h_unassign, a, "devices.unassign", "device.write",
         0},
        {"POST", "/api/v1/devices/{id}/disable", h_disable, a, "devices.disable", "device.write",
         0},
        {"POST", "/api/v1/devices/{id}/enable", h_enable, a, "devices.enable", "device.write", 0},
        {"POST", "/api/v1/devices/{id}/commands", h_send, a, "devices.command", "device.command",
         0},
        {"GET", "/api/v1/devices/{id}/commands", h_commands, a, "devices.commands", "device.read",
         0},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(defs); i++) {
        int rc = http_router_add_route(r, &defs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
