/*
 * FHIR search parameters -> a typed search (struct fhir_query). Input is the request's
 * name/value pairs, already percent-decoded by the HTTP layer and never NUL-terminated; the
 * output holds its own copies. Strict by default (FHIR R4 search 3.1.1.0: Prefer:
 * handling=strict): an unknown parameter or modifier is 400, unless the caller asked for
 * lenient handling. Also: FHIR date values with prefixes and implicit ranges, resource ids,
 * the keyset cursor token and the search URLs of the Bundle links.
 * Layer: fhir (pure: no I/O, no store access). Thread: any. Fuzzed by fuzz_fhir_search.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "domain/codes.h"
#include "fhir/fhir_int.h"

#include <stdio.h>
#include <string.h>

#define USEC_PER_DAY (INT64_C(86400) * HX_USEC_PER_SEC)

/* ---- Small helpers over (pointer, length) text ------------------------------------------- */

static bool eq(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(s, lit, n) == 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Canonical decimal: no sign, no leading zero (except "0" itself when allow_zero). */
static int parse_u63(const char *s, size_t len, bool allow_zero, int64_t *out)
{
    if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
        return HX_EMALFORMED;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return HX_EMALFORMED;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX || (v == 0 && !allow_zero))
        return HX_EMALFORMED;
    *out = (int64_t)v;
    return 0;
}

/* Canonical signed decimal ("-0" refused). */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    bool neg = len && s[0] == '-';
    int64_t v;
    if (neg && (len == 1 || s[1] == '0'))
        return HX_EMALFORMED;
    if (parse_u63(s + neg, len - neg, !neg, &v) < 0)
        return HX_EMALFORMED;
    *out = neg ? -v : v;
    return 0;
}

int fhir__id_parse(const char *s, size_t len, int64_t *out)
{
    return parse_u63(s, len, false, out);
}

/* ---- Errors ------------------------------------------------------------------------------- */

/* Copies a parameter name for a message: printable ASCII only, at most 40 bytes. */
static void safe_name(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap && i < 40; i++)
        out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (len > 40 && n + 4 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int fail(struct fhir_error *err, int status, const char *code, const char *name,
                size_t name_len, const char *what)
{
    char nm[48];
    safe_name(nm, sizeof(nm), name, name_len);
    err->status = status;
    err->code = code;
    snprintf(err->diagnostics, sizeof(err->diagnostics), "search parameter '%s': %s", nm, what);
    return HX_EINVAL;
}

/* ---- Token lists: a,b,c with \, \| \$ \\ escapes (FHIR R4 search 3.1.1.4.9) -------------- */

struct part {
    const char *p; /* first byte */
    size_t len;    /* bytes */
};

/* Splits on unescaped sep. OUT: parts[0..*n). Returns 0 or HX_ETOOBIG past max. */
static int split(const char *s, size_t len, char sep, struct part *parts, size_t max, size_t *n)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] == '\\') {
            i++;
            continue;
        }
        if (i == len || s[i] == sep) {
            if (k == max)
                return HX_ETOOBIG;
            parts[k++] = (struct part){s + start, (i < len ? i : len) - start};
            start = i + 1;
        }
    }
    *n = k;
    return 0;
}

/* Finds the first unescaped c; returns its index or len. */
static size_t find_unescaped(const char *s, size_t len, char c)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == c)
            return i;
    }
    return len;
}

/* Unescapes into out (cap bytes with NUL). Returns false when it does not fit or holds a NUL
 * byte (such a value can match nothing stored). */
static bool unescape(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < len &&
            (s[i + 1] == ',' || s[i + 1] == '|' || s[i + 1] == '$' || s[i + 1] == '\\'))
            c = s[++i];
        if (c == '\0' || n + 1 >= cap)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

/* A token "[system|]code". OUT: system (has_system false when there is no '|') and code. */
struct token {
    bool has_system;
    struct part system;
    struct part code;
};

static struct token token_split(struct part v)
{
    size_t bar = find_unescaped(v.p, v.len, '|');
    if (bar == v.len)
        return (struct token){.code = v};
    return (struct token){
        .has_system = true, .system = {v.p, bar}, .code = {v.p + bar + 1, v.len - bar - 1}};
}

/* ---- Dates (FHIR R4 search 3.1.1.4.2, datatypes dateTime) --------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads exactly n digits. */
static bool digits(const char *s, size_t len, size_t *i, int n, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || !is_digit(s[*i]))
            return false;
        v = v * 10 + (unsigned)(s[(*i)++] - '0');
    }
    *out = v;
    return true;
}

