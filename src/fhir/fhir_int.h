/*
 * Private to src/fhir/: the typed search that search.c parses from the request's parameters
 * and fhir.c executes, the keyset cursor, resource-id parsing, FHIR date parsing and the
 * Bundle/link builders. Unit tests and the fuzzer include it; nothing else does.
 * Thread: any (pure functions over caller-owned structs).
 */
#ifndef MEDHUB_FHIR_FHIR_INT_H
#define MEDHUB_FHIR_FHIR_INT_H

#include "fhir/fhir.h"

/* Most parameters in one search; more is 400 (a request is not a place for thousands). */
#define FHIR_PARAMS_MAX 64
/* Longest parameter value accepted, bytes (a 32-value OR list of MRNs fits). */
#define FHIR_VALUE_MAX 4096
/* _count: default and maximum page size. */
#define FHIR_COUNT_DEFAULT 50
#define FHIR_COUNT_MAX     1000
/* Longest cursor token (base64url text). */
#define FHIR_CURSOR_MAX 96

/* Why a search was refused: becomes the OperationOutcome. */
struct fhir_error {
    int status;            /* HTTP status: 400 or 406 */
    const char *code;      /* IssueType: "invalid", "not-supported", "too-costly" */
    char diagnostics[256]; /* for the developer; names the parameter */
};

/* Bundle.total policy (_total). */
enum fhir_total {
    FHIR_TOTAL_DEFAULT = 0, /* accurate for Patient, Device and Flag; for Observation only
                             * when the whole result is on the first page */
    FHIR_TOTAL_NONE = 1,
    FHIR_TOTAL_ESTIMATE = 2, /* treated as DEFAULT */
    FHIR_TOTAL_ACCURATE = 3,
};

/* A keyset position: the last row of the previous page. Observation: (a, b, c) =
 * (effective_us, code, device_id) and the sort direction; Flag: (a, b) = (raised_us, id);
 * Patient, Device: a = id. */
struct fhir_cursor {
    bool set;        /* a _cursor was given */
    bool descending; /* Observation: the direction it was made for */
    int64_t a, b, c; /* key parts */
};

/* An Observation's id, parsed (fhir_obs_id is the inverse). */
struct fhir_obs_key {
    int64_t patient_id;   /* > 0 */
    int code;             /* enum obs_code_id, OBS_CODE_BP_SYS for a panel */
    bool is_panel;        /* "<p>.bp.<t>.<d>" */
    int64_t effective_us; /* the instant */
    int64_t device_id;    /* >= 0 */
};

/* Length of a value kept from a token list (MRNs and device uids are shorter). */
#define FHIR_TEXT_MAX 64

/* A parsed search. Filled by fhir__search_parse; every field's default means "no filter". */
struct fhir_query {
    enum fhir_type type;        /* which resource */
    size_t count;               /* page size 1..FHIR_COUNT_MAX */
    bool count_only;            /* _summary=count or _count=0: total, no entries */
    enum fhir_total total;      /* _total */
    bool descending;            /* _sort: Observation date order (default newest first) */
    struct fhir_cursor cursor;  /* _cursor */
    bool none;                  /* a filter matches nothing (a foreign identifier system, an
                                 * unknown code, a malformed id): the result is empty */
    bool used[FHIR_PARAMS_MAX]; /* per input parameter: honoured (false: ignored, lenient) */
    size_t n_ignored;           /* parameters ignored (lenient) */
    char ignored[160];          /* their names, comma-separated (cut when long) */

