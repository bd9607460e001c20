/* optim.c — AdamW, learning-rate schedules, gradient clipping and optimizer
 * state in GGUF checkpoints. Contracts in include/oncolm/optim.h.
 *
 * Every loop is a plain single-threaded pass in index order: results never
 * depend on the thread count. Float arithmetic follows torch 1.13's CPU
 * kernels operation for operation (scalars rounded to float once). */
#include "oncolm/optim.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct onc_adamw_param {
    char *name;
    float *param; /* borrowed */
    float *grad;  /* borrowed */
    int64_t n;
    bool decay;
    float *m; /* owned, n floats */
    float *v; /* owned, n floats */
} onc_adamw_param;

struct onc_adamw {
    onc_adamw_config cfg;
    onc_adamw_param *params;
    int64_t n_params, cap;
    int64_t step;
};

onc_adamw_config onc_adamw_config_default(void) {
    onc_adamw_config c = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
    return c;
}

onc_adamw *onc_adamw_new(const onc_adamw_config *cfg, onc_error *err) {
    ONC_ASSERT(cfg != NULL);
    if (!isfinite(cfg->lr) || cfg->lr < 0)
        return onc_error_set(err, ONC_ERR_INVALID, "AdamW: invalid learning rate %g", cfg->lr), NULL;
    if (!isfinite(cfg->eps) || cfg->eps < 0)
        return onc_error_set(err, ONC_ERR_INVALID, "AdamW: invalid epsilon %g", cfg->eps), NULL;
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1))
        return onc_error_set(err, ONC_ERR_INVALID, "AdamW: invalid beta1 %g (need 0 <= beta1 < 1)",
                             cfg->beta1),
               NULL;
    if (!(cfg->beta2 >= 0 && cfg->beta2 < 1))
        return onc_error_set(err, ONC_ERR_INVALID, "AdamW: invalid beta2 %g (need 0 <= beta2 < 1)",
                             cfg->beta2),
               NULL;
    if (!isfinite(cfg->weight_decay) || cfg->weight_decay < 0)
        return onc_error_set(err, ONC_ERR_INVALID, "AdamW: invalid weight decay %g", cfg->weight_decay),
               NULL;
    onc_adamw *opt = calloc(1, sizeof *opt);
    if (!opt) return onc_error_set(err, ONC_ERR_NOMEM, "AdamW: out of memory"), NULL;
    opt->cfg = *cfg;
    return opt;
}

void onc_adamw_free(onc_adamw *opt) {
    if (!opt) return;
    for (int64_t i = 0; i < opt->n_params; i++) {
        free(opt->params[i].name);
        free(opt->params[i].m);
        free(opt->params[i].v);
    }
    free(opt->params);
    free(opt);
}

/* Longest parameter name such that "<prefix>.<name>.m" still fits a GGUF
 * tensor name is checked at export (the prefix is unknown here); here only
 * the name alone must fit. */
onc_status onc_adamw_add_param(onc_adamw *opt, const char *name, float *param, float *grad, int64_t n,
                               bool decay, int64_t *index, onc_error *err) {
    ONC_ASSERT(opt != NULL);
    if (opt->step > 0)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "AdamW: parameter '%s' added after %" PRId64 " steps", name ? name : "",
                             opt->step);
    if (!name || !name[0] || strlen(name) >= ONC_GGUF_MAX_NAME)
        return onc_error_set(err, ONC_ERR_INVALID, "AdamW: parameter name '%s' empty or longer than %d",
                             name ? name : "", ONC_GGUF_MAX_NAME - 1);
    if (!param || !grad || n <= 0 || (uint64_t)n > SIZE_MAX / sizeof(float))
        return onc_error_set(err, ONC_ERR_INVALID, "AdamW: parameter '%s': bad buffers or size %" PRId64,
                             name, n);
    for (int64_t i = 0; i < opt->n_params; i++)
        if (strcmp(opt->params[i].name, name) == 0)
            return onc_error_set(err, ONC_ERR_INVALID, "AdamW: duplicate parameter name '%s'", name);
    if (opt->n_params == opt->cap) {
        int64_t cap = opt->cap ? opt->cap * 2 : 8;
        onc_adamw_param *p = realloc(opt->params, (size_t)cap * sizeof *p);
        if (!p) return onc_error_set(err, ONC_ERR_NOMEM, "AdamW: out of memory");
        opt->params = p;
        opt->cap = cap;
    }
    onc_adamw_param pp = {.param = param, .grad = grad, .n = n, .decay = decay};
    pp.name = strdup(name);
    pp.m = calloc((size_t)n, sizeof(float));
    pp.v = calloc((size_t)n, sizeof(float));
    if (!pp.name || !pp.m || !pp.v) {
        free(pp.name);
        free(pp.m);
        free(pp.v);
        return onc_error_set(err, ONC_ERR_NOMEM, "AdamW: out of memory for parameter '%s' (%" PRId64 ")",
                             name, n);
    }
    if (index) *index = opt->n_params;
    opt->params[opt->n_params++] = pp;
    return ONC_OK;
}

