/*
 * Static files for the web UI (web/): every file under the web root is read into memory once
 * at start (the UI is a few hundred KiB of modules and styles), with a strong ETag (from a
 * SHA-256 of its content), its MIME type and, for text types, a gzip copy made once with
 * zlib. Serving is then a lookup and a copy into the write queue: no disk I/O on the loop,
 * no worker round trip, and no way to reach a file that was not under the root at start
 * (traversal, symlinks pointing out, files created later). A restart picks up changes.
 * Layer: http. Thread: http_static_register before the loop runs; serving on the loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "http/http_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define STATIC_MAX_DEPTH 16
#define STATIC_KEY_MAX   1024
/* Text smaller than this is sent as is: gzip would save a few bytes at best. */
#define STATIC_GZIP_MIN 256

struct http__static_file {
    char *key;        /* owned: path relative to the root, "portal/index.html" */
    uint8_t *data;    /* owned: the content */
    size_t len;       /* bytes in data */
    uint8_t *gz;      /* owned: gzip copy, NULL when not worth it */
    size_t gz_len;    /* bytes in gz */
    const char *mime; /* static string */
    char etag[40];    /* "\"<32 hex>\"" */
    char etag_gz[44]; /* "\"<32 hex>-gz\"" */
};

struct http__static {
    struct http__static_file *files; /* owned, sorted by key */
    size_t n_files;                  /* used */
    size_t cap;                      /* allocated */
    size_t total;                    /* bytes held (both copies) */
    char root[PATH_MAX];             /* real path of the root */
    size_t root_len;                 /* strlen(root) */
};

/* ---- pure helpers -------------------------------------------------------------------------- */

static const struct {
    const char *ext;
    const char *mime;
    bool text; /* worth compressing */
} mime_types[] = {
    {"html", "text/html; charset=utf-8", true},
    {"htm", "text/html; charset=utf-8", true},
    {"js", "text/javascript; charset=utf-8", true},
    {"mjs", "text/javascript; charset=utf-8", true},
    {"css", "text/css; charset=utf-8", true},
    {"svg", "image/svg+xml", true},
    {"json", "application/json", true},
    {"map", "application/json", true},
    {"webmanifest", "application/manifest+json", true},
    {"txt", "text/plain; charset=utf-8", true},
    {"png", "image/png", false},
    {"jpg", "image/jpeg", false},
    {"jpeg", "image/jpeg", false},
    {"gif", "image/gif", false},
    {"webp", "image/webp", false},
    {"ico", "image/x-icon", true},
    {"woff2", "font/woff2", false},
    {"woff", "font/woff", false},
    {"wasm", "application/wasm", false},
};

static int mime_index(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash + 1 : name, '.');
    if (!dot)
        return -1;
    for (size_t i = 0; i < HX_ARRAY_LEN(mime_types); i++)
        if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
            return (int)i;
    return -1;
}

const char *http_mime_type(const char *name)
{
    int i = mime_index(name);
    return i < 0 ? "application/octet-stream" : mime_types[i].mime;
}

int http_static_resolve(const char *raw, size_t len, char *out, size_t out_len)
{
    if (len == 0 || raw[0] != '/')
        return HX_EMALFORMED;
    if (len >= out_len)
        return HX_ETOOBIG;
    /* Decode first, then judge segments: "%2e%2e" and "..%2f" are dot segments too. */
    char dec[STATIC_KEY_MAX + 1];
    size_t n;
    if (len > STATIC_KEY_MAX)
        return HX_ETOOBIG;
    int rc = http_pct_decode(raw, len, false, dec, &n);
    if (rc < 0)
        return rc;
    if (memchr(dec, '\\', n))
        return HX_EMALFORMED;
    size_t o = 0;
    size_t i = 1;
    bool hidden = false;
    while (i < n) {
        const char *s = dec + i;
        const char *slash = memchr(s, '/', n - i);
        size_t sl = slash ? (size_t)(slash - s) : n - i;
        if (sl == 0)
            return HX_EMALFORMED; /* "//" */
        if ((sl == 1 && s[0] == '.') || (sl == 2 && s[0] == '.' && s[1] == '.'))
            return HX_EMALFORMED;
        if (s[0] == '.')
            hidden = true; /* .git, .env: never served */
        if (o + sl + 2 > out_len)
            return HX_ETOOBIG;
        if (o)
            out[o++] = '/';
        memcpy(out + o, s, sl);
        o += sl;
        i += sl + 1;
    }
    if (dec[n - 1] == '/') {
        static const char idx[] = "index.html";
        if (o + sizeof(idx) + 1 > out_len)
            return HX_ETOOBIG;
        if (o)
            out[o++] = '/';
        memcpy(out + o, idx, sizeof(idx) - 1);
        o += sizeof(idx) - 1;
    }
    out[o] = '\0';
    return hidden ? HX_ENOTFOUND : 0;
}

