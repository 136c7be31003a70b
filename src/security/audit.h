/*
 * The tamper-evident audit trail (HIPAA 164.312(b) audit controls; docs/audit.md): who did
 * what to which record, when, from where and with what outcome, as a hash chain in the
 * store's `audit` table. Each entry's hash is SHA-256 over a canonical, length-prefixed
 * serialization of all its fields plus the previous entry's hash, so changing, removing,
 * inserting or reordering an entry breaks the chain at that point; audit_verify finds and
 * names the first break. Checkpoints copy the chain head (seq, hash) into the log and an
 * anchor file so that truncating the tail, or rewriting the whole chain, shows against a
 * copy kept elsewhere.
 *
 * Appending is atomic with the change it records: call audit_append inside the caller's
 * transaction on the same connection,
 *
 *     store_begin(st);
 *     store_patient_add(st, &p);                      (the change)
 *     audit_append(st, &(struct audit_entry){...});   (its record)
 *     store_commit(st);                               (both or neither)
 *
 * audit_record wraps one entry in its own transaction (events with no data change: a failed
 * login); on the daemon's loop thread audit_submit runs audit_record as a side job of the
 * store writer thread, and code that changes data there writes its own side job with the
 * pattern above (see alerts_persist.c).
 *
 * Entries never hold secrets, passwords or tokens, and hold patients only as their internal
 * id (patient_id), so the trail and its checkpoints carry no PHI beyond that surrogate.
 * Thread: any thread with its own struct store, except where noted.
 */
#ifndef MEDHUB_SECURITY_AUDIT_H
#define MEDHUB_SECURITY_AUDIT_H

#include "core/cfg.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct store_writer;

#define AUDIT_HASH_HEX    STORE_AUDIT_HASH_HEX /* 64 hex digits + NUL */
#define AUDIT_ACTOR_MAX   128                  /* actor: up to 127 bytes */
#define AUDIT_ACTION_MAX  64                   /* action: up to 63 bytes of [a-z0-9_.] */
#define AUDIT_OBJTYPE_MAX 32                   /* object_type: up to 31 bytes of [a-z0-9_] */
#define AUDIT_OBJID_MAX   256                  /* object_id: up to 255 bytes */
#define AUDIT_SOURCE_MAX  128                  /* source: up to 127 bytes */
#define AUDIT_DETAILS_MAX 8192                 /* details: a JSON object, up to 8191 bytes */
/* prev_hash of entry 1: 64 zeros (no key: anyone can verify a copy; docs/audit.md). */
#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* The action of checkpoint entries. */
#define AUDIT_ACTION_CHECKPOINT "audit.checkpoint"

/* Who acted. The names are stored (never renumber nor rename). */
enum audit_actor_kind {
    AUDIT_ACTOR_SYSTEM = 0, /* the daemon itself: rules, alerts, checkpoints */
    AUDIT_ACTOR_CLI = 1,    /* a `medhub` command: the OS user running it */
    AUDIT_ACTOR_USER = 2,   /* a person logged in (web, API session) */
    AUDIT_ACTOR_TOKEN = 3,  /* an API token */
    AUDIT_ACTOR_DEVICE = 4, /* a device */
};

/* What came of it. The names are stored. */
enum audit_outcome {
    AUDIT_SUCCESS = 0, /* done */
    AUDIT_DENIED = 1,  /* refused: not authenticated or not permitted */
    AUDIT_FAILURE = 2, /* attempted, failed (bad input, storage error) */
};

/* One event to record. Every pointer is borrowed for the call; NULL strings mean "". */
struct audit_entry {
    enum audit_actor_kind actor_kind; /* who acted: kind ... */
    int64_t actor_id;                 /* ... id (users.id, devices.id, OS uid), 0 when none */
    const char *actor;                /* ... and name (user, token, device uid, OS login) */
    const char *action;               /* "patient.create", "login.failure", ... (docs/audit.md):
                                       * 1..63 bytes, [a-z0-9_] words joined by '.' */
    enum audit_outcome outcome;       /* success, denied, failure */
    int64_t patient_id;               /* the patient concerned (patients.id), 0 when none */
    const char *object_type;          /* "patient", "device", "alert", ..., or NULL */
    const char *object_id;            /* that object's id as text, or NULL */
    const char *source;               /* client address, "local" for the CLI, or NULL */
    const char *details;              /* a JSON object with more, or NULL for {}: never
                                       * passwords, secrets or tokens (keys named so are
                                       * refused), no free text that may hold PHI */
    bool break_glass;                 /* emergency access (HIPAA 164.312(a)(2)(ii)) */
};

