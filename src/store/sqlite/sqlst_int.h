/*
 * Private to src/store/sqlite/: the SQLite connection object, its prepared-statement table
 * and the helpers the sqlst_*.c files share. The only header in medhub that includes
 * sqlite3.h besides the sqlite .c files themselves.
 * Thread: a struct sqlst is used by one thread at a time (opened SQLITE_OPEN_NOMUTEX).
 */
#ifndef MEDHUB_STORE_SQLITE_SQLST_INT_H
#define MEDHUB_STORE_SQLITE_SQLST_INT_H

#include "core/cfg.h"
#include "store/store_int.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Every statement the backend runs, prepared once at open (SQLITE_PREPARE_PERSISTENT) and
 * reused with sqlite3_reset. The SQL text lives next to the code that uses it. */
enum sqlst_stmt_id {
    SQLST_BEGIN,
    SQLST_COMMIT,
    SQLST_ROLLBACK,
    SQLST_SAVEPOINT,
    SQLST_RELEASE,
    SQLST_ROLLBACK_TO,
    SQLST_USER_VERSION,
    SQLST_PATIENT_ADD,
    SQLST_PATIENT_GET,
    SQLST_PATIENT_GET_BY_MRN,
    SQLST_PATIENT_LIST_ALL,
    SQLST_PATIENT_LIST_WARD,
    SQLST_DEVICE_ADD,
    SQLST_DEVICE_GET,
    SQLST_DEVICE_GET_BY_ID,
    SQLST_DEVICE_LIST,
    SQLST_DEVICE_SET_STATUS,
    SQLST_DEVICE_UPDATE_PRESENCE,
    SQLST_ASSIGN_CLOSE,
    SQLST_ASSIGN_OPEN,
    SQLST_ASSIGN_PATIENT_AT,
    SQLST_ASSIGN_LIST,
    SQLST_OBS_INSERT,
    SQLST_OBS_LATEST_UPSERT,
    SQLST_OBS_LATEST,
    SQLST_OBS_RANGE_CODE,
    SQLST_OBS_RANGE_ALL,
    SQLST_OBS_DOWNSAMPLE,
    SQLST_OBS_COUNT,
    SQLST_CMD_ADD,
    SQLST_CMD_GET,
    SQLST_CMD_POLL,
    SQLST_CMD_SET_STATE,
    SQLST_CMD_LIST,
    SQLST_EVENT_INSERT,
    SQLST_EVENT_LIST_ALL,
    SQLST_EVENT_LIST_DEVICE,
    SQLST_EVENT_LIST_PATIENT,
    SQLST_ALERT_UPSERT,
    SQLST_ALERT_TRANSITION,
    SQLST_ALERT_GET,
    SQLST_ALERT_LIST,
    SQLST_ALERT_TRANSITIONS,
    SQLST_ALERT_MAX_ID,
    SQLST_ACTION_ADD,
    SQLST_ACTION_GET,
    SQLST_ACTION_POLL,
    SQLST_ACTION_DONE,
    SQLST_SETTING_UPSERT,
    SQLST_SETTING_DELETE,
    SQLST_SETTING_LIST,
    SQLST_SETTING_VERSION,
    SQLST_WH_ADD,
    SQLST_WH_GET,
    SQLST_WH_LIST,
    SQLST_WH_DELETE,
    SQLST_DLV_KILL_WEBHOOK,
    SQLST_DLV_ADD_MATCHING,
    SQLST_DLV_ADD_ONE,
    SQLST_DLV_DUE_ANY,
    SQLST_DLV_DUE,
    SQLST_DLV_CLAIM,
    SQLST_DLV_KILL,
    SQLST_DLV_RESULT,
    SQLST_DLV_GET,
    SQLST_DLV_LIST_ALL,
    SQLST_DLV_LIST_STATE,
    SQLST_DLV_RETRY,
    SQLST_DLV_COUNT,
    SQLST_AUDIT_INSERT,
    SQLST_AUDIT_HEAD,
    SQLST_AUDIT_LAST_ACTION,
    SQLST_AUDIT_SCAN_ASC,
    SQLST_AUDIT_SCAN_DESC,
    SQLST_AUDIT_SCAN_PATIENT_ASC,
    SQLST_AUDIT_SCAN_PATIENT_DESC,
    /* users, sessions, tokens (sqlst_user.c, sqlst_session.c) */
    SQLST_USER_ADD,
    SQLST_USER_GET,
    SQLST_USER_GET_BY_ID,
    SQLST_USER_LIST,
    SQLST_USER_UPDATE,
    SQLST_USER_USE_STEP,
    SQLST_USER_EXISTS,
    SQLST_USER_COUNT_ROLE,
    SQLST_WARD_ADD,
    SQLST_WARD_REMOVE,
    SQLST_WARD_LIST,
    SQLST_CASELOAD_ADD,
    SQLST_CASELOAD_REMOVE,
    SQLST_CASELOAD_LIST,
    SQLST_CASELOAD_HAS,
    SQLST_RECOVERY_CLEAR,
    SQLST_RECOVERY_ADD,
    SQLST_RECOVERY_USE,
    SQLST_RECOVERY_COUNT,
    SQLST_BG_ADD,
    SQLST_BG_ACTIVE,
    SQLST_BG_LIST_ALL,
    SQLST_BG_LIST_USER,
    SQLST_SESSION_ADD,
    SQLST_SESSION_GET,
    SQLST_SESSION_TOUCH,
    SQLST_SESSION_DELETE,
    SQLST_SESSION_DELETE_USER,
    SQLST_SESSION_LIST,
    SQLST_SESSION_PURGE,
    SQLST_TICKET_PURGE,
    SQLST_TICKET_ADD,
    SQLST_TICKET_GET,
    SQLST_TICKET_ATTEMPT,
    SQLST_TICKET_DELETE,
    SQLST_TOKEN_ADD,
    SQLST_TOKEN_GET,
    SQLST_TOKEN_GET_BY_HASH,
    SQLST_TOKEN_LIST,
    SQLST_TOKEN_REVOKE,
    SQLST_TOKEN_TOUCH,
    SQLST_THROTTLE_GET,
    SQLST_THROTTLE_PUT,
    SQLST_THROTTLE_DELETE,
    SQLST__COUNT
};

