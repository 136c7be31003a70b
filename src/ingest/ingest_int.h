/*
 * Private to src/ingest/: for senml*.c the raw (unresolved) record both wire decoders fill,
 * the resolver that applies base fields (RFC 8428 §4.5) and the error-text helpers (thread:
 * any); for pipeline.c the event writer of event_writer.c (thread: loop).
 */
#ifndef MEDHUB_INGEST_INGEST_INT_H
#define MEDHUB_INGEST_INGEST_INT_H

#include "core/cfg.h"
#include "domain/model.h"
#include "ingest/senml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* SenML labels (RFC 8428 §4.1 / §6 table 4). The enum order is internal only. */
enum senml__label {
    SENML__BVER,
    SENML__BN,
    SENML__BT,
    SENML__BU,
    SENML__BV,
    SENML__BS,
    SENML__N,
    SENML__U,
    SENML__V,
    SENML__VS,
    SENML__VB,
    SENML__VD,
    SENML__S,
    SENML__T,
    SENML__UT,
    SENML__LABEL_COUNT
};

/* What type a label's value must have. */
enum senml__type {
    SENML__TNUM,  /* number */
    SENML__TTEXT, /* text string */
    SENML__TBOOL, /* boolean */
    SENML__TDATA, /* byte string (CBOR) / base64url text (JSON) */
};

/* A wire number: integers stay exact so that times convert to microseconds without drift. */
struct senml__num {
    bool is_int; /* i holds the value, else d */
    int64_t i;   /* exact integer */
    double d;    /* floating-point value (may be NaN/inf from CBOR: the resolver checks) */
};

/* One record as it was on the wire. */
struct senml__raw {
    uint32_t present;                          /* 1u << enum senml__label */
    struct senml__num num[SENML__LABEL_COUNT]; /* numeric labels */
    struct slice str[SENML__LABEL_COUNT];      /* text and data labels (data already raw) */
    bool vb;                                   /* SENML__VB */
};

/* Base-field state carried from record to record, plus the caller's output. */
struct senml__resolver {
    struct senml_out *out;
    const struct senml_opts *opts;
    struct slice bn; /* base name in force (borrows payload or scratch) */
    struct slice bu; /* base unit in force */
    int64_t bt_us;   /* base time in force */
    double bv;       /* base value in force */
    double bs;       /* base sum in force */
    int64_t bver;    /* version in force */
    bool seen_bver;  /* a bver was present earlier */
    size_t index;    /* index of the next record */
};

/* JSON label name ("bver", "n", ...), its type, and the inverse lookup (-1 when unknown). */
const char *senml__label_name(enum senml__label l);
enum senml__type senml__label_type(enum senml__label l);
int senml__label_by_name(struct slice name);

/* Prepares r for a decode into out (clears out->n_recs and out->scratch_used). */
void senml__resolver_init(struct senml__resolver *r, struct senml_out *out,
                          const struct senml_opts *opts);
/* Checks that one more record fits (HX_ETOOBIG otherwise, with *err filled). */
int senml__resolver_room(struct senml__resolver *r, struct senml_error *err);
/* Resolves raw into out->recs[out->n_recs++]. Returns 0, HX_EMALFORMED or HX_ETOOBIG. */
int senml__resolve(struct senml__resolver *r, const struct senml__raw *raw,
                   struct senml_error *err);
/* Copies len bytes into scratch (HX_ETOOBIG when full). OUT: *dst points into scratch. */
int senml__scratch_put(struct senml_out *out, const void *p, size_t len, uint8_t **dst);

/* Fills *err (may be NULL) with the same text in both reasons; index -1 means the pack.
 * Returns code. */
int senml__fail(struct senml_error *err, int index, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes s into a reason fragment (the caller adds the quotes): non-printable bytes become '?', and
 * text beyond max bytes is cut with "...". */
void senml__quote(char *dst, size_t dst_len, struct slice s, size_t max);

/* Decodes unpadded base64url (RFC 4648 §5) into dst (capacity *len, OUT: bytes written).
 * Returns 0, HX_ETOOBIG (dst too small) or HX_EMALFORMED (bad character, length or non-zero
 * padding bits). */
int senml__base64url_decode(struct slice in, uint8_t *dst, size_t *len);

/* ---- event writer (event_writer.c) ----------------------------------------------------------
 * Writes device events durably off the loop: a FIFO of requests, at most one job in flight on
 * a libuv worker, which writes everything pending in ONE store_event_put_batch transaction
 * with the writer's own connection (opened by its first job with STORE_OPEN_WRITER, so it
 * syncs per storage.sync), then runs the requests' callbacks on the loop in submit order.
 * Every function runs on the loop thread. */

struct uv_loop_s; /* uv_loop_t, without making the decoders include uv.h */
struct ingest__evw;

/* Completion of one request, on the loop: 0 when its events are durable (new or already
 * stored), else the error that rolled back its job (nothing of it stored). */
typedef void ingest__evw_done_fn(void *arg, int status);

struct ingest__evw_stats {
    uint64_t stored;     /* events committed as new rows */
    uint64_t duplicates; /* events committed that were already stored (redeliveries) */
    uint64_t failed;     /* events whose transaction failed */
    uint64_t commits;    /* transactions committed */
    uint32_t queued;     /* events accepted and not yet called back */
};

/* OUT: *out returns owned (ingest__evw_free). loop is borrowed, cfg copied. At most
 * queue_max events are accepted and not yet called back. */
void ingest__evw_new(struct ingest__evw **out, struct uv_loop_s *loop, const struct cfg_store *cfg,
                     uint32_t queue_max);
/* Whether n more events would be accepted now: 0, HX_ESHUTDOWN (stopped), HX_EINVAL (n 0),
 * HX_ETOOBIG (n over queue_max) or -EAGAIN (queue full: a completion will follow). */
int ingest__evw_check(const struct ingest__evw *w, size_t n);
/* Queues ev[0..n), a heap array the writer takes (and frees) on success only; every type
 * must be valid (one bad event would fail the whole job). cb runs later on the loop, never
 * from inside this call. Errors as ingest__evw_check; if it returns an error, cb never runs. */
int ingest__evw_enqueue(struct ingest__evw *w, struct dev_event *ev, size_t n,
                        ingest__evw_done_fn *cb, void *arg);
/* True when at most half of queue_max events are waiting (producers resume). */
bool ingest__evw_below_low_water(const struct ingest__evw *w);
/* Refuses new requests (HX_ESHUTDOWN); what was accepted is still written and called back
 * while the loop runs (a job waiting out a full disk tries once more, then fails). */
void ingest__evw_stop(struct ingest__evw *w);
void ingest__evw_get_stats(const struct ingest__evw *w, struct ingest__evw_stats *out);
/* Frees w and closes its connection. Call once the loop ran to completion (no request left);
 * NULL is a no-op. */
void ingest__evw_free(struct ingest__evw *w);

#endif
