"""Independent numpy implementation of the ggml block formats, written from
shared/reference/gguf-and-llama-formats.md section Q2 (not from oncolm's C):
dequantizers for F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K and the
reference quantizers of Q8_0, Q4_0 (ggml quantize_row_*_ref) and Q8_K.

All arithmetic is float32 in the same operation order as the reference
formulas, so results are bit-exact comparable with a C implementation that
does not fuse multiply-adds.
"""
import numpy as np

F32 = np.float32
QK = 32
QK_K = 256

# (elements per block, bytes per block)
SIZES = {
    "f32": (1, 4), "f16": (1, 2), "bf16": (1, 2), "q4_0": (32, 18), "q8_0": (32, 34),
    "q4_K": (256, 144), "q5_K": (256, 176), "q6_K": (256, 210), "q8_K": (256, 292),
}


def _blocks(raw, name):
    bs, ts = SIZES[name]
    b = np.frombuffer(bytes(raw), dtype=np.uint8)
    assert b.size % ts == 0, (name, b.size)
    return b.reshape(-1, ts)


def _f16(b2):
    """uint8 [..., 2] -> float32 from little-endian IEEE half."""
    return np.ascontiguousarray(b2).view("<f2").astype(F32)[..., 0]


def dq_f32(raw):
    return np.frombuffer(bytes(raw), dtype="<f4").astype(F32)


def dq_f16(raw):
    return np.frombuffer(bytes(raw), dtype="<f2").astype(F32)


def dq_bf16(raw):
    u = np.frombuffer(bytes(raw), dtype="<u2").astype(np.uint32) << 16
    return u.view(F32)


def dq_q4_0(raw):
    b = _blocks(raw, "q4_0")
    d = _f16(b[:, 0:2])[:, None]
    qs = b[:, 2:18]
    lo = ((qs & 0x0F).astype(np.int32) - 8).astype(F32)
    hi = ((qs >> 4).astype(np.int32) - 8).astype(F32)
    return np.concatenate([lo * d, hi * d], axis=1).reshape(-1)


def dq_q8_0(raw):
    b = _blocks(raw, "q8_0")
    d = _f16(b[:, 0:2])[:, None]
    qs = b[:, 2:34].view(np.int8).astype(F32)
    return (qs * d).reshape(-1)


def _scale_min_k4(scales):
    """scales: uint8 [nb, 12] -> (sc, m) uint8 [nb, 8] (get_scale_min_k4)."""
    q = scales.astype(np.int32)
    sc = np.zeros((q.shape[0], 8), np.int32)
    m = np.zeros((q.shape[0], 8), np.int32)
    for j in range(8):
        if j < 4:
            sc[:, j] = q[:, j] & 63
            m[:, j] = q[:, j + 4] & 63
        else:
            sc[:, j] = (q[:, j + 4] & 0xF) | ((q[:, j - 4] >> 6) << 4)
            m[:, j] = (q[:, j + 4] >> 4) | ((q[:, j] >> 6) << 4)
    return sc, m


def dq_q4_K(raw):
    b = _blocks(raw, "q4_K")
    nb = b.shape[0]
    d = _f16(b[:, 0:2])
    dmin = _f16(b[:, 2:4])
    sc, m = _scale_min_k4(b[:, 4:16])
    qs = b[:, 16:144]
    y = np.zeros((nb, 256), F32)
    for c in range(4):
        q = qs[:, 32 * c:32 * c + 32]
        d1 = (d * sc[:, 2 * c].astype(F32))[:, None]
        m1 = (dmin * m[:, 2 * c].astype(F32))[:, None]
        d2 = (d * sc[:, 2 * c + 1].astype(F32))[:, None]
        m2 = (dmin * m[:, 2 * c + 1].astype(F32))[:, None]
        y[:, 64 * c:64 * c + 32] = d1 * (q & 0xF).astype(F32) - m1
        y[:, 64 * c + 32:64 * c + 64] = d2 * (q >> 4).astype(F32) - m2
    return y.reshape(-1)


def dq_q5_K(raw):
    b = _blocks(raw, "q5_K")
    nb = b.shape[0]
    d = _f16(b[:, 0:2])
    dmin = _f16(b[:, 2:4])
    sc, m = _scale_min_k4(b[:, 4:16])
    qh = b[:, 16:48].astype(np.int32)
    qs = b[:, 48:176]
    y = np.zeros((nb, 256), F32)
    u1, u2 = 1, 2
    for c in range(4):
        ql = qs[:, 32 * c:32 * c + 32].astype(np.int32)
        d1 = (d * sc[:, 2 * c].astype(F32))[:, None]
        m1 = (dmin * m[:, 2 * c].astype(F32))[:, None]
        d2 = (d * sc[:, 2 * c + 1].astype(F32))[:, None]
        m2 = (dmin * m[:, 2 * c + 1].astype(F32))[:, None]
        lo = (ql & 0xF) + np.where(qh & u1, 16, 0)
        hi = (ql >> 4) + np.where(qh & u2, 16, 0)
        y[:, 64 * c:64 * c + 32] = d1 * lo.astype(F32) - m1
        y[:, 64 * c + 32:64 * c + 64] = d2 * hi.astype(F32) - m2
        u1 <<= 2
        u2 <<= 2
    return y.reshape(-1)


