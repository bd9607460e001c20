"""gguf_make_corpus.py — (re)generate the seed corpus fuzz/corpus/gguf/ for
fuzz/fuzz_gguf.c with the independent numpy writer (gguf_np.py): small valid
files (every value type, tensors of several types, alignment 64/128, v2)
and malformed variants (truncations, bad counts, nested arrays, bad
alignment, bad offsets). Each file < 4 KB. Usage:
    /usr/bin/python3 tests/oracle/gguf_make_corpus.py [OUTDIR]
Not a test itself (no test_ prefix)."""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_np as G  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "fuzz", "corpus", "gguf")
os.makedirs(out, exist_ok=True)


def save(name, blob):
    assert len(blob) < 4096, (name, len(blob))
    with open(os.path.join(out, name), "wb") as f:
        f.write(blob)


def meta_writer(alignment=None, version=3):
    w = G.Writer(alignment=alignment, version=version)
    w.add("general.architecture", G.STRING, "llama")
    w.add("general.name", G.STRING, "t\u00e9st")
    w.add("llama.block_count", G.UINT32, 2)
    w.add("llama.rope.freq_base", G.FLOAT32, 10000.0)
    w.add("x.u8", G.UINT8, 7)
    w.add("x.i8", G.INT8, -7)
    w.add("x.u16", G.UINT16, 700)
    w.add("x.i16", G.INT16, -700)
    w.add("x.i32", G.INT32, -70000)
    w.add("x.u64", G.UINT64, 2 ** 40)
    w.add("x.i64", G.INT64, -(2 ** 40))
    w.add("x.f64", G.FLOAT64, 0.25)
    w.add("x.bool", G.BOOL, True)
    w.add("tokenizer.ggml.tokens", G.ARRAY, (G.STRING, ["<s>", "</s>", "a", ""]))
    w.add("tokenizer.ggml.scores", G.ARRAY, (G.FLOAT32, [0.0, -1.0, -2.0, -3.0]))
    w.add("tokenizer.ggml.token_type", G.ARRAY, (G.INT32, [3, 3, 1, 1]))
    w.add("x.empty", G.ARRAY, (G.UINT8, []))
    return w


def tensors(w, spec):
    for name, t, ne in spec:
        nb = G.tensor_nbytes(t, list(ne) + [1] * (4 - len(ne)))
        w.add_tensor(name, t, ne, bytes((i * 13) & 0xFF for i in range(nb)))
    return w


save("valid_meta_only.gguf", meta_writer().to_bytes())
save("valid_empty.gguf", G.Writer().to_bytes())
save("valid_v2.gguf", tensors(meta_writer(version=2), [("a", 0, [4, 2])]).to_bytes())
base = tensors(meta_writer(), [("tok_embd.weight", 0, [8, 4]), ("norm", 1, [8]), ("q", 8, [32, 2]),
                               ("q4", 2, [32]), ("bf", 30, [3, 1, 2]), ("i", 26, [2, 2, 2, 2])])
valid = base.to_bytes()
save("valid_tensors.gguf", valid)
save("valid_align64.gguf", tensors(meta_writer(64), [("a", 0, [5]), ("b", 8, [32]), ("c", 1, [3, 3])]).to_bytes())
save("valid_align128.gguf", tensors(G.Writer(alignment=128), [("k", 12, [256]), ("z", 0, [1])]).to_bytes())

# malformed variants
save("bad_truncated_header.gguf", valid[:20])
save("bad_truncated_kv.gguf", valid[:200])
save("bad_truncated_data.gguf", valid[:-40])
b = bytearray(valid); b[4:8] = struct.pack("<I", 1); save("bad_version1.gguf", bytes(b))
b = bytearray(valid); b[4:8] = struct.pack(">I", 3); save("bad_bigendian.gguf", bytes(b))
b = bytearray(valid); b[8:16] = struct.pack("<q", -1); save("bad_negative_tensors.gguf", bytes(b))
b = bytearray(valid); b[16:24] = struct.pack("<Q", 2 ** 62); save("bad_huge_kv.gguf", bytes(b))


def raw(n_tensors, n_kv, body):
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + body


def s(x):
    return struct.pack("<Q", len(x)) + x


save("bad_nested_array.gguf", raw(0, 1, s(b"k") + struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 0, 1) + b"\0"))
save("bad_value_type.gguf", raw(0, 1, s(b"k") + struct.pack("<II", 13, 0)))
save("bad_alignment.gguf", raw(0, 1, s(b"general.alignment") + struct.pack("<II", 4, 48)))
save("bad_dup_key.gguf", raw(0, 2, (s(b"k") + struct.pack("<II", 4, 1)) * 2))
ti = s(b"t") + struct.pack("<I", 1) + struct.pack("<q", 8) + struct.pack("<iQ", 0, 0)
hdr_only = raw(2, 0, ti + ti)
save("bad_dup_tensor.gguf", hdr_only + bytes(-len(hdr_only) % 32) + bytes(64))
ti5 = s(b"t") + struct.pack("<I", 5) + struct.pack("<5q", 1, 1, 1, 1, 1) + struct.pack("<iQ", 0, 0)
save("bad_ndims5.gguf", raw(1, 0, ti5) + bytes(64))
tio = s(b"t") + struct.pack("<I", 1) + struct.pack("<q", 8) + struct.pack("<iQ", 0, 32)
x = raw(1, 0, tio)
save("bad_offset.gguf", x + bytes(-len(x) % 32) + bytes(96))
print("wrote corpus to", out)