static const char *const prefixes[] = {"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"};

int fhir__date_parse(const char *s, size_t len, bool date_only, struct fhir_date *out,
                     const char **why)
{
    size_t i = 0;
    out->prefix = FHIR_PREFIX_EQ;
    if (len >= 2 && !is_digit(s[0])) {
        bool found = false;
        for (size_t k = 0; k < HX_ARRAY_LEN(prefixes); k++) {
            if (memcmp(s, prefixes[k], 2) == 0) {
                out->prefix = (enum fhir_prefix)k;
                found = true;
            }
        }
        if (!found) {
            *why = "unknown prefix (expected eq, ne, gt, lt, ge, le, sa or eb)";
            return HX_EMALFORMED;
        }
        i = 2;
    }
    unsigned y, mo = 1, d = 1, hh = 0, mi = 0, ss = 0;
    int64_t frac_us = 0, step = 1;
    *why = "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fff]] with a time zone";
    if (!digits(s, len, &i, 4, &y) || y == 0)
        return HX_EMALFORMED;
    int precision = 0; /* 0 year, 1 month, 2 day, 3 time */
    if (i < len) {
        if (s[i++] != '-' || !digits(s, len, &i, 2, &mo) || mo < 1 || mo > 12)
            return HX_EMALFORMED;
        precision = 1;
    }
    if (i < len) {
        if (s[i++] != '-' || !digits(s, len, &i, 2, &d) || d < 1 || d > days_in_month(y, mo))
            return HX_EMALFORMED;
        precision = 2;
    }
    int64_t tz_us = 0;
    if (i < len) {
        if (date_only) {
            *why = "expected a date (YYYY, YYYY-MM or YYYY-MM-DD), not a time";
            return HX_EMALFORMED;
        }
        if (s[i++] != 'T' || !digits(s, len, &i, 2, &hh) || hh > 23 || i >= len || s[i++] != ':' ||
            !digits(s, len, &i, 2, &mi) || mi > 59)
            return HX_EMALFORMED;
        step = 60 * HX_USEC_PER_SEC;
        if (i < len && s[i] == ':') {
            i++;
            if (!digits(s, len, &i, 2, &ss) || ss > 59)
                return HX_EMALFORMED;
            step = HX_USEC_PER_SEC;
            if (i < len && s[i] == '.') {
                i++;
                int n = 0;
                int64_t scale = HX_USEC_PER_SEC;
                while (i < len && is_digit(s[i]) && n < 9) {
                    if (n < 6) {
                        scale /= 10;
                        frac_us += (s[i] - '0') * scale;
                    }
                    i++;
                    n++;
                }
                if (n == 0)
                    return HX_EMALFORMED;
                step = n >= 6 ? 1 : scale;
            }
        }
        if (i >= len) {
            *why = "a time needs a time zone (Z or +hh:mm)";
            return HX_EMALFORMED;
        }
        if (s[i] == 'Z') {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            bool neg = s[i++] == '-';
            unsigned th, tm;
            if (!digits(s, len, &i, 2, &th) || th > 14 || i >= len || s[i++] != ':' ||
                !digits(s, len, &i, 2, &tm) || tm > 59)
                return HX_EMALFORMED;
            tz_us = ((int64_t)th * 60 + tm) * 60 * HX_USEC_PER_SEC * (neg ? -1 : 1);
        } else {
            return HX_EMALFORMED;
        }
        if (i != len)
            return HX_EMALFORMED;
        precision = 3;
    }
    if (out->prefix == FHIR_PREFIX_AP) {
        *why = "the prefix ap (approximately) is not supported";
        return HX_EINVAL;
    }
    int64_t day = days_from_civil(y, mo, d);
    out->start_us = day * USEC_PER_DAY + (((int64_t)hh * 60 + mi) * 60 + ss) * HX_USEC_PER_SEC +
                    frac_us - tz_us;
    switch (precision) {
    case 0:
        out->end_us = days_from_civil((int64_t)y + 1, 1, 1) * USEC_PER_DAY;
        break;
    case 1:
        out->end_us =
            days_from_civil(mo == 12 ? (int64_t)y + 1 : y, mo == 12 ? 1 : mo + 1, 1) * USEC_PER_DAY;
        break;
    case 2:
        out->end_us = out->start_us + USEC_PER_DAY;
        break;
    default:
        out->end_us = out->start_us + step;
        break;
    }
    return 0;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int fhir__range_apply(struct store_time_range *r, const struct fhir_date *d)
{
    switch (d->prefix) {
    case FHIR_PREFIX_EQ:
        r->lo_us = max64(r->lo_us, d->start_us);
        r->hi_us = min64(r->hi_us, d->end_us);
        break;
    case FHIR_PREFIX_NE:
        if (r->n_exclude == STORE_RANGE_EXCLUDE_MAX)
            return HX_ETOOBIG;
        r->exclude[r->n_exclude].lo_us = d->start_us;
        r->exclude[r->n_exclude++].hi_us = d->end_us;
        break;
    case FHIR_PREFIX_GT:
    case FHIR_PREFIX_SA:
        r->lo_us = max64(r->lo_us, d->end_us);
        break;
    case FHIR_PREFIX_LT:
    case FHIR_PREFIX_EB:
        r->hi_us = min64(r->hi_us, d->start_us);
        break;
    case FHIR_PREFIX_GE:
        r->lo_us = max64(r->lo_us, d->start_us);
        break;
    case FHIR_PREFIX_LE:
        r->hi_us = min64(r->hi_us, d->end_us);
        break;
    case FHIR_PREFIX_AP:
        return HX_EINVAL;
    }
    return 0;
}

/* ---- Observation ids ---------------------------------------------------------------------- */

int fhir__obs_key_parse(const char *s, size_t len, struct fhir_obs_key *out)
{
    struct part f[4];
    size_t n = 0;
    if (len == 0 || len > FHIR_ID_MAX)
        return HX_EMALFORMED;
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (n == 4)
                return HX_EMALFORMED;
            f[n++] = (struct part){s + start, i - start};
            start = i + 1;
        }
    }
    if (n != 4)
        return HX_EMALFORMED;
    memset(out, 0, sizeof(*out));
    int64_t code;
    if (parse_u63(f[0].p, f[0].len, false, &out->patient_id) < 0 ||
        parse_i64(f[2].p, f[2].len, &out->effective_us) < 0 ||
        parse_u63(f[3].p, f[3].len, true, &out->device_id) < 0)
        return HX_EMALFORMED;
    if (eq(f[1].p, f[1].len, "bp")) {
        out->is_panel = true;
        out->code = OBS_CODE_BP_SYS;
    } else if (parse_u63(f[1].p, f[1].len, false, &code) < 0 || code >= OBS_CODE__COUNT ||
               !obs_code_get((int)code)) {
        return HX_EMALFORMED;
    } else {
        out->code = (int)code;
    }
    return 0;
}

