/* stats_prop.c — proportions and paired tests on them: the binomial CDF at
 * p = 1/2, the chi-square(1) tail, the inverse normal tail, McNemar's test,
 * Wilson intervals, and the paired bootstrap of any metric. Contracts and
 * the reference implementations are in oncolm/stats.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/stats.h"

double onc_binom_cdf_half(int64_t k, int64_t n) {
    if (n < 0) return NAN;
    if (k < 0) return 0.0;
    if (k >= n) return 1.0;
    /* Sum the terms C(n,i) for i = 0..k as mantissa * 2^exp, rescaling when
     * the running term grows large; the total is divided by 2^n at the end.
     * For k > n/2 use the complement so the summed side is the short one. */
    bool complement = k > n / 2;
    int64_t last = complement ? n - k - 1 : k; /* sum i = 0..last */
    double term = 1.0, sum = 1.0;
    int exp2 = 0; /* term and sum are both scaled by 2^-exp2 */
    for (int64_t i = 1; i <= last; i++) {
        term *= (double)(n - i + 1) / (double)i;
        sum += term;
        if (sum > 0x1p900) {
            term = ldexp(term, -800);
            sum = ldexp(sum, -800);
            exp2 += 800;
        }
    }
    /* tail = sum * 2^(exp2 - n) */
    double tail = ldexp(sum, (int)((int64_t)exp2 - n));
    return complement ? 1.0 - tail : tail;
}

double onc_chi2_sf_1(double x) {
    if (isnan(x)) return NAN;
    if (x <= 0) return 1.0;
    return erfc(sqrt(x / 2.0));
}

/* Acklam's rational approximation of the normal quantile (relative error
 * 1.15e-9), refined below. */
