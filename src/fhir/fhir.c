/*
 * The FHIR API's entry points: fhir_search runs a parsed search (search.c) against the store
 * (store_*_search, keyset-paged, in the caller's care scope) and builds the searchset Bundle
 * (total, self/next links, entries with fullUrl and search.mode); fhir_read answers a read by
 * id through the same searches; every failure becomes an OperationOutcome with its status.
 * Layer: fhir (front end: above domain and the store interface). Thread: a worker thread with
 * its own store connection (reads the disk: never the loop thread).
 */
#include "core/err.h"
#include "core/mem.h"
#include "domain/codes.h"
#include "fhir/fhir_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A search in progress: the page's entries and the key of its last row. */
struct run {
    const struct fhir_request *rq;
    const struct fhir_query *q;
    json_t *entries;         /* Bundle.entry */
    size_t n;                /* rows seen (the page, plus one to know there is a next) */
    size_t page;             /* rows wanted on the page */
    struct fhir_cursor last; /* key of the page's last row */
    bool more;               /* a row beyond the page exists */
    int err;                 /* -ENOMEM when building an entry failed */
};

static struct store_scope scope_of(const struct fhir_scope *s)
{
    return (struct store_scope){
        .kind = s->kind, .wards = s->wards, .n_wards = s->n_wards, .patient_id = s->patient_id};
}

/* Adds one match; returns 1 (stop) once the page is full and one more row was seen. */
static int add_entry(struct run *r, json_t *res, const struct fhir_cursor *key)
{
    if (r->n++ == r->page) {
        json_decref(res);
        r->more = true;
        return 1;
    }
    if (!res) {
        r->err = -ENOMEM;
        return 1;
    }
    const char *id = json_string_value(json_object_get(res, "id"));
    char *url = hx_xasprintf("%s/%s/%s", r->rq->base_url, fhir_type_name(r->q->type), id);
    json_t *e = json_pack("{s:s, s:o, s:{s:s}}", "fullUrl", url, "resource", res, "search", "mode",
                          "match");
    free(url);
    if (!e || json_array_append_new(r->entries, e) < 0) {
        r->err = -ENOMEM;
        return 1;
    }
    r->last = *key;
    return 0;
}

static int on_patient(void *arg, const struct patient *p)
{
    struct fhir_cursor k = {.set = true, .a = p->id};
    return add_entry(arg, fhir_patient_to_json(p), &k);
}

static int on_device(void *arg, const struct device *d, int64_t patient_id)
{
    struct fhir_cursor k = {.set = true, .a = d->id};
    return add_entry(arg, fhir_device_to_json(d, patient_id), &k);
}

static int on_obs(void *arg, const struct store_obs_row *row)
{
    struct run *r = arg;
    struct fhir_cursor k = {.set = true,
                            .descending = r->q->descending,
                            .a = row->o.effective_us,
                            .b = row->o.code,
                            .c = row->o.device_id};
    json_t *res =
        row->is_panel ? fhir_bp_panel_to_json(&row->o, &row->dia) : fhir_obs_to_json(&row->o);
    return add_entry(r, res, &k);
}

static int on_alert(void *arg, const struct alert *a)
{
    struct fhir_cursor k = {.set = true, .a = a->raised_us, .b = a->id};
    return add_entry(arg, fhir_flag_to_json(a), &k);
}

/* The store queries of a parsed search (pointers into q and sc). */
struct queries {
    struct store_patient_query pat;
    struct store_device_query dev;
    struct store_obs_query obs;
    struct store_alert_query alert;
    const char *texts[STORE_QUERY_VALUES_MAX];
};

static void build_queries(const struct fhir_query *q, const struct store_scope *sc, size_t limit,
                          struct queries *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < q->n_texts; i++)
        out->texts[i] = q->texts[i];
    switch (q->type) {
    case FHIR_PATIENT:
        out->pat = (struct store_patient_query){
            .scope = sc,
            .ids = q->ids,
            .n_ids = q->n_ids,
            .mrns = out->texts,
            .n_mrns = q->n_texts,
            .name = q->name[0] ? q->name : NULL,
            .name_match = q->name_match,
            .has_birth = q->has_birth,
            .birth = q->birth,
            .after_id = q->cursor.set ? q->cursor.a : 0,
            .limit = limit,
        };
        break;
    case FHIR_DEVICE:
        out->dev = (struct store_device_query){
            .scope = sc,
            .ids = q->ids,
            .n_ids = q->n_ids,
            .uids = out->texts,
            .n_uids = q->n_texts,
            .patient_id = q->has_patient ? q->patient_id : 0,
            .after_id = q->cursor.set ? q->cursor.a : 0,
            .limit = limit,
        };
        break;
    case FHIR_OBSERVATION:
        out->obs = (struct store_obs_query){
            .patient_id = q->patient_id,
            .kinds = q->kinds,
            .effective = q->date,
            .has_received = q->has_last_updated,
            .received = q->last_updated,
            .has_device = q->has_device,
            .device_id = q->device_id,
            .descending = q->descending,
            .has_cursor = q->cursor.set,
            .cur_effective_us = q->cursor.a,
            .cur_code = (int)q->cursor.b,
            .cur_device_id = q->cursor.c,
            .limit = limit,
        };
        break;
    case FHIR_FLAG:
        out->alert = (struct store_alert_query){
            .scope = sc,
            .ids = q->ids,
            .n_ids = q->n_ids,
            .patient_id = q->has_patient ? q->patient_id : 0,
            .states = q->states,
            .has_cursor = q->cursor.set,
            .cur_raised_us = q->cursor.a,
            .cur_id = q->cursor.b,
            .limit = limit,
        };
        break;
    }
}

