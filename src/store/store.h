/*
 * Storage interface. Every backend implements struct store_ops; nothing outside
 * store/<backend>/ includes a database header. A struct store is ONE connection: the writer
 * thread owns one, each worker thread and each CLI command opens its own.
 * Several processes may open the same database at once (the CLI while the daemon runs):
 * SQLite WAL mode plus a busy timeout serialises their writes.
 * Thread: a struct store is used by one thread at a time.
 */
#ifndef MEDHUB_STORE_STORE_H
#define MEDHUB_STORE_STORE_H

#include "core/cfg.h"
#include "domain/alert.h"
#include "domain/codes.h"
#include "domain/model.h"

#include <stddef.h>
#include <stdint.h>

/* Highest schema version this binary knows (see store/migrate/). */
#define STORE_SCHEMA_VERSION 6

enum store_open_flags {
    STORE_OPEN_CREATE = 1u << 0,   /* create the database if missing (medhub init) */
    STORE_OPEN_READONLY = 1u << 1, /* query only (never migrates) */
    STORE_OPEN_WRITER = 1u << 2,   /* the writer thread's connection: synchronous per cfg */
};

/* One chart bucket of a downsampled range. */
struct obs_bucket {
    int64_t start_us; /* bucket start, inclusive */
    int64_t end_us;   /* bucket end, exclusive */
    double min;       /* lowest value in the bucket */
    double max;       /* highest value */
    double mean;      /* arithmetic mean */
    uint32_t count;   /* readings in the bucket; 0 means empty (min/max/mean undefined) */
};

struct store;

/* Callbacks for list queries; return non-zero to stop early (that value is returned). */
typedef int store_patient_fn(void *arg, const struct patient *p);
typedef int store_device_fn(void *arg, const struct device *d);
typedef int store_assignment_fn(void *arg, const struct assignment *a);
typedef int store_obs_fn(void *arg, const struct obs *o);
typedef int store_event_fn(void *arg, const struct dev_event *e);

/* Opens (and, unless READONLY, migrates) the database described by cfg.
 * OUT: *out returns owned; free with store_close.
 * Errors (with one line of detail in err): -ENOENT (no database and no CREATE: "run medhub
 * init"), HX_ECORRUPT (not a database, or a database that is not medhub's), HX_ESCHEMA
 * (schema newer than STORE_SCHEMA_VERSION), HX_EREADONLY, HX_EFULL, HX_ESTORE. */
int store_open(struct store **out, const struct cfg_store *cfg, unsigned flags, char *err,
               size_t err_len);
void store_close(struct store *st);

/* Version of the engine behind a backend, e.g. "3.40.1" for sqlite (static string;
 * "unavailable" when the backend is not built). For benchmarks and `medhub version`. */
const char *store_engine_version(enum cfg_backend backend);

/* An explicit transaction around several calls (one commit, one fsync, one hold of the
 * database's write lock instead of one per call), and the way to make a change and its audit
 * entry atomic (security/audit.h). begin takes the write lock at once (BEGIN IMMEDIATE), so
 * reads inside see the latest committed state; a second begin inside one fails. Calls that
 * write several rows in their own transaction (the *_batch ones, store_device_assign,
 * store_webhook_remove, store_delivery_claim) join the caller's transaction when made inside
 * one: still all or nothing (a failed call undoes only its own rows and the caller decides),
 * committed by the caller's store_commit (store_delivery_claim then calls back before that
 * commit). rollback is a no-op outside one. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* True between store_begin and store_commit/store_rollback. */
bool store_in_transaction(struct store *st);

/* Copies what the write-ahead log holds into the database file: PASSIVE (never waits for the
 * writer; copies what it can) or, with truncate, waits for the writer and readers and
 * truncates the log. OUT: *log_pages pages in the log, *done_pages pages copied (either may
 * be NULL). Returns 0 (also when a PASSIVE pass could not copy everything) or an error.
 * For the checkpointer thread (writer.c); the writer connection does not checkpoint. */
int store_checkpoint(struct store *st, bool truncate, int *log_pages, int *done_pages);

/* Whether this connection's next commits wait for the disk (full: they survive a power
 * loss) or not (they survive a process crash; a later durable commit or checkpoint makes
 * them durable too, in order). For the store writer, whose readings are already durable in
 * the ingest log. Call outside a transaction. Returns 0 or an error. */
int store_set_sync(struct store *st, bool full);

/* Schema version of the open database. */
int store_schema_version(struct store *st, int *out);