void onc_adamw_set_buffers(onc_adamw *opt, int64_t i, float *param, float *grad) {
    ONC_ASSERT(opt && i >= 0 && i < opt->n_params && param && grad);
    opt->params[i].param = param;
    opt->params[i].grad = grad;
}

int64_t onc_adamw_n_params(const onc_adamw *opt) { return opt->n_params; }
int64_t onc_adamw_steps(const onc_adamw *opt) { return opt->step; }
const onc_adamw_config *onc_adamw_get_config(const onc_adamw *opt) { return &opt->cfg; }

const char *onc_adamw_param_name(const onc_adamw *opt, int64_t i) {
    ONC_ASSERT(i >= 0 && i < opt->n_params);
    return opt->params[i].name;
}
int64_t onc_adamw_param_size(const onc_adamw *opt, int64_t i) {
    ONC_ASSERT(i >= 0 && i < opt->n_params);
    return opt->params[i].n;
}
const float *onc_adamw_m(const onc_adamw *opt, int64_t i) {
    ONC_ASSERT(i >= 0 && i < opt->n_params);
    return opt->params[i].m;
}
const float *onc_adamw_v(const onc_adamw *opt, int64_t i) {
    ONC_ASSERT(i >= 0 && i < opt->n_params);
    return opt->params[i].v;
}

void onc_adamw_step(onc_adamw *opt, double lr) {
    ONC_ASSERT(opt != NULL && isfinite(lr) && lr >= 0);
    const onc_adamw_config *c = &opt->cfg;
    opt->step++;
    const double step = (double)opt->step;
    /* Scalars as torch 1.13 _single_tensor_adamw computes them in Python
     * (double), each rounded to float when it meets a float32 tensor. */
    const float decay_f = (float)(1.0 - lr * c->weight_decay);
    const float b1 = (float)c->beta1, one_b1 = (float)(1.0 - c->beta1);
    const float b2 = (float)c->beta2, one_b2 = (float)(1.0 - c->beta2);
    const double bc1 = 1.0 - pow(c->beta1, step);
    const double bc2 = 1.0 - pow(c->beta2, step);
    const float neg_step_size = (float)(-(lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)c->eps;
    for (int64_t k = 0; k < opt->n_params; k++) {
        onc_adamw_param *pp = &opt->params[k];
        float *restrict p = pp->param;
        const float *restrict g = pp->grad;
        float *restrict m = pp->m;
        float *restrict v = pp->v;
        const int64_t n = pp->n;
        if (pp->decay && c->weight_decay != 0)
            for (int64_t i = 0; i < n; i++) p[i] = p[i] * decay_f; /* param.mul_(1 - lr*wd) */
        for (int64_t i = 0; i < n; i++) {
            const float gi = g[i];
            const float mi = m[i] * b1 + one_b1 * gi;        /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
            const float vi = v[i] * b2 + (one_b2 * gi) * gi; /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2) */
            const float denom = sqrtf(vi) / bc2_sqrt + eps;  /* (v.sqrt() / bc2_sqrt).add_(eps) */
            p[i] = p[i] + (neg_step_size * mi) / denom;      /* param.addcdiv_(m, denom, -step_size) */
            m[i] = mi;
            v[i] = vi;
        }
    }
}

