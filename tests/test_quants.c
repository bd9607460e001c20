/* test_quants.c — scalar conversions and reference (de)quantization:
 *  - f16 -> f32 for all 65536 halves against a direct formula
 *    ((-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 m/1024, inf, NaN), and
 *    f32 -> f16 round trips, ties-to-even at every midpoint, overflow;
 *  - bf16 likewise (all 65536 values, midpoints);
 *  - quantize -> dequantize RMSE on N(0,1) data per type, with upper bounds
 *    (measured values in the comment of kRmseBound);
 *  - edge blocks: zeros, constants, a lone outlier, huge and tiny values
 *    (outputs must be finite), Q8_K bsums, determinism. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/types.h"
#include "test_util.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) { return tu_urand(&rng); }
static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float ffrom(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// --- f16 ---------------------------------------------------------------------------

static double f16_formula(uint16_t h) {
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp(m / 1024.0, -14);
    else v = ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

static void test_f16_exhaustive(void **state) {
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = onc_f16_to_f32((uint16_t)h);
        const double ref = f16_formula((uint16_t)h);
        if (isnan(ref)) {
            assert_true(isnan(f));
            assert_int_equal(fbits(f) >> 31, h >> 15);
            /* payload kept, made quiet */
            assert_int_equal(onc_f32_to_f16(f), (uint16_t)(h | 0x200));
            continue;
        }
        if ((double)f != ref || (signbit(f) != 0) != (h >> 15 != 0)) fail_msg("f16 %04x -> %a, want %a", h, f, ref);
        assert_int_equal(onc_f32_to_f16(f), h); /* exact round trip */
        /* midpoint to the next half up in magnitude: ties to even */
        if ((h & 0x7FFF) < 0x7BFF) {
            const double next = f16_formula((uint16_t)(h + 1));
            const float mid = (float)((ref + next) / 2); /* exact in float (12 bits) */
            assert_true((double)mid == (ref + next) / 2);
            const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            assert_int_equal(onc_f32_to_f16(mid), even);
            /* one float ulp either side of the midpoint goes to the nearer half */
            const float below = ffrom(fbits(mid) - 1), above = ffrom(fbits(mid) + 1);
            assert_int_equal(onc_f32_to_f16(fabs(ref) < fabs(next) ? below : above), h);
            assert_int_equal(onc_f32_to_f16(fabs(ref) < fabs(next) ? above : below), (uint16_t)(h + 1));
        }
    }
    /* overflow and underflow */
    assert_int_equal(onc_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(onc_f32_to_f16(65519.99f), 0x7BFF);
    assert_int_equal(onc_f32_to_f16(65520.0f), 0x7C00);
    assert_int_equal(onc_f32_to_f16(-1e30f), 0xFC00);
    assert_int_equal(onc_f32_to_f16(INFINITY), 0x7C00);
    assert_int_equal(onc_f32_to_f16(ldexpf(1, -25)), 0x0000);    /* tie -> even zero */
    assert_int_equal(onc_f32_to_f16(ldexpf(1.0001f, -25)), 0x0001);
    assert_int_equal(onc_f32_to_f16(-ldexpf(1, -26)), 0x8000);
    assert_int_equal(onc_f32_to_f16(ldexpf(3, -25)), 0x0002);    /* 1.5 ulp -> 2 (even) */
    assert_int_equal(onc_f32_to_f16(1e-30f), 0);
    /* random floats: result is a nearest half */
    for (int i = 0; i < 200000; i++) {
        const float x = ldexpf((float)(urand() * 2 - 1), (int)(urand() * 40) - 26);
        const uint16_t h = onc_f32_to_f16(x);
        const double e0 = fabs(f16_formula(h) - x);
        if ((h & 0x7FFF) < 0x7BFF) assert_true(e0 <= fabs(f16_formula((uint16_t)(h + 1)) - x));
        if ((h & 0x7FFF) > 0) assert_true(e0 <= fabs(f16_formula((uint16_t)(h - 1)) - x));
    }
}

// --- bf16 --------------------------------------------------------------------------

static void test_bf16_exhaustive(void **state) {
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = onc_bf16_to_f32((uint16_t)h);
        assert_int_equal(fbits(f), h << 16);
        if (isnan(f)) {
            assert_int_equal(onc_f32_to_bf16(f), (uint16_t)(h | 0x40));
            continue;
        }
        assert_int_equal(onc_f32_to_bf16(f), h);
        if ((h & 0x7FFF) < 0x7F7F) { /* midpoint with the next value */
            const float mid = ffrom((h << 16) | 0x8000u);
            assert_int_equal(onc_f32_to_bf16(mid), (h & 1) ? h + 1 : h);
            assert_int_equal(onc_f32_to_bf16(ffrom((h << 16) | 0x8001u)), h + 1);
            assert_int_equal(onc_f32_to_bf16(ffrom((h << 16) | 0x7FFFu)), h);
        }
    }
    assert_int_equal(onc_f32_to_bf16(3.4e38f), 0x7F80); /* rounds up to inf */
    assert_true(isnan(onc_bf16_to_f32(onc_f32_to_bf16(ffrom(0x7F800001u))))); /* sNaN stays NaN */
}

