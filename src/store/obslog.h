/*
 * The ingest log: an append-only file of observation records. The store writer makes a group
 * of readings durable by appending one record and calling fdatasync (a sequential write of
 * ~52 bytes per reading, whatever the number of patients), acknowledges them, and only then
 * applies them to the database in large sorted batches on another thread (see writer.c for
 * why: a database commit at this layout costs one page per patient).
 *
 * On disk: <storage.path>-ingest/<20-digit segment number>.log. A segment is a sequence of
 * records, each a 16-byte header (magic "MHL1", count, CRC-32C of the payload, CRC-32C of
 * the first 12 header bytes) and count x 52-byte observations, little-endian. A new segment
 * starts every OBSLOG_SEGMENT_BYTES; segments whose records are durably in the database are
 * deleted. A torn record at the end of the last segment is a write that never completed (it
 * was never acknowledged) and ends the replay; a bad record anywhere else is damage: the
 * segment is renamed *.corrupt, kept for inspection, and reported.
 *
 * Thread: one thread at a time per struct obslog (the store writer thread).
 */
#ifndef MEDHUB_STORE_OBSLOG_H
#define MEDHUB_STORE_OBSLOG_H

#include "domain/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A segment this long is closed and the next one started. */
#define OBSLOG_SEGMENT_BYTES (64u << 20)
/* Bytes of one encoded observation and of a record header. */
#define OBSLOG_OBS_BYTES    52u
#define OBSLOG_HEADER_BYTES 16u
/* Observations in one record at most (a replay refuses larger counts as damage). */
#define OBSLOG_RECORD_MAX (1u << 20)

struct obslog;

/* What a replay found. */
struct obslog_replay_stats {
    uint64_t segments;     /* segment files read */
    uint64_t records;      /* valid records */
    uint64_t observations; /* observations in them */
    uint64_t torn_bytes;   /* bytes of an incomplete record at the end of the last segment */
    uint64_t corrupt;      /* segments with damage before their end (renamed *.corrupt) */
};

/* Opens the log directory dir, creating it (mode 0700) when missing. sync: fdatasync at
 * obslog_sync (storage.sync = full); without it the log survives a process crash only.
 * Appends go to a new segment after the highest existing one: call obslog_replay first to
 * read what a previous run left. dir is copied.
 * OUT: *out returns owned (obslog_close). Errors: -errno with detail in err. */
int obslog_open(struct obslog **out, const char *dir, bool sync, char *err, size_t err_len);

/* Called with the observations of each valid record, in log order (obs valid for the call).
 * A negative return stops the replay and is returned by obslog_replay. */
typedef int obslog_replay_fn(void *arg, const struct obs *obs, size_t n);

/* Reads every segment that existed at obslog_open, in order. OUT: *stats.
 * Returns 0, fn's negative return, or -errno (detail in err). */
int obslog_replay(struct obslog *l, obslog_replay_fn *fn, void *arg,
                  struct obslog_replay_stats *stats, char *err, size_t err_len);

/* Appends n observations (1..OBSLOG_RECORD_MAX) as one record, not yet durable.
 * OUT: *segment, the number of the segment holding it. Returns 0, HX_EFULL (no space: the
 * partial record is cut off again, retry later), HX_EINVAL or -errno. */
int obslog_append(struct obslog *l, const struct obs *obs, size_t n, uint64_t *segment);

/* Makes every appended record durable (fdatasync, when opened with sync). Returns 0 or
 * -errno: after a failed sync the records since the last good one must not be acknowledged. */
int obslog_sync(struct obslog *l);

/* Deletes the segments numbered below segment (the caller knows their records are durable in
 * the database) and every segment read by the replay. Never deletes the current one. */
void obslog_release_before(struct obslog *l, uint64_t segment);

/* Deletes every segment, the current one too (a clean stop: all of it is in the database);
 * the next append starts a new one. */
void obslog_remove_all(struct obslog *l);

/* Starts a new segment once the current one holds bytes (default OBSLOG_SEGMENT_BYTES);
 * for tests, which need several small segments. */
void obslog_set_segment_bytes(struct obslog *l, uint64_t bytes);

/* The segment appends go to now. */
uint64_t obslog_segment(const struct obslog *l);

/* Closes the current segment (without syncing) and frees l. NULL is a no-op. */
void obslog_close(struct obslog *l);

/* Codec, exposed for tests and the fuzz target: encodes n observations as one record into
 * out (OBSLOG_HEADER_BYTES + n * OBSLOG_OBS_BYTES bytes). */
void obslog_encode(const struct obs *obs, size_t n, uint8_t *out);
/* Decodes the record header at p (len bytes available). OUT: *n, the count. Returns 0,
 * HX_ENEEDMORE (fewer than OBSLOG_HEADER_BYTES) or HX_ECORRUPT. */
int obslog_decode_header(const uint8_t *p, size_t len, uint32_t *n, uint32_t *payload_crc);
/* Decodes n observations from a payload whose CRC-32C must equal payload_crc.
 * Returns 0 or HX_ECORRUPT. */
int obslog_decode_payload(const uint8_t *p, size_t n, uint32_t payload_crc, struct obs *out);

#endif
