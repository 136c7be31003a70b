/*
 * Verifying the audit chain and parsing anchors. audit_verify walks every entry once in seq
 * order (constant memory: the store streams rows, only the previous hash is kept), recomputes
 * each hash and checks the links; at the first problem it stops and, with one more
 * streaming scan, works out what happened (modified, deleted, inserted, reordered) to name it.
 * Anchors (checkpoints kept elsewhere) catch what the chain alone cannot: a truncated tail or a
 * rewritten chain. Layer: security. Thread: any thread with its own struct store.
 */
#include "security/audit.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* How far renumbering is looked for around a bad entry (entries shifted by up to this). */
#define AUDIT_RENUMBER_WINDOW 16
/* Rows between two looks at the clock for progress. */
#define AUDIT_PROGRESS_ROWS 4096

static const char *const problem_names[] = {
    "ok",       "modified",  "deleted",   "inserted",  "reordered",
    "unlinked", "truncated", "rewritten", "malformed",
};
_Static_assert(HX_ARRAY_LEN(problem_names) == AUDIT_MALFORMED + 1, "problem_names order");

const char *audit_problem_name(enum audit_problem p)
{
    return (unsigned)p < HX_ARRAY_LEN(problem_names) ? problem_names[p] : "?";
}

/* ---- Anchors ------------------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decimal sequence number 1..INT64_MAX of exactly len bytes. */
static int parse_seq(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 19)
        return HX_EMALFORMED;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HX_EMALFORMED;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v == 0 || v > (uint64_t)INT64_MAX)
        return HX_EMALFORMED;
    *out = (int64_t)v;
    return 0;
}

/* Exactly 64 hex digits, folded to lower case into out. */
static int parse_hash(const char *s, size_t len, char out[AUDIT_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    if (len != 64)
        return HX_EMALFORMED;
    for (size_t i = 0; i < 64; i++) {
        int v = hexval(s[i]);
        if (v < 0)
            return HX_EMALFORMED;
        out[i] = hex[v];
    }
    out[64] = '\0';
    return 0;
}

int audit_anchor_parse(const char *s, size_t len, struct audit_anchor *out)
{
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return HX_EMALFORMED;
    struct audit_anchor a;
    size_t seq_len = (size_t)(colon - s);
    if (parse_seq(s, seq_len, &a.seq) < 0 || parse_hash(colon + 1, len - seq_len - 1, a.hash) < 0)
        return HX_EMALFORMED;
    *out = a;
    return 0;
}

/* The value of the word "key=" in line (at its start or after a space), up to the next
 * space or the end. OUT: *val, *val_len. Returns whether the word is there. */
static bool find_word(const char *line, size_t len, const char *key, const char **val,
                      size_t *val_len)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen <= len; i++) {
        if ((i > 0 && line[i - 1] != ' ') || memcmp(line + i, key, klen) != 0)
            continue;
        size_t j = i + klen;
        while (j < len && line[j] != ' ' && line[j] != '\n' && line[j] != '\r' && line[j] != '\t')
            j++;
        *val = line + i + klen;
        *val_len = j - i - klen;
        return true;
    }
    return false;
}

int audit_anchor_parse_line(const char *line, size_t len, struct audit_anchor *out)
{
    const char *seq, *hash;
    size_t seq_len, hash_len;
    bool has_seq = find_word(line, len, "seq=", &seq, &seq_len);
    bool has_hash = find_word(line, len, "hash=", &hash, &hash_len);
    if (!has_seq && !has_hash)
        return HX_ENOTFOUND;
    struct audit_anchor a;
    if (!has_seq || !has_hash || parse_seq(seq, seq_len, &a.seq) < 0 ||
        parse_hash(hash, hash_len, a.hash) < 0)
        return HX_EMALFORMED;
    *out = a;
    return 0;
}

/* ---- Verification ------------------------------------------------------------------------- */

/* A row copied out of the scan (the scan only lends it). */
struct row_copy {
    struct store_audit_row r;
    char *s[10]; /* owned strings the row points to */
};

static void row_copy(struct row_copy *c, const struct store_audit_row *r)
{
    const char *const *src[] = {&r->actor_kind,  &r->actor,     &r->action, &r->outcome,
                                &r->object_type, &r->object_id, &r->source, &r->details,
                                &r->prev_hash,   &r->hash};
    const char **dst[] = {&c->r.actor_kind,  &c->r.actor,     &c->r.action, &c->r.outcome,
                          &c->r.object_type, &c->r.object_id, &c->r.source, &c->r.details,
                          &c->r.prev_hash,   &c->r.hash};
    c->r = *r;
    for (size_t i = 0; i < HX_ARRAY_LEN(c->s); i++) {
        c->s[i] = hx_xstrdup(*src[i]);
        *dst[i] = c->s[i];
    }
}

