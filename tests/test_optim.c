/* test_optim.c — oncolm/optim.h on hand-computed cases (arithmetic in the
 * comments; tests/oracle/test_optim_oracle.py compares 20-step runs on random
 * tensors with numpy re-implementations of torch's AdamW/clip_grad_norm_ and
 * of transformers' schedules):
 * - one AdamW step by hand, with and without weight decay, and its m, v;
 * - configuration validation, duplicate names, parameters added late;
 * - schedules at warmup boundaries, mid-way and at/after total_steps; names;
 * - clipping above and below max_norm, several groups, non-finite norms;
 * - state export -> GGUF (in memory) -> import: bitwise m, v, step, and a
 *   resumed run bit-identical to an uninterrupted one;
 * - import errors: missing tensor, missing step key, wrong size, wrong type,
 *   each naming the file and the tensor, leaving the optimizer unchanged. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oncolm/optim.h"

/* ---- one step by hand ----------------------------------------------------
 * lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01, step 1:
 *   m = 0.1 g, v = 0.001 g^2, bc1 = 0.1, bc2 = 0.001
 *   update = (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps) = 0.1 g / (|g| + 1e-8)
 *          = 0.1 sign(g) (1 - 1e-8/|g|) ~ 0.1 sign(g)
 *   decayed p: p (1 - 0.1*0.01) = 0.999 p
 *   p = [1, -2] with g = [0.5, -0.25]  ->  [0.999 - 0.1, -1.998 + 0.1]
 *                                        = [0.899, -1.898]
 *   no-decay q = [3] with g = [2]       ->  [2.9]
 *   g = 0 gives m = v = 0 and no change (0/(0+eps) = 0). */
static void test_single_step(void **state) {
    (void)state;
    onc_adamw_config cfg = onc_adamw_config_default();
    assert_true(cfg.beta1 == 0.9 && cfg.beta2 == 0.999 && cfg.eps == 1e-8 && cfg.weight_decay == 0.01);
    onc_error err = {0};
    onc_adamw *opt = onc_adamw_new(&cfg, &err);
    assert_non_null(opt);
    float p[3] = {1.0f, -2.0f, 0.75f}, gp[3] = {0.5f, -0.25f, 0.0f};
    float q[1] = {3.0f}, gq[1] = {2.0f};
    int64_t ip = -1, iq = -1;
    assert_int_equal(onc_adamw_add_param(opt, "w", p, gp, 3, true, &ip, &err), ONC_OK);
    assert_int_equal(onc_adamw_add_param(opt, "b", q, gq, 1, false, &iq, &err), ONC_OK);
    assert_int_equal(ip, 0);
    assert_int_equal(iq, 1);
    assert_int_equal(onc_adamw_n_params(opt), 2);
    assert_int_equal(onc_adamw_steps(opt), 0);
    onc_adamw_step(opt, 0.1);
    assert_int_equal(onc_adamw_steps(opt), 1);
    assert_true(fabsf(p[0] - 0.899f) < 1e-6f);
    assert_true(fabsf(p[1] - -1.898f) < 1e-6f);
    assert_true(p[2] == 0.75f * (float)(1.0 - 0.1 * 0.01)); /* decay only */
    assert_true(fabsf(q[0] - 2.9f) < 1e-6f);
    const float *m = onc_adamw_m(opt, 0), *v = onc_adamw_v(opt, 0);
    assert_true(m[0] == 0.1f * 0.5f && m[1] == 0.1f * -0.25f && m[2] == 0.0f);
    assert_true(fabsf(v[0] - 0.00025f) < 1e-12f && fabsf(v[1] - 0.0000625f) < 1e-12f && v[2] == 0.0f);
    assert_string_equal(onc_adamw_param_name(opt, 1), "b");
    assert_int_equal(onc_adamw_param_size(opt, 1), 1);

    /* Step 2 with the same gradients: m = 0.19 g, v = 0.001999 g^2,
     * bc1 = 0.19, bc2 = 0.001999 -> mhat = g, vhat = g^2: again ~0.1 sign(g). */
    onc_adamw_step(opt, 0.1);
    assert_true(fabsf(q[0] - 2.8f) < 2e-6f);
    assert_true(fabsf(p[0] - (0.899f * 0.999f - 0.1f)) < 2e-6f);

    /* Parameters cannot be added once stepping started. */
    float r[1] = {0}, gr[1] = {0};
    assert_int_equal(onc_adamw_add_param(opt, "late", r, gr, 1, true, NULL, &err), ONC_ERR_INVALID);
    onc_adamw_zero_grad(opt);
    assert_true(gp[0] == 0.0f && gq[0] == 0.0f);
    onc_adamw_free(opt);
    onc_adamw_free(NULL);
}

