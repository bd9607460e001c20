/* blocks.h — private: in-memory layouts of the quantized blocks (identical
 * to ggml-common.h; shared/reference/gguf-and-llama-formats.md Q2) and small
 * helpers shared by src/tensor and src/compute. Not a public header. */
#ifndef ONC_TENSOR_BLOCKS_H
#define ONC_TENSOR_BLOCKS_H

#include <stdint.h>

#include "oncolm/types.h"

typedef struct {
    uint16_t d;            /* f16 scale */
    uint8_t qs[ONC_QK / 2]; /* low nibbles: elements 0..15, high: 16..31 */
} onc_block_q4_0;

typedef struct {
    uint16_t d;        /* f16 scale */
    int8_t qs[ONC_QK]; /* quants */
} onc_block_q8_0;

typedef struct {
    uint16_t d;                  /* f16 super-block scale for the 6-bit scales */
    uint16_t dmin;               /* f16 super-block scale for the 6-bit mins */
    uint8_t scales[12];          /* 8 scales + 8 mins, 6 bits each, packed */
    uint8_t qs[ONC_QK_K / 2];    /* 4-bit quants */
} onc_block_q4_K;

typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[ONC_QK_K / 8];    /* 5th bit of each quant */
    uint8_t qs[ONC_QK_K / 2];    /* low 4 bits */
} onc_block_q5_K;

typedef struct {
    uint8_t ql[ONC_QK_K / 2];    /* low 4 bits */
    uint8_t qh[ONC_QK_K / 4];    /* high 2 bits */
    int8_t scales[ONC_QK_K / 16]; /* 16 signed 8-bit scales */
    uint16_t d;                  /* f16 super-block scale (last!) */
} onc_block_q6_K;

typedef struct {
    float d;                      /* scale */
    int8_t qs[ONC_QK_K];          /* quants */
    int16_t bsums[ONC_QK_K / 16]; /* sums of each group of 16 quants */
} onc_block_q8_K;

_Static_assert(sizeof(onc_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(onc_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(onc_block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(onc_block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(onc_block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(onc_block_q8_K) == 292, "q8_K block");

/* 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block. */
static inline void onc_get_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Round to nearest int, ties to even (ggml's nearest_int); |fval| < 2^22. */
static inline int onc_nearest_int(float fval) {
    float val = fval + 12582912.f;
    union {
        float f;
        int32_t i;
    } u = {val};
    return (u.i & 0x007fffff) - 0x00400000;
}

#endif /* ONC_TENSOR_BLOCKS_H */
