/*
 * Private to src/store/: the backend ops table behind store.h. store.c dispatches every public
 * store_* call through st->ops; each backend (store/sqlite/, later store/postgres/) fills one
 * struct store_ops and allocates its own connection object whose first member is a
 * struct store. Nothing here includes a database header.
 * Thread: as store.h (a struct store is used by one thread at a time).
 */
#ifndef MEDHUB_STORE_STORE_INT_H
#define MEDHUB_STORE_STORE_INT_H

#include "store/store.h"
#include "store/store_auth.h"

/* The users, sessions and tokens half of a backend (store_auth.h); each member mirrors the
 * store_auth.h function of the same name (minus the store_ prefix) with the same contract. */
struct store_auth_ops {
    int (*user_add)(struct store *st, struct store_user *u);
    int (*user_get)(struct store *st, const char *name, struct store_user *out);
    int (*user_get_by_id)(struct store *st, int64_t id, struct store_user *out);
    int (*user_list)(struct store *st, store_user_fn *fn, void *arg);
    int (*user_update)(struct store *st, const struct store_user *u, unsigned fields,
                       int64_t now_us);
    int (*user_use_mfa_step)(struct store *st, int64_t user_id, int64_t step);
    int (*user_count_role)(struct store *st, const char *role, bool with_disabled, int64_t *n);
    int (*user_ward_add)(struct store *st, int64_t user_id, const char *ward);
    int (*user_ward_remove)(struct store *st, int64_t user_id, const char *ward);
    int (*user_ward_list)(struct store *st, int64_t user_id, store_ward_fn *fn, void *arg);
    int (*user_patient_add)(struct store *st, int64_t user_id, int64_t patient_id);
    int (*user_patient_remove)(struct store *st, int64_t user_id, int64_t patient_id);
    int (*user_patient_list)(struct store *st, int64_t user_id, store_id_fn *fn, void *arg);
    int (*user_has_patient)(struct store *st, int64_t user_id, int64_t patient_id, bool *out);
    int (*recovery_set)(struct store *st, int64_t user_id, const char (*hashes)[STORE_HASH_MAX],
                        size_t n);
    int (*recovery_use)(struct store *st, int64_t user_id, const char *hash, int64_t now_us);
    int (*recovery_count)(struct store *st, int64_t user_id, int64_t *n_unused);
    int (*session_add)(struct store *st, struct store_session *s);
    int (*session_get)(struct store *st, const char *token_hash, struct store_session *out);
    int (*session_touch)(struct store *st, int64_t id, int64_t now_us);
    int (*session_delete)(struct store *st, int64_t id, int64_t user_id);
    int (*session_delete_user)(struct store *st, int64_t user_id, int64_t keep_id, size_t *n);
    int (*session_list)(struct store *st, int64_t user_id, store_session_fn *fn, void *arg);
    int (*session_purge)(struct store *st, int64_t now_us, int64_t idle_cutoff_us, size_t *n);
    int (*ticket_add)(struct store *st, const struct store_ticket *t);
    int (*ticket_get)(struct store *st, const char *token_hash, struct store_ticket *out);
    int (*ticket_attempt)(struct store *st, const char *token_hash, int *attempts);
    int (*ticket_delete)(struct store *st, const char *token_hash);
    int (*apitoken_add)(struct store *st, struct store_apitoken *t);
    int (*apitoken_get)(struct store *st, const char *name, struct store_apitoken *out);
    int (*apitoken_get_by_hash)(struct store *st, const char *token_hash,
                                struct store_apitoken *out);
    int (*apitoken_list)(struct store *st, store_apitoken_fn *fn, void *arg);
    int (*apitoken_revoke)(struct store *st, const char *name, int64_t now_us);
    int (*apitoken_touch)(struct store *st, int64_t id, int64_t now_us);
    int (*throttle_get)(struct store *st, const char *key, struct store_throttle *out);
    int (*throttle_put)(struct store *st, const char *key, const struct store_throttle *t);
    int (*throttle_delete)(struct store *st, const char *key);
    int (*break_glass_add)(struct store *st, struct store_break_glass *g);
    int (*break_glass_active)(struct store *st, int64_t user_id, int64_t patient_id, int64_t now_us,
                              struct store_break_glass *out);
    int (*break_glass_list)(struct store *st, int64_t user_id, size_t limit,
                            store_break_glass_fn *fn, void *arg);
};

