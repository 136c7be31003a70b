/*
 * Unit tests for the ingest log (src/store/obslog.c): CRC-32C check value, the record codec,
 * append and replay across segments, a torn or zero-filled tail in the newest segment
 * (an unfinished append: dropped quietly), damage in an older segment (renamed *.corrupt,
 * reported, the rest replayed), and segment release.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/crc32c.h"
#include "core/err.h"
#include "core/log.h"
#include "store/obslog.h"
#include "store/store_testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

struct fx {
    struct tdir t;
    char dir[128]; /* the log directory inside t */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tdir_init(&f->t);
    snprintf(f->dir, sizeof(f->dir), "%s/log", f->t.dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tdir_release(&f->t);
    free(f);
    return 0;
}

/* Replay sink: concatenates every observation, counting calls. */
struct sink {
    struct obs got[256];
    size_t n;
    int calls;
};

static int sink_fn(void *arg, const struct obs *obs, size_t n)
{
    struct sink *s = arg;
    for (size_t i = 0; i < n && s->n < 256; i++)
        s->got[s->n++] = obs[i];
    s->calls++;
    return 0;
}

static struct obs mk(uint64_t seq)
{
    return (struct obs){.seq = seq,
                        .patient_id = (int64_t)seq % 7,
                        .device_id = -(int64_t)seq,
                        .effective_us = INT64_C(1700000000000000) + (int64_t)seq,
                        .received_us = INT64_MIN + (int64_t)seq,
                        .value = 0.1 * (double)seq,
                        .code = (uint16_t)(seq * 257),
                        .status = (uint8_t)seq};
}

/* Appends records of the given sizes, numbering observations from 1. */
static void write_records(struct fx *f, const size_t *sizes, size_t n_rec, uint64_t seg_bytes)
{
    char err[256];
    struct obslog *l;
    assert_int_equal(obslog_open(&l, f->dir, true, err, sizeof(err)), 0);
    obslog_set_segment_bytes(l, seg_bytes);
    uint64_t seq = 1;
    for (size_t r = 0; r < n_rec; r++) {
        struct obs o[16];
        for (size_t i = 0; i < sizes[r]; i++)
            o[i] = mk(seq++);
        uint64_t seg = 0;
        assert_int_equal(obslog_append(l, o, sizes[r], &seg), 0);
        assert_int_equal(seg, obslog_segment(l));
        assert_int_equal(obslog_sync(l), 0);
    }
    obslog_close(l);
}

static void replay(struct fx *f, struct sink *s, struct obslog_replay_stats *rs)
{
    char err[256];
    struct obslog *l;
    assert_int_equal(obslog_open(&l, f->dir, true, err, sizeof(err)), 0);
    memset(s, 0, sizeof(*s));
    assert_int_equal(obslog_replay(l, sink_fn, s, rs, err, sizeof(err)), 0);
    obslog_close(l);
}

static int count_files(struct fx *f, const char *suffix)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t a = strlen(e->d_name), b = strlen(suffix);
        n += a > b && strcmp(e->d_name + a - b, suffix) == 0;
    }
    closedir(d);
    return n;
}

static void segment_path(struct fx *f, uint64_t seg, char *out, size_t len)
{
    snprintf(out, len, "%s/%020llu.log", f->dir, (unsigned long long)seg);
}

static void test_crc32c_check_value(void **state)
{
    (void)state;
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
}

static void test_codec_round_trip_and_damage(void **state)
{
    (void)state;
    struct obs in[3] = {mk(1), mk(2), mk(UINT32_MAX + 5ull)};
    in[1].value = -1e300;
    uint8_t buf[OBSLOG_HEADER_BYTES + 3 * OBSLOG_OBS_BYTES];
    obslog_encode(in, 3, buf);
    uint32_t n = 0, crc = 0;
    assert_int_equal(obslog_decode_header(buf, 8, &n, &crc), HX_ENEEDMORE);
    assert_int_equal(obslog_decode_header(buf, sizeof(buf), &n, &crc), 0);
    assert_int_equal(n, 3);
    struct obs out[3];
    assert_int_equal(obslog_decode_payload(buf + OBSLOG_HEADER_BYTES, n, crc, out), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[i].seq, in[i].seq);
        assert_int_equal(out[i].patient_id, in[i].patient_id);
        assert_int_equal(out[i].device_id, in[i].device_id);
        assert_int_equal(out[i].effective_us, in[i].effective_us);
        assert_int_equal(out[i].received_us, in[i].received_us);
        assert_true(out[i].value == in[i].value);
        assert_int_equal(out[i].code, in[i].code);
        assert_int_equal(out[i].status, in[i].status);
    }
    /* One flipped bit anywhere is caught: in the payload by its CRC, in the header by its. */
    for (size_t byte = 0; byte < sizeof(buf); byte += 7) {
        buf[byte] ^= 0x10;
        int hrc = obslog_decode_header(buf, sizeof(buf), &n, &crc);
        if (hrc == 0)
            assert_int_equal(obslog_decode_payload(buf + OBSLOG_HEADER_BYTES, n, crc, out),
                             HX_ECORRUPT);
        else
            assert_int_equal(hrc, HX_ECORRUPT);
        buf[byte] ^= 0x10;
    }
    /* A count of 0 or above the maximum is damage, whatever the CRC says. */
    obslog_encode(in, 0, buf);
    assert_int_equal(obslog_decode_header(buf, sizeof(buf), &n, &crc), HX_ECORRUPT);
}

