/*
 * The ingest log (see obslog.h): segment files of CRC-checked observation records.
 * Layer: store. Thread: one at a time per struct obslog.
 */
#include "store/obslog.h"
#include "core/crc32c.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OBSLOG_MAGIC 0x314C484Du /* "MHL1" little-endian */

struct obslog {
    char dir[PATH_MAX];
    bool sync;        /* fdatasync in obslog_sync */
    int fd;           /* current segment, -1 until the first append */
    uint64_t cur;     /* its number */
    uint64_t size;    /* its length: the offset of the next record */
    uint64_t seg_max; /* start a new segment beyond this length */
    uint64_t oldest;  /* oldest segment of this run not yet released */
    uint64_t *old;    /* segments found at open (a previous run's), ascending */
    size_t n_old;
    bool old_released;
    uint8_t *buf; /* encode buffer, grown as needed */
    size_t buf_cap;
};

/* ---- codec ----------------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void obslog_encode(const struct obs *obs, size_t n, uint8_t *out)
{
    uint8_t *p = out + OBSLOG_HEADER_BYTES;
    for (size_t i = 0; i < n; i++, p += OBSLOG_OBS_BYTES) {
        const struct obs *o = &obs[i];
        uint64_t bits;
        memcpy(&bits, &o->value, sizeof(bits));
        put64(p, o->seq);
        put64(p + 8, (uint64_t)o->patient_id);
        put64(p + 16, (uint64_t)o->device_id);
        put64(p + 24, (uint64_t)o->effective_us);
        put64(p + 32, (uint64_t)o->received_us);
        put64(p + 40, bits);
        p[48] = (uint8_t)o->code;
        p[49] = (uint8_t)(o->code >> 8);
        p[50] = o->status;
        p[51] = 0;
    }
    put32(out, OBSLOG_MAGIC);
    put32(out + 4, (uint32_t)n);
    put32(out + 8, crc32c(0, out + OBSLOG_HEADER_BYTES, n * OBSLOG_OBS_BYTES));
    put32(out + 12, crc32c(0, out, 12));
}

int obslog_decode_header(const uint8_t *p, size_t len, uint32_t *n, uint32_t *payload_crc)
{
    if (len < OBSLOG_HEADER_BYTES)
        return HX_ENEEDMORE;
    if (get32(p) != OBSLOG_MAGIC || get32(p + 12) != crc32c(0, p, 12))
        return HX_ECORRUPT;
    *n = get32(p + 4);
    *payload_crc = get32(p + 8);
    return *n >= 1 && *n <= OBSLOG_RECORD_MAX ? 0 : HX_ECORRUPT;
}

int obslog_decode_payload(const uint8_t *p, size_t n, uint32_t payload_crc, struct obs *out)
{
    if (crc32c(0, p, n * OBSLOG_OBS_BYTES) != payload_crc)
        return HX_ECORRUPT;
    for (size_t i = 0; i < n; i++, p += OBSLOG_OBS_BYTES) {
        struct obs *o = &out[i];
        uint64_t bits = get64(p + 40);
        memset(o, 0, sizeof(*o));
        o->seq = get64(p);
        o->patient_id = (int64_t)get64(p + 8);
        o->device_id = (int64_t)get64(p + 16);
        o->effective_us = (int64_t)get64(p + 24);
        o->received_us = (int64_t)get64(p + 32);
        memcpy(&o->value, &bits, sizeof(o->value));
        o->code = (uint16_t)(p[48] | p[49] << 8);
        o->status = p[50];
    }
    return 0;
}

/* ---- files ----------------------------------------------------------------------------- */

static void seg_path(const struct obslog *l, uint64_t seg, const char *suffix, char *out,
                     size_t len)
{
    snprintf(out, len, "%s/%020" PRIu64 "%s", l->dir, seg, suffix);
}

/* Parses "<20 digits>.log". */
static bool seg_name(const char *name, uint64_t *seg)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seg = v;
    return v > 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int list_segments(struct obslog *l, char *err, size_t err_len)
{
    DIR *d = opendir(l->dir);
    if (!d) {
        int rc = -errno;
        snprintf(err, err_len, "cannot read the ingest log %s: %s", l->dir, hx_strerror(-errno));
        return rc;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t seg;
        if (!seg_name(e->d_name, &seg))
            continue;
        if (l->n_old == cap) {
            cap = cap ? 2 * cap : 8;
            l->old = hx_xrealloc(l->old, cap * sizeof(*l->old));
        }
        l->old[l->n_old++] = seg;
    }
    closedir(d);
    if (l->n_old)
        qsort(l->old, l->n_old, sizeof(*l->old), cmp_u64);
    return 0;
}