static int run_search(struct store *st, struct queries *qs, enum fhir_type t, struct run *r)
{
    switch (t) {
    case FHIR_PATIENT:
        return store_patient_search(st, &qs->pat, on_patient, r);
    case FHIR_DEVICE:
        return store_device_search(st, &qs->dev, on_device, r);
    case FHIR_OBSERVATION:
        return store_obs_search(st, &qs->obs, on_obs, r);
    case FHIR_FLAG:
        return store_alert_search(st, &qs->alert, on_alert, r);
    }
    return HX_EINVAL;
}

static int run_count(struct store *st, struct queries *qs, enum fhir_type t, int64_t *out)
{
    switch (t) {
    case FHIR_PATIENT:
        return store_patient_count(st, &qs->pat, out);
    case FHIR_DEVICE:
        return store_device_count(st, &qs->dev, out);
    case FHIR_OBSERVATION:
        return store_obs_search_count(st, &qs->obs, out);
    case FHIR_FLAG:
        return store_alert_count(st, &qs->alert, out);
    }
    return HX_EINVAL;
}

/*
 * Whether the named patient of an Observation search is visible: a missing or out-of-scope
 * patient gives an empty result, so a search never tells which ids exist outside the scope.
 */
static int obs_patient_visible(struct store *st, const struct store_scope *sc, int64_t patient_id,
                               bool *visible)
{
    struct patient p;
    int rc = store_patient_get(st, patient_id, &p);
    if (rc == HX_ENOTFOUND) {
        *visible = false;
        return 0;
    }
    if (rc < 0)
        return rc;
    *visible = store_scope_has_patient(sc, &p);
    return 0;
}

/* Error body for a store failure (HX_EBUSY 503, others 500). */
static int store_failure(int rc, json_t **out_body, int *http_status)
{
    *out_body = fhir_outcome_from_err(
        rc, rc == HX_EBUSY ? "the database is busy; retry" : "the search failed", http_status);
    return rc;
}

static json_t *bundle_new(void)
{
    return json_pack("{s:s, s:s}", "resourceType", "Bundle", "type", "searchset");
}

