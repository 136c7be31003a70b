/*
 * libFuzzer target for the SenML CBOR decoder (senml_decode_cbor) and every
 * normalizer behind it (telemetry, status, events): the input is an untrusted device payload.
 * Invariants checked: on success every record has a non-empty name inside the payload or the
 * scratch buffer, scratch use stays within its size, and normalizer outputs are bounded.
 * Layer: tests. Thread: main.
 */
#include "ingest/senml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXR 64

static bool within(struct slice s, const uint8_t *base, size_t len)
{
    return s.len == 0 || (s.ptr >= base && s.ptr + s.len <= base + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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

    if (senml_decode_cbor(slice_make(data, size), &opts, &out, &err) != 0) {
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
