/*
 * The engine's deadlines: a binary min-heap of timers embedded in their owners (alerts,
 * devices, patients). Arming, moving and cancelling are O(log n); the service keeps one libuv
 * timer on the earliest. Thread: loop.
 */
#include "core/mem.h"
#include "rules/engine_int.h"

void rules__timer_init(struct rules__timer *t, uint8_t kind, void *owner)
{
    *t = (struct rules__timer){.heap_idx = RULES__NOT_IN_HEAP, .kind = kind, .owner = owner};
}

static void place(struct rules_engine *e, uint32_t i, struct rules__timer *t)
{
    e->heap[i] = t;
    t->heap_idx = i;
}

static void sift_up(struct rules_engine *e, uint32_t i)
{
    struct rules__timer *t = e->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (e->heap[parent]->due <= t->due)
            break;
        place(e, i, e->heap[parent]);
        i = parent;
    }
    place(e, i, t);
}

static void sift_down(struct rules_engine *e, uint32_t i)
{
    struct rules__timer *t = e->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t best = t->due;
        if (l < e->n_heap && e->heap[l]->due < best)
            m = l, best = e->heap[l]->due;
        if (r < e->n_heap && e->heap[r]->due < best)
            m = r;
        if (m == i)
            break;
        place(e, i, e->heap[m]);
        i = m;
    }
    place(e, i, t);
}

void rules__timer_cancel(struct rules_engine *e, struct rules__timer *t)
{
    uint32_t i = t->heap_idx;
    if (i == RULES__NOT_IN_HEAP)
        return;
    t->heap_idx = RULES__NOT_IN_HEAP;
    struct rules__timer *last = e->heap[--e->n_heap];
    if (i == e->n_heap)
        return;
    place(e, i, last);
    sift_up(e, i);
    sift_down(e, last->heap_idx);
}

void rules__timer_set(struct rules_engine *e, struct rules__timer *t, int64_t due)
{
    if (t->heap_idx != RULES__NOT_IN_HEAP) {
        t->due = due;
        sift_up(e, t->heap_idx);
        sift_down(e, t->heap_idx);
        return;
    }
    if (e->n_heap == e->cap_heap) {
        e->cap_heap = e->cap_heap ? 2 * e->cap_heap : 64;
        e->heap = hx_xrealloc(e->heap, e->cap_heap * sizeof(*e->heap));
    }
    t->due = due;
    place(e, e->n_heap++, t);
    sift_up(e, t->heap_idx);
}

struct rules__timer *rules__timer_peek(const struct rules_engine *e)
{
    return e->n_heap ? e->heap[0] : NULL;
}
