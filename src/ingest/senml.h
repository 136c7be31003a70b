/*
 * SenML (RFC 8428) packs in JSON and CBOR: a pure decoder that resolves base fields into
 * self-contained records, and the normalizers that turn resolved records into medhub
 * observations (telemetry topic), device status updates (status topic) and device events
 * (events topic). No I/O, no globals, no allocation of our own (the JSON path lets jansson
 * allocate a tree bounded by the payload size). Thread: any; every function is reentrant.
 *
 * Typical use on the loop thread:
 *     struct senml_record recs[64];
 *     uint8_t scratch[4096];
 *     struct senml_out o = {.recs = recs, .max_recs = 64, .scratch = scratch,
 *                           .scratch_len = sizeof scratch};
 *     struct senml_opts opts = {.now_us = now, .max_payload = 65536};
 *     struct senml_error e;
 *     rc = senml_decode(content_type, payload, &opts, &o, &e);
 *     if (rc == 0) rc = senml_to_obs(recs, o.n_recs, now, obs, &n_obs, &stats, &e);
 *     on error: e.reason goes back to the device, e.log_reason into the log.
 */
#ifndef MEDHUB_INGEST_SENML_H
#define MEDHUB_INGEST_SENML_H

#include "core/slice.h"
#include "domain/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default for struct senml_opts.max_payload when it is 0. */
#define SENML_DEFAULT_MAX_PAYLOAD 65536
/* Version assumed when a pack carries no bver (RFC 8428 §4.4). */
#define SENML_VERSION_DEFAULT 10
/* RFC 9100 feature bit 4 ("secondary units"): a bver with this bit set allows RFC 8798
 * secondary units (cm, h, mg/l, ...) in u/bu. */
#define SENML_FEATURE_SECONDARY_UNITS (1 << 4)
/* Records more than this far ahead of the receiver clock are rejected by the normalizers. */
#define SENML_MAX_FUTURE_US (INT64_C(300) * 1000000)
/* Size of the reason buffers in struct senml_error (text is always NUL-terminated). */
#define SENML_REASON_MAX 160

enum senml_format {
    SENML_FORMAT_JSON = 1, /* application/senml+json, application/json */
    SENML_FORMAT_CBOR = 2, /* application/senml+cbor */
};

/* Which value field a resolved record carries (RFC 8428 §4.2: at most one). */
enum senml_kind {
    SENML_KIND_SUM_ONLY = 0, /* no v/vs/vb/vd: the record has only a sum */
    SENML_KIND_NUMBER = 1,   /* v (plus bv) in .value */
    SENML_KIND_STRING = 2,   /* vs in .str (valid UTF-8, no NUL) */
    SENML_KIND_BOOL = 3,     /* vb in .vb */
    SENML_KIND_DATA = 4,     /* vd in .str as raw bytes (JSON base64url already decoded) */
};

/* One resolved record: base fields applied, no base fields left (RFC 8428 §4.6).
 * Slices borrow the payload (CBOR strings) or the caller's scratch buffer (resolved names,
 * all JSON strings): they are valid while both are. */
struct senml_record {
    struct slice name;    /* bn + n, never empty, RFC 8428 §4.5.1 characters only */
    struct slice unit;    /* u, else bu; empty when neither is present */
    int64_t time_us;      /* absolute time, microseconds since the Unix epoch */
    enum senml_kind kind; /* which of value/str/vb holds the value */
    double value;         /* SENML_KIND_NUMBER: bv + v, finite */
    struct slice str;     /* SENML_KIND_STRING / SENML_KIND_DATA */
    bool vb;              /* SENML_KIND_BOOL */
    bool has_sum;         /* s was present */
    double sum;           /* bs + s, finite, when has_sum */
    bool has_update_time; /* ut was present */
    double update_time_s; /* ut in seconds, finite, when has_update_time */
    int64_t bver;         /* version in force for this record (10 when absent) */
};

/* Caller-owned output storage for senml_decode. No allocation happens inside the decoder:
 * records go into recs, and resolved names (and JSON strings) are copied into scratch. */
struct senml_out {
    struct senml_record *recs; /* array of max_recs records, borrowed */
    size_t max_recs;           /* capacity: a pack with more records is HX_ETOOBIG */
    size_t n_recs;             /* OUT: number of records written */
    uint8_t *scratch;          /* string storage, borrowed; may be NULL when scratch_len is 0 */
    size_t scratch_len;        /* its size: running out is HX_ETOOBIG */
    size_t scratch_used;       /* OUT: bytes of scratch used */
};

struct senml_opts {
    int64_t now_us;     /* receiver clock; resolved times below 2^28 s are relative to it */
    size_t max_payload; /* bytes accepted, checked before parsing; 0 means the default */
};

/* Why a pack was rejected. The whole pack is rejected on the first bad record. */
struct senml_error {
    int index;                         /* record index (0-based), -1 for the whole pack */
    int code;                          /* the hx_err code also returned */
    char reason[SENML_REASON_MAX];     /* device-facing: may quote the offending value */
    char log_reason[SENML_REASON_MAX]; /* log-safe: never contains a measured value or vs */
};

/* Chooses the format from an explicit content type (MQTT 5 content type, HTTP Content-Type;
 * parameters after ';' and case are ignored): application/senml+json and application/json
 * are JSON, application/senml+cbor is CBOR, any other non-empty type is HX_EINVAL. With an
 * empty content type the first payload byte decides: a CBOR array head (0x80..0x9f) is CBOR,
 * '[' after optional JSON whitespace is JSON, anything else is HX_EMALFORMED.
 * OUT: *out, untouched on error. Returns 0, HX_EINVAL or HX_EMALFORMED. Thread: any. */