void onc_adamw_zero_grad(onc_adamw *opt) {
    for (int64_t k = 0; k < opt->n_params; k++)
        memset(opt->params[k].grad, 0, (size_t)opt->params[k].n * sizeof(float));
}

double onc_clip_grad_norm(float *const *grads, const int64_t *ns, int64_t n_groups, double max_norm) {
    ONC_ASSERT(n_groups >= 0 && max_norm > 0);
    double ss = 0.0;
    for (int64_t k = 0; k < n_groups; k++) {
        const float *g = grads[k];
        for (int64_t i = 0; i < ns[k]; i++) ss += (double)g[i] * (double)g[i];
    }
    const double total = sqrt(ss);
    if (!isfinite(total)) return total;
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        const float cf = (float)coef;
        for (int64_t k = 0; k < n_groups; k++) {
            float *g = grads[k];
            for (int64_t i = 0; i < ns[k]; i++) g[i] *= cf;
        }
    }
    return total;
}

double onc_adamw_clip_grad_norm(onc_adamw *opt, double max_norm) {
    ONC_ASSERT(opt != NULL && max_norm > 0);
    double ss = 0.0;
    for (int64_t k = 0; k < opt->n_params; k++) {
        const float *g = opt->params[k].grad;
        for (int64_t i = 0; i < opt->params[k].n; i++) ss += (double)g[i] * (double)g[i];
    }
    const double total = sqrt(ss);
    if (!isfinite(total)) return total;
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        const float cf = (float)coef;
        for (int64_t k = 0; k < opt->n_params; k++) {
            float *g = opt->params[k].grad;
            for (int64_t i = 0; i < opt->params[k].n; i++) g[i] *= cf;
        }
    }
    return total;
}

/* ---- schedules ---------------------------------------------------------- */

static const char *const k_sched_names[] = {"constant", "constant_with_warmup", "linear", "cosine"};

onc_status onc_lr_schedule_parse(const char *name, onc_lr_schedule *out, onc_error *err) {
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, k_sched_names[i]) == 0) {
            *out = (onc_lr_schedule)i;
            return ONC_OK;
        }
    return onc_error_set(err, ONC_ERR_INVALID,
                         "unknown learning-rate schedule '%s' (expected constant, "
                         "constant_with_warmup, linear or cosine)",
                         name ? name : "");
}

const char *onc_lr_schedule_name(onc_lr_schedule kind) {
    return (unsigned)kind < 4 ? k_sched_names[kind] : "unknown";
}

static double max1(int64_t x) { return (double)(x > 1 ? x : 1); }

double onc_lr_at(onc_lr_schedule kind, double base_lr, int64_t step, int64_t warmup_steps,
                 int64_t total_steps) {
    ONC_ASSERT(step >= 0 && warmup_steps >= 0 && total_steps >= 0);
    double f;
    if (kind == ONC_LR_CONSTANT) {
        f = 1.0;
    } else if (step < warmup_steps) {
        f = (double)step / max1(warmup_steps);
    } else if (kind == ONC_LR_CONSTANT_WITH_WARMUP) {
        f = 1.0;
    } else if (kind == ONC_LR_LINEAR) {
        f = (double)(total_steps - step) / max1(total_steps - warmup_steps);
        if (f < 0.0) f = 0.0;
    } else {
        ONC_ASSERT(kind == ONC_LR_COSINE);
        const double progress = (double)(step - warmup_steps) / max1(total_steps - warmup_steps);
        const double num_cycles = 0.5;
        f = 0.5 * (1.0 + cos(M_PI * num_cycles * 2.0 * progress));
        if (f < 0.0) f = 0.0;
    }
    return base_lr * f;
}

/* ---- checkpoint state --------------------------------------------------- */

static onc_status state_name(char *buf, const char *prefix, const char *pname, const char *what,
                             onc_error *err) {
    int len = snprintf(buf, ONC_GGUF_MAX_NAME, "%s.%s.%s", prefix, pname, what);
    if (len < 0 || len >= ONC_GGUF_MAX_NAME)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "optimizer state tensor name '%s.%s.%s' longer than %d bytes", prefix,
                             pname, what, ONC_GGUF_MAX_NAME - 1);
    return ONC_OK;
}