/* Runs SQLite's integrity_check (quick_check when quick: O(N) but skips index contents).
 * Returns 0 when the database is sound, HX_ECORRUPT with the first problem in msg
 * (may be NULL), or another error. Slow on large databases: tests and `medhub` checks only. */
int store_integrity_check(struct store *st, bool quick, char *msg, size_t msg_len);

/* Patients. store_patient_add fills p->id and p->created_us; HX_EEXIST on a duplicate MRN. */
int store_patient_add(struct store *st, struct patient *p);
int store_patient_get(struct store *st, int64_t id, struct patient *out);
int store_patient_get_by_mrn(struct store *st, const char *mrn, struct patient *out);
/* ward NULL lists all; ordered by ward, location, name. */
int store_patient_list(struct store *st, const char *ward, store_patient_fn *fn, void *arg);

/* Devices. store_device_add fills d->id and d->created_us; HX_EEXIST on a duplicate uid. */
int store_device_add(struct store *st, struct device *d);
int store_device_get(struct store *st, const char *uid, struct device *out);
int store_device_get_by_id(struct store *st, int64_t id, struct device *out);
int store_device_list(struct store *st, store_device_fn *fn, void *arg);
int store_device_set_status(struct store *st, int64_t device_id, enum dev_status status);

/* What the MQTT gateway last learnt about a device. Every field is "keep what is stored"
 * when unknown: times only move forward (the stored value wins if later), battery_pct < 0,
 * firmware "" and rssi_dbm 0 leave the stored value. */
struct dev_presence {
    int64_t connected_us;        /* last connect, 0 = unknown */
    int64_t disconnected_us;     /* last disconnect, 0 = unknown */
    int64_t last_seen_us;        /* last contact, 0 = unknown */
    int battery_pct;             /* 0..100, -1 = unknown */
    char firmware[DEV_TEXT_MAX]; /* "" = unknown */
    int rssi_dbm;                /* dBm, 0 = unknown */
};

/* Stores p for the device (one prepared UPDATE; p is borrowed for the call).
 * Errors: HX_ENOTFOUND (no such device), HX_EFULL, HX_EREADONLY, HX_ESTORE. */
int store_device_update_presence(struct store *st, int64_t device_id, const struct dev_presence *p);

/* Assignments. assign closes any open assignment of the device at at_us and opens a new one;
 * unassign closes the open one (HX_ENOTFOUND when there is none). */
int store_device_assign(struct store *st, int64_t device_id, int64_t patient_id, int64_t at_us);
int store_device_unassign(struct store *st, int64_t device_id, int64_t at_us);
/* OUT: *patient_id the patient assigned to the device at t_us, 0 when none. */
int store_device_patient_at(struct store *st, int64_t device_id, int64_t t_us, int64_t *patient_id);
/* All assignments of a device, newest first. */
int store_assignment_list(struct store *st, int64_t device_id, store_assignment_fn *fn, void *arg);

/* Writes n observations in ONE transaction. A reading whose (device, code, effective time)
 * is already stored is skipped, not an error. OUT: *n_inserted (may be NULL) rows new.
 * Errors: HX_EFULL, HX_EREADONLY, HX_ESTORE; on error nothing of the batch is stored. */
int store_obs_put_batch(struct store *st, const struct obs *obs, size_t n, size_t *n_inserted);

/* Latest reading of each code for a patient, ordered by code. */
int store_obs_latest(struct store *st, int64_t patient_id, store_obs_fn *fn, void *arg);

/* Readings of a patient in [since_us, until_us), oldest first, at most limit (0 = no limit);
 * code 0 means every code. */
int store_obs_range(struct store *st, int64_t patient_id, int code, int64_t since_us,
                    int64_t until_us, size_t limit, store_obs_fn *fn, void *arg);

/* Splits [since_us, until_us) into n_buckets equal buckets and fills out[0..n_buckets-1] with
 * min/max/mean/count of the code's readings in each (empty buckets have count 0).
 * Returns HX_EINVAL when n_buckets is 0 or over 10000 or the range is empty. */
int store_obs_downsample(struct store *st, int64_t patient_id, int code, int64_t since_us,
                         int64_t until_us, size_t n_buckets, struct obs_bucket *out);

/* Counts every stored observation (tests, status). */
int store_obs_count(struct store *st, int64_t *out);

/* ---- Commands to devices (`medhub device send`, delivered by the MQTT gateway) ---------- */

/* Where a command is. NEW is written by the CLI; the gateway moves it on. */
enum store_cmd_state {
    STORE_CMD_NEW = 0,       /* written, the gateway has not seen it yet */
    STORE_CMD_QUEUED = 1,    /* the gateway holds it until the device is subscribed */
    STORE_CMD_SENT = 2,      /* published at QoS 1/2, the device has not acknowledged yet */
    STORE_CMD_DELIVERED = 3, /* QoS 0 written to the device, or QoS 1/2 acknowledged */
    STORE_CMD_EXPIRED = 4,   /* not delivered before expires_us */
};

