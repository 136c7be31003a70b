/*
 * The audit trail's chain: checking an entry, its canonical serialization and SHA-256 hash,
 * appending inside the caller's transaction, and checkpoints (a checkpoint entry, a log
 * line, an fsynced line in the anchor file). Verification is in audit_verify.c, the daemon's
 * side jobs in audit_service.c.
 * Layer: security (above store; OpenSSL for SHA-256, jansson to check details).
 * Thread: any thread with its own struct store; no shared state.
 */
#include "security/audit.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The version tag that starts every serialization: a new format is a new tag. */
#define AUDIT_CANON_TAG "medhub-audit-v1"

static const char *const actor_kinds[] = {"system", "cli", "user", "token", "device"};
static const char *const outcomes[] = {"success", "denied", "failure"};

const char *audit_actor_kind_name(enum audit_actor_kind k)
{
    return (unsigned)k < HX_ARRAY_LEN(actor_kinds) ? actor_kinds[k] : "?";
}

const char *audit_outcome_name(enum audit_outcome o)
{
    return (unsigned)o < HX_ARRAY_LEN(outcomes) ? outcomes[o] : "?";
}

/* ---- Checking an entry -------------------------------------------------------------------- */

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* 1..63 bytes of [a-z0-9_] words joined by single dots. */
static bool action_ok(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n >= AUDIT_ACTION_MAX || a[0] == '.' || a[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c == '.' && a[i + 1] == '.')
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool object_type_ok(const char *t)
{
    if (strlen(t) >= AUDIT_OBJTYPE_MAX)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '_'))
            return false;
    return true;
}

/* A key that names a credential: its value must never reach the trail. A tripwire for
 * careless callers, not a guarantee (docs/audit.md). */
static bool is_secret_key(const char *key)
{
    char low[64];
    size_t n = strnlen(key, sizeof(low) - 1);
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)key[i]);
    low[n] = '\0';
    if (strstr(low, "password") || strstr(low, "passwd") || strstr(low, "secret"))
        return true;
    if (strcmp(low, "token") == 0 || strcmp(low, "totp") == 0)
        return true;
    return n > 6 && strcmp(low + n - 6, "_token") == 0;
}

/* Depth-first over objects and arrays: the first credential-named key, or NULL. */
static const char *find_secret_key(json_t *j, int depth)
{
    if (depth > 32)
        return "(nested too deep)";
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if (is_secret_key(k))
                return k;
            const char *deep = find_secret_key(v, depth + 1);
            if (deep)
                return deep;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            const char *deep = find_secret_key(v, depth + 1);
            if (deep)
                return deep;
        }
    }
    return NULL;
}

static int refuse(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why_len)
        vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return HX_EINVAL;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