/* ---- Cursor tokens ------------------------------------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)(uint8_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (uint8_t)in[i + 2];
        out[n++] = b64[v >> 18 & 63];
        out[n++] = b64[v >> 12 & 63];
        if (i + 1 < len)
            out[n++] = b64[v >> 6 & 63];
        if (i + 2 < len)
            out[n++] = b64[v & 63];
    }
    out[n] = '\0';
}

static int b64url_decode(const char *in, size_t len, char *out, size_t cap, size_t *n_out)
{
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (len % 4 == 1)
        return HX_EMALFORMED;
    for (size_t i = 0; i < len; i++) {
        const char *p = memchr(b64, in[i], 64);
        if (!p || in[i] == '\0')
            return HX_EMALFORMED;
        acc = acc << 6 | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= cap)
                return HX_EMALFORMED;
            out[n++] = (char)(acc >> bits & 0xff);
        }
    }
    if (acc & ((1u << bits) - 1)) /* non-canonical trailing bits */
        return HX_EMALFORMED;
    out[n] = '\0';
    *n_out = n;
    return 0;
}

void fhir__cursor_encode(enum fhir_type type, const struct fhir_cursor *c,
                         char out[FHIR_CURSOR_MAX + 1])
{
    char text[80];
    switch (type) {
    case FHIR_OBSERVATION:
        snprintf(text, sizeof(text), "o%c%lld.%lld.%lld", c->descending ? 'd' : 'a',
                 (long long)c->a, (long long)c->b, (long long)c->c);
        break;
    case FHIR_FLAG:
        snprintf(text, sizeof(text), "f%lld.%lld", (long long)c->a, (long long)c->b);
        break;
    default:
        snprintf(text, sizeof(text), "%c%lld", type == FHIR_PATIENT ? 'p' : 'd', (long long)c->a);
        break;
    }
    b64url(text, strlen(text), out, FHIR_CURSOR_MAX + 1);
}

