"""Oracle for oncolm's block formats and kernels against the independent
numpy implementation tests/oracle/blocks_np.py.

The helper quant_dump quantizes a weight matrix W (Gaussian rows of several
scales plus edge rows: zeros, constants, one outlier, wide dynamic range,
tiny values) and an activation row x to every type, and writes the raw
blocks, oncolm's dequantized floats, the converted activation and W x.
Checks:
  1. numpy's dequantization of oncolm's blocks == oncolm's floats, bit for
     bit (same float32 operation order, no fused multiply-add);
  2. Q8_0 / Q4_0 blocks are byte-identical to numpy's ggml reference
     quantizers, and so are F16 / BF16 (round to nearest even) and the
     Q8_0 / Q8_K activation rows;
  3. oncolm's W x (SIMD level in effect, 2 threads) equals the float64 dot
     of the numpy-dequantized W row and converted x within
     1e-5 * sum |w_i x_i|: integer sums are exact in every kernel, only
     float summation order differs (relative rounding ~2^-24 per term,
     summed over <= n terms; 1e-5 leaves ~100x margin at n = 512 and is
     ~1000x below the error of one wrong block). Also run for every SIMD
     level via ONCOLM_SIMD.
Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

import blocks_np as B  # noqa: E402

TMP = U.TMP
DUMP = U.need_helper("quant_dump")

TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_K", "q5_K", "q6_K"]
VEC_DOT = {"f32": "f32", "f16": "f16", "bf16": "bf16", "q8_0": "q8_0", "q4_0": "q8_0",
           "q4_K": "q8_K", "q5_K": "q8_K", "q6_K": "q8_K"}
failures = U.failures


check = U.check


def make_input(rng, nrows, n):
    w = np.zeros((nrows + 1, n), np.float32)
    for r in range(nrows):
        w[r] = rng.standard_normal(n) * [1.0, 0.02, 30.0, 1e-3][r % 4]
    w[0] = 0.0                                  # all-zero row
    w[1] = 0.37                                 # constant positive
    w[2] = -1.25                                # constant negative
    w[3, 100] = 40.0                            # outlier
    w[4] *= np.exp(rng.uniform(-6, 6, n))       # wide dynamic range
    w[5] = rng.standard_normal(n) * 1e-6        # tiny (scales become f16 subnormals)
    w[6] = np.round(rng.standard_normal(n) * 8) / 8  # many exact ties for the roundings
    w[7, :32] = [(-1) ** k * 8.0 for k in range(32)]  # equal |max| with both signs
    w[nrows] = rng.standard_normal(n) * 2.0     # activation row
    return w


def run(level, w, nrows, n, outdir):
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, "in.f32")
    w.astype("<f4").tofile(path)
    env = dict(os.environ)
    if level:
        env["ONCOLM_SIMD"] = level
    p = subprocess.run([DUMP, path, str(nrows), str(n), outdir], env=env, capture_output=True, text=True)
    check(p.returncode == 0, "quant_dump failed: " + p.stderr)
    return p.returncode == 0


def read(outdir, name, ext):
    with open(os.path.join(outdir, name + "." + ext), "rb") as f:
        return f.read()


def main():
    rng = np.random.default_rng(1234)
    nrows, n = 24, 512
    w = make_input(rng, nrows, n)
    x = w[nrows]
    first = True
    for level in ["", "scalar", "avx2", "avx512"]:
        outdir = os.path.join(TMP, "blocks_oracle_" + (level or "default"))
        if not run(level, w, nrows, n, outdir):
            continue
        for t in TYPES:
            raw = read(outdir, t, "blocks")
            deq_c = np.frombuffer(read(outdir, t, "deq"), "<f4").reshape(nrows, n)
            deq_np = B.DEQUANT[t](raw).reshape(nrows, n)
            check(np.all(np.isfinite(deq_c)), f"{t}: non-finite dequantized values")
            same = np.array_equal(deq_c.view(np.uint32), deq_np.view(np.uint32))
            if not same:
                bad = np.argwhere(deq_c.view(np.uint32) != deq_np.view(np.uint32))[0]
                check(False, f"{t}: dequantized differs at {tuple(bad)}: C {deq_c[tuple(bad)]!r} "
                             f"numpy {deq_np[tuple(bad)]!r}")
            # 2. byte-identical quantization where the reference is fixed
            if first:
                ref_q = {"q8_0": B.q_q8_0, "q4_0": B.q_q4_0, "f16": B.q_f16, "bf16": B.q_bf16,
                         "f32": lambda a: np.asarray(a, "<f4").tobytes()}
                if t in ref_q:
                    mine = ref_q[t](w[:nrows])
                    if mine != raw:
                        a = np.frombuffer(mine, np.uint8)
                        b = np.frombuffer(raw, np.uint8)
                        i = int(np.argmax(a != b))
                        check(False, f"{t}: blocks differ from the numpy reference at byte {i} "
                                     f"(row {i // (len(raw) // nrows)})")
                vt = VEC_DOT[t]
                xq = read(outdir, t, "xq")
                ref_x = {"q8_0": B.q_q8_0, "q8_K": B.q_q8_K, "f16": B.q_f16, "bf16": B.q_bf16,
                         "f32": lambda a: np.asarray(a, "<f4").tobytes()}[vt](x)
                check(ref_x == xq, f"{t}: activation row ({vt}) differs from the numpy reference")
            # 3. matvec within tolerance
            xd = B.DEQUANT[VEC_DOT[t]](read(outdir, t, "xq")).astype(np.float64)
            dot_c = np.frombuffer(read(outdir, t, "dot"), "<f4").astype(np.float64)
            wd = deq_np.astype(np.float64)
            ref = wd @ xd
            tol = 1e-5 * (np.abs(wd) @ np.abs(xd)) + 1e-30
            err = np.abs(dot_c - ref)
            bad = np.nonzero(err > tol)[0]
            check(bad.size == 0, f"{t} level {level or 'default'}: W x row {bad[:1]} off by "
                                 f"{err[bad[:1]]} > tol {tol[bad[:1]]}")
        first = False
    U.finish("blocks oracle: all checks passed")


main()
