/*
 * SenML JSON decoder (RFC 8428 §5). Parsing is jansson's (json_loadb with
 * JSON_REJECT_DUPLICATES: strict RFC 8259 grammar, UTF-8 validation, no NUL in strings, no
 * trailing bytes); the payload size is checked against the caller's limit BEFORE parsing, so
 * jansson's allocations stay proportional to a bounded input. Every string a record keeps is
 * copied into the caller's scratch buffer before the tree is freed; vd (base64url) is decoded
 * there too. Layer: ingest (pure). Thread: any.
 */
#include "ingest/ingest_int.h"

#include "core/err.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#define KEY_QUOTE_MAX 32

static int copy_string(struct senml_out *out, json_t *v, struct slice *dst)
{
    uint8_t *p;
    size_t len = json_string_length(v);
    int rc = senml__scratch_put(out, json_string_value(v), len, &p);
    if (rc < 0)
        return rc;
    *dst = slice_make(p, len);
    return 0;
}

static int decode_data(struct senml_out *out, json_t *v, struct slice *dst)
{
    size_t cap = out->scratch_len - out->scratch_used;
    size_t len = json_string_length(v);
    if (len == 0) {
        *dst = slice_make(NULL, 0);
        return 0;
    }
    uint8_t *p = out->scratch ? out->scratch + out->scratch_used : NULL;
    int rc = senml__base64url_decode(slice_make(json_string_value(v), len), p, &cap);
    if (rc < 0)
        return rc;
    out->scratch_used += cap;
    *dst = slice_make(p, cap);
    return 0;
}

/* One JSON object into raw. */
static int decode_record(struct senml__resolver *r, json_t *obj, struct senml__raw *raw,
                         struct senml_error *err)
{
    int idx = (int)r->index;
    const char *key;
    json_t *v;
    char q[KEY_QUOTE_MAX + 4];

    memset(raw, 0, sizeof(*raw));
    if (!json_is_object(obj))
        return senml__fail(err, idx, HX_EMALFORMED, "record %d: is not a JSON object", idx);
    json_object_foreach(obj, key, v)
    {
        struct slice k = slice_cstr(key);
        int l = senml__label_by_name(k);
        if (l < 0) {
            if (k.len > 0 && k.ptr[k.len - 1] == '_') { /* RFC 8428 §4.4 must-understand */
                senml__quote(q, sizeof(q), k, KEY_QUOTE_MAX);
                return senml__fail(err, idx, HX_EMALFORMED,
                                   "record %d: unknown must-understand label '%s'", idx, q);
            }
            continue; /* other unknown labels are ignored (RFC 8428 §4.4) */
        }
        enum senml__label lab = (enum senml__label)l;
        int rc = 0;
        switch (senml__label_type(lab)) {
        case SENML__TNUM:
            if (json_is_integer(v)) {
                raw->num[lab].is_int = true;
                raw->num[lab].i = (int64_t)json_integer_value(v);
            } else if (json_is_real(v)) {
                raw->num[lab].d = json_real_value(v);
            } else {
                rc = HX_EMALFORMED;
            }
            break;
        case SENML__TTEXT:
            rc = json_is_string(v) ? copy_string(r->out, v, &raw->str[lab]) : HX_EMALFORMED;
            break;
        case SENML__TBOOL:
            if (json_is_boolean(v))
                raw->vb = json_is_true(v);
            else
                rc = HX_EMALFORMED;
            break;
        case SENML__TDATA:
            rc = json_is_string(v) ? decode_data(r->out, v, &raw->str[lab]) : HX_EMALFORMED;
            if (rc == HX_EMALFORMED && json_is_string(v))
                return senml__fail(err, idx, rc, "record %d: vd is not unpadded base64url", idx);
            break;
        }
        if (rc == HX_ETOOBIG)
            return senml__fail(err, idx, rc, "record %d: strings exceed the scratch space", idx);
        if (rc < 0) {
            static const char *const type_names[] = {
                [SENML__TNUM] = "a number",
                [SENML__TTEXT] = "a string",
                [SENML__TBOOL] = "a boolean",
                [SENML__TDATA] = "a base64url string",
            };
            return senml__fail(err, idx, rc, "record %d: %s must be %s", idx,
                               senml__label_name(lab), type_names[senml__label_type(lab)]);
        }
        raw->present |= 1u << lab;
    }
    return 0;
}

int senml_decode_json(struct slice payload, const struct senml_opts *opts, struct senml_out *out,
                      struct senml_error *err)
{
    struct senml__resolver r;
    struct senml__raw raw;
    size_t max = opts->max_payload ? opts->max_payload : SENML_DEFAULT_MAX_PAYLOAD;
    json_error_t jerr;
    int rc = 0;

    senml__resolver_init(&r, out, opts);
    if (payload.len > max)
        return senml__fail(err, -1, HX_ETOOBIG, "payload of %zu bytes exceeds the limit of %zu",
                           payload.len, max);
    json_t *root =
        json_loadb((const char *)payload.ptr, payload.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return senml__fail(err, -1, -ENOMEM, "out of memory parsing JSON");
        /* jansson's text may quote input (a value): device-facing only. */
        senml__fail(err, -1, HX_EMALFORMED, "JSON syntax error at line %d column %d", jerr.line,
                    jerr.column);
        if (err)
            snprintf(err->reason, sizeof(err->reason), "JSON error at line %d column %d: %.100s",
                     jerr.line, jerr.column, jerr.text);
        return HX_EMALFORMED;
    }
    if (!json_is_array(root)) {
        rc = senml__fail(err, -1, HX_EMALFORMED, "a SenML pack must be a JSON array");
        goto out_free_json;
    }
    if (json_array_size(root) > out->max_recs) {
        rc = senml__fail(err, -1, HX_ETOOBIG, "pack has more than %zu records", out->max_recs);
        goto out_free_json;
    }
    for (size_t i = 0; i < json_array_size(root); i++) {
        rc = decode_record(&r, json_array_get(root, i), &raw, err);
        if (rc < 0)
            goto out_free_json;
        rc = senml__resolve(&r, &raw, err);
        if (rc < 0)
            goto out_free_json;
    }
out_free_json:
    json_decref(root);
    if (rc < 0) {
        out->n_recs = 0;
        return rc;
    }
    return 0;
}
