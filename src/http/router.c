/*
 * The router: routes registered by method and path pattern (literal segments, whole-segment
 * {params}, prefix routes), matched against a decoded path with the most specific route
 * winning; 404 and 405 (with the allowed methods) when none fits.
 * A linear scan: a few dozen routes cost less than a request's parsing.
 * Layer: http. Thread: loop (registration before serving; matching is pure).
 */
#include "core/err.h"
#include "core/mem.h"
#include "http/http_int.h"

#include <string.h>

/* Per-position specificity used to rank matching routes. */
enum seg_rank {
    RANK_END = 0,    /* the pattern ended (exact routes: path ended too) */
    RANK_REST = 1,   /* inside a prefix route's rest */
    RANK_PARAM = 2,  /* a {param} */
    RANK_LITERAL = 3 /* a literal segment */
};

struct http_router *http_router_new(void)
{
    return hx_xcalloc(1, sizeof(struct http_router));
}

static void route_free(struct http_route *rt)
{
    for (uint32_t i = 0; i < rt->n_segs; i++)
        free(rt->seg[i]);
    free(rt->pattern);
    free(rt->name);
    free(rt->perm);
    free(rt);
}

void http_router_free(struct http_router *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n_routes; i++)
        route_free(r->routes[i]);
    free(r->routes);
    free(r);
}

static bool is_param_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Splits a pattern into rt's segments. */
static int parse_pattern(struct http_route *rt, const char *pat, bool prefix)
{
    size_t len = strlen(pat);
    if (len == 0 || pat[0] != '/')
        return HX_EINVAL;
    if (prefix && pat[len - 1] != '/')
        return HX_EINVAL;
    size_t i = 1;
    while (i < len) {
        const char *s = pat + i;
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0)
            return HX_EINVAL; /* "//" */
        if (rt->n_segs == HTTP_ROUTE_MAX_SEGS)
            return HX_EINVAL;
        bool param = s[0] == '{';
        if (param) {
            if (n < 3 || s[n - 1] != '}')
                return HX_EINVAL;
            for (size_t k = 1; k + 1 < n; k++)
                if (!is_param_char(s[k]))
                    return HX_EINVAL;
            if (rt->n_params == HTTP_ROUTE_MAX_PARAMS)
                return HX_EINVAL;
            char *name = hx_xstrndup(s + 1, n - 2);
            for (uint32_t p = 0; p < rt->n_params; p++) {
                if (strcmp(rt->seg[rt->param_pos[p]], name) == 0) {
                    free(name);
                    return HX_EINVAL;
                }
            }
            rt->param_pos[rt->n_params++] = rt->n_segs;
            rt->seg[rt->n_segs] = name;
        } else {
            if (memchr(s, '{', n) || memchr(s, '}', n))
                return HX_EINVAL;
            rt->seg[rt->n_segs] = hx_xstrndup(s, n);
        }
        rt->is_param[rt->n_segs] = param;
        rt->n_segs++;
        i += n + 1;
    }
    rt->trailing_slash = !prefix && pat[len - 1] == '/';
    return 0;
}

int http_router_add_route(struct http_router *r, const struct http_route_def *d)
{
    if (!d->fn || !d->name || !*d->name || !d->method || !d->pattern)
        return HX_EINVAL;
    int method = -1;
    if (strcmp(d->method, "*") != 0) {
        enum http_meth m;
        if (http_meth_parse(d->method, strlen(d->method), &m) < 0)
            return HX_EINVAL;
        method = (int)m;
    }
    bool prefix = (d->flags & HTTP_ROUTE_PREFIX) != 0;
    for (uint32_t i = 0; i < r->n_routes; i++) {
        const struct http_route *o = r->routes[i];
        if (o->method == method && strcmp(o->pattern, d->pattern) == 0 &&
            ((o->flags & HTTP_ROUTE_PREFIX) != 0) == prefix)
            return HX_EEXIST;
    }
    struct http_route *rt = hx_xcalloc(1, sizeof(*rt));
    rt->method = method;
    rt->flags = d->flags;
    rt->fn = d->fn;
    rt->arg = d->arg;
    rt->pattern = hx_xstrdup(d->pattern);
    rt->name = hx_xstrdup(d->name);
    rt->perm = d->perm ? hx_xstrdup(d->perm) : NULL;
    int rc = parse_pattern(rt, d->pattern, prefix);
    if (rc < 0) {
        route_free(rt);
        return rc;
    }
    if (r->n_routes == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = hx_xrealloc(r->routes, r->cap * sizeof(*r->routes));
    }
    r->routes[r->n_routes++] = rt;
    return 0;
}

int http_router_add(struct http_router *r, const char *method, const char *pattern,
                    http_handler_fn *fn, void *arg, const char *name)
{
    struct http_route_def d = {
        .method = method, .pattern = pattern, .fn = fn, .arg = arg, .name = name};
    return http_router_add_route(r, &d);
}