/* Longest command payload (bytes). */
#define STORE_CMD_PAYLOAD_MAX (64 * 1024)

/* One command. payload is owned by whoever filled the struct: store_command_add borrows it;
 * the poll and get callbacks lend it for the duration of the call. */
struct dev_command {
    int64_t id;                 /* assigned by store_command_add */
    int64_t device_id;          /* internal device id */
    const uint8_t *payload;     /* the application message */
    size_t payload_len;         /* 0..STORE_CMD_PAYLOAD_MAX (0 with retain clears it) */
    uint8_t qos;                /* 0..2, the most the device is sent it with */
    bool retain;                /* also kept as the device's retained command */
    int64_t created_us;         /* set by store_command_add */
    int64_t expires_us;         /* undelivered after this: EXPIRED */
    enum store_cmd_state state; /* see enum store_cmd_state */
    int64_t updated_us;         /* last state change */
};

typedef int store_command_fn(void *arg, const struct dev_command *c);

/* Adds c (state NEW). OUT: c->id, c->created_us. HX_EINVAL on a bad qos or payload size. */
int store_command_add(struct store *st, struct dev_command *c);
/* Calls fn once with command id (payload lent for the call); HX_ENOTFOUND when absent. */
int store_command_get(struct store *st, int64_t id, store_command_fn *fn, void *arg);
/* What the gateway must still act on, id > after_id in id order: commands not yet delivered
 * and not expired at now_us, plus each device's newest retained command. */
int store_command_poll(struct store *st, int64_t after_id, int64_t now_us, store_command_fn *fn,
                       void *arg);
/* Moves command id to state at now_us (never back from DELIVERED or EXPIRED). */
int store_command_set_state(struct store *st, int64_t id, enum store_cmd_state state,
                            int64_t now_us);
/* A device's commands, newest first, at most limit (0 = all). */
int store_command_list(struct store *st, int64_t device_id, size_t limit, store_command_fn *fn,
                       void *arg);

/* ---- Device events ------------------------------------------------------------------------ */

/* Writes n device events in ONE transaction (ev borrowed for the call). An event whose
 * (device, type, time) is already stored is skipped, not an error: a redelivered message
 * stores nothing twice. flag is stored when !has_text, text (up to DEV_EVENT_TEXT_MAX - 1
 * bytes) when has_text. OUT: *n_inserted (may be NULL) rows new.
 * Errors: HX_EINVAL (a type outside enum dev_event_type; nothing is written), HX_EFULL,
 * HX_EREADONLY, HX_EBUSY, HX_ESTORE; on error nothing of the batch is stored. */
int store_event_put_batch(struct store *st, const struct dev_event *ev, size_t n,
                          size_t *n_inserted);

/* Events in [since_us, until_us), NEWEST FIRST (ties: higher device id, then higher type
 * first), at most limit (0 = no limit). device_id 0 means any device, patient_id 0 any
 * patient (events of unassigned devices have patient 0 and are listed only without a
 * patient filter). fn is called once per event with a record valid for the call only; a
 * non-zero return stops the listing and is returned. */
int store_event_list(struct store *st, int64_t device_id, int64_t patient_id, int64_t since_us,
                     int64_t until_us, size_t limit, store_event_fn *fn, void *arg);

/* ---- Alerts (written by the daemon's rules service; read by the CLI and the API) --------- */

typedef int store_alert_fn(void *arg, const struct alert *a);
typedef int store_transition_fn(void *arg, const struct alert_transition *t);
typedef int store_action_fn(void *arg, const struct alert_action *a);

/* Writes n alerts (each row inserted or replaced whole) and, for each, its transition tr[i]
 * (skipped when tr is NULL), in ONE transaction. Errors as store_obs_put_batch. */
int store_alert_save_batch(struct store *st, const struct alert *a,
                           const struct alert_transition *tr, size_t n);
/* HX_ENOTFOUND when there is no alert id. */
int store_alert_get(struct store *st, int64_t id, struct alert *out);

/* Which alerts store_alert_list returns: states is a set of (1u << enum alert_state), 0 for
 * all; patient_id 0 for every patient; at most limit (0 = no limit), newest first. */
struct store_alert_filter {
    unsigned states;
    int64_t patient_id;
    size_t limit;
};
int store_alert_list(struct store *st, const struct store_alert_filter *f, store_alert_fn *fn,
                     void *arg);
