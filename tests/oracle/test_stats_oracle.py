"""Oracle for the proportion statistics of oncolm/stats.h against the
reference libraries Debian 12 ships:

  onc_binom_cdf_half   scipy.stats.binom.cdf(k, n, 0.5)       (scipy 1.10.1)
  onc_chi2_sf_1        scipy.stats.chi2.sf(x, 1)
  onc_norm_isf         scipy.stats.norm.isf(q)
  onc_mcnemar          statsmodels.stats.contingency_tables.mcnemar (0.13.5),
                       exact and chi-square, with and without correction
  onc_wilson_interval  statsmodels.stats.proportion.proportion_confint(method="wilson")
  bootstrap            onc_bootstrap_paired_metric with a mean metric equals
                       onc_bootstrap_paired_mean_diff bit for bit

Published examples kept as fixtures (source named on each). Relative
tolerance 1e-12 (the binomial sum is exact to a few ulp per term; the
chi-square tail goes through erfc where scipy goes through igamc).
Exit 77 when the helper, scipy or statsmodels is missing.
"""
import fractions
import math
import os
import random
import subprocess
import sys
import warnings

try:
    import numpy as np
    from scipy import stats
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.proportion import proportion_confint
except ImportError as e:
    print("scipy/statsmodels missing (%s): skipped" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

HELPERS = os.path.dirname(U.need_helper("stats_run"))

failures = U.failures


def run(cmds):
    out = subprocess.run([os.path.join(HELPERS, "stats_run")], input="\n".join(cmds) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(cmds), (len(out), len(cmds))
    return out


def close(got, want, rel=1e-12, abs_=0.0):
    if isinstance(want, float) and math.isnan(want):
        return math.isnan(got)
    if math.isinf(want):
        return got == want
    return abs(got - want) <= max(rel * abs(want), abs_)


def check(name, got, want, rel=1e-12, abs_=0.0):
    if not close(got, want, rel, abs_):
        failures.append("%s: got %.17g want %.17g" % (name, got, want))


rng = random.Random(7)

# --- binomial cdf at p = 1/2 --------------------------------------------------------
cases = [(k, n) for n in range(0, 40) for k in range(-1, n + 2)]
cases += [(rng.randint(0, n), n) for n in [rng.randint(40, 5000) for _ in range(400)]]
cases += [(n // 2, n) for n in (1000, 1001, 2047, 2048, 4999, 20000)]
cases += [(k, 3000) for k in (0, 1, 5, 50, 1000, 1400, 1499, 1500, 1501, 2999, 3000)]
out = run(["binom %d %d" % c for c in cases])
maxrel = maxrel_scipy = 0.0
for (k, n), line in zip(cases, out):
    got = float(line)
    # exact value from integers: sum_{i<=k} C(n, i) / 2^n, as a correctly rounded float
    if k < 0:
        exact = 0.0
    elif k >= n:
        exact = 1.0
    else:
        num, term = 0, 1
        for i in range(0, k + 1):
            num += term
            term = term * (n - i) // (i + 1)
        exact = float(fractions.Fraction(num, 1 << n))
    scipy_v = float(stats.binom.cdf(k, n, 0.5))
    if exact != 0:
        maxrel = max(maxrel, abs(got - exact) / exact)
    check("binom.cdf(%d, %d, .5) vs exact" % (k, n), got, exact, rel=1e-12)
    # scipy (Cephes incbet) underflows to 0 below ~1e-270 where the exact
    # value is still a normal double: only compare above that.
    if scipy_v > 1e-250:
        maxrel_scipy = max(maxrel_scipy, abs(got - scipy_v) / scipy_v)
        check("binom.cdf(%d, %d, .5) vs scipy" % (k, n), got, scipy_v, rel=1e-11)
print("binom.cdf: %d cases, max relative error %.2e vs exact, %.2e vs scipy" % (len(cases), maxrel, maxrel_scipy))

# --- chi-square(1) survival ---------------------------------------------------------------
xs = [0.0, -1.0, 1e-12, 1e-6, 0.5, 1.0, 3.841458820694124, 10.0, 50.0, 200.0, 700.0, 1400.0]
xs += [rng.uniform(0, 40) for _ in range(300)]
out = run(["chi2 %r" % x for x in xs])
for x, line in zip(xs, out):
    check("chi2.sf(%r, 1)" % x, float(line), float(stats.chi2.sf(x, 1)), rel=1e-12)

# --- normal isf ----------------------------------------------------------------------------
qs = [0.5, 0.025, 0.05, 0.005, 0.975, 1e-10, 1e-300, 0.9999999, 0.3]
qs += [rng.random() for _ in range(300)] + [10 ** rng.uniform(-300, -1) for _ in range(100)]
out = run(["isf %r" % q for q in qs])
for q, line in zip(qs, out):
    check("norm.isf(%r)" % q, float(line), float(stats.norm.isf(q)), rel=1e-14, abs_=1e-15)
# fixture: the 97.5% normal quantile (any statistics table): 1.959963984540054
check("norm.isf(0.025) table value", float(run(["isf 0.025"])[0]), 1.959963984540054, rel=1e-15)

# --- McNemar -------------------------------------------------------------------------------
tables = [(b, c) for b in range(0, 12) for c in range(0, 12)]
tables += [(rng.randint(0, 400), rng.randint(0, 400)) for _ in range(300)]
tables += [(0, 0), (1500, 1480), (5, 2000)]
cmds = []
for b, c in tables:
    for exact in (1, 0):
        for corr in (1, 0):
            cmds.append("mcnemar %d %d %d %d" % (b, c, exact, corr))
out = iter(run(cmds))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for b, c in tables:
        for exact in (True, False):
            for corr in (True, False):
                stat, p = map(float, next(out).split())
                ref = mcnemar([[10, b], [c, 7]], exact=exact, correction=corr)
                name = "mcnemar(b=%d, c=%d, exact=%s, correction=%s)" % (b, c, exact, corr)
                check(name + " statistic", stat, float(ref.statistic), rel=1e-15)
                check(name + " pvalue", p, float(ref.pvalue), rel=1e-12, abs_=1e-300)
# fixture: Agresti (2002), Categorical Data Analysis, table 10.1 (presidential
# approval, n = 1600): b = 150, c = 86; McNemar z^2 = (86-150)^2/236 = 17.36
# (uncorrected chi-square, as printed there), p < 0.001.
stat, p = map(float, run(["mcnemar 150 86 0 0"])[0].split())
check("Agresti table 10.1 McNemar statistic", stat, 64.0 ** 2 / 236.0, rel=1e-15)
if not (p < 0.001):
    failures.append("Agresti table 10.1: p = %g, expected < 0.001" % p)
bad = run(["mcnemar -1 3 1 1"])[0]
if not bad.startswith("err"):
    failures.append("negative McNemar count accepted: %s" % bad)

# --- Wilson interval ---------------------------------------------------------------------------
wcases = [(c, n, a) for n in (1, 2, 5, 10, 37, 100, 1000) for c in sorted({0, 1, n // 3, n // 2, n - 1, n})
          for a in (0.05, 0.01, 0.1)]
wcases += [(rng.randint(0, n), n, rng.choice([0.05, 0.01, 0.2])) for n in [rng.randint(1, 10000) for _ in range(200)]]
out = run(["wilson %d %d %r" % w for w in wcases])
for (c, n, a), line in zip(wcases, out):
    lo, hi = map(float, line.split())
    rlo, rhi = proportion_confint(c, n, alpha=a, method="wilson")
    check("wilson(%d, %d, %g) lo" % (c, n, a), lo, float(rlo), rel=1e-12, abs_=1e-15)
    check("wilson(%d, %d, %g) hi" % (c, n, a), hi, float(rhi), rel=1e-12, abs_=1e-15)
# fixture: Newcombe (1998), Statistics in Medicine 17:857, table I, method 3
# (Wilson score): 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605.
for c, n, lo_t, hi_t in [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605)]:
    lo, hi = map(float, run(["wilson %d %d 0.05" % (c, n)])[0].split())
    if round(lo, 4) != lo_t or round(hi, 4) != hi_t:
        failures.append("Newcombe table I %d/%d: got %.4f-%.4f want %.4f-%.4f" % (c, n, lo, hi, lo_t, hi_t))
for bad in ("wilson 5 3 0.05", "wilson 1 0 0.05", "wilson 1 3 1.5"):
    if not run([bad])[0].startswith("err"):
        failures.append("accepted: " + bad)

# --- generic bootstrap equals the mean-difference bootstrap ------------------------------------
for trial in range(20):
    n = rng.randint(1, 60)
    pairs = " ".join("%r %r" % (rng.random(), rng.random()) for _ in range(n))
    vals = run(["bootmean %d %d 0.95 %d %s" % (trial, rng.choice([1, 2, 50, 500]), n, pairs)])[0].split()
    if vals[0] == "err" or vals[:4] != vals[4:]:
        failures.append("bootstrap generic != mean version: %s" % vals)

U.finish("stats oracle: all checks passed", show=40)
