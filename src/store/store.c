/*
 * Storage interface dispatch: store_open picks the backend named by storage.backend and every
 * other store_* call goes through the connection's ops table (store_int.h). No SQL here.
 * Layer: store (above core and domain, below ingest/api). Thread: a struct store is used by
 * one thread at a time; this file has no shared state.
 */
#include "store/store.h"
#include "core/err.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

static const struct store_ops *backend_ops(enum cfg_backend backend)
{
    switch (backend) {
    case CFG_BACKEND_SQLITE:
        return &sqlst_ops;
    case CFG_BACKEND_POSTGRES:
        return NULL; /* multi-node: not built yet */
    }
    return NULL;
}

int store_open(struct store **out, const struct cfg_store *cfg, unsigned flags, char *err,
               size_t err_len)
{
    *out = NULL;
    if (err_len)
        err[0] = '\0';
    const struct store_ops *ops = backend_ops(cfg->backend);
    if (!ops) {
        snprintf(err, err_len, "storage backend %d is not available in this build",
                 (int)cfg->backend);
        return HX_ECONFIG;
    }
    int rc = ops->open(out, cfg, flags, err, err_len);
    if (rc == 0 && HX_UNLIKELY_BUG((*out)->ops != ops)) {
        ops->close(*out);
        *out = NULL;
        return HX_ESTORE;
    }
    return rc;
}

const char *store_engine_version(enum cfg_backend backend)
{
    const struct store_ops *ops = backend_ops(backend);
    return ops ? ops->engine_version() : "unavailable";
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

int store_schema_version(struct store *st, int *out)
{
    return st->ops->schema_version(st, out);
}

int store_integrity_check(struct store *st, bool quick, char *msg, size_t msg_len)
{
    return st->ops->integrity_check(st, quick, msg, msg_len);
}

int store_patient_add(struct store *st, struct patient *p)
{
    return st->ops->patient_add(st, p);
}

int store_patient_get(struct store *st, int64_t id, struct patient *out)
{
    return st->ops->patient_get(st, id, out);
}

int store_patient_get_by_mrn(struct store *st, const char *mrn, struct patient *out)
{
    return st->ops->patient_get_by_mrn(st, mrn, out);
}

int store_patient_list(struct store *st, const char *ward, store_patient_fn *fn, void *arg)
{
    return st->ops->patient_list(st, ward, fn, arg);
}

int store_device_add(struct store *st, struct device *d)
{
    return st->ops->device_add(st, d);
}

int store_device_get(struct store *st, const char *uid, struct device *out)
{
    return st->ops->device_get(st, uid, out);
}

int store_device_get_by_id(struct store *st, int64_t id, struct device *out)
{
    return st->ops->device_get_by_id(st, id, out);
}

int store_device_list(struct store *st, store_device_fn *fn, void *arg)
{
    return st->ops->device_list(st, fn, arg);
}

int store_device_set_status(struct store *st, int64_t device_id, enum dev_status status)
{
    return st->ops->device_set_status(st, device_id, status);
}

int store_device_update_presence(struct store *st, int64_t device_id, const struct dev_presence *p)
{
    return st->ops->device_update_presence(st, device_id, p);
}

int store_device_assign(struct store *st, int64_t device_id, int64_t patient_id, int64_t at_us)
{
    return st->ops->device_assign(st, device_id, patient_id, at_us);
}

int store_device_unassign(struct store *st, int64_t device_id, int64_t at_us)
{
    return st->ops->device_unassign(st, device_id, at_us);
}

int store_device_patient_at(struct store *st, int64_t device_id, int64_t t_us, int64_t *patient_id)
{
    return st->ops->device_patient_at(st, device_id, t_us, patient_id);
}

int store_assignment_list(struct store *st, int64_t device_id, store_assignment_fn *fn, void *arg)
{
    return st->ops->assignment_list(st, device_id, fn, arg);
}

int store_obs_put_batch(struct store *st, const struct obs *obs, size_t n, size_t *n_inserted)
{
    if (n_inserted)
        *n_inserted = 0;
    if (n == 0)
        return 0;
    return st->ops->obs_put_batch(st, obs, n, n_inserted);
}

int store_obs_latest(struct store *st, int64_t patient_id, store_obs_fn *fn, void *arg)
{
    return st->ops->obs_latest(st, patient_id, fn, arg);
}

int store_obs_range(struct store *st, int64_t patient_id, int code, int64_t since_us,
                    int64_t until_us, size_t limit, store_obs_fn *fn, void *arg)
{
    return st->ops->obs_range(st, patient_id, code, since_us, until_us, limit, fn, arg);
}

int store_obs_downsample(struct store *st, int64_t patient_id, int code, int64_t since_us,
                         int64_t until_us, size_t n_buckets, struct obs_bucket *out)
{
    if (n_buckets == 0 || n_buckets > 10000 || until_us <= since_us)
        return HX_EINVAL;
    return st->ops->obs_downsample(st, patient_id, code, since_us, until_us, n_buckets, out);
}

int store_obs_count(struct store *st, int64_t *out)
{
    return st->ops->obs_count(st, out);
}

int store_command_add(struct store *st, struct dev_command *c)
{
    if (c->qos > 2 || c->payload_len > STORE_CMD_PAYLOAD_MAX || (c->payload_len && !c->payload))
        return HX_EINVAL;
    return st->ops->command_add(st, c);
}

int store_command_get(struct store *st, int64_t id, store_command_fn *fn, void *arg)
{
    return st->ops->command_get(st, id, fn, arg);
}

int store_command_poll(struct store *st, int64_t after_id, int64_t now_us, store_command_fn *fn,
                       void *arg)
{
    return st->ops->command_poll(st, after_id, now_us, fn, arg);
}

int store_command_set_state(struct store *st, int64_t id, enum store_cmd_state state,
                            int64_t now_us)
{
    return st->ops->command_set_state(st, id, state, now_us);
}

int store_command_list(struct store *st, int64_t device_id, size_t limit, store_command_fn *fn,
                       void *arg)
{
    return st->ops->command_list(st, device_id, limit, fn, arg);
}

int store_event_put_batch(struct store *st, const struct dev_event *ev, size_t n,
                          size_t *n_inserted)
{
    if (n_inserted)
        *n_inserted = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!dev_event_type_is_valid((int)ev[i].type))
            return HX_EINVAL; /* would persist a number no reader can name */
    }
    return st->ops->event_put_batch(st, ev, n, n_inserted);
}

