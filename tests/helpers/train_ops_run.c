/* train_ops_run — runs one oncolm/train_ops.h kernel for the numpy oracle
 * (tests/oracle/test_train_ops_oracle.py).
 *
 *   train_ops_run OP IN OUT ARGS...
 *
 * IN holds the inputs as consecutive little-endian float32 arrays (integer
 * inputs such as positions or labels are stored as float32 too); OUT gets
 * the outputs the same way. Ops and their arrays:
 *   attn T H Hkv Dh scale        in: q[T,H,Dh] k[T,Hkv,Dh] v[T,Hkv,Dh] dout[T,H,Dh] lo[T] hi[T]
 *                                out: out[T,H,Dh] lse[T,H] dq dk dv
 *   rope T H Dh n_rot mode base fscale afactor has_ff
 *                                in: x[T,H,Dh] pos[T] (ff[n_rot/2]) dy[T,H,Dh]
 *                                out: rope_fwd(x), rope_bwd(dy)
 *   rmsnorm T D eps              in: x w dy; out: y dx dw
 *   layernorm T D eps            in: x w b dy; out: y dx dw db
 *   xent T E V                   in: h[T,E] W[V,E] labels[T]; out: loss_sum, n_counted, dh (grad_scale 1)
 * Exit 1 with a message on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/train_ops.h"

static float *in_data;
static size_t in_n, in_pos;

static float *take(size_t n) {
    if (in_pos + n > in_n) {
        fprintf(stderr, "train_ops_run: input too short\n");
        exit(1);
    }
    float *p = in_data + in_pos;
    in_pos += n;
    return p;
}

/* Every allocation of an op, freed before exit (leak-checked builds). */
static void *allocs[32];
static int n_allocs;
static void *al(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || n_allocs == 32) {
        fprintf(stderr, "train_ops_run: out of memory\n");
        exit(1);
    }
    return allocs[n_allocs++] = p;
}