int senml_format_detect(struct slice content_type, struct slice payload, enum senml_format *out);

/* Decodes and resolves one pack. payload, content_type and opts are borrowed for the call;
 * the records borrow payload and out->scratch afterwards. Records are written in pack order.
 * Returns 0; HX_ETOOBIG (payload over max_payload, more than max_recs records, scratch
 * exhausted); HX_EMALFORMED (syntax, types, SenML rules); HX_EINVAL (content type). On error
 * *err says why (err may be NULL) and out->n_recs is 0. Thread: any. */
int senml_decode(struct slice content_type, struct slice payload, const struct senml_opts *opts,
                 struct senml_out *out, struct senml_error *err);

/* The same for a known format (senml_decode calls these after senml_format_detect). */
int senml_decode_json(struct slice payload, const struct senml_opts *opts, struct senml_out *out,
                      struct senml_error *err);
int senml_decode_cbor(struct slice payload, const struct senml_opts *opts, struct senml_out *out,
                      struct senml_error *err);

/* Counters from senml_to_obs, for per-device conformance metrics. */
struct senml_obs_stats {
    size_t n_nonconformant; /* records whose unit is not a SenML unit of the pack's version:
                             * "mmHg", "bpm" (UNITS_NONCONFORMANT), UCUM-only "mm[Hg]",
                             * "mg/dL" (UNITS_NOT_SENML), or an RFC 8798 secondary unit without
                             * SENML_FEATURE_SECONDARY_UNITS in bver */
};

/* Normalizes telemetry records to observations: the name goes through obs_code_by_name, the
 * value must be numeric (v) and is converted with units_to_canonical, must be plausible
 * (obs_code_is_plausible) and no more than SENML_MAX_FUTURE_US ahead of now_us.
 * out must have room for n entries; each gets code, value (canonical unit), effective_us,
 * received_us = now_us and status final; seq, patient_id and device_id are left 0 for the
 * caller. The whole pack is rejected on the first bad record (*n_out is then 0).
 * OUT: out[0..*n_out), *stats (may be NULL), *err (may be NULL).
 * Returns 0, HX_EUNKNOWN_CODE, HX_EUNIT, HX_ERANGE or HX_EMALFORMED. Thread: any. */
int senml_to_obs(const struct senml_record *recs, size_t n, int64_t now_us, struct obs *out,
                 size_t *n_out, struct senml_obs_stats *stats, struct senml_error *err);

#define SENML_FIRMWARE_MAX 64

/* What a status pack reports; fields without has_* set were not in the pack. */
struct dev_status_update {
    bool has_battery;                  /* a "battery" record was present */
    int battery_pct;                   /* 0..100, rounded */
    bool has_firmware;                 /* a "firmware" record was present */
    char firmware[SENML_FIRMWARE_MAX]; /* 1..63 printable ASCII bytes, NUL-terminated */
    bool has_rssi;                     /* an "rssi" record was present */
    int rssi_dbm;                      /* -150..0, rounded */
};

/* Normalizes status records (DESIGN "device status records"). Names, after any device
 * prefix ending in '/' or ':': "battery" (v, unit %EL, % or none, 0..100), "firmware" (vs,
 * 1..63 printable ASCII), "rssi" (v, unit dBm or none, -150..0). When a name repeats, the
 * later record wins. Any other name is HX_EUNKNOWN_CODE.
 * OUT: *out (zeroed first), *err (may be NULL). Returns 0, HX_EUNKNOWN_CODE, HX_EUNIT,
 * HX_ERANGE or HX_EMALFORMED. Thread: any. */
int senml_to_status(const struct senml_record *recs, size_t n, struct dev_status_update *out,
                    struct senml_error *err);

/* Event text: 1..63 printable ASCII bytes plus NUL (the domain record's size). */
#define SENML_EVENT_TEXT_MAX DEV_EVENT_TEXT_MAX

/* One normalized event record; the type numbering and names are the domain's
 * (enum dev_event_type, dev_event_name). */
struct senml_event {
    enum dev_event_type type;        /* which event */
    int64_t time_us;                 /* when it happened */
    bool has_text;                   /* value was vs (text), else vb (flag) */
    bool flag;                       /* vb when !has_text */
    char text[SENML_EVENT_TEXT_MAX]; /* vs when has_text: 1..63 printable ASCII, may be PHI */
};

/* The same as dev_event_name ("pill_taken", "unknown" for other values), for callers written
 * before the event types moved to the domain. */
const char *senml_event_name(enum dev_event_type type);

/* Normalizes event records: the name (after any device prefix) must be the dev_event_name of
 * an enum dev_event_type, the value vs or vb as documented there (fall takes vb only), and
 * the time no more than SENML_MAX_FUTURE_US ahead of now_us. out must have room for n
 * entries. The whole pack is rejected on the first bad record (*n_out is then 0).
 * Returns 0, HX_EUNKNOWN_CODE, HX_ERANGE or HX_EMALFORMED. Thread: any. */
int senml_to_events(const struct senml_record *recs, size_t n, int64_t now_us,
                    struct senml_event *out, size_t *n_out, struct senml_error *err);

#endif