    int64_t ids[STORE_QUERY_VALUES_MAX]; /* _id of Patient, Device, Flag: any of */
    size_t n_ids;                        /* 0: no filter */
    bool has_ids;                        /* an _id was given (n_ids 0 then matches nothing) */
    char texts[STORE_QUERY_VALUES_MAX][FHIR_TEXT_MAX]; /* identifier values: MRNs / uids */
    size_t n_texts;                                    /* 0: no filter */
    bool has_texts;                                    /* an identifier was given */
    char name[PAT_NAME_MAX];                           /* Patient name filter, "" none */
    enum store_name_match name_match;                  /* name, name:contains, name:exact */
    bool has_birth;                                    /* birthdate given */
    struct store_time_range birth;                     /* ... day-aligned */
    bool has_patient;                                  /* patient / subject given */
    int64_t patient_id;                                /* ... its id */
    bool has_device;                                   /* Observation device given */
    int64_t device_id;                                 /* ... */
    uint64_t kinds;                       /* Observation code and category (STORE_OBS_KIND_*) */
    struct store_time_range date;         /* Observation date */
    bool has_last_updated;                /* _lastUpdated given */
    struct store_time_range last_updated; /* ... */
    unsigned states;                      /* Flag status: set of 1u << enum alert_state */
};

/* Parses n params for a search of type (see fhir.h for the parameters; docs/fhir.md lists
 * them). lenient: unknown/unsupported parameters are ignored rather than refused.
 * OUT: *q (fully initialised first); *err when it fails. Returns 0 or HX_EINVAL.
 * Pure: fuzzed by tests/fuzz/fuzz_fhir_search.c. */
int fhir__search_parse(enum fhir_type type, const struct fhir_param *params, size_t n, bool lenient,
                       struct fhir_query *q, struct fhir_error *err);

/* A date search value: optional prefix, then YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with a
 * time zone (hh:mm, hh:mm:ss, fractions); it stands for [start_us, end_us) at its precision.
 * Years 0001-9999. date_only refuses a time part (birthdate). */
enum fhir_prefix {
    FHIR_PREFIX_EQ = 0,
    FHIR_PREFIX_NE,
    FHIR_PREFIX_GT,
    FHIR_PREFIX_LT,
    FHIR_PREFIX_GE,
    FHIR_PREFIX_LE,
    FHIR_PREFIX_SA,
    FHIR_PREFIX_EB,
    FHIR_PREFIX_AP,
};

struct fhir_date {
    enum fhir_prefix prefix; /* eq when absent */
    int64_t start_us;        /* inclusive */
    int64_t end_us;          /* exclusive */
};

/* Returns 0, HX_EMALFORMED (why in *why, static text) or HX_EINVAL for the unsupported ap. */
int fhir__date_parse(const char *s, size_t len, bool date_only, struct fhir_date *out,
                     const char **why);

/* Narrows r by one date condition (FHIR R4 search 3.1.1.4.2: a point in time matches eq when
 * it lies in the value's range, gt/sa after it, lt/eb before it, ge from its start, le before
 * its end, ne outside it). Returns 0 or HX_ETOOBIG (more ne than STORE_RANGE_EXCLUDE_MAX). */
int fhir__range_apply(struct store_time_range *r, const struct fhir_date *d);

/* Parses an Observation id (fhir_obs_id's format, canonical numbers only). Returns 0 or
 * HX_EMALFORMED. */
int fhir__obs_key_parse(const char *s, size_t len, struct fhir_obs_key *out);
/* Parses a canonical positive decimal id ("12", not "012" or "+12"). 0 or HX_EMALFORMED. */
int fhir__id_parse(const char *s, size_t len, int64_t *out);

/* Cursor tokens: base64url text of the key; type-specific. fhir__cursor_encode writes at most
 * FHIR_CURSOR_MAX bytes + NUL. decode returns 0 or HX_EMALFORMED. */
void fhir__cursor_encode(enum fhir_type type, const struct fhir_cursor *c,
                         char out[FHIR_CURSOR_MAX + 1]);
int fhir__cursor_decode(enum fhir_type type, const char *s, size_t len, struct fhir_cursor *out);

/* RFC 3339 with time zone "Z" for FHIR dateTime/instant; microseconds only when not zero.
 * buf: 40 bytes. */
void fhir__time(int64_t t_us, char buf[40]);

/* The URL [base]/[Type]?params: the used ones in order (name=value, percent-encoded), except
 * _cursor when cursor is not NULL, then _cursor=cursor. Returns owned text (free()). */
char *fhir__search_url(const char *base_url, enum fhir_type type, const struct fhir_param *params,
                       size_t n, const bool *used, const char *cursor);

#endif
