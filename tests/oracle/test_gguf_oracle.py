"""Oracle for the C GGUF reader and writer against the independent numpy
implementation tests/oracle/gguf_np.py:

(a) files written by gguf_np (every value type, arrays of every element
    type, empty arrays/strings, alignment 32/64/128, many tensors of several
    types) are dumped by the C reader (helper gguf_dump) and compared line by
    line with what was written;
(b) a file written by the C writer (helper gguf_write_sample) is read by
    gguf_np and every value and tensor byte is checked, and the bytes must be
    identical to the same content written by gguf_np (exact layout: order,
    offsets, zero padding);
(c) a malformed file makes gguf_dump fail with a message naming the file.

Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped.
"""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

import gguf_np as G  # noqa: E402

TMP = U.TMP
DUMP = U.need_helper("gguf_dump")
SAMPLE = os.path.join(os.path.dirname(DUMP), "gguf_write_sample")

failures = U.failures


check = U.check


# --- canonical dump of what gguf_np wrote (must match tests/helpers/gguf_dump.c)


def fmt_scalar(t, v):
    if t == G.FLOAT32:
        return "0x%08x" % struct.unpack("<I", struct.pack("<f", v))[0]
    if t == G.FLOAT64:
        return "0x%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]
    if t == G.BOOL:
        return "1" if v else "0"
    if t == G.STRING:
        raw = v.encode("utf-8") if isinstance(v, str) else bytes(v)
        return "s:" + raw.hex()
    return str(int(v))


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def expected_dump(w, blob):
    g = G.read_gguf(blob)  # for data_offset only (layout is checked separately)
    lines = ["version %d" % w.version, "alignment %d" % w.alignment, "data_offset %d" % g.data_offset,
             "n_kv %d" % len(w.kv), "n_tensors %d" % len(w.tensors)]
    for key, t, v in w.kv:
        line = "kv %s %s " % (key.encode().hex(), G.TYPE_NAMES[t])
        if t == G.ARRAY:
            et, vals = v
            line += "%s %d" % (G.TYPE_NAMES[et], len(vals)) + "".join(" " + fmt_scalar(et, x) for x in vals)
        else:
            line += fmt_scalar(t, v)
        lines.append(line)
    off = 0
    for name, ttype, ne, data in w.tensors:
        ne4 = list(ne) + [1] * (4 - len(ne))
        lines.append("tensor %s %d %d %d %d %d %d %d %d %016x" % (
            name.encode().hex(), ttype, max(len(ne), 1), ne4[0], ne4[1], ne4[2], ne4[3], off, len(data),
            fnv1a(data)))
        off += G.pad(len(data), w.alignment)
    return lines