int fhir__cursor_decode(enum fhir_type type, const char *s, size_t len, struct fhir_cursor *out)
{
    char text[80];
    size_t n;
    if (len > FHIR_CURSOR_MAX || b64url_decode(s, len, text, sizeof(text), &n) < 0 || n < 2)
        return HX_EMALFORMED;
    memset(out, 0, sizeof(*out));
    out->set = true;
    struct part f[3];
    size_t k;
    const char *body = text + 1;
    switch (type) {
    case FHIR_OBSERVATION:
        if (text[0] != 'o' || (text[1] != 'd' && text[1] != 'a'))
            return HX_EMALFORMED;
        out->descending = text[1] == 'd';
        body = text + 2;
        if (split(body, strlen(body), '.', f, 3, &k) < 0 || k != 3 ||
            parse_i64(f[0].p, f[0].len, &out->a) < 0 ||
            parse_u63(f[1].p, f[1].len, false, &out->b) < 0 ||
            parse_u63(f[2].p, f[2].len, true, &out->c) < 0)
            return HX_EMALFORMED;
        return 0;
    case FHIR_FLAG:
        if (text[0] != 'f' || split(body, strlen(body), '.', f, 3, &k) < 0 || k != 2 ||
            parse_i64(f[0].p, f[0].len, &out->a) < 0 ||
            parse_u63(f[1].p, f[1].len, false, &out->b) < 0)
            return HX_EMALFORMED;
        return 0;
    default:
        if (text[0] != (type == FHIR_PATIENT ? 'p' : 'd') ||
            parse_u63(body, strlen(body), false, &out->a) < 0)
            return HX_EMALFORMED;
        return 0;
    }
}

/* ---- Search URLs -------------------------------------------------------------------------- */

/* Appends s percent-encoded (RFC 3986: unreserved plus ":/,@" kept; '+' is encoded, since
 * query parsers read it as a space). */
static void url_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n, bool encode)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        if (*len + 4 >= *cap) {
            *cap *= 2;
            *buf = hx_xrealloc(*buf, *cap);
        }
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit((char)c) ||
                     c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/' ||
                     c == ',' || c == '@';
        if (!encode || plain) {
            (*buf)[(*len)++] = (char)c;
        } else {
            (*buf)[(*len)++] = '%';
            (*buf)[(*len)++] = hex[c >> 4];
            (*buf)[(*len)++] = hex[c & 15];
        }
    }
    (*buf)[*len] = '\0';
}

char *fhir__search_url(const char *base_url, enum fhir_type type, const struct fhir_param *params,
                       size_t n, const bool *used, const char *cursor)
{
    size_t cap = 256, len = 0;
    char *buf = hx_xmalloc(cap);
    buf[0] = '\0';
    const char *tn = fhir_type_name(type);
    url_append(&buf, &len, &cap, base_url, strlen(base_url), false);
    url_append(&buf, &len, &cap, "/", 1, false);
    url_append(&buf, &len, &cap, tn, strlen(tn), false);
    char sep = '?';
    for (size_t i = 0; i < n; i++) {
        if (!used[i] || (cursor && eq(params[i].name, params[i].name_len, "_cursor")))
            continue;
        url_append(&buf, &len, &cap, &sep, 1, false);
        url_append(&buf, &len, &cap, params[i].name, params[i].name_len, true);
        url_append(&buf, &len, &cap, "=", 1, false);
        url_append(&buf, &len, &cap, params[i].value, params[i].value_len, true);
        sep = '&';
    }
    if (cursor) {
        url_append(&buf, &len, &cap, &sep, 1, false);
        url_append(&buf, &len, &cap, "_cursor=", 8, false);
        url_append(&buf, &len, &cap, cursor, strlen(cursor), true);
    }
    return buf;
}

/* ---- The parameters ----------------------------------------------------------------------- */

/* One parameter being parsed. */
struct pv {
    const char *name; /* base name (before ':') */
    size_t name_len;
    const char *mod; /* modifier after ':' (NULL when none) */
    size_t mod_len;
    const char *full; /* the whole name, for messages */
    size_t full_len;
    const char *v; /* value */
    size_t len;
};

#define BIT(n) (UINT64_C(1) << (n))

/* Observation category of a code (map.c uses the same table through fhir__obs_category). */
const char *fhir__obs_category(int code);

static int bad(struct fhir_error *err, const struct pv *p, const char *what)
{
    return fail(err, 400, "invalid", p->full, p->full_len, what);
}

static int unsupported(struct fhir_error *err, const struct pv *p, const char *what)
{
    return fail(err, 400, "not-supported", p->full, p->full_len, what);
}

