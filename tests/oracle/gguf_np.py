"""gguf_np.py — an independent, minimal GGUF v2/v3 reader and writer in
numpy, written from the format facts in
shared/reference/gguf-and-llama-formats.md (Q1, Q2) for the test oracles.
It shares no code with the C implementation.

Reading:  g = read_gguf(path_or_bytes)
  g.version, g.alignment, g.data_offset
  g.kv      : dict key -> (type_id, value) in file order; arrays are
              (ARRAY, (elem_type_id, list_of_values)); strings are str when
              valid UTF-8, else bytes; numbers are Python int/float/bool.
  g.tensors : dict name -> Tensor(name, type, ne, offset, data)
              ne is the ggml order tuple (ne[0] innermost, as stored);
              data is the raw bytes; Tensor.array() gives a numpy array of
              numpy shape reversed(ne) for F32/F16/BF16(as uint16)/F64/I8..I64.

Writing:  w = Writer(alignment=32); w.add(key, type_id, value)
          (arrays: w.add(key, ARRAY, (elem_type, values))); w.add_tensor(name,
          type_id, ne, raw_bytes); w.to_bytes() / w.write(path).
"""
import struct

import numpy as np

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
TYPE_NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"]
SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
              FLOAT32: "<f", BOOL: "<B", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
NP_DTYPE = {UINT8: "<u1", INT8: "<i1", UINT16: "<u2", INT16: "<i2", UINT32: "<u4", INT32: "<i4",
            FLOAT32: "<f4", BOOL: "<u1", UINT64: "<u8", INT64: "<i8", FLOAT64: "<f8"}

# ggml type id -> (name, block elements, bytes per block)  (Q2 table)
GGML_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34), 10: ("q2_K", 256, 84),
    11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144), 13: ("q5_K", 256, 176), 14: ("q6_K", 256, 210),
    15: ("q8_K", 256, 292), 20: ("iq4_nl", 32, 18), 23: ("iq4_xs", 256, 136), 24: ("i8", 1, 1),
    25: ("i16", 1, 2), 26: ("i32", 1, 4), 27: ("i64", 1, 8), 28: ("f64", 1, 8), 30: ("bf16", 1, 2),
}
TENSOR_NP = {0: "<f4", 1: "<f2", 30: "<u2", 24: "<i1", 25: "<i2", 26: "<i4", 27: "<i8", 28: "<f8"}

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32


class GGUFError(Exception):
    pass


def pad(x, a):
    return x + (a - x % a) % a


def tensor_nbytes(ttype, ne):
    if ttype not in GGML_TYPES:
        raise GGUFError("unknown tensor type %d" % ttype)
    _, blk, size = GGML_TYPES[ttype]
    if ne[0] % blk:
        raise GGUFError("ne[0]=%d not a multiple of block %d" % (ne[0], blk))
    n = ne[0] // blk * size
    for d in ne[1:]:
        n *= d
    return n


class Tensor:
    def __init__(self, name, ttype, ne, offset, data):
        self.name, self.type, self.ne, self.offset, self.data = name, ttype, tuple(ne), offset, data

    def array(self):
        if self.type not in TENSOR_NP:
            raise GGUFError("no numpy view for type %d" % self.type)
        return np.frombuffer(self.data, dtype=TENSOR_NP[self.type]).reshape(tuple(reversed(self.ne)))


class GGUFFile:
    def __init__(self):
        self.version = 0
        self.alignment = DEFAULT_ALIGNMENT
        self.data_offset = 0
        self.kv = {}
        self.tensors = {}


class _Cursor:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError("truncated at byte %d (need %d)" % (self.pos, n))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.unpack("<Q")
        if n > (1 << 30):
            raise GGUFError("string too long")
        raw = bytes(self.take(n))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw


def _read_value(c, t):
    if t == STRING:
        return c.string()
    if t == ARRAY:
        et = c.unpack("<I")
        n = c.unpack("<Q")
        if et == ARRAY or et >= 13:
            raise GGUFError("bad array element type %d" % et)
        if et == STRING:
            return (et, [c.string() for _ in range(n)])
        arr = np.frombuffer(bytes(c.take(n * struct.calcsize(SCALAR_FMT[et]))), dtype=NP_DTYPE[et])
        vals = [bool(v) for v in arr] if et == BOOL else arr.tolist()
        return (et, vals)
    if t not in SCALAR_FMT:
        raise GGUFError("bad value type %d" % t)
    v = c.unpack(SCALAR_FMT[t])
    return bool(v) if t == BOOL else v


