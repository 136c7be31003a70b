/*
 * SenML CBOR decoder (RFC 8428 §6) with a small allocation-free CBOR reader (RFC 8949) for
 * the subset SenML needs: definite-length arrays and maps, unsigned and negative integers,
 * half/single/double floats, text and byte strings, booleans. Indefinite lengths and tags
 * are rejected with a reason; unknown labels' values may be any well-formed item up to a
 * small nesting depth and are skipped. Strings stay slices into the payload.
 * Layer: ingest (pure). Thread: any.
 */
#include "ingest/ingest_int.h"

#include "core/err.h"

#include <math.h>
#include <string.h>

/* Nesting allowed inside the value of an unknown label (the pack itself uses two levels). */
#define SKIP_DEPTH_MAX 8
#define KEY_QUOTE_MAX  32

enum cbor_major {
    CBOR_UINT = 0,
    CBOR_NEGINT = 1,
    CBOR_BYTES = 2,
    CBOR_TEXT = 3,
    CBOR_ARRAY = 4,
    CBOR_MAP = 5,
    CBOR_TAG = 6,
    CBOR_SIMPLE = 7,
};

struct cbor_rd {
    const uint8_t *p; /* payload */
    size_t len;       /* its length */
    size_t pos;       /* next byte */
};

/* Why the reader failed, for the reason text. */
enum cbor_fail {
    CBOR_OK = 0,
    CBOR_TRUNCATED,
    CBOR_RESERVED,
    CBOR_INDEFINITE,
    CBOR_TAGGED,
    CBOR_TOO_DEEP,
    CBOR_BAD_UTF8,
};

static const char *const fail_text[] = {
    [CBOR_OK] = "ok",
    [CBOR_TRUNCATED] = "CBOR item is truncated",
    [CBOR_RESERVED] = "CBOR uses a reserved additional-information value",
    [CBOR_INDEFINITE] = "CBOR indefinite lengths are not supported",
    [CBOR_TAGGED] = "CBOR tags are not supported",
    [CBOR_TOO_DEEP] = "CBOR value nests too deeply",
    [CBOR_BAD_UTF8] = "CBOR text string is not valid UTF-8 or contains NUL",
};

/* Reads one item head. OUT: *major, *ai (additional information), *arg (length, value or,
 * for major 7, the raw float bits). */
static enum cbor_fail rd_head(struct cbor_rd *c, int *major, int *ai, uint64_t *arg)
{
    if (c->pos >= c->len)
        return CBOR_TRUNCATED;
    uint8_t b = c->p[c->pos++];
    *major = b >> 5;
    *ai = b & 0x1f;
    if (*ai < 24) {
        *arg = (uint64_t)*ai;
        return CBOR_OK;
    }
    if (*ai == 31)
        return CBOR_INDEFINITE; /* also a stray "break" */
    if (*ai > 27)
        return CBOR_RESERVED;
    size_t n = (size_t)1 << (*ai - 24);
    if (c->len - c->pos < n)
        return CBOR_TRUNCATED;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | c->p[c->pos++];
    *arg = v;
    return CBOR_OK;
}

static bool utf8_ok(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c == 0)
            return false; /* as jansson: no NUL inside strings */
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong 3/4-byte forms, surrogates, beyond U+10FFFF */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* String body after its head. OUT: *s borrows the payload. */
static enum cbor_fail rd_string_body(struct cbor_rd *c, int major, uint64_t len, struct slice *s)
{
    if (len > c->len - c->pos)
        return CBOR_TRUNCATED;
    *s = slice_make(c->p + c->pos, (size_t)len);
    c->pos += (size_t)len;
    if (major == CBOR_TEXT && !utf8_ok(s->ptr, s->len))
        return CBOR_BAD_UTF8;
    return CBOR_OK;
}