// --- quantization round trips ---------------------------------------------------------

static const onc_type kTypes[] = {ONC_TYPE_F32, ONC_TYPE_F16,  ONC_TYPE_BF16, ONC_TYPE_Q8_0, ONC_TYPE_Q4_0,
                                  ONC_TYPE_Q4_K, ONC_TYPE_Q5_K, ONC_TYPE_Q6_K, ONC_TYPE_Q8_K};
#define N_TYPES ((int)(sizeof kTypes / sizeof kTypes[0]))

/* RMSE / sigma bounds for N(0,1) data (1M values). Measured with this code:
 *   q8_0 0.00534  q4_0 0.0859  q4_K 0.0704  q5_K 0.0349  q6_K 0.0175
 *   q8_K 0.00695  f16 0.000208  bf16 0.00166
 * (ggml's reference quantizers give q4_K 0.0713, q5_K 0.0361, q6_K 0.0177
 * on the same data: ours refine the 6/8-bit scales, see quants_k.c).
 * Sanity: a uniform grid of step d has RMSE d/sqrt(12); for Q8_0,
 * d = E[amax of 32 normals]/127 ~ 2.1/127 -> 0.0048 (plus the f16 scale and
 * clipping effects: 0.0053). The bounds leave 5-10% headroom so other data
 * seeds pass, while keeping the K-quants at ggml's level (its reference
 * quantizers would still pass; a plain min/max scale without the search
 * would not for Q4_K/Q5_K) and any wrong formula (errors ~sigma) fails. */
static double rmse_bound(onc_type t) {
    switch (t) {
    case ONC_TYPE_F32: return 0.0;
    case ONC_TYPE_F16: return 0.00023;
    case ONC_TYPE_BF16: return 0.0018;
    case ONC_TYPE_Q8_0: return 0.0058;
    case ONC_TYPE_Q4_0: return 0.092;
    case ONC_TYPE_Q4_K: return 0.075;
    case ONC_TYPE_Q5_K: return 0.037;
    case ONC_TYPE_Q6_K: return 0.019;
    case ONC_TYPE_Q8_K: return 0.0075;
    default: return 0;
    }
}

static void test_rmse_gaussian(void **state) {
    const int64_t n = 256 * 2048;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    void *q = malloc(n * 4), *q2 = malloc(n * 4);
    for (int64_t i = 0; i < n; i++) x[i] = gauss();
    for (int k = 0; k < N_TYPES; k++) {
        const onc_type t = kTypes[k];
        assert_int_equal(onc_quantize_row(t, x, q, n), onc_type_row_size(t, n));
        onc_dequantize_row(t, q, y, n);
        double e = 0;
        for (int64_t i = 0; i < n; i++) e += (double)(x[i] - y[i]) * (x[i] - y[i]);
        const double rmse = sqrt(e / n);
        printf("  %-5s rmse/sigma = %.6f (bound %.5f)\n", onc_type_traits_of(t)->name, rmse, rmse_bound(t));
        assert_true(rmse <= rmse_bound(t));
        onc_quantize_row(t, x, q2, n); /* deterministic */
        assert_memory_equal(q, q2, onc_type_row_size(t, n));
        /* scale invariance up to f16 rounding of scales: 1000x data, 1000x error */
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * 1024.0f;
        onc_quantize_row(t, y, q2, n);
        onc_dequantize_row(t, q2, y, n);
        e = 0;
        for (int64_t i = 0; i < n; i++) e += (double)(x[i] * 1024.0f - y[i]) * (x[i] * 1024.0f - y[i]);
        assert_true(sqrt(e / n) / 1024.0 <= rmse_bound(t) * 1.01 + 1e-9);
    }
    free(x);
    free(y);
    free(q);
    free(q2);
}

static void check_all_finite(onc_type t, const float *x, int64_t n, float *y, void *q) {
    onc_quantize_row(t, x, q, n);
    onc_dequantize_row(t, q, y, n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(y[i])) fail_msg("%s: element %lld of %g is %g", onc_type_traits_of(t)->name, (long long)i, x[i], y[i]);
}