/* _count: 0 (count only) .. any; above FHIR_COUNT_MAX is served as FHIR_COUNT_MAX. */
static int p_count(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    int64_t v;
    if (parse_u63(p->v, p->len, true, &v) < 0)
        return bad(err, p, "expected a whole number");
    if (v == 0)
        q->count_only = true;
    q->count = v > FHIR_COUNT_MAX ? FHIR_COUNT_MAX : (size_t)(v ? v : 1);
    return 0;
}

static int p_sort(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    if (q->type != FHIR_OBSERVATION)
        return unsupported(err, p, "sorting is not supported for this resource type");
    if (eq(p->v, p->len, "date"))
        q->descending = false;
    else if (eq(p->v, p->len, "-date"))
        q->descending = true;
    else
        return unsupported(err, p, "expected date or -date");
    return 0;
}

static int p_cursor(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    if (fhir__cursor_decode(q->type, p->v, p->len, &q->cursor) < 0)
        return bad(err, p, "not a cursor of this search (follow the Bundle's next link)");
    return 0;
}

static int p_format(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    static const char *const ok[] = {"json", "application/json", "application/fhir+json",
                                     "application/json+fhir"};
    for (size_t i = 0; i < HX_ARRAY_LEN(ok); i++)
        if (eq(p->v, p->len, ok[i]))
            return 0;
    return fail(err, 406, "not-supported", p->full, p->full_len, "only JSON is served");
}

static int p_summary(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    if (eq(p->v, p->len, "count"))
        q->count_only = true;
    else if (!eq(p->v, p->len, "false") && !eq(p->v, p->len, "data"))
        return unsupported(err, p, "expected count, data or false");
    return 0;
}

static int p_total(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    if (eq(p->v, p->len, "none"))
        q->total = FHIR_TOTAL_NONE;
    else if (eq(p->v, p->len, "estimate"))
        q->total = FHIR_TOTAL_ESTIMATE;
    else if (eq(p->v, p->len, "accurate"))
        q->total = FHIR_TOTAL_ACCURATE;
    else
        return bad(err, p, "expected none, estimate or accurate");
    return 0;
}

/* Intersects the Observation constraints with an id's key. */
static void obs_key_apply(struct fhir_query *q, const struct fhir_obs_key *k)
{
    if (q->has_patient && q->patient_id != k->patient_id)
        q->none = true;
    q->has_patient = true;
    q->patient_id = k->patient_id;
    q->kinds &= k->is_panel ? STORE_OBS_KIND_BP_PANEL : BIT(k->code);
    struct fhir_date d = {FHIR_PREFIX_EQ, k->effective_us, k->effective_us + 1};
    fhir__range_apply(&q->date, &d);
    if (q->has_device && q->device_id != k->device_id)
        q->none = true;
    q->has_device = true;
    q->device_id = k->device_id;
}

static int p_id(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    struct part parts[STORE_QUERY_VALUES_MAX];
    size_t n;
    if (split(p->v, p->len, ',', parts, HX_ARRAY_LEN(parts), &n) < 0)
        return bad(err, p, "too many values (at most 32)");
    if (q->type == FHIR_OBSERVATION) {
        struct fhir_obs_key k;
        if (n != 1)
            return unsupported(err, p, "one Observation id per search");
        if (fhir__obs_key_parse(parts[0].p, parts[0].len, &k) < 0)
            q->none = true; /* not an id medhub issues: matches nothing */
        else
            obs_key_apply(q, &k);
        return 0;
    }
    q->has_ids = true;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        if (fhir__id_parse(parts[i].p, parts[i].len, &id) == 0)
            q->ids[q->n_ids++] = id;
    }
    if (q->n_ids == 0)
        q->none = true;
    return 0;
}

/* identifier: [system|]value, OR list; only medhub's own system matches. */
static int p_identifier(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    const char *system = q->type == FHIR_PATIENT ? FHIR_SYSTEM_MRN : FHIR_SYSTEM_DEVICE_ID;
    struct part parts[STORE_QUERY_VALUES_MAX];
    size_t n;
    if (split(p->v, p->len, ',', parts, HX_ARRAY_LEN(parts), &n) < 0)
        return bad(err, p, "too many values (at most 32)");
    q->has_texts = true;
    for (size_t i = 0; i < n; i++) {
        struct token t = token_split(parts[i]);
        if (t.has_system && !eq(t.system.p, t.system.len, system))
            continue; /* another system, or "|value" (no system): no match */
        if (t.code.len == 0)
            return bad(err, p, "empty identifier value");
        if (unescape(t.code.p, t.code.len, q->texts[q->n_texts], FHIR_TEXT_MAX))
            q->n_texts++;
    }
    if (q->n_texts == 0)
        q->none = true;
    return 0;
}

