/*
 * The audit trail (docs/api.md "Audit"):
 *   GET /api/v1/audit?since=&until=&patient=&actor=&action=&limit=   audit.read
 *       newest first, at most limit (default 100, at most 1000); patient is an MRN; action a
 *       name or a pattern with '*' ("device.*")
 *   GET /api/v1/audit/verify                                         audit.read
 *       walks the whole chain (audit_verify): {intact, entries, head, problem, bad_seq,
 *       message}; recorded as audit.verify
 *   GET /api/v1/audit/export?format=csv|json&since=&until=           audit.export
 *       oldest first, bounded: at most AUDIT_EXPORT_MAX entries per request (built in memory) (the
 * header X-Medhub-Export-Truncated names the last seq sent when there were more: ask again with
 *       since= its time). Recorded as audit.export BEFORE it runs; the export covers the
 *       entries before its own.
 * Entries carry patient_id, not the MRN: auditors and security officers see no clinical
 * data (docs/security.md); the patient filter takes an MRN and resolves it.
 * Layer: api. Thread: loop, except the *_work functions (workers).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "security/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_LIST_DEFAULT 100
#define AUDIT_LIST_MAX     1000
#define AUDIT_EXPORT_MAX   50000

struct audit_req {
    int64_t since_us, until_us;
    char mrn[PAT_MRN_MAX];
    char actor[AUDIT_ACTOR_MAX];
    char action[AUDIT_ACTION_MAX];
    size_t limit;
    bool csv;
    /* export: the answer, built on the worker */
    struct api_job job; /* for the actor fields and errors */
    char *out;
    size_t out_len;
    int64_t last_seq;
    size_t n;
    bool truncated;
    FILE *f;
};

/* [a-z0-9_.*] only: action names and GLOB's '*'. */
static bool action_pattern_ok(const char *s)
{
    if (!*s || strlen(s) >= AUDIT_ACTION_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
              *s == '*'))
            return false;
    return true;
}

/* Copies query parameter name into out (1..cap-1 bytes). False when present and bad. */
static bool qstr(const struct http_query *q, const char *name, char *out, size_t cap)
{
    const struct http_param *p = q ? http_query_get(q, name) : NULL;
    if (!p)
        return true;
    if (p->value_len == 0 || p->value_len >= cap || memchr(p->value, '\0', p->value_len))
        return false;
    memcpy(out, p->value, p->value_len);
    out[p->value_len] = '\0';
    return true;
}

static bool qtime(const struct http_query *q, const char *name, int64_t *out)
{
    char buf[64] = "";
    if (!qstr(q, name, buf, sizeof(buf)))
        return false;
    return !*buf || hx_time_parse(buf, hx_time_now_us(), out) == 0;
}

/* Parses the query into r; answers 400 itself and returns false on a bad one. */
static bool parse_query(struct http_exchange *x, struct audit_req *r, bool export)
{
    const struct http_query *q = NULL;
    if (http_exchange_query(x, &q) < 0) {
        http_error(x, 400, "invalid", "malformed query string");
        return false;
    }
    char limit[16] = "", format[8] = "";
    const char *why = NULL;
    if (!qtime(q, "since", &r->since_us) || !qtime(q, "until", &r->until_us))
        why = "since/until: expected an RFC 3339 time, a date, 'now' or a relative time (-7d)";
    else if (!qstr(q, "patient", r->mrn, sizeof(r->mrn)))
        why = "patient: expected an MRN";
    else if (!qstr(q, "actor", r->actor, sizeof(r->actor)))
        why = "actor: expected a user, token or device name";
    else if (!qstr(q, "action", r->action, sizeof(r->action)) ||
             (*r->action && !action_pattern_ok(r->action)))
        why = "action: expected an action name or pattern of a-z 0-9 _ . *";
    else if (!qstr(q, "limit", limit, sizeof(limit)))
        why = "limit: expected 1 to 1000";
    else if (!qstr(q, "format", format, sizeof(format)) ||
             (*format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0))
        why = "format: expected csv or json";
    if (!why && *limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*end || v < 1 || v > AUDIT_LIST_MAX)
            why = "limit: expected 1 to 1000";
        r->limit = (size_t)v;
    }
    if (!why && r->since_us && r->until_us && r->since_us >= r->until_us)
        why = "since must be before until";
    if (why) {
        http_error(x, 400, "invalid", why);
        return false;
    }
    if (!r->limit)
        r->limit = export ? AUDIT_EXPORT_MAX : AUDIT_LIST_DEFAULT;
    r->csv = strcmp(format, "csv") == 0;
    return true;
}

static json_t *entry_json(const struct store_audit_row *r)
{
    char when[40];
    hx_time_format_rfc3339(r->time_us, when, sizeof(when));
    json_t *details = json_loads(r->details, JSON_DECODE_ANY, NULL);
    if (!details)
        details = json_string(r->details); /* not JSON (tampered): shown as it is */
    return json_pack(
        "{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s?, s:o, s:b, "
        "s:s, s:s}",
        "seq", (json_int_t)r->seq, "time", when, "actor_kind", r->actor_kind, "actor_id",
        (json_int_t)r->actor_id, "actor", r->actor, "action", r->action, "outcome", r->outcome,
        "patient_id", r->has_patient ? json_integer(r->patient_id) : json_null(), "object_type",
        *r->object_type ? r->object_type : NULL, "object_id", *r->object_id ? r->object_id : NULL,
        "source", *r->source ? r->source : NULL, "details", details, "break_glass", r->break_glass,
        "prev_hash", r->prev_hash, "hash", r->hash);
}

