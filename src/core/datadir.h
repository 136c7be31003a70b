/*
 * The data directory: layout, creation and the single-instance lock.
 *   <dir>/medhub.conf   optional configuration (written commented by init)
 *   <dir>/medhub.db     SQLite database (+ -wal, -shm)
 *   <dir>/server.key    32-byte key for hashing device secrets and tokens (0600)
 *   <dir>/tls/          certificates (device CA, server certificate)
 *   <dir>/medhub.lock   held (flock) by the running daemon
 * Thread: main thread at start-up.
 */
#ifndef MEDHUB_CORE_DATADIR_H
#define MEDHUB_CORE_DATADIR_H

#include <stddef.h>

/* Creates dir (0700) and its subdirectories if missing. Returns 0 or -errno with detail. */
int datadir_create(const char *dir, char *err, size_t err_len);

/* Takes the daemon lock. OUT: *fd_out the lock descriptor (close it to release).
 * Returns 0, HX_ELOCKED (another daemon holds it; err names its pid) or -errno. */
int datadir_lock(const char *dir, int *fd_out, char *err, size_t err_len);

/* Releases the lock taken by datadir_lock. */
void datadir_unlock(const char *dir, int fd);

#endif