static void row_release(struct row_copy *c)
{
    for (size_t i = 0; i < HX_ARRAY_LEN(c->s); i++)
        HX_FREE(c->s[i]);
}

/* Whether r's stored hash is the hash of its fields with seq replaced by seq. */
static bool hashes_as(const struct store_audit_row *r, int64_t seq)
{
    struct store_audit_row t = *r;
    char h[AUDIT_HASH_HEX];
    t.seq = seq;
    return audit_row_hash(&t, h) == 0 && strcmp(h, r->hash) == 0;
}

enum stop_reason {
    STOP_NONE = 0,
    STOP_DONE = 1,     /* the problem is named already */
    STOP_MISMATCH = 2, /* bad_row's hash does not match its fields: diagnose */
    STOP_UNLINKED = 3, /* bad_row is well-formed but does not link */
};

struct walk {
    struct audit_verify_result *out;
    const struct audit_anchor *anchors; /* sorted by seq */
    size_t n_anchors;
    size_t next_anchor;               /* first anchor not yet reached */
    int64_t expect_seq;               /* the next entry's seq */
    char expect_prev[AUDIT_HASH_HEX]; /* the next entry's prev_hash */
    audit_progress_fn *progress;
    void *progress_arg;
    int64_t last_progress_us;
    int err;             /* a hashing failure */
    struct row_copy bad; /* the row the walk stopped at (STOP_MISMATCH/UNLINKED) */
};

