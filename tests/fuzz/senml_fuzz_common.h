/*
 * Shared body of the two SenML fuzz targets (fuzz_senml_json.c, fuzz_senml_cbor.c): decode
 * with the given decoder, check the output invariants, then run every normalizer.
 * Invariants: on success every record has a non-empty name inside the payload or the scratch
 * buffer, scratch use stays within its size, and normalizer outputs are bounded.
 * Layer: tests. Thread: main.
 */
#ifndef MEDHUB_TESTS_FUZZ_SENML_COMMON_H
#define MEDHUB_TESTS_FUZZ_SENML_COMMON_H

#include "ingest/senml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int senml_decode_fn(struct slice payload, const struct senml_opts *opts,
                            struct senml_out *out, struct senml_error *err);

#define MAXR 64

static bool within(struct slice s, const uint8_t *base, size_t len)
{
    return s.len == 0 || (s.ptr >= base && s.ptr + s.len <= base + len);
}

static int fuzz_senml_one(senml_decode_fn *decode, const uint8_t *data, size_t size)
{
    static struct senml_record recs[MAXR];
    static uint8_t scratch[1024];
    static struct obs obs[MAXR];
    static struct senml_event events[MAXR];
    const int64_t now = INT64_C(1720000000) * 1000000;
    struct senml_out out = {
        .recs = recs, .max_recs = MAXR, .scratch = scratch, .scratch_len = sizeof(scratch)};
    struct senml_opts opts = {.now_us = now, .max_payload = 16384};
    struct senml_error err;

    if (decode(slice_make(data, size), &opts, &out, &err) != 0) {
        if (out.n_recs != 0 || memchr(err.reason, 0, sizeof(err.reason)) == NULL)
            abort();
        return 0;
    }
    if (out.n_recs > MAXR || out.scratch_used > sizeof(scratch))
        abort();
    for (size_t i = 0; i < out.n_recs; i++) {
        const struct senml_record *r = &recs[i];
        bool in_payload = within(r->name, data, size);
        if (r->name.len == 0 || (!in_payload && !within(r->name, scratch, sizeof(scratch))))
            abort();
        if (!within(r->unit, data, size) && !within(r->unit, scratch, sizeof(scratch)))
            abort();
    }
    size_t n = 0;
    struct senml_obs_stats st;
    if (senml_to_obs(recs, out.n_recs, now, obs, &n, &st, &err) == 0 &&
        (n != out.n_recs || st.n_nonconformant > n))
        abort();
    struct dev_status_update su;
    if (senml_to_status(recs, out.n_recs, &su, &err) == 0 && su.has_battery &&
        (su.battery_pct < 0 || su.battery_pct > 100))
        abort();
    senml_to_events(recs, out.n_recs, now, events, &n, &err);
    return 0;
}

#endif