/* "system", "cli", "user", "token", "device"; "success", "denied", "failure" ("?" else). */
const char *audit_actor_kind_name(enum audit_actor_kind k);
const char *audit_outcome_name(enum audit_outcome o);

/* Writes one CSV cell of an export and its separator (",", or CRLF when last): quoted when
 * it holds a comma, quote, CR or LF (RFC 4180); text (not numbers) that a spreadsheet would
 * run as a formula (= + - @ tab CR first) gets a leading '. Thread: any. */
void audit_csv_cell(FILE *out, const char *s, bool text, bool last);

/* Checks e (lengths, action syntax, details a JSON object without secret-named keys).
 * Returns 0 or HX_EINVAL with the reason in why (may be NULL). Thread: any. */
int audit_entry_check(const struct audit_entry *e, char *why, size_t why_len);

/* Appends e to the chain INSIDE the caller's transaction on st (store_begin): reads the head
 * (seq, hash) within that transaction, so appends of every connection and process serialize
 * on the database's write lock; assigns seq = head + 1 and time = now. The entry is durable
 * with, and only with, the caller's commit; a rollback leaves no entry and no gap.
 * OUT: *seq (may be NULL) the entry's sequence number.
 * Errors: HX_EINVAL (e fails audit_entry_check; or no transaction is open: the entry would not
 * be atomic with its change), HX_EDENIED (the database refused an entry that does not continue
 * its chain), the store's errors. On error the caller rolls back. */
int audit_append(struct store *st, const struct audit_entry *e, int64_t *seq);

/* audit_append in its own transaction, for events without a data change. Must not be called
 * inside one. */
int audit_record(struct store *st, const struct audit_entry *e, int64_t *seq);

/* Completion of audit_submit on the loop thread: status 0 and the entry's seq, or an error
 * (nothing was recorded). */
typedef void audit_done_fn(void *arg, int64_t seq, int status);

/* From the loop thread: copies e (validated first) and records it with audit_record on the
 * store writer thread, between two observation commits; done (may be NULL) then runs on the
 * loop. Returns 0, HX_EINVAL (e is invalid) or HX_ESHUTDOWN (the writer is stopping); if it
 * returns an error, done is never called. Thread: loop. */
int audit_submit(struct store_writer *w, const struct audit_entry *e, audit_done_fn *done,
                 void *arg);

/* ---- Canonical serialization and hash ----------------------------------------------------- */

/* The canonical serialization of r, every field but hash, in this order: the version tag
 * "medhub-audit-v1", seq, time_us, actor_kind, actor_id, actor, action, outcome, patient_id,
 * object_type, object_id, source, details, break_glass, prev_hash. Each field is a type byte
 * ('s' text, 'i' integer, 'n' null), a 4-byte big-endian length and the bytes (integers as 8
 * bytes big-endian two's complement), so no two different rows serialize alike.
 * Writes up to cap bytes into buf (may be NULL with cap 0). OUT: *len the full length.
 * Thread: any. */
void audit_canonical(const struct store_audit_row *r, uint8_t *buf, size_t cap, size_t *len);

/* SHA-256 of audit_canonical(r), as 64 lower-case hex digits. Returns 0 or -ENOMEM. */
int audit_row_hash(const struct store_audit_row *r, char out[AUDIT_HASH_HEX]);

/* ---- Checkpoints -------------------------------------------------------------------------- */

/* When checkpoints are due and where anchors go (from the [audit] configuration). */
struct audit_policy {
    uint32_t checkpoint_entries;    /* due after this many entries since the last; 0: never */
    uint32_t checkpoint_interval_s; /* due this long after the last if entries came since;
                                     * 0: never */
    char anchor_file[CFG_PATH_MAX]; /* append-only anchor file, "" for none */
};

/* The policy of cfg ([audit] keys). */
void audit_policy_from_cfg(struct audit_policy *p, const struct cfg *cfg);

/* A chain head, or a checkpoint of one: the entry seq had this hash. */
struct audit_anchor {
    int64_t seq;               /* >= 1 */
    char hash[AUDIT_HASH_HEX]; /* 64 lower-case hex digits */
};