static int problem(struct walk *w, enum audit_problem p, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int problem(struct walk *w, enum audit_problem p, int64_t seq, const char *fmt, ...)
{
    va_list ap;
    w->out->intact = false;
    w->out->problem = p;
    w->out->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(w->out->message, sizeof(w->out->message), fmt, ap);
    va_end(ap);
    return STOP_DONE;
}

static int walk_row(void *arg, const struct store_audit_row *r)
{
    struct walk *w = arg;
    int64_t e = w->expect_seq;
    if (r->seq < e)
        return problem(w, AUDIT_INSERTED, r->seq,
                       "entry %" PRId64 ": not a valid sequence number (inserted)", r->seq);
    if (r->seq > e) {
        if (r->seq == e + 1)
            return problem(w, AUDIT_DELETED, e, "entry %" PRId64 " missing (deleted)", e);
        return problem(w, AUDIT_DELETED, e, "entries %" PRId64 " to %" PRId64 " missing (deleted)",
                       e, r->seq - 1);
    }
    if (r->malformed)
        return problem(w, AUDIT_MALFORMED, e,
                       "entry %" PRId64 ": malformed: a field holds a type or bytes medhub "
                       "never writes (modified)",
                       e);
    char h[AUDIT_HASH_HEX];
    if ((w->err = audit_row_hash(r, h)) < 0)
        return STOP_DONE;
    if (strcmp(h, r->hash) != 0) {
        row_copy(&w->bad, r);
        return STOP_MISMATCH;
    }
    if (strcmp(r->prev_hash, w->expect_prev) != 0) {
        row_copy(&w->bad, r);
        return STOP_UNLINKED;
    }
    while (w->next_anchor < w->n_anchors && w->anchors[w->next_anchor].seq == e) {
        if (strcmp(w->anchors[w->next_anchor].hash, r->hash) != 0)
            return problem(w, AUDIT_REWRITTEN, e,
                           "entry %" PRId64 ": hash differs from the anchor %.16s... (the "
                           "chain was rewritten from here or before)",
                           e, w->anchors[w->next_anchor].hash);
        w->out->anchors_checked++;
        w->next_anchor++;
    }
    w->out->entries++;
    w->out->head.seq = e;
    memcpy(w->out->head.hash, r->hash, AUDIT_HASH_HEX);
    memcpy(w->expect_prev, r->hash, AUDIT_HASH_HEX);
    w->expect_seq = e + 1;
    if (w->progress && w->out->entries % AUDIT_PROGRESS_ROWS == 0) {
        int64_t now = hx_time_mono_us();
        if (now - w->last_progress_us >= HX_USEC_PER_SEC) {
            w->last_progress_us = now;
            w->progress(w->progress_arg, w->out->entries, e);
        }
    }
    return STOP_NONE;
}

/* The second scan: looks for the entry that should have been at seq want (the one whose
 * prev_hash is its predecessor's hash and whose hash holds with seq want) elsewhere. */
struct find_moved {
    int64_t want;  /* the seq it belongs at */
    int64_t found; /* where it is, 0 when not found */
};

static int find_moved_row(void *arg, const struct store_audit_row *r)
{
    struct find_moved *f = arg;
    if (r->seq != f->want && !r->malformed && hashes_as(r, f->want)) {
        f->found = r->seq;
        return 1;
    }
    return 0;
}

/* Names the problem at w->bad, an entry at the expected seq whose hash does not match. */
static int diagnose_mismatch(struct store *st, struct walk *w)
{
    const struct store_audit_row *r = &w->bad.r;
    int64_t e = r->seq;
    struct find_moved f = {.want = e};
    struct store_audit_filter flt = {.prev_hash = w->expect_prev};
    int rc = store_audit_scan(st, &flt, find_moved_row, &f);
    if (rc < 0)
        return rc;
    if (f.found) {
        if (hashes_as(r, f.found))
            return problem(w, AUDIT_REORDERED, e,
                           "entries %" PRId64 " and %" PRId64 " swapped (reordered)", e, f.found);
        for (int64_t k = 1; k <= AUDIT_RENUMBER_WINDOW; k++)
            if (hashes_as(r, e + k) || (e - k >= 1 && hashes_as(r, e - k)))
                return problem(w, AUDIT_REORDERED, e,
                               "entry %" PRId64 ": found at seq %" PRId64 " (reordered)", e,
                               f.found);
        return problem(w, AUDIT_INSERTED, e,
                       "entry %" PRId64 ": inserted (not part of the chain; the original entry "
                       "%" PRId64 " is now at seq %" PRId64 ")",
                       e, e, f.found);
    }
    for (int64_t k = 1; k <= AUDIT_RENUMBER_WINDOW; k++) {
        if (hashes_as(r, e + k)) {
            if (k == 1)
                return problem(w, AUDIT_DELETED, e,
                               "entry %" PRId64 " missing (deleted; later entries renumbered)", e);
            return problem(w, AUDIT_DELETED, e,
                           "entries %" PRId64 " to %" PRId64
                           " missing (deleted; later entries renumbered)",
                           e, e + k - 1);
        }
        if (e - k >= 1 && hashes_as(r, e - k))
            return problem(w, AUDIT_INSERTED, e - k,
                           "entry %" PRId64 ": inserted (later entries renumbered)", e - k);
    }
    return problem(w, AUDIT_MODIFIED, e, "entry %" PRId64 ": hash mismatch (modified)", e);
}

static int cmp_anchor(const void *a, const void *b)
{
    const struct audit_anchor *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int audit_verify(struct store *st, const struct audit_anchor *anchors, size_t n_anchors,
                 audit_progress_fn *progress, void *arg, struct audit_verify_result *out)
{
    memset(out, 0, sizeof(*out));
    out->intact = true;
    struct walk w = {
        .out = out,
        .n_anchors = n_anchors,
        .expect_seq = 1,
        .progress = progress,
        .progress_arg = arg,
        .last_progress_us = hx_time_mono_us(),
    };
    memcpy(w.expect_prev, AUDIT_GENESIS, AUDIT_HASH_HEX);
    struct audit_anchor *sorted = NULL;
    if (n_anchors) {
        sorted = hx_alloc_array(n_anchors, sizeof(*sorted));
        if (!sorted)
            return HX_ETOOBIG;
        memcpy(sorted, anchors, n_anchors * sizeof(*sorted));
        qsort(sorted, n_anchors, sizeof(*sorted), cmp_anchor);
    }
    w.anchors = sorted;

    struct store_audit_filter all = {0};
    int rc = store_audit_scan(st, &all, walk_row, &w);
    if (rc == STOP_MISMATCH) {
        rc = diagnose_mismatch(st, &w);
    } else if (rc == STOP_UNLINKED) {
        int64_t e = w.bad.r.seq;
        if (e == 1)
            rc = problem(&w, AUDIT_UNLINKED, 1,
                         "entry 1: prev_hash is not the genesis value (forged, or the chain's "
                         "start removed and the rest renumbered)");
        else
            rc = problem(&w, AUDIT_UNLINKED, e,
                         "entry %" PRId64 ": does not link to entry %" PRId64 " (entry %" PRId64
                         " rewritten with a recomputed hash, or entry %" PRId64 " forged)",
                         e, e - 1, e - 1, e);
    } else if (rc == STOP_NONE && w.next_anchor < n_anchors) {
        const struct audit_anchor *a = &sorted[w.next_anchor];
        rc = problem(&w, AUDIT_TRUNCATED, a->seq,
                     "entry %" PRId64 " missing: the chain ends at seq %" PRId64 " (truncated)",
                     a->seq, out->head.seq);
    }
    row_release(&w.bad);
    free(sorted);
    if (w.err < 0)
        return w.err;
    return rc < 0 ? rc : 0;
}
