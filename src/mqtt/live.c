/*
 * The table of connected sessions by device, for session takeover (MQTT-3.1.4-2): a second
 * CONNECT for a device closes the first connection. Open addressing with linear probing and
 * backward-shift deletion; grows at 50 % load. Layer: mqtt (session layer). Thread: loop.
 */
#include "core/mem.h"
#include "mqtt/session_int.h"

#include <string.h>

static uint32_t slot_of(const struct mqtt__live *t, int64_t id)
{
    uint64_t h = (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15); /* Fibonacci hashing */
    return (uint32_t)(h >> 32) & (t->cap - 1);
}

static void grow(struct mqtt__live *t)
{
    struct mqtt__live old = *t;
    t->cap = old.cap ? old.cap * 2 : 64;
    t->n = 0;
    t->ids = hx_xcalloc(t->cap, sizeof(*t->ids));
    t->sessions = hx_xcalloc(t->cap, sizeof(*t->sessions));
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.sessions[i])
            mqtt__live_put(t, old.ids[i], old.sessions[i]);
    free(old.ids);
    free(old.sessions);
}

struct mqtt_session *mqtt__live_get(const struct mqtt__live *t, int64_t id)
{
    if (!t->cap)
        return NULL;
    for (uint32_t i = slot_of(t, id);; i = (i + 1) & (t->cap - 1)) {
        if (!t->sessions[i])
            return NULL;
        if (t->ids[i] == id)
            return t->sessions[i];
    }
}

void mqtt__live_put(struct mqtt__live *t, int64_t id, struct mqtt_session *s)
{
    if ((t->n + 1) * 2 > t->cap)
        grow(t);
    uint32_t i = slot_of(t, id);
    while (t->sessions[i] && t->ids[i] != id)
        i = (i + 1) & (t->cap - 1);
    if (!t->sessions[i])
        t->n++;
    t->ids[i] = id;
    t->sessions[i] = s;
}

bool mqtt__live_del(struct mqtt__live *t, int64_t id, const struct mqtt_session *s)
{
    if (!t->cap)
        return false;
    uint32_t i = slot_of(t, id);
    while (t->sessions[i] && t->ids[i] != id)
        i = (i + 1) & (t->cap - 1);
    if (!t->sessions[i] || t->sessions[i] != s)
        return false; /* not there, or already taken over by a newer session */
    t->sessions[i] = NULL;
    t->n--;
    /* Backward-shift: move later entries of the probe run into the hole. */
    for (uint32_t j = (i + 1) & (t->cap - 1); t->sessions[j]; j = (j + 1) & (t->cap - 1)) {
        uint32_t home = slot_of(t, t->ids[j]);
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            t->ids[i] = t->ids[j];
            t->sessions[i] = t->sessions[j];
            t->sessions[j] = NULL;
            i = j;
        }
    }
    return true;
}

void mqtt__live_release(struct mqtt__live *t)
{
    HX_FREE(t->ids);
    HX_FREE(t->sessions);
    t->cap = t->n = 0;
}
