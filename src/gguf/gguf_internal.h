/* gguf_internal.h — private pieces shared by the GGUF reader and writer
 * (src/gguf/gguf_reader.c, src/gguf/gguf_writer.c). Not a public API. */
#ifndef ONCOLM_GGUF_INTERNAL_H
#define ONCOLM_GGUF_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "oncolm/gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "oncolm's GGUF code assumes a little-endian host"
#endif

#define ONC_GGUF_MAX_STRING ((uint64_t)1 << 30)    /* 1 GiB, as gguf.cpp */
#define ONC_GGUF_MAX_ARRAY ((uint64_t)1 << 30)     /* GGUF_MAX_ARRAY_ELEMENTS */
#define ONC_GGUF_ALIGNMENT_KEY "general.alignment"

/* Round x up to a multiple of the power of two a (no overflow check). */
static inline uint64_t onc_gguf_pad(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static inline bool onc_gguf_is_pow2(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

/* FNV-1a 64 of n bytes (used for the name hash tables). */
static inline uint64_t onc_gguf_fnv1a(const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Byte size of a tensor of `type` with element counts ne[0..3] (all >= 1,
 * ne[0] a multiple of the block size). Returns false on overflow. */
static inline bool onc_gguf_tensor_nbytes(onc_type type, const int64_t ne[ONC_GGUF_MAX_DIMS],
                                          uint64_t *out) {
    const onc_type_traits *tr = onc_type_traits_of(type);
    if (tr->name == NULL || tr->block_size <= 0) return false;
    uint64_t n = (uint64_t)(ne[0] / tr->block_size);
    if (__builtin_mul_overflow(n, (uint64_t)tr->type_size, &n)) return false;
    for (int d = 1; d < ONC_GGUF_MAX_DIMS; d++)
        if (__builtin_mul_overflow(n, (uint64_t)ne[d], &n)) return false;
    if (n > (uint64_t)SIZE_MAX) return false;
    *out = n;
    return true;
}

#endif /* ONCOLM_GGUF_INTERNAL_H */
