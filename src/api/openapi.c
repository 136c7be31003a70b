/*
 * GET /api/v1/openapi.json (public): the OpenAPI 3.1 description of every /api/v1 route (and
 * the FHIR entry points), built with jansson from the table below on each request (a few
 * kilobytes, cheap). Each operation names its permission in x-medhub-permission (an rbac_perm
 * name, docs/security.md; "public" for routes without authentication, "authenticated" for
 * any logged-in caller) and answers errors as {"error": {"code", "message"}}.
 * The table is THE list of routes that tests/integration/91-api-permissions.py checks against
 * every role: a route added to a handler file must be added here too (the test also fails
 * when a documented route answers without its permission being checked).
 * Routes of the clinical and live branches are listed as planned (docs/api.md); until they
 * are merged the server answers 404/405 for them and the permission test skips them.
 * Layer: api. Thread: loop.
 */
#include "api/api_int.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

struct op_def {
    const char *method;  /* "get", "post", ... (OpenAPI spells them lower case) */
    const char *path;    /* with {params} */
    const char *perm;    /* rbac_perm name, "public" or "authenticated" */
    const char *tag;     /* group */
    const char *summary; /* one line */
    const char *query;   /* optional query parameters, comma-separated, or NULL */
    bool body;           /* takes a JSON body */
    int status;          /* success status */
};

static const struct op_def ops[] = {
    /* Sessions (main) */
    {"post", "/api/v1/session", "public", "session", "Log in with name and password", NULL, true,
     200},
    {"post", "/api/v1/session/mfa", "public", "session", "Second step: TOTP or recovery code", NULL,
     true, 200},
    {"post", "/api/v1/session/enrol", "public", "session", "Start TOTP enrolment", NULL, true, 200},
    {"post", "/api/v1/session/enrol/confirm", "public", "session", "Confirm TOTP enrolment", NULL,
     true, 200},
    {"delete", "/api/v1/session", "self", "session", "Log out", NULL, false, 200},
    {"get", "/api/v1/me", "authenticated", "session", "Who am I", NULL, false, 200},
    {"get", "/api/v1/me/sessions", "self", "session", "My sessions", NULL, false, 200},
    {"delete", "/api/v1/me/sessions/{id}", "self", "session", "End one of my sessions", NULL, false,
     200},
    {"post", "/api/v1/me/password", "self", "session", "Change my password", NULL, true, 200},
    /* Patients, observations, alerts, rules, break-glass (patients.c, alerts.c) */
    {"get", "/api/v1/patients", "patient.read", "patients",
     "Ward overview: patients in my scope with latest vitals, NEWS2 and active alerts",
     "ward,limit", false, 200},
    {"get", "/api/v1/patients/{id}", "patient.read", "patients", "One patient (404 out of scope)",
     NULL, false, 200},
    {"get", "/api/v1/patients/{id}/observations", "obs.read", "patients",
     "A patient's observations (points=N: a downsampled series)", "code,since,until,limit,points",
     false, 200},
    {"post", "/api/v1/patients/{id}/observations", "obs.write", "patients",
     "Enter a reading by hand", NULL, true, 201},
    {"get", "/api/v1/patients/{id}/rules", "rules.read", "rules", "A patient's alert rules", NULL,
     false, 200},
    {"put", "/api/v1/patients/{id}/rules", "rules.write", "rules", "Change a patient's alert rules",
     NULL, true, 200},
    {"post", "/api/v1/patients/{id}/break-glass", "break_glass", "patients",
     "Emergency access to a patient outside my scope", NULL, true, 201},
    {"get", "/api/v1/alerts", "alert.read", "alerts", "Alerts in my scope",
     "state,patient,ward,limit", false, 200},
    {"get", "/api/v1/alerts/{id}", "alert.read", "alerts", "One alert and its history", NULL, false,
     200},
    {"post", "/api/v1/alerts/{id}/ack", "alert.ack", "alerts", "Acknowledge an alert (queued)",
     NULL, true, 202},
    {"post", "/api/v1/alerts/{id}/resolve", "alert.resolve", "alerts", "Resolve an alert (queued)",
     NULL, true, 202},
    {"post", "/api/v1/alerts/{id}/escalate", "alert.escalate", "alerts",
     "Escalate an alert (queued)", NULL, true, 202},
    /* Live (live branch, planned) */
    {"get", "/api/v1/stream", "stream", "live", "Server-sent events (each event scoped)", NULL,
     false, 200},
    {"post", "/api/v1/ingest", "ingest", "live", "Post readings (SenML) from a gateway", NULL, true,
     202},
    {"get", "/fhir/{type}", "fhir.read", "fhir", "FHIR R4 search (docs/fhir.md)", NULL, false, 200},
    {"get", "/fhir/{type}/{id}", "fhir.read", "fhir", "FHIR R4 read (docs/fhir.md)", NULL, false,
     200},
    /* Devices */
    {"get", "/api/v1/devices", "device.read", "devices", "Devices (scoped for clinical roles)",
     NULL, false, 200},
    {"post", "/api/v1/devices", "device.write", "devices",
     "Enrol a device: the secret is in the answer, once", NULL, true, 201},
    {"get", "/api/v1/devices/{id}", "device.read", "devices", "One device", NULL, false, 200},
    {"post", "/api/v1/devices/{id}/assign", "device.write", "devices", "Assign to a patient", NULL,
     true, 200},
    {"post", "/api/v1/devices/{id}/unassign", "device.write", "devices",
     "End the current assignment", NULL, false, 200},
    {"post", "/api/v1/devices/{id}/disable", "device.write", "devices", "Disable a device", NULL,
     false, 200},
    {"post", "/api/v1/devices/{id}/enable", "device.write", "devices", "Enable a device", NULL,
     false, 200},
    {"post", "/api/v1/devices/{id}/commands", "device.command", "devices",
     "Send a command (delivered over MQTT)", NULL, true, 201},
    {"get", "/api/v1/devices/{id}/commands", "device.read", "devices", "A device's commands", NULL,
     false, 200},
    /* Users and tokens */
    {"get", "/api/v1/users", "user.admin", "users", "Users", NULL, false, 200},
    {"post", "/api/v1/users", "user.admin", "users",
     "Add a user: one-time password and TOTP secret in the answer, once", NULL, true, 201},
    {"post", "/api/v1/users/{name}/disable", "user.admin", "users", "Disable a user", NULL, false,
     200},
    {"post", "/api/v1/users/{name}/enable", "user.admin", "users", "Enable a user", NULL, false,
     200},
    {"put", "/api/v1/users/{name}/role", "user.admin", "users", "Change a user's role", NULL, true,
     200},
    {"put", "/api/v1/users/{name}/wards", "user.admin", "users", "Replace a user's wards", NULL,
     true, 200},
    {"post", "/api/v1/users/{name}/reset-mfa", "user.admin", "users", "New TOTP secret, once", NULL,
     false, 200},
    {"post", "/api/v1/users/{name}/reset-password", "user.admin", "users",
     "New one-time password, once", NULL, false, 200},
    {"post", "/api/v1/users/{name}/unlock", "user.admin", "users", "Clear failed logins", NULL,
     false, 200},
    {"get", "/api/v1/tokens", "user.admin", "users", "API tokens", NULL, false, 200},
    {"post", "/api/v1/tokens", "user.admin", "users", "Add an API token: shown once", NULL, true,
     201},
    {"delete", "/api/v1/tokens/{name}", "user.admin", "users", "Revoke an API token", NULL, false,
     200},
    /* Audit */
    {"get", "/api/v1/audit", "audit.read", "audit", "Audit entries, newest first",
     "since,until,patient,actor,action,limit", false, 200},
    {"get", "/api/v1/audit/verify", "audit.read", "audit", "Verify the hash chain", NULL, false,
     200},
    {"get", "/api/v1/audit/export", "audit.export", "audit", "Export the audit trail",
     "format,since,until,patient", false, 200},
    /* This document */
    {"get", "/api/v1/openapi.json", "public", "meta", "This OpenAPI document", NULL, false, 200},
};

