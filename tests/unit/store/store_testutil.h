/*
 * Helpers shared by the store unit tests: a temporary directory per test, a store
 * configuration pointing into it, and small record builders. Header-only (static functions)
 * so each test_*.c stays a single translation unit.
 */
#ifndef MEDHUB_TESTS_UNIT_STORE_TESTUTIL_H
#define MEDHUB_TESTS_UNIT_STORE_TESTUTIL_H

#include "core/cfg.h"
#include "domain/model.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A temporary directory with a database path inside. */
struct tdir {
    char dir[64];         /* mkdtemp result */
    struct cfg_store cfg; /* storage config with path = dir/medhub.db */
};

static inline void tdir_init(struct tdir *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/medhub-store-test-XXXXXX");
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        abort();
    }
    memset(&t->cfg, 0, sizeof(t->cfg));
    t->cfg.backend = CFG_BACKEND_SQLITE;
    t->cfg.sync = CFG_SYNC_FULL;
    t->cfg.batch_max = 8192;
    t->cfg.queue_max = 65536;
    t->cfg.busy_timeout_ms = 5000;
    snprintf(t->cfg.path, sizeof(t->cfg.path), "%s/medhub.db", t->dir);
}

/* Removes every file in dir (and in its subdirectories, such as the ingest log), then dir. */
static inline void tdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[1024];
            if (snprintf(p, sizeof(p), "%.500s/%.255s", dir, e->d_name) >= (int)sizeof(p))
                continue;
            if (unlink(p) < 0)
                tdir_remove(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline void tdir_release(struct tdir *t)
{
    tdir_remove(t->dir);
}

static inline struct patient tpatient(const char *mrn, const char *name, const char *ward,
                                      const char *location)
{
    struct patient p = {0};
    snprintf(p.mrn, sizeof(p.mrn), "%s", mrn);
    snprintf(p.name, sizeof(p.name), "%s", name);
    snprintf(p.ward, sizeof(p.ward), "%s", ward);
    snprintf(p.location, sizeof(p.location), "%s", location);
    return p;
}

static inline struct device tdevice(const char *uid, const char *kind)
{
    struct device d = {.battery_pct = -1};
    snprintf(d.uid, sizeof(d.uid), "%s", uid);
    snprintf(d.kind, sizeof(d.kind), "%s", kind);
    return d;
}

static inline struct obs tobs(int64_t patient, int64_t device, int code, int64_t t_us, double value)
{
    return (struct obs){.patient_id = patient,
                        .device_id = device,
                        .code = (uint16_t)code,
                        .effective_us = t_us,
                        .received_us = t_us + 1,
                        .value = value};
}

#endif