def all_types_writer(alignment, n_tensors, seed, version=3):
    rng = np.random.default_rng(seed)
    w = G.Writer(alignment=alignment, version=version)
    w.add("general.architecture", G.STRING, "llama")
    w.add("general.name", G.STRING, "caf\u00e9 \u2581x \"q\" \n\t")
    w.add("t.u8", G.UINT8, 255)
    w.add("t.i8", G.INT8, -128)
    w.add("t.u16", G.UINT16, 65535)
    w.add("t.i16", G.INT16, -32768)
    w.add("t.u32", G.UINT32, 4294967295)
    w.add("t.i32", G.INT32, -2147483648)
    w.add("t.u64", G.UINT64, 2 ** 64 - 1)
    w.add("t.i64", G.INT64, -(2 ** 63))
    w.add("t.f32", G.FLOAT32, float(np.float32(1e-5)))
    w.add("t.f64", G.FLOAT64, -1.0 / 3.0)
    w.add("t.bool", G.BOOL, True)
    w.add("t.false", G.BOOL, False)
    w.add("t.empty", G.STRING, "")
    w.add("t.bytes", G.STRING, b"\x00\xff\x01")
    for et, vals in [(G.UINT8, [0, 7, 255]), (G.INT8, [-128, 127]), (G.UINT16, [65535]), (G.INT16, [-2, 2]),
                     (G.UINT32, list(range(50))), (G.INT32, [-1] * 3), (G.UINT64, [2 ** 64 - 1, 0]),
                     (G.INT64, [-(2 ** 63), 5]), (G.FLOAT32, [0.5, -0.0, float(np.float32(3.3))]),
                     (G.FLOAT64, [1e308, 5e-324]), (G.BOOL, [True, False, True]),
                     (G.STRING, ["a", "", "\u2581b c", "x" * 300])]:
        w.add("arr." + G.TYPE_NAMES[et], G.ARRAY, (et, vals))
        w.add("arr.empty_" + G.TYPE_NAMES[et], G.ARRAY, (et, []))
    w.add("t.u32", G.UINT32, 7)  # replaced in place
    types = [(0, 1), (1, 1), (30, 1), (2, 32), (8, 32), (12, 256), (14, 256), (24, 1), (26, 1), (28, 1)]
    for i in range(n_tensors):
        ttype, blk = types[i % len(types)]
        nd = 1 + i % 4
        ne = [blk * int(rng.integers(1, 3))] + [int(rng.integers(1, 4)) for _ in range(nd - 1)]
        nbytes = G.tensor_nbytes(ttype, ne + [1] * (4 - nd))
        w.add_tensor("blk.%d.weight_%d" % (i // 3, i), ttype, ne, rng.integers(0, 256, nbytes, dtype=np.uint8))
    return w


def run_dump(path):
    return subprocess.run([DUMP, path], capture_output=True, text=True)


# --- (a) numpy writes, C reads -----------------------------------------------
for alignment, n_tensors, version in [(None, 12, 3), (32, 3, 3), (64, 25, 3), (128, 40, 3), (64, 0, 3),
                                      (None, 5, 2)]:
    w = all_types_writer(alignment, n_tensors, seed=n_tensors, version=version)
    blob = w.to_bytes()
    path = os.path.join(TMP, "oracle_np_%s_%d_v%d.gguf" % (alignment, n_tensors, version))
    with open(path, "wb") as f:
        f.write(blob)
    r = run_dump(path)
    if r.returncode != 0:
        check(False, "gguf_dump failed on %s: %s" % (path, r.stderr.strip()))
        continue
    got = r.stdout.splitlines()
    want = expected_dump(w, blob)
    check(len(got) == len(want), "%s: %d dump lines, expected %d" % (path, len(got), len(want)))
    for a, b in zip(got, want):
        if a != b:
            check(False, "%s:\n  C   : %s\n  want: %s" % (path, a[:300], b[:300]))
            break
    else:
        print("ok: C reader matches numpy writer for %s" % os.path.basename(path))

# --- (b) C writes, numpy reads -------------------------------------------------


def pattern(i, n):
    return bytes(((i * 37 + j * 11) & 0xFF) for j in range(n))


def sample_writer(alignment):
    w = G.Writer(alignment=None)
    w.add("general.architecture", G.STRING, "llama")
    if alignment != 32:
        w.add("general.alignment", G.UINT32, alignment)
    for k, t, v in [("s.u8", G.UINT8, 200), ("s.i8", G.INT8, -100), ("s.u16", G.UINT16, 60000),
                    ("s.i16", G.INT16, -30000), ("s.u32", G.UINT32, 4000000000), ("s.i32", G.INT32, -2000000000),
                    ("s.u64", G.UINT64, 18000000000000000000), ("s.i64", G.INT64, -9000000000000000000),
                    ("s.f32", G.FLOAT32, float(np.float32(0.1))), ("s.f64", G.FLOAT64, -2.5e-300),
                    ("s.bool", G.BOOL, True), ("s.str", G.STRING, "caf\u00e9 \"q\"\n"), ("s.empty", G.STRING, ""),
                    ("s.replaced", G.UINT32, 2)]:
        w.add(k, t, v)
    for et, vals in [(G.UINT8, [0, 1, 255]), (G.INT8, [-128, 127]), (G.UINT16, [1, 65535]), (G.INT16, [-1, 300]),
                     (G.UINT32, [0, 4294967295, 7]), (G.INT32, [-5, 5]), (G.UINT64, [1, 2 ** 64 - 1]),
                     (G.INT64, [-1, 2 ** 63 - 1]), (G.FLOAT32, [1.5, -0.0, 3.25]), (G.FLOAT64, [1e-10, 2.0]),
                     (G.BOOL, [True, False])]:
        w.add("a." + G.TYPE_NAMES[et], G.ARRAY, (et, vals))
    w.add("a.empty", G.ARRAY, (G.INT32, []))
    w.add("a.str", G.ARRAY, (G.STRING, ["hello", "", "\u2581world"]))
    w.add("a.str_empty", G.ARRAY, (G.STRING, []))
    w.add_tensor("w.f32", 0, [4, 3], (np.arange(12, dtype=np.float32) * 0.5 - 1).astype("<f4"))
    for i, (name, t, ne) in enumerate([("w.f16", 1, [5, 2, 3]), ("w.q8_0", 8, [64, 2]), ("w.q4_0", 2, [96]),
                                       ("w.q4_K", 12, [256, 2]), ("w.q6_K", 14, [256]), ("w.bf16", 30, [3, 2, 2, 2]),
                                       ("w.i32", 26, [7])]):
        w.add_tensor(name, t, ne, pattern(i + 1, G.tensor_nbytes(t, ne + [1] * (4 - len(ne)))))
    return w


if not os.path.exists(SAMPLE):
    check(False, "helper gguf_write_sample missing")
else:
    for alignment in (32, 64, 256):
        path = os.path.join(TMP, "oracle_c_%d.gguf" % alignment)
        r = subprocess.run([SAMPLE, path, str(alignment)], capture_output=True, text=True)
        if r.returncode != 0:
            check(False, "gguf_write_sample failed: %s" % r.stderr.strip())
            continue
        with open(path, "rb") as f:
            blob = f.read()
        want = sample_writer(alignment)
        try:
            g = G.read_gguf(blob)
        except G.GGUFError as e:
            check(False, "%s: numpy reader rejects the C file: %s" % (path, e))
            continue
        check(g.alignment == alignment, "%s: alignment %d" % (path, g.alignment))
        check(list(g.kv.keys()) == [k for k, _, _ in want.kv], "%s: key order %s" % (path, list(g.kv.keys())))
        for k, t, v in want.kv:
            got = g.kv.get(k)
            if t == G.FLOAT32 and got is not None:
                check(got[0] == t and np.float32(got[1]) == np.float32(v), "%s: %s = %r" % (path, k, got))
            else:
                exp = (t, (v[0], list(v[1]))) if t == G.ARRAY else (t, v)
                check(got == exp, "%s: %s = %r, expected %r" % (path, k, got, exp))
        check(list(g.tensors.keys()) == [n for n, _, _, _ in want.tensors], "%s: tensor order" % path)
        for name, t, ne, data in want.tensors:
            tg = g.tensors.get(name)
            if tg is None:
                check(False, "%s: tensor %s missing" % (path, name))
                continue
            check(tg.type == t and tuple(tg.ne) == tuple(ne), "%s: %s type/ne %d %s" % (path, name, tg.type, tg.ne))
            check(tg.data == data, "%s: %s bytes differ" % (path, name))
        arr = g.tensors["w.f32"].array()
        check(arr.shape == (3, 4) and float(arr[2, 3]) == 11 * 0.5 - 1, "w.f32 as numpy: %r" % (arr,))
        check(blob == want.to_bytes(), "%s: C writer bytes differ from the numpy writer's (%d vs %d bytes)"
              % (path, len(blob), len(want.to_bytes())))
        r = run_dump(path)
        check(r.returncode == 0, "gguf_dump cannot read the C file: %s" % r.stderr)
        if not failures:
            print("ok: numpy reader matches C writer, byte-identical, alignment %d" % alignment)

# --- (c) malformed file --------------------------------------------------------
bad = os.path.join(TMP, "oracle_bad.gguf")
blob = all_types_writer(64, 3, seed=1).to_bytes()
with open(bad, "wb") as f:
    f.write(blob[:-100])
r = run_dump(bad)
check(r.returncode == 1 and bad in r.stderr and "data ends at byte" in r.stderr,
      "truncated file: rc %d, stderr %r" % (r.returncode, r.stderr))

U.finish("all GGUF oracle checks passed")