/* An alert's history, oldest first. */
int store_alert_transitions(struct store *st, int64_t alert_id, store_transition_fn *fn, void *arg);
/* The highest alert id (0 when none). */
int store_alert_max_id(struct store *st, int64_t *out);

/* Actions: add fills a->id and a->created_us; poll lists those not applied with id > after_id
 * in id order; done records the daemon's result. */
int store_alert_action_add(struct store *st, struct alert_action *a);
int store_alert_action_get(struct store *st, int64_t id, struct alert_action *out);
int store_alert_action_poll(struct store *st, int64_t after_id, store_action_fn *fn, void *arg);
int store_alert_action_done(struct store *st, int64_t id, int result, int64_t now_us);

/* ---- Rule settings (`medhub rules set`) --------------------------------------------------- */

struct rule_setting {
    char scope[16];      /* "global", "patient" or "kind" */
    char scope_id[64];   /* patient MRN, device kind, or "" for global */
    char key[64];        /* e.g. "protocol", "spo2.low", "escalation.high" */
    char value[256];     /* text, parsed by rules/protocol.h */
    int64_t updated_us;  /* when set */
    char updated_by[64]; /* who */
};
typedef int store_setting_fn(void *arg, const struct rule_setting *s);

/* Sets (or, with an empty value, removes) one setting. */
int store_rule_setting_set(struct store *st, const struct rule_setting *s);
/* Every setting, ordered by scope, scope_id, key. */
int store_rule_setting_list(struct store *st, store_setting_fn *fn, void *arg);
/* A fingerprint that changes whenever a setting does: the newest updated_us and the count. */
int store_rule_settings_version(struct store *st, int64_t *newest_us, int64_t *count);

/* ---- Webhooks and their delivery queue (`medhub webhook`, src/notify/webhook.h) --------- */

#define STORE_WEBHOOK_NAME_MAX     64           /* name buffer: 1..63 bytes + NUL */
#define STORE_WEBHOOK_URL_MAX      2048         /* url buffer: up to 2047 bytes + NUL */
#define STORE_WEBHOOK_SECRET_MAX   128          /* secret buffer */
#define STORE_DELIVERY_EVENT_MAX   64           /* event name buffer: 1..63 bytes + NUL */
#define STORE_DELIVERY_ERROR_MAX   256          /* last_error: longer text is cut */
#define STORE_DELIVERY_PAYLOAD_MAX (256 * 1024) /* longest JSON document, bytes */

/* A webhook: where notifications are POSTed. */
struct store_webhook {
    int64_t id;                            /* assigned by store_webhook_add */
    char name[STORE_WEBHOOK_NAME_MAX];     /* unique */
    char url[STORE_WEBHOOK_URL_MAX];       /* http:// or https:// (checked by the caller) */
    char secret[STORE_WEBHOOK_SECRET_MAX]; /* the HMAC key; stored as is: signing needs it */
    int min_severity;                      /* notifications below this severity skip it (1..5) */
    bool enabled;                          /* false: no new deliveries are queued for it */
    int64_t created_us;                    /* set by store_webhook_add */
};

/* Where a delivery is. The numbers are persisted: never renumber. */
enum store_delivery_state {
    STORE_DELIVERY_PENDING = 0,   /* waiting for (or in) an attempt */
    STORE_DELIVERY_DELIVERED = 1, /* a receiver answered 2xx */
    STORE_DELIVERY_DEAD = 2,      /* expired or its webhook was removed: the dead-letter list */
};

/* One webhook delivery (one notification for one webhook). Every pointer is lent for the
 * duration of the callback that receives it. */
struct store_delivery {
    int64_t id;                      /* row id: X-Medhub-Delivery */
    int64_t webhook_id;              /* webhooks.id (the row may be gone) */
    const char *webhook;             /* the webhook's name, "" once it was removed */
    const char *url;                 /* store_delivery_claim only: where to POST, else "" */
    const char *secret;              /* store_delivery_claim only: the signing key, else "" */
    const char *event;               /* "alert.raised", "webhook.test", ... */
    int64_t alert_id;                /* 0 when the event concerns no alert */
    const char *payload;             /* the JSON document, NUL-terminated */
    size_t payload_len;              /* bytes before the NUL */
    enum store_delivery_state state; /* see enum store_delivery_state */
    uint32_t attempts;               /* attempts started so far (claims) */
    int64_t next_attempt_us;         /* PENDING: not attempted before this */
    int64_t expires_us;              /* PENDING: dead if not delivered by this */
    const char *last_error;          /* why the last attempt failed, "" when none */
    int64_t created_us;              /* queued */
    int64_t updated_us;              /* last change */
};

