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
 * Q6_K_R16 is the same for Q6_K blocks (210 bytes): v0..v31 = ql,
 * v32..v47 = qh, v48..v51 = the 16 signed scales, then the 16 rows' f16
 * d (the 2 bytes past the last whole word) as 32 bytes.
 *
 * Here: the (plain C) repacking and its inverse, and the kernel used at the
 * levels without a 16-row kernel: it unpacks one block of the 16 rows and
 * calls that level's Q4_K / Q6_K dot product per row. */
#include <string.h>

#include "compute/kernels.h"
#include "tensor/blocks.h"

#define R16_ROWS 16

/* The plain type of a 16-row layout (ONC_TYPE_COUNT: not one). */
static onc_type r16_base(onc_type t) {
    return t == ONC_TYPE_Q4_K_R16 ? ONC_TYPE_Q4_K : t == ONC_TYPE_Q6_K_R16 ? ONC_TYPE_Q6_K : ONC_TYPE_COUNT;
}

onc_type onc_repack_type(onc_type wtype, int64_t nrows, int64_t n) {
    if (nrows <= 0 || nrows % R16_ROWS != 0 || n <= 0 || n % ONC_QK_K != 0 || onc_simd_level_get() < ONC_SIMD_AVX512)
        return wtype;
    return wtype == ONC_TYPE_Q4_K ? ONC_TYPE_Q4_K_R16 : wtype == ONC_TYPE_Q6_K ? ONC_TYPE_Q6_K_R16 : wtype;
}

/* One block of bs bytes of 16 rows: whole 4-byte words interleaved, then
 * the bs % 4 bytes left of each row, row after row. */
static void r16_pack_block(uint8_t *dst, const uint8_t *const src[R16_ROWS], size_t bs) {
    const size_t words = bs / 4, tail = bs % 4;
    for (size_t v = 0; v < words; v++)
        for (int r = 0; r < R16_ROWS; r++) memcpy(dst + v * 64 + (size_t)r * 4, src[r] + v * 4, 4);
    for (int r = 0; r < R16_ROWS; r++) memcpy(dst + words * 64 + (size_t)r * tail, src[r] + words * 4, tail);
}

static void r16_unpack_block(uint8_t *const dst[R16_ROWS], const uint8_t *src, size_t bs) {
    const size_t words = bs / 4, tail = bs % 4;
    for (size_t v = 0; v < words; v++)
        for (int r = 0; r < R16_ROWS; r++) memcpy(dst[r] + v * 4, src + v * 64 + (size_t)r * 4, 4);
    for (int r = 0; r < R16_ROWS; r++) memcpy(dst[r] + words * 4, src + words * 64 + (size_t)r * tail, tail);
}

/* Walk the blocks of a plain weight (rows `stride` bytes apart) and of its
 * 16-row layout together; pack or unpack each. */
static void r16_walk(onc_type r16, uint8_t *plain, size_t stride, uint8_t *grouped, int64_t nrows, int64_t n, bool pack) {
    const onc_type base = r16_base(r16);
    ONC_ASSERT(base != ONC_TYPE_COUNT && nrows % R16_ROWS == 0 && n % ONC_QK_K == 0);
    const size_t bs = onc_type_traits_of(base)->type_size;
    const int64_t nb = n / ONC_QK_K;
    for (int64_t g = 0; g < nrows / R16_ROWS; g++)
        for (int64_t b = 0; b < nb; b++, grouped += bs * R16_ROWS) {
            uint8_t *rows[R16_ROWS];
            for (int r = 0; r < R16_ROWS; r++) rows[r] = plain + (size_t)(g * R16_ROWS + r) * stride + (size_t)b * bs;
            if (pack) r16_pack_block(grouped, (const uint8_t *const *)rows, bs);
            else r16_unpack_block(rows, grouped, bs);
        }
}

void onc_repack_rows(onc_type dst_type, void *dst, const void *src, size_t src_stride, int64_t nrows, int64_t n) {
    r16_walk(dst_type, (uint8_t *)src, src_stride, dst, nrows, n, true); /* src only read */
}