/* Resolves r->mrn into f->patient_id. Returns 0, HX_ENOTFOUND or a store error. */
static int resolve_patient(struct store *st, const struct audit_req *r,
                           struct store_audit_filter *f)
{
    if (!*r->mrn)
        return 0;
    struct patient p;
    int rc = store_patient_get_by_mrn(st, r->mrn, &p);
    if (rc == 0)
        f->patient_id = p.id;
    return rc;
}

/* ---- list ---------------------------------------------------------------------------------- */

static int list_one(void *arg, const struct store_audit_row *r)
{
    json_array_append_new(arg, entry_json(r));
    return 0;
}

static void list_work(struct store *st, struct api_job *j)
{
    struct audit_req *r = j->arg;
    struct store_audit_filter f = {.since_us = r->since_us,
                                   .until_us = r->until_us,
                                   .actor = *r->actor ? r->actor : NULL,
                                   .action = *r->action ? r->action : NULL,
                                   .limit = r->limit,
                                   .newest_first = true};
    int rc = resolve_patient(st, r, &f);
    if (rc == HX_ENOTFOUND) { /* no such patient: no entries about them */
        api__ok(j, 200, json_array());
        return;
    }
    api__ok(j, 200, json_array());
    if (rc == 0)
        rc = store_audit_scan(st, &f, list_one, j->body);
    if (rc < 0)
        api__fail_store(j, rc, "audit entry");
}

static void req_after(struct api_job *j)
{
    free(j->arg);
}

static void h_list(struct http_exchange *x, void *arg)
{
    struct audit_req *r = hx_xcalloc(1, sizeof(*r));
    if (!parse_query(x, r, false)) {
        free(r);
        return;
    }
    api__run_after(arg, x, list_work, r, req_after);
}

/* ---- verify -------------------------------------------------------------------------------- */

static void verify_work(struct store *st, struct api_job *j)
{
    struct audit_verify_result v;
    memset(&v, 0, sizeof(v));
    int rc = audit_verify(st, NULL, 0, NULL, NULL, &v);
    if (rc < 0) {
        api__fail_store(j, rc, "audit trail");
        return;
    }
    json_t *head = v.head.seq
                       ? json_pack("{s:I, s:s}", "seq", (json_int_t)v.head.seq, "hash", v.head.hash)
                       : json_null();
    json_t *b = json_pack(
        "{s:b, s:I, s:o, s:s?, s:o, s:s}", "intact", v.intact, "entries", (json_int_t)v.entries,
        "head", head, "problem", v.intact ? NULL : audit_problem_name(v.problem), "bad_seq",
        v.intact ? json_null() : json_integer(v.bad_seq), "message", v.intact ? "" : v.message);
    char details[160];
    snprintf(details, sizeof(details), "{\"intact\":%s,\"entries\":%" PRId64 "}",
             v.intact ? "true" : "false", v.entries);
    struct audit_entry e = {.action = "audit.verify",
                            .outcome = v.intact ? AUDIT_SUCCESS : AUDIT_FAILURE,
                            .object_type = "audit",
                            .details = details};
    api__audit_actor(j, &e);
    if ((rc = audit_record(st, &e, NULL)) < 0)
        log_error(NULL, "api", "cannot record audit.verify", "err=\"%s\"", hx_strerror(rc));
    api__ok(j, 200, b);
}

static void h_verify(struct http_exchange *x, void *arg)
{
    api__run(arg, x, verify_work, NULL);
}

/* ---- export -------------------------------------------------------------------------------- */

static const char csv_header[] = "seq,time,actor_kind,actor_id,actor,action,outcome,patient_id,"
                                 "object_type,object_id,source,details,break_glass,prev_hash,"
                                 "hash\r\n";