/* One statement's SQL: each concern file exports a table of these. */
struct sqlst_sql {
    enum sqlst_stmt_id id; /* slot in struct sqlst.stmt */
    const char *text;      /* constant SQL with ?N parameters, never values */
};

/* One slot of the per-batch "newest reading per (patient, code)" hash table. */
struct sqlst_latest_slot {
    int64_t patient_id; /* key */
    uint32_t code;      /* key */
    uint32_t gen;       /* slot is in use when equal to sqlst.latest_gen */
    uint32_t idx;       /* index in the batch of the newest reading so far */
};

/* obs_put_batch scratch: a reading's primary key and its index in the batch. */
struct sqlst_sort_key {
    int64_t patient_id;   /* key, in primary key order */
    int64_t effective_us; /* ... */
    int64_t device_id;    /* ... (compared after code) */
    uint32_t code;        /* ... */
    uint32_t idx;         /* position in the batch: ties keep batch order */
};

/* Statements of the FHIR searches kept prepared (sqlst_fhir.c): their text depends on which
 * filters a search has, so they are cached by text, least recently used out. */
#define SQLST_DYN_MAX 16

struct sqlst_dyn {
    char *sql;          /* the statement text (owned), NULL when the slot is free */
    sqlite3_stmt *stmt; /* prepared with SQLITE_PREPARE_PERSISTENT */
    uint64_t last_use;  /* sqlst.dyn_clock at the last use */
};

