/*
 * The SQLite schema history: one entry per schema version, applied in order by the SQLite
 * backend's migration runner (store/sqlite/sqlst_open.c), each in its own transaction.
 * Entries are append-only: a released migration is never edited, a change is a new version
 * (and STORE_SCHEMA_VERSION in store.h moves with it). Thread: any (immutable data).
 */
#ifndef MEDHUB_STORE_MIGRATE_SQLITE_MIGRATIONS_H
#define MEDHUB_STORE_MIGRATE_SQLITE_MIGRATIONS_H

#include <stddef.h>

/* PRAGMA application_id of every medhub database: 'MHB1'. */
#define STORE_SQLITE_APPLICATION_ID 0x4D484231

struct store_migration {
    int version;             /* user_version after this step; 1, 2, 3, ... without gaps */
    const char *description; /* one line for the log */
    const char *sql;         /* statements run with sqlite3_exec; constants only, no values */
};

/* Ordered by version; store_sqlite_n_migrations entries. The last version equals
 * STORE_SCHEMA_VERSION. */
extern const struct store_migration store_sqlite_migrations[];
extern const size_t store_sqlite_n_migrations;

#endif
