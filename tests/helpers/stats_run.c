/* stats_run.c — helper for tests/oracle/test_stats_oracle.py: evaluates the
 * oncolm/stats.h proportion functions on commands read from stdin, one per
 * line, and prints one result line each ("%.17g" numbers, "err MESSAGE" on
 * an error):
 *
 *   binom K N                  -> onc_binom_cdf_half(K, N)
 *   chi2 X                     -> onc_chi2_sf_1(X)
 *   isf Q                      -> onc_norm_isf(Q)
 *   mcnemar B C EXACT CORR     -> statistic pvalue
 *   wilson COUNT NOBS ALPHA    -> lo hi
 *   bootmean SEED R LEVEL N a1 b1 a2 b2 ...
 *                              -> estimate lo hi se, by onc_bootstrap_paired_mean_diff
 *                                 and again by onc_bootstrap_paired_metric with
 *                                 a mean metric (8 numbers; the two must agree) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/stats.h"

typedef struct pairs {
    const double *a, *b;
} pairs;

static bool mean_diff(const size_t *idx, size_t n, void *ctx, double *out) {
    const pairs *p = ctx;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += p->b[idx[i]] - p->a[idx[i]];
    *out = s / (double)n;
    return true;
}

int main(void) {
    char line[1 << 16];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32];
        int used = 0;
        if (sscanf(line, "%31s%n", cmd, &used) != 1) continue;
        const char *rest = line + used;
        onc_error err = {0};
        if (strcmp(cmd, "binom") == 0) {
            long long k, n;
            sscanf(rest, "%lld %lld", &k, &n);
            printf("%.17g\n", onc_binom_cdf_half(k, n));
        } else if (strcmp(cmd, "chi2") == 0) {
            printf("%.17g\n", onc_chi2_sf_1(strtod(rest, NULL)));
        } else if (strcmp(cmd, "isf") == 0) {
            printf("%.17g\n", onc_norm_isf(strtod(rest, NULL)));
        } else if (strcmp(cmd, "mcnemar") == 0) {
            long long b, c;
            int exact, corr;
            sscanf(rest, "%lld %lld %d %d", &b, &c, &exact, &corr);
            onc_mcnemar_result r;
            if (onc_mcnemar(b, c, exact, corr, &r, &err) != ONC_OK)
                printf("err %s\n", err.msg);
            else
                printf("%.17g %.17g\n", r.statistic, r.pvalue);
        } else if (strcmp(cmd, "wilson") == 0) {
            double count, nobs, alpha, lo, hi;
            sscanf(rest, "%lf %lf %lf", &count, &nobs, &alpha);
            if (onc_wilson_interval(count, nobs, alpha, &lo, &hi, &err) != ONC_OK)
                printf("err %s\n", err.msg);
            else
                printf("%.17g %.17g\n", lo, hi);
        } else if (strcmp(cmd, "bootmean") == 0) {
            unsigned long long seed;
            long long r, n;
            double level;
            int off = 0;
            sscanf(rest, "%llu %lld %lf %lld%n", &seed, &r, &level, &n, &off);
            rest += off;
            double *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a), *b = malloc((size_t)(n > 0 ? n : 1) * sizeof *b);
            for (long long i = 0; i < n; i++) {
                char *end;
                a[i] = strtod(rest, &end);
                b[i] = strtod(end, &end);
                rest = end;
            }
            onc_bootstrap_result r1, r2;
            pairs p = {a, b};
            onc_status s1 = onc_bootstrap_paired_mean_diff(a, b, (size_t)n, r, level, seed, &r1, &err);
            onc_status s2 = onc_bootstrap_paired_metric((size_t)n, mean_diff, &p, r, level, seed, &r2, NULL, &err);
            if (s1 != ONC_OK || s2 != ONC_OK)
                printf("err %s\n", err.msg);
            else
                printf("%.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n", r1.estimate, r1.lo, r1.hi, r1.se,
                       r2.estimate, r2.lo, r2.hi, r2.se);
            free(a), free(b);
        } else {
            printf("err unknown command %s\n", cmd);
        }
    }
    return 0;
}
