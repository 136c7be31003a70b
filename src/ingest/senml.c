/*
 * SenML (RFC 8428) core: the label table, format detection, the resolver that applies base
 * fields to the raw records both wire decoders produce (senml_json.c, senml_cbor.c), and the
 * normalizers from resolved records to observations, device status and device events.
 * Layer: ingest (pure: no I/O, no allocation, no globals). Thread: any.
 */
#include "ingest/ingest_int.h"

#include "core/err.h"
#include "domain/codes.h"
#include "domain/units.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define USEC_PER_SEC INT64_C(1000000)
/* RFC 8428 §4.5.3: resolved times below 2^28 s are relative to the receiver's "now". */
#define RELATIVE_LIMIT_US (INT64_C(268435456) * USEC_PER_SEC)
/* Names quoted in reasons are cut here so that the reason still says which record failed. */
#define QUOTE_MAX 64

static const struct {
    const char *name;
    enum senml__type type;
} label_table[SENML__LABEL_COUNT] = {
    [SENML__BVER] = {"bver", SENML__TNUM}, [SENML__BN] = {"bn", SENML__TTEXT},
    [SENML__BT] = {"bt", SENML__TNUM},     [SENML__BU] = {"bu", SENML__TTEXT},
    [SENML__BV] = {"bv", SENML__TNUM},     [SENML__BS] = {"bs", SENML__TNUM},
    [SENML__N] = {"n", SENML__TTEXT},      [SENML__U] = {"u", SENML__TTEXT},
    [SENML__V] = {"v", SENML__TNUM},       [SENML__VS] = {"vs", SENML__TTEXT},
    [SENML__VB] = {"vb", SENML__TBOOL},    [SENML__VD] = {"vd", SENML__TDATA},
    [SENML__S] = {"s", SENML__TNUM},       [SENML__T] = {"t", SENML__TNUM},
    [SENML__UT] = {"ut", SENML__TNUM},
};

const char *senml__label_name(enum senml__label l)
{
    return label_table[l].name;
}

enum senml__type senml__label_type(enum senml__label l)
{
    return label_table[l].type;
}

int senml__label_by_name(struct slice name)
{
    for (int l = 0; l < SENML__LABEL_COUNT; l++) {
        if (slice_eq_cstr(name, label_table[l].name))
            return l;
    }
    return -1;
}

/* ---- error text ------------------------------------------------------------------------- */

int senml__fail(struct senml_error *err, int index, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    memcpy(err->log_reason, err->reason, sizeof(err->log_reason));
    err->index = index;
    err->code = code;
    return code;
}

void senml__quote(char *dst, size_t dst_len, struct slice s, size_t max)
{
    size_t o = 0;
    if (dst_len == 0)
        return;
    for (size_t i = 0; i < s.len && o + 1 < dst_len; i++) {
        if (i == max && s.len > max) {
            for (int k = 0; k < 3 && o + 1 < dst_len; k++)
                dst[o++] = '.';
            break;
        }
        uint8_t c = s.ptr[i];
        dst[o++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    dst[o] = '\0';
}

/* ---- base64url (JSON vd) ---------------------------------------------------------------- */

static int b64url_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int senml__base64url_decode(struct slice in, uint8_t *dst, size_t *len)
{
    /* RFC 8428 §5: base64url without padding, so a length of 1 mod 4 cannot happen. */
    if (in.len % 4 == 1)
        return HX_EMALFORMED;
    if (in.len / 4 * 3 + (in.len % 4 ? in.len % 4 - 1 : 0) > *len)
        return HX_ETOOBIG;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in.len; i++) {
        int v = b64url_val(in.ptr[i]);
        if (v < 0)
            return HX_EMALFORMED;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical: leftover bits must be zero (RFC 4648 §3.5) */
        return HX_EMALFORMED;
    *len = o;
    return 0;
}

/* ---- format detection ------------------------------------------------------------------- */

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static bool slice_eq_nocase(struct slice s, const char *lower)
{
    size_t n = strlen(lower);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s.ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)lower[i])
            return false;
    }
    return true;
}