int fhir_search(struct store *st, const struct fhir_request *rq, enum fhir_type type,
                const struct fhir_param *params, size_t n_params, json_t **out_body,
                int *http_status)
{
    struct fhir_query *q = hx_xmalloc(sizeof(*q));
    struct fhir_error perr;
    struct queries *qs = hx_xmalloc(sizeof(*qs));
    struct store_scope sc = scope_of(rq->scope);
    json_t *bundle = NULL, *entries = NULL;
    int rc = fhir__search_parse(type, params, n_params, rq->flags & FHIR_LENIENT, q, &perr);
    if (rc < 0) {
        *http_status = perr.status;
        *out_body = fhir_outcome_new("error", perr.code, perr.diagnostics);
        goto out_free;
    }
    bool visible = !q->none;
    if (visible && type == FHIR_OBSERVATION &&
        (rc = obs_patient_visible(st, &sc, q->patient_id, &visible)) < 0) {
        store_failure(rc, out_body, http_status);
        goto out_free;
    }
    bundle = bundle_new();
    entries = json_array();
    struct run r = {.rq = rq, .q = q, .entries = entries, .page = q->count};
    build_queries(q, &sc, q->count + 1, qs);
    if (visible && !q->count_only && (rc = run_search(st, qs, type, &r)) < 0) {
        store_failure(rc, out_body, http_status);
        goto out_free;
    }
    rc = r.err;
    if (rc < 0 || !bundle || !entries)
        goto out_oom;

    /* Bundle.total: counted when asked (or count only), cheap to count (not Observation),
     * or known because the whole result is on this first page. */
    bool first_page = !q->cursor.set;
    int64_t total = -1;
    if (!visible) {
        total = 0;
    } else if (q->total == FHIR_TOTAL_NONE && !q->count_only) {
        total = -1;
    } else if (first_page && !r.more && !q->count_only) {
        total = (int64_t)json_array_size(entries);
    } else if (q->count_only || q->total == FHIR_TOTAL_ACCURATE || type != FHIR_OBSERVATION) {
        if ((rc = run_count(st, qs, type, &total)) < 0) {
            store_failure(rc, out_body, http_status);
            goto out_free;
        }
    }
    if (total >= 0)
        json_object_set_new(bundle, "total", json_integer(total));

    json_t *links = json_array();
    char *self = fhir__search_url(rq->base_url, type, params, n_params, q->used, NULL);
    json_array_append_new(links, json_pack("{s:s, s:s}", "relation", "self", "url", self));
    free(self);
    if (r.more) {
        char tok[FHIR_CURSOR_MAX + 1];
        fhir__cursor_encode(type, &r.last, tok);
        char *next = fhir__search_url(rq->base_url, type, params, n_params, q->used, tok);
        json_array_append_new(links, json_pack("{s:s, s:s}", "relation", "next", "url", next));
        free(next);
    }
    json_object_set_new(bundle, "link", links);
    if (q->n_ignored) {
        /* Lenient handling: say what was ignored (FHIR R4 search 3.1.1.0). */
        char *msg = hx_xasprintf("ignored unknown or unsupported parameters: %s", q->ignored);
        json_t *oo = fhir_outcome_new("warning", "not-supported", msg);
        free(msg);
        json_array_append_new(
            entries, json_pack("{s:o, s:{s:s}}", "resource", oo, "search", "mode", "outcome"));
    }
    if (json_array_size(entries))
        json_object_set(bundle, "entry", entries);
    json_decref(entries);
    *http_status = 200;
    *out_body = bundle;
    free(qs);
    free(q);
    return 0;

out_oom:
    rc = -ENOMEM;
    *http_status = 500;
    *out_body = NULL;
out_free:
    json_decref(bundle);
    json_decref(entries);
    free(qs);
    free(q);
    return rc;
}

/* ---- Read --------------------------------------------------------------------------------- */

static int not_found(enum fhir_type type, const char *id, size_t id_len, const char *hint,
                     json_t **out_body, int *http_status)
{
    char nm[72];
    size_t n = 0;
    for (size_t i = 0; i < id_len && n < 64; i++)
        nm[n++] = id[i] >= 0x20 && id[i] < 0x7f ? id[i] : '?';
    nm[n] = '\0';
    char *msg = hx_xasprintf("no %s/%s%s", fhir_type_name(type), nm, hint ? hint : "");
    *http_status = 404;
    *out_body = fhir_outcome_new("error", "not-found", msg);
    free(msg);
    return HX_ENOTFOUND;
}

int fhir_read(struct store *st, const struct fhir_request *rq, enum fhir_type type, const char *id,
              size_t id_len, json_t **out_body, int *http_status)
{
    /* A read is a search by _id (the same scope rules), answered with its only match. */
    struct fhir_param p = {"_id", 3, id, id_len};
    struct fhir_request strict = *rq;
    strict.flags &= ~(unsigned)FHIR_LENIENT;
    json_t *bundle = NULL;
    int rc = fhir_search(st, &strict, type, &p, 1, &bundle, http_status);
    if (rc < 0 && *http_status >= 500) {
        *out_body = bundle;
        return rc;
    }
    json_t *res = NULL;
    if (rc == 0)
        res = json_object_get(json_array_get(json_object_get(bundle, "entry"), 0), "resource");
    if (res && strcmp(json_string_value(json_object_get(res, "resourceType")),
                      fhir_type_name(type)) == 0) {
        json_incref(res);
        json_decref(bundle);
        *out_body = res;
        *http_status = 200;
        return 0;
    }
    json_decref(bundle);
    /* A systolic or diastolic reading inside a panel: point at the panel. */
    struct fhir_obs_key k;
    if (type == FHIR_OBSERVATION && fhir__obs_key_parse(id, id_len, &k) == 0 && !k.is_panel &&
        (k.code == OBS_CODE_BP_SYS || k.code == OBS_CODE_BP_DIA)) {
        struct obs o = {
            .patient_id = k.patient_id, .effective_us = k.effective_us, .device_id = k.device_id};
        char panel[FHIR_ID_MAX + 1];
        fhir_obs_id(&o, true, panel);
        json_t *pb = NULL;
        int prc = fhir_read(st, rq, type, panel, strlen(panel), &pb, http_status);
        json_decref(pb);
        if (prc == 0) {
            char *hint = hx_xasprintf(" as a resource of its own: it is a component of the "
                                      "blood pressure panel Observation/%s",
                                      panel);
            rc = not_found(type, id, id_len, hint, out_body, http_status);
            free(hint);
            return rc;
        }
    }
    return not_found(type, id, id_len, NULL, out_body, http_status);
}