int http_web_root_find(const char *configured, char *out, size_t out_len)
{
    struct stat sb;
    if (configured && *configured) {
        if (stat(configured, &sb) < 0)
            return -errno;
        if (!S_ISDIR(sb.st_mode))
            return -ENOTDIR;
        if ((size_t)snprintf(out, out_len, "%s", configured) >= out_len)
            return HX_ETOOBIG;
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -ENOENT;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    static const char *const rel[] = {"../web", "../share/medhub/web"};
    for (size_t i = 0; i < HX_ARRAY_LEN(rel); i++) {
        char cand[PATH_MAX];
        if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]) >= sizeof(cand))
            continue;
        char real[PATH_MAX];
        if (!realpath(cand, real) || stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode))
            continue;
        if ((size_t)snprintf(out, out_len, "%s", real) >= out_len)
            return HX_ETOOBIG;
        return 0;
    }
    return -ENOENT;
}

/* ---- loading ------------------------------------------------------------------------------- */

static int read_file(const char *path, size_t size, uint8_t **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    void *mem;
    int rc = hx_try_alloc(&mem, size ? size : 1, HTTP_STATIC_FILE_MAX);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, (uint8_t *)mem + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO; /* shrank while we read it */
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (rc < 0) {
        free(mem);
        return rc;
    }
    *out = mem;
    return 0;
}

static void make_gzip(struct http__static_file *f)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    uLong bound = deflateBound(&zs, (uLong)f->len);
    uint8_t *out = hx_xmalloc(bound);
    zs.next_in = f->data;
    zs.avail_in = (uInt)f->len;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    size_t n = bound - zs.avail_out;
    deflateEnd(&zs);
    /* Keep it only when it saves at least a tenth. */
    if (rc != Z_STREAM_END || n >= f->len - f->len / 10) {
        free(out);
        return;
    }
    f->gz = out;
    f->gz_len = n;
}

static int add_file(struct http__static *st, const char *key, const char *path, size_t size)
{
    uint8_t *data = NULL;
    int rc = read_file(path, size, &data);
    if (rc < 0)
        return rc;
    if (st->n_files == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 32;
        st->files = hx_xrealloc(st->files, st->cap * sizeof(*st->files));
    }
    struct http__static_file *f = &st->files[st->n_files++];
    memset(f, 0, sizeof(*f));
    f->key = hx_xstrdup(key);
    f->data = data;
    f->len = size;
    int mi = mime_index(key);
    f->mime = mi < 0 ? "application/octet-stream" : mime_types[mi].mime;
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(data, size, md);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(f->etag, sizeof(f->etag), "\"%s\"", hex);
    snprintf(f->etag_gz, sizeof(f->etag_gz), "\"%s-gz\"", hex);
    if (mi >= 0 && mime_types[mi].text && size >= STATIC_GZIP_MIN)
        make_gzip(f);
    st->total += f->len + f->gz_len;
    if (st->total > HTTP_STATIC_TOTAL_MAX)
        return HX_ETOOBIG;
    return 0;
}

/* Is the real path of path inside the root? (Symlinks may point anywhere.) */
static bool inside_root(const struct http__static *st, const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return false;
    return strncmp(real, st->root, st->root_len) == 0 &&
           (real[st->root_len] == '/' || real[st->root_len] == '\0');
}

