/* stats.c — Wilcoxon signed-rank test, normal distribution, average ranks,
 * linear quantiles and the paired bootstrap (see oncolm/stats.h). Written
 * from the published definitions (scipy 1.10.1 / numpy 1.24 behaviour as
 * documented in docs/EVALUATION.md); no code copied. */
#include "oncolm/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- basic helpers ----------------------------------------------------------- */

double onc_mean(const double *x, size_t n) {
    if (n == 0) return NAN;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

/* Cephes ndtr structure: erf for |z|/sqrt2 < 1/sqrt2, erfc beyond. */
double onc_norm_cdf(double z) {
    if (isnan(z)) return NAN;
    const double sqrt1_2 = 0.70710678118654752440;
    const double x = z * sqrt1_2;
    const double ax = fabs(x);
    if (ax < sqrt1_2) return 0.5 + 0.5 * erf(x);
    double y = 0.5 * erfc(ax);
    if (x > 0) y = 1.0 - y;
    return y;
}

double onc_norm_sf(double z) { return onc_norm_cdf(-z); }

typedef struct idx_val {
    double v;
    size_t i;
} idx_val;

static int cmp_idx_val(const void *a, const void *b) {
    const idx_val *x = a, *y = b;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

onc_status onc_rankdata(const double *x, size_t n, double *ranks, onc_error *err) {
    if (n == 0) return ONC_OK;
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) return onc_error_set(err, ONC_ERR_INVALID, "rankdata: NaN at position %zu", i);
    idx_val *iv = malloc(n * sizeof *iv);
    if (!iv) return onc_error_set(err, ONC_ERR_NOMEM, "rankdata: out of memory (%zu values)", n);
    for (size_t i = 0; i < n; i++) iv[i] = (idx_val){x[i], i};
    qsort(iv, n, sizeof *iv, cmp_idx_val);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && iv[j].v == iv[i].v) j++;
        /* ranks i+1 .. j share their mean (i+1+j)/2 */
        const double r = 0.5 * (double)(i + 1 + j);
        for (size_t k = i; k < j; k++) ranks[iv[k].i] = r;
        i = j;
    }
    free(iv);
    return ONC_OK;
}

double onc_quantile_linear(const double *sorted, size_t n, double q) {
    if (n == 0) return NAN;
    if (q <= 0) return sorted[0];
    if (q >= 1) return sorted[n - 1];
    const double vi = (double)(n - 1) * q;
    double prev = floor(vi);
    size_t lo = (size_t)prev;
    if (lo > n - 1) lo = n - 1;
    const size_t hi = lo + 1 < n ? lo + 1 : n - 1;
    const double g = vi - prev;
    const double a = sorted[lo], b = sorted[hi];
    const double diff = b - a;
    return g >= 0.5 ? b - diff * (1.0 - g) : a + diff * g;
}

uint64_t onc_rng_uniform_index(onc_rng *r, uint64_t bound) {
    ONC_ASSERT(bound >= 1);
    uint64_t x = onc_rng_next(r);
    unsigned __int128 m = (unsigned __int128)x * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        const uint64_t t = (0 - bound) % bound;
        while (low < t) {
            x = onc_rng_next(r);
            m = (unsigned __int128)x * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- Wilcoxon --------------------------------------------------------------------- */

void onc_wilcoxon_opts_default(onc_wilcoxon_opts *o) {
    o->zero_method = ONC_WILCOXON_ZERO_WILCOX;
    o->correction = false;
    o->alternative = ONC_ALT_TWO_SIDED;
    o->method = ONC_WILCOXON_AUTO;
}

double *onc_wilcoxon_pmf(int64_t n, size_t *len, onc_error *err) {
    if (n < 0 || n > 2000) {
        onc_error_set(err, ONC_ERR_INVALID, "wilcoxon: exact distribution needs 0 <= n <= 2000, got %lld",
                      (long long)n);
        return NULL;
    }
    const size_t full = (size_t)n * (size_t)(n + 1) / 2 + 1;
    double *c = calloc(full, sizeof *c);
    double *prev = calloc(full, sizeof *prev);
    if (!c || !prev) {
        free(c), free(prev);
        onc_error_set(err, ONC_ERR_NOMEM, "wilcoxon: out of memory for the exact distribution (n = %lld)",
                      (long long)n);
        return NULL;
    }
    c[0] = 1.0;
    size_t m = 1; /* current length k(k+1)/2 + 1 */
    for (int64_t k = 1; k <= n; k++) {
        memcpy(prev, c, m * sizeof *c);
        const size_t nm = (size_t)k * (size_t)(k + 1) / 2 + 1;
        /* c[:m] = prev*0.5 ; c[m:nm] = 0 ; c[nm-m:] += prev*0.5 (scipy's order) */
        for (size_t i = 0; i < m; i++) c[i] = prev[i] * 0.5;
        for (size_t i = m; i < nm; i++) c[i] = 0.0;
        for (size_t i = 0; i < m; i++) c[nm - m + i] += prev[i] * 0.5;
        m = nm;
    }
    free(prev);
    if (len) *len = full;
    return c;
}

/* Sum over tie groups of t*(t*t - 1) (t = group size) among v[0..n),
 * values compared exactly; exact in double for any realistic n. Returns
 * -1 when scratch memory cannot be had. */
static double tie_sum(const double *v, size_t n) {
    if (n < 2) return 0.0;
    double *s = malloc(n * sizeof *s);
    if (!s) return -1.0;
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double acc = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && s[j] == s[i]) j++;
        const double t = (double)(j - i);
        if (j - i > 1) acc += t * (t * t - 1.0);
        i = j;
    }
    free(s);
    return acc;
}