/* One connection. */
struct sqlst {
    struct store base;                    /* must be first: store.c sees only this */
    sqlite3 *db;                          /* the connection */
    unsigned flags;                       /* enum store_open_flags it was opened with */
    unsigned nest;                        /* savepoints open by sqlst__begin inside a
                                           * caller's transaction (see sqlst__begin) */
    bool counted;                         /* included in the process-wide open count */
    char path[CFG_PATH_MAX];              /* database file, for messages */
    sqlite3_stmt *stmt[SQLST__COUNT];     /* prepared at open, finalized at close */
    struct sqlst_latest_slot *latest_tab; /* obs_put_batch scratch, grown, never shrunk */
    uint32_t *latest_used;                /* slots used in this batch, latest_cap entries */
    uint32_t latest_cap;                  /* power of two, 0 before the first batch */
    uint32_t latest_gen;                  /* bumped per batch instead of clearing */
    struct sqlst_sort_key *sort;          /* obs_put_batch scratch, grown, never shrunk */
    size_t sort_cap;                      /* entries in sort */
    struct sqlst_dyn dyn[SQLST_DYN_MAX];  /* the FHIR searches' statement cache */
    uint64_t dyn_clock;                   /* bumped per cache lookup */
};

/* SQL tables of each concern file (sqlst_open.c prepares them all). */
extern const struct sqlst_sql sqlst__sql_open[];
extern const size_t sqlst__n_sql_open;
extern const struct sqlst_sql sqlst__sql_patient[];
extern const size_t sqlst__n_sql_patient;
extern const struct sqlst_sql sqlst__sql_device[];
extern const size_t sqlst__n_sql_device;
extern const struct sqlst_sql sqlst__sql_obs[];
extern const size_t sqlst__n_sql_obs;
extern const struct sqlst_sql sqlst__sql_alert[];
extern const size_t sqlst__n_sql_alert;
extern const struct sqlst_sql sqlst__sql_command[];
extern const size_t sqlst__n_sql_command;
extern const struct sqlst_sql sqlst__sql_event[];
extern const size_t sqlst__n_sql_event;
extern const struct sqlst_sql sqlst__sql_webhook[];
extern const size_t sqlst__n_sql_webhook;
extern const struct sqlst_sql sqlst__sql_audit[];
extern const size_t sqlst__n_sql_audit;
extern const struct sqlst_sql sqlst__sql_user[];
extern const size_t sqlst__n_sql_user;
extern const struct sqlst_sql sqlst__sql_session[];
extern const size_t sqlst__n_sql_session;
extern const struct store_auth_ops sqlst__auth_ops;

static inline struct sqlst *sqlst__from(struct store *st)
{
    return (struct sqlst *)st;
}

/* THE mapping of SQLite result codes (extended codes, plus the OS errno SQLite saw) to
 * medhub error codes; every sqlst function returns through it. rc SQLITE_OK/ROW/DONE map
 * to 0. Logs unexpected engine failures (no values: SQLite messages name columns only). */
int sqlst__err(struct sqlst *db, int rc);

/* The transaction of one store call that writes several rows (the *_batch calls, assign,
 * webhook removal, ...), on prepared statements: BEGIN IMMEDIATE / COMMIT / ROLLBACK, or,
 * when the caller already opened a transaction (store_begin), SAVEPOINT / RELEASE /
 * ROLLBACK TO: the call then joins the caller's transaction, still all or nothing, and is
 * committed by the caller's store_commit. Calls pair LIFO (db->nest counts the savepoints). */
int sqlst__begin(struct sqlst *db);
int sqlst__commit(struct sqlst *db);
void sqlst__rollback(struct sqlst *db);

/* Steps s once expecting SQLITE_DONE, then resets it. Returns 0 or a mapped error. */
int sqlst__exec(struct sqlst *db, sqlite3_stmt *s);
/* Steps a bound query, calling row(s, arg) for each result row (row reads the columns and
 * usually calls the caller's callback); a non-zero return stops and is returned. Then the
 * step's error, if any, and the statement is reset. */
int sqlst__each(struct sqlst *db, sqlite3_stmt *s, int (*row)(sqlite3_stmt *s, void *arg),
                void *arg);

/* Binds a fixed-size text field (at most cap bytes, stops at the first NUL). */
int sqlst__bind_text(sqlite3_stmt *s, int idx, const char *text, size_t cap);

/* Copies column col of the current row into buf (cap bytes, always NUL-terminated). */
void sqlst__col_text(sqlite3_stmt *s, int col, char *buf, size_t cap);