/* Members of the JSON bodies this branch's routes take ('!' = required). Routes of other
 * branches are described as "an object" until their owners add theirs here. */
struct body_def {
    const char *method, *path, *members;
};

static const struct body_def bodies[] = {
    {"post", "/api/v1/session", "name!,password!"},
    {"post", "/api/v1/session/mfa", "ticket!,code,recovery_code"},
    {"post", "/api/v1/session/enrol", "ticket!"},
    {"post", "/api/v1/session/enrol/confirm", "ticket!,code!"},
    {"post", "/api/v1/me/password", "old_password!,new_password!"},
    {"post", "/api/v1/devices", "id!,kind!,model,patient_mrn"},
    {"post", "/api/v1/devices/{id}/assign", "patient_mrn!"},
    {"post", "/api/v1/devices/{id}/commands", "payload!,qos,retain,expires_s"},
    {"post", "/api/v1/users", "name!,role!,wards,patient_mrn,display_name,mfa"},
    {"put", "/api/v1/users/{name}/role", "role!"},
    {"put", "/api/v1/users/{name}/wards", "wards!"},
    {"post", "/api/v1/tokens", "name!,role!,ward,scopes,expires_days"},
};

/* The JSON Schema of o's body: an object, with its members when known. */
static json_t *body_schema(const struct op_def *o)
{
    json_t *schema = json_pack("{s:s}", "type", "object");
    for (size_t i = 0; i < HX_ARRAY_LEN(bodies); i++) {
        if (strcmp(bodies[i].method, o->method) != 0 || strcmp(bodies[i].path, o->path) != 0)
            continue;
        json_t *props = json_object(), *req = json_array();
        for (const char *m = bodies[i].members; *m;) {
            const char *comma = strchr(m, ',');
            size_t len = comma ? (size_t)(comma - m) : strlen(m);
            bool required = m[len - 1] == '!';
            char name[48];
            snprintf(name, sizeof(name), "%.*s", (int)(len - required), m);
            json_object_set_new(props, name, json_object());
            if (required)
                json_array_append_new(req, json_string(name));
            m += len + (comma ? 1 : 0);
        }
        json_object_set_new(schema, "properties", props);
        json_object_set_new(schema, "required", req);
    }
    return schema;
}

