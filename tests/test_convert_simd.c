/* test_convert_simd.c — the SIMD F32 -> F16 activation conversion (F16C,
 * used for F16 weights and the F16 KV cache) equals the scalar reference
 * onc_f32_to_f16 bit for bit over a sweep of 2^32 / 61 bit patterns (every
 * exponent: zeros, subnormal results, ties, overflow to inf, inf, NaN) and
 * over odd lengths (the scalar tail). Skips on CPUs without AVX2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/compute.h"
#include "oncolm/types.h"

static void test_f16_rows(void **state) {
    (void)state;
    if (!onc_simd_supported(ONC_SIMD_AVX2)) skip();
    enum { N = 4099 };
    float *x = malloc(N * sizeof *x);
    uint16_t *y = malloc(N * sizeof *y);
    uint64_t checked = 0;
    uint32_t u = 0;
    for (uint64_t base = 0; base < (1ull << 32); base += (uint64_t)N * 61) {
        for (int i = 0; i < N; i++) {
            u = (uint32_t)(base + (uint64_t)i * 61);
            memcpy(&x[i], &u, 4);
        }
        const int n = (int)(N - base % 7); /* odd lengths exercise the tail */
        onc_convert_activation_row(ONC_TYPE_F16, y, x, n);
        for (int i = 0; i < n; i++)
            if (y[i] != onc_f32_to_f16(x[i])) {
                uint32_t bits;
                memcpy(&bits, &x[i], 4);
                fail_msg("f32 0x%08x: simd 0x%04x, reference 0x%04x", bits, y[i], onc_f32_to_f16(x[i]));
            }
        checked += (uint64_t)n;
    }
    assert_true(checked > 70000000ull);
    free(x);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_f16_rows)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