static void test_edge_blocks(void **state) {
    const int64_t n = 512;
    float x[512], y[512];
    static uint8_t q[512 * 4];
    for (int k = 0; k < N_TYPES; k++) {
        const onc_type t = kTypes[k];
        const char *name = onc_type_traits_of(t)->name;
        /* zeros -> exact zeros */
        for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
        check_all_finite(t, x, n, y, q);
        for (int64_t i = 0; i < n; i++) assert_true(y[i] == 0.0f);
        /* constants (positive, negative): close to the constant */
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            for (int64_t i = 0; i < n; i++) x[i] = sgn * 0.37f;
            check_all_finite(t, x, n, y, q);
            for (int64_t i = 0; i < n; i++)
                if (fabsf(y[i] - x[i]) > 0.37f * 4e-3f) fail_msg("%s constant %g -> %g", name, x[i], y[i]);
        }
        /* one outlier among small values: outlier kept within its relative grid error */
        for (int64_t i = 0; i < n; i++) x[i] = 0.01f * gauss();
        x[77] = 50.0f;
        check_all_finite(t, x, n, y, q);
        assert_true(fabsf(y[77] - 50.0f) <= 50.0f * 0.07f);
        /* huge values: finite output (scales saturate at the largest half) */
        for (int64_t i = 0; i < n; i++) x[i] = 1e9f * gauss();
        x[3] = 3e38f;
        if (t != ONC_TYPE_F16) check_all_finite(t, x, n, y, q); /* f16 itself overflows to inf, by definition */
        /* tiny values: finite (mostly flushed to zero by the f16 scales) */
        for (int64_t i = 0; i < n; i++) x[i] = 1e-30f * gauss();
        check_all_finite(t, x, n, y, q);
        for (int64_t i = 0; i < n; i++) assert_true(fabsf(y[i]) <= 1e-29f);
        /* moderately large range stays accurate (relative) */
        for (int64_t i = 0; i < n; i++) x[i] = 1000.0f * gauss();
        check_all_finite(t, x, n, y, q);
        double e = 0;
        for (int64_t i = 0; i < n; i++) e += (double)(x[i] - y[i]) * (x[i] - y[i]);
        assert_true(sqrt(e / n) / 1000.0 <= rmse_bound(t) * 1.3 + 1e-9);
    }
}

static void test_q8_0_q4_0_formula(void **state) {
    /* a hand-checked block: x = j - 16 -> amax 16, d = 16/127, q = round(x * 127/16) */
    float x[32], y[32];
    uint8_t q[34];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
    onc_quantize_row(ONC_TYPE_Q8_0, x, q, 32);
    uint16_t d;
    memcpy(&d, q, 2);
    assert_int_equal(d, onc_f32_to_f16(16.0f / 127.0f));
    assert_int_equal((int8_t)q[2], -127);
    assert_int_equal((int8_t)q[2 + 31], (int)roundf(15 * 127.0f / 16));
    assert_int_equal((int8_t)q[2 + 16], 0);
    /* Q4_0: max = -16 -> d = 2, q = x/2 + 8.5 truncated, clamp 15 */
    onc_quantize_row(ONC_TYPE_Q4_0, x, q, 32);
    memcpy(&d, q, 2);
    assert_int_equal(d, onc_f32_to_f16(2.0f));
    assert_int_equal(q[2] & 0xF, 0);                 /* x=-16 -> 0 */
    assert_int_equal(q[2 + 15] >> 4, 15);            /* x=15 -> 16 -> clamp 15 */
    assert_int_equal(q[2 + 1] & 0xF, (int)(-15 / 2.0f + 8.5f)); /* x=-15 -> 1 */
    onc_dequantize_row(ONC_TYPE_Q4_0, q, y, 32);
    assert_true(y[0] == -16.0f && y[31] == 14.0f);
}

static void test_q8_K_bsums(void **state) {
    float x[512];
    static uint8_t q[2 * 292];
    for (int i = 0; i < 512; i++) x[i] = gauss();
    onc_quantize_row(ONC_TYPE_Q8_K, x, q, 512);
    for (int b = 0; b < 2; b++) {
        const uint8_t *blk = q + b * 292;
        float d;
        memcpy(&d, blk, 4);
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += (int8_t)blk[4 + g * 16 + i];
            int16_t bs;
            memcpy(&bs, blk + 4 + 256 + 2 * g, 2);
            assert_int_equal(s, bs);
        }
        for (int i = 0; i < 256; i++) assert_true(fabsf((int8_t)blk[4 + i] * d - x[b * 256 + i]) <= fabsf(d) * 0.5001f);
    }
}

static void test_type_names(void **state) {
    onc_type t;
    assert_true(onc_type_from_name("Q4_K", &t) && t == ONC_TYPE_Q4_K);
    assert_true(onc_type_from_name("bf16", &t) && t == ONC_TYPE_BF16);
    assert_false(onc_type_from_name("q4_k_m", &t));
    assert_int_equal(onc_type_row_size(ONC_TYPE_Q6_K, 512), 420);
    assert_null(onc_type_traits_of((onc_type)5)->name);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_exhaustive),    cmocka_unit_test(test_bf16_exhaustive),
        cmocka_unit_test(test_rmse_gaussian),     cmocka_unit_test(test_edge_blocks),
        cmocka_unit_test(test_q8_0_q4_0_formula), cmocka_unit_test(test_q8_K_bsums),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