static int walk(struct http__static *st, const char *dir, const char *prefix, int depth, char *err,
                size_t err_len)
{
    if (depth > STATIC_MAX_DEPTH)
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        int rc = -errno;
        snprintf(err, err_len, "cannot read web root directory '%s': %s", dir, hx_strerror(rc));
        return rc;
    }
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue; /* ., .., and dotfiles */
        char path[PATH_MAX], key[STATIC_KEY_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path) ||
            (size_t)snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "/" : "", e->d_name) >=
                sizeof(key))
            continue;
        struct stat sb;
        if (stat(path, &sb) < 0)
            continue;
        if (!inside_root(st, path)) {
            log_warn(NULL, "http", "static file skipped: it resolves outside the web root",
                     "file=\"%s\"", key);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            rc = walk(st, path, key, depth + 1, err, err_len);
        } else if (S_ISREG(sb.st_mode)) {
            if ((uint64_t)sb.st_size > HTTP_STATIC_FILE_MAX) {
                log_warn(NULL, "http", "static file skipped: too large", "file=\"%s\" bytes=%lld",
                         key, (long long)sb.st_size);
                continue;
            }
            /* Read through the real path: a symlink inside the root is fine, and O_NOFOLLOW
             * then guards against a swap between the check and the open. */
            char real[PATH_MAX];
            if (!realpath(path, real))
                continue;
            rc = add_file(st, key, real, (size_t)sb.st_size);
            if (rc == HX_ETOOBIG)
                snprintf(err, err_len, "web root '%s' holds more than %d MiB", st->root,
                         HTTP_STATIC_TOTAL_MAX / (1024 * 1024));
            else if (rc < 0) {
                log_warn(NULL, "http", "static file skipped: cannot read it",
                         "file=\"%s\" err=\"%s\"", key, hx_strerror(rc));
                rc = 0;
            }
        }
    }
    closedir(d);
    return rc;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct http__static_file *)a)->key,
                  ((const struct http__static_file *)b)->key);
}

static const struct http__static_file *find(const struct http__static *st, const char *key)
{
    struct http__static_file k = {.key = (char *)key};
    return bsearch(&k, st->files, st->n_files, sizeof(*st->files), cmp_file);
}

void http__static_free(struct http__static *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_files; i++) {
        free(st->files[i].key);
        free(st->files[i].data);
        free(st->files[i].gz);
    }
    free(st->files);
    free(st);
}

/* ---- serving ------------------------------------------------------------------------------- */

/* Splits a comma-separated header value and calls match on each trimmed element. */
static bool any_element(struct slice v, bool (*match)(struct slice el, const void *arg),
                        const void *arg)
{
    size_t i = 0;
    while (i < v.len) {
        size_t end = i;
        while (end < v.len && v.ptr[end] != ',')
            end++;
        struct slice el = slice_make(v.ptr + i, end - i);
        while (el.len && (el.ptr[0] == ' ' || el.ptr[0] == '\t')) {
            el.ptr++;
            el.len--;
        }
        while (el.len && (el.ptr[el.len - 1] == ' ' || el.ptr[el.len - 1] == '\t'))
            el.len--;
        if (el.len && match(el, arg))
            return true;
        i = end + 1;
    }
    return false;
}

/* RFC 9110 13.1.2: weak comparison; "*" matches any current representation. */
static bool etag_matches(struct slice el, const void *arg)
{
    const char *etag = arg;
    if (el.len == 1 && el.ptr[0] == '*')
        return true;
    if (el.len > 2 && el.ptr[0] == 'W' && el.ptr[1] == '/') {
        el.ptr += 2;
        el.len -= 2;
    }
    return slice_eq_cstr(el, etag);
}

/* RFC 9110 12.5.3: "gzip" or "*" with a q-value other than 0. */
static bool gzip_accepted(struct slice el, const void *arg)
{
    (void)arg;
    size_t n = 0;
    while (n < el.len && el.ptr[n] != ';' && el.ptr[n] != ' ' && el.ptr[n] != '\t')
        n++;
    struct slice coding = slice_make(el.ptr, n);
    if (!http_slice_eq_nocase(coding, "gzip") && !slice_eq_cstr(coding, "*"))
        return false;
    const uint8_t *q = NULL;
    for (size_t i = n; i + 1 < el.len; i++) {
        if ((el.ptr[i] == 'q' || el.ptr[i] == 'Q') && el.ptr[i + 1] == '=') {
            q = el.ptr + i + 2;
            break;
        }
    }
    if (!q)
        return true;
    size_t left = el.len - (size_t)(q - el.ptr);
    /* q=0, q=0., q=0.0, q=0.00, q=0.000 all refuse. */
    if (left == 0 || q[0] != '0')
        return true;
    for (size_t i = 1; i < left; i++)
        if (q[i] != '.' && q[i] != '0')
            return true;
    return false;
}