int senml_format_detect(struct slice content_type, struct slice payload, enum senml_format *out)
{
    struct slice ct = content_type;
    for (size_t i = 0; i < ct.len; i++) {
        if (ct.ptr[i] == ';') {
            ct.len = i;
            break;
        }
    }
    while (ct.len > 0 && is_ows(ct.ptr[0])) {
        ct.ptr++;
        ct.len--;
    }
    while (ct.len > 0 && is_ows(ct.ptr[ct.len - 1]))
        ct.len--;
    if (ct.len > 0) {
        if (slice_eq_nocase(ct, "application/senml+json") ||
            slice_eq_nocase(ct, "application/json")) {
            *out = SENML_FORMAT_JSON;
            return 0;
        }
        if (slice_eq_nocase(ct, "application/senml+cbor")) {
            *out = SENML_FORMAT_CBOR;
            return 0;
        }
        return HX_EINVAL;
    }
    if (payload.len == 0)
        return HX_EMALFORMED;
    if (payload.ptr[0] >= 0x80 && payload.ptr[0] <= 0x9f) {
        *out = SENML_FORMAT_CBOR;
        return 0;
    }
    for (size_t i = 0; i < payload.len; i++) {
        uint8_t c = payload.ptr[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') /* RFC 8259 §2 whitespace */
            continue;
        if (c == '[') {
            *out = SENML_FORMAT_JSON;
            return 0;
        }
        break;
    }
    return HX_EMALFORMED;
}

int senml_decode(struct slice content_type, struct slice payload, const struct senml_opts *opts,
                 struct senml_out *out, struct senml_error *err)
{
    enum senml_format fmt;
    out->n_recs = 0;
    out->scratch_used = 0;
    int rc = senml_format_detect(content_type, payload, &fmt);
    if (rc == HX_EINVAL) {
        char ct[QUOTE_MAX + 4];
        senml__quote(ct, sizeof(ct), content_type, QUOTE_MAX);
        return senml__fail(err, -1, rc, "unsupported content type '%s'", ct);
    }
    if (rc < 0)
        return senml__fail(err, -1, rc, "payload is neither a SenML JSON nor a CBOR array");
    if (fmt == SENML_FORMAT_CBOR)
        return senml_decode_cbor(payload, opts, out, err);
    return senml_decode_json(payload, opts, out, err);
}

/* ---- resolver (RFC 8428 §4.5) ----------------------------------------------------------- */

void senml__resolver_init(struct senml__resolver *r, struct senml_out *out,
                          const struct senml_opts *opts)
{
    memset(r, 0, sizeof(*r));
    r->out = out;
    r->opts = opts;
    r->bver = SENML_VERSION_DEFAULT;
    out->n_recs = 0;
    out->scratch_used = 0;
}

int senml__resolver_room(struct senml__resolver *r, struct senml_error *err)
{
    if (r->out->n_recs >= r->out->max_recs)
        return senml__fail(err, (int)r->index, HX_ETOOBIG, "pack has more than %zu records",
                           r->out->max_recs);
    return 0;
}

int senml__scratch_put(struct senml_out *out, const void *p, size_t len, uint8_t **dst)
{
    if (len > out->scratch_len - out->scratch_used)
        return HX_ETOOBIG;
    if (len == 0) { /* no pointer arithmetic: scratch may be NULL */
        *dst = out->scratch;
        return 0;
    }
    *dst = out->scratch + out->scratch_used;
    memcpy(*dst, p, len);
    out->scratch_used += len;
    return 0;
}

/* Seconds (exact integer or double) to microseconds; false when out of range. */
static bool num_to_us(const struct senml__num *n, int64_t *out)
{
    /* +-1e12 s is about +-31700 years: far beyond any clock, far inside int64 microseconds. */
    if (n->is_int) {
        if (n->i > INT64_C(1000000000000) || n->i < -INT64_C(1000000000000))
            return false;
        *out = n->i * USEC_PER_SEC;
        return true;
    }
    if (!isfinite(n->d) || fabs(n->d) > 1e12)
        return false;
    *out = llround(n->d * 1e6);
    return true;
}

static double num_to_double(const struct senml__num *n)
{
    return n->is_int ? (double)n->i : n->d;
}

static bool name_char_ok(uint8_t c, bool first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '-' || c == ':' || c == '.' || c == '/' || c == '_');
}