/* Writes a checkpoint when one is due (or always with force, if the chain is not empty): in
 * its own transaction appends an audit.checkpoint entry whose details name the head it
 * covers, by actor (its actor fields; NULL: system "audit"); after the commit logs
 * "audit checkpoint seq=N hash=H" (the new head: the checkpoint entry itself) at INFO and
 * appends the same to p->anchor_file (O_APPEND, fsync). Takes the write lock only when one is
 * due. OUT: *written (may be NULL) whether one was written, *head (may be NULL) the head now.
 * Errors: the store's; an anchor file that cannot be written is logged (ERROR), not
 * returned: the checkpoint entry is in the chain either way. Must not be called inside a
 * transaction. */
int audit_checkpoint(struct store *st, const struct audit_policy *p,
                     const struct audit_entry *actor, bool force, bool *written,
                     struct audit_anchor *head);

/* ---- Anchors and verification ------------------------------------------------------------- */

/* Parses "SEQ:HASH" (a command-line --anchor): SEQ a decimal 1..2^63-1, HASH 64 hex digits
 * (upper case is folded). s need not be NUL-terminated. Returns 0 or HX_EMALFORMED. */
int audit_anchor_parse(const char *s, size_t len, struct audit_anchor *out);

/* Finds an anchor in one line of an anchor file or a log: the words "seq=N" and "hash=H"
 * (each at the start of the line or after a space; in any order; other words ignored).
 * Returns 0, HX_ENOTFOUND (the line names no anchor: neither word) or HX_EMALFORMED (one
 * of them is missing or bad). */
int audit_anchor_parse_line(const char *line, size_t len, struct audit_anchor *out);

/* What is wrong at the first bad entry. */
enum audit_problem {
    AUDIT_OK = 0,
    AUDIT_MODIFIED,  /* its hash does not match its fields */
    AUDIT_DELETED,   /* missing: a gap in seq, or later entries renumbered over it */
    AUDIT_INSERTED,  /* not part of the chain: later entries were renumbered around it */
    AUDIT_REORDERED, /* an entry found at another position */
    AUDIT_UNLINKED,  /* well-formed but prev_hash is not its predecessor's hash: the
                      * predecessor was rewritten (hash recomputed), or this one forged */
    AUDIT_TRUNCATED, /* an anchor's seq is past the end of the chain */
    AUDIT_REWRITTEN, /* an anchor's seq has another hash: the chain was rewritten */
    AUDIT_MALFORMED, /* a column has a type or bytes no append writes */
};

/* "ok", "modified", "deleted", "inserted", "reordered", "unlinked", "truncated",
 * "rewritten", "malformed". */
const char *audit_problem_name(enum audit_problem p);

/* Result of audit_verify. */
struct audit_verify_result {
    bool intact;                /* no problem found */
    int64_t entries;            /* entries checked and found good (all of them when intact) */
    struct audit_anchor head;   /* the last good entry (seq 0 when none) */
    size_t anchors_checked;     /* anchors found in the chain with their hash */
    enum audit_problem problem; /* the first problem, AUDIT_OK when intact */
    int64_t bad_seq;            /* the entry it concerns */
    char message[256];          /* "entry 42: hash mismatch (modified)" */
};

/* Called about once a second while verify runs (progress display). */
typedef void audit_progress_fn(void *arg, int64_t entries, int64_t seq);

/* Walks the whole chain in seq order with constant memory (one streaming scan, plus a second
 * one on a failure, to name it): recomputes each hash, checks seq has no gap and each
 * prev_hash is its predecessor's hash, and that each of anchors[0..n_anchors) (any order) is
 * in the chain with its hash. Stops at the first problem and names it in out. progress may
 * be NULL. Returns 0 when the walk completed (intact or not: see out->intact) or a store
 * error. Thread: any (reads only; a read-only connection is enough). */
int audit_verify(struct store *st, const struct audit_anchor *anchors, size_t n_anchors,
                 audit_progress_fn *progress, void *arg, struct audit_verify_result *out);

/* ---- The daemon's part -------------------------------------------------------------------- */

struct audit_service;

/* Starts the daemon's audit service on the loop: records "server.start" and checks every few
 * seconds, as a writer side job, whether a checkpoint is due (p is copied). OUT: *out
 * returns owned. Thread: loop. */
int audit_service_start(struct audit_service **out, uv_loop_t *loop, struct store_writer *w,
                        const struct audit_policy *p);
/* Stops the timer and queues "server.stop" and a last checkpoint check: call before
 * store_writer_stop, which runs them. Thread: loop. */
void audit_service_stop(struct audit_service *s);
/* Frees it once the loop has run after stop (the timer's close callback). NULL is fine. */
void audit_service_free(struct audit_service *s);

#endif