static int sync_dir(const struct obslog *l)
{
    if (!l->sync)
        return 0;
    int fd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Starts segment seg (closing the current one, which the caller synced). */
static int open_segment(struct obslog *l, uint64_t seg)
{
    char path[PATH_MAX + 32];
    seg_path(l, seg, ".log", path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == ENOSPC ? HX_EFULL : -errno;
    int rc = sync_dir(l); /* the new name must survive a crash before its records matter */
    if (rc < 0) {
        close(fd);
        unlink(path);
        return rc;
    }
    if (l->fd >= 0)
        close(l->fd);
    l->fd = fd;
    l->cur = seg;
    l->size = 0;
    return 0;
}

int obslog_open(struct obslog **out, const char *dir, bool sync, char *err, size_t err_len)
{
    *out = NULL;
    if (strlen(dir) >= PATH_MAX - 32) {
        snprintf(err, err_len, "ingest log path too long: %s", dir);
        return -ENAMETOOLONG;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int rc = -errno;
        snprintf(err, err_len, "cannot create the ingest log %s: %s", dir, hx_strerror(-errno));
        return rc;
    }
    struct obslog *l = hx_xcalloc(1, sizeof(*l));
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    l->sync = sync;
    l->fd = -1;
    l->seg_max = OBSLOG_SEGMENT_BYTES;
    int rc = list_segments(l, err, err_len);
    if (rc < 0) {
        obslog_close(l);
        return rc;
    }
    l->cur = l->n_old ? l->old[l->n_old - 1] : 0; /* the first append opens cur + 1 */
    l->oldest = l->cur + 1;
    *out = l;
    return 0;
}

/* Reads exactly len bytes at the file position. Returns len, fewer at end of file, or
 * -errno. */
static ssize_t read_full(int fd, uint8_t *p, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Replays one segment; a damaged one is renamed *.corrupt and counted. */
static int replay_segment(struct obslog *l, uint64_t seg, bool last, obslog_replay_fn *fn,
                          void *arg, struct obslog_replay_stats *st, char *err, size_t err_len)
{
    char path[PATH_MAX + 32];
    seg_path(l, seg, ".log", path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, err_len, "cannot read %s: %s", path, hx_strerror(-errno));
        return rc;
    }
    struct stat sb;
    uint64_t file_size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    uint8_t hdr[OBSLOG_HEADER_BYTES];
    uint8_t *payload = NULL;
    struct obs *obs = NULL;
    size_t cap = 0;
    uint64_t off = 0;
    int rc = 0;
    bool bad = false;
    for (;;) {
        ssize_t r = read_full(fd, hdr, sizeof(hdr));
        if (r < 0) {
            rc = (int)r;
            break;
        }
        if (r == 0)
            break; /* clean end */
        uint32_t n = 0, crc = 0;
        int hrc = obslog_decode_header(hdr, (size_t)r, &n, &crc);
        size_t plen = (size_t)n * OBSLOG_OBS_BYTES;
        if (hrc == 0 && n > cap) {
            cap = n;
            payload = hx_xrealloc(payload, cap * OBSLOG_OBS_BYTES);
            obs = hx_xrealloc(obs, cap * sizeof(*obs));
        }
        if (hrc == 0) {
            r = read_full(fd, payload, plen);
            if (r < 0) {
                rc = (int)r;
                break;
            }
            hrc = (size_t)r < plen ? HX_ENEEDMORE : obslog_decode_payload(payload, n, crc, obs);
        }
        if (hrc < 0) {
            /* In the newest segment this is the append that was in progress (with a power
             * loss its unsynced tail may be zeros or garbage of any length): it was never
             * acknowledged. In an older segment, every record was synced: damage. */
            bool torn = last;
            if (torn)
                st->torn_bytes += file_size - off;
            else
                bad = true;
            break;
        }
        if ((rc = fn(arg, obs, n)) < 0)
            break;
        st->records++;
        st->observations += n;
        off += OBSLOG_HEADER_BYTES + plen;
    }
    close(fd);
    free(payload);
    free(obs);
    st->segments++;
    if (bad) {
        char to[PATH_MAX + 32];
        seg_path(l, seg, ".corrupt", to, sizeof(to));
        st->corrupt++;
        log_error(NULL, "store", "ingest log segment damaged: the rest of it is skipped",
                  "segment=\"%s\" offset=%" PRIu64 " size=%" PRIu64 " kept_as=\"%s\"", path, off,
                  file_size, to);
        if (rename(path, to) < 0 && rc == 0) {
            rc = -errno;
            snprintf(err, err_len, "cannot rename %s: %s", path, hx_strerror(-errno));
        }
    } else if (rc < 0 && err_len && !err[0]) {
        snprintf(err, err_len, "replaying %s failed: %s", path, hx_strerror(rc));
    }
    return rc;
}

int obslog_replay(struct obslog *l, obslog_replay_fn *fn, void *arg,
                  struct obslog_replay_stats *stats, char *err, size_t err_len)
{
    memset(stats, 0, sizeof(*stats));
    if (err_len)
        err[0] = '\0';
    for (size_t i = 0; i < l->n_old; i++) {
        int rc = replay_segment(l, l->old[i], i + 1 == l->n_old, fn, arg, stats, err, err_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int ensure_buf(struct obslog *l, size_t need)
{
    if (need <= l->buf_cap)
        return 0;
    size_t cap = l->buf_cap ? l->buf_cap : 4096;
    while (cap < need)
        cap *= 2;
    l->buf = hx_xrealloc(l->buf, cap);
    l->buf_cap = cap;
    return 0;
}

int obslog_append(struct obslog *l, const struct obs *obs, size_t n, uint64_t *segment)
{
    if (n == 0 || n > OBSLOG_RECORD_MAX)
        return HX_EINVAL;
    size_t len = OBSLOG_HEADER_BYTES + n * OBSLOG_OBS_BYTES;
    int rc;
    if (l->fd < 0 || (l->size > 0 && l->size + len > l->seg_max)) {
        /* The closing segment must be durable before appends move on (obslog_sync only
         * syncs the current file). */
        if (l->fd >= 0 && l->sync && fdatasync(l->fd) < 0)
            return -errno;
        if ((rc = open_segment(l, l->cur + 1)) < 0)
            return rc;
    }
    ensure_buf(l, len);
    obslog_encode(obs, n, l->buf);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(l->fd, l->buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = errno == ENOSPC || errno == EDQUOT ? HX_EFULL : -errno;
            /* Cut the partial record off, so the next append starts on a record boundary. */
            if (ftruncate(l->fd, (off_t)l->size) < 0)
                rc = -errno;
            return rc;
        }
        done += (size_t)w;
    }
    l->size += len;
    *segment = l->cur;
    return 0;
}

int obslog_sync(struct obslog *l)
{
    if (!l->sync || l->fd < 0)
        return 0;
    return fdatasync(l->fd) < 0 ? -errno : 0;
}

void obslog_set_segment_bytes(struct obslog *l, uint64_t bytes)
{
    l->seg_max = bytes ? bytes : OBSLOG_SEGMENT_BYTES;
}

uint64_t obslog_segment(const struct obslog *l)
{
    return l->cur;
}

static void remove_segment(struct obslog *l, uint64_t seg)
{
    char path[PATH_MAX + 32];
    seg_path(l, seg, ".log", path, sizeof(path));
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn(NULL, "store", "cannot remove an applied ingest log segment",
                 "segment=\"%s\" err=\"%s\"", path, hx_strerror(-errno));
}

void obslog_release_before(struct obslog *l, uint64_t segment)
{
    if (!l->old_released) {
        for (size_t i = 0; i < l->n_old; i++)
            remove_segment(l, l->old[i]);
        l->old_released = true;
    }
    uint64_t upto = segment < l->cur || l->fd < 0 ? segment : l->cur;
    for (; l->oldest < upto; l->oldest++)
        remove_segment(l, l->oldest);
}

void obslog_remove_all(struct obslog *l)
{
    obslog_release_before(l, l->cur);
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
        remove_segment(l, l->cur);
        l->oldest = l->cur + 1;
    }
}

void obslog_close(struct obslog *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l->old);
    free(l->buf);
    free(l);
}
