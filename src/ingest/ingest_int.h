/*
 * Private to src/ingest/senml*.c: the raw (unresolved) record both wire decoders fill, the
 * resolver that applies base fields (RFC 8428 §4.5), and the error-text helpers.
 * Thread: any.
 */
#ifndef MEDHUB_INGEST_INGEST_INT_H
#define MEDHUB_INGEST_INGEST_INT_H

#include "ingest/senml.h"

#include <stdarg.h>

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

#endif