/* Column lists shared by the fixed statements and the FHIR searches (sqlst_fhir.c), in the
 * order sqlst__read_patient, sqlst__read_device and sqlst__read_alert read them. */
#define SQLST_PATIENT_COLS "id, mrn, name, birth_date, ward, location, created_us"

#define SQLST_DEVICE_COLS                                                                          \
    "id, uid, kind, model, firmware, secret_hash, status, last_seen_us, battery_pct, created_us,"  \
    " connected_us, disconnected_us, rssi_dbm"

#define SQLST_ALERT_COLS                                                                           \
    "id, patient_id, device_id, rule, class, severity, state, code, title, detail, first_value,"   \
    " worst_value, current_value, count, raised_us, updated_us, acked_us, acked_by, resolved_us,"  \
    " resolved_by, note, tier, next_escalation_us"

/* Read the current row of a statement selecting the matching column list. */
void sqlst__read_patient(sqlite3_stmt *s, struct patient *p);
void sqlst__read_device(sqlite3_stmt *s, struct device *d);
void sqlst__read_alert(sqlite3_stmt *s, struct alert *a);

/* The ops of the concern files, referenced by the ops table in sqlst_open.c. */
int sqlst__patient_add(struct store *st, struct patient *p);
int sqlst__patient_get(struct store *st, int64_t id, struct patient *out);
int sqlst__patient_get_by_mrn(struct store *st, const char *mrn, struct patient *out);
int sqlst__patient_list(struct store *st, const char *ward, store_patient_fn *fn, void *arg);

int sqlst__device_add(struct store *st, struct device *d);
int sqlst__device_get(struct store *st, const char *uid, struct device *out);
int sqlst__device_get_by_id(struct store *st, int64_t id, struct device *out);
int sqlst__device_list(struct store *st, store_device_fn *fn, void *arg);
int sqlst__device_set_status(struct store *st, int64_t device_id, enum dev_status status);
int sqlst__device_update_presence(struct store *st, int64_t device_id,
                                  const struct dev_presence *p);
int sqlst__device_assign(struct store *st, int64_t device_id, int64_t patient_id, int64_t at_us);
int sqlst__device_unassign(struct store *st, int64_t device_id, int64_t at_us);
int sqlst__device_patient_at(struct store *st, int64_t device_id, int64_t t_us,
                             int64_t *patient_id);
int sqlst__assignment_list(struct store *st, int64_t device_id, store_assignment_fn *fn, void *arg);

int sqlst__obs_put_batch(struct store *st, const struct obs *obs, size_t n, size_t *n_inserted);
int sqlst__obs_latest(struct store *st, int64_t patient_id, store_obs_fn *fn, void *arg);
int sqlst__obs_range(struct store *st, int64_t patient_id, int code, int64_t since_us,
                     int64_t until_us, size_t limit, store_obs_fn *fn, void *arg);
int sqlst__obs_downsample(struct store *st, int64_t patient_id, int code, int64_t since_us,
                          int64_t until_us, size_t n_buckets, struct obs_bucket *out);
int sqlst__obs_count(struct store *st, int64_t *out);

int sqlst__command_add(struct store *st, struct dev_command *c);
int sqlst__command_get(struct store *st, int64_t id, store_command_fn *fn, void *arg);
int sqlst__command_poll(struct store *st, int64_t after_id, int64_t now_us, store_command_fn *fn,
                        void *arg);
int sqlst__command_set_state(struct store *st, int64_t id, enum store_cmd_state state,
                             int64_t now_us);
int sqlst__command_list(struct store *st, int64_t device_id, size_t limit, store_command_fn *fn,
                        void *arg);
int sqlst__event_put_batch(struct store *st, const struct dev_event *ev, size_t n,
                           size_t *n_inserted);
int sqlst__event_list(struct store *st, int64_t device_id, int64_t patient_id, int64_t since_us,
                      int64_t until_us, size_t limit, store_event_fn *fn, void *arg);

int sqlst__alert_save_batch(struct store *st, const struct alert *a,
                            const struct alert_transition *tr, size_t n);
int sqlst__alert_get(struct store *st, int64_t id, struct alert *out);
int sqlst__alert_list(struct store *st, const struct store_alert_filter *f, store_alert_fn *fn,
                      void *arg);