int http_router_add_public(struct http_router *r, const char *method, const char *pattern,
                           http_handler_fn *fn, void *arg, const char *name)
{
    struct http_route_def d = {.method = method,
                               .pattern = pattern,
                               .fn = fn,
                               .arg = arg,
                               .name = name,
                               .flags = HTTP_ROUTE_PUBLIC};
    return http_router_add_route(r, &d);
}

const char *http_route_name(const struct http_route *rt)
{
    return rt->name;
}

const char *http_route_perm(const struct http_route *rt)
{
    return rt->perm;
}

unsigned http_route_flags(const struct http_route *rt)
{
    return rt->flags;
}

const struct http_route *http__route_at(const struct http_router *r, uint32_t i)
{
    return i < r->n_routes ? r->routes[i] : NULL;
}

/* Does rt's pattern match path? Fills params and rest in out when it does. */
static bool path_matches(const struct http_route *rt, const struct http_path *path,
                         struct http_route_match *out)
{
    bool prefix = (rt->flags & HTTP_ROUTE_PREFIX) != 0;
    if (prefix) {
        /* "/fhir/" matches "/fhir/" and "/fhir/x...", not "/fhir". */
        if (path->n_segs < rt->n_segs || (path->n_segs == rt->n_segs && !path->trailing_slash))
            return false;
    } else if (path->n_segs != rt->n_segs || path->trailing_slash != rt->trailing_slash) {
        /* "/" is zero segments with a trailing slash, like the pattern "/". */
        return false;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < rt->n_segs; i++) {
        if (rt->is_param[i]) {
            if (path->seg_len[i] == 0)
                return false;
            out->param_seg[k++] = i;
        } else if (strlen(rt->seg[i]) != path->seg_len[i] ||
                   memcmp(rt->seg[i], path->seg[i], path->seg_len[i]) != 0) {
            return false;
        }
    }
    out->rest_seg = rt->n_segs;
    return true;
}

static enum seg_rank rank_at(const struct http_route *rt, uint32_t i)
{
    if (i < rt->n_segs)
        return rt->is_param[i] ? RANK_PARAM : RANK_LITERAL;
    return (rt->flags & HTTP_ROUTE_PREFIX) ? RANK_REST : RANK_END;
}

/* > 0 when a is more specific than b for a path of n segments. */
static int compare(const struct http_route *a, const struct http_route *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        enum seg_rank ra = rank_at(a, i), rb = rank_at(b, i);
        if (ra != rb)
            return (int)ra - (int)rb;
    }
    bool pa = (a->flags & HTTP_ROUTE_PREFIX) != 0, pb = (b->flags & HTTP_ROUTE_PREFIX) != 0;
    return (int)pb - (int)pa; /* exact beats prefix */
}

static bool method_fits(const struct http_route *rt, enum http_meth m)
{
    return rt->method < 0 || rt->method == (int)m ||
           (m == HTTP_METH_HEAD && rt->method == HTTP_METH_GET);
}

static unsigned route_allow(const struct http_route *rt)
{
    if (rt->method < 0)
        return (1u << HTTP_METH_COUNT) - 1;
    unsigned a = 1u << rt->method;
    if (rt->method == HTTP_METH_GET)
        a |= 1u << HTTP_METH_HEAD;
    return a;
}

enum http_match http_router_match(const struct http_router *r, enum http_meth m,
                                  const struct http_path *path, struct http_route_match *out)
{
    memset(out, 0, sizeof(*out));
    const struct http_route *best = NULL;
    struct http_route_match tmp;
    unsigned allow = 0;
    for (uint32_t i = 0; i < r->n_routes; i++) {
        const struct http_route *rt = r->routes[i];
        memset(&tmp, 0, sizeof(tmp));
        if (!path_matches(rt, path, &tmp))
            continue;
        if (!method_fits(rt, m)) {
            if (!(rt->flags & HTTP_ROUTE_FALLBACK))
                allow |= route_allow(rt);
            continue;
        }
        if (!best || compare(rt, best, path->n_segs + 1) > 0) {
            best = rt;
            *out = tmp;
            out->route = rt;
        }
    }
    if (best && !(best->flags & HTTP_ROUTE_FALLBACK))
        return HTTP_MATCH_FOUND;
    if (allow) {
        /* A specific route exists for this path, only not for this method: that beats a
         * catch-all, which would answer 404 for a resource that exists. */
        memset(out, 0, sizeof(*out));
        out->allow = allow | (1u << HTTP_METH_OPTIONS);
        return HTTP_MATCH_NOT_ALLOWED;
    }
    return best ? HTTP_MATCH_FOUND : HTTP_MATCH_NOT_FOUND;
}

void http_allow_format(unsigned allow, char *out, size_t out_len)
{
    size_t o = 0;
    if (out_len == 0)
        return;
    out[0] = '\0';
    for (unsigned i = 0; i < HTTP_METH_COUNT; i++) {
        if (!(allow & (1u << i)))
            continue;
        int n = snprintf(out + o, out_len - o, "%s%s", o ? ", " : "",
                         http_meth_name((enum http_meth)i));
        if (n < 0 || (size_t)n >= out_len - o)
            return;
        o += (size_t)n;
    }
}