static double norm_ppf_acklam(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double plow = 0.02425;
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - plow) {
        double q = sqrt(-2 * log1p(-p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double onc_norm_isf(double q) {
    if (isnan(q) || q < 0 || q > 1) return NAN;
    if (q == 0) return INFINITY;
    if (q == 1) return -INFINITY;
    /* Solve sf(z) = q. Work on the lower tail so the residual is computed
     * where the probability is small and precise: z = -ppf(q) for q < 1/2. */
    bool upper = q < 0.5;
    double p = upper ? q : 1.0 - q; /* lower-tail probability of -z (or z) */
    double x = norm_ppf_acklam(p);  /* x < 0 here: Phi(x) = p */
    for (int it = 0; it < 2; it++) {
        double e = onc_norm_cdf(x) - p;
        double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
        x = x - u / (1 + x * u / 2);
    }
    return upper ? -x : x;
}

onc_status onc_mcnemar(int64_t b, int64_t c, bool exact, bool correction, onc_mcnemar_result *out,
                       onc_error *err) {
    memset(out, 0, sizeof *out);
    out->statistic = out->pvalue = NAN;
    if (b < 0 || c < 0)
        return onc_error_set(err, ONC_ERR_INVALID, "McNemar: counts must be >= 0 (got %lld, %lld)",
                             (long long)b, (long long)c);
    out->b = b, out->c = c, out->exact = exact, out->correction = correction;
    if (exact) {
        int64_t m = b < c ? b : c;
        out->statistic = (double)m;
        double p = 2.0 * onc_binom_cdf_half(m, b + c);
        out->pvalue = p < 1.0 ? p : 1.0;
    } else {
        double diff = fabs((double)b - (double)c) - (correction ? 1.0 : 0.0);
        out->statistic = diff * diff / (double)(b + c); /* 0/0 = NaN as statsmodels */
        out->pvalue = onc_chi2_sf_1(out->statistic);
    }
    return ONC_OK;
}

onc_status onc_wilson_interval(double count, double nobs, double alpha, double *lo, double *hi,
                               onc_error *err) {
    *lo = *hi = NAN;
    if (!(nobs > 0) || !(count >= 0) || count > nobs)
        return onc_error_set(err, ONC_ERR_INVALID, "Wilson interval: need 0 <= count <= nobs, nobs > 0 (got %g of %g)",
                             count, nobs);
    if (!(alpha > 0 && alpha < 1))
        return onc_error_set(err, ONC_ERR_INVALID, "Wilson interval: alpha must be in (0, 1), got %g", alpha);
    double q = count * 1.0 / nobs;
    double crit = onc_norm_isf(alpha / 2.0);
    double crit2 = crit * crit;
    double denom = 1 + crit2 / nobs;
    double center = (q + crit2 / (2 * nobs)) / denom;
    double dist = crit * sqrt(q * (1.0 - q) / nobs + crit2 / (4.0 * (nobs * nobs)));
    dist /= denom;
    *lo = center - dist;
    *hi = center + dist;
    return ONC_OK;
}

static int cmp_double_asc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

onc_status onc_bootstrap_paired_metric(size_t n, onc_paired_metric_fn fn, void *ctx, int64_t n_resamples,
                                       double level, uint64_t seed, onc_bootstrap_result *out,
                                       int64_t *n_undefined, onc_error *err) {
    memset(out, 0, sizeof *out);
    out->estimate = out->lo = out->hi = out->se = NAN;
    if (n_undefined) *n_undefined = 0;
    if (n == 0) return onc_error_set(err, ONC_ERR_INVALID, "bootstrap: no pairs");
    if (n_resamples < 1 || n_resamples > 100000000)
        return onc_error_set(err, ONC_ERR_INVALID, "bootstrap: resamples must be in [1, 1e8], got %lld",
                             (long long)n_resamples);
    if (!(level > 0 && level < 1))
        return onc_error_set(err, ONC_ERR_INVALID, "bootstrap: level must be in (0, 1), got %g", level);
    size_t *idx = malloc(n * sizeof *idx);
    double *diffs = malloc((size_t)n_resamples * sizeof *diffs);
    if (!idx || !diffs) {
        free(idx), free(diffs);
        return onc_error_set(err, ONC_ERR_NOMEM, "bootstrap: out of memory (%zu pairs, %lld resamples)", n,
                             (long long)n_resamples);
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    double estimate;
    if (!fn(idx, n, ctx, &estimate) || !isfinite(estimate)) {
        free(idx), free(diffs);
        return onc_error_set(err, ONC_ERR_INVALID, "bootstrap: the metric is undefined on the full sample");
    }
    onc_rng rng;
    onc_rng_seed(&rng, seed);
    int64_t kept = 0, skipped = 0;
    for (int64_t r = 0; r < n_resamples; r++) {
        for (size_t i = 0; i < n; i++) idx[i] = (size_t)onc_rng_uniform_index(&rng, n);
        double d;
        if (fn(idx, n, ctx, &d) && isfinite(d))
            diffs[kept++] = d;
        else
            skipped++;
    }
    free(idx);
    if (n_undefined) *n_undefined = skipped;
    if (kept == 0) {
        free(diffs);
        return onc_error_set(err, ONC_ERR_INVALID, "bootstrap: the metric is undefined on every resample");
    }
    out->estimate = estimate;
    const double mm = onc_mean(diffs, (size_t)kept);
    double ss = 0.0;
    for (int64_t r = 0; r < kept; r++) ss += (diffs[r] - mm) * (diffs[r] - mm);
    out->se = kept > 1 ? sqrt(ss / (double)(kept - 1)) : 0.0;
    qsort(diffs, (size_t)kept, sizeof *diffs, cmp_double_asc);
    out->lo = onc_quantile_linear(diffs, (size_t)kept, (1.0 - level) / 2.0);
    out->hi = onc_quantile_linear(diffs, (size_t)kept, (1.0 + level) / 2.0);
    out->level = level;
    out->n = (int64_t)n;
    out->n_resamples = kept;
    out->seed = seed;
    free(diffs);
    return ONC_OK;
}