static json_t *error_ref(const char *desc)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", desc, "content", "application/json",
                     "schema", "$ref", "#/components/schemas/Error");
}

static json_t *operation(const struct op_def *o)
{
    char id[160];
    size_t n = (size_t)snprintf(id, sizeof(id), "%s", o->method);
    for (const char *p = o->path + 1; *p && n + 1 < sizeof(id); p++)
        id[n++] = (*p == '/' || *p == '{' || *p == '}' || *p == '-' || *p == '.') ? '_' : *p;
    id[n] = '\0';
    json_t *op = json_pack("{s:s, s:s, s:[s], s:s}", "operationId", id, "summary", o->summary,
                           "tags", o->tag, "x-medhub-permission", o->perm);
    json_t *params = json_array();
    for (const char *p = strchr(o->path, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        json_array_append_new(params, json_pack("{s:s#, s:s, s:b, s:{s:s}}", "name", p + 1,
                                                (int)(end - p - 1), "in", "path", "required", 1,
                                                "schema", "type", "string"));
    }
    for (const char *q = o->query; q && *q;) {
        const char *comma = strchr(q, ',');
        size_t len = comma ? (size_t)(comma - q) : strlen(q);
        json_array_append_new(params,
                              json_pack("{s:s#, s:s, s:b, s:{s:s}}", "name", q, (int)len, "in",
                                        "query", "required", 0, "schema", "type", "string"));
        q += len + (comma ? 1 : 0);
    }
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    if (o->body)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                      "application/json", "schema", body_schema(o)));
    char st[8];
    snprintf(st, sizeof(st), "%d", o->status);
    json_t *resp = json_object();
    json_object_set_new(resp, st,
                        json_pack("{s:s, s:{s:{s:{}}}}", "description", "success", "content",
                                  "application/json", "schema"));
    json_object_set_new(resp, "400", error_ref("bad request or body"));
    if (strcmp(o->perm, "public") != 0) {
        json_object_set_new(resp, "401", error_ref("not authenticated"));
        json_object_set_new(resp, "403", error_ref("permission missing (or CSRF token)"));
    } else {
        json_object_set_new(op, "security", json_array());
    }
    json_object_set_new(resp, "404", error_ref("no such resource, or out of scope"));
    json_object_set_new(resp, "503", error_ref("database unavailable"));
    json_object_set_new(op, "responses", resp);
    return op;
}

static json_t *document(void)
{
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:[{s:s}]}", "openapi", "3.1.0", "info", "title", "medhub API",
        "version", "1", "description",
        "medhub REST API. x-medhub-permission names the permission a route needs (docs/"
        "security.md): 'public' needs no login, 'authenticated' any caller. Browsers "
        "authenticate with the medhub_session cookie and send X-CSRF-Token on changes; other "
        "systems send Authorization: Bearer <API token>.",
        "servers", "url", "/");
    json_object_set_new(
        doc, "components",
        json_pack("{s:{s:{s:s, s:[s], s:{s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}}}}}}, "
                  "s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}",
                  "schemas", "Error", "type", "object", "required", "error", "properties", "error",
                  "type", "object", "required", "code", "message", "properties", "code", "type",
                  "string", "message", "type", "string", "securitySchemes", "cookie", "type",
                  "apiKey", "in", "cookie", "name", API_SESSION_COOKIE, "bearer", "type", "http",
                  "scheme", "bearer", "bearerFormat", "medhub API token"));
    json_object_set_new(doc, "security", json_pack("[{s:[]}, {s:[]}]", "cookie", "bearer"));
    json_t *paths = json_object();
    for (size_t i = 0; i < HX_ARRAY_LEN(ops); i++) {
        json_t *item = json_object_get(paths, ops[i].path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, ops[i].path, item);
        }
        json_object_set_new(item, ops[i].method, operation(&ops[i]));
    }
    json_object_set_new(doc, "paths", paths);
    return doc;
}

static void h_openapi(struct http_exchange *x, void *arg)
{
    (void)arg;
    json_t *doc = document();
    if (!doc) {
        http_error(x, 500, "internal", "cannot build the document");
        return;
    }
    http_respond_json(x, 200, doc);
    json_decref(doc);
}

int api__openapi_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def def = {"GET", "/api/v1/openapi.json", h_openapi, a, "openapi",
                                       NULL,  HTTP_ROUTE_PUBLIC};
    return http_router_add_route(r, &def);
}