static int p_name(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    if (!p->mod)
        q->name_match = STORE_NAME_STARTS;
    else if (eq(p->mod, p->mod_len, "contains"))
        q->name_match = STORE_NAME_CONTAINS;
    else if (eq(p->mod, p->mod_len, "exact"))
        q->name_match = STORE_NAME_EXACT;
    if (find_unescaped(p->v, p->len, ',') != p->len)
        return unsupported(err, p, "a list of names is not supported (escape a comma as \\,)");
    if (!unescape(p->v, p->len, q->name, sizeof(q->name)))
        q->none = true; /* longer than any stored name */
    return 0;
}

static int p_birthdate(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    struct fhir_date d;
    const char *why;
    if (find_unescaped(p->v, p->len, ',') != p->len)
        return unsupported(err, p, "a list of dates is not supported (repeat the parameter)");
    int rc = fhir__date_parse(p->v, p->len, true, &d, &why);
    if (rc == HX_EINVAL)
        return unsupported(err, p, why);
    if (rc < 0)
        return bad(err, p, why);
    q->has_birth = true;
    if (fhir__range_apply(&q->birth, &d) < 0)
        return unsupported(err, p, "at most 4 ne conditions");
    return 0;
}

static int p_date(struct fhir_query *q, const struct pv *p, struct fhir_error *err,
                  struct store_time_range *r)
{
    struct fhir_date d;
    const char *why;
    if (find_unescaped(p->v, p->len, ',') != p->len)
        return unsupported(err, p, "a list of dates is not supported (repeat the parameter)");
    int rc = fhir__date_parse(p->v, p->len, false, &d, &why);
    if (rc == HX_EINVAL)
        return unsupported(err, p, why);
    if (rc < 0)
        return bad(err, p, why);
    if (fhir__range_apply(r, &d) < 0)
        return unsupported(err, p, "at most 4 ne conditions");
    return 0;
}

static int p_obs_date(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    return p_date(q, p, err, &q->date);
}

static int p_last_updated(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    q->has_last_updated = true;
    return p_date(q, p, err, &q->last_updated);
}

/* A reference "Type/id" or "id" to a resource of type want. OUT: *id, or *none when it
 * cannot name a medhub resource. */
static int reference(const struct pv *p, const char *want, bool other_type_is_none, int64_t *id,
                     bool *none, struct fhir_error *err)
{
    if (find_unescaped(p->v, p->len, ',') != p->len)
        return unsupported(err, p, "one reference per search");
    const char *v = p->v;
    size_t len = p->len;
    const char *slash = memchr(v, '/', len);
    if (slash) {
        size_t tl = (size_t)(slash - v);
        if (!eq(v, tl, want)) {
            if (other_type_is_none) {
                *none = true;
                return 0;
            }
            char what[64];
            snprintf(what, sizeof(what), "expected %s/[id] or [id]", want);
            return bad(err, p, what);
        }
        len -= tl + 1;
        v = slash + 1;
    }
    if (fhir__id_parse(v, len, id) < 0)
        *none = true; /* not an id medhub issues */
    return 0;
}

static int p_patient(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    bool is_subject = eq(p->name, p->name_len, "subject");
    int64_t id = 0;
    bool none = false;
    int rc = reference(p, "Patient", is_subject, &id, &none, err);
    if (rc < 0)
        return rc;
    if (none) {
        q->none = true;
        return 0;
    }
    if (q->has_patient && q->patient_id != id)
        q->none = true;
    q->has_patient = true;
    q->patient_id = id;
    return 0;
}

static int p_device(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    int64_t id = 0;
    bool none = false;
    int rc = reference(p, "Device", false, &id, &none, err);
    if (rc < 0)
        return rc;
    if (none) {
        q->none = true;
        return 0;
    }
    if (q->has_device && q->device_id != id)
        q->none = true;
    q->has_device = true;
    q->device_id = id;
    return 0;
}

