/* enc_losses_run.c — helper for tests/oracle/test_enc_losses_oracle.py: runs
 * oncolm/enc_losses.h on a whitespace-separated token stream from stdin
 * (numbers parsed with strtod and rounded to float32, so a float32 value
 * written with repr() arrives bit-exact). Commands, any number in a row:
 *
 *   mnrl N M E SCALE SYMMETRIC(0/1) GRAD_SCALE  a[N*E]  c[M*E]
 *       -> "loss %.17g", "da v..", "dc v.." (%.9g; gradients from zero)
 *   pool KIND(1 mean, 2 cls, 3 last) NSEQ E  (start len) x NSEQ  T h[T*E]  dout[NSEQ*E]
 *       -> "out v..", "dh v.." (onc_pool_fwd, onc_pool_bwd from zero)
 *   cw N C labels[N]
 *       -> "w v.." (onc_class_weights_balanced, %.9g)
 * Exit status 2 on malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/enc_losses.h"

static double next_num(void) {
    char buf[256];
    if (scanf("%255s", buf) != 1) {
        fprintf(stderr, "enc_losses_run: unexpected end of input\n");
        exit(2);
    }
    char *end = NULL;
    const double d = strtod(buf, &end);
    if (*end) {
        fprintf(stderr, "enc_losses_run: bad number '%s'\n", buf);
        exit(2);
    }
    return d;
}

static float *read_floats(int64_t n) {
    float *x = calloc((size_t)(n > 0 ? n : 1), sizeof *x);
    if (!x) exit(3);
    for (int64_t i = 0; i < n; i++) x[i] = (float)next_num();
    return x;
}

static void print_floats(const char *tag, const float *x, int64_t n) {
    printf("%s", tag);
    for (int64_t i = 0; i < n; i++) printf(" %.9g", x[i]);
    printf("\n");
}

int main(void) {
    char cmd[64];
    while (scanf("%63s", cmd) == 1) {
        if (!strcmp(cmd, "mnrl")) {
            const int32_t n = (int32_t)next_num(), m = (int32_t)next_num();
            const int64_t E = (int64_t)next_num();
            const float scale = (float)next_num();
            const bool sym = next_num() != 0;
            const float gs = (float)next_num();
            if (n < 1 || m < n || E < 1) return 2;
            float *a = read_floats(n * E), *c = read_floats(m * E);
            float *da = calloc((size_t)(n * E), sizeof *da), *dc = calloc((size_t)(m * E), sizeof *dc);
            if (!da || !dc) return 3;
            printf("loss %.17g\n", onc_mnrl_loss(a, c, n, m, E, scale, sym, gs, da, dc));
            print_floats("da", da, n * E);
            print_floats("dc", dc, m * E);
            free(a), free(c), free(da), free(dc);
        } else if (!strcmp(cmd, "pool")) {
            const int kind = (int)next_num();
            const int32_t ns = (int32_t)next_num();
            const int64_t E = (int64_t)next_num();
            if (kind < 1 || kind > 3 || ns < 1 || E < 1) return 2;
            int32_t *st = calloc((size_t)ns, sizeof *st), *len = calloc((size_t)ns, sizeof *len);
            if (!st || !len) return 3;
            for (int32_t s = 0; s < ns; s++) st[s] = (int32_t)next_num(), len[s] = (int32_t)next_num();
            const int64_t T = (int64_t)next_num();
            for (int32_t s = 0; s < ns; s++)
                if (st[s] < 0 || len[s] < 1 || st[s] + len[s] > T) return 2;
            float *h = read_floats(T * E), *dout = read_floats(ns * E);
            float *out = calloc((size_t)(ns * E), sizeof *out), *dh = calloc((size_t)(T * E), sizeof *dh);
            if (!out || !dh) return 3;
            onc_pool_fwd((onc_pooling)kind, out, h, st, len, ns, E);
            onc_pool_bwd((onc_pooling)kind, dh, dout, st, len, ns, E);
            print_floats("out", out, ns * E);
            print_floats("dh", dh, T * E);
            free(st), free(len), free(h), free(dout), free(out), free(dh);
        } else if (!strcmp(cmd, "cw")) {
            const int64_t n = (int64_t)next_num();
            const int32_t C = (int32_t)next_num();
            if (n < 0 || C < 1) return 2;
            int32_t *y = calloc((size_t)(n > 0 ? n : 1), sizeof *y);
            float *w = calloc((size_t)C, sizeof *w);
            if (!y || !w) return 3;
            for (int64_t i = 0; i < n; i++) y[i] = (int32_t)next_num();
            onc_class_weights_balanced(w, y, n, C);
            print_floats("w", w, C);
            free(y), free(w);
        } else {
            fprintf(stderr, "enc_losses_run: unknown command '%s'\n", cmd);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