int audit_entry_check(const struct audit_entry *e, char *why, size_t why_len)
{
    const char *actor = str_or_empty(e->actor), *object_id = str_or_empty(e->object_id);
    const char *source = str_or_empty(e->source);
    if ((unsigned)e->actor_kind >= HX_ARRAY_LEN(actor_kinds))
        return refuse(why, why_len, "%s", "unknown actor kind");
    if ((unsigned)e->outcome >= HX_ARRAY_LEN(outcomes))
        return refuse(why, why_len, "%s", "unknown outcome");
    if (!e->action || !action_ok(e->action))
        return refuse(why, why_len,
                      "action '%s': expected 1-63 bytes of [a-z0-9_] words "
                      "joined by dots",
                      str_or_empty(e->action));
    if (strlen(actor) >= AUDIT_ACTOR_MAX || has_control(actor))
        return refuse(why, why_len, "%s", "actor too long or with control characters");
    if (!object_type_ok(str_or_empty(e->object_type)))
        return refuse(why, why_len, "%s", "object type: up to 31 bytes of [a-z0-9_]");
    if (strlen(object_id) >= AUDIT_OBJID_MAX || has_control(object_id))
        return refuse(why, why_len, "%s", "object id too long or with control characters");
    if (strlen(source) >= AUDIT_SOURCE_MAX || has_control(source))
        return refuse(why, why_len, "%s", "source too long or with control characters");
    if (e->patient_id < 0)
        return refuse(why, why_len, "%s", "negative patient id");
    if (!e->details)
        return 0;
    size_t n = strnlen(e->details, AUDIT_DETAILS_MAX);
    if (n >= AUDIT_DETAILS_MAX)
        return refuse(why, why_len, "%s", "details longer than 8191 bytes");
    json_error_t jerr;
    json_t *j = json_loadb(e->details, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return refuse(why, why_len, "details are not JSON: %s", jerr.text);
    const char *bad = json_is_object(j) ? find_secret_key(j, 0) : "(not an object)";
    int rc = 0;
    if (bad)
        rc = refuse(why, why_len, "details must be an object without credentials: '%s'", bad);
    json_decref(j);
    return rc;
}

/* ---- Canonical serialization and hash ----------------------------------------------------- */

/* Where serialized bytes go: a buffer (as far as it reaches) and/or a digest. */
struct canon_sink {
    uint8_t *buf;   /* NULL for none */
    size_t cap;     /* bytes of buf */
    size_t len;     /* bytes produced so far (may exceed cap) */
    EVP_MD_CTX *md; /* NULL for none */
    bool md_failed; /* an EVP update failed */
};

static void put(struct canon_sink *s, const void *p, size_t n)
{
    if (s->buf && s->len < s->cap)
        memcpy(s->buf + s->len, p, n < s->cap - s->len ? n : s->cap - s->len);
    if (s->md && n && EVP_DigestUpdate(s->md, p, n) != 1)
        s->md_failed = true;
    s->len += n;
}

static void put_field(struct canon_sink *s, char type, const void *p, size_t n)
{
    /* Text longer than 4 GiB cannot come from SQLite (1 GB limit); cut the length anyway. */
    uint32_t len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    uint8_t head[5] = {(uint8_t)type, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                       (uint8_t)(len >> 8), (uint8_t)len};
    put(s, head, sizeof(head));
    put(s, p, len);
}

static void put_text(struct canon_sink *s, const char *t)
{
    t = str_or_empty(t);
    put_field(s, 's', t, strlen(t));
}

static void put_int(struct canon_sink *s, int64_t v)
{
    uint64_t u = (uint64_t)v;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (56 - 8 * i));
    put_field(s, 'i', b, sizeof(b));
}

static void canon_walk(struct canon_sink *s, const struct store_audit_row *r)
{
    put_text(s, AUDIT_CANON_TAG);
    put_int(s, r->seq);
    put_int(s, r->time_us);
    put_text(s, r->actor_kind);
    put_int(s, r->actor_id);
    put_text(s, r->actor);
    put_text(s, r->action);
    put_text(s, r->outcome);
    if (r->has_patient)
        put_int(s, r->patient_id);
    else
        put_field(s, 'n', "", 0);
    put_text(s, r->object_type);
    put_text(s, r->object_id);
    put_text(s, r->source);
    put_text(s, r->details);
    put_int(s, r->break_glass ? 1 : 0);
    put_text(s, r->prev_hash);
}

void audit_canonical(const struct store_audit_row *r, uint8_t *buf, size_t cap, size_t *len)
{
    struct canon_sink s = {.buf = buf, .cap = buf ? cap : 0};
    canon_walk(&s, r);
    *len = s.len;
}

