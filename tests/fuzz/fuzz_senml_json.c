/*
 * libFuzzer target for the SenML JSON decoder (senml_decode_json) and every normalizer
 * behind it (telemetry, status, events): the input is an untrusted device payload.
 * Layer: tests. Thread: main.
 */
#include "senml_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_senml_one(senml_decode_json, data, size);
}