/* A notification to queue. Pointers are borrowed for the call. */
struct store_delivery_new {
    int64_t webhook_id;  /* 0: every enabled webhook with min_severity <= severity; else only
                          * that webhook, whatever its filter (`medhub webhook test`) */
    const char *event;   /* 1..63 bytes */
    int64_t alert_id;    /* 0 when none */
    int severity;        /* the notification's severity, 1..5 */
    const char *payload; /* the JSON document (not checked here) */
    size_t payload_len;  /* 1..STORE_DELIVERY_PAYLOAD_MAX */
    int64_t now_us;      /* created_us, and the first attempt is due then */
    int64_t expires_us;  /* dead if not delivered by then */
};

typedef int store_webhook_fn(void *arg, const struct store_webhook *w);
typedef int store_delivery_fn(void *arg, const struct store_delivery *d);

/* Adds w (enabled as given). OUT: w->id, w->created_us. HX_EEXIST on a duplicate name,
 * HX_EINVAL on an empty name, url or secret or a min_severity outside 1..5. */
int store_webhook_add(struct store *st, struct store_webhook *w);
/* The webhook called name; HX_ENOTFOUND when there is none. */
int store_webhook_get(struct store *st, const char *name, struct store_webhook *out);
/* Every webhook, by name. */
int store_webhook_list(struct store *st, store_webhook_fn *fn, void *arg);
/* Removes the webhook called name in one transaction: its PENDING deliveries become DEAD
 * with last_error "webhook removed" (nothing is dropped silently; delivered and dead rows stay
 * for the record). OUT: *n_dead (may be NULL) deliveries moved. HX_ENOTFOUND when absent. */
int store_webhook_remove(struct store *st, const char *name, int64_t now_us, size_t *n_dead);

/* Queues n: one PENDING delivery per matching webhook, all in one statement, due at
 * n->now_us. OUT: *n_added (may be NULL) rows added (0 when no webhook matches) and *last_id
 * (may be NULL) the id of the last one: the rows have consecutive ids ending there.
 * HX_ENOTFOUND when n->webhook_id names no webhook; HX_EINVAL on a bad event or payload. */
int store_delivery_add(struct store *st, const struct store_delivery_new *n, size_t *n_added,
                       int64_t *last_id);

/* The dispatcher's poll, in one transaction: PENDING rows due at now_us, oldest due first.
 * A due row whose webhook is gone or whose expires_us has passed becomes DEAD (last_error
 * says why). Up to limit other due rows are claimed: attempts is incremented and
 * next_attempt_us set to lease_until_us, so the attempt number is durable before the attempt
 * starts (a crash never reuses it) and the row is due again only if no result is recorded by
 * then. After the commit, fn is called for each row changed (DEAD, or PENDING with its new
 * attempts and url and secret lent); nothing is changed when the call fails. A poll with
 * nothing due takes no write lock. */
int store_delivery_claim(struct store *st, int64_t now_us, int64_t lease_until_us, size_t limit,
                         store_delivery_fn *fn, void *arg);
/* Records the outcome of attempt number attempt of delivery id: state (PENDING to retry at
 * next_attempt_us, DELIVERED or DEAD), error (NULL or "" when none; cut to fit) and
 * updated_us = now_us. Only a PENDING row whose attempts still equals attempt changes:
 * HX_ENOTFOUND otherwise (the row was removed, retried elsewhere or already final). */
int store_delivery_set_result(struct store *st, int64_t id, uint32_t attempt,
                              enum store_delivery_state state, int64_t next_attempt_us,
                              const char *error, int64_t now_us);
/* Calls fn once with delivery id; HX_ENOTFOUND when absent. */
int store_delivery_get(struct store *st, int64_t id, store_delivery_fn *fn, void *arg);
/* Deliveries newest first, at most limit (0 = all); state < 0 lists every state. */
int store_delivery_list(struct store *st, int state, size_t limit, store_delivery_fn *fn,
                        void *arg);
/* Moves a DEAD delivery back to PENDING, due at now_us and dead again after expires_us.
 * attempts keeps counting, so attempt numbers are never reused. HX_ENOTFOUND unless the
 * delivery exists, is DEAD and its webhook still exists. */
int store_delivery_retry(struct store *st, int64_t id, int64_t now_us, int64_t expires_us);
/* OUT: *out the number of deliveries in state. */
int store_delivery_count(struct store *st, enum store_delivery_state state, int64_t *out);

/* ---- Searches for the FHIR API (src/fhir): filtered, keyset-paged listings -------------- */