int audit_row_hash(const struct store_audit_row *r, char out[AUDIT_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    struct canon_sink s = {.md = EVP_MD_CTX_new()};
    unsigned char d[32];
    unsigned int n = 0;
    if (!s.md || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s.md);
        return -ENOMEM;
    }
    canon_walk(&s, r);
    int ok = !s.md_failed && EVP_DigestFinal_ex(s.md, d, &n) == 1 && n == sizeof(d);
    EVP_MD_CTX_free(s.md);
    if (!ok)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(d); i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* ---- Appending ---------------------------------------------------------------------------- */

int audit_append(struct store *st, const struct audit_entry *e, int64_t *seq)
{
    char why[160];
    if (audit_entry_check(e, why, sizeof(why)) < 0) {
        log_warn(NULL, "audit", "refusing an invalid audit entry", "reason=\"%s\"", why);
        return HX_EINVAL;
    }
    if (!store_in_transaction(st))
        return HX_EINVAL; /* not atomic with its change: a caller bug */
    struct store_audit_head h;
    int rc = store_audit_head(st, &h);
    if (rc < 0)
        return rc;
    struct store_audit_row r = {
        .seq = h.seq + 1,
        .time_us = hx_time_now_us(),
        .actor_kind = audit_actor_kind_name(e->actor_kind),
        .actor_id = e->actor_id,
        .actor = str_or_empty(e->actor),
        .action = e->action,
        .outcome = audit_outcome_name(e->outcome),
        .has_patient = e->patient_id != 0,
        .patient_id = e->patient_id,
        .object_type = str_or_empty(e->object_type),
        .object_id = str_or_empty(e->object_id),
        .source = str_or_empty(e->source),
        .details = e->details ? e->details : "{}",
        .break_glass = e->break_glass,
        .prev_hash = h.seq ? h.hash : AUDIT_GENESIS,
    };
    char hash[AUDIT_HASH_HEX];
    if ((rc = audit_row_hash(&r, hash)) < 0)
        return rc;
    r.hash = hash;
    if ((rc = store_audit_append(st, &r)) < 0)
        return rc;
    if (seq)
        *seq = r.seq;
    return 0;
}

int audit_record(struct store *st, const struct audit_entry *e, int64_t *seq)
{
    int rc = store_begin(st);
    if (rc < 0)
        return rc;
    if ((rc = audit_append(st, e, seq)) < 0) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st);
}

/* ---- Checkpoints -------------------------------------------------------------------------- */

void audit_policy_from_cfg(struct audit_policy *p, const struct cfg *cfg)
{
    memset(p, 0, sizeof(*p));
    p->checkpoint_entries = cfg->audit.checkpoint_entries;
    p->checkpoint_interval_s = cfg->audit.checkpoint_interval_s;
    snprintf(p->anchor_file, sizeof(p->anchor_file), "%s", cfg->audit.anchor_file);
}

static int first_time(void *arg, const struct store_audit_row *r)
{
    *(int64_t *)arg = r->time_us;
    return 0;
}

/* Whether a checkpoint is due at now_us with head h and the last checkpoint c (seq 0: none;
 * the interval then counts from the first entry). */
static int is_due(struct store *st, const struct audit_policy *p, const struct store_audit_head *h,
                  const struct store_audit_head *c, int64_t now_us, bool *due)
{
    *due = false;
    if (h->seq == 0 || h->seq == c->seq)
        return 0; /* empty, or the head is a checkpoint already */
    if (p->checkpoint_entries && h->seq - c->seq >= (int64_t)p->checkpoint_entries) {
        *due = true;
        return 0;
    }
    if (!p->checkpoint_interval_s)
        return 0;
    int64_t since = c->time_us;
    if (c->seq == 0) {
        struct store_audit_filter f = {.limit = 1};
        int rc = store_audit_scan(st, &f, first_time, &since);
        if (rc < 0)
            return rc;
    }
    *due = now_us - since >= (int64_t)p->checkpoint_interval_s * HX_USEC_PER_SEC;
    return 0;
}

