/*
 * hx_idmap: a hash map from a 64-bit id to a non-NULL pointer (the MQTT gateway's sessions and
 * device states, the rules engine's patients, devices and alerts). Zero-initialise before use;
 * hx_idmap_release frees the table (not the values). Iterate with
 * for (i = 0; i < t.cap; i++) if (t.vals[i]) ... Thread: one thread at a time.
 */
#ifndef MEDHUB_CORE_IDMAP_H
#define MEDHUB_CORE_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

struct hx_idmap {
    int64_t *ids; /* keys, cap entries */
    void **vals;  /* values, cap entries; NULL = empty slot */
    uint32_t cap; /* power of two, or 0 before the first put */
    uint32_t n;   /* entries */
};

/* The value of id, or NULL. */
void *hx_idmap_get(const struct hx_idmap *t, int64_t id);
/* Sets id to v (non-NULL), replacing any value. */
void hx_idmap_put(struct hx_idmap *t, int64_t id, void *v);
/* Removes id only while it still maps to v; says whether it did. */
bool hx_idmap_del(struct hx_idmap *t, int64_t id, const void *v);
void hx_idmap_release(struct hx_idmap *t);

#endif