/* One backend. Each member mirrors the store.h function of the same name (minus the store_
 * prefix) with the same contract; every pointer is non-NULL. */
struct store_ops {
    const char *name; /* "sqlite", "postgres": for logs and errors */
    /* Engine version, a static string. */
    const char *(*engine_version)(void);
    /* Opens a connection. OUT: *out returns owned (freed by close); detail in err. */
    int (*open)(struct store **out, const struct cfg_store *cfg, unsigned flags, char *err,
                size_t err_len);
    /* Finalizes statements and closes; st is freed. */
    void (*close)(struct store *st);
    int (*schema_version)(struct store *st, int *out);
    int (*checkpoint)(struct store *st, bool truncate, int *log_pages, int *done_pages);
    int (*set_sync)(struct store *st, bool full);
    int (*begin)(struct store *st);
    int (*commit)(struct store *st);
    void (*rollback)(struct store *st);
    bool (*in_transaction)(struct store *st);
    int (*integrity_check)(struct store *st, bool quick, char *msg, size_t msg_len);

    int (*patient_add)(struct store *st, struct patient *p);
    int (*patient_get)(struct store *st, int64_t id, struct patient *out);
    int (*patient_get_by_mrn)(struct store *st, const char *mrn, struct patient *out);
    int (*patient_list)(struct store *st, const char *ward, store_patient_fn *fn, void *arg);

    int (*device_add)(struct store *st, struct device *d);
    int (*device_get)(struct store *st, const char *uid, struct device *out);
    int (*device_get_by_id)(struct store *st, int64_t id, struct device *out);
    int (*device_list)(struct store *st, store_device_fn *fn, void *arg);
    int (*device_set_status)(struct store *st, int64_t device_id, enum dev_status status);
    int (*device_update_presence)(struct store *st, int64_t device_id,
                                  const struct dev_presence *p);

    int (*device_assign)(struct store *st, int64_t device_id, int64_t patient_id, int64_t at_us);
    int (*device_unassign)(struct store *st, int64_t device_id, int64_t at_us);
    int (*device_patient_at)(struct store *st, int64_t device_id, int64_t t_us,
                             int64_t *patient_id);
    int (*assignment_list)(struct store *st, int64_t device_id, store_assignment_fn *fn, void *arg);

    int (*obs_put_batch)(struct store *st, const struct obs *obs, size_t n, size_t *n_inserted);
    int (*obs_latest)(struct store *st, int64_t patient_id, store_obs_fn *fn, void *arg);
    int (*obs_range)(struct store *st, int64_t patient_id, int code, int64_t since_us,
                     int64_t until_us, size_t limit, store_obs_fn *fn, void *arg);
    int (*obs_downsample)(struct store *st, int64_t patient_id, int code, int64_t since_us,
                          int64_t until_us, size_t n_buckets, struct obs_bucket *out);
    int (*obs_count)(struct store *st, int64_t *out);

    int (*command_add)(struct store *st, struct dev_command *c);
    int (*command_get)(struct store *st, int64_t id, store_command_fn *fn, void *arg);
    int (*command_poll)(struct store *st, int64_t after_id, int64_t now_us, store_command_fn *fn,
                        void *arg);
    int (*command_set_state)(struct store *st, int64_t id, enum store_cmd_state state,
                             int64_t now_us);
    int (*command_list)(struct store *st, int64_t device_id, size_t limit, store_command_fn *fn,
                        void *arg);
    int (*event_put_batch)(struct store *st, const struct dev_event *ev, size_t n,
                           size_t *n_inserted);
    int (*event_list)(struct store *st, int64_t device_id, int64_t patient_id, int64_t since_us,
                      int64_t until_us, size_t limit, store_event_fn *fn, void *arg);

