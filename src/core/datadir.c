/*
 * Data directory creation and the daemon's single-instance lock (flock on medhub.lock, which
 * the kernel releases when the process dies, so a crash never leaves a stale lock).
 * Layer: core. Thread: main.
 */
#include "core/datadir.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_0700(const char *path, char *err, size_t err_len)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
            snprintf(err, err_len, "%s exists and is not a directory", path);
            return -ENOTDIR;
        }
        return 0;
    }
    int rc = -errno;
    snprintf(err, err_len, "cannot create directory %s: %s", path, hx_strerror(rc));
    return rc;
}

int datadir_create(const char *dir, char *err, size_t err_len)
{
    char path[PATH_MAX];
    int rc = mkdir_0700(dir, err, err_len);
    if (rc < 0)
        return rc;
    if ((size_t)snprintf(path, sizeof(path), "%s/tls", dir) >= sizeof(path)) {
        snprintf(err, err_len, "data directory path too long");
        return HX_EINVAL;
    }
    return mkdir_0700(path, err, err_len);
}

int datadir_lock(const char *dir, int *fd_out, char *err, size_t err_len)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/medhub.lock", dir) >= sizeof(path)) {
        snprintf(err, err_len, "data directory path too long");
        return HX_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, err_len, "cannot open lock file %s: %s", path, hx_strerror(rc));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int rc = errno == EWOULDBLOCK ? HX_ELOCKED : -errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        if (n > 0) {
            pid[n] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        close(fd);
        if (rc == HX_ELOCKED)
            snprintf(err, err_len, "another medhub (pid %s) is already serving %s",
                     *pid ? pid : "?", dir);
        else
            snprintf(err, err_len, "cannot lock %s: %s", path, hx_strerror(rc));
        return rc;
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        /* The pid is informational; the flock is the lock. */
    }
    *fd_out = fd;
    return 0;
}

void datadir_unlock(const char *dir, int fd)
{
    (void)dir;
    if (fd >= 0)
        close(fd);
}
