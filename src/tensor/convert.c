/* convert.c — scalar f16 <-> f32 and bf16 <-> f32 conversions (see
 * oncolm/types.h). Portable bit manipulation, no hardware conversion
 * instructions, so every build gives the same bits.
 *
 * f16 -> f32 is exact (every half is a float). NaNs keep sign and payload and
 * get the quiet bit, as x86 F16C (vcvtph2ps) does.
 * f32 -> f16 rounds to nearest, ties to even, produces subnormals, overflows
 * to +-inf; NaN keeps sign and the top 10 payload bits and is made quiet
 * (as vcvtps2ph), so the SIMD paths and this code agree bit for bit.
 * bf16 is the upper half of a float; f32 -> bf16 rounds to nearest even and
 * quiets NaNs (as ggml's ggml_compute_fp32_to_bf16). */
#include <string.h>

#include "oncolm/types.h"

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float onc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1F) /* inf / NaN (quiet bit set for NaN) */
        return f32_from_bits(sign | 0x7F800000u | (man << 13) | (man ? 0x00400000u : 0));
    if (exp == 0) {
        if (man == 0) return f32_from_bits(sign);
        /* subnormal: normalise the mantissa */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400u));
        man &= 0x3FFu;
        return f32_from_bits(sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13));
    }
    return f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t onc_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) /* NaN: quiet, top payload bits kept */
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) /* >= 65520 rounds to inf (65504 + half ulp) */
        return (uint16_t)(sign | 0x7C00u);
    if (a < 0x38800000u) { /* below the smallest normal half: 2^-14 */
        if (a < 0x33000000u) return sign; /* <= 2^-25 rounds to zero (tie to even 0) */
        uint32_t e = a >> 23;
        uint32_t m = (a & 0x7FFFFFu) | 0x800000u; /* 24-bit significand */
        uint32_t shift = 126u - e;                /* result = m >> (shift) in units of 2^-24 */
        /* value = m * 2^(e-150); in units of 2^-24: m * 2^(e-126) = m >> (126-e) */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q); /* q may carry into the exponent: correct */
    }
    /* normal: rebias exponent, round mantissa 23 -> 10 bits */
    uint32_t r = a - 0x38000000u; /* exponent - 112 */
    uint32_t lsb = (r >> 13) & 1u;
    r += 0x0FFFu + lsb;
    return (uint16_t)(sign | (r >> 13));
}

float onc_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t onc_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
