/* gemm_avx512.c — the GEMM path (gemm.h) with AVX-512: panels of 16
 * weight rows (one zmm lane per row), tiles of 8 activation rows, VNNI
 * vpdpbusd / vpdpwssd with the activation bytes as embedded broadcasts
 * (quantized types only). 512-bit ops only (never AMX). */
#include "compute/gemm.h"

#if defined(ONC_HAVE_X86_SIMD)
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "compute/k4_avx512.h"
#include "tensor/blocks.h"

#define GFN(name) name##_avx512
#define GR 16
#define GC 8
#define VI __m512i
#define VF __m512
#define VI_LOAD(p) _mm512_load_si512((const void *)(p))
#define VI_SET1(v) _mm512_set1_epi32(v)
#define VI_ZERO() _mm512_setzero_si512()
#define VI_DPBUSD(acc, u, s) _mm512_dpbusd_epi32((acc), (u), (s))
#define VI_DPWSSD(acc, a, b) _mm512_dpwssd_epi32((acc), (a), (b))
#define VF_LOAD(p) _mm512_load_ps((const float *)(p))
#define VF_SET1(f) _mm512_set1_ps(f)
#define VF_ZERO() _mm512_setzero_ps()
#define VF_CVT(v) _mm512_cvtepi32_ps(v)
#define VF_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VF_FNMA(a, b, c) _mm512_fnmadd_ps((a), (b), (c))
#define VF_MUL(a, b) _mm512_mul_ps((a), (b))
#define VF_STORE(p, v) _mm512_store_ps((p), (v))

/* In-register 16x16 dword transpose: out[g] lane r = in[r] dword g. */
static inline void tr16(__m512i r[16]) {
    __m512i a[16], b[16];
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        b[4 * i + 0] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
        b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
    }
    for (int s = 0; s < 4; s++) {
        const __m512i c0 = _mm512_shuffle_i32x4(b[s], b[4 + s], 0x44);
        const __m512i c1 = _mm512_shuffle_i32x4(b[s], b[4 + s], 0xEE);
        const __m512i c2 = _mm512_shuffle_i32x4(b[8 + s], b[12 + s], 0x44);
        const __m512i c3 = _mm512_shuffle_i32x4(b[8 + s], b[12 + s], 0xEE);
        r[0 + s] = _mm512_shuffle_i32x4(c0, c2, 0x88);
        r[4 + s] = _mm512_shuffle_i32x4(c0, c2, 0xDD);
        r[8 + s] = _mm512_shuffle_i32x4(c1, c3, 0x88);
        r[12 + s] = _mm512_shuffle_i32x4(c1, c3, 0xDD);
    }
}

/* v[g] lane r = dword g of the nd (<= 16) dwords at rows[r] + off; masked
 * loads: nothing past the nd dwords is read. */
static inline void tr16_load(const char *const rows[16], size_t off, int nd, __m512i v[16]) {
    const __mmask16 k = (__mmask16)(nd >= 16 ? 0xFFFF : (1u << nd) - 1u);
    for (int r = 0; r < 16; r++) v[r] = _mm512_maskz_loadu_epi32(k, rows[r] + off);
    tr16(v);
}

#define ST(pq, g, v) _mm512_store_si512((void *)((pq) + (size_t)(g) * 64), (v))

/* byte k (0..3) of each dword as f32, unsigned / signed */
static inline __m512 byte_u(__m512i v, int k) {
    return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8 * k), _mm512_set1_epi32(0xFF)));
}
static inline __m512 byte_s(__m512i v, int k) {
    return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * k), 24));
}
static inline __m512 f16_lo(__m512i v) {
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_and_si512(v, _mm512_set1_epi32(0xFFFF))));
}
static inline __m512 f16_hi(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16))); }

/* Q4_K/Q5_K lane-wise scales: dw0 = d|dmin, u0..u2 = the 12 scale bytes;
 * meta block mb: sw[8][16], dmin[16], mins pairs[4][16]. */
