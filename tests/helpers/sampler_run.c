/* sampler_run.c — helper for tests/oracle/test_sampler_oracle.py.
 *
 *   sampler_run CASE.txt
 *
 * CASE.txt has one directive per line (numbers as printf %.9g / "inf" /
 * "-inf" / "nan"):
 *   logits N v0 v1 ... v(N-1)     the raw logits (required, first)
 *   param NAME VALUE              seed temperature top_k top_p min_p min_keep
 *                                 penalty_last_n penalty_repeat penalty_freq
 *                                 penalty_present
 *   bias ID VALUE                 onc_sampler_set_logit_bias
 *   accept ID                     onc_sampler_accept (after the sampler exists)
 *   draws K                       how many tokens to sample (default 0)
 * Parameters not given keep onc_sampler_greedy_params() values except
 * temperature 1. The sampler is built at the first bias/accept/draws line.
 *
 * Prints:
 *   cand ID LOGIT P               each candidate (onc_sampler_candidates)
 *   draw ID LOGPROB               each sampled token, in order (tokens are
 *                                 not accepted into the history)
 *   logsoftmax V0 V1 ...          onc_log_softmax of the raw logits
 *   topn ID LOGPROB ...           onc_logprobs_top_n with k = 5
 * or "error CODE MESSAGE" and exit 0 when the library reports an error
 * (the oracle checks error cases too). Exit 1 on a malformed case file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/sampler.h"

static int fail(const char *msg) {
    fprintf(stderr, "sampler_run: %s\n", msg);
    return 1;
}

static int report(const onc_error *e) {
    printf("error %d %s\n", (int)e->code, e->msg);
    return 0;
}

static int set_param(onc_sampler_params *p, const char *name, const char *val) {
    if (!strcmp(name, "seed")) p->seed = strtoull(val, NULL, 10);
    else if (!strcmp(name, "temperature")) p->temperature = strtof(val, NULL);
    else if (!strcmp(name, "top_k")) p->top_k = (int32_t)strtol(val, NULL, 10);
    else if (!strcmp(name, "top_p")) p->top_p = strtof(val, NULL);
    else if (!strcmp(name, "min_p")) p->min_p = strtof(val, NULL);
    else if (!strcmp(name, "min_keep")) p->min_keep = (int32_t)strtol(val, NULL, 10);
    else if (!strcmp(name, "penalty_last_n")) p->penalty_last_n = (int32_t)strtol(val, NULL, 10);
    else if (!strcmp(name, "penalty_repeat")) p->penalty_repeat = strtof(val, NULL);
    else if (!strcmp(name, "penalty_freq")) p->penalty_freq = strtof(val, NULL);
    else if (!strcmp(name, "penalty_present")) p->penalty_present = strtof(val, NULL);
    else return -1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) return fail("usage: sampler_run CASE.txt");
    FILE *f = fopen(argv[1], "r");
    if (!f) return fail("cannot open case file");
    onc_sampler_params params = onc_sampler_greedy_params();
    params.temperature = 1.0f;
    float *logits = NULL;
    long n = 0, draws = 0;
    onc_sampler *s = NULL;
    onc_error err = {0};
    char word[64];
    int rc = 0;
    while (fscanf(f, "%63s", word) == 1) {
        if (!strcmp(word, "logits")) {
            if (fscanf(f, "%ld", &n) != 1 || n <= 0 || n > 10000000 || logits) return fail("bad logits line");
            logits = malloc((size_t)n * sizeof *logits);
            for (long i = 0; i < n; i++) {
                char v[64];
                if (fscanf(f, "%63s", v) != 1) return fail("short logits");
                logits[i] = strtof(v, NULL);
            }
            continue;
        }
        if (!logits) return fail("logits must come first");
        if (!strcmp(word, "param")) {
            char name[64], val[64];
            if (s || fscanf(f, "%63s %63s", name, val) != 2 || set_param(&params, name, val)) return fail("bad param");
            continue;
        }
        if (!s) {
            s = onc_sampler_new((int32_t)n, &params, &err);
            if (!s) return report(&err);
        }
        if (!strcmp(word, "bias")) {
            long id;
            char v[64];
            if (fscanf(f, "%ld %63s", &id, v) != 2) return fail("bad bias");
            if (onc_sampler_set_logit_bias(s, (int32_t)id, strtof(v, NULL), &err) != ONC_OK) return report(&err);
        } else if (!strcmp(word, "accept")) {
            long id;
            if (fscanf(f, "%ld", &id) != 1) return fail("bad accept");
            if (onc_sampler_accept(s, (int32_t)id, &err) != ONC_OK) return report(&err);
        } else if (!strcmp(word, "draws")) {
            if (fscanf(f, "%ld", &draws) != 1 || draws < 0) return fail("bad draws");
        } else {
            return fail("unknown directive");
        }
    }
    fclose(f);
    if (!logits) return fail("no logits");
    if (!s) {
        s = onc_sampler_new((int32_t)n, &params, &err);
        if (!s) return report(&err);
    }
    const onc_token_prob *c;
    size_t nc;
    if (onc_sampler_candidates(s, logits, &c, &nc, &err) != ONC_OK) {
        rc = report(&err);
        goto out;
    }
    for (size_t i = 0; i < nc; i++) printf("cand %d %.9g %.17g\n", (int)c[i].id, (double)c[i].logit, (double)c[i].p);
    for (long d = 0; d < draws; d++) {
        onc_sample r;
        if (onc_sampler_sample(s, logits, &r, &err) != ONC_OK) {
            rc = report(&err);
            goto out;
        }
        printf("draw %d %.9g\n", (int)r.token, (double)r.logprob);
    }
    float *ls = malloc((size_t)n * sizeof *ls);
    if (onc_log_softmax(logits, (size_t)n, ls, &err) != ONC_OK) {
        free(ls);
        rc = report(&err);
        goto out;
    }
    printf("logsoftmax");
    for (long i = 0; i < n; i++) printf(" %.9g", (double)ls[i]);
    printf("\n");
    free(ls);
    int32_t ids[5];
    float lp[5];
    size_t nt;
    if (onc_logprobs_top_n(logits, (size_t)n, 5, ids, lp, &nt, &err) != ONC_OK) {
        rc = report(&err);
        goto out;
    }
    printf("topn");
    for (size_t i = 0; i < nt; i++) printf(" %d %.9g", (int)ids[i], (double)lp[i]);
    printf("\n");
out:
    onc_sampler_free(s);
    free(logits);
    return rc;
}