/* Appends one line to the anchor file and fsyncs it (and its directory when it was new). */
static int append_anchor(const char *path, const struct audit_anchor *a)
{
    struct stat sb;
    bool is_new = stat(path, &sb) < 0 && errno == ENOENT;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    char when[40], line[160];
    hx_time_format_rfc3339(hx_time_now_us(), when, sizeof(when));
    int n = snprintf(line, sizeof(line), "%s audit checkpoint seq=%" PRId64 " hash=%s\n", when,
                     a->seq, a->hash);
    int rc = 0;
    errno = 0;
    if (write(fd, line, (size_t)n) != n)
        rc = errno ? -errno : -EIO;
    else if (fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && is_new) {
        char dir[CFG_PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return rc;
}

int audit_checkpoint(struct store *st, const struct audit_policy *p,
                     const struct audit_entry *actor, bool force, bool *written,
                     struct audit_anchor *head)
{
    if (written)
        *written = false;
    struct store_audit_head h, c;
    int64_t now = hx_time_now_us();
    bool due = false;
    /* The cheap check first, without the write lock. */
    int rc = store_audit_head(st, &h);
    if (rc == 0 && !force)
        rc = store_audit_last(st, AUDIT_ACTION_CHECKPOINT, &c);
    if (rc == 0 && !force)
        rc = is_due(st, p, &h, &c, now, &due);
    if (rc < 0)
        return rc;
    if (h.seq == 0 || (!force && !due)) {
        if (head) {
            head->seq = h.seq;
            snprintf(head->hash, sizeof(head->hash), "%s", h.hash);
        }
        return 0;
    }
    /* Again under the write lock: another process may have written one meanwhile. */
    if ((rc = store_begin(st)) < 0)
        return rc;
    rc = store_audit_head(st, &h);
    if (rc == 0)
        rc = store_audit_last(st, AUDIT_ACTION_CHECKPOINT, &c);
    if (rc == 0 && !force)
        rc = is_due(st, p, &h, &c, now, &due);
    if (rc < 0 || (!force && !due)) {
        store_rollback(st);
        if (rc == 0 && head) {
            head->seq = h.seq;
            snprintf(head->hash, sizeof(head->hash), "%s", h.hash);
        }
        return rc;
    }
    char details[256];
    snprintf(details, sizeof(details),
             "{\"head_seq\":%" PRId64 ",\"head_hash\":\"%s\",\"entries_since\":%" PRId64 "}", h.seq,
             h.hash, h.seq - c.seq);
    struct audit_entry e = {.actor_kind = AUDIT_ACTOR_SYSTEM, .actor = "audit"};
    if (actor)
        e = *actor;
    e.action = AUDIT_ACTION_CHECKPOINT;
    e.outcome = AUDIT_SUCCESS;
    e.patient_id = 0;
    e.object_type = "audit";
    e.object_id = NULL;
    e.details = details;
    e.break_glass = false;
    int64_t seq = 0;
    if ((rc = audit_append(st, &e, &seq)) < 0) {
        store_rollback(st);
        return rc;
    }
    struct store_audit_head now_head;
    if ((rc = store_audit_head(st, &now_head)) < 0 || (rc = store_commit(st)) < 0) {
        store_rollback(st);
        return rc;
    }
    struct audit_anchor a = {.seq = now_head.seq};
    snprintf(a.hash, sizeof(a.hash), "%s", now_head.hash);
    log_info(NULL, "audit", "audit checkpoint", "seq=%" PRId64 " hash=%s", a.seq, a.hash);
    if (p->anchor_file[0] && (rc = append_anchor(p->anchor_file, &a)) < 0)
        log_error(NULL, "audit", "cannot write the audit anchor file", "path=\"%s\" err=\"%s\"",
                  p->anchor_file, hx_strerror(rc));
    if (written)
        *written = true;
    if (head)
        *head = a;
    return 0;
}

void audit_csv_cell(FILE *out, const char *s, bool text, bool last)
{
    bool formula =
        text && (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r');
    if (formula || strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        if (formula)
            fputc('\'', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputs(last ? "\r\n" : ",", out);
}