static enum cbor_fail rd_skip(struct cbor_rd *c, int depth)
{
    int major, ai;
    uint64_t arg;
    enum cbor_fail f = rd_head(c, &major, &ai, &arg);
    if (f)
        return f;
    switch (major) {
    case CBOR_BYTES:
    case CBOR_TEXT: {
        struct slice s;
        return rd_string_body(c, major, arg, &s);
    }
    case CBOR_ARRAY:
    case CBOR_MAP:
        if (depth >= SKIP_DEPTH_MAX)
            return CBOR_TOO_DEEP;
        /* Each item takes at least one byte: a count beyond the input is truncated. */
        if (arg > (c->len - c->pos) / (major == CBOR_MAP ? 2 : 1))
            return CBOR_TRUNCATED;
        for (uint64_t i = 0; i < arg * (major == CBOR_MAP ? 2 : 1); i++) {
            f = rd_skip(c, depth + 1);
            if (f)
                return f;
        }
        return CBOR_OK;
    case CBOR_TAG:
        return CBOR_TAGGED;
    default: /* integers and simple values/floats: the head was all of it */
        return CBOR_OK;
    }
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    int m = h & 0x3ff;
    double v;
    if (e == 0)
        v = ldexp(m, -24);
    else if (e != 31)
        v = ldexp(m + 1024, e - 25);
    else
        v = m == 0 ? INFINITY : NAN;
    return (h & 0x8000) ? -v : v;
}

/* Interprets a head as a number. Returns false when it is not one. */
static bool head_to_num(int major, int ai, uint64_t arg, struct senml__num *n)
{
    memset(n, 0, sizeof(*n));
    if (major == CBOR_UINT) {
        if (arg <= INT64_MAX) {
            n->is_int = true;
            n->i = (int64_t)arg;
        } else {
            n->d = (double)arg;
        }
        return true;
    }
    if (major == CBOR_NEGINT) {
        if (arg <= INT64_MAX) {
            n->is_int = true;
            n->i = -1 - (int64_t)arg;
        } else {
            n->d = -1.0 - (double)arg;
        }
        return true;
    }
    if (major != CBOR_SIMPLE)
        return false;
    if (ai == 25) {
        n->d = half_to_double((uint16_t)arg);
    } else if (ai == 26) {
        uint32_t bits = (uint32_t)arg;
        float f;
        memcpy(&f, &bits, sizeof(f));
        n->d = f;
    } else if (ai == 27) {
        memcpy(&n->d, &arg, sizeof(n->d));
    } else {
        return false;
    }
    return true;
}

/* CBOR integer labels (RFC 8428 §6 table 6). Returns -1 when unknown. */
static int label_by_int(int64_t k)
{
    switch (k) {
    case -1:
        return SENML__BVER;
    case -2:
        return SENML__BN;
    case -3:
        return SENML__BT;
    case -4:
        return SENML__BU;
    case -5:
        return SENML__BV;
    case -6:
        return SENML__BS;
    case 0:
        return SENML__N;
    case 1:
        return SENML__U;
    case 2:
        return SENML__V;
    case 3:
        return SENML__VS;
    case 4:
        return SENML__VB;
    case 5:
        return SENML__S;
    case 6:
        return SENML__T;
    case 7:
        return SENML__UT;
    case 8:
        return SENML__VD;
    default:
        return -1;
    }
}

static int fail_cbor(struct senml_error *err, int idx, enum cbor_fail f)
{
    if (idx < 0)
        return senml__fail(err, -1, HX_EMALFORMED, "%s", fail_text[f]);
    return senml__fail(err, idx, HX_EMALFORMED, "record %d: %s", idx, fail_text[f]);
}

/* The value of label lab into raw. */
static int rd_value(struct cbor_rd *c, int idx, enum senml__label lab, struct senml__raw *raw,
                    struct senml_error *err)
{
    static const char *const type_names[] = {
        [SENML__TNUM] = "a number",
        [SENML__TTEXT] = "a text string",
        [SENML__TBOOL] = "a boolean",
        [SENML__TDATA] = "a byte string",
    };
    int major, ai;
    uint64_t arg;
    enum cbor_fail f = rd_head(c, &major, &ai, &arg);
    if (f)
        return fail_cbor(err, idx, f);
    enum senml__type type = senml__label_type(lab);
    bool ok = false;
    switch (type) {
    case SENML__TNUM:
        ok = head_to_num(major, ai, arg, &raw->num[lab]);
        break;
    case SENML__TTEXT:
    case SENML__TDATA:
        if (major == (type == SENML__TTEXT ? CBOR_TEXT : CBOR_BYTES)) {
            f = rd_string_body(c, major, arg, &raw->str[lab]);
            if (f)
                return fail_cbor(err, idx, f);
            ok = true;
        }
        break;
    case SENML__TBOOL:
        ok = major == CBOR_SIMPLE && (ai == 20 || ai == 21);
        raw->vb = ai == 21;
        break;
    }
    if (!ok) {
        if (major == CBOR_TAG)
            return fail_cbor(err, idx, CBOR_TAGGED);
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: %s must be %s", idx,
                           senml__label_name(lab), type_names[type]);
    }
    return 0;
}