static int resolve_bver(struct senml__resolver *r, const struct senml__raw *raw,
                        struct senml_error *err)
{
    int idx = (int)r->index;
    const struct senml__num *n = &raw->num[SENML__BVER];
    int64_t v;
    if (n->is_int) {
        v = n->i;
    } else if (isfinite(n->d) && n->d == floor(n->d) && fabs(n->d) < 9007199254740992.0) {
        v = (int64_t)n->d;
    } else {
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: bver must be an integer", idx);
    }
    if (v < SENML_VERSION_DEFAULT) /* RFC 8428 §4.4 */
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: bver %" PRId64 " is below 10", idx,
                           v);
    if (r->index > 0 && v != r->bver)
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: bver changes within the pack", idx);
    r->bver = v;
    r->seen_bver = true;
    return 0;
}

static int resolve_name(struct senml__resolver *r, const struct senml__raw *raw, struct slice *name,
                        struct senml_error *err)
{
    int idx = (int)r->index;
    struct slice n = (raw->present & (1u << SENML__N)) ? raw->str[SENML__N] : slice_make(NULL, 0);
    size_t len = r->bn.len + n.len;
    if (len == 0)
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: has no name (n or bn)", idx);
    if (n.len == 0 || r->bn.len == 0) {
        /* One part only: it already lives in the payload or scratch, no copy needed. */
        *name = n.len ? n : r->bn;
    } else {
        struct senml_out *o = r->out;
        if (len > o->scratch_len - o->scratch_used)
            return senml__fail(err, idx, HX_ETOOBIG, "record %d: names exceed the scratch space",
                               idx);
        uint8_t *dst = o->scratch + o->scratch_used;
        memcpy(dst, r->bn.ptr, r->bn.len);
        memcpy(dst + r->bn.len, n.ptr, n.len);
        o->scratch_used += len;
        *name = slice_make(dst, len);
    }
    /* RFC 8428 §4.5.1: first character A-Z a-z 0-9, then also - : . / _ */
    for (size_t i = 0; i < len; i++) {
        if (!name_char_ok(name->ptr[i], i == 0)) {
            char q[QUOTE_MAX + 4];
            senml__quote(q, sizeof(q), *name, QUOTE_MAX);
            return senml__fail(err, idx, HX_EMALFORMED,
                               i == 0 ? "record %d: name '%s' must start with a letter or digit"
                                      : "record %d: name '%s' has a character outside "
                                        "A-Z a-z 0-9 - : . / _",
                               idx, q);
        }
    }
    return 0;
}

