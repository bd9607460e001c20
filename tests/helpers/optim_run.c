/* optim_run.c — helper for tests/oracle/test_optim_oracle.py: runs the
 * oncolm/optim.h functions on a whitespace-separated token stream read from
 * stdin (numbers parsed with strtod, floats then rounded to float32, so a
 * float32 value written with %.17g or repr() arrives bit-exact). Commands:
 *
 *   sched NAME BASE STEP WARMUP TOTAL
 *       -> one line: onc_lr_at(...) as %.17g ("err MESSAGE" for a bad name)
 *   clip MAX_NORM G  then G times: N x1..xN
 *       -> "norm %.17g", then one line per group with the clipped values (%.9g)
 *   adamw B1 B2 EPS WD P  then P times: N DECAY(0/1) p1..pN
 *         S  then S times: LR MAX_NORM(<=0: no clipping) and, per parameter, N grads
 *       -> per step "norm %.17g" when clipping, then per parameter three lines
 *          "p K v..", "m K v..", "v K v.." with the final values (%.9g)
 * Exit status 2 on malformed input. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/optim.h"

static int next_tok(char *buf, size_t cap) { return scanf("%255s", buf) == 1 && cap > 0; }

static double next_num(void) {
    char buf[256];
    if (!next_tok(buf, sizeof buf)) {
        fprintf(stderr, "optim_run: unexpected end of input\n");
        exit(2);
    }
    char *end = NULL;
    double d = strtod(buf, &end);
    if (*end) {
        fprintf(stderr, "optim_run: bad number '%s'\n", buf);
        exit(2);
    }
    return d;
}

static int64_t next_int(void) { return (int64_t)next_num(); }

static float *read_floats(int64_t n) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!x) exit(3);
    for (int64_t i = 0; i < n; i++) x[i] = (float)next_num();
    return x;
}

static void print_floats(const char *tag, int64_t k, const float *x, int64_t n) {
    if (tag) printf("%s %" PRId64, tag, k);
    for (int64_t i = 0; i < n; i++) printf("%s%.9g", (tag || i) ? " " : "", x[i]);
    printf("\n");
}

static void cmd_sched(void) {
    char name[256];
    if (!next_tok(name, sizeof name)) exit(2);
    double base = next_num();
    int64_t step = next_int(), warm = next_int(), total = next_int();
    onc_lr_schedule kind;
    onc_error err = {0};
    if (onc_lr_schedule_parse(name, &kind, &err) != ONC_OK) {
        printf("err %s\n", err.msg);
        return;
    }
    printf("%.17g\n", onc_lr_at(kind, base, step, warm, total));
}

static void cmd_clip(void) {
    double max_norm = next_num();
    int64_t g = next_int();
    float **grads = calloc((size_t)(g > 0 ? g : 1), sizeof *grads);
    int64_t *ns = calloc((size_t)(g > 0 ? g : 1), sizeof *ns);
    if (!grads || !ns) exit(3);
    for (int64_t k = 0; k < g; k++) {
        ns[k] = next_int();
        grads[k] = read_floats(ns[k]);
    }
    printf("norm %.17g\n", onc_clip_grad_norm(grads, ns, g, max_norm));
    for (int64_t k = 0; k < g; k++) {
        print_floats(NULL, k, grads[k], ns[k]);
        free(grads[k]);
    }
    free(grads);
    free(ns);
}

static void cmd_adamw(void) {
    onc_adamw_config cfg = onc_adamw_config_default();
    cfg.beta1 = next_num();
    cfg.beta2 = next_num();
    cfg.eps = next_num();
    cfg.weight_decay = next_num();
    onc_error err = {0};
    onc_adamw *opt = onc_adamw_new(&cfg, &err);
    if (!opt) {
        printf("err %s\n", err.msg);
        exit(2);
    }
    int64_t np = next_int();
    float **ps = calloc((size_t)(np > 0 ? np : 1), sizeof *ps);
    float **gs = calloc((size_t)(np > 0 ? np : 1), sizeof *gs);
    if (!ps || !gs) exit(3);
    for (int64_t k = 0; k < np; k++) {
        int64_t n = next_int();
        bool decay = next_int() != 0;
        ps[k] = read_floats(n);
        gs[k] = calloc((size_t)n, sizeof(float));
        if (!gs[k]) exit(3);
        char name[32];
        snprintf(name, sizeof name, "p%" PRId64, k);
        if (onc_adamw_add_param(opt, name, ps[k], gs[k], n, decay, NULL, &err) != ONC_OK) {
            printf("err %s\n", err.msg);
            exit(2);
        }
    }
    int64_t steps = next_int();
    for (int64_t s = 0; s < steps; s++) {
        double lr = next_num(), max_norm = next_num();
        for (int64_t k = 0; k < np; k++) {
            int64_t n = onc_adamw_param_size(opt, k);
            for (int64_t i = 0; i < n; i++) gs[k][i] = (float)next_num();
        }
        if (max_norm > 0) printf("norm %.17g\n", onc_adamw_clip_grad_norm(opt, max_norm));
        onc_adamw_step(opt, lr);
    }
    for (int64_t k = 0; k < np; k++) {
        int64_t n = onc_adamw_param_size(opt, k);
        print_floats("p", k, ps[k], n);
        print_floats("m", k, onc_adamw_m(opt, k), n);
        print_floats("v", k, onc_adamw_v(opt, k), n);
        free(ps[k]);
        free(gs[k]);
    }
    free(ps);
    free(gs);
    onc_adamw_free(opt);
}

int main(void) {
    char cmd[256];
    while (next_tok(cmd, sizeof cmd)) {
        if (strcmp(cmd, "sched") == 0)
            cmd_sched();
        else if (strcmp(cmd, "clip") == 0)
            cmd_clip();
        else if (strcmp(cmd, "adamw") == 0)
            cmd_adamw();
        else {
            fprintf(stderr, "optim_run: unknown command '%s'\n", cmd);
            return 2;
        }
    }
    return 0;
}