/* Whose records a search may return: the caller's care scope (decided by the HTTP layer from
 * the authenticated principal). Pointers are borrowed for the call. */
enum store_scope_kind {
    STORE_SCOPE_ALL = 0,     /* every patient (administrators, integrations) */
    STORE_SCOPE_WARDS = 1,   /* patients whose ward is one of wards[] (care team) */
    STORE_SCOPE_PATIENT = 2, /* one patient (a patient reading their own record) */
};

/* Most wards in one scope. */
#define STORE_SCOPE_WARDS_MAX 64

struct store_scope {
    enum store_scope_kind kind; /* see enum store_scope_kind */
    const char *const *wards;   /* WARDS: ward names (exact match), n_wards of them */
    size_t n_wards;             /* WARDS: 0..STORE_SCOPE_WARDS_MAX; 0 matches nobody */
    int64_t patient_id;         /* PATIENT: the patient's internal id */
};

/* Most excluded ranges (FHIR prefix ne) in one time filter. */
#define STORE_RANGE_EXCLUDE_MAX 4

/* A set of instants: lo_us <= t < hi_us, minus each excluded [lo_us, hi_us). INT64_MIN and
 * INT64_MAX mean "unbounded". An empty interval (lo_us >= hi_us) matches nothing. */
struct store_time_range {
    int64_t lo_us;    /* inclusive lower bound */
    int64_t hi_us;    /* exclusive upper bound */
    size_t n_exclude; /* 0..STORE_RANGE_EXCLUDE_MAX */
    struct {
        int64_t lo_us; /* inclusive */
        int64_t hi_us; /* exclusive */
    } exclude[STORE_RANGE_EXCLUDE_MAX];
};

/* Sets r to "every instant". */
void store_time_range_all(struct store_time_range *r);

/* Most values in one OR list (ids, MRNs, device uids) of a search. */
#define STORE_QUERY_VALUES_MAX 32

/* How a patient name filter matches the stored full name (ASCII case-insensitive). */
enum store_name_match {
    STORE_NAME_STARTS = 0,   /* the name, or one of its space-separated words, starts with it */
    STORE_NAME_CONTAINS = 1, /* anywhere in the name */
    STORE_NAME_EXACT = 2,    /* the whole name, case-sensitive */
};

/* Patients, ordered by id. Every filter present must match. */
struct store_patient_query {
    const struct store_scope *scope; /* required */
    const int64_t *ids;              /* any of these ids (n_ids 0: no filter) */
    size_t n_ids;                    /* 0..STORE_QUERY_VALUES_MAX */
    const char *const *mrns;         /* any of these MRNs (n_mrns 0: no filter) */
    size_t n_mrns;                   /* 0..STORE_QUERY_VALUES_MAX */
    const char *name;                /* NULL: no filter; matched as name_match says */
    enum store_name_match name_match;
    bool has_birth;                /* filter on birth_date (patients without one never match) */
    struct store_time_range birth; /* birth date as its midnight UTC; day-aligned bounds */
    int64_t after_id;              /* keyset cursor: only ids above it (0 = from the start) */
    size_t limit;                  /* at most this many rows (0 = no limit) */
};

/* Devices, ordered by id; each with the patient it is assigned to now (0 when none). Under a
 * scope other than ALL only devices assigned now to an in-scope patient are listed. */
struct store_device_query {
    const struct store_scope *scope; /* required */
    const int64_t *ids;              /* any of these ids */
    size_t n_ids;                    /* 0..STORE_QUERY_VALUES_MAX */
    const char *const *uids;         /* any of these external device ids */
    size_t n_uids;                   /* 0..STORE_QUERY_VALUES_MAX */
    int64_t patient_id;              /* assigned now to this patient (0: no filter) */
    int64_t after_id;                /* keyset cursor: only ids above it */
    size_t limit;                    /* 0 = no limit */
};

typedef int store_device_row_fn(void *arg, const struct device *d, int64_t patient_id);

/* Bit of struct store_obs_query.kinds for blood-pressure panels (a systolic and a diastolic
 * reading of the same patient, device and instant). Code 0 is never stored, so its bit is
 * free; bit n (n >= 1) selects the readings of enum obs_code_id n that are NOT part of a
 * panel. */
#define STORE_OBS_KIND_BP_PANEL (UINT64_C(1) << 0)
/* Every kind: every code and panels. */
#define STORE_OBS_KIND_ALL (~UINT64_C(0) >> 1)