static int export_one(void *arg, const struct store_audit_row *row)
{
    struct audit_req *r = arg;
    if (r->n >= r->limit) {
        r->truncated = true;
        return 1;
    }
    if (r->csv) {
        char seq[24], when[40], actor_id[24], pid[24] = "";
        snprintf(seq, sizeof(seq), "%" PRId64, row->seq);
        hx_time_format_rfc3339(row->time_us, when, sizeof(when));
        snprintf(actor_id, sizeof(actor_id), "%" PRId64, row->actor_id);
        if (row->has_patient)
            snprintf(pid, sizeof(pid), "%" PRId64, row->patient_id);
        const char *cells[] = {seq,
                               when,
                               row->actor_kind,
                               actor_id,
                               row->actor,
                               row->action,
                               row->outcome,
                               pid,
                               row->object_type,
                               row->object_id,
                               row->source,
                               row->details,
                               row->break_glass ? "true" : "false",
                               row->prev_hash,
                               row->hash};
        for (size_t i = 0; i < HX_ARRAY_LEN(cells); i++)
            audit_csv_cell(r->f, cells[i], i != 0 && i != 1 && i != 3 && i != 7 && i != 12,
                           i + 1 == HX_ARRAY_LEN(cells));
    } else {
        json_t *j = entry_json(row);
        fputs(r->n ? ",\n" : "\n", r->f);
        json_dumpf(j, r->f, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
    }
    r->n++;
    r->last_seq = row->seq;
    return ferror(r->f) ? -EIO : 0;
}

static int export_work(struct store *st, void *arg)
{
    struct audit_req *r = arg;
    struct api_job *j = &r->job;
    struct store_audit_filter f = {.since_us = r->since_us, .until_us = r->until_us};
    int rc = resolve_patient(st, r, &f);
    if (rc < 0 && rc != HX_ENOTFOUND) {
        api__fail_store(j, rc, "patient");
        return 0;
    }
    /* Record the export first: it covers the entries before its own. */
    char since[40] = "", until[40] = "";
    if (r->since_us)
        hx_time_format_rfc3339(r->since_us, since, sizeof(since));
    if (r->until_us)
        hx_time_format_rfc3339(r->until_us, until, sizeof(until));
    json_t *d = json_pack("{s:s, s:s*, s:s*, s:s}", "format", r->csv ? "csv" : "json", "since",
                          *since ? since : NULL, "until", *until ? until : NULL, "to", "api");
    char *details = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(d);
    struct audit_entry e = {.action = "audit.export",
                            .outcome = AUDIT_SUCCESS,
                            .patient_id = f.patient_id,
                            .object_type = "audit",
                            .details = details};
    api__audit_actor(j, &e);
    int64_t seq = 0;
    rc = audit_record(st, &e, &seq);
    free(details);
    if (rc < 0) {
        api__fail_store(j, rc, "audit trail");
        return 0;
    }
    f.before_seq = seq;
    r->f = open_memstream(&r->out, &r->out_len);
    if (!r->f) {
        api__fail(j, 500, "internal", "out of memory");
        return 0;
    }
    fputs(r->csv ? csv_header : "[", r->f);
    /* An unknown MRN: no entry is about that patient, an empty export. */
    rc = *r->mrn && !f.patient_id ? 0 : store_audit_scan(st, &f, export_one, r);
    if (!r->csv)
        fputs(r->n ? "\n]\n" : "]\n", r->f);
    if (fclose(r->f) != 0 && rc == 0)
        rc = -EIO;
    r->f = NULL;
    if (rc < 0) {
        free(r->out);
        r->out = NULL;
        api__fail_store(j, rc, "audit trail");
    }
    return 0;
}

static void export_done(void *arg, int status)
{
    struct audit_req *r = arg;
    struct http_exchange *x = r->job.x;
    if (status < 0 || !r->out) {
        http_error(x, r->job.status ? r->job.status : 503,
                   r->job.code[0] ? r->job.code : "unavailable",
                   r->job.msg[0] ? r->job.msg : "the database is not available");
    } else {
        char last[24];
        if (r->truncated) {
            snprintf(last, sizeof(last), "%" PRId64, r->last_seq);
            http_add_header(x, "X-Medhub-Export-Truncated", last);
        }
        http_add_header(x, "Content-Disposition",
                        r->csv ? "attachment; filename=\"medhub-audit.csv\""
                               : "attachment; filename=\"medhub-audit.json\"");
        http_respond(x, 200, r->csv ? "text/csv; charset=utf-8" : "application/json", r->out,
                     r->out_len);
    }
    free(r->out);
    free(r);
}

static void h_export(struct http_exchange *x, void *arg)
{
    struct api *a = arg;
    struct audit_req *r = hx_xcalloc(1, sizeof(*r));
    if (!parse_query(x, r, true)) {
        free(r);
        return;
    }
    r->limit = AUDIT_EXPORT_MAX;
    r->job.a = a;
    r->job.x = x;
    r->job.who = api__principal(x);
    const char *peer = http_exchange_peer(x);
    snprintf(r->job.source, sizeof(r->job.source), "%s", peer ? peer : "");
    char *colon = strrchr(r->job.source, ':');
    if (colon && !strchr(r->job.source, ']') && strchr(r->job.source, ':') == colon)
        *colon = '\0';
    if (a->stopping || store_pool_submit(a->pool, export_work, export_done, r) < 0) {
        free(r);
        http_error(x, 503, "unavailable", "the server is shutting down");
    }
}

int api__audit_routes(struct api *a, struct http_router *r)
{
    const struct http_route_def defs[] = {
        {"GET", "/api/v1/audit", h_list, a, "audit.list", "audit.read", 0},
        {"GET", "/api/v1/audit/verify", h_verify, a, "audit.verify", "audit.read", 0},
        {"GET", "/api/v1/audit/export", h_export, a, "audit.export", "audit.export", 0},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(defs); i++) {
        int rc = http_router_add_route(r, &defs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