onc_status onc_wilcoxon(const double *x, const double *y, size_t n, const onc_wilcoxon_opts *opts,
                        onc_wilcoxon_result *out, onc_error *err) {
    onc_wilcoxon_opts def;
    if (!opts) onc_wilcoxon_opts_default(&def), opts = &def;
    memset(out, 0, sizeof *out);
    out->statistic = out->pvalue = out->z = NAN;
    out->r_plus = out->r_minus = NAN;
    out->n = (int64_t)n;
    if (n == 0) return ONC_OK;
    double *d = malloc(3 * n * sizeof *d);
    if (!d) return onc_error_set(err, ONC_ERR_NOMEM, "wilcoxon: out of memory (%zu pairs)", n);
    double *absd = d + n, *r = d + 2 * n;
    size_t n_zero = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = y ? x[i] - y[i] : x[i];
        if (isnan(d[i])) {
            free(d);
            return onc_error_set(err, ONC_ERR_INVALID, "wilcoxon: difference %zu is NaN", i);
        }
        if (d[i] == 0) n_zero++;
    }
    out->n_zero = (int64_t)n_zero;

    bool exact = opts->method == ONC_WILCOXON_EXACT || (opts->method == ONC_WILCOXON_AUTO && n <= 50);
    if (exact && n_zero > 0) exact = false, out->fell_back = true;
    if (!exact && opts->zero_method != ONC_WILCOXON_ZERO_ZSPLIT && n_zero == n) {
        free(d);
        return onc_error_set(err, ONC_ERR_INVALID,
                             "wilcoxon: every difference is zero; zero_method '%s' cannot handle that (use zsplit)",
                             onc_wilcoxon_zero_name(opts->zero_method));
    }
    size_t count = n;
    if (!exact && opts->zero_method == ONC_WILCOXON_ZERO_WILCOX) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (d[i] != 0) d[k++] = d[i];
        count = k;
    }
    out->n_ranked = (int64_t)count;
    for (size_t i = 0; i < count; i++) absd[i] = fabs(d[i]);
    onc_status st = onc_rankdata(absd, count, r, err);
    if (st != ONC_OK) {
        free(d);
        return st;
    }
    double r_plus = 0, r_minus = 0, r_zero = 0;
    for (size_t i = 0; i < count; i++) {
        if (d[i] > 0) r_plus += r[i];
        else if (d[i] < 0) r_minus += r[i];
        else r_zero += r[i];
    }
    if (opts->zero_method == ONC_WILCOXON_ZERO_ZSPLIT) r_plus += r_zero / 2.0, r_minus += r_zero / 2.0;
    out->r_plus = r_plus;
    out->r_minus = r_minus;
    const double T = opts->alternative == ONC_ALT_TWO_SIDED ? (r_plus < r_minus ? r_plus : r_minus) : r_plus;
    out->statistic = T;
    const double ts_all = tie_sum(r, count); /* tie groups among the ranked |d| */
    if (ts_all < 0) {
        free(d);
        return onc_error_set(err, ONC_ERR_NOMEM, "wilcoxon: out of memory (%zu pairs)", n);
    }
    out->ties = ts_all > 0;
    if (!exact) {
        const double c = (double)count;
        double mn = c * (c + 1.0) * 0.25;
        double se = c * (c + 1.0) * (2.0 * c + 1.0);
        double ts = ts_all;
        if (opts->zero_method == ONC_WILCOXON_ZERO_PRATT) {
            const double z0 = (double)n_zero;
            mn -= z0 * (z0 + 1.0) * 0.25;
            se -= z0 * (z0 + 1.0) * (2.0 * z0 + 1.0);
            /* tie groups of the nonzero ranks only */
            size_t k = 0;
            for (size_t i = 0; i < count; i++)
                if (d[i] != 0) absd[k++] = r[i];
            ts = tie_sum(absd, k);
            if (ts < 0) {
                free(d);
                return onc_error_set(err, ONC_ERR_NOMEM, "wilcoxon: out of memory (%zu pairs)", n);
            }
        }
        if (ts != 0.0) se -= 0.5 * ts;
        se = sqrt(se / 24.0);
        double cc = 0.0;
        if (opts->correction) {
            if (opts->alternative == ONC_ALT_TWO_SIDED) {
                const double s = T - mn;
                cc = 0.5 * (s > 0 ? 1.0 : s < 0 ? -1.0 : 0.0);
            } else if (opts->alternative == ONC_ALT_LESS) {
                cc = -0.5;
            } else {
                cc = 0.5;
            }
        }
        const double z = (T - mn - cc) / se;
        out->z = z;
        double p;
        if (opts->alternative == ONC_ALT_TWO_SIDED) p = 2.0 * onc_norm_sf(fabs(z));
        else if (opts->alternative == ONC_ALT_GREATER) p = onc_norm_sf(z);
        else p = onc_norm_cdf(z);
        out->pvalue = p;
        out->exact = false;
    } else {
        size_t len = 0;
        double *pmf = onc_wilcoxon_pmf((int64_t)count, &len, err);
        if (!pmf) {
            free(d);
            return err ? err->code : ONC_ERR_NOMEM;
        }
        const size_t rp = (size_t)r_plus; /* int(r_plus): truncation, as scipy 1.10.1 */
        double p_less = 0.0, p_greater = 0.0;
        for (size_t i = 0; i <= rp && i < len; i++) p_less += pmf[i];
        for (size_t i = rp; i < len; i++) p_greater += pmf[i];
        double p;
        if (opts->alternative == ONC_ALT_TWO_SIDED) {
            if (rp == (len - 1) / 2) p = 1.0;
            else p = 2.0 * (p_greater < p_less ? p_greater : p_less);
        } else if (opts->alternative == ONC_ALT_GREATER) {
            p = p_greater;
        } else {
            p = p_less;
        }
        if (p > 1.0) p = 1.0;
        if (p < 0.0) p = 0.0;
        free(pmf);
        out->pvalue = p;
        out->exact = true;
    }
    free(d);
    return ONC_OK;
}