/* One patient's observations as FHIR resources: a systolic reading with a diastolic one of
 * the same patient, device and instant is ONE row (a panel); each other reading is one row.
 * Ordered by (effective_us, code, device_id), ascending or descending; this is the obs
 * primary key order, so the search is a range scan of the patient's time window. */
struct store_obs_query {
    int64_t patient_id;                /* required (> 0) */
    uint64_t kinds;                    /* STORE_OBS_KIND_* and (1 << code) bits; 0 matches none */
    struct store_time_range effective; /* effective_us */
    bool has_received;                 /* filter on received_us too */
    struct store_time_range received;  /* received_us (FHIR _lastUpdated) */
    bool has_device;                   /* filter on the device */
    int64_t device_id;                 /* the device (0 = manual entries) when has_device */
    bool descending;                   /* newest first */
    bool has_cursor;                   /* resume after (cur_effective_us, cur_code, cur_device_id)
                                        * in the scan direction (exclusive) */
    int64_t cur_effective_us;          /* cursor key */
    int cur_code;                      /* ... */
    int64_t cur_device_id;             /* ... */
    size_t limit;                      /* 0 = no limit */
};

/* One row of store_obs_search: o, and when is_panel the diastolic reading dia (o is then the
 * systolic one). Lent for the duration of the callback. */
struct store_obs_row {
    struct obs o;   /* the reading (the systolic one of a panel) */
    bool is_panel;  /* o and dia form a blood-pressure panel */
    struct obs dia; /* the diastolic reading when is_panel */
};

typedef int store_obs_row_fn(void *arg, const struct store_obs_row *r);

/* Alerts of patients (alerts of unassigned devices, patient 0, are never listed), newest
 * first: ordered by (raised_us, id) descending. */
struct store_alert_query {
    const struct store_scope *scope; /* required */
    const int64_t *ids;              /* any of these alert ids */
    size_t n_ids;                    /* 0..STORE_QUERY_VALUES_MAX */
    int64_t patient_id;              /* this patient only (0: no filter) */
    unsigned states;                 /* set of (1u << enum alert_state); 0 = every state */
    bool has_cursor;                 /* resume after (cur_raised_us, cur_id), exclusive */
    int64_t cur_raised_us;           /* cursor key */
    int64_t cur_id;                  /* ... */
    size_t limit;                    /* 0 = no limit */
};

/* Each search calls fn once per row in order (records lent for the call); a non-zero return
 * stops it and is returned. Each count ignores the cursor and the limit and sets *out.
 * Errors: HX_EINVAL (a list longer than its maximum, a NULL scope, patient_id <= 0 for
 * observations), HX_EBUSY, HX_ESTORE. Thread: the connection's. */
int store_patient_search(struct store *st, const struct store_patient_query *q,
                         store_patient_fn *fn, void *arg);
int store_patient_count(struct store *st, const struct store_patient_query *q, int64_t *out);
int store_device_search(struct store *st, const struct store_device_query *q,
                        store_device_row_fn *fn, void *arg);
int store_device_count(struct store *st, const struct store_device_query *q, int64_t *out);
int store_obs_search(struct store *st, const struct store_obs_query *q, store_obs_row_fn *fn,
                     void *arg);
int store_obs_search_count(struct store *st, const struct store_obs_query *q, int64_t *out);
int store_alert_search(struct store *st, const struct store_alert_query *q, store_alert_fn *fn,
                       void *arg);
int store_alert_count(struct store *st, const struct store_alert_query *q, int64_t *out);
/* ---- The ward overview (REST API GET /api/v1/patients) ------------------------------------ */

/* Which patients the overview lists: the union of the care-scope parts that are set, then
 * narrowed to one ward when ward is not NULL. Pointers are borrowed for the call. */
struct store_overview_query {
    const char *const *wards; /* patients on any of these wards (exact match) */
    size_t n_wards;           /* 0..STORE_SCOPE_WARDS_MAX */
    bool all;                 /* every patient (a token without a ward) */
    int64_t caseload_user_id; /* and the patients on this user's caseload (0: none) */
    int64_t patient_id;       /* and this patient (a patient user's own record; 0: none) */
    const char *ward;         /* NULL: no filter; else only patients on this ward */
    size_t limit;             /* at most this many patients (0 = no limit) */
};

/* One patient of the overview with the latest reading of each code and the open alerts
 * (raised or acknowledged). Lent for the duration of the callback. */
struct store_overview_row {
    struct patient p;                   /* the patient */
    struct obs latest[OBS_CODE__COUNT]; /* latest reading per code, ordered by code */
    size_t n_latest;                    /* entries used in latest */
    int64_t open_alerts;                /* alerts raised or acknowledged */
    int max_severity;                   /* the highest severity among them (0 when none) */
};

