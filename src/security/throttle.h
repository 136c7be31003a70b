/*
 * Login throttling and account lockout: pure logic over a failure record and an injected
 * time. The login flow (auth.c) keeps one record per account name ("user:NAME", also for
 * names that do not exist, so throttling tells nothing about which names are real) and one
 * per client address ("addr:IP"), checks both before spending any Argon2id time, and
 * records each failure in both.
 * Schedule: the first free_failures failures cost nothing; after that each failure makes
 * the next attempt wait base_delay, doubling per failure (1 s, 2 s, 4 s, ...) up to
 * max_delay. After lock_after consecutive failures (0: never) the record is locked for
 * lock_duration; every further failure locks it again. A record whose last failure is older
 * than reset_after (0: never) starts from zero. A success deletes the account's record.
 * Defaults and reasons: docs/security.md.
 * Thread: any (pure).
 */
#ifndef MEDHUB_SECURITY_THROTTLE_H
#define MEDHUB_SECURITY_THROTTLE_H

#include <stdint.h>

struct sec_throttle_policy {
    uint32_t free_failures;   /* failures without delay */
    int64_t base_delay_us;    /* delay after the first counted failure */
    int64_t max_delay_us;     /* the doubling stops here */
    uint32_t lock_after;      /* consecutive failures that lock, 0 = never */
    int64_t lock_duration_us; /* how long a lock lasts */
    int64_t reset_after_us;   /* failures older than this are forgotten, 0 = never */
};

/* One key's record (mirrors struct store_throttle). */
struct sec_throttle {
    int64_t failures;        /* consecutive failures */
    int64_t last_failure_us; /* time of the last one, 0 = none */
    int64_t next_allowed_us; /* no attempt before this */
    int64_t locked_until_us; /* lockout end, 0 = none */
};

enum sec_throttle_state {
    SEC_THROTTLE_OPEN = 0, /* an attempt may be made now */
    SEC_THROTTLE_DELAYED,  /* too soon after the last failure */
    SEC_THROTTLE_LOCKED,   /* locked out */
};

/* The delay after the n-th consecutive failure under p (0 while n <= free_failures). */
int64_t sec_throttle_delay_us(const struct sec_throttle_policy *p, int64_t n);

/* May an attempt be made at now_us? OUT: *retry_after_us (may be NULL) how long to wait when
 * not OPEN, else 0. */
enum sec_throttle_state sec_throttle_check(const struct sec_throttle *t,
                                           const struct sec_throttle_policy *p, int64_t now_us,
                                           int64_t *retry_after_us);

/* Records a failure at now_us. */
void sec_throttle_fail(struct sec_throttle *t, const struct sec_throttle_policy *p, int64_t now_us);

#endif
