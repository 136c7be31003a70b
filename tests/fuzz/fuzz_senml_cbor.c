/*
 * libFuzzer target for the SenML CBOR decoder (senml_decode_cbor) and every normalizer
 * behind it (telemetry, status, events): the input is an untrusted device payload.
 * Layer: tests. Thread: main.
 */
#include "senml_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_senml_one(senml_decode_cbor, data, size);
}