typedef int store_overview_fn(void *arg, const struct store_overview_row *r);

/* Lists the patients of q ordered by ward, location, name, id, in ONE statement (patients,
 * obs_latest and an aggregate of open alerts joined). fn runs once per patient; a non-zero
 * return stops it and is returned. Errors: HX_EINVAL (too many wards), HX_EBUSY, HX_ESTORE.
 * Thread: the connection's. */
int store_patient_overview(struct store *st, const struct store_overview_query *q,
                           store_overview_fn *fn, void *arg);

/* True when the patient belongs to the scope (a WARDS scope compares p->ward). */
bool store_scope_has_patient(const struct store_scope *scope, const struct patient *p);
/* ---- The audit trail (rows only: security/audit.h builds, chains and checks them) --------- */

/* Hash text buffers: 64 lower-case hex digits of a SHA-256 + NUL. */
#define STORE_AUDIT_HASH_HEX 65

/* One audit entry as stored. Every string is NUL-terminated; store_audit_append borrows
 * them for the call, store_audit_scan lends them for the callback's duration. */
struct store_audit_row {
    int64_t seq;             /* 1, 2, 3, ... without gaps: the chain's order */
    int64_t time_us;         /* when appended, UTC */
    const char *actor_kind;  /* "user", "token", "device", "system", "cli" */
    int64_t actor_id;        /* users.id, devices.id, OS uid, ...; 0 when none */
    const char *actor;       /* user or token name, device uid, OS login, "rules" */
    const char *action;      /* "patient.create", "login.failure", ... */
    const char *outcome;     /* "success", "denied", "failure" */
    bool has_patient;        /* patient_id is set (stored NULL otherwise) */
    int64_t patient_id;      /* patients.id the entry concerns */
    const char *object_type; /* "patient", "device", "alert", ...; "" when none */
    const char *object_id;   /* that object's id as text; "" when none */
    const char *source;      /* network address, "local" (CLI) or "" */
    const char *details;     /* a JSON object (text) */
    bool break_glass;        /* emergency access */
    const char *prev_hash;   /* the previous entry's hash (64 zeros for entry 1) */
    const char *hash;        /* SHA-256 over the canonical serialization (security/audit.h) */
    bool malformed;          /* scan only: a column holds a type or bytes no append writes
                              * (text with a NUL inside, a NULL, a real): tampering */
};

/* The newest entry (or the newest with an action). seq 0 and hash "" when there is none. */
struct store_audit_head {
    int64_t seq;                     /* 0 when none */
    int64_t time_us;                 /* its time */
    char hash[STORE_AUDIT_HASH_HEX]; /* its hash text (cut to 64 bytes) */
};

/* Which entries store_audit_scan returns (zero-initialise for all, oldest first). */
struct store_audit_filter {
    int64_t after_seq;     /* only seq > after_seq */
    int64_t before_seq;    /* only seq < before_seq; 0: no bound */
    int64_t since_us;      /* only time_us >= since_us; 0: no bound */
    int64_t until_us;      /* only time_us < until_us; 0: no bound */
    int64_t patient_id;    /* only this patient (index audit_patient); 0: any */
    const char *actor;     /* only this actor name; NULL: any */
    const char *action;    /* only actions matching this GLOB pattern ("alert.*"); NULL: any */
    const char *prev_hash; /* only entries with this prev_hash; NULL: any */
    size_t limit;          /* at most this many; 0: no limit */
    bool newest_first;     /* seq descending instead of ascending */
};

typedef int store_audit_fn(void *arg, const struct store_audit_row *r);

/* Inserts r as is (seq, prev_hash and hash included): for security/audit.c, which computes
 * them inside the caller's transaction. The database refuses (HX_EDENIED) a seq that is not
 * the head's + 1 or a prev_hash that is not the head's hash, and every UPDATE or DELETE of an
 * entry (triggers). Errors: HX_EDENIED, HX_EEXIST, HX_EFULL, HX_EREADONLY, HX_ESTORE. */
int store_audit_append(struct store *st, const struct store_audit_row *r);
/* The newest entry. */
int store_audit_head(struct store *st, struct store_audit_head *out);
/* The newest entry whose action is exactly action (index audit_action). */
int store_audit_last(struct store *st, const char *action, struct store_audit_head *out);
/* Streams the entries f selects in seq order (constant memory: rowid or index order, never
 * a sort). fn's non-zero return stops the scan and is returned. */
int store_audit_scan(struct store *st, const struct store_audit_filter *f, store_audit_fn *fn,
                     void *arg);

#endif