static inline void k4_meta16(__m512i dw0, __m512i u0, __m512i u1, __m512i u2, float *mb) {
    __m512i v0, v1, v2, v3; /* scales 0..3, 4..7; mins 0..3, 4..7 */
    k4_unpack16(u0, u1, u2, &v0, &v1, &v2, &v3);
    const __m512 d = f16_lo(dw0);
    for (int k = 0; k < 4; k++) {
        _mm512_store_ps(mb + k * 16, _mm512_mul_ps(d, byte_u(v0, k)));
        _mm512_store_ps(mb + (4 + k) * 16, _mm512_mul_ps(d, byte_u(v1, k)));
    }
    _mm512_store_ps(mb + 8 * 16, f16_hi(dw0));
    const __m512i m8 = _mm512_set1_epi32(0x00FF00FF);
    __m512i *mi = (__m512i *)(mb + 9 * 16);
    _mm512_store_si512(mi + 0, _mm512_and_si512(v2, m8));
    _mm512_store_si512(mi + 1, _mm512_and_si512(_mm512_srli_epi32(v2, 8), m8));
    _mm512_store_si512(mi + 2, _mm512_and_si512(v3, m8));
    _mm512_store_si512(mi + 3, _mm512_and_si512(_mm512_srli_epi32(v3, 8), m8));
}

static void dec16_q4_K(const char *const rows[16], int64_t b, uint8_t *pq, float *mb) {
    __m512i t0[16], t1[16], t2[16];
    const size_t o = (size_t)b * sizeof(onc_block_q4_K);
    tr16_load(rows, o, 16, t0);
    tr16_load(rows, o + 64, 16, t1);
    tr16_load(rows, o + 128, 4, t2);
    k4_meta16(t0[0], t0[1], t0[2], t0[3], mb);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int g = 0; g < 32; g++) { /* qs dword g = dword 4 + g of the block */
        const int d = 4 + g;
        const __m512i v = d < 16 ? t0[d] : d < 32 ? t1[d - 16] : t2[d - 32];
        const int grp = 16 * (g / 8) + g % 8;
        ST(pq, grp, _mm512_and_si512(v, m4));
        ST(pq, grp + 8, _mm512_and_si512(_mm512_srli_epi32(v, 4), m4));
    }
}

static void dec16_q5_K(const char *const rows[16], int64_t b, uint8_t *pq, float *mb) {
    __m512i t0[16], t1[16], t2[16];
    const size_t o = (size_t)b * sizeof(onc_block_q5_K);
    tr16_load(rows, o, 16, t0);
    tr16_load(rows, o + 64, 16, t1);
    tr16_load(rows, o + 128, 12, t2);
    k4_meta16(t0[0], t0[1], t0[2], t0[3], mb);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m1 = _mm512_set1_epi8(1);
    for (int g = 0; g < 32; g++) { /* qs dword g = block dword 12 + g; qh dword h = 4 + h */
        const int d = 12 + g, h = g % 8, j = 2 * (g / 8);
        const __m512i v = d < 16 ? t0[d] : d < 32 ? t1[d - 16] : t2[d - 32];
        const __m512i qh = t0[4 + h];
        const __m512i h0 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, j), m1), 4);
        const __m512i h1 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, j + 1), m1), 4);
        ST(pq, 8 * j + h, _mm512_or_si512(_mm512_and_si512(v, m4), h0));
        ST(pq, 8 * j + 8 + h, _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(v, 4), m4), h1));
    }
}

/* Q6_K from the transposed words: ql0/ql1 (ql), qh, sc (scales), d. */
static void dec16_q6_K_core(const __m512i ql0[16], const __m512i ql1[16], const __m512i qh[16], const __m512i sc[4],
                            __m512 d, uint8_t *pq, float *mb) {
    for (int k = 0; k < 16; k++) _mm512_store_ps(mb + k * 16, _mm512_mul_ps(d, byte_s(sc[k / 4], k % 4)));
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        const __m512i *ql = h ? ql1 : ql0;
        for (int i = 0; i < 8; i++) {
            const __m512i a = ql[i], c = ql[8 + i], hb = qh[8 * h + i];
            const int base = 32 * h + i;
            ST(pq, base, _mm512_or_si512(_mm512_and_si512(a, m4), _mm512_slli_epi32(_mm512_and_si512(hb, m2), 4)));
            ST(pq, base + 8, _mm512_or_si512(_mm512_and_si512(c, m4),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 2), m2), 4)));
            ST(pq, base + 16, _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a, 4), m4),
                                              _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 4), m2), 4)));
            ST(pq, base + 24, _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(c, 4), m4),
                                              _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 6), m2), 4)));
        }
    }
}