/* Bits of the codes whose LOINC (or extra LOINC, or MDC) coding is code; panel included. */
static uint64_t code_kinds(bool has_system, struct part system, struct part code)
{
    bool loinc = !has_system || eq(system.p, system.len, FHIR_SYSTEM_LOINC);
    bool mdc = !has_system || eq(system.p, system.len, FHIR_SYSTEM_MDC);
    char c[16];
    if (!unescape(code.p, code.len, c, sizeof(c)))
        return 0;
    uint64_t k = 0;
    if ((loinc && strcmp(c, "85354-9") == 0) || (mdc && strcmp(c, "150020") == 0))
        k |= STORE_OBS_KIND_BP_PANEL;
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        const struct obs_code *oc = obs_code_get(id);
        if (!oc)
            continue;
        if (loinc && (strcmp(oc->loinc, c) == 0 || (oc->loinc_also && !strcmp(oc->loinc_also, c))))
            k |= BIT(id);
        if (mdc && oc->mdc) {
            char m[16];
            snprintf(m, sizeof(m), "%u", (unsigned)oc->mdc);
            if (strcmp(m, c) == 0)
                k |= BIT(id);
        }
    }
    return k;
}

static int p_code(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    struct part parts[STORE_QUERY_VALUES_MAX];
    size_t n;
    if (split(p->v, p->len, ',', parts, HX_ARRAY_LEN(parts), &n) < 0)
        return bad(err, p, "too many values (at most 32)");
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct token t = token_split(parts[i]);
        if (t.code.len == 0)
            return bad(err, p, "empty code");
        k |= code_kinds(t.has_system, t.system, t.code);
    }
    q->kinds &= k;
    return 0;
}

static int p_category(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    struct part parts[STORE_QUERY_VALUES_MAX];
    size_t n;
    if (split(p->v, p->len, ',', parts, HX_ARRAY_LEN(parts), &n) < 0)
        return bad(err, p, "too many values (at most 32)");
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct token t = token_split(parts[i]);
        if (t.code.len == 0)
            return bad(err, p, "empty category");
        if (t.has_system && !eq(t.system.p, t.system.len, FHIR_SYSTEM_OBS_CATEGORY))
            continue;
        if (eq(t.code.p, t.code.len, "vital-signs"))
            k |= STORE_OBS_KIND_BP_PANEL;
        for (int id = 1; id < OBS_CODE__COUNT; id++) {
            const char *cat = fhir__obs_category(id);
            if (cat && eq(t.code.p, t.code.len, cat))
                k |= BIT(id);
        }
    }
    q->kinds &= k;
    return 0;
}

static int p_status(struct fhir_query *q, const struct pv *p, struct fhir_error *err)
{
    struct part parts[4];
    size_t n;
    if (split(p->v, p->len, ',', parts, HX_ARRAY_LEN(parts), &n) < 0)
        return bad(err, p, "expected active, inactive or entered-in-error");
    unsigned states = 0;
    for (size_t i = 0; i < n; i++) {
        struct token t = token_split(parts[i]);
        if (t.has_system && !eq(t.system.p, t.system.len, "http://hl7.org/fhir/flag-status"))
            continue;
        if (eq(t.code.p, t.code.len, "active"))
            states |= 1u << ALERT_RAISED | 1u << ALERT_ACKED;
        else if (eq(t.code.p, t.code.len, "inactive"))
            states |= 1u << ALERT_RESOLVED;
        else if (!eq(t.code.p, t.code.len, "entered-in-error"))
            return bad(err, p, "expected active, inactive or entered-in-error");
    }
    if (states == 0)
        q->none = true;
    q->states = states;
    return 0;
}

typedef int param_fn(struct fhir_query *q, const struct pv *p, struct fhir_error *err);

/* Which parameters each type takes. */
enum {
    T_PAT = 1u << FHIR_PATIENT,
    T_DEV = 1u << FHIR_DEVICE,
    T_OBS = 1u << FHIR_OBSERVATION,
    T_FLAG = 1u << FHIR_FLAG,
    T_ALL = T_PAT | T_DEV | T_OBS | T_FLAG,
};

struct param_def {
    const char *name;      /* base name */
    unsigned types;        /* T_* */
    bool repeatable;       /* may appear more than once (AND) */
    const char *modifiers; /* accepted modifiers, space-separated ("" none) */
    int group;             /* params with the same non-zero group count as one for repeats */
    param_fn *fn;
};