def read_gguf(src):
    """Parse a GGUF file (path, bytes or bytearray)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        buf = bytes(src)
    else:
        with open(src, "rb") as f:
            buf = f.read()
    c = _Cursor(buf)
    g = GGUFFile()
    if c.take(4) != MAGIC:
        raise GGUFError("bad magic")
    g.version = c.unpack("<I")
    if g.version not in (2, 3):
        raise GGUFError("unsupported version %d" % g.version)
    n_tensors = c.unpack("<q")
    n_kv = c.unpack("<q")
    if n_tensors < 0 or n_kv < 0:
        raise GGUFError("negative count")
    for _ in range(n_kv):
        key = c.string()
        if key in g.kv or key == "":
            raise GGUFError("duplicate or empty key %r" % key)
        t = c.unpack("<I")
        g.kv[key] = (t, _read_value(c, t))
    if "general.alignment" in g.kv:
        t, a = g.kv["general.alignment"]
        if t != UINT32 or a == 0 or a & (a - 1):
            raise GGUFError("bad general.alignment")
        g.alignment = a
    infos = []
    for _ in range(n_tensors):
        name = c.string()
        n_dims = c.unpack("<I")
        if n_dims > 4:
            raise GGUFError("too many dims")
        ne = [c.unpack("<q") for _ in range(n_dims)]
        ne += [1] * (4 - len(ne))
        ttype = c.unpack("<i")
        off = c.unpack("<Q")
        infos.append((name, n_dims, ne, ttype, off))
    g.data_offset = pad(c.pos, g.alignment)
    expect = 0
    for name, n_dims, ne, ttype, off in infos:
        if name in g.tensors:
            raise GGUFError("duplicate tensor %r" % name)
        nb = tensor_nbytes(ttype, ne)
        if off != expect:
            raise GGUFError("tensor %r offset %d expected %d" % (name, off, expect))
        start = g.data_offset + off
        if start + nb > len(buf):
            raise GGUFError("tensor %r out of file" % name)
        g.tensors[name] = Tensor(name, ttype, ne[:max(n_dims, 1)], off, buf[start:start + nb])
        expect += pad(nb, g.alignment)
    return g


# --- writer --------------------------------------------------------------------


def _pack_string(s):
    raw = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(raw)) + raw


def _pack_value(t, v):
    if t == STRING:
        return _pack_string(v)
    if t == ARRAY:
        et, vals = v
        out = struct.pack("<IQ", et, len(vals))
        if et == STRING:
            return out + b"".join(_pack_string(s) for s in vals)
        return out + np.asarray(vals, dtype=NP_DTYPE[et]).tobytes()
    if t == BOOL:
        return struct.pack("<B", 1 if v else 0)
    return struct.pack(SCALAR_FMT[t], v)


class Writer:
    def __init__(self, alignment=None, version=3):
        self.version = version
        self.kv = []        # (key, type, value)
        self.tensors = []   # (name, type, ne, bytes)
        self.alignment = DEFAULT_ALIGNMENT
        if alignment is not None:
            self.add("general.alignment", UINT32, alignment)

    def add(self, key, t, value):
        for i, e in enumerate(self.kv):
            if e[0] == key:
                self.kv[i] = (key, t, value)
                break
        else:
            self.kv.append((key, t, value))
        if key == "general.alignment":
            self.alignment = value

    def add_tensor(self, name, ttype, ne, data):
        data = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        ne4 = list(ne) + [1] * (4 - len(ne))
        if tensor_nbytes(ttype, ne4) != len(data):
            raise GGUFError("tensor %r: %d bytes given, %d expected" % (name, len(data), tensor_nbytes(ttype, ne4)))
        self.tensors.append((name, ttype, tuple(ne), data))

    def to_bytes(self):
        a = self.alignment
        out = bytearray(MAGIC)
        out += struct.pack("<IQQ", self.version, len(self.tensors), len(self.kv))
        for key, t, v in self.kv:
            out += _pack_string(key) + struct.pack("<I", t) + _pack_value(t, v)
        off = 0
        for name, ttype, ne, data in self.tensors:
            out += _pack_string(name) + struct.pack("<I", len(ne))
            out += b"".join(struct.pack("<q", d) for d in ne)
            out += struct.pack("<iQ", ttype, off)
            off += pad(len(data), a)
        out += b"\0" * (pad(len(out), a) - len(out))
        for name, ttype, ne, data in self.tensors:
            out += data + b"\0" * (pad(len(data), a) - len(data))
        return bytes(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())