int store_event_list(struct store *st, int64_t device_id, int64_t patient_id, int64_t since_us,
                     int64_t until_us, size_t limit, store_event_fn *fn, void *arg)
{
    if (until_us <= since_us)
        return 0;
    return st->ops->event_list(st, device_id, patient_id, since_us, until_us, limit, fn, arg);
}

int store_alert_save_batch(struct store *st, const struct alert *a,
                           const struct alert_transition *tr, size_t n)
{
    return st->ops->alert_save_batch(st, a, tr, n);
}

int store_alert_get(struct store *st, int64_t id, struct alert *out)
{
    return st->ops->alert_get(st, id, out);
}

int store_alert_list(struct store *st, const struct store_alert_filter *f, store_alert_fn *fn,
                     void *arg)
{
    return st->ops->alert_list(st, f, fn, arg);
}

int store_alert_transitions(struct store *st, int64_t alert_id, store_transition_fn *fn, void *arg)
{
    return st->ops->alert_transitions(st, alert_id, fn, arg);
}

int store_alert_max_id(struct store *st, int64_t *out)
{
    return st->ops->alert_max_id(st, out);
}

int store_alert_action_add(struct store *st, struct alert_action *a)
{
    return st->ops->alert_action_add(st, a);
}

int store_alert_action_get(struct store *st, int64_t id, struct alert_action *out)
{
    return st->ops->alert_action_get(st, id, out);
}

int store_alert_action_poll(struct store *st, int64_t after_id, store_action_fn *fn, void *arg)
{
    return st->ops->alert_action_poll(st, after_id, fn, arg);
}

int store_alert_action_done(struct store *st, int64_t id, int result, int64_t now_us)
{
    return st->ops->alert_action_done(st, id, result, now_us);
}

int store_rule_setting_set(struct store *st, const struct rule_setting *s)
{
    return st->ops->rule_setting_set(st, s);
}

int store_rule_setting_list(struct store *st, store_setting_fn *fn, void *arg)
{
    return st->ops->rule_setting_list(st, fn, arg);
}

int store_rule_settings_version(struct store *st, int64_t *newest_us, int64_t *count)
{
    return st->ops->rule_settings_version(st, newest_us, count);
}

int store_set_sync(struct store *st, bool full)
{
    return st->ops->set_sync(st, full);
}