static const struct param_def defs[] = {
    {"_count", T_ALL, false, "", 0, p_count},
    {"_sort", T_ALL, false, "", 0, p_sort},
    {"_cursor", T_ALL, false, "", 0, p_cursor},
    {"_format", T_ALL, false, "", 0, p_format},
    {"_summary", T_ALL, false, "", 0, p_summary},
    {"_total", T_ALL, false, "", 0, p_total},
    {"_id", T_ALL, false, "", 0, p_id},
    {"identifier", T_PAT | T_DEV, false, "", 0, p_identifier},
    {"name", T_PAT, false, "contains exact", 0, p_name},
    {"birthdate", T_PAT, true, "", 0, p_birthdate},
    {"patient", T_DEV | T_OBS | T_FLAG, false, "", 1, p_patient},
    {"subject", T_OBS | T_FLAG, false, "Patient", 1, p_patient},
    {"device", T_OBS, false, "", 0, p_device},
    {"code", T_OBS, true, "", 0, p_code},
    {"category", T_OBS, true, "", 0, p_category},
    {"date", T_OBS, true, "", 0, p_obs_date},
    {"_lastUpdated", T_OBS, true, "", 0, p_last_updated},
    {"status", T_FLAG, false, "", 0, p_status},
};

static bool modifier_ok(const struct param_def *d, const char *mod, size_t len)
{
    const char *m = d->modifiers;
    while (*m) {
        const char *end = strchr(m, ' ');
        size_t n = end ? (size_t)(end - m) : strlen(m);
        if (n == len && memcmp(m, mod, n) == 0)
            return true;
        m += n + (end ? 1 : 0);
    }
    return false;
}

static void note_ignored(struct fhir_query *q, const struct pv *p)
{
    char nm[48];
    safe_name(nm, sizeof(nm), p->full, p->full_len);
    size_t len = strlen(q->ignored);
    if (len + strlen(nm) + 3 < sizeof(q->ignored))
        snprintf(q->ignored + len, sizeof(q->ignored) - len, "%s%s", len ? ", " : "", nm);
    q->n_ignored++;
}

static void query_init(struct fhir_query *q, enum fhir_type type)
{
    memset(q, 0, sizeof(*q));
    q->type = type;
    q->count = FHIR_COUNT_DEFAULT;
    q->descending = true;
    q->kinds = STORE_OBS_KIND_ALL;
    store_time_range_all(&q->date);
    store_time_range_all(&q->last_updated);
    store_time_range_all(&q->birth);
}

int fhir__search_parse(enum fhir_type type, const struct fhir_param *params, size_t n, bool lenient,
                       struct fhir_query *q, struct fhir_error *err)
{
    query_init(q, type);
    memset(err, 0, sizeof(*err));
    if ((unsigned)type >= FHIR_TYPE__COUNT)
        return fail(err, 400, "not-supported", "", 0, "unknown resource type");
    if (n > FHIR_PARAMS_MAX)
        return fail(err, 400, "too-costly", "", 0, "more than 64 parameters");
    unsigned seen[HX_ARRAY_LEN(defs)] = {0};
    unsigned group_seen = 0;
    for (size_t i = 0; i < n; i++) {
        const struct fhir_param *fp = &params[i];
        struct pv p = {
            .full = fp->name, .full_len = fp->name_len, .v = fp->value, .len = fp->value_len};
        const char *colon = memchr(fp->name, ':', fp->name_len);
        p.name = fp->name;
        p.name_len = colon ? (size_t)(colon - fp->name) : fp->name_len;
        if (colon) {
            p.mod = colon + 1;
            p.mod_len = fp->name_len - p.name_len - 1;
        }
        const struct param_def *d = NULL;
        size_t di = 0;
        for (; di < HX_ARRAY_LEN(defs); di++) {
            if ((defs[di].types & (1u << type)) && eq(p.name, p.name_len, defs[di].name)) {
                d = &defs[di];
                break;
            }
        }
        if (!d || (p.mod && !modifier_ok(d, p.mod, p.mod_len))) {
            if (lenient) {
                note_ignored(q, &p);
                continue;
            }
            return unsupported(err, &p,
                               d ? "modifier not supported"
                                 : "unknown or unsupported parameter for this resource type");
        }
        if (p.len == 0)
            return bad(err, &p, "empty value");
        if (p.len > FHIR_VALUE_MAX)
            return bad(err, &p, "value too long");
        if (!d->repeatable && (seen[di] || (d->group && (group_seen & (1u << d->group)))))
            return bad(err, &p, "given more than once");
        seen[di]++;
        if (d->group)
            group_seen |= 1u << d->group;
        int rc = d->fn(q, &p, err);
        if (rc < 0)
            return rc;
        q->used[i] = true;
    }
    if (type == FHIR_OBSERVATION && !q->has_patient && !q->none)
        return fail(err, 400, "too-costly", "patient", 7,
                    "an Observation search needs patient, subject or _id");
    if (q->cursor.set && type == FHIR_OBSERVATION && q->cursor.descending != q->descending)
        return fail(err, 400, "invalid", "_cursor", 7, "the cursor was made for the other _sort");
    return 0;
}
