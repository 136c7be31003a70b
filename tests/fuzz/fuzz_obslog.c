/*
 * libFuzzer target for the ingest log's record decoder (src/store/obslog.c), which reads
 * segment files back after a crash: the input is a segment's bytes, decoded record by record
 * the way obslog_replay does (header, then payload by its count). Every record that decodes
 * must encode and decode back to the same observations.
 * Layer: tests. Thread: main.
 */
#include "core/mem.h"
#include "store/obslog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        uint32_t n = 0, crc = 0;
        if (obslog_decode_header(data + off, size - off, &n, &crc) != 0)
            break;
        size_t plen = (size_t)n * OBSLOG_OBS_BYTES;
        if (size - off - OBSLOG_HEADER_BYTES < plen)
            break; /* a torn tail */
        struct obs *obs = hx_alloc_array(n, sizeof(*obs));
        if (obslog_decode_payload(data + off + OBSLOG_HEADER_BYTES, n, crc, obs) == 0) {
            uint8_t *enc = hx_xmalloc(OBSLOG_HEADER_BYTES + plen);
            struct obs *back = hx_alloc_array(n, sizeof(*back));
            obslog_encode(obs, n, enc);
            uint32_t n2 = 0, crc2 = 0;
            if (obslog_decode_header(enc, OBSLOG_HEADER_BYTES + plen, &n2, &crc2) != 0 || n2 != n ||
                obslog_decode_payload(enc + OBSLOG_HEADER_BYTES, n, crc2, back) != 0 ||
                memcmp(back, obs, n * sizeof(*obs)) != 0)
                abort();
            free(back);
            free(enc);
        }
        free(obs);
        off += OBSLOG_HEADER_BYTES + plen;
    }
    return 0;
}
