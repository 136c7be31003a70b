/*
 * Trends over one (patient, code): the sample ring with its window queries (change from the
 * window's extreme, least-squares slope) and Holt's linear trend for irregular time steps
 * with its threshold-crossing forecast. docs/rules-trends.md explains the definitions and
 * the equations in prose.
 * Layer: rules (uses core/err only). Pure: no I/O, no globals, no allocation. Thread: any.
 *
 * Time differences are taken in uint64_t: for a <= b, (uint64_t)b - (uint64_t)a is the exact
 * distance even when b - a would overflow int64_t, so no window or gap check can overflow.
 */
#include "rules/trend.h"
#include "core/err.h"

#include <math.h>
#include <stddef.h>

#define US_PER_S 1e6

/* Distance in microseconds from a to b, for a <= b. */
static uint64_t dist_us(int64_t a, int64_t b)
{
    return (uint64_t)b - (uint64_t)a;
}

static bool is_dir(enum rules_trend_dir dir)
{
    return dir == RULES_TREND_RISING || dir == RULES_TREND_FALLING;
}

/* Checks a sample's value: finite and within RULES_TREND_MAX_ABS. */
static int check_value(double v)
{
    if (!isfinite(v))
        return HX_EINVAL;
    if (fabs(v) > RULES_TREND_MAX_ABS)
        return HX_ERANGE;
    return 0;
}

/* Checks that t_us may follow the newest time seen, newest_us. */
static int check_order(int64_t newest_us, int64_t t_us)
{
    if (t_us < newest_us)
        return HX_EINVAL;
    if (t_us == newest_us)
        return HX_EEXIST;
    return 0;
}

/* A caller-owned series can be damaged (never initialised, overwritten); indexing with a bad
 * head or n would read outside the arrays. */
static bool series_is_sane(const struct rules_series *s)
{
    return s->n <= RULES_SERIES_CAP && s->head < RULES_SERIES_CAP;
}

/* Array slot of the i-th sample held, 0 the oldest. */
static uint32_t slot(const struct rules_series *s, uint32_t i)
{
    return (s->head + i) % RULES_SERIES_CAP;
}

void rules_series_init(struct rules_series *s)
{
    *s = (struct rules_series){0};
}

int rules_series_add(struct rules_series *s, int64_t t_us, double v)
{
    if (!series_is_sane(s))
        return HX_EINVAL;
    int rc = check_value(v);
    if (rc < 0)
        return rc;
    if (s->n > 0) {
        rc = check_order(s->t_us[slot(s, s->n - 1)], t_us);
        if (rc < 0)
            return rc;
    }
    uint32_t k;
    if (s->n < RULES_SERIES_CAP) {
        k = slot(s, s->n);
        s->n++;
    } else {
        /* Full: the oldest sample's slot becomes the newest's. */
        k = s->head;
        s->head = (s->head + 1) % RULES_SERIES_CAP;
    }
    s->t_us[k] = t_us;
    s->v[k] = v;
    return 0;
}

int rules_series_at(const struct rules_series *s, uint32_t i, int64_t *t_us, double *v)
{
    if (!series_is_sane(s))
        return HX_EINVAL;
    if (i >= s->n)
        return HX_ENOTFOUND;
    *t_us = s->t_us[slot(s, i)];
    *v = s->v[slot(s, i)];
    return 0;
}

/*
 * The samples in [now_us - window_us, now_us]: as times increase, they are the consecutive
 * run of samples first..first+count-1 (0 the oldest held). count is 0 when there are none.
 * The lower bound is never computed (now_us - window_us can overflow); each sample's
 * distance from now_us is compared with window_us instead.
 */
static void window_range(const struct rules_series *s, int64_t now_us, int64_t window_us,
                         uint32_t *first, uint32_t *count)
{
    uint32_t end = s->n; /* one past the newest sample at or before now_us */
    while (end > 0 && s->t_us[slot(s, end - 1)] > now_us)
        end--;
    uint32_t begin = end;
    while (begin > 0 && dist_us(s->t_us[slot(s, begin - 1)], now_us) <= (uint64_t)window_us)
        begin--;
    *first = begin;
    *count = end - begin;
}