static void dec16_q6_K(const char *const rows[16], int64_t b, uint8_t *pq, float *mb) {
    __m512i ql0[16], ql1[16], qh[16], sc[16];
    const size_t o = (size_t)b * sizeof(onc_block_q6_K);
    tr16_load(rows, o, 16, ql0);
    tr16_load(rows, o + 64, 16, ql1);
    tr16_load(rows, o + 128, 16, qh);
    tr16_load(rows, o + 192, 4, sc);
    int32_t dd[16];
    for (int r = 0; r < 16; r++) {
        uint16_t h;
        memcpy(&h, rows[r] + o + offsetof(onc_block_q6_K, d), 2);
        dd[r] = h;
    }
    dec16_q6_K_core(ql0, ql1, qh, sc, f16_lo(_mm512_loadu_si512((const void *)dd)), pq, mb);
}

/* Q6_K_R16 (compute/repack.c): the words are already vectors; d follows. */
static void dec16_q6_K_r16(const char *grp, int64_t b, uint8_t *pq, float *mb) {
    const char *w = grp + (size_t)b * 16 * sizeof(onc_block_q6_K);
    __m512i v[52];
    for (int i = 0; i < 52; i++) v[i] = _mm512_loadu_si512((const void *)(w + 64 * i));
    dec16_q6_K_core(v, v + 16, v + 32, v + 48, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + 52 * 64))), pq, mb);
}

/* Q4_K_R16 (compute/repack.c): the group's block b already holds the 36
 * words of 16 rows as vectors, so decoding is dec16_q4_K without the
 * transposes. grp = rows[0], the group's first row. */
static void dec16_q4_K_r16(const char *grp, int64_t b, uint8_t *pq, float *mb) {
    const char *w = grp + (size_t)b * 16 * sizeof(onc_block_q4_K);
#define V(i) _mm512_loadu_si512((const void *)(w + 64 * (i)))
    k4_meta16(V(0), V(1), V(2), V(3), mb);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int g = 0; g < 32; g++) {
        const __m512i v = V(4 + g);
        const int grp_ = 16 * (g / 8) + g % 8;
        ST(pq, grp_, _mm512_and_si512(v, m4));
        ST(pq, grp_ + 8, _mm512_and_si512(_mm512_srli_epi32(v, 4), m4));
    }
#undef V
}

/* Q8_0: blocks [8cb, 8cb + nblk); two blocks per transpose. */
static void dec16_q8_0(const char *const rows[16], int64_t cb, int nblk, uint8_t *pq, float *sw) {
    const __m512i x80 = _mm512_set1_epi8((char)0x80);
    for (int j = 0; j < 8; j += 2) {
        __m512i v[16];
        for (int r = 0; r < 16; r++) {
            const onc_block_q8_0 *bl = (const onc_block_q8_0 *)rows[r] + 8 * cb + j;
            const __m256i lo = j < nblk ? _mm256_loadu_si256((const __m256i *)bl[0].qs) : _mm256_setzero_si256();
            const __m256i hi = j + 1 < nblk ? _mm256_loadu_si256((const __m256i *)bl[1].qs) : _mm256_setzero_si256();
            v[r] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        }
        tr16(v);
        for (int g = 0; g < 16; g++) ST(pq, 8 * j + g, _mm512_xor_si512(v[g], x80));
    }
    for (int j = 0; j < nblk; j++)
        for (int r = 0; r < 16; r++) sw[(8 * cb + j) * 16 + r] = _cvtsh_ss(((const onc_block_q8_0 *)rows[r])[8 * cb + j].d);
}