int senml__resolve(struct senml__resolver *r, const struct senml__raw *raw, struct senml_error *err)
{
    int idx = (int)r->index;
    uint32_t p = raw->present;
    int rc;

    rc = senml__resolver_room(r, err);
    if (rc < 0)
        return rc;
    if (p & (1u << SENML__BVER)) {
        rc = resolve_bver(r, raw, err);
        if (rc < 0)
            return rc;
    }
    if (p & (1u << SENML__BN))
        r->bn = raw->str[SENML__BN];
    if (p & (1u << SENML__BU))
        r->bu = raw->str[SENML__BU];
    if (p & (1u << SENML__BT)) {
        if (!num_to_us(&raw->num[SENML__BT], &r->bt_us))
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: bt is out of range", idx);
    }
    if (p & (1u << SENML__BV)) {
        r->bv = num_to_double(&raw->num[SENML__BV]);
        if (!isfinite(r->bv))
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: bv is not finite", idx);
    }
    if (p & (1u << SENML__BS)) {
        r->bs = num_to_double(&raw->num[SENML__BS]);
        if (!isfinite(r->bs))
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: bs is not finite", idx);
    }

    const uint32_t value_bits =
        (1u << SENML__V) | (1u << SENML__VS) | (1u << SENML__VB) | (1u << SENML__VD);
    int n_values = __builtin_popcount(p & value_bits);
    if (n_values > 1) /* RFC 8428 §4.2 */
        return senml__fail(err, idx, HX_EMALFORMED,
                           "record %d: has more than one value field (v, vs, vb, vd)", idx);
    if (n_values == 0 && !(p & (1u << SENML__S)))
        return senml__fail(err, idx, HX_EMALFORMED,
                           "record %d: has no value (v, vs, vb, vd) and no sum (s)", idx);

    struct senml_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.bver = r->bver;
    rc = resolve_name(r, raw, &rec.name, err);
    if (rc < 0)
        return rc;

    /* Time = bt + t; below 2^28 s it is relative to now (RFC 8428 §4.5.3). */
    int64_t t_us = 0;
    if ((p & (1u << SENML__T)) && !num_to_us(&raw->num[SENML__T], &t_us))
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: t is out of range", idx);
    int64_t when = r->bt_us + t_us; /* both within +-1e18: cannot overflow */
    if (when < RELATIVE_LIMIT_US && __builtin_add_overflow(when, r->opts->now_us, &when))
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: time is out of range", idx);
    rec.time_us = when;

    rec.unit = (p & (1u << SENML__U)) ? raw->str[SENML__U] : r->bu;

    if (p & (1u << SENML__V)) {
        rec.kind = SENML_KIND_NUMBER;
        rec.value = r->bv + num_to_double(&raw->num[SENML__V]);
        if (!isfinite(rec.value))
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: value is not finite", idx);
    } else if (p & (1u << SENML__VS)) {
        rec.kind = SENML_KIND_STRING;
        rec.str = raw->str[SENML__VS];
    } else if (p & (1u << SENML__VB)) {
        rec.kind = SENML_KIND_BOOL;
        rec.vb = raw->vb;
    } else if (p & (1u << SENML__VD)) {
        rec.kind = SENML_KIND_DATA;
        rec.str = raw->str[SENML__VD];
    } else {
        rec.kind = SENML_KIND_SUM_ONLY;
    }
    if (p & (1u << SENML__S)) {
        rec.has_sum = true;
        rec.sum = r->bs + num_to_double(&raw->num[SENML__S]);
        if (!isfinite(rec.sum))
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: sum is not finite", idx);
    }
    if (p & (1u << SENML__UT)) {
        rec.has_update_time = true;
        rec.update_time_s = num_to_double(&raw->num[SENML__UT]);
        if (!isfinite(rec.update_time_s))
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: ut is not finite", idx);
    }
    r->out->recs[r->out->n_recs++] = rec;
    r->index++;
    return 0;
}

/* ---- normalizers ------------------------------------------------------------------------ */

/* Seconds by which t_us lies more than SENML_MAX_FUTURE_US ahead of now_us, rounded up; 0
 * when it does not. */
static int64_t future_excess_s(int64_t t_us, int64_t now_us)
{
    int64_t ahead;
    if (__builtin_sub_overflow(t_us, now_us, &ahead))
        return t_us > now_us ? INT64_MAX / USEC_PER_SEC : 0;
    if (ahead <= SENML_MAX_FUTURE_US)
        return 0;
    return ahead / USEC_PER_SEC + (ahead % USEC_PER_SEC != 0);
}

static int fail_future(struct senml_error *err, int idx, int64_t ahead_s)
{
    return senml__fail(err, idx, HX_ERANGE, "record %d: time is %" PRId64 " s in the future", idx,
                       ahead_s);
}