static void put(FILE *f, const float *x, size_t n) {
    if (fwrite(x, sizeof(float), n, f) != n) {
        fprintf(stderr, "train_ops_run: write failed\n");
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: train_ops_run OP IN OUT ARGS...\n");
        return 1;
    }
    FILE *fi = fopen(argv[2], "rb");
    if (!fi) return perror(argv[2]), 1;
    fseek(fi, 0, SEEK_END);
    const long sz = ftell(fi);
    fseek(fi, 0, SEEK_SET);
    in_n = (size_t)sz / sizeof(float);
    in_data = malloc((size_t)sz + 4);
    if (!in_data || fread(in_data, sizeof(float), in_n, fi) != in_n) return fprintf(stderr, "read failed\n"), 1;
    fclose(fi);
    FILE *fo = fopen(argv[3], "wb");
    if (!fo) return perror(argv[3]), 1;
    const char *op = argv[1];
    onc_error err;
    if (!strcmp(op, "attn") && argc == 9) {
        const int64_t T = atoll(argv[4]), H = atoll(argv[5]), Hkv = atoll(argv[6]), Dh = atoll(argv[7]);
        const float scale = strtof(argv[8], NULL);
        float *q = take(T * H * Dh), *k = take(T * Hkv * Dh), *v = take(T * Hkv * Dh), *dout = take(T * H * Dh);
        float *lof = take(T), *hif = take(T);
        int32_t *lo = al((size_t)T * sizeof(int32_t)), *hi = al((size_t)T * sizeof(int32_t));
        for (int64_t t = 0; t < T; t++) lo[t] = (int32_t)lof[t], hi[t] = (int32_t)hif[t];
        float *out = al((size_t)(T * H * Dh) * 4), *lse = al((size_t)(T * H) * 4), *dq = al((size_t)(T * H * Dh) * 4),
              *dk = al((size_t)(T * Hkv * Dh) * 4), *dv = al((size_t)(T * Hkv * Dh) * 4);
        if (onc_attention_fwd(NULL, out, H * Dh, lse, q, H * Dh, k, Hkv * Dh, v, Hkv * Dh, T, H, Hkv, Dh, lo, hi, scale,
                              &err) ||
            onc_attention_bwd(NULL, dq, dk, dv, dout, H * Dh, out, lse, q, H * Dh, k, Hkv * Dh, v, Hkv * Dh, T, H, Hkv,
                              Dh, lo, hi, scale, &err))
            return fprintf(stderr, "attn: %s\n", err.msg), 1;
        put(fo, out, T * H * Dh), put(fo, lse, T * H), put(fo, dq, T * H * Dh), put(fo, dk, T * Hkv * Dh);
        put(fo, dv, T * Hkv * Dh);
    } else if (!strcmp(op, "rope") && argc == 13) {
        const int64_t T = atoll(argv[4]), H = atoll(argv[5]), Dh = atoll(argv[6]);
        onc_rope_params p = {atoi(argv[7]), atoi(argv[8]) ? ONC_ROPE_MODE_NEOX : ONC_ROPE_MODE_NORM,
                             strtof(argv[9], NULL), strtof(argv[10], NULL), strtof(argv[11], NULL), NULL};
        float *x = take(T * H * Dh), *posf = take(T);
        int32_t *pos = al((size_t)T * sizeof(int32_t));
        for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)posf[t];
        onc_tensor ff;
        if (atoi(argv[12])) {
            onc_tensor_init(&ff, ONC_TYPE_F32, 1, (int64_t[]){p.n_rot / 2}, take(p.n_rot / 2), NULL, "ff");
            p.freq_factors = &ff;
        }
        float *dy = take(T * H * Dh);
        onc_rope_fwd(x, T, H, Dh, H * Dh, pos, &p);
        onc_rope_bwd(dy, T, H, Dh, H * Dh, pos, &p);
        put(fo, x, T * H * Dh), put(fo, dy, T * H * Dh);
    } else if ((!strcmp(op, "rmsnorm") || !strcmp(op, "layernorm")) && argc == 7) {
        const bool ln = !strcmp(op, "layernorm");
        const int64_t T = atoll(argv[4]), D = atoll(argv[5]);
        const float eps = strtof(argv[6], NULL);
        float *x = take(T * D), *w = take(D), *b = ln ? take(D) : NULL, *dy = take(T * D);
        float *y = al((size_t)(T * D) * 4), *dx = al((size_t)(T * D) * 4), *dw = al((size_t)D * 4);
        float *db = al((size_t)D * 4), *mean = al((size_t)T * 4), *rstd = al((size_t)T * 4);
        if (ln) {
            onc_layernorm_fwd(y, mean, rstd, x, w, b, T, D, eps);
            onc_layernorm_bwd(dx, dw, db, dy, x, mean, rstd, w, T, D);
        } else {
            onc_rmsnorm_fwd(y, rstd, x, w, T, D, eps);
            onc_rmsnorm_bwd(dx, dw, dy, x, rstd, w, T, D);
        }
        put(fo, y, T * D), put(fo, dx, T * D), put(fo, dw, D);
        if (ln) put(fo, db, D);
    } else if (!strcmp(op, "xent") && argc == 7) {
        const int64_t T = atoll(argv[4]), E = atoll(argv[5]), V = atoll(argv[6]);
        float *h = take(T * E), *w = take(V * E), *lf = take(T);
        int32_t *labels = al((size_t)T * sizeof(int32_t));
        for (int64_t t = 0; t < T; t++) labels[t] = (int32_t)lf[t];
        onc_matrix m = {ONC_TYPE_F32, w, (size_t)E * sizeof(float), V, E};
        double loss = 0;
        int64_t n = 0;
        float *dh = al((size_t)(T * E) * 4);
        if (onc_cross_entropy_chunked(NULL, &loss, &n, dh, h, &m, labels, T, 1.0f, &err))
            return fprintf(stderr, "xent: %s\n", err.msg), 1;
        const float lf2[2] = {(float)loss, (float)n};
        put(fo, lf2, 2), put(fo, dh, T * E);
    } else {
        fprintf(stderr, "train_ops_run: unknown op or wrong arguments: %s\n", op);
        return 1;
    }
    for (int i = 0; i < n_allocs; i++) free(allocs[i]);
    free(in_data);
    if (fclose(fo)) return perror(argv[3]), 1;
    return 0;
}