int sqlst__alert_transitions(struct store *st, int64_t alert_id, store_transition_fn *fn,
                             void *arg);
int sqlst__alert_max_id(struct store *st, int64_t *out);
int sqlst__alert_action_add(struct store *st, struct alert_action *a);
int sqlst__alert_action_get(struct store *st, int64_t id, struct alert_action *out);
int sqlst__alert_action_poll(struct store *st, int64_t after_id, store_action_fn *fn, void *arg);
int sqlst__alert_action_done(struct store *st, int64_t id, int result, int64_t now_us);
int sqlst__rule_setting_set(struct store *st, const struct rule_setting *s);
int sqlst__rule_setting_list(struct store *st, store_setting_fn *fn, void *arg);
int sqlst__rule_settings_version(struct store *st, int64_t *newest_us, int64_t *count);

int sqlst__patient_overview(struct store *st, const struct store_overview_query *q,
                            store_overview_fn *fn, void *arg);
int sqlst__patient_search(struct store *st, const struct store_patient_query *q,
                          store_patient_fn *fn, void *arg);
int sqlst__patient_count(struct store *st, const struct store_patient_query *q, int64_t *out);
int sqlst__device_search(struct store *st, const struct store_device_query *q,
                         store_device_row_fn *fn, void *arg);
int sqlst__device_count(struct store *st, const struct store_device_query *q, int64_t *out);
int sqlst__obs_search(struct store *st, const struct store_obs_query *q, store_obs_row_fn *fn,
                      void *arg);
int sqlst__obs_search_count(struct store *st, const struct store_obs_query *q, int64_t *out);
int sqlst__alert_search(struct store *st, const struct store_alert_query *q, store_alert_fn *fn,
                        void *arg);
int sqlst__alert_count(struct store *st, const struct store_alert_query *q, int64_t *out);
/* Finalizes the FHIR searches' cached statements (at close). */
void sqlst__dyn_release(struct sqlst *db);
/* Writes the EXPLAIN QUERY PLAN of store_obs_search(q), one detail line per plan row, into
 * out (always NUL-terminated). For tests: the hot FHIR search must stay an index range. */
int sqlst__obs_search_plan(struct store *st, const struct store_obs_query *q, char *out,
                           size_t out_len);

int sqlst__checkpoint(struct store *st, bool truncate, int *log_pages, int *done_pages);
int sqlst__set_sync(struct store *st, bool full);

int sqlst__txn_begin(struct store *st);
int sqlst__txn_commit(struct store *st);
void sqlst__txn_rollback(struct store *st);
bool sqlst__in_transaction(struct store *st);

int sqlst__audit_append(struct store *st, const struct store_audit_row *r);
int sqlst__audit_head(struct store *st, struct store_audit_head *out);
int sqlst__audit_last(struct store *st, const char *action, struct store_audit_head *out);
int sqlst__audit_scan(struct store *st, const struct store_audit_filter *f, store_audit_fn *fn,
                      void *arg);

int sqlst__webhook_add(struct store *st, struct store_webhook *w);
int sqlst__webhook_get(struct store *st, const char *name, struct store_webhook *out);
int sqlst__webhook_list(struct store *st, store_webhook_fn *fn, void *arg);
int sqlst__webhook_remove(struct store *st, const char *name, int64_t now_us, size_t *n_dead);
int sqlst__delivery_add(struct store *st, const struct store_delivery_new *n, size_t *n_added,
                        int64_t *last_id);
int sqlst__delivery_claim(struct store *st, int64_t now_us, int64_t lease_until_us, size_t limit,
                          store_delivery_fn *fn, void *arg);
int sqlst__delivery_set_result(struct store *st, int64_t id, uint32_t attempt,
                               enum store_delivery_state state, int64_t next_attempt_us,
                               const char *error, int64_t now_us);
int sqlst__delivery_get(struct store *st, int64_t id, store_delivery_fn *fn, void *arg);
int sqlst__delivery_list(struct store *st, int state, size_t limit, store_delivery_fn *fn,
                         void *arg);