/* ---- bootstrap ------------------------------------------------------------------- */

/* The mean of d over the resampled items, summed in draw order. */
static bool mean_of_resample(const size_t *idx, size_t n, void *ctx, double *out) {
    const double *d = ctx;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += d[idx[i]];
    *out = s / (double)n;
    return true;
}

onc_status onc_bootstrap_paired_mean_diff(const double *a, const double *b, size_t n, int64_t n_resamples,
                                          double level, uint64_t seed, onc_bootstrap_result *out, onc_error *err) {
    memset(out, 0, sizeof *out);
    out->estimate = out->lo = out->hi = out->se = NAN;
    if (n == 0) return onc_error_set(err, ONC_ERR_INVALID, "bootstrap: no pairs");
    double *d = malloc(n * sizeof *d);
    if (!d) return onc_error_set(err, ONC_ERR_NOMEM, "bootstrap: out of memory (%zu pairs)", n);
    for (size_t i = 0; i < n; i++) {
        d[i] = b[i] - a[i];
        if (!isfinite(d[i])) {
            free(d);
            return onc_error_set(err, ONC_ERR_INVALID, "bootstrap: pair %zu is not finite", i);
        }
    }
    onc_status st = onc_bootstrap_paired_metric(n, mean_of_resample, d, n_resamples, level, seed, out, NULL, err);
    free(d);
    return st;
}

/* ---- names -------------------------------------------------------------------------- */

static const char *const alt_names[] = {"two-sided", "greater", "less"};
static const char *const zero_names[] = {"wilcox", "pratt", "zsplit"};
static const char *const method_names[] = {"auto", "exact", "approx"};

static int parse_name(const char *s, const char *const *names, int n) {
    if (!s) return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

const char *onc_alternative_name(onc_alternative a) { return (unsigned)a < 3 ? alt_names[a] : "?"; }
int onc_alternative_parse(const char *s) { return parse_name(s, alt_names, 3); }
const char *onc_wilcoxon_zero_name(onc_wilcoxon_zero z) { return (unsigned)z < 3 ? zero_names[z] : "?"; }
int onc_wilcoxon_zero_parse(const char *s) { return parse_name(s, zero_names, 3); }
const char *onc_wilcoxon_method_name(onc_wilcoxon_method m) { return (unsigned)m < 3 ? method_names[m] : "?"; }
int onc_wilcoxon_method_parse(const char *s) { return parse_name(s, method_names, 3); }