static void test_append_and_replay_across_segments(void **state)
{
    struct fx *f = *state;
    static const size_t sizes[] = {1, 5, 3, 8, 2, 4};
    /* ~2 records per segment: several segments. */
    write_records(f, sizes, 6, 2 * (OBSLOG_HEADER_BYTES + 5 * OBSLOG_OBS_BYTES));
    assert_true(count_files(f, ".log") >= 3);
    struct sink s;
    struct obslog_replay_stats rs;
    replay(f, &s, &rs);
    assert_int_equal(s.n, 23);
    assert_int_equal(s.calls, 6);
    assert_int_equal(rs.records, 6);
    assert_int_equal(rs.observations, 23);
    assert_int_equal(rs.torn_bytes, 0);
    assert_int_equal(rs.corrupt, 0);
    for (size_t i = 0; i < s.n; i++) {
        struct obs want = mk(i + 1);
        assert_int_equal(s.got[i].seq, want.seq);
        assert_int_equal(s.got[i].effective_us, want.effective_us);
    }
}

static void test_torn_and_zero_filled_tail_dropped(void **state)
{
    struct fx *f = *state;
    static const size_t sizes[] = {2, 3, 4};
    write_records(f, sizes, 3, 0);
    char path[PATH_MAX];
    segment_path(f, 1, path, sizeof(path));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    /* Cut the last record in the middle of its payload: an append the crash interrupted. */
    assert_int_equal(truncate(path, sb.st_size - 10), 0);
    struct sink s;
    struct obslog_replay_stats rs;
    replay(f, &s, &rs);
    assert_int_equal(s.n, 5);
    assert_int_equal(rs.torn_bytes, OBSLOG_HEADER_BYTES + 4 * OBSLOG_OBS_BYTES - 10);
    assert_int_equal(rs.corrupt, 0);

    /* A power loss can leave the unsynced tail as zeros: also an unfinished append. */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    static const uint8_t zeros[300];
    assert_int_equal(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
    close(fd);
    replay(f, &s, &rs);
    assert_int_equal(s.n, 5);
    assert_int_equal(rs.corrupt, 0);
    assert_int_equal(count_files(f, ".corrupt"), 0);
}

static void test_damage_in_an_older_segment_is_reported_and_kept(void **state)
{
    struct fx *f = *state;
    static const size_t sizes[] = {3, 3, 3, 3};
    /* One record per segment. */
    write_records(f, sizes, 4, 1);
    assert_int_equal(count_files(f, ".log"), 4);
    char path[PATH_MAX];
    segment_path(f, 2, path, sizeof(path));
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b = 0;
    assert_int_equal(pread(fd, &b, 1, OBSLOG_HEADER_BYTES + 20), 1);
    b ^= 0x01; /* one bit */
    assert_int_equal(pwrite(fd, &b, 1, OBSLOG_HEADER_BYTES + 20), 1);
    close(fd);
    struct sink s;
    struct obslog_replay_stats rs;
    replay(f, &s, &rs);       /* logs the damage as an error */
    assert_int_equal(s.n, 9); /* segments 1, 3 and 4 */
    assert_int_equal(rs.corrupt, 1);
    assert_int_equal(rs.segments, 4);
    assert_int_equal(count_files(f, ".corrupt"), 1);
    assert_int_equal(count_files(f, ".log"), 3);
}

static void test_release_and_remove(void **state)
{
    struct fx *f = *state;
    static const size_t sizes[] = {1, 1};
    write_records(f, sizes, 2, 1); /* a previous run's segments 1 and 2 */
    char err[256];
    struct obslog *l;
    assert_int_equal(obslog_open(&l, f->dir, false, err, sizeof(err)), 0);
    obslog_set_segment_bytes(l, 1);
    struct sink s = {0};
    struct obslog_replay_stats rs;
    assert_int_equal(obslog_replay(l, sink_fn, &s, &rs, err, sizeof(err)), 0);
    assert_int_equal(s.n, 2);
    struct obs o = mk(9);
    uint64_t seg[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(obslog_append(l, &o, 1, &seg[i]), 0);
    assert_int_equal(seg[0], 3); /* after the previous run's */
    assert_int_equal(seg[2], 5);
    assert_int_equal(count_files(f, ".log"), 5);
    obslog_release_before(l, seg[1]); /* the replayed ones and segment 3 */
    assert_int_equal(count_files(f, ".log"), 2);
    obslog_release_before(l, UINT64_MAX); /* never the current one */
    assert_int_equal(count_files(f, ".log"), 1);
    obslog_remove_all(l);
    assert_int_equal(count_files(f, ".log"), 0);
    assert_int_equal(obslog_append(l, &o, 1, &seg[0]), 0);
    assert_int_equal(seg[0], 6);
    assert_int_equal(obslog_append(l, &o, 0, &seg[0]), HX_EINVAL);
    obslog_close(l);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_codec_round_trip_and_damage),
        cmocka_unit_test_setup_teardown(test_append_and_replay_across_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_and_zero_filled_tail_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_in_an_older_segment_is_reported_and_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_release_and_remove, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