int store_checkpoint(struct store *st, bool truncate, int *log_pages, int *done_pages)
{
    int a = 0, b = 0;
    int rc = st->ops->checkpoint(st, truncate, &a, &b);
    if (log_pages)
        *log_pages = a;
    if (done_pages)
        *done_pages = b;
    return rc;
}

int store_begin(struct store *st)
{
    return st->ops->begin(st);
}

int store_commit(struct store *st)
{
    return st->ops->commit(st);
}

void store_rollback(struct store *st)
{
    st->ops->rollback(st);
}

bool store_in_transaction(struct store *st)
{
    return st->ops->in_transaction(st);
}

static bool text_fits(const char *s, size_t cap)
{
    return s && *s && strnlen(s, cap) < cap;
}

int store_webhook_add(struct store *st, struct store_webhook *w)
{
    if (!text_fits(w->name, sizeof(w->name)) || !text_fits(w->url, sizeof(w->url)) ||
        !text_fits(w->secret, sizeof(w->secret)) || w->min_severity < 1 || w->min_severity > 5)
        return HX_EINVAL;
    return st->ops->webhook_add(st, w);
}

int store_webhook_get(struct store *st, const char *name, struct store_webhook *out)
{
    return st->ops->webhook_get(st, name, out);
}

int store_webhook_list(struct store *st, store_webhook_fn *fn, void *arg)
{
    return st->ops->webhook_list(st, fn, arg);
}

int store_webhook_remove(struct store *st, const char *name, int64_t now_us, size_t *n_dead)
{
    if (n_dead)
        *n_dead = 0;
    return st->ops->webhook_remove(st, name, now_us, n_dead);
}

int store_delivery_add(struct store *st, const struct store_delivery_new *n, size_t *n_added,
                       int64_t *last_id)
{
    if (n_added)
        *n_added = 0;
    if (last_id)
        *last_id = 0;
    if (!text_fits(n->event, STORE_DELIVERY_EVENT_MAX) || !n->payload || n->payload_len == 0 ||
        n->payload_len > STORE_DELIVERY_PAYLOAD_MAX || n->webhook_id < 0)
        return HX_EINVAL;
    return st->ops->delivery_add(st, n, n_added, last_id);
}

int store_delivery_claim(struct store *st, int64_t now_us, int64_t lease_until_us, size_t limit,
                         store_delivery_fn *fn, void *arg)
{
    return st->ops->delivery_claim(st, now_us, lease_until_us, limit, fn, arg);
}

int store_delivery_set_result(struct store *st, int64_t id, uint32_t attempt,
                              enum store_delivery_state state, int64_t next_attempt_us,
                              const char *error, int64_t now_us)
{
    if (state != STORE_DELIVERY_PENDING && state != STORE_DELIVERY_DELIVERED &&
        state != STORE_DELIVERY_DEAD)
        return HX_EINVAL;
    return st->ops->delivery_set_result(st, id, attempt, state, next_attempt_us, error, now_us);
}

int store_delivery_get(struct store *st, int64_t id, store_delivery_fn *fn, void *arg)
{
    return st->ops->delivery_get(st, id, fn, arg);
}

int store_delivery_list(struct store *st, int state, size_t limit, store_delivery_fn *fn, void *arg)
{
    return st->ops->delivery_list(st, state, limit, fn, arg);
}

int store_delivery_retry(struct store *st, int64_t id, int64_t now_us, int64_t expires_us)
{
    return st->ops->delivery_retry(st, id, now_us, expires_us);
}

int store_delivery_count(struct store *st, enum store_delivery_state state, int64_t *out)
{
    return st->ops->delivery_count(st, state, out);
}

/* ---- Searches for the FHIR API ------------------------------------------------------------- */

void store_time_range_all(struct store_time_range *r)
{
    memset(r, 0, sizeof(*r));
    r->lo_us = INT64_MIN;
    r->hi_us = INT64_MAX;
}

bool store_scope_has_patient(const struct store_scope *scope, const struct patient *p)
{
    switch (scope->kind) {
    case STORE_SCOPE_ALL:
        return true;
    case STORE_SCOPE_WARDS:
        for (size_t i = 0; i < scope->n_wards; i++)
            if (p->ward[0] && strcmp(scope->wards[i], p->ward) == 0)
                return true;
        return false;
    case STORE_SCOPE_PATIENT:
        return scope->patient_id == p->id;
    }
    return false;
}

/* The limits every backend relies on, checked once here. */
static bool is_scope_ok(const struct store_scope *s)
{
    return s && (unsigned)s->kind <= STORE_SCOPE_PATIENT && s->n_wards <= STORE_SCOPE_WARDS_MAX &&
           (s->n_wards == 0 || s->wards);
}

