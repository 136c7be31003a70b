/*
 * Query strings and paths (pure: no I/O, no globals). A query string is split at '&' into
 * name=value pairs, percent-decoded ('+' is a space, as in HTML forms), and kept in order,
 * repeated names included; a path is split at '/' into percent-decoded segments. REST
 * handlers, FHIR search and the router build on these.
 * Thread: any (each call only touches its arguments).
 */
#ifndef MEDHUB_HTTP_QUERY_H
#define MEDHUB_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most parameters one query string may carry; more is HX_ETOOBIG (HTTP 400 or 414). */
#define HTTP_QUERY_MAX_PARAMS 64
/* Most segments a path may have; more is HX_ETOOBIG (HTTP 414). */
#define HTTP_PATH_MAX_SEGS 32

/* One name=value pair, both decoded and NUL-terminated (they may not contain NUL: "%00" is
 * refused). "a" without '=' has the empty value and has_value false. */
struct http_param {
    const char *name;  /* decoded name, in the owning http_query's storage */
    size_t name_len;   /* bytes in name */
    const char *value; /* decoded value ("" when absent) */
    size_t value_len;  /* bytes in value */
    bool has_value;    /* an '=' was present */
};

struct http_query {
    struct http_param params[HTTP_QUERY_MAX_PARAMS]; /* in the order they appeared */
    uint32_t n_params;                               /* params used */
    char *buf;                                       /* owned: decoded names and values */
};

/* A decoded path: "/a/b%20c/" is segments "a", "b c" with trailing_slash; "/" is no segment
 * with trailing_slash; "/a//b" keeps the empty middle segment. */
struct http_path {
    const char *seg[HTTP_PATH_MAX_SEGS]; /* decoded, NUL-terminated, in the buffer below */
    size_t seg_len[HTTP_PATH_MAX_SEGS];  /* bytes in each segment */
    uint32_t n_segs;                     /* segments used */
    bool trailing_slash;                 /* the path ends with '/' */
    char *buf;                           /* owned: the decoded segments */
};

/*
 * Percent-decodes in[0..len) into out (at least len + 1 bytes; the result is NUL-terminated).
 * plus_space: '+' decodes to a space (query strings) instead of itself (paths).
 * OUT: *out_len the decoded length.
 * Errors: HX_EMALFORMED for a '%' not followed by two hex digits, or a decoded NUL ("%00").
 * Thread: any.
 */
int http_pct_decode(const char *in, size_t len, bool plus_space, char *out, size_t *out_len);

/*
 * Parses the raw query string raw[0..len) (without the '?'; need not be NUL-terminated).
 * Empty pairs ("a=1&&b=2") are skipped. OUT: *out (release with http_query_release, also
 * after an error). raw is borrowed for the call: *out owns copies.
 * Errors: HX_EMALFORMED (bad escape, %00), HX_ETOOBIG (more than HTTP_QUERY_MAX_PARAMS
 * pairs), -ENOMEM. Thread: any.
 */
int http_query_parse(const char *raw, size_t len, struct http_query *out);
void http_query_release(struct http_query *q);

/* The first parameter named name (exact, case-sensitive), or NULL. Borrows q. */
const struct http_param *http_query_get(const struct http_query *q, const char *name);
/* Iterates: the next parameter at or after *pos whose name is name (NULL: any name), or NULL
 * at the end; start with *pos = 0. Example:
 *   uint32_t pos = 0;
 *   for (const struct http_param *p; (p = http_query_next(q, "code", &pos));) ...  */
const struct http_param *http_query_next(const struct http_query *q, const char *name,
                                         uint32_t *pos);

/*
 * Splits and decodes the raw path raw[0..len), which must start with '/'. '+' stays '+'.
 * OUT: *out (release with http_path_release, also after an error); raw is borrowed.
 * Errors: HX_EMALFORMED (no leading '/', bad escape, %00, or a "." or ".." segment, encoded
 * or not: clients remove dot segments, so one arriving here is an attack or a bug),
 * HX_ETOOBIG (more than HTTP_PATH_MAX_SEGS segments), -ENOMEM. Thread: any.
 */
int http_path_split(const char *raw, size_t len, struct http_path *out);
void http_path_release(struct http_path *p);

#endif