def dq_q6_K(raw):
    b = _blocks(raw, "q6_K")
    nb = b.shape[0]
    ql_all = b[:, 0:128].astype(np.int32)
    qh_all = b[:, 128:192].astype(np.int32)
    sc_all = b[:, 192:208].view(np.int8).astype(F32)
    d = _f16(b[:, 208:210])[:, None]
    y = np.zeros((nb, 256), F32)
    for h in range(2):
        ql = ql_all[:, 64 * h:64 * h + 64]
        qh = qh_all[:, 32 * h:32 * h + 32]
        sc = sc_all[:, 8 * h:8 * h + 8]
        for l in range(32):
            is_ = l // 16
            q1 = ((ql[:, l] & 0xF) | (((qh[:, l] >> 0) & 3) << 4)) - 32
            q2 = ((ql[:, l + 32] & 0xF) | (((qh[:, l] >> 2) & 3) << 4)) - 32
            q3 = ((ql[:, l] >> 4) | (((qh[:, l] >> 4) & 3) << 4)) - 32
            q4 = ((ql[:, l + 32] >> 4) | (((qh[:, l] >> 6) & 3) << 4)) - 32
            base = 128 * h
            y[:, base + l] = (d[:, 0] * sc[:, is_]) * q1.astype(F32)
            y[:, base + l + 32] = (d[:, 0] * sc[:, is_ + 2]) * q2.astype(F32)
            y[:, base + l + 64] = (d[:, 0] * sc[:, is_ + 4]) * q3.astype(F32)
            y[:, base + l + 96] = (d[:, 0] * sc[:, is_ + 6]) * q4.astype(F32)
    return y.reshape(-1)


def dq_q8_K(raw):
    b = _blocks(raw, "q8_K")
    d = np.ascontiguousarray(b[:, 0:4]).view("<f4").astype(F32)
    qs = b[:, 4:260].view(np.int8).astype(F32)
    return (d * qs).reshape(-1)


DEQUANT = {"f32": dq_f32, "f16": dq_f16, "bf16": dq_bf16, "q4_0": dq_q4_0, "q8_0": dq_q8_0,
           "q4_K": dq_q4_K, "q5_K": dq_q5_K, "q6_K": dq_q6_K, "q8_K": dq_q8_K}


def _roundf(v):
    """C roundf: half away from zero (computed exactly in float64)."""
    v64 = v.astype(np.float64)
    return (np.sign(v64) * np.floor(np.abs(v64) + 0.5)).astype(F32)


def q_q8_0(x):
    """ggml quantize_row_q8_0_ref. x float32 [n] -> bytes."""
    x = np.asarray(x, F32).reshape(-1, QK)
    amax = np.max(np.abs(x), axis=1)
    d = (amax / F32(127)).astype(F32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), F32(0)).astype(F32)
    q = _roundf((x * idv[:, None]).astype(F32)).astype(np.int8)
    out = np.zeros((x.shape[0], 34), np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def q_q4_0(x):
    """ggml quantize_row_q4_0_ref: d = max/-8 (max: value of largest |x|,
    first on ties), q = min(15, (int8)(x/d + 8.5))."""
    x = np.asarray(x, F32).reshape(-1, QK)
    idx = np.argmax(np.abs(x), axis=1)
    mx = x[np.arange(x.shape[0]), idx]
    d = (mx / F32(-8)).astype(F32)
    idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), F32(0)).astype(F32)
    v = ((x * idv[:, None]).astype(F32) + F32(8.5)).astype(F32)
    q = np.minimum(15, np.trunc(v).astype(np.int32)).astype(np.uint8)
    out = np.zeros((x.shape[0], 18), np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def q_q8_K(x):
    """ggml quantize_row_q8_K_ref: iscale = -127/max (max: signed value of
    largest |x|), q = min(127, nearest_int(iscale*x)) with ties to even,
    d = 1/iscale, bsums of each 16."""
    x = np.asarray(x, F32).reshape(-1, QK_K)
    out = np.zeros((x.shape[0], 292), np.uint8)
    for i, row in enumerate(x):
        k = int(np.argmax(np.abs(row)))
        mx = row[k]
        if abs(mx) == 0:
            continue
        iscale = F32(F32(-127) / mx)
        q = np.minimum(127, np.rint((iscale * row).astype(F32)).astype(np.int32)).astype(np.int8)
        out[i, 0:4] = np.array([F32(1) / iscale], "<f4").view(np.uint8)
        out[i, 4:260] = q.view(np.uint8)
        out[i, 260:292] = q.astype(np.int32).reshape(16, 16).sum(1).astype("<i2").view(np.uint8)
    return out.tobytes()


def q_f16(x):
    return np.asarray(x, F32).astype("<f2").tobytes()


def q_bf16(x):
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, F32))
    r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r.astype("<u2").tobytes()
