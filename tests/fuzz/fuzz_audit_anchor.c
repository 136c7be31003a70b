/*
 * libFuzzer target for the audit anchor parsers behind `medhub audit verify --anchor SEQ:HASH`
 * and `--anchor-file FILE` (lines of the anchor file or of the daemon's log, which anyone who
 * can write that file controls): audit_anchor_parse and audit_anchor_parse_line over bytes
 * that are not NUL-terminated. Invariants: an accepted anchor has seq >= 1 and 64 lower-case
 * hex digits, and its SEQ:HASH text and its "seq=N hash=H" line parse back to the same anchor.
 * Layer: tests. Thread: main.
 */
#include "core/err.h"
#include "core/mem.h"
#include "security/audit.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct audit_anchor *a)
{
    if (a->seq < 1 || strlen(a->hash) != 64 || strspn(a->hash, "0123456789abcdef") != 64)
        abort();
    char text[128];
    int n = snprintf(text, sizeof(text), "%" PRId64 ":%s", a->seq, a->hash);
    struct audit_anchor b;
    if (audit_anchor_parse(text, (size_t)n, &b) != 0 || b.seq != a->seq ||
        strcmp(b.hash, a->hash) != 0)
        abort();
    n = snprintf(text, sizeof(text), "audit checkpoint seq=%" PRId64 " hash=%s", a->seq, a->hash);
    if (audit_anchor_parse_line(text, (size_t)n, &b) != 0 || b.seq != a->seq ||
        strcmp(b.hash, a->hash) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so reading past the end is caught. */
    char *s = hx_xmalloc(size ? size : 1);
    memcpy(s, data, size);
    struct audit_anchor a;
    int rc = audit_anchor_parse(s, size, &a);
    if (rc == 0)
        check(&a);
    else if (rc != HX_EMALFORMED)
        abort();
    rc = audit_anchor_parse_line(s, size, &a);
    if (rc == 0)
        check(&a);
    else if (rc != HX_EMALFORMED && rc != HX_ENOTFOUND)
        abort();
    free(s);
    return 0;
}
