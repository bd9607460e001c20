/* oncolm/stats.h — statistics for comparing systems on the same items.
 *
 * Plain arrays of doubles in, a result struct out; nothing here knows about
 * retrieval or classification, so every evaluation table (retrieval runs,
 * classifiers, extraction) can use the same tests. Numbers are meant to be
 * identical to the reference implementations named on each function (to
 * floating-point rounding), not merely close:
 *
 *   onc_wilcoxon                   scipy.stats.wilcoxon, scipy 1.10.1 (Debian 12)
 *   onc_norm_cdf / onc_norm_sf     scipy.special.ndtr (Cephes)
 *   onc_rankdata                   scipy.stats.rankdata(method="average")
 *   onc_quantile_linear            numpy.quantile(method="linear"), numpy 1.24
 *   onc_binom_cdf_half / onc_chi2_sf_1 / onc_norm_isf  scipy.stats binom.cdf(k, n, .5),
 *                                  chi2.sf(x, 1), norm.isf
 *   onc_mcnemar                    statsmodels.stats.contingency_tables.mcnemar (0.13.5)
 *   onc_wilson_interval            statsmodels proportion_confint(method="wilson")
 *   onc_bootstrap_paired_mean_diff percentile bootstrap with the oncolm RNG
 *                                  (xoshiro256**, oncolm/rng.h): reproducible
 *                                  from its seed; docs/EVALUATION.md gives the
 *                                  exact draw so other tools can repeat it
 *
 * Library code: never prints, never exits; errors go to an onc_error.
 * Thread-safety: every function is reentrant (no global state). */
#ifndef ONCOLM_STATS_H
#define ONCOLM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/rng.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- basic helpers --------------------------------------------------------- */

/* Arithmetic mean, summed left to right then divided by n. NaN when n == 0. */
double onc_mean(const double *x, size_t n);

/* Standard normal CDF Phi(z) and survival 1 - Phi(z), computed as Cephes'
 * ndtr (what scipy.stats.norm.cdf / .sf use): through erf near 0 and erfc
 * in the tails, so tiny tail probabilities keep full relative precision. */
double onc_norm_cdf(double z);
double onc_norm_sf(double z);

/* Average ranks (1-based; tied values share the mean of their ranks) of
 * x[0..n) into ranks[0..n), as scipy.stats.rankdata(x, "average"). Values
 * are compared exactly (no tolerance). NaN inputs are rejected
 * (ONC_ERR_INVALID). ONC_ERR_NOMEM when scratch memory cannot be had. */
onc_status onc_rankdata(const double *x, size_t n, double *ranks, onc_error *err);

/* q-quantile (q in [0, 1]) of an ascending array, as numpy.quantile with the
 * default "linear" method (numpy 1.24, including its two-sided lerp:
 * a + (b-a)*g for g < 0.5, b - (b-a)*(1-g) otherwise). NaN when n == 0. */
double onc_quantile_linear(const double *sorted, size_t n, double q);

/* Uniform integer in [0, bound) from r (bound >= 1), unbiased (Lemire's
 * multiply-and-reject on 64-bit draws: m = x*bound as a 128-bit product,
 * low = m mod 2^64; while low < (2^64 - bound) mod bound draw again; return
 * m >> 64). */
uint64_t onc_rng_uniform_index(onc_rng *r, uint64_t bound);

/* ---- Wilcoxon signed-rank test ---------------------------------------------- */

typedef enum onc_alternative {
    ONC_ALT_TWO_SIDED = 0, /* median of x - y != 0 */
    ONC_ALT_GREATER = 1,   /* x - y is shifted above 0 (x better when larger is better) */
    ONC_ALT_LESS = 2,
} onc_alternative;

typedef enum onc_wilcoxon_zero {
    ONC_WILCOXON_ZERO_WILCOX = 0, /* drop zero differences (scipy default) */
    ONC_WILCOXON_ZERO_PRATT = 1,  /* rank zeros, then drop their ranks (Pratt 1959) */
    ONC_WILCOXON_ZERO_ZSPLIT = 2, /* rank zeros, split their ranks between r+ and r- */
} onc_wilcoxon_zero;

typedef enum onc_wilcoxon_method {
    ONC_WILCOXON_AUTO = 0,   /* scipy 1.10.1: exact when n <= 50 and no zeros, else approx */
    ONC_WILCOXON_EXACT = 1,  /* exact null distribution; falls back to approx when there are zeros */
    ONC_WILCOXON_APPROX = 2, /* normal approximation with tie (and optional continuity) correction */
} onc_wilcoxon_method;

typedef struct onc_wilcoxon_opts {
    onc_wilcoxon_zero zero_method;
    bool correction; /* continuity correction of the normal approximation */
    onc_alternative alternative;
    onc_wilcoxon_method method;
} onc_wilcoxon_opts;