    int (*alert_save_batch)(struct store *st, const struct alert *a,
                            const struct alert_transition *tr, size_t n);
    int (*alert_get)(struct store *st, int64_t id, struct alert *out);
    int (*alert_list)(struct store *st, const struct store_alert_filter *f, store_alert_fn *fn,
                      void *arg);
    int (*alert_transitions)(struct store *st, int64_t alert_id, store_transition_fn *fn,
                             void *arg);
    int (*alert_max_id)(struct store *st, int64_t *out);
    int (*alert_action_add)(struct store *st, struct alert_action *a);
    int (*alert_action_get)(struct store *st, int64_t id, struct alert_action *out);
    int (*alert_action_poll)(struct store *st, int64_t after_id, store_action_fn *fn, void *arg);
    int (*alert_action_done)(struct store *st, int64_t id, int result, int64_t now_us);
    int (*rule_setting_set)(struct store *st, const struct rule_setting *s);
    int (*rule_setting_list)(struct store *st, store_setting_fn *fn, void *arg);
    int (*rule_settings_version)(struct store *st, int64_t *newest_us, int64_t *count);

    int (*webhook_add)(struct store *st, struct store_webhook *w);
    int (*webhook_get)(struct store *st, const char *name, struct store_webhook *out);
    int (*webhook_list)(struct store *st, store_webhook_fn *fn, void *arg);
    int (*webhook_remove)(struct store *st, const char *name, int64_t now_us, size_t *n_dead);
    int (*delivery_add)(struct store *st, const struct store_delivery_new *n, size_t *n_added,
                        int64_t *last_id);
    int (*delivery_claim)(struct store *st, int64_t now_us, int64_t lease_until_us, size_t limit,
                          store_delivery_fn *fn, void *arg);
    int (*delivery_set_result)(struct store *st, int64_t id, uint32_t attempt,
                               enum store_delivery_state state, int64_t next_attempt_us,
                               const char *error, int64_t now_us);
    int (*delivery_get)(struct store *st, int64_t id, store_delivery_fn *fn, void *arg);
    int (*delivery_list)(struct store *st, int state, size_t limit, store_delivery_fn *fn,
                         void *arg);
    int (*delivery_retry)(struct store *st, int64_t id, int64_t now_us, int64_t expires_us);
    int (*delivery_count)(struct store *st, enum store_delivery_state state, int64_t *out);

    int (*patient_search)(struct store *st, const struct store_patient_query *q,
                          store_patient_fn *fn, void *arg);
    int (*patient_count)(struct store *st, const struct store_patient_query *q, int64_t *out);
    int (*device_search)(struct store *st, const struct store_device_query *q,
                         store_device_row_fn *fn, void *arg);
    int (*device_count)(struct store *st, const struct store_device_query *q, int64_t *out);
    int (*obs_search)(struct store *st, const struct store_obs_query *q, store_obs_row_fn *fn,
                      void *arg);
    int (*obs_search_count)(struct store *st, const struct store_obs_query *q, int64_t *out);
    int (*alert_search)(struct store *st, const struct store_alert_query *q, store_alert_fn *fn,
                        void *arg);
    int (*alert_count)(struct store *st, const struct store_alert_query *q, int64_t *out);
    int (*patient_overview)(struct store *st, const struct store_overview_query *q,
                            store_overview_fn *fn, void *arg);
    int (*audit_append)(struct store *st, const struct store_audit_row *r);
    int (*audit_head)(struct store *st, struct store_audit_head *out);
    int (*audit_last)(struct store *st, const char *action, struct store_audit_head *out);
    int (*audit_scan)(struct store *st, const struct store_audit_filter *f, store_audit_fn *fn,
                      void *arg);
    const struct store_auth_ops *auth; /* users, sessions, tokens (store_auth.h) */
};

/* The backend-independent head of every connection object. */
struct store {
    const struct store_ops *ops; /* the backend that opened it */
};

/* Backends (each defined in its own directory). */
extern const struct store_ops sqlst_ops;

#endif