int senml_to_obs(const struct senml_record *recs, size_t n, int64_t now_us, struct obs *out,
                 size_t *n_out, struct senml_obs_stats *stats, struct senml_error *err)
{
    size_t n_nc = 0;
    char q[QUOTE_MAX + 4];

    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        const struct senml_record *rec = &recs[i];
        int idx = (int)i;
        const struct obs_code *c;

        if (obs_code_by_name(rec->name, &c) < 0) {
            senml__quote(q, sizeof(q), rec->name, QUOTE_MAX);
            return senml__fail(err, idx, HX_EUNKNOWN_CODE, "record %d: unknown name '%s'", idx, q);
        }
        if (rec->kind != SENML_KIND_NUMBER)
            return senml__fail(err, idx, HX_EMALFORMED, "record %d: %s needs a numeric value (v)",
                               idx, c->senml_name);
        double v;
        unsigned flags = 0;
        if (units_to_canonical(c, rec->unit, rec->value, &v, &flags) < 0) {
            senml__quote(q, sizeof(q), rec->unit, QUOTE_MAX);
            return senml__fail(err, idx, HX_EUNIT,
                               "record %d: unit '%s' cannot be converted to %s for %s", idx, q,
                               c->ucum, c->display);
        }
        if (!obs_code_is_plausible(c, v)) {
            senml__fail(err, idx, HX_ERANGE, "record %d: %s is outside the plausible range %g-%g",
                        idx, c->senml_name, c->min, c->max);
            if (err) /* the device may see its value; the log may not (no PHI in logs) */
                snprintf(err->reason, sizeof(err->reason),
                         "record %d: %s %g %s is outside the plausible range %g-%g", idx,
                         c->senml_name, v, c->ucum, c->min, c->max);
            return HX_ERANGE;
        }
        int64_t ahead_s = future_excess_s(rec->time_us, now_us);
        if (ahead_s > 0)
            return fail_future(err, idx, ahead_s);

        bool secondary_ok = (rec->bver & SENML_FEATURE_SECONDARY_UNITS) != 0;
        if ((flags & (UNITS_NONCONFORMANT | UNITS_NOT_SENML)) ||
            ((flags & UNITS_SENML_SECONDARY) && !secondary_ok))
            n_nc++;

        out[i] = (struct obs){
            .effective_us = rec->time_us,
            .received_us = now_us,
            .value = v,
            .code = (uint16_t)c->id,
            .status = OBS_STATUS_FINAL,
        };
    }
    *n_out = n;
    if (stats)
        stats->n_nonconformant = n_nc;
    return 0;
}

/* The part of a name after its last '/' or ':' (a device prefix from bn is ignored). */
static struct slice last_segment(struct slice name)
{
    for (size_t i = name.len; i-- > 0;) {
        if (name.ptr[i] == '/' || name.ptr[i] == ':')
            return slice_make(name.ptr + i + 1, name.len - i - 1);
    }
    return name;
}

static bool is_printable_text(struct slice s, size_t max)
{
    if (s.len == 0 || s.len > max)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < 0x20 || s.ptr[i] >= 0x7f)
            return false;
    }
    return true;
}

/* Numeric status value within [lo, hi] with one of the allowed units ("" = none). */
static int status_number(const struct senml_record *rec, int idx, const char *what,
                         const char *const *units, double lo, double hi, int *out,
                         struct senml_error *err)
{
    if (rec->kind != SENML_KIND_NUMBER)
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: %s needs a numeric value (v)", idx,
                           what);
    bool unit_ok = false;
    for (size_t k = 0; units[k]; k++)
        unit_ok = unit_ok || slice_eq_cstr(rec->unit, units[k]);
    if (!unit_ok) {
        char q[QUOTE_MAX + 4];
        senml__quote(q, sizeof(q), rec->unit, QUOTE_MAX);
        return senml__fail(err, idx, HX_EUNIT, "record %d: unit '%s' is not allowed for %s", idx, q,
                           what);
    }
    if (!(rec->value >= lo && rec->value <= hi))
        return senml__fail(err, idx, HX_ERANGE, "record %d: %s %g is outside %g..%g", idx, what,
                           rec->value, lo, hi);
    *out = (int)lround(rec->value);
    return 0;
}

int senml_to_status(const struct senml_record *recs, size_t n, struct dev_status_update *out,
                    struct senml_error *err)
{
    static const char *const battery_units[] = {"%EL", "%", "", NULL};
    static const char *const rssi_units[] = {"dBm", "", NULL};
    struct dev_status_update st;
    int rc;

    memset(&st, 0, sizeof(st));
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        const struct senml_record *rec = &recs[i];
        struct slice name = last_segment(rec->name);
        int idx = (int)i;