/* scipy's defaults: wilcox, no correction, two-sided, auto. */
void onc_wilcoxon_opts_default(onc_wilcoxon_opts *o);

typedef struct onc_wilcoxon_result {
    double statistic;  /* T = min(r+, r-) two-sided, r+ one-sided (as scipy) */
    double pvalue;     /* in [0, 1] */
    double z;          /* normal-approximation z; NaN when the exact distribution was used */
    double r_plus;     /* rank sums actually used (zsplit adds half the zero ranks to each) */
    double r_minus;
    int64_t n;         /* differences given */
    int64_t n_zero;    /* differences exactly 0 */
    int64_t n_ranked;  /* differences ranked: n - n_zero under wilcox+approx, n otherwise */
    bool exact;        /* true: exact null distribution (counting), false: normal approximation */
    bool fell_back;    /* exact was chosen or asked for but zeros forced the approximation
                          (scipy warns "Exact p-value calculation does not work if there are zeros") */
    bool ties;         /* some |d| tied: an exact p-value then uses int(r+) as scipy 1.10.1 does */
} onc_wilcoxon_result;

/* Wilcoxon signed-rank test of d = x - y (y == NULL: x holds the
 * differences), exactly as scipy.stats.wilcoxon(x, y, zero_method,
 * correction, alternative, method) in scipy 1.10.1:
 *   - method auto -> exact when n <= 50 (zeros counted in n), else approx;
 *     exact with any zero difference -> approx (out->fell_back);
 *   - exact: pmf of r+ for n ranks by the recurrence c_k = (c_{k-1} + shift_k
 *     c_{k-1}) / 2; r+ truncated to an integer (int(r+), ties make it x.5);
 *     two-sided: 1 when int(r+) == floor(n(n+1)/4), else 2 min(P(R <= r+),
 *     P(R >= r+)) clipped to 1; greater: P(R >= r+); less: P(R <= r+);
 *   - approx: zeros dropped first under wilcox; mn = n(n+1)/4, var*24 =
 *     n(n+1)(2n+1) (pratt: minus the zeros' share n0(n0+1)/4 and
 *     n0(n0+1)(2n0+1)) minus sum(t^3 - t)/2 over tie groups of the ranks
 *     (pratt: nonzero ranks only); z = (T - mn - c)/se with c = 0, or with
 *     correction 0.5 sign(T - mn) two-sided, -0.5 less, +0.5 greater;
 *     p = 2 sf(|z|), sf(z) or cdf(z).
 * n == 0 gives ONC_OK with statistic and pvalue NaN (scipy returns nan).
 * Errors (ONC_ERR_INVALID): a NaN difference; every difference zero under
 * wilcox or pratt (scipy raises ValueError). ONC_ERR_NOMEM on allocation
 * failure. opts NULL = defaults. */
onc_status onc_wilcoxon(const double *x, const double *y, size_t n, const onc_wilcoxon_opts *opts,
                        onc_wilcoxon_result *out, onc_error *err);

/* Exact null distribution of the Wilcoxon r+ statistic for n ranks:
 * malloc()ed array of n(n+1)/2 + 1 probabilities P(R+ = r), r = 0..n(n+1)/2,
 * computed with the same double-precision recurrence as scipy 1.10.1's
 * _get_wilcoxon_distr (exact dyadic values for n <= 53). *len receives the
 * length. NULL with err set on bad n (< 0 or > 2000, where counting takes seconds) or out of memory. */
double *onc_wilcoxon_pmf(int64_t n, size_t *len, onc_error *err);

/* ---- paired bootstrap --------------------------------------------------------- */

typedef struct onc_bootstrap_result {
    double estimate;     /* mean of d = b - a over the n pairs */
    double lo, hi;       /* percentile interval at `level` */
    double level;        /* e.g. 0.95 */
    double se;           /* standard deviation (ddof 1) of the resampled means */
    int64_t n;           /* pairs */
    int64_t n_resamples;
    uint64_t seed;
} onc_bootstrap_result;

/* Paired percentile bootstrap of the mean difference mean(b - a):
 * d_i = b_i - a_i; an onc_rng seeded with `seed`; for each of n_resamples
 * resamples draw n indices with onc_rng_uniform_index(rng, n) (resample
 * after resample, index after index) and take the mean of d over them
 * (summed in draw order, divided by n); the interval is
 * onc_quantile_linear(sorted means, (1 - level)/2) and (1 + level)/2 — the
 * same as numpy.quantile(means, [(1-level)/2, (1+level)/2]).
 * Requires n >= 1, n_resamples >= 1, 0 < level < 1 (else ONC_ERR_INVALID)
 * and finite inputs. ONC_ERR_NOMEM on allocation failure. */
onc_status onc_bootstrap_paired_mean_diff(const double *a, const double *b, size_t n, int64_t n_resamples,
                                          double level, uint64_t seed, onc_bootstrap_result *out, onc_error *err);

/* ---- proportions: binomial, chi-square, McNemar, Wilson ------------------------ */