int rules_series_change(const struct rules_series *s, int64_t now_us, int64_t window_us,
                        enum rules_trend_dir dir, double *delta, int64_t *from_t_us)
{
    if (!series_is_sane(s) || window_us <= 0 || !is_dir(dir))
        return HX_EINVAL;
    uint32_t first, count;
    window_range(s, now_us, window_us, &first, &count);
    if (count < 2)
        return HX_ENOTFOUND;

    uint32_t newest = first + count - 1;
    double latest = s->v[slot(s, newest)];
    double ext = latest;
    int64_t ext_t = s->t_us[slot(s, newest)];
    /* Newest to oldest with a strict compare: a tie keeps the more recent sample. */
    for (uint32_t i = newest; i-- > first;) {
        double v = s->v[slot(s, i)];
        if (dir == RULES_TREND_RISING ? v < ext : v > ext) {
            ext = v;
            ext_t = s->t_us[slot(s, i)];
        }
    }
    *delta = dir == RULES_TREND_RISING ? latest - ext : ext - latest;
    *from_t_us = ext_t;
    return 0;
}

int rules_series_slope(const struct rules_series *s, int64_t now_us, int64_t window_us,
                       uint32_t min_points, double *per_minute)
{
    if (!series_is_sane(s) || window_us <= 0 || min_points < 2)
        return HX_EINVAL;
    uint32_t first, count;
    window_range(s, now_us, window_us, &first, &count);
    if (count < min_points)
        return HX_ENOTFOUND;
    int64_t t_last = s->t_us[slot(s, first + count - 1)];
    uint64_t span = dist_us(s->t_us[slot(s, first)], t_last);
    if (2 * span < (uint64_t)window_us) /* span <= window_us: no overflow */
        return HX_ENOTFOUND;

    /* Times as seconds before the newest sample used (small numbers, no cancellation), and
     * two passes (means, then centred sums) for the same reason. */
    double sum_x = 0, sum_v = 0;
    for (uint32_t i = first; i < first + count; i++) {
        sum_x -= (double)dist_us(s->t_us[slot(s, i)], t_last) / US_PER_S;
        sum_v += s->v[slot(s, i)];
    }
    double mean_x = sum_x / count, mean_v = sum_v / count;
    double sxx = 0, sxv = 0;
    for (uint32_t i = first; i < first + count; i++) {
        double dx = -(double)dist_us(s->t_us[slot(s, i)], t_last) / US_PER_S - mean_x;
        sxx += dx * dx;
        sxv += dx * (s->v[slot(s, i)] - mean_v);
    }
    /* Times are strictly increasing and span > 0, so sxx > 0; kept as a guard. */
    if (HX_UNLIKELY_BUG(!(sxx > 0)))
        return HX_ENOTFOUND;
    *per_minute = sxv / sxx * 60.0;
    return 0;
}

bool rules_trend_is_more_than(double x, double limit)
{
    if (isnan(x) || isnan(limit))
        return false;
    return x > limit + RULES_TREND_SLACK * fmax(1.0, fabs(limit));
}

void rules_holt_init(struct rules_holt *h)
{
    *h = (struct rules_holt){0};
}

static bool holt_params_are_valid(const struct rules_holt_params *p)
{
    /* Written so that NaN fails every test. */
    return p->alpha > 0 && p->alpha <= 1 && p->beta > 0 && p->beta <= 1 && p->step_us > 0 &&
           p->max_gap_us > 0;
}

/* (Re)starts h from one sample: level v, no trend yet. */
static void holt_start(struct rules_holt *h, int64_t t_us, double v)
{
    h->level = v;
    h->trend = 0;
    h->last_t_us = t_us;
    h->initialised = true;
    h->n = 1;
}

