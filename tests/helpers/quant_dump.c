/* quant_dump.c — helper for tests/oracle/test_blocks_oracle.py.
 *
 *   quant_dump IN.f32 NROWS NCOLS OUTDIR
 *
 * IN.f32 holds NROWS+1 rows of NCOLS little-endian floats: rows 0..NROWS-1
 * are a weight matrix W, the last row an activation x. For each type
 * (f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K) writes into OUTDIR:
 *   <type>.blocks  W quantized row by row (raw blocks)
 *   <type>.deq     oncolm's dequantization of those blocks (f32)
 *   <type>.xq      x converted to the type's vec_dot type (raw)
 *   <type>.dot     W x from onc_mul_mat_f32 (f32, NROWS values) at the
 *                  SIMD level in effect (ONCOLM_SIMD), 2 threads
 * Exit 0 on success, 1 with a message on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/compute.h"
#include "oncolm/types.h"

static int write_file(const char *dir, const char *name, const char *ext, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "quant_dump: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: quant_dump IN.f32 NROWS NCOLS OUTDIR\n");
        return 1;
    }
    const long nrows = atol(argv[2]), n = atol(argv[3]);
    if (nrows <= 0 || n <= 0 || n % 256) {
        fprintf(stderr, "quant_dump: bad dims\n");
        return 1;
    }
    float *in = malloc((size_t)(nrows + 1) * (size_t)n * 4);
    FILE *f = fopen(argv[1], "rb");
    if (!in || !f || fread(in, 4, (size_t)(nrows + 1) * (size_t)n, f) != (size_t)(nrows + 1) * (size_t)n) {
        fprintf(stderr, "quant_dump: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    static const onc_type types[] = {ONC_TYPE_F32,  ONC_TYPE_F16,  ONC_TYPE_BF16, ONC_TYPE_Q8_0,
                                     ONC_TYPE_Q4_0, ONC_TYPE_Q4_K, ONC_TYPE_Q5_K, ONC_TYPE_Q6_K};
    onc_threadpool *tp = onc_threadpool_new(2, NULL);
    int rc = 0;
    for (size_t k = 0; k < sizeof types / sizeof types[0] && !rc; k++) {
        const onc_type t = types[k];
        const char *name = onc_type_traits_of(t)->name;
        const size_t rs = onc_type_row_size(t, n);
        char *blocks = malloc(rs * (size_t)nrows);
        float *deq = malloc((size_t)nrows * (size_t)n * 4), *dot = malloc((size_t)nrows * 4);
        const size_t xs = onc_activation_row_size(t, n);
        void *xq = malloc(xs);
        for (long r = 0; r < nrows; r++) {
            onc_quantize_row(t, in + r * n, blocks + r * rs, n);
            onc_dequantize_row(t, blocks + r * rs, deq + r * n, n);
        }
        onc_convert_activation_row(t, xq, in + nrows * n, n);
        onc_error err = {0};
        if (onc_mul_mat_f32(tp, dot, nrows, t, blocks, rs, nrows, in + nrows * n, n, n, 1, &err) != ONC_OK) {
            fprintf(stderr, "quant_dump: %s\n", err.msg);
            rc = 1;
        }
        rc = rc || write_file(argv[4], name, "blocks", blocks, rs * (size_t)nrows) ||
             write_file(argv[4], name, "deq", deq, (size_t)nrows * (size_t)n * 4) ||
             write_file(argv[4], name, "xq", xq, xs) || write_file(argv[4], name, "dot", dot, (size_t)nrows * 4);
        free(blocks);
        free(deq);
        free(dot);
        free(xq);
    }
    onc_threadpool_free(tp);
    free(in);
    return rc;
}