/* One map into raw. */
static int rd_record(struct cbor_rd *c, int idx, struct senml__raw *raw, struct senml_error *err)
{
    int major, ai;
    uint64_t n;
    enum cbor_fail f = rd_head(c, &major, &ai, &n);
    char q[KEY_QUOTE_MAX + 4];

    memset(raw, 0, sizeof(*raw));
    if (f)
        return fail_cbor(err, idx, f);
    if (major != CBOR_MAP)
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: is not a CBOR map", idx);
    if (n > (c->len - c->pos) / 2)
        return fail_cbor(err, idx, CBOR_TRUNCATED);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t arg;
        f = rd_head(c, &major, &ai, &arg);
        if (f)
            return fail_cbor(err, idx, f);
        int l = -1;
        if (major == CBOR_UINT && arg <= 8) {
            l = label_by_int((int64_t)arg);
        } else if (major == CBOR_NEGINT && arg <= 5) {
            l = label_by_int(-1 - (int64_t)arg);
        } else if (major == CBOR_TEXT) {
            struct slice k;
            f = rd_string_body(c, major, arg, &k);
            if (f)
                return fail_cbor(err, idx, f);
            l = senml__label_by_name(k);
            if (l < 0 && k.len > 0 && k.ptr[k.len - 1] == '_') { /* RFC 8428 §4.4 */
                senml__quote(q, sizeof(q), k, KEY_QUOTE_MAX);
                return senml__fail(err, idx, HX_EMALFORMED,
                                   "record %d: unknown must-understand label '%s'", idx, q);
            }
        } else if (major != CBOR_UINT && major != CBOR_NEGINT) {
            return senml__fail(err, idx, HX_EMALFORMED,
                               "record %d: map keys must be integers or text strings", idx);
        }
        if (l < 0) { /* unknown labels are ignored (RFC 8428 §4.4), their values skipped */
            f = rd_skip(c, 0);
            if (f)
                return fail_cbor(err, idx, f);
            continue;
        }
        enum senml__label lab = (enum senml__label)l;
        if (raw->present & (1u << lab))
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: duplicate label '%s'", idx,
                               senml__label_name(lab));
        int rc = rd_value(c, idx, lab, raw, err);
        if (rc < 0)
            return rc;
        raw->present |= 1u << lab;
    }
    return 0;
}

int senml_decode_cbor(struct slice payload, const struct senml_opts *opts, struct senml_out *out,
                      struct senml_error *err)
{
    struct senml__resolver r;
    struct senml__raw raw;
    struct cbor_rd c = {.p = payload.ptr, .len = payload.len, .pos = 0};
    size_t max = opts->max_payload ? opts->max_payload : SENML_DEFAULT_MAX_PAYLOAD;
    int major, ai;
    uint64_t n;
    int rc = 0;

    senml__resolver_init(&r, out, opts);
    if (payload.len > max)
        return senml__fail(err, -1, HX_ETOOBIG, "payload of %zu bytes exceeds the limit of %zu",
                           payload.len, max);
    enum cbor_fail f = rd_head(&c, &major, &ai, &n);
    if (f)
        return fail_cbor(err, -1, f);
    if (major != CBOR_ARRAY)
        return senml__fail(err, -1, HX_EMALFORMED, "a SenML pack must be a CBOR array");
    if (n > out->max_recs)
        return senml__fail(err, -1, HX_ETOOBIG, "pack has more than %zu records", out->max_recs);
    for (uint64_t i = 0; i < n; i++) {
        rc = rd_record(&c, (int)i, &raw, err);
        if (rc < 0)
            goto out_fail;
        rc = senml__resolve(&r, &raw, err);
        if (rc < 0)
            goto out_fail;
    }
    if (c.pos != c.len) {
        rc = senml__fail(err, -1, HX_EMALFORMED, "%zu bytes follow the CBOR array", c.len - c.pos);
        goto out_fail;
    }
    return 0;
out_fail:
    out->n_recs = 0;
    return rc;
}