/* Q4_0: four blocks per transpose; low nibbles -> groups 0..3, high 4..7 */
static void dec16_q4_0(const char *const rows[16], int64_t cb, int nblk, uint8_t *pq, float *sw) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int j = 0; j < 8; j += 4) {
        __m512i v[16];
        for (int r = 0; r < 16; r++) {
            const onc_block_q4_0 *bl = (const onc_block_q4_0 *)rows[r] + 8 * cb + j;
            __m128i q[4];
            for (int u = 0; u < 4; u++)
                q[u] = j + u < nblk ? _mm_loadu_si128((const __m128i *)bl[u].qs) : _mm_setzero_si128();
            v[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(q[1], q[0])), _mm256_set_m128i(q[3], q[2]), 1);
        }
        tr16(v);
        for (int u = 0; u < 4; u++)
            for (int i = 0; i < 4; i++) {
                ST(pq, 8 * (j + u) + i, _mm512_and_si512(v[4 * u + i], m4));
                ST(pq, 8 * (j + u) + 4 + i, _mm512_and_si512(_mm512_srli_epi32(v[4 * u + i], 4), m4));
            }
    }
    for (int j = 0; j < nblk; j++)
        for (int r = 0; r < 16; r++) sw[(8 * cb + j) * 16 + r] = _cvtsh_ss(((const onc_block_q4_0 *)rows[r])[8 * cb + j].d);
}

/* Decode rows[0..16) (n elements) into panel codes pq and metadata meta,
 * 16 rows at a time per instruction (replaces the generic row decoder). */
static void decode_panel_avx512(onc_type t, const char *const rows[16], int64_t n, uint8_t *pq, float *meta,
                                uint8_t *tmp) {
    (void)tmp;
    const int64_t kp = onc_gemm_kpad(n);
    for (int64_t cb = 0; cb < kp / 256; cb++) {
        uint8_t *q = pq + cb * 256 * 16;
        switch (t) {
        case ONC_TYPE_Q8_0:
        case ONC_TYPE_Q4_0: {
            const int64_t nb = n / ONC_QK;
            const int nblk = (int)(nb - 8 * cb < 8 ? nb - 8 * cb : 8);
            if (t == ONC_TYPE_Q8_0) dec16_q8_0(rows, cb, nblk, q, meta);
            else dec16_q4_0(rows, cb, nblk, q, meta);
            break;
        }
        case ONC_TYPE_Q4_K: dec16_q4_K(rows, cb, q, meta + cb * 13 * 16); break;
        case ONC_TYPE_Q4_K_R16: dec16_q4_K_r16(rows[0], cb, q, meta + cb * 13 * 16); break;
        case ONC_TYPE_Q6_K_R16: dec16_q6_K_r16(rows[0], cb, q, meta + cb * 16 * 16); break;
        case ONC_TYPE_Q5_K: dec16_q5_K(rows, cb, q, meta + cb * 13 * 16); break;
        case ONC_TYPE_Q6_K: dec16_q6_K(rows, cb, q, meta + cb * 16 * 16); break;
        default: break;
        }
    }
}
#define GEMM_HAVE_DECODE
#define GEMM_HAVE_R16

#include "compute/gemm_x86.inc"

void onc_gemm_fill_avx512(onc_gemm_fn tbl[ONC_TYPE_COUNT]) {
    tbl[ONC_TYPE_Q8_0] = gemm_q8_0_avx512;
    tbl[ONC_TYPE_Q4_0] = gemm_q4_0_avx512;
    tbl[ONC_TYPE_Q4_K] = gemm_q4_K_avx512;
    tbl[ONC_TYPE_Q5_K] = gemm_q5_K_avx512;
    tbl[ONC_TYPE_Q6_K] = gemm_q6_K_avx512;
    tbl[ONC_TYPE_Q4_K_R16] = gemm_q4_K_r16_avx512;
    tbl[ONC_TYPE_Q6_K_R16] = gemm_q6_K_r16_avx512;
}

#else
void onc_gemm_fill_avx512(onc_gemm_fn tbl[ONC_TYPE_COUNT]) { (void)tbl; }
#endif