        if (slice_eq_cstr(name, "battery")) {
            rc = status_number(rec, idx, "battery", battery_units, 0, 100, &st.battery_pct, err);
            if (rc < 0)
                return rc;
            st.has_battery = true;
        } else if (slice_eq_cstr(name, "rssi")) {
            rc = status_number(rec, idx, "rssi", rssi_units, -150, 0, &st.rssi_dbm, err);
            if (rc < 0)
                return rc;
            st.has_rssi = true;
        } else if (slice_eq_cstr(name, "firmware")) {
            if (rec->kind != SENML_KIND_STRING)
                return senml__fail(err, idx, HX_EMALFORMED,
                                   "record %d: firmware needs a string value (vs)", idx);
            if (!is_printable_text(rec->str, SENML_FIRMWARE_MAX - 1))
                return senml__fail(err, idx, HX_EMALFORMED,
                                   "record %d: firmware must be 1-%d printable ASCII characters",
                                   idx, SENML_FIRMWARE_MAX - 1);
            memcpy(st.firmware, rec->str.ptr, rec->str.len);
            st.firmware[rec->str.len] = '\0';
            st.has_firmware = true;
        } else {
            char q[QUOTE_MAX + 4];
            senml__quote(q, sizeof(q), rec->name, QUOTE_MAX);
            return senml__fail(err, idx, HX_EUNKNOWN_CODE, "record %d: unknown status name '%s'",
                               idx, q);
        }
    }
    *out = st;
    return 0;
}

/* The events a device may report, and whether each takes text (vs) besides a flag (vb).
 * Names come from the domain (dev_event_name). */
static const struct {
    enum dev_event_type type;
    bool text_ok; /* vs accepted besides vb */
} event_table[] = {
    {DEV_EVENT_PILL_TAKEN, true}, {DEV_EVENT_DOSE_MISSED, true},     {DEV_EVENT_BUTTON, true},
    {DEV_EVENT_FALL, false},      {DEV_EVENT_CONNECTION_LOST, true},
};

const char *senml_event_name(enum dev_event_type type)
{
    return dev_event_name(type);
}

int senml_to_events(const struct senml_record *recs, size_t n, int64_t now_us,
                    struct senml_event *out, size_t *n_out, struct senml_error *err)
{
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        const struct senml_record *rec = &recs[i];
        struct slice name = last_segment(rec->name);
        int idx = (int)i;
        size_t k;

        for (k = 0; k < sizeof(event_table) / sizeof(event_table[0]); k++) {
            if (slice_eq_cstr(name, dev_event_name(event_table[k].type)))
                break;
        }
        if (k == sizeof(event_table) / sizeof(event_table[0])) {
            char q[QUOTE_MAX + 4];
            senml__quote(q, sizeof(q), rec->name, QUOTE_MAX);
            return senml__fail(err, idx, HX_EUNKNOWN_CODE, "record %d: unknown event name '%s'",
                               idx, q);
        }
        const char *ev = dev_event_name(event_table[k].type);
        struct senml_event e;
        memset(&e, 0, sizeof(e));
        e.type = event_table[k].type;
        e.time_us = rec->time_us;
        if (rec->kind == SENML_KIND_BOOL) {
            e.flag = rec->vb;
        } else if (rec->kind == SENML_KIND_STRING && event_table[k].text_ok) {
            /* The text may name a medication: it never goes into a reason. */
            if (!is_printable_text(rec->str, SENML_EVENT_TEXT_MAX - 1))
                return senml__fail(err, idx, HX_EMALFORMED,
                                   "record %d: text of event %s must be 1-%d printable ASCII "
                                   "characters",
                                   idx, ev, SENML_EVENT_TEXT_MAX - 1);
            e.has_text = true;
            memcpy(e.text, rec->str.ptr, rec->str.len);
            e.text[rec->str.len] = '\0';
        } else {
            return senml__fail(err, idx, HX_EMALFORMED,
                               event_table[k].text_ok
                                   ? "record %d: event %s needs a string (vs) or boolean (vb) "
                                     "value"
                                   : "record %d: event %s needs a boolean value (vb)",
                               idx, ev);
        }
        int64_t ahead_s = future_excess_s(rec->time_us, now_us);
        if (ahead_s > 0)
            return fail_future(err, idx, ahead_s);
        out[i] = e;
    }
    *n_out = n;
    return 0;
}