static void test_config_errors(void **state) {
    (void)state;
    onc_error err = {0};
    onc_adamw_config bad[] = {
        {-1e-3, 0.9, 0.999, 1e-8, 0.01}, {1e-3, 1.0, 0.999, 1e-8, 0.01}, {1e-3, 0.9, -0.1, 1e-8, 0.01},
        {1e-3, 0.9, 0.999, -1.0, 0.01},  {1e-3, 0.9, 0.999, 1e-8, -1},   {NAN, 0.9, 0.999, 1e-8, 0.01},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        onc_error_clear(&err);
        assert_null(onc_adamw_new(&bad[i], &err));
        assert_int_equal(err.code, ONC_ERR_INVALID);
        assert_non_null(strstr(err.msg, "AdamW"));
    }
    onc_adamw_config cfg = onc_adamw_config_default();
    onc_adamw *opt = onc_adamw_new(&cfg, &err);
    float a[2] = {0}, g[2] = {0};
    assert_int_equal(onc_adamw_add_param(opt, "a", a, g, 2, true, NULL, &err), ONC_OK);
    assert_int_equal(onc_adamw_add_param(opt, "a", a, g, 2, true, NULL, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "duplicate"));
    assert_int_equal(onc_adamw_add_param(opt, "", a, g, 2, true, NULL, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_adamw_add_param(opt, "z", a, g, 0, true, NULL, &err), ONC_ERR_INVALID);
    assert_int_equal(onc_adamw_add_param(opt, "z", NULL, g, 2, true, NULL, &err), ONC_ERR_INVALID);
    onc_adamw_free(opt);
}

/* ---- schedules: HF formulas by hand (w = 10 warmup, T = 110 total) -------
 * warmup: step/10 -> 0 at step 0, 0.5 at 5, 1 at 10
 * linear: (110 - s)/100 -> 1 at 10, 0.5 at 60, 0 at 110 and after
 * cosine: 0.5 (1 + cos(pi (s - 10)/100)) -> 1 at 10, 0.5 at 60, 0 at 110,
 *         (1 + cos(pi/4))/2 at 35 */
static void test_schedules(void **state) {
    (void)state;
    const double b = 2.0;
    for (int k = 0; k < 4; k++) {
        onc_lr_schedule s;
        assert_int_equal(onc_lr_schedule_parse(onc_lr_schedule_name((onc_lr_schedule)k), &s, NULL), ONC_OK);
        assert_int_equal((int)s, k);
    }
    onc_error err = {0};
    onc_lr_schedule s;
    assert_int_equal(onc_lr_schedule_parse("cosine_with_restarts", &s, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "cosine_with_restarts"));
    assert_int_equal(onc_lr_schedule_parse(NULL, &s, &err), ONC_ERR_INVALID);

    /* constant ignores warmup (HF get_constant_schedule). */
    assert_true(onc_lr_at(ONC_LR_CONSTANT, b, 0, 10, 110) == b);
    assert_true(onc_lr_at(ONC_LR_CONSTANT, b, 500, 10, 110) == b);
    for (int k = 1; k < 4; k++) {
        onc_lr_schedule kind = (onc_lr_schedule)k;
        assert_true(onc_lr_at(kind, b, 0, 10, 110) == 0.0);
        assert_true(onc_lr_at(kind, b, 5, 10, 110) == 1.0);
        assert_true(onc_lr_at(kind, b, 9, 10, 110) == b * 0.9);
        assert_true(onc_lr_at(kind, b, 10, 10, 110) == b);
    }
    assert_true(onc_lr_at(ONC_LR_CONSTANT_WITH_WARMUP, b, 1000, 10, 110) == b);
    assert_true(onc_lr_at(ONC_LR_LINEAR, b, 60, 10, 110) == 1.0);
    assert_true(onc_lr_at(ONC_LR_LINEAR, b, 109, 10, 110) == b * 0.01);
    assert_true(onc_lr_at(ONC_LR_LINEAR, b, 110, 10, 110) == 0.0);
    assert_true(onc_lr_at(ONC_LR_LINEAR, b, 200, 10, 110) == 0.0);
    assert_true(fabs(onc_lr_at(ONC_LR_COSINE, b, 60, 10, 110) - 1.0) < 1e-15);
    assert_true(fabs(onc_lr_at(ONC_LR_COSINE, b, 35, 10, 110) - (1.0 + cos(M_PI / 4))) < 1e-15);
    assert_true(onc_lr_at(ONC_LR_COSINE, b, 110, 10, 110) == 0.0);
    /* No warmup: linear starts at the base rate; warmup 0 and total 0 do not
     * divide by zero (max(1, .)). */
    assert_true(onc_lr_at(ONC_LR_LINEAR, b, 0, 0, 100) == b);
    assert_true(onc_lr_at(ONC_LR_LINEAR, b, 0, 0, 0) == 0.0);
    assert_true(onc_lr_at(ONC_LR_COSINE, b, 0, 0, 0) == b);
    assert_true(onc_lr_at(ONC_LR_CONSTANT_WITH_WARMUP, b, 0, 0, 0) == b);
}

/* ---- clipping: groups [3, 4] and [0] have norm 5 ------------------------- */
static void test_clip(void **state) {
    (void)state;
    float a[2] = {3.0f, 4.0f}, z[1] = {0.0f};
    float *gs[2] = {a, z};
    int64_t ns[2] = {2, 1};
    /* Below the threshold: untouched, norm returned. */
    assert_true(onc_clip_grad_norm(gs, ns, 2, 10.0) == 5.0);
    assert_true(a[0] == 3.0f && a[1] == 4.0f);
    /* Equal to it: coef = 5/(5 + 1e-6) < 1, so torch scales by 0.9999998. */
    assert_true(onc_clip_grad_norm(gs, ns, 2, 5.0) == 5.0);
    assert_true(a[0] == 3.0f * (float)(5.0 / (5.0 + 1e-6)));
    /* Above: scaled to norm ~1. */
    a[0] = 3.0f;
    a[1] = 4.0f;
    assert_true(onc_clip_grad_norm(gs, ns, 2, 1.0) == 5.0);
    assert_true(fabsf(a[0] - 0.6f) < 1e-6f && fabsf(a[1] - 0.8f) < 1e-6f && z[0] == 0.0f);
    assert_true(fabs(onc_clip_grad_norm(gs, ns, 2, 1.0) - 1.0) < 1e-6);
    /* Empty list: norm 0. */
    assert_true(onc_clip_grad_norm(gs, ns, 0, 1.0) == 0.0);
    /* Non-finite: returned, gradients untouched. */
    a[0] = INFINITY;
    a[1] = 1.0f;
    assert_true(isinf(onc_clip_grad_norm(gs, ns, 2, 1.0)));
    assert_true(a[1] == 1.0f);
    a[0] = NAN;
    assert_true(isnan(onc_clip_grad_norm(gs, ns, 2, 1.0)));
    assert_true(a[1] == 1.0f);

    /* Through the optimizer: same norm over its registered gradients. */
    onc_adamw_config cfg = onc_adamw_config_default();
    onc_adamw *opt = onc_adamw_new(&cfg, NULL);
    float p1[2] = {0}, g1[2] = {3.0f, 0.0f}, p2[1] = {0}, g2[1] = {4.0f};
    assert_int_equal(onc_adamw_add_param(opt, "x", p1, g1, 2, true, NULL, NULL), ONC_OK);
    assert_int_equal(onc_adamw_add_param(opt, "y", p2, g2, 1, true, NULL, NULL), ONC_OK);
    assert_true(onc_adamw_clip_grad_norm(opt, 2.5) == 5.0);
    assert_true(fabsf(g1[0] - 1.5f) < 1e-6f && fabsf(g2[0] - 2.0f) < 1e-6f);
    onc_adamw_free(opt);
}

/* ---- checkpoint state ---------------------------------------------------- */

#define NA 37
#define NB 5

typedef struct run {
    onc_adamw *opt;
    float a[NA], ga[NA], b[NB], gb[NB];
} run;

static uint64_t g_seed;
static float rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void run_init(run *r, bool with_params) {
    memset(r, 0, sizeof *r);
    onc_adamw_config cfg = onc_adamw_config_default();
    cfg.weight_decay = 0.1;
    r->opt = onc_adamw_new(&cfg, NULL);
    assert_non_null(r->opt);
    uint64_t s = 42;
    for (int i = 0; i < NA; i++) r->a[i] = rnd(&s);
    for (int i = 0; i < NB; i++) r->b[i] = rnd(&s);
    if (with_params) {
        assert_int_equal(onc_adamw_add_param(r->opt, "blk.0.attn_q.weight.lora_a", r->a, r->ga, NA, true,
                                             NULL, NULL),
                         ONC_OK);
        assert_int_equal(onc_adamw_add_param(r->opt, "output_norm.bias", r->b, r->gb, NB, false, NULL, NULL),
                         ONC_OK);
    }
}

/* Deterministic gradients of step t (same for every run). */
static void run_steps(run *r, int from, int to) {
    for (int t = from; t < to; t++) {
        g_seed = 1000u + (uint64_t)t;
        for (int i = 0; i < NA; i++) r->ga[i] = rnd(&g_seed);
        for (int i = 0; i < NB; i++) r->gb[i] = 3.0f * rnd(&g_seed);
        onc_adamw_clip_grad_norm(r->opt, 1.0);
        onc_adamw_step(r->opt, onc_lr_at(ONC_LR_COSINE, 1e-2, t, 2, 10));
    }
}

static void export_mem(const onc_adamw *opt, const char *prefix, void **buf, size_t *size) {
    onc_error err = {0};
    onc_gguf_writer *w = onc_gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(onc_adamw_state_export(opt, w, prefix, &err), ONC_OK);
    assert_int_equal(onc_gguf_writer_write_mem(w, buf, size, &err), ONC_OK);
    onc_gguf_writer_free(w);
}

static void test_state_roundtrip(void **state) {
    (void)state;
    run full, first, resumed;
    run_init(&full, true);
    run_steps(&full, 0, 10);

    run_init(&first, true);
    run_steps(&first, 0, 4);
    void *buf = NULL;
    size_t size = 0;
    export_mem(first.opt, "optim", &buf, &size);
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open_memory(buf, size, "ckpt.gguf", &err);
    assert_non_null(g);
    assert_non_null(onc_gguf_find_tensor(g, "optim.blk.0.attn_q.weight.lora_a.m"));
    assert_non_null(onc_gguf_find_tensor(g, "optim.output_norm.bias.v"));

    /* A fresh optimizer over copies of the parameters after step 4. */
    run_init(&resumed, true);
    memcpy(resumed.a, first.a, sizeof first.a);
    memcpy(resumed.b, first.b, sizeof first.b);
    assert_int_equal(onc_adamw_state_import(resumed.opt, g, "optim", &err), ONC_OK);
    assert_int_equal(onc_adamw_steps(resumed.opt), 4);
    for (int64_t k = 0; k < 2; k++) {
        int64_t n = onc_adamw_param_size(first.opt, k);
        assert_memory_equal(onc_adamw_m(resumed.opt, k), onc_adamw_m(first.opt, k), (size_t)n * 4);
        assert_memory_equal(onc_adamw_v(resumed.opt, k), onc_adamw_v(first.opt, k), (size_t)n * 4);
    }
    onc_gguf_close(g);
    free(buf);

    run_steps(&resumed, 4, 10);
    assert_memory_equal(resumed.a, full.a, sizeof full.a);
    assert_memory_equal(resumed.b, full.b, sizeof full.b);
    for (int64_t k = 0; k < 2; k++) {
        int64_t n = onc_adamw_param_size(full.opt, k);
        assert_memory_equal(onc_adamw_m(resumed.opt, k), onc_adamw_m(full.opt, k), (size_t)n * 4);
        assert_memory_equal(onc_adamw_v(resumed.opt, k), onc_adamw_v(full.opt, k), (size_t)n * 4);
    }
    assert_int_equal(onc_adamw_steps(resumed.opt), 10);
    /* Without the state (fresh m, v, step) the run differs: the test bites. */
    run fresh;
    run_init(&fresh, true);
    memcpy(fresh.a, first.a, sizeof first.a);
    memcpy(fresh.b, first.b, sizeof first.b);
    run_steps(&fresh, 4, 10);
    assert_true(memcmp(fresh.a, full.a, sizeof full.a) != 0);
    onc_adamw_free(fresh.opt);
    onc_adamw_free(full.opt);
    onc_adamw_free(first.opt);
    onc_adamw_free(resumed.opt);
}

static void expect_import_error(onc_adamw *opt, const void *buf, size_t size, const char *prefix,
                                onc_status code, const char *needle) {
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open_memory(buf, size, "ckpt.gguf", &err);
    assert_non_null(g);
    int64_t steps = onc_adamw_steps(opt);
    float m0 = onc_adamw_m(opt, 0)[0];
    assert_int_equal(onc_adamw_state_import(opt, g, prefix, &err), code);
    assert_non_null(strstr(err.msg, "ckpt.gguf"));
    if (!strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
    assert_int_equal(onc_adamw_steps(opt), steps); /* unchanged */
    assert_true(onc_adamw_m(opt, 0)[0] == m0);
    onc_gguf_close(g);
}

static void test_state_errors(void **state) {
    (void)state;
    run src;
    run_init(&src, true);
    run_steps(&src, 0, 2);
    void *buf = NULL;
    size_t size = 0;
    export_mem(src.opt, "opt", &buf, &size);

    /* Wrong prefix: the step key is missing. */
    expect_import_error(src.opt, buf, size, "other", ONC_ERR_NOT_FOUND, "other.step");

    /* Parameter sizes differ: the second tensor has NB elements, not NB + 1. */
    run dst;
    run_init(&dst, false);
    float big[NB + 1] = {0}, gbig[NB + 1] = {0};
    assert_int_equal(onc_adamw_add_param(dst.opt, "blk.0.attn_q.weight.lora_a", dst.a, dst.ga, NA, true,
                                         NULL, NULL),
                     ONC_OK);
    assert_int_equal(onc_adamw_add_param(dst.opt, "output_norm.bias", big, gbig, NB + 1, false, NULL, NULL),
                     ONC_OK);
    expect_import_error(dst.opt, buf, size, "opt", ONC_ERR_FORMAT, "opt.output_norm.bias.m");
    onc_adamw_free(dst.opt);

    /* A parameter the file does not have. */
    run_init(&dst, true);
    float c[3] = {0}, gc[3] = {0};
    assert_int_equal(onc_adamw_add_param(dst.opt, "extra", c, gc, 3, true, NULL, NULL), ONC_OK);
    expect_import_error(dst.opt, buf, size, "opt", ONC_ERR_NOT_FOUND, "opt.extra.m");
    onc_adamw_free(dst.opt);
    free(buf);

    /* A state tensor of the wrong type (F16) and a negative step. */
    onc_gguf_writer *w = onc_gguf_writer_new();
    uint16_t h[NA] = {0};
    int64_t ne[1] = {NA};
    onc_error err = {0};
    assert_int_equal(onc_gguf_set_i64(w, "opt.step", 3), ONC_OK);
    assert_int_equal(onc_gguf_add_tensor(w, "opt.blk.0.attn_q.weight.lora_a.m", ONC_TYPE_F16, 1, ne, h, NULL,
                                         NULL, &err),
                     ONC_OK);
    assert_int_equal(onc_gguf_writer_write_mem(w, &buf, &size, &err), ONC_OK);
    expect_import_error(src.opt, buf, size, "opt", ONC_ERR_FORMAT, "not F32");
    free(buf);
    assert_int_equal(onc_gguf_set_i64(w, "opt.step", -1), ONC_OK);
    assert_int_equal(onc_gguf_writer_write_mem(w, &buf, &size, &err), ONC_OK);
    expect_import_error(src.opt, buf, size, "opt", ONC_ERR_FORMAT, "negative");
    free(buf);
    onc_gguf_writer_free(w);

    /* Names too long for a GGUF tensor name are refused at export. */
    w = onc_gguf_writer_new();
    char prefix[80];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = 0;
    assert_int_equal(onc_adamw_state_export(src.opt, w, prefix, &err), ONC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "longer than"));
    onc_gguf_writer_free(w);
    onc_adamw_free(src.opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_step), cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_schedules),   cmocka_unit_test(test_clip),
        cmocka_unit_test(test_state_roundtrip), cmocka_unit_test(test_state_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