/*
 * The weight of a new sample dt_steps steps of step_us after the previous one, for a weight
 * w per step: 1 - (1 - w)^dt_steps. The old estimate's weight decays by (1 - w) per step in
 * continuous time: across a gap of two steps it keeps (1 - w)^2, as it would across two
 * updates a step apart, and a sample a second after the previous one hardly moves a trend
 * smoothed over minutes. This is the steady state of Wright's (1986) irregular-interval
 * Holt weights. expm1/log1p keep the small weights of short steps accurate; w = 1 gives
 * log1p(-1) = -inf and a weight of 1.
 */
static double step_weight(double w, double dt_steps)
{
    return -expm1(dt_steps * log1p(-w));
}

int rules_holt_update(struct rules_holt *h, const struct rules_holt_params *p, int64_t t_us,
                      double v)
{
    if (!holt_params_are_valid(p))
        return HX_EINVAL;
    int rc = check_value(v);
    if (rc < 0)
        return rc;
    if (!h->initialised || h->n == 0) {
        holt_start(h, t_us, v);
        return 0;
    }
    rc = check_order(h->last_t_us, t_us);
    if (rc < 0)
        return rc;
    uint64_t gap = dist_us(h->last_t_us, t_us);
    if (gap > (uint64_t)p->max_gap_us) {
        holt_start(h, t_us, v);
        return 0;
    }

    double dt = (double)gap / US_PER_S; /* seconds, > 0 */
    double level, trend;
    if (h->n == 1) {
        /* Second sample: the trend is the first difference (Holt's usual initialisation,
         * L2 = y2, T2 = y2 - y1, per second here). Starting the trend at 0 instead would
         * bias early forecasts towards "no change", i.e. late warnings. */
        level = v;
        trend = (v - h->level) / dt;
    } else {
        double steps = (double)gap / (double)p->step_us;
        double a = step_weight(p->alpha, steps);
        double b = step_weight(p->beta, steps);
        double forecast = h->level + h->trend * dt;
        /* Holt: L = a y + (1 - a)(L' + T' dt);  T = b (L - L') / dt + (1 - b) T'. */
        level = a * v + (1 - a) * forecast;
        trend = b * ((level - h->level) / dt) + (1 - b) * h->trend;
    }
    if (!isfinite(level) || !isfinite(trend)) {
        holt_start(h, t_us, v);
        return 0;
    }
    h->level = level;
    h->trend = trend;
    h->last_t_us = t_us;
    if (h->n < UINT32_MAX)
        h->n++;
    return 0;
}

int rules_holt_time_to_cross(const struct rules_holt *h, double threshold, enum rules_trend_dir dir,
                             int64_t horizon_us, uint32_t min_points, bool *crosses,
                             int64_t *eta_us)
{
    if (min_points < 2 || horizon_us < 0 || !isfinite(threshold) || !is_dir(dir))
        return HX_EINVAL;
    if (!h->initialised || h->n < min_points)
        return HX_ENOTFOUND;
    if (!isfinite(h->level) || !isfinite(h->trend))
        return HX_EINVAL;

    /* Work upwards: for a fall, mirror the values. */
    double sign = dir == RULES_TREND_RISING ? 1.0 : -1.0;
    double to_go = sign * (threshold - h->level);
    double rate = sign * h->trend;
    if (to_go <= 0) {
        *crosses = true;
        *eta_us = h->last_t_us;
        return 0;
    }
    if (!(rate > 0)) {
        *crosses = false;
        return 0;
    }
    /* The horizon, cut so that last_t_us + offset stays representable. */
    int64_t limit = horizon_us;
    if (h->last_t_us > 0 && limit > INT64_MAX - h->last_t_us)
        limit = INT64_MAX - h->last_t_us;
    double offset = to_go / rate * US_PER_S; /* may be +inf for a tiny rate */
    if (!(offset <= (double)limit)) {
        *crosses = false;
        return 0;
    }
    /* (double)limit may round up past limit, and 2^63 does not convert to int64_t. */
    int64_t off = offset >= 0x1p63 ? limit : (int64_t)ceil(offset);
    if (off > limit)
        off = limit;
    *crosses = true;
    *eta_us = h->last_t_us + off;
    return 0;
}
