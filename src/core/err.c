/*
 * hx_strerror: text for both error ranges. strerror(3) is not thread-safe, so errno texts
 * come from strerrordesc_np (glibc, thread-safe, static strings).
 * Layer: core. Thread: any.
 */
#include "core/err.h"

#include <string.h>

const char *hx_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case HX_EMALFORMED:
        return "malformed input";
    case HX_ETOOBIG:
        return "too big";
    case HX_ENEEDMORE:
        return "need more input";
    case HX_EDENIED:
        return "permission denied";
    case HX_ESTORE:
        return "storage error";
    case HX_ENOTFOUND:
        return "not found";
    case HX_EEXIST:
        return "already exists";
    case HX_EUNKNOWN_CODE:
        return "unknown observation code";
    case HX_EUNIT:
        return "unknown or unconvertible unit";
    case HX_ERANGE:
        return "value outside plausible range";
    case HX_ECONFIG:
        return "configuration error";
    case HX_ESCHEMA:
        return "database schema not supported by this binary";
    case HX_ECORRUPT:
        return "database is corrupt or not a medhub database";
    case HX_EFULL:
        return "disk full or file size limit reached";
    case HX_EREADONLY:
        return "storage is read-only";
    case HX_ELOCKED:
        return "data directory is locked by another process";
    case HX_EBUSY:
        return "busy";
    case HX_ESHUTDOWN:
        return "shutting down";
    case HX_EINVAL:
        return "invalid argument";
    }
    if (err < 0 && err > -4096) {
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}