static onc_status step_key(char *buf, size_t cap, const char *prefix, onc_error *err) {
    int len = snprintf(buf, cap, "%s.step", prefix);
    if (len < 0 || (size_t)len >= cap)
        return onc_error_set(err, ONC_ERR_INVALID, "optimizer state prefix '%s' too long", prefix);
    return ONC_OK;
}

onc_status onc_adamw_state_export(const onc_adamw *opt, onc_gguf_writer *w, const char *prefix,
                                  onc_error *err) {
    ONC_ASSERT(opt && w && prefix);
    char key[256];
    onc_status st = step_key(key, sizeof key, prefix, err);
    if (st != ONC_OK) return st;
    st = onc_gguf_set_i64(w, key, opt->step);
    if (st != ONC_OK) return onc_error_set(err, st, "optimizer state: cannot set key '%s'", key);
    for (int64_t k = 0; k < opt->n_params; k++) {
        const onc_adamw_param *pp = &opt->params[k];
        const int64_t ne[1] = {pp->n};
        char name[ONC_GGUF_MAX_NAME];
        for (int which = 0; which < 2; which++) {
            st = state_name(name, prefix, pp->name, which ? "v" : "m", err);
            if (st != ONC_OK) return st;
            st = onc_gguf_add_tensor(w, name, ONC_TYPE_F32, 1, ne, which ? pp->v : pp->m, NULL, NULL,
                                     err);
            if (st != ONC_OK) return st;
        }
    }
    return ONC_OK;
}

static onc_status find_state(const onc_gguf *g, const char *name, int64_t n, const onc_gguf_tensor **out,
                             onc_error *err) {
    const onc_gguf_tensor *t = onc_gguf_find_tensor(g, name);
    if (!t)
        return onc_error_set(err, ONC_ERR_NOT_FOUND, "%s: optimizer state tensor '%s' missing",
                             onc_gguf_path(g), name);
    if (t->type != ONC_TYPE_F32)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: optimizer state tensor '%s' is not F32",
                             onc_gguf_path(g), name);
    int64_t count = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) count *= t->ne[d];
    if (count != n || t->nbytes != (size_t)n * sizeof(float))
        return onc_error_set(err, ONC_ERR_FORMAT,
                             "%s: optimizer state tensor '%s' has %" PRId64
                             " elements, the parameter has %" PRId64,
                             onc_gguf_path(g), name, count, n);
    *out = t;
    return ONC_OK;
}

onc_status onc_adamw_state_import(onc_adamw *opt, const onc_gguf *g, const char *prefix,
                                  onc_error *err) {
    ONC_ASSERT(opt && g && prefix);
    char key[256];
    onc_status st = step_key(key, sizeof key, prefix, err);
    if (st != ONC_OK) return st;
    int64_t step = 0;
    onc_error e2 = {0};
    st = onc_gguf_get_i64(g, key, &step, &e2);
    if (st == ONC_ERR_NOT_FOUND)
        return onc_error_set(err, ONC_ERR_NOT_FOUND, "%s: optimizer state key '%s' missing",
                             onc_gguf_path(g), key);
    if (st != ONC_OK) return onc_error_set(err, st, "%s", e2.msg);
    if (step < 0)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: optimizer state key '%s' is negative (%" PRId64 ")",
                             onc_gguf_path(g), key, step);
    /* Validate everything first so a failed import leaves opt unchanged. */
    char name[ONC_GGUF_MAX_NAME];
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t k = 0; k < opt->n_params; k++) {
            onc_adamw_param *pp = &opt->params[k];
            for (int which = 0; which < 2; which++) {
                const onc_gguf_tensor *t = NULL;
                st = state_name(name, prefix, pp->name, which ? "v" : "m", err);
                if (st != ONC_OK) return st;
                st = find_state(g, name, pp->n, &t, err);
                if (st != ONC_OK) return st;
                if (pass == 1) memcpy(which ? pp->v : pp->m, t->data, t->nbytes);
            }
        }
    }
    opt->step = step;
    return ONC_OK;
}
