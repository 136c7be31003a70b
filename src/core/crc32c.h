/*
 * CRC-32C (Castagnoli), the checksum of the ingest log's records: it catches torn writes and
 * flipped bits, which is all a local append-only log needs (it is not a MAC).
 * Thread: any (pure; the table is a compile-time constant).
 */
#ifndef MEDHUB_CORE_CRC32C_H
#define MEDHUB_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over len bytes of p: pass 0 to start. crc32c(0, "123456789", 9) is
 * 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

#endif