/* P(X <= k) for X ~ Binomial(n, 1/2), as scipy.stats.binom.cdf(k, n, 0.5):
 * sum_{i<=k} C(n,i) / 2^n by the term ratio C(n,i)/C(n,i-1) = (n-i+1)/i with
 * the binary exponent carried apart (no overflow for any n), so the relative
 * error is a few ulp per term. k < 0 gives 0, k >= n gives 1. */
double onc_binom_cdf_half(int64_t k, int64_t n);

/* Survival function of the chi-square distribution with one degree of
 * freedom, P(X > x) = erfc(sqrt(x / 2)) (scipy.stats.chi2.sf(x, 1)).
 * 1 for x <= 0; NaN for NaN. */
double onc_chi2_sf_1(double x);

/* Inverse of onc_norm_sf: the z with P(Z > z) = q, as scipy.stats.norm.isf
 * (q in (0, 1); +-inf at 0 and 1; NaN outside). Acklam's rational
 * approximation refined by one Halley step against onc_norm_cdf, so it is
 * accurate to a few ulp. */
double onc_norm_isf(double q);

typedef struct onc_mcnemar_result {
    double statistic; /* exact: min(b, c); chi-square: (|b - c| - corr)^2 / (b + c) */
    double pvalue;    /* two-sided */
    int64_t b, c;     /* discordant pairs: b = A right & B wrong, c = A wrong & B right */
    bool exact;
    bool correction;
} onc_mcnemar_result;

/* McNemar's test on the discordant counts of a paired 2x2 table, exactly as
 * statsmodels.stats.contingency_tables.mcnemar (statsmodels 0.13.5):
 *   exact:  statistic = min(b, c); p = min(1, 2 binom.cdf(statistic, b + c, 0.5))
 *           (b + c == 0 gives p = 1);
 *   else:   statistic = (|b - c| - correction)^2 / (b + c); p = chi2.sf(statistic, 1)
 *           (b + c == 0 gives, as statsmodels' division by zero, NaN for
 *           both without the correction and statistic inf, p 0 with it;
 *           note that with the correction b == c gives a positive
 *           statistic, as there).
 * ONC_ERR_INVALID for negative counts. */
onc_status onc_mcnemar(int64_t b, int64_t c, bool exact, bool correction, onc_mcnemar_result *out,
                       onc_error *err);

/* Wilson score interval for count successes out of nobs, at confidence
 * 1 - alpha, as statsmodels.stats.proportion.proportion_confint(count, nobs,
 * alpha, method="wilson") (0.13.5, same arithmetic, no clipping):
 *   crit = norm.isf(alpha/2); denom = 1 + crit^2/nobs;
 *   center = (p + crit^2/(2 nobs)) / denom;
 *   dist = crit sqrt(p(1-p)/nobs + crit^2/(4 nobs^2)) / denom.
 * nobs <= 0, count outside [0, nobs] or alpha outside (0, 1): ONC_ERR_INVALID. */
onc_status onc_wilson_interval(double count, double nobs, double alpha, double *lo, double *hi,
                               onc_error *err);

/* ---- paired bootstrap of any metric ------------------------------------------- */

/* A metric difference on a resample: idx[0..n) are item indices (with
 * repeats); write metric(system B on those items) - metric(system A on those
 * items) to *diff. Return false when the metric is undefined on this resample
 * (the resample is then skipped and counted). */
typedef bool (*onc_paired_metric_fn)(const size_t *idx, size_t n, void *ctx, double *diff);

/* Paired percentile bootstrap of the difference of any metric between two
 * systems scored on the same n items. The draws are exactly those of
 * onc_bootstrap_paired_mean_diff (same RNG, same order), so with a metric
 * that is the mean of per-item scores the two give identical results.
 * estimate = fn on the items in order (0..n-1); lo/hi = linear quantiles of
 * the defined resample differences; se their standard deviation (ddof 1).
 * *n_undefined (optional) receives the number of skipped resamples; when all
 * are undefined, or the full sample is, ONC_ERR_INVALID. */
onc_status onc_bootstrap_paired_metric(size_t n, onc_paired_metric_fn fn, void *ctx, int64_t n_resamples,
                                       double level, uint64_t seed, onc_bootstrap_result *out,
                                       int64_t *n_undefined, onc_error *err);

/* Names used in messages and options: "two-sided" "greater" "less";
 * "wilcox" "pratt" "zsplit"; "auto" "exact" "approx". The parsers return
 * -1 for an unknown name. */
const char *onc_alternative_name(onc_alternative a);
int onc_alternative_parse(const char *s);
const char *onc_wilcoxon_zero_name(onc_wilcoxon_zero z);
int onc_wilcoxon_zero_parse(const char *s);
const char *onc_wilcoxon_method_name(onc_wilcoxon_method m);
int onc_wilcoxon_method_parse(const char *s);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_STATS_H */
