/*
 * A map from a 64-bit id (device, patient, alert) to a pointer. Open addressing with linear
 * probing and backward-shift deletion; grows at 50 % load. Thread: one at a time.
 */
#include "core/mem.h"
#include "core/idmap.h"

#include <string.h>

static uint32_t slot_of(const struct hx_idmap *t, int64_t id)
{
    uint64_t h = (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15); /* Fibonacci hashing */
    return (uint32_t)(h >> 32) & (t->cap - 1);
}

static void grow(struct hx_idmap *t)
{
    struct hx_idmap old = *t;
    t->cap = old.cap ? old.cap * 2 : 64;
    t->n = 0;
    t->ids = hx_xcalloc(t->cap, sizeof(*t->ids));
    t->vals = hx_xcalloc(t->cap, sizeof(*t->vals));
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.vals[i])
            hx_idmap_put(t, old.ids[i], old.vals[i]);
    free(old.ids);
    free(old.vals);
}

void *hx_idmap_get(const struct hx_idmap *t, int64_t id)
{
    if (!t->cap)
        return NULL;
    for (uint32_t i = slot_of(t, id);; i = (i + 1) & (t->cap - 1)) {
        if (!t->vals[i])
            return NULL;
        if (t->ids[i] == id)
            return t->vals[i];
    }
}

void hx_idmap_put(struct hx_idmap *t, int64_t id, void *v)
{
    if ((t->n + 1) * 2 > t->cap)
        grow(t);
    uint32_t i = slot_of(t, id);
    while (t->vals[i] && t->ids[i] != id)
        i = (i + 1) & (t->cap - 1);
    if (!t->vals[i])
        t->n++;
    t->ids[i] = id;
    t->vals[i] = v;
}

bool hx_idmap_del(struct hx_idmap *t, int64_t id, const void *v)
{
    if (!t->cap)
        return false;
    uint32_t i = slot_of(t, id);
    while (t->vals[i] && t->ids[i] != id)
        i = (i + 1) & (t->cap - 1);
    if (!t->vals[i] || t->vals[i] != v)
        return false; /* not there, or it maps to another value now (a newer session) */
    t->vals[i] = NULL;
    t->n--;
    /* Backward-shift: move later entries of the probe run into the hole. */
    for (uint32_t j = (i + 1) & (t->cap - 1); t->vals[j]; j = (j + 1) & (t->cap - 1)) {
        uint32_t home = slot_of(t, t->ids[j]);
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            t->ids[i] = t->ids[j];
            t->vals[i] = t->vals[j];
            t->vals[j] = NULL;
            i = j;
        }
    }
    return true;
}

void hx_idmap_release(struct hx_idmap *t)
{
    HX_FREE(t->ids);
    HX_FREE(t->vals);
    t->cap = t->n = 0;
}