int sqlst__delivery_retry(struct store *st, int64_t id, int64_t now_us, int64_t expires_us);
int sqlst__delivery_count(struct store *st, enum store_delivery_state state, int64_t *out);

/* The users, sessions and tokens ops (sqlst_user.c, sqlst_session.c), referenced by
 * sqlst__auth_ops in sqlst_open.c. */
int sqlst__user_add(struct store *st, struct store_user *u);
int sqlst__user_get(struct store *st, const char *name, struct store_user *out);
int sqlst__user_get_by_id(struct store *st, int64_t id, struct store_user *out);
int sqlst__user_list(struct store *st, store_user_fn *fn, void *arg);
int sqlst__user_update(struct store *st, const struct store_user *u, unsigned fields,
                       int64_t now_us);
int sqlst__user_use_mfa_step(struct store *st, int64_t user_id, int64_t step);
int sqlst__user_count_role(struct store *st, const char *role, bool with_disabled, int64_t *n);
int sqlst__user_ward_add(struct store *st, int64_t user_id, const char *ward);
int sqlst__user_ward_remove(struct store *st, int64_t user_id, const char *ward);
int sqlst__user_ward_list(struct store *st, int64_t user_id, store_ward_fn *fn, void *arg);
int sqlst__user_patient_add(struct store *st, int64_t user_id, int64_t patient_id);
int sqlst__user_patient_remove(struct store *st, int64_t user_id, int64_t patient_id);
int sqlst__user_patient_list(struct store *st, int64_t user_id, store_id_fn *fn, void *arg);
int sqlst__user_has_patient(struct store *st, int64_t user_id, int64_t patient_id, bool *out);
int sqlst__recovery_set(struct store *st, int64_t user_id, const char (*hashes)[STORE_HASH_MAX],
                        size_t n);
int sqlst__recovery_use(struct store *st, int64_t user_id, const char *hash, int64_t now_us);
int sqlst__recovery_count(struct store *st, int64_t user_id, int64_t *n_unused);
int sqlst__session_add(struct store *st, struct store_session *s);
int sqlst__session_get(struct store *st, const char *token_hash, struct store_session *out);
int sqlst__session_touch(struct store *st, int64_t id, int64_t now_us);
int sqlst__session_delete(struct store *st, int64_t id, int64_t user_id);
int sqlst__session_delete_user(struct store *st, int64_t user_id, int64_t keep_id, size_t *n);
int sqlst__session_list(struct store *st, int64_t user_id, store_session_fn *fn, void *arg);
int sqlst__session_purge(struct store *st, int64_t now_us, int64_t idle_cutoff_us, size_t *n);
int sqlst__ticket_add(struct store *st, const struct store_ticket *t);
int sqlst__ticket_get(struct store *st, const char *token_hash, struct store_ticket *out);
int sqlst__ticket_attempt(struct store *st, const char *token_hash, int *attempts);
int sqlst__ticket_delete(struct store *st, const char *token_hash);
int sqlst__apitoken_add(struct store *st, struct store_apitoken *t);
int sqlst__apitoken_get(struct store *st, const char *name, struct store_apitoken *out);
int sqlst__apitoken_get_by_hash(struct store *st, const char *token_hash,
                                struct store_apitoken *out);
int sqlst__apitoken_list(struct store *st, store_apitoken_fn *fn, void *arg);
int sqlst__apitoken_revoke(struct store *st, const char *name, int64_t now_us);
int sqlst__apitoken_touch(struct store *st, int64_t id, int64_t now_us);
int sqlst__throttle_get(struct store *st, const char *key, struct store_throttle *out);
int sqlst__throttle_put(struct store *st, const char *key, const struct store_throttle *t);
int sqlst__throttle_delete(struct store *st, const char *key);
int sqlst__break_glass_add(struct store *st, struct store_break_glass *g);
int sqlst__break_glass_active(struct store *st, int64_t user_id, int64_t patient_id, int64_t now_us,
                              struct store_break_glass *out);
int sqlst__break_glass_list(struct store *st, int64_t user_id, size_t limit,
                            store_break_glass_fn *fn, void *arg);

#endif
