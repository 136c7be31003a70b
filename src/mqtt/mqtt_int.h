/*
 * Private to src/mqtt/: the bounded byte reader and the two-pass writer shared by codec.c,
 * codec_props.c and codec_encode.c. Thread: any (pure helpers).
 */
#ifndef MEDHUB_MQTT_INT_H
#define MEDHUB_MQTT_INT_H

#include "core/err.h"
#include "mqtt/codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A reader over p[0..len); every read checks the bound. */
struct mqtt__rd {
    const uint8_t *p; /* start of the input */
    size_t len;       /* input length */
    size_t pos;       /* next byte to read */
};

static inline size_t mqtt__rd_left(const struct mqtt__rd *r)
{
    return r->len - r->pos;
}

static inline bool mqtt__rd_u8(struct mqtt__rd *r, uint8_t *v)
{
    if (mqtt__rd_left(r) < 1)
        return false;
    *v = r->p[r->pos++];
    return true;
}

static inline bool mqtt__rd_u16(struct mqtt__rd *r, uint16_t *v)
{
    if (mqtt__rd_left(r) < 2)
        return false;
    *v = (uint16_t)((r->p[r->pos] << 8) | r->p[r->pos + 1]);
    r->pos += 2;
    return true;
}

static inline bool mqtt__rd_u32(struct mqtt__rd *r, uint32_t *v)
{
    if (mqtt__rd_left(r) < 4)
        return false;
    const uint8_t *b = r->p + r->pos;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    r->pos += 4;
    return true;
}

/* Two-byte length prefixed bytes (Binary Data, 5.0 §1.5.6; string body, §1.5.4). */
static inline bool mqtt__rd_bin(struct mqtt__rd *r, struct slice *out)
{
    uint16_t n;
    if (!mqtt__rd_u16(r, &n) || mqtt__rd_left(r) < n)
        return false;
    *out = slice_make(r->p + r->pos, n);
    r->pos += n;
    return true;
}

/*
 * A writer into p[0..cap). With p == NULL it only counts, which is how encoders size a
 * packet before writing it: the same body function runs once counting and once writing.
 */
struct mqtt__wr {
    uint8_t *p; /* output, or NULL to count */
    size_t cap; /* output capacity */
    size_t pos; /* bytes produced so far */
};

static inline void mqtt__wr_u8(struct mqtt__wr *w, uint8_t v)
{
    if (w->p && w->pos < w->cap)
        w->p[w->pos] = v;
    w->pos++;
}

static inline void mqtt__wr_u16(struct mqtt__wr *w, uint16_t v)
{
    mqtt__wr_u8(w, (uint8_t)(v >> 8));
    mqtt__wr_u8(w, (uint8_t)v);
}

static inline void mqtt__wr_u32(struct mqtt__wr *w, uint32_t v)
{
    mqtt__wr_u16(w, (uint16_t)(v >> 16));
    mqtt__wr_u16(w, (uint16_t)v);
}

static inline void mqtt__wr_bytes(struct mqtt__wr *w, struct slice s)
{
    for (size_t i = 0; i < s.len; i++)
        mqtt__wr_u8(w, s.ptr[i]);
}

/* Length-prefixed string or binary. Returns HX_EINVAL if longer than 65535 bytes. */
static inline int mqtt__wr_bin(struct mqtt__wr *w, struct slice s)
{
    if (s.len > 0xFFFF)
        return HX_EINVAL;
    mqtt__wr_u16(w, (uint16_t)s.len);
    mqtt__wr_bytes(w, s);
    return 0;
}

/* Returns 0, or HX_EINVAL if v > MQTT_VARINT_MAX. */
static inline int mqtt__wr_varint(struct mqtt__wr *w, uint32_t v)
{
    uint8_t b[4];
    size_t n = mqtt_varint_encode(v, b);
    if (n == 0)
        return HX_EINVAL;
    for (size_t i = 0; i < n; i++)
        mqtt__wr_u8(w, b[i]);
    return 0;
}

/* Sets *reason (if non-NULL) and returns HX_EMALFORMED. */
static inline int mqtt__fail(uint8_t *reason, uint8_t code)
{
    if (reason)
        *reason = code;
    return HX_EMALFORMED;
}

/* Pseudo packet type for the Will Properties of CONNECT (type 0 is reserved on the wire). */
#define MQTT__WILL_PROPS 0

/*
 * Reads a v5 Property Length and the properties after it (5.0 §2.2.2), checking each id is
 * allowed in ptype (MQTT__WILL_PROPS for the Will), each value's type and range, duplicates
 * and UTF-8. OUT: *out. Returns 0 or HX_EMALFORMED with *reason. (codec_props.c)
 */
int mqtt__props_decode(struct mqtt__rd *r, uint8_t ptype, struct mqtt_props *out, uint8_t *reason);

/* Writes Property Length + properties for ptype. Returns 0 or HX_EINVAL. (codec_props.c) */
int mqtt__props_encode(struct mqtt__wr *w, uint8_t ptype, const struct mqtt_props *p);

/* Is p empty for encoding purposes (nothing would be written)? (codec_props.c) */
bool mqtt__props_is_empty(const struct mqtt_props *p);

#endif
