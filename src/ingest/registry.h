/*
 * Device registry: an in-memory snapshot of every device (uid -> internal id, status,
 * secret hash, kind) and of every device's assignments to patients over time, so that
 * MQTT CONNECT authentication and patient attribution never touch the disk on the loop
 * thread. Lookups are O(1) (open-addressing hash tables by uid and by id).
 *
 * Freshness: reg_new loads the snapshot once (blocking, before the loop runs);
 * reg_refresh_start then re-reads the whole device and assignment tables every interval on a
 * libuv worker (uv_queue_work) with the registry's own read-only store connection, and the
 * new snapshot replaces the old one on the loop thread in the after-work callback. CLI
 * changes (device add, disable, quarantine, assign) therefore take effect within one
 * interval (2 s by default) plus the time of one refresh.
 *
 * Live device status (battery, firmware, rssi) and presence (connect and disconnect times,
 * last seen) reported over MQTT is kept in the snapshot and carried over to each new
 * snapshot. It is also persisted (store_device_update_presence) on a libuv worker with the
 * registry's own read-write connection: at most one job runs at a time, each device has at
 * most one pending update (a dirty flag), and the job reads the live values when it starts,
 * so the latest values win and the loop never waits for the disk. last_seen alone is
 * persisted at most every REG_SEEN_PERSIST_US per device; connects, disconnects and status
 * messages are persisted every time.
 *
 * Lifetime of results: a const struct reg_device * is borrowed and valid only until control
 * returns to the loop (the next refresh may free it). Keep the id or uid, never the pointer.
 * Thread: loop, every function (reg_new and reg_free before/after the loop runs).
 */
#ifndef MEDHUB_INGEST_REGISTRY_H
#define MEDHUB_INGEST_REGISTRY_H

#include "core/cfg.h"
#include "core/slice.h"
#include "domain/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Default refresh period of reg_refresh_start. */
#define REG_REFRESH_MS 2000
/* A device's last_seen alone is written to the store at most this often. */
#define REG_SEEN_PERSIST_US (10 * INT64_C(1000000))

struct registry;

/* One device in the snapshot. */
struct reg_device {
    int64_t id;                     /* internal surrogate id */
    char uid[DEV_ID_MAX];           /* external id: MQTT client id / username / cert CN */
    char kind[DEV_KIND_MAX];        /* device kind */
    char secret_hash[DEV_HASH_HEX]; /* hex HMAC-SHA-256 of the secret, "" for cert-only */
    enum dev_status status;         /* active, disabled or quarantined */
    int battery_pct;                /* last reported battery %, -1 when unknown */
    char firmware[DEV_TEXT_MAX];    /* last reported firmware, "" when unknown */
    int rssi_dbm;                   /* last reported signal, 0 when unknown */
    int64_t last_seen_us;           /* last contact, 0 when never */
    int64_t connected_us;           /* last MQTT connect, 0 when never */
    int64_t disconnected_us;        /* last MQTT disconnect, 0 when never */
    int64_t persisted_seen_us;      /* last_seen_us as last handed to the presence worker */
    bool dirty;                     /* a presence update is pending for the worker */
    double rate_tokens;             /* publish token bucket: tokens left */
    int64_t rate_us;                /* publish token bucket: last refill, 0 = full bucket */
    bool live;                      /* battery/firmware/rssi/last_seen came from the gateway */
    uint32_t first_asg;             /* index of its first assignment in the snapshot */
    uint32_t n_asg;                 /* number of assignments, newest first */
};

struct reg_stats {
    uint64_t refreshes;       /* snapshots swapped in (including the initial load) */
    uint64_t refresh_failed;  /* refreshes that failed (the old snapshot stays) */
    uint64_t refresh_skipped; /* timer ticks while a refresh was still running */
    uint32_t n_devices;       /* devices in the current snapshot */
    uint32_t n_assignments;   /* assignments in the current snapshot */
    int64_t loaded_us;        /* wall-clock time the current snapshot was read */
    uint64_t presence_writes; /* device presence updates written to the store */
    uint64_t presence_failed; /* device presence updates the store refused */
};

/* Opens a read-only store connection (kept for refreshes) and loads the first snapshot,
 * blocking. OUT: *out returns owned (free with reg_free after the loop stopped).
 * Errors as store_open, HX_ESTORE on a failed query; detail in err. Thread: main. */
int reg_new(struct registry **out, uv_loop_t *loop, const struct cfg_store *cfg, char *err,
            size_t err_len);

/* Starts refreshing every interval_ms (0 = REG_REFRESH_MS). Returns 0 or a libuv error.
 * Thread: loop. */
int reg_refresh_start(struct registry *r, uint32_t interval_ms);

/* Stops refreshing: closes the timer; a refresh already running finishes on its worker and
 * its result is discarded. Lookups keep working on the last snapshot. Thread: loop. */
void reg_stop(struct registry *r);

/* Frees everything. Call after reg_stop once the loop has run to completion (no worker or
 * handle pending; presence updates noted before the loop ended have been written). NULL is a
 * no-op. */
void reg_free(struct registry *r);

/* Runs one refresh synchronously (blocking: tests and start-up only). Returns 0 or an error. */
int reg_reload(struct registry *r);

/* Finds a device by external id. Returns a borrowed pointer (see above) or NULL. */
const struct reg_device *reg_find(const struct registry *r, struct slice uid);

/* Finds a device by internal id. Returns a borrowed pointer or NULL. */
const struct reg_device *reg_find_id(const struct registry *r, int64_t id);

/* The patient the device was assigned to at t_us (same rule as store_device_patient_at:
 * start <= t < end, end open while 0), 0 when unassigned. */
int64_t reg_patient_at(const struct registry *r, const struct reg_device *d, int64_t t_us);

/* Records what a status message reported and when (in the current snapshot; carried over by
 * later refreshes). Returns 0 or HX_ENOTFOUND when the device is no longer registered. */
struct dev_status_update;
int reg_note_status(struct registry *r, int64_t device_id, const struct dev_status_update *u,
                    int64_t now_us);

/* Records contact with the device (last_seen). Returns 0 or HX_ENOTFOUND. */
int reg_note_seen(struct registry *r, int64_t device_id, int64_t now_us);

/* Per-device publish rate limit: a token bucket of rate tokens per second holding at most
 * 2 x rate. Takes one token and returns true, or returns false when the bucket is empty (the
 * message is over the rate). An unknown device is allowed (the caller refuses it anyway). */
bool reg_rate_allow(struct registry *r, int64_t device_id, int64_t now_us, uint32_t rate);

/* Records an accepted MQTT CONNECT (connected_us and last_seen) or the end of that
 * connection (disconnected_us and last_seen), both persisted. Returns 0 or HX_ENOTFOUND. */
int reg_note_connect(struct registry *r, int64_t device_id, int64_t now_us);
int reg_note_disconnect(struct registry *r, int64_t device_id, int64_t now_us);

void reg_get_stats(const struct registry *r, struct reg_stats *out);

/* Who hears about presence and status as the gateway reports them (the rules service).
 * battery_pct < 0 and rssi_dbm 0 mean "not in this status message". */
struct reg_observer {
    void (*presence)(void *arg, int64_t device_id, bool connected, int64_t now_us);
    void (*status)(void *arg, int64_t device_id, int battery_pct, int rssi_dbm, int64_t now_us);
    void *arg;
};
/* Copies o (NULL removes the observer). */
void reg_set_observer(struct registry *r, const struct reg_observer *o);

#endif
