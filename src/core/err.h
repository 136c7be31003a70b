/*
 * Project-wide error codes. 0 is success, negative is failure. -1..-4095 are negated errno
 * values passed through untouched; domain codes live in enum hx_err at -5000 and below.
 * Thread: any.
 */
#ifndef MEDHUB_CORE_ERR_H
#define MEDHUB_CORE_ERR_H

#include <assert.h>
#include <stdbool.h>

enum hx_err {
    HX_EMALFORMED = -5000,    /* input does not follow its grammar */
    HX_ETOOBIG = -5001,       /* input or allocation exceeds a configured limit */
    HX_ENEEDMORE = -5002,     /* a resumable parser needs more bytes */
    HX_EDENIED = -5003,       /* not permitted */
    HX_ESTORE = -5004,        /* storage engine failure */
    HX_ENOTFOUND = -5005,     /* no such record */
    HX_EEXIST = -5006,        /* record already exists */
    HX_EUNKNOWN_CODE = -5007, /* observation code not in the code tables */
    HX_EUNIT = -5008,         /* unit unknown or not convertible for this code */
    HX_ERANGE = -5009,        /* value outside the plausible physiological range */
    HX_ECONFIG = -5010,       /* configuration error */
    HX_ESCHEMA = -5011,       /* database schema is newer than this binary or foreign */
    HX_ECORRUPT = -5012,      /* stored data is damaged or not ours */
    HX_EFULL = -5013,         /* disk or file size limit reached */
    HX_EREADONLY = -5014,     /* storage is read-only */
    HX_ELOCKED = -5015,       /* another process holds the data directory */
    HX_EBUSY = -5016,         /* resource busy; retry later */
    HX_ESHUTDOWN = -5017,     /* subsystem is shutting down */
    HX_EINVAL = -5018,        /* invalid argument from a caller or user */
};

/* Returns a static, human-readable description of an error code from either range.
 * Thread: any (never uses strerror(3)). */
const char *hx_strerror(int err);

#ifdef NDEBUG
#define HX_UNLIKELY_BUG(cond) (__builtin_expect(!!(cond), 0))
#else
/* Asserts in debug builds; in release it evaluates to the condition so callers can recover. */
#define HX_UNLIKELY_BUG(cond) ((cond) ? (assert(!(cond)), 1) : 0)
#endif

#endif