void onc_unpack_rows(onc_type src_type, void *dst, size_t dst_stride, const void *src, int64_t nrows, int64_t n) {
    r16_walk(src_type, dst, dst_stride, (uint8_t *)src, nrows, n, false); /* src only read */
}

void onc_weight_row_f32(onc_type t, const void *w, size_t w_stride, int64_t r, float *dst, int64_t n) {
    const onc_type base = r16_base(t);
    if (base == ONC_TYPE_COUNT) {
        onc_dequantize_row(t, (const char *)w + (size_t)r * w_stride, dst, n);
        return;
    }
    const size_t bs = onc_type_traits_of(base)->type_size, words = bs / 4, tail = bs % 4;
    const size_t lane = (size_t)(r % R16_ROWS);
    const uint8_t *grp = (const uint8_t *)w + (size_t)(r / R16_ROWS) * R16_ROWS * w_stride;
    _Alignas(8) uint8_t blk[sizeof(onc_block_q6_K)];
    for (int64_t b = 0; b < n / ONC_QK_K; b++) {
        const uint8_t *src = grp + (size_t)b * bs * R16_ROWS;
        for (size_t v = 0; v < words; v++) memcpy(blk + 4 * v, src + 64 * v + 4 * lane, 4);
        memcpy(blk + 4 * words, src + 64 * words + tail * lane, tail);
        onc_dequantize_row(base, blk, dst + b * ONC_QK_K, ONC_QK_K);
    }
}

/* Fallback 16-row kernel: per block, unpack and dot each row with the
 * plain type's kernel of `level` (sums per block in float, then over
 * blocks). */
static void mv16_generic(onc_type r16, onc_simd_level level, float *y, const void *w, const void *x, int64_t n) {
    const onc_type base = r16_base(r16);
    const onc_vec_dot_fn dot = onc_vec_dot_get(base, level);
    const size_t bs = onc_type_traits_of(base)->type_size;
    const onc_block_q8_K *xb = x;
    float acc[R16_ROWS] = {0};
    _Alignas(64) uint8_t tmp[R16_ROWS][sizeof(onc_block_q6_K)];
    uint8_t *rows[R16_ROWS];
    for (int r = 0; r < R16_ROWS; r++) rows[r] = tmp[r];
    const uint8_t *in = w;
    for (int64_t b = 0; b < n / ONC_QK_K; b++, in += bs * R16_ROWS) {
        r16_unpack_block(rows, in, bs);
        for (int r = 0; r < R16_ROWS; r++) {
            float s;
            dot(&s, tmp[r], &xb[b], ONC_QK_K);
            acc[r] += s;
        }
    }
    memcpy(y, acc, sizeof acc);
}

#define MV16_GENERIC(T, lv, name) \
    static void name(float *y, const void *w, const void *x, int64_t n) { mv16_generic(T, lv, y, w, x, n); }
MV16_GENERIC(ONC_TYPE_Q4_K_R16, ONC_SIMD_SCALAR, mv16_q4_K_scalar)
MV16_GENERIC(ONC_TYPE_Q4_K_R16, ONC_SIMD_AVX2, mv16_q4_K_avx2)
MV16_GENERIC(ONC_TYPE_Q6_K_R16, ONC_SIMD_SCALAR, mv16_q6_K_scalar)
MV16_GENERIC(ONC_TYPE_Q6_K_R16, ONC_SIMD_AVX2, mv16_q6_K_avx2)
#undef MV16_GENERIC

void onc_mv16_fill_generic(onc_matvec16_fn tbl[ONC_SIMD_COUNT][ONC_TYPE_COUNT]) {
    tbl[ONC_SIMD_SCALAR][ONC_TYPE_Q4_K_R16] = mv16_q4_K_scalar;
    tbl[ONC_SIMD_AVX2][ONC_TYPE_Q4_K_R16] = tbl[ONC_SIMD_AVX512][ONC_TYPE_Q4_K_R16] = mv16_q4_K_avx2;
    tbl[ONC_SIMD_SCALAR][ONC_TYPE_Q6_K_R16] = mv16_q6_K_scalar;
    tbl[ONC_SIMD_AVX2][ONC_TYPE_Q6_K_R16] = tbl[ONC_SIMD_AVX512][ONC_TYPE_Q6_K_R16] = mv16_q6_K_avx2;
}
