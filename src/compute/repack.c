/* repack.c — load-time weight layouts (see oncolm/compute.h, "repacking").
 *
 * Q4_K_R16: a weight of Q4_K rows is regrouped by 16 rows. Group g holds
 * rows 16g..16g+15; inside it, super-block b (256 columns) is 36 vectors of
 * 64 bytes, and lane r (4 bytes) of vector v is 32-bit word v of row
 * 16g + r's block b:
 *
 *     group g, block b:  v0 = d|dmin x 16 rows, v1..v3 = the 12 scale bytes,
 *                        v4..v35 = the 128 code bytes (v = 4 + 8p + k holds
 *                        qs[32p + 4k .. +3]: low nibbles are columns
 *                        64p + 4k.., high nibbles 64p + 32 + 4k..)
 *
 * The bytes are the file's, only moved: the same size as the file, and an
 * exact inverse (onc_unpack_rows). One AVX-512 register then holds the same
 * four columns of 16 rows, so a matrix-vector product runs 16 rows at once
 * against one broadcast of 4 activation bytes, decodes each block's scales
 * for 16 rows in a few vector instructions, and streams the weight once in
 * order (llama.cpp repacks Q4_K at load for the same reason).
 *
 * Here: the (plain C) repacking and its inverse, and the kernel used at the
 * levels without a 16-row kernel: it unpacks one block of the 16 rows and
 * calls that level's Q4_K dot product per row. */
#include <string.h>

#include "compute/kernels.h"
#include "tensor/blocks.h"

#define R16_ROWS 16
#define R16_WORDS (sizeof(onc_block_q4_K) / 4) /* 36 */

onc_type onc_repack_type(onc_type wtype, int64_t nrows, int64_t n) {
    if (wtype == ONC_TYPE_Q4_K && nrows > 0 && nrows % R16_ROWS == 0 && n > 0 && n % ONC_QK_K == 0 &&
        onc_simd_level_get() >= ONC_SIMD_AVX512)
        return ONC_TYPE_Q4_K_R16;
    return wtype;
}

/* One block of 16 rows: words of rows[r] block -> interleaved group block. */
static void r16_pack_block(uint8_t *dst, const uint8_t *const src[R16_ROWS]) {
    for (size_t v = 0; v < R16_WORDS; v++)
        for (int r = 0; r < R16_ROWS; r++) memcpy(dst + v * 64 + (size_t)r * 4, src[r] + v * 4, 4);
}

static void r16_unpack_block(uint8_t *const dst[R16_ROWS], const uint8_t *src) {
    for (size_t v = 0; v < R16_WORDS; v++)
        for (int r = 0; r < R16_ROWS; r++) memcpy(dst[r] + v * 4, src + v * 64 + (size_t)r * 4, 4);
}

void onc_repack_rows(onc_type dst_type, void *dst, const void *src, size_t src_stride, int64_t nrows, int64_t n) {
    ONC_ASSERT(dst_type == ONC_TYPE_Q4_K_R16 && nrows % R16_ROWS == 0 && n % ONC_QK_K == 0);
    const int64_t nb = n / ONC_QK_K;
    uint8_t *out = dst;
    for (int64_t g = 0; g < nrows / R16_ROWS; g++)
        for (int64_t b = 0; b < nb; b++, out += sizeof(onc_block_q4_K) * R16_ROWS) {
            const uint8_t *rows[R16_ROWS];
            for (int r = 0; r < R16_ROWS; r++)
                rows[r] = (const uint8_t *)src + (size_t)(g * R16_ROWS + r) * src_stride + (size_t)b * sizeof(onc_block_q4_K);
            r16_pack_block(out, rows);
        }
}

void onc_unpack_rows(onc_type src_type, void *dst, size_t dst_stride, const void *src, int64_t nrows, int64_t n) {
    ONC_ASSERT(src_type == ONC_TYPE_Q4_K_R16 && nrows % R16_ROWS == 0 && n % ONC_QK_K == 0);
    const int64_t nb = n / ONC_QK_K;
    const uint8_t *in = src;
    for (int64_t g = 0; g < nrows / R16_ROWS; g++)
        for (int64_t b = 0; b < nb; b++, in += sizeof(onc_block_q4_K) * R16_ROWS) {
            uint8_t *rows[R16_ROWS];
            for (int r = 0; r < R16_ROWS; r++)
                rows[r] = (uint8_t *)dst + (size_t)(g * R16_ROWS + r) * dst_stride + (size_t)b * sizeof(onc_block_q4_K);
            r16_unpack_block(rows, in);
        }
}

/* Fallback 16-row kernel: per block, unpack and dot each row with the Q4_K
 * kernel of `level` (sums per block in float, then over blocks). */
static void mv16_generic(onc_simd_level level, float *y, const void *w, const void *x, int64_t n) {
    const onc_vec_dot_fn dot = onc_vec_dot_get(ONC_TYPE_Q4_K, level);
    const onc_block_q8_K *xb = x;
    float acc[R16_ROWS] = {0};
    onc_block_q4_K tmp[R16_ROWS];
    uint8_t *rows[R16_ROWS];
    for (int r = 0; r < R16_ROWS; r++) rows[r] = (uint8_t *)&tmp[r];
    const uint8_t *in = w;
    for (int64_t b = 0; b < n / ONC_QK_K; b++, in += sizeof tmp) {
        r16_unpack_block(rows, in);
        for (int r = 0; r < R16_ROWS; r++) {
            float s;
            dot(&s, &tmp[r], &xb[b], ONC_QK_K);
            acc[r] += s;
        }
    }
    memcpy(y, acc, sizeof acc);
}

static void mv16_scalar(float *y, const void *w, const void *x, int64_t n) { mv16_generic(ONC_SIMD_SCALAR, y, w, x, n); }
static void mv16_avx2(float *y, const void *w, const void *x, int64_t n) { mv16_generic(ONC_SIMD_AVX2, y, w, x, n); }

void onc_mv16_fill_generic(onc_matvec16_fn tbl[ONC_SIMD_COUNT]) {
    tbl[ONC_SIMD_SCALAR] = mv16_scalar;
    tbl[ONC_SIMD_AVX2] = mv16_avx2;
    tbl[ONC_SIMD_AVX512] = mv16_avx2;
}