static bool is_range_ok(const struct store_time_range *r)
{
    return r->n_exclude <= STORE_RANGE_EXCLUDE_MAX;
}

static bool is_patient_query_ok(const struct store_patient_query *q)
{
    return is_scope_ok(q->scope) && q->n_ids <= STORE_QUERY_VALUES_MAX &&
           q->n_mrns <= STORE_QUERY_VALUES_MAX && (!q->has_birth || is_range_ok(&q->birth));
}

static bool is_device_query_ok(const struct store_device_query *q)
{
    return is_scope_ok(q->scope) && q->n_ids <= STORE_QUERY_VALUES_MAX &&
           q->n_uids <= STORE_QUERY_VALUES_MAX;
}

static bool is_obs_query_ok(const struct store_obs_query *q)
{
    return q->patient_id > 0 && is_range_ok(&q->effective) &&
           (!q->has_received || is_range_ok(&q->received));
}

static bool is_alert_query_ok(const struct store_alert_query *q)
{
    return is_scope_ok(q->scope) && q->n_ids <= STORE_QUERY_VALUES_MAX;
}

int store_patient_search(struct store *st, const struct store_patient_query *q,
                         store_patient_fn *fn, void *arg)
{
    if (!is_patient_query_ok(q))
        return HX_EINVAL;
    return st->ops->patient_search(st, q, fn, arg);
}

int store_patient_overview(struct store *st, const struct store_overview_query *q,
                           store_overview_fn *fn, void *arg)
{
    if (q->n_wards > STORE_SCOPE_WARDS_MAX || (q->n_wards && !q->wards))
        return HX_EINVAL;
    return st->ops->patient_overview(st, q, fn, arg);
}

int store_patient_count(struct store *st, const struct store_patient_query *q, int64_t *out)
{
    *out = 0;
    if (!is_patient_query_ok(q))
        return HX_EINVAL;
    return st->ops->patient_count(st, q, out);
}

int store_device_search(struct store *st, const struct store_device_query *q,
                        store_device_row_fn *fn, void *arg)
{
    if (!is_device_query_ok(q))
        return HX_EINVAL;
    return st->ops->device_search(st, q, fn, arg);
}

int store_device_count(struct store *st, const struct store_device_query *q, int64_t *out)
{
    *out = 0;
    if (!is_device_query_ok(q))
        return HX_EINVAL;
    return st->ops->device_count(st, q, out);
}

int store_obs_search(struct store *st, const struct store_obs_query *q, store_obs_row_fn *fn,
                     void *arg)
{
    if (!is_obs_query_ok(q))
        return HX_EINVAL;
    return st->ops->obs_search(st, q, fn, arg);
}

int store_obs_search_count(struct store *st, const struct store_obs_query *q, int64_t *out)
{
    *out = 0;
    if (!is_obs_query_ok(q))
        return HX_EINVAL;
    return st->ops->obs_search_count(st, q, out);
}

int store_alert_search(struct store *st, const struct store_alert_query *q, store_alert_fn *fn,
                       void *arg)
{
    if (!is_alert_query_ok(q))
        return HX_EINVAL;
    return st->ops->alert_search(st, q, fn, arg);
}

int store_alert_count(struct store *st, const struct store_alert_query *q, int64_t *out)
{
    *out = 0;
    if (!is_alert_query_ok(q))
        return HX_EINVAL;
    return st->ops->alert_count(st, q, out);
}

int store_audit_append(struct store *st, const struct store_audit_row *r)
{
    const char *const text[] = {r->actor_kind, r->actor,  r->action,  r->outcome,   r->object_type,
                                r->object_id,  r->source, r->details, r->prev_hash, r->hash};
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        if (!text[i])
            return HX_EINVAL;
    if (r->seq <= 0)
        return HX_EINVAL;
    return st->ops->audit_append(st, r);
}

int store_audit_head(struct store *st, struct store_audit_head *out)
{
    memset(out, 0, sizeof(*out));
    return st->ops->audit_head(st, out);
}

int store_audit_last(struct store *st, const char *action, struct store_audit_head *out)
{
    memset(out, 0, sizeof(*out));
    return st->ops->audit_last(st, action, out);
}

int store_audit_scan(struct store *st, const struct store_audit_filter *f, store_audit_fn *fn,
                     void *arg)
{
    return st->ops->audit_scan(st, f, fn, arg);
}
