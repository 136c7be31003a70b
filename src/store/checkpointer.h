/*
 * The checkpointer thread that keeps the writer connection free of checkpoints (see
 * checkpointer.c). Started and stopped by the store writer. Thread: start/stop on the
 * caller's; the work on its own thread.
 */
#ifndef MEDHUB_STORE_CHECKPOINTER_H
#define MEDHUB_STORE_CHECKPOINTER_H

#include "core/cfg.h"
#include "store/store.h"

#include <stdint.h>
#include <uv.h>

/* How often the log is copied into the database file. */
#define STORE_CHECKPOINT_MS 1000
/* A log this long (pages, 256 MiB of 4 KiB pages) is truncated even if the writer waits. */
#define STORE_CHECKPOINT_TRUNCATE_PAGES 65536

struct store_checkpointer;

/* Opens its own connection and starts the thread (period_ms 0 = STORE_CHECKPOINT_MS).
 * OUT: *out returns owned (store_checkpointer_stop). Errors as store_open, detail in err. */
int store_checkpointer_start(struct store_checkpointer **out, const struct cfg_store *cfg,
                             uint32_t period_ms, char *err, size_t err_len);
/* Joins the thread (a pass in progress finishes), closes the connection, frees. NULL ok. */
void store_checkpointer_stop(struct store_checkpointer *c);

#endif