static void serve(struct http_exchange *x, void *arg)
{
    const struct http__static *st = arg;
    const struct http_request *r = http_exchange_request(x);
    char key[STATIC_KEY_MAX];
    int rc = http_static_resolve((const char *)r->path.ptr, r->path.len, key, sizeof(key));
    if (rc == HX_EMALFORMED) {
        http_error(x, 400, "bad_path", "malformed path");
        return;
    }
    const struct http__static_file *f = rc == 0 ? find(st, key) : NULL;
    if (!f && rc == 0) {
        /* "/portal" -> "/portal/" when that directory has an index (relative links in the
         * page need the slash). */
        char idx[STATIC_KEY_MAX + 16];
        if ((size_t)snprintf(idx, sizeof(idx), "%s/index.html", key) < sizeof(idx) &&
            find(st, idx)) {
            char loc[STATIC_KEY_MAX + 4];
            if ((size_t)snprintf(loc, sizeof(loc), "%.*s/", (int)r->path.len,
                                 (const char *)r->path.ptr) < sizeof(loc) &&
                http_add_header(x, "Location", loc) == 0) {
                http_respond(x, 301, NULL, NULL, 0);
                return;
            }
        }
    }
    if (!f) {
        http_error(x, 404, "not_found", "no such resource");
        return;
    }
    const struct http_header *ae = http_request_header(r, "accept-encoding");
    bool gz = f->gz && ae && any_element(ae->value, gzip_accepted, NULL);
    const char *etag = gz ? f->etag_gz : f->etag;
    http_add_header(x, "ETag", etag);
    http_add_header(x, "Cache-Control", "no-cache"); /* revalidate with the ETag */
    if (f->gz)
        http_add_header(x, "Vary", "Accept-Encoding");
    const struct http_header *inm = http_request_header(r, "if-none-match");
    if (inm && any_element(inm->value, etag_matches, etag)) {
        http_respond(x, 304, NULL, NULL, 0);
        return;
    }
    if (gz) {
        http_add_header(x, "Content-Encoding", "gzip");
        http_respond(x, 200, f->mime, f->gz, f->gz_len);
    } else {
        http_respond(x, 200, f->mime, f->data, f->len);
    }
}

int http_static_register(struct http_server *hs, const char *root, char *err, size_t err_len)
{
    struct http__static *st = hx_xcalloc(1, sizeof(*st));
    int rc = 0;
    if (!realpath(root, st->root)) {
        rc = -errno;
        snprintf(err, err_len, "web root '%s': %s", root, hx_strerror(rc));
        goto out_free;
    }
    st->root_len = strlen(st->root);
    rc = walk(st, st->root, "", 0, err, err_len);
    if (rc < 0)
        goto out_free;
    qsort(st->files, st->n_files, sizeof(*st->files), cmp_file);
    struct http_route_def d = {
        .method = "GET",
        .pattern = "/",
        .fn = serve,
        .arg = st,
        .name = "static",
        .flags = HTTP_ROUTE_PREFIX | HTTP_ROUTE_PUBLIC | HTTP_ROUTE_FALLBACK,
    };
    rc = http_router_add_route(hs->router, &d);
    if (rc < 0) {
        snprintf(err, err_len, "static files: cannot register the route: %s", hx_strerror(rc));
        goto out_free;
    }
    http__static_free(hs->st);
    hs->st = st;
    log_info(NULL, "http", "static files loaded", "root=\"%s\" files=%zu bytes=%zu", st->root,
             st->n_files, st->total);
    return 0;
out_free:
    http__static_free(st);
    return rc;
}
