/* vecindex_faiss.cpp — the C++ bridge between oncolm/vecindex.h and FAISS
 * 1.7.3 (Debian ships FAISS's C API headers without their implementation).
 * Semantics, defaults, file format and thread-safety: include/oncolm/
 * vecindex.h. The file format itself (header, checksums, validation, atomic
 * write, onc_vecindex_read_stamp) is plain C in vecindex_file.c
 * (vecindex_internal.h); this file streams FAISS's payload in and out of it.
 * Rules kept here:
 *   - every exported function is `extern "C"` and catches everything (FAISS
 *     exceptions become onc_errors, std::bad_alloc ONC_ERR_NOMEM);
 *   - nothing prints (k-means gets >= 39 points per list and
 *     min_points_per_centroid = 1, so FAISS never warns on stderr);
 *   - ThreadScope sets the OpenMP thread count for a call and restores the
 *     caller's; OpenBLAS runs single-threaded (as in src/compute) and exact
 *     work is split between our own threads in one parallel region
 *     (split_search), scoring through onc_vec_exact_topk (OpenBLAS picks
 *     AVX2/AVX-512 at run time; Debian's FAISS is built for baseline x86-64,
 *     so this is about twice as fast as its flat scan for single queries).
 * FAISS 1.7.3 facts relied on (checked against the installed library):
 * IndexHNSW (SearchParametersHNSW) and IndexIVF honour SearchParameters::sel
 * but IndexIDMap rejects any SearchParameters, so EXACT and HNSW search the
 * sub-index and translate positions through IndexIDMap::id_map themselves;
 * IndexHNSW ignores SearchParametersHNSW::efSearch (it reads hnsw.efSearch:
 * another efSearch means mutating the index under the exclusive lock);
 * IndexIVF honours SearchParametersIVF::nprobe per call. */
#include "oncolm/vecindex.h"

#include "oncolm/rng.h"
#include "vecindex_internal.h"

#include <cblas.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <type_traits>
#include <vector>

using idx_t = faiss::Index::idx_t;
static_assert(std::is_same<idx_t, int64_t>::value || sizeof(idx_t) == sizeof(int64_t),
              "FAISS ids must be 64-bit");

/* ------------------------------------------------------------------------ */
/* The index object                                                          */
/* ------------------------------------------------------------------------ */

struct onc_vecindex {
    onc_vec_kind kind = ONC_VEC_EXACT;
    int dim = 0;
    int hnsw_m = 0, hnsw_efc = 0, hnsw_efs = 0; /* HNSW, else 0 */
    int ivf_nlist = 0, ivf_nprobe = 0;          /* IVF, else 0 */
    int n_threads = 0;                          /* resolved default (>= 1) */
    int64_t built_count = 0;                    /* vectors at build time */
    std::unique_ptr<faiss::Index> index;        /* owns everything below */
    faiss::IndexIDMap *idmap = nullptr;         /* EXACT, HNSW */
    faiss::IndexFlat *flat = nullptr;           /* EXACT: the sub-index; HNSW: the storage */
    faiss::IndexHNSWFlat *hnsw = nullptr;       /* HNSW */
    faiss::IndexIVFFlat *ivf = nullptr;         /* IVF (== index) */
    std::vector<int64_t> ids_sorted;            /* every id held, ascending */
    std::vector<int64_t> pos_sorted;            /* where ids_sorted[i] lives: EXACT, HNSW: flat
                                                   position; IVF: list << 32 | offset */
    std::vector<int64_t> dense_pos;             /* dense ids: pos_sorted entry of id dense_lo + i, or -1 */
    int64_t dense_lo = 0;
    char stamp[ONC_VEC_STAMP_MAX + 1] = {0};    /* loaded with / last saved with */
    mutable std::shared_mutex mu;
};

namespace {

/* the file format (header, checksum, atomic write): vecindex_file.c */
constexpr size_t kHeaderSize = ONC_VECFILE_HEADER_SIZE;
constexpr int kMaxParam = ONC_VECFILE_PARAM_MAX;
constexpr double kParallelWork = 4e6;  /* multiply-adds worth one more thread */
constexpr int64_t kFilterBoostMax = 16;

/* ---- errors ------------------------------------------------------------- */

/* The useful tail of a FAISS message: "Error in <function> at <file>:<line>:
 * Error: 'cond' failed: msg" -> "'cond' failed: msg". */
std::string faiss_msg(const char *what) {
    std::string s(what ? what : "unknown error");
    size_t at = s.find(" at ");
    if (s.rfind("Error in ", 0) == 0 && at != std::string::npos) {
        size_t colon = s.find(": ", at);
        if (colon != std::string::npos) s = s.substr(colon + 2);
    }
    if (s.rfind("Error: ", 0) == 0) s = s.substr(7);
    return s;
}

/* Turn the exception in flight into an onc_error prefixed with ctx. Must be
 * called from inside a catch block. */
onc_status error_from_exception(onc_error *err, const std::string &ctx) {
    try {
        throw;
    } catch (const std::bad_alloc &) {
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", ctx.c_str());
    } catch (const faiss::FaissException &e) {
        return onc_error_set(err, ONC_ERR_INVALID, "%s: FAISS: %s", ctx.c_str(), faiss_msg(e.what()).c_str());
    } catch (const std::exception &e) {
        return onc_error_set(err, ONC_ERR_INVALID, "%s: %s", ctx.c_str(), e.what());
    } catch (...) {
        return onc_error_set(err, ONC_ERR_INVALID, "%s: unknown C++ exception", ctx.c_str());
    }
}

/* ---- threads ------------------------------------------------------------ */

int all_cores() {
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

/* Sets the calling thread's OpenMP thread count for a scope, restores it. */
class ThreadScope {
  public:
    explicit ThreadScope(int n) : prev_(omp_get_max_threads()) {
        /* as in src/compute: OpenBLAS runs single-threaded inside our threads */
        static std::once_flag blas_once;
        std::call_once(blas_once, [] { openblas_set_num_threads(1); });
        omp_set_num_threads(n > 0 ? n : 1);
    }
    ~ThreadScope() { omp_set_num_threads(prev_); }
    ThreadScope(const ThreadScope &) = delete;
    ThreadScope &operator=(const ThreadScope &) = delete;

  private:
    int prev_;
};

int call_threads(const onc_vecindex *ix, const onc_vec_search_opts *o) {
    if (o && o->n_threads > 0) return o->n_threads;
    return ix->n_threads;
}

/* ---- FAISS I/O adapters ------------------------------------------------------ */

/* Buffered writer to a file descriptor that checksums (onc_vecfile_sum) and
 * counts what FAISS writes. On a failed write it returns 0 items (FAISS then
 * throws) and keeps errno for the message. */
struct FdWriter : faiss::IOWriter {
    int fd;
    onc_vecfile_sum sum;
    uint64_t bytes = 0;
    int saved_errno = 0;
    std::vector<uint8_t> buf;

    explicit FdWriter(int f) : fd(f) {
        onc_vecfile_sum_init(&sum);
        buf.reserve(1 << 20);
    }
    ~FdWriter() noexcept(false) override {}

    bool write_all(const uint8_t *p, size_t n) {
        saved_errno = onc_vecfile_write_all(fd, p, n);
        return saved_errno == 0;
    }
    bool flush() {
        bool ok = write_all(buf.data(), buf.size());
        buf.clear();
        return ok;
    }
    size_t operator()(const void *ptr, size_t size, size_t nitems) override {
        if (saved_errno) return 0;
        size_t n = size * nitems;
        if (nitems && n / nitems != size) return 0;
        if (n == 0) return nitems;
        const uint8_t *p = static_cast<const uint8_t *>(ptr);
        onc_vecfile_sum_update(&sum, p, n);
        bytes += n;
        if (buf.size() + n <= buf.capacity()) {
            buf.insert(buf.end(), p, p + n);
            return nitems;
        }
        if (!flush() || !write_all(p, n)) return 0;
        return nitems;
    }
};

/* Bounds-checked reader over a memory span (the mapped payload). Returns
 * only whole items; fewer at the end, which FAISS reports as a read error. */
struct SpanReader : faiss::IOReader {
    const uint8_t *p;
    size_t n, pos = 0;
    SpanReader(const uint8_t *data, size_t size) : p(data), n(size) {}
    size_t operator()(void *ptr, size_t size, size_t nitems) override {
        if (size == 0 || nitems == 0) return 0;
        size_t avail = (n - pos) / size;
        size_t take = std::min(avail, nitems);
        memcpy(ptr, p + pos, take * size);
        pos += take * size;
        return take;
    }
};

/* ---- the allowed-id set ---------------------------------------------------- */

/* Membership in the caller's allowed ids: a bitmap over [lo, hi] when the
 * span is at most 256 bits per id (+64 Ki), else binary search in a sorted
 * array (the caller's when already ascending, else a sorted copy). */
class AllowSet {
  public:
    void init(const int64_t *ids, int64_t n) {
        n_ = (size_t)std::max<int64_t>(n, 0);
        ids_ = ids;
        if (!std::is_sorted(ids, ids + n_)) {
            own_.assign(ids, ids + n_);
            std::sort(own_.begin(), own_.end());
            ids_ = own_.data();
        }
        if (n_ == 0) return;
        lo_ = ids_[0];
        hi_ = ids_[n_ - 1];
        unsigned long long span = (unsigned long long)hi_ - (unsigned long long)lo_;
        if (span <= 256ULL * n_ + 65536ULL) {
            bits_.assign((size_t)(span / 64 + 1), 0);
            for (size_t i = 0; i < n_; i++) {
                uint64_t o = (uint64_t)ids_[i] - (uint64_t)lo_;
                bits_[o >> 6] |= 1ULL << (o & 63);
            }
        }
    }
    bool member(int64_t id) const {
        if (n_ == 0 || id < lo_ || id > hi_) return false;
        if (!bits_.empty()) {
            uint64_t o = (uint64_t)id - (uint64_t)lo_;
            return (bits_[o >> 6] >> (o & 63)) & 1;
        }
        return std::binary_search(ids_, ids_ + n_, id);
    }
    const int64_t *data() const { return ids_; }
    size_t size() const { return n_; }

    /* Flat positions (ascending) of the distinct allowed ids held, given the
     * index's sorted ids and their positions. */
    std::vector<int64_t> positions(const std::vector<int64_t> &sorted_ids, const std::vector<int64_t> &pos) const {
        std::vector<int64_t> rows;
        const size_t N = sorted_ids.size();
        const double logn = std::log2((double)N + 2);
        if ((double)n_ * logn < (double)(n_ + N)) {
            for (size_t i = 0; i < n_; i++) {
                if (i && ids_[i] == ids_[i - 1]) continue;
                auto it = std::lower_bound(sorted_ids.begin(), sorted_ids.end(), ids_[i]);
                if (it != sorted_ids.end() && *it == ids_[i]) rows.push_back(pos[(size_t)(it - sorted_ids.begin())]);
            }
        } else {
            size_t i = 0, j = 0;
            while (i < n_ && j < N) {
                if (ids_[i] < sorted_ids[j]) i++;
                else if (ids_[i] > sorted_ids[j]) j++;
                else {
                    rows.push_back(pos[j]);
                    int64_t v = ids_[i];
                    while (i < n_ && ids_[i] == v) i++;
                    j++;
                }
            }
        }
        std::sort(rows.begin(), rows.end()); /* memory order */
        return rows;
    }

  private:
    const int64_t *ids_ = nullptr;
    size_t n_ = 0;
    std::vector<int64_t> own_;
    int64_t lo_ = 0, hi_ = -1;
    std::vector<uint64_t> bits_;
};

/* FAISS selector over internal positions: position i (+ offset) is mapped to
 * its id through map (NULL: the position is the id) and tested. */
struct AllowSelector : faiss::IDSelector {
    const AllowSet *set;
    const idx_t *map;
    idx_t offset;
    AllowSelector(const AllowSet *s, const idx_t *m, idx_t off) : set(s), map(m), offset(off) {}
    bool is_member(idx_t i) const override { return set->member(map ? map[i + offset] : i + offset); }
};

/* ---- search helpers ------------------------------------------------------------ */

/* How many threads a job of `work` multiply-adds deserves: one per
 * kParallelWork (a thread wake-up costs more than a small job, and much
 * more on a loaded machine), at most nthreads. */
int threads_for(double work, int nthreads) {
    double t = work / kParallelWork;
    return t < 2 ? 1 : (int)std::min<double>(nthreads, t);
}

/* Run job(t, T) for t in [0, T) on T threads (T == 1: on the caller), and
 * rethrow the first exception any of them raised. */
template <class Job>
void run_split(int T, Job job) {
    if (T <= 1) {
        job(0, 1);
        return;
    }
    std::vector<std::string> errs((size_t)T);
    bool oom = false;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        try {
            job(t, T);
        } catch (const std::bad_alloc &) {
#pragma omp critical(onc_vec_oom)
            oom = true;
        } catch (const std::exception &e) {
            errs[(size_t)t] = e.what();
        } catch (...) {
            errs[(size_t)t] = "unknown error";
        }
    }
    if (oom) throw std::bad_alloc();
    for (auto &e : errs)
        if (!e.empty()) throw faiss::FaissException(e);
}

/* Merge T per-shard result blocks (each nq x k, best first, -1 padded) into
 * D / I: per query the k best by (score desc, id asc). */
void merge_shards(int T, int64_t nq, int64_t k, const float *sd, const idx_t *si, float *D, idx_t *I) {
    std::vector<std::pair<float, idx_t>> cand;
    for (int64_t qi = 0; qi < nq; qi++) {
        cand.clear();
        for (int t = 0; t < T; t++)
            for (int64_t j = 0; j < k; j++) {
                size_t o = ((size_t)t * nq + qi) * k + j;
                if (si[o] >= 0) cand.emplace_back(sd[o], si[o]);
            }
        size_t m = std::min<size_t>(cand.size(), (size_t)k);
        std::partial_sort(cand.begin(), cand.begin() + m, cand.end(),
                          [](const std::pair<float, idx_t> &a, const std::pair<float, idx_t> &b) {
                              return a.first > b.first || (a.first == b.first && a.second < b.second);
                          });
        for (int64_t j = 0; j < k; j++) {
            D[qi * k + j] = (size_t)j < m ? cand[j].first : -INFINITY;
            I[qi * k + j] = (size_t)j < m ? cand[j].second : -1;
        }
    }
}

/* Shard-and-merge driver shared by the exact searches below: with at least
 * T queries each thread takes a block of queries over all vectors; with
 * fewer, each takes a range of vectors for all queries and the per-range
 * top-k lists are merged. shard(q0, q1, v0, v1, D, I) fills rows [q0, q1)
 * over vectors [v0, v1) (ids, not positions, in I). */
template <class Shard>
void split_search(int64_t N, int64_t nq, int64_t k, float *D, idx_t *I, int T, Shard shard) {
    T = (int)std::max<int64_t>(1, std::min<int64_t>(T, std::max(nq, N / 1024)));
    if (T <= 1) {
        shard(0, nq, 0, N, D, I);
    } else if (nq >= T) {
        run_split(T, [&](int t, int TT) {
            int64_t q0 = nq * t / TT, q1 = nq * (t + 1) / TT;
            shard(q0, q1, 0, N, D + q0 * k, I + q0 * k);
        });
    } else {
        std::vector<float> sd((size_t)T * nq * k);
        std::vector<idx_t> si((size_t)T * nq * k);
        run_split(T, [&](int t, int TT) {
            shard(0, nq, N * t / TT, N * (t + 1) / TT, sd.data() + (size_t)t * nq * k, si.data() + (size_t)t * nq * k);
        });
        merge_shards(T, nq, k, sd.data(), si.data(), D, I);
    }
}

/* Exact unfiltered top-k over xb[0..N) (row ids row_ids, NULL = positions)
 * through onc_vec_exact_topk (OpenBLAS sgemv/sgemm tiles: about twice as
 * fast for single queries as FAISS 1.7.3's generic-x86 flat scan), split
 * between up to nthreads threads. */
void exact_plain(const float *xb, int64_t N, int d, const int64_t *row_ids, const float *q, int64_t nq, int64_t k,
                 float *D, idx_t *I, int nthreads) {
    const int T = threads_for((double)nq * N * d, nthreads);
    split_search(N, nq, k, D, I, T, [&](int64_t q0, int64_t q1, int64_t v0, int64_t v1, float *dd, idx_t *ii) {
        onc_error e = {ONC_OK, {0}};
        if (v1 <= v0) {
            for (int64_t j = 0; j < (q1 - q0) * k; j++) {
                dd[j] = -INFINITY;
                ii[j] = -1;
            }
            return;
        }
        onc_status st = onc_vec_exact_topk(xb + v0 * d, v1 - v0, d, row_ids ? row_ids + v0 : nullptr, nullptr, 0,
                                           q + q0 * d, q1 - q0, (int)k, dd, reinterpret_cast<int64_t *>(ii), &e);
        if (st == ONC_ERR_NOMEM) throw std::bad_alloc();
        if (st != ONC_OK) throw faiss::FaissException(e.msg);
        if (!row_ids && v0)
            for (int64_t j = 0; j < (q1 - q0) * k; j++)
                if (ii[j] >= 0) ii[j] += v0;
    });
}

/* Exact top-k over the listed flat positions rows (ascending) of f, ids
 * through map: onc_vec_exact_topk on the gathered rows, split between
 * threads. Costs O(rows * dim), independent of the index size: this is
 * the filtered search of EXACT and the exact fallback of HNSW. */
void exact_rows(const faiss::IndexFlat *f, const idx_t *map, const std::vector<int64_t> &rows, const float *q,
                int64_t nq, int64_t k, float *D, idx_t *I, int nthreads) {
    const int d = (int)f->d;
    const int64_t R = (int64_t)rows.size();
    const int T = threads_for((double)nq * R * d, nthreads);
    split_search(R, nq, k, D, I, T, [&](int64_t q0, int64_t q1, int64_t r0, int64_t r1, float *dd, idx_t *ii) {
        onc_error e = {ONC_OK, {0}};
        onc_status st = onc_vec_exact_topk(f->get_xb(), f->ntotal, d, reinterpret_cast<const int64_t *>(map),
                                           rows.data() + r0, r1 - r0, q + q0 * d, q1 - q0, (int)k, dd,
                                           reinterpret_cast<int64_t *>(ii), &e);
        if (st == ONC_ERR_NOMEM) throw std::bad_alloc();
        if (st != ONC_OK) throw faiss::FaissException(e.msg);
    });
}

/* Merge a block of per-query top-k lists (bd / bi) into the running lists
 * (D / I), both best first with -1 padding: (score desc, id asc). */
void merge_into(int64_t nq, int64_t k, float *D, idx_t *I, const float *bd, const idx_t *bi) {
    std::vector<float> md((size_t)k);
    std::vector<idx_t> mi((size_t)k);
    for (int64_t q = 0; q < nq; q++) {
        const float *ad = D + q * k, *cd = bd + q * k;
        const idx_t *ai = I + q * k, *ci = bi + q * k;
        int64_t a = 0, c = 0;
        for (int64_t j = 0; j < k; j++) {
            const bool a_ok = a < k && ai[a] >= 0, c_ok = c < k && ci[c] >= 0;
            if (a_ok && (!c_ok || ad[a] > cd[c] || (ad[a] == cd[c] && ai[a] < ci[c]))) {
                md[(size_t)j] = ad[a];
                mi[(size_t)j] = ai[a++];
            } else if (c_ok) {
                md[(size_t)j] = cd[c];
                mi[(size_t)j] = ci[c++];
            } else {
                md[(size_t)j] = -INFINITY;
                mi[(size_t)j] = -1;
            }
        }
        memcpy(D + q * k, md.data(), (size_t)k * sizeof(float));
        memcpy(I + q * k, mi.data(), (size_t)k * sizeof(idx_t));
    }
}

/* Exact top-k over IVF vectors given by locations (list << 32 | offset,
 * ascending): IVFFlat lists hold the raw floats, so blocks of them are
 * gathered and scored with onc_vec_exact_topk, split between threads.
 * O(locations * dim), independent of the index size. */
void ivf_exact_rows(const faiss::IndexIVFFlat *ivf, const std::vector<int64_t> &locs, const float *q, int64_t nq,
                    int64_t k, float *D, idx_t *I, int nthreads) {
    const int d = (int)ivf->d;
    const int64_t R = (int64_t)locs.size(), block = 1024;
    const faiss::InvertedLists *il = ivf->invlists;
    const int T = threads_for((double)nq * R * d, nthreads);
    split_search(R, nq, k, D, I, T, [&](int64_t q0, int64_t q1, int64_t r0, int64_t r1, float *dd, idx_t *ii) {
        const int64_t m = q1 - q0;
        std::vector<float> buf((size_t)std::min(block, std::max<int64_t>(r1 - r0, 1)) * d), bd((size_t)(m * k));
        std::vector<int64_t> bids(buf.size() / (size_t)d);
        std::vector<idx_t> bi((size_t)(m * k));
        for (int64_t j = 0; j < m * k; j++) {
            dd[j] = -INFINITY;
            ii[j] = -1;
        }
        for (int64_t b0 = r0; b0 < r1; b0 += block) {
            const int64_t nb = std::min(block, r1 - b0);
            for (int64_t j = 0; j < nb; j++) {
                const uint64_t loc = (uint64_t)locs[(size_t)(b0 + j)];
                const size_t list = (size_t)(loc >> 32), off = (size_t)(loc & 0xffffffffu);
                memcpy(&buf[(size_t)j * d], il->get_codes(list) + off * il->code_size, (size_t)d * sizeof(float));
                bids[(size_t)j] = il->get_ids(list)[off];
            }
            onc_error e = {ONC_OK, {0}};
            onc_status st = onc_vec_exact_topk(buf.data(), nb, d, bids.data(), nullptr, 0, q + q0 * d, m, (int)k,
                                               bd.data(), reinterpret_cast<int64_t *>(bi.data()), &e);
            if (st == ONC_ERR_NOMEM) throw std::bad_alloc();
            if (st != ONC_OK) throw faiss::FaissException(e.msg);
            merge_into(m, k, dd, ii, bd.data(), bi.data());
        }
    });
}

/* A flat inner-product index whose search is exact_plain: handed to FAISS's
 * k-means as the clustering index so IVF training is split between our
 * threads (OpenBLAS itself runs single-threaded). */
struct SplitFlatIP : faiss::IndexFlatIP {
    int nthreads;
    SplitFlatIP(int dim, int nt) : faiss::IndexFlatIP(dim), nthreads(nt) {}
    void search(idx_t n, const float *x, idx_t k, float *distances, idx_t *labels,
                const faiss::SearchParameters *params = nullptr) const override {
        (void)params;
        exact_plain(get_xb(), ntotal, (int)d, nullptr, x, n, k, distances, labels, nthreads);
    }
};

/* Labels from positions to ids (map), -1 / -inf padding made uniform. */
void finish_rows(int64_t n, float *D, idx_t *I, const idx_t *map) {
    for (int64_t j = 0; j < n; j++) {
        if (I[j] < 0) {
            I[j] = -1;
            D[j] = -INFINITY;
        } else if (map) {
            I[j] = map[I[j]];
        }
    }
}

int64_t row_found(const idx_t *I, int64_t k) {
    int64_t c = 0;
    for (int64_t j = 0; j < k; j++) c += I[j] >= 0;
    return c;
}

/* Validate the arguments every search shares. */
onc_status check_search(const onc_vecindex *ix, int dim, const float *q, int64_t nq, int k, const float *scores,
                        const int64_t *ids, onc_error *err) {
    if (!ix) return onc_error_set(err, ONC_ERR_INVALID, "vector index: NULL index");
    if (dim != ix->dim)
        return onc_error_set(err, ONC_ERR_INVALID, "vector index: query dimension %d, the index holds %d", dim, ix->dim);
    if (k <= 0 || k > ONC_VEC_K_MAX)
        return onc_error_set(err, ONC_ERR_INVALID, "vector index: k = %d (must be 1..%d)", k, ONC_VEC_K_MAX);
    if (nq < 0) return onc_error_set(err, ONC_ERR_INVALID, "vector index: %lld queries", (long long)nq);
    if (nq > 0 && (!q || !scores || !ids))
        return onc_error_set(err, ONC_ERR_INVALID, "vector index: NULL query or result array");
    if ((uint64_t)nq > (uint64_t)SIZE_MAX / ((uint64_t)k * sizeof(float) + (uint64_t)dim * sizeof(float)))
        return onc_error_set(err, ONC_ERR_NOMEM, "vector index: %lld queries: size overflow", (long long)nq);
    for (int64_t i = 0; i < nq * (int64_t)dim; i++)
        if (!std::isfinite(q[i]))
            return onc_error_set(err, ONC_ERR_INVALID, "vector index: query %lld has a non-finite value",
                                 (long long)(i / dim));
    return ONC_OK;
}

/* Validate vectors and ids for build/add against the ids already held
 * (sorted). On success *merged is the new sorted id list. */
onc_status check_vectors(const char *what, int dim, const float *x, const int64_t *ids, int64_t n,
                         const std::vector<int64_t> &held, std::vector<int64_t> *merged, onc_error *err) {
    if (n < 0) return onc_error_set(err, ONC_ERR_INVALID, "%s: %lld vectors", what, (long long)n);
    if (n > 0 && (!x || !ids)) return onc_error_set(err, ONC_ERR_INVALID, "%s: NULL vectors or ids", what);
    if ((uint64_t)n > (uint64_t)(SIZE_MAX / 2) / ((uint64_t)dim * sizeof(float) + 64))
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: %lld vectors: size overflow", what, (long long)n);
    for (int64_t i = 0; i < n * (int64_t)dim; i++)
        if (!std::isfinite(x[i]))
            return onc_error_set(err, ONC_ERR_INVALID, "%s: vector %lld (id %lld) has a non-finite value", what,
                                 (long long)(i / dim), (long long)ids[i / dim]);
    std::vector<int64_t> add(ids, ids + n);
    std::sort(add.begin(), add.end());
    for (int64_t i = 0; i < n; i++) {
        if (add[i] < 0) return onc_error_set(err, ONC_ERR_INVALID, "%s: negative id %lld", what, (long long)add[i]);
        if (i && add[i] == add[i - 1])
            return onc_error_set(err, ONC_ERR_INVALID, "%s: duplicate id %lld", what, (long long)add[i]);
    }
    merged->clear();
    merged->reserve(held.size() + add.size());
    size_t i = 0, j = 0;
    while (i < held.size() || j < add.size()) {
        if (j == add.size() || (i < held.size() && held[i] < add[j])) merged->push_back(held[i++]);
        else if (i == held.size() || add[j] < held[i]) merged->push_back(add[j++]);
        else return onc_error_set(err, ONC_ERR_INVALID, "%s: id %lld is already in the index", what, (long long)add[j]);
    }
    return ONC_OK;
}

/* Point the typed views of ix at the structure under ix->index and check it
 * is what kind promises (used after build and after load). */
bool bind_views(onc_vecindex *ix) {
    faiss::Index *top = ix->index.get();
    ix->idmap = nullptr;
    ix->flat = nullptr;
    ix->hnsw = nullptr;
    ix->ivf = nullptr;
    if (!top || top->metric_type != faiss::METRIC_INNER_PRODUCT || top->d != ix->dim) return false;
    switch (ix->kind) {
    case ONC_VEC_EXACT:
    case ONC_VEC_HNSW:
        ix->idmap = dynamic_cast<faiss::IndexIDMap *>(top);
        if (!ix->idmap || !ix->idmap->index || (int64_t)ix->idmap->id_map.size() != top->ntotal) return false;
        if (ix->kind == ONC_VEC_EXACT) {
            ix->flat = dynamic_cast<faiss::IndexFlat *>(ix->idmap->index);
        } else {
            ix->hnsw = dynamic_cast<faiss::IndexHNSWFlat *>(ix->idmap->index);
            if (!ix->hnsw) return false;
            ix->flat = dynamic_cast<faiss::IndexFlat *>(ix->hnsw->storage);
            if (ix->hnsw->ntotal != top->ntotal) return false;
        }
        return ix->flat && ix->flat->metric_type == faiss::METRIC_INNER_PRODUCT && ix->flat->d == ix->dim &&
               ix->flat->ntotal == top->ntotal;
    case ONC_VEC_IVF:
        ix->ivf = dynamic_cast<faiss::IndexIVFFlat *>(top);
        return ix->ivf && ix->ivf->invlists && ix->ivf->quantizer && ix->ivf->is_trained;
    default:
        return false;
    }
}

/* For ids that are nearly consecutive (the store's chunk ids are SQLite
 * rowids), an id -> position array over [min id, max id] (when that span is
 * at most 2 * count + 1024) makes finding the allowed vectors O(1) per id. */
void build_dense(onc_vecindex *ix) {
    ix->dense_pos.clear();
    ix->dense_pos.shrink_to_fit();
    const std::vector<int64_t> &v = ix->ids_sorted;
    if (v.empty()) return;
    const uint64_t span = (uint64_t)v.back() - (uint64_t)v.front() + 1;
    if (span > 2 * (uint64_t)v.size() + 1024) return;
    ix->dense_lo = v.front();
    ix->dense_pos.assign((size_t)span, -1);
    for (size_t i = 0; i < v.size(); i++) ix->dense_pos[(size_t)(v[i] - ix->dense_lo)] = ix->pos_sorted[i];
}

/* Recompute ids_sorted and pos_sorted from the id map or the inverted
 * lists: O(count log count). */
void rebuild_locator(onc_vecindex *ix) {
    std::vector<int64_t> v;
    ix->pos_sorted.clear();
    if (ix->idmap) {
        const std::vector<idx_t> &m = ix->idmap->id_map;
        std::vector<int64_t> order(m.size());
        for (size_t i = 0; i < m.size(); i++) order[i] = (int64_t)i;
        std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return m[(size_t)a] < m[(size_t)b]; });
        v.resize(m.size());
        for (size_t i = 0; i < m.size(); i++) v[i] = m[(size_t)order[i]];
        ix->pos_sorted.swap(order);
    } else {
        const faiss::InvertedLists *il = ix->ivf->invlists;
        std::vector<std::pair<int64_t, int64_t>> pairs;
        pairs.reserve((size_t)ix->ivf->ntotal);
        for (size_t l = 0; l < il->nlist; l++) {
            size_t ls = il->list_size(l);
            if (!ls) continue;
            faiss::InvertedLists::ScopedIds sid(il, l);
            for (size_t o = 0; o < ls; o++) pairs.emplace_back(sid[o], (int64_t)(l << 32 | o));
        }
        std::sort(pairs.begin(), pairs.end());
        v.resize(pairs.size());
        ix->pos_sorted.resize(pairs.size());
        for (size_t i = 0; i < pairs.size(); i++) {
            v[i] = pairs[i].first;
            ix->pos_sorted[i] = pairs[i].second;
        }
    }
    ix->ids_sorted.swap(v);
    build_dense(ix);
}

/* After n vectors were appended at flat positions before.. under ids: merge
 * them into ids_sorted / pos_sorted in O(count + n log n) (IVF: rebuilt
 * from the lists, O(count log count)). merged_ids is the already merged id
 * list (from check_vectors). */
void merge_locator(onc_vecindex *ix, const int64_t *ids, int64_t n, int64_t before, std::vector<int64_t> &merged_ids) {
    if (ix->ivf) { /* list offsets: read them back from the lists */
        rebuild_locator(ix);
        return;
    }
    {
        std::vector<std::pair<int64_t, int64_t>> add((size_t)n);
        for (int64_t i = 0; i < n; i++) add[(size_t)i] = {ids[i], before + i};
        std::sort(add.begin(), add.end());
        std::vector<int64_t> pos;
        pos.reserve(ix->pos_sorted.size() + add.size());
        size_t i = 0, j = 0;
        const std::vector<int64_t> &held = ix->ids_sorted;
        while (i < held.size() || j < add.size()) {
            if (j == add.size() || (i < held.size() && held[i] < add[j].first)) pos.push_back(ix->pos_sorted[i++]);
            else pos.push_back(add[j++].second);
        }
        ix->pos_sorted.swap(pos);
    }
    ix->ids_sorted.swap(merged_ids);
    build_dense(ix);
}

/* pos_sorted entries (ascending) of the distinct allowed ids the index holds. */
std::vector<int64_t> allowed_rows(const onc_vecindex *ix, const AllowSet &allow) {
    if (ix->dense_pos.empty()) return allow.positions(ix->ids_sorted, ix->pos_sorted);
    std::vector<int64_t> rows;
    const int64_t *a = allow.data();
    const uint64_t span = ix->dense_pos.size();
    for (size_t i = 0; i < allow.size(); i++) {
        if (i && a[i] == a[i - 1]) continue;
        const uint64_t o = (uint64_t)a[i] - (uint64_t)ix->dense_lo;
        if (o < span && ix->dense_pos[(size_t)o] >= 0) rows.push_back(ix->dense_pos[(size_t)o]);
    }
    std::sort(rows.begin(), rows.end());
    return rows;
}

/* Approximate heap bytes held by the index. */
size_t memory_bytes(const onc_vecindex *ix) {
    size_t b = (ix->ids_sorted.capacity() + ix->pos_sorted.capacity() + ix->dense_pos.capacity()) * sizeof(int64_t);
    if (ix->idmap) b += ix->idmap->id_map.capacity() * sizeof(idx_t);
    if (ix->flat) b += ix->flat->codes.capacity();
    if (ix->hnsw) {
        const faiss::HNSW &h = ix->hnsw->hnsw;
        b += h.neighbors.capacity() * sizeof(faiss::HNSW::storage_idx_t) + h.offsets.capacity() * sizeof(size_t) +
             h.levels.capacity() * sizeof(int);
    }
    if (ix->ivf) {
        const faiss::InvertedLists *il = ix->ivf->invlists;
        for (size_t l = 0; l < il->nlist; l++) b += il->list_size(l) * (il->code_size + sizeof(idx_t));
        b += (size_t)ix->ivf->nlist * ix->dim * sizeof(float);
    }
    return b;
}

/* Sets hnsw.efSearch for a scope (caller holds the exclusive lock). */
class EfScope {
  public:
    EfScope(faiss::IndexHNSWFlat *h, int ef) : h_(h), prev_(h->hnsw.efSearch) { h_->hnsw.efSearch = ef; }
    ~EfScope() { h_->hnsw.efSearch = prev_; }
    EfScope(const EfScope &) = delete;
    EfScope &operator=(const EfScope &) = delete;

  private:
    faiss::IndexHNSWFlat *h_;
    int prev_;
};

/* Add n vectors under ids (validated). IVF: the list of each vector is
 * found with exact_plain over the centroids (split between threads, OpenBLAS
 * single-threaded) and handed to add_core; other kinds: add_with_ids. */
void add_vectors(onc_vecindex *ix, int64_t n, const float *x, const int64_t *ids) {
    const idx_t *xids = reinterpret_cast<const idx_t *>(ids);
    if (!ix->ivf) {
        ix->index->add_with_ids(n, x, xids);
        return;
    }
    const auto *qz = dynamic_cast<const faiss::IndexFlat *>(ix->ivf->quantizer);
    if (!qz) throw faiss::FaissException("IVF quantizer is not a flat index");
    const int64_t block = 1 << 16;
    std::vector<float> dist((size_t)std::min(n, block));
    std::vector<idx_t> list((size_t)std::min(n, block));
    for (int64_t i0 = 0; i0 < n; i0 += block) {
        const int64_t m = std::min(block, n - i0);
        exact_plain(qz->get_xb(), qz->ntotal, ix->dim, nullptr, x + i0 * ix->dim, m, 1, dist.data(), list.data(),
                    ix->n_threads);
        ix->ivf->add_core(m, x + i0 * ix->dim, xids + i0, list.data());
    }
}

/* The unfiltered search, lock held by the caller. */
void search_plain(const onc_vecindex *ix, const float *q, int64_t nq, int64_t k, float *D, idx_t *I, int ef, int nprobe,
                  int nthreads) {
    switch (ix->kind) {
    case ONC_VEC_EXACT:
        exact_plain(ix->flat->get_xb(), ix->flat->ntotal, ix->dim, ix->idmap->id_map.data(), q, nq, k, D, I,
                    nthreads);
        break;
    case ONC_VEC_HNSW: {
        /* FAISS parallelises HNSW and IVF searches over queries: more threads
         * than queries only cost wake-ups */
        ThreadScope per_query((int)std::min<int64_t>(nthreads, nq));
        if (ef != ix->hnsw->hnsw.efSearch) { /* only under the exclusive lock */
            EfScope scope(ix->hnsw, ef);
            ix->hnsw->search(nq, q, k, D, I);
        } else {
            ix->hnsw->search(nq, q, k, D, I);
        }
        finish_rows(nq * k, D, I, ix->idmap->id_map.data());
        break;
    }
    default: {
        ThreadScope per_query((int)std::min<int64_t>(nthreads, nq));
        faiss::SearchParametersIVF sp;
        sp.nprobe = (size_t)std::min(nprobe, ix->ivf_nlist);
        ix->ivf->search(nq, q, k, D, I, &sp);
        finish_rows(nq * k, D, I, nullptr);
        break;
    }
    }
}

/* Rerun the queries of `todo` (indices into q / D / I rows) through run,
 * which searches a packed batch; results are written back. */
template <class Run>
void rerun(const float *q, int64_t dim, int64_t k, float *D, idx_t *I, const std::vector<int64_t> &todo, Run run) {
    const int64_t m = (int64_t)todo.size();
    std::vector<float> qb((size_t)m * dim), db((size_t)m * k);
    std::vector<idx_t> ib((size_t)m * k);
    for (int64_t i = 0; i < m; i++) memcpy(&qb[(size_t)i * dim], q + todo[i] * dim, (size_t)dim * sizeof(float));
    run(qb.data(), m, db.data(), ib.data());
    for (int64_t i = 0; i < m; i++) {
        memcpy(D + todo[i] * k, &db[(size_t)i * k], (size_t)k * sizeof(float));
        memcpy(I + todo[i] * k, &ib[(size_t)i * k], (size_t)k * sizeof(idx_t));
    }
}

/* Queries whose row holds fewer than want results. */
std::vector<int64_t> short_rows(const idx_t *I, int64_t nq, int64_t k, int64_t want) {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < nq; i++)
        if (row_found(I + i * k, k) < want) v.push_back(i);
    return v;
}

/* HNSW filtered search goes the exact way when the allowed vectors are few
 * enough that scoring them all costs less than a graph walk would:
 * present <= sqrt(max(ef, k) * M * count). */
bool hnsw_filter_exact(const onc_vecindex *ix, int64_t present, int ef, int64_t k) {
    const double ef0 = (double)std::max<int64_t>(ef, k);
    return (double)present <= std::sqrt(ef0 * ix->hnsw_m * (double)ix->ids_sorted.size());
}

/* The filtered search, lock held by the caller (exclusive for the HNSW graph
 * path). present = allowed ids held; rows come back as ids. */
void search_filtered_impl(const onc_vecindex *ix, const float *q, int64_t nq, int64_t k, float *D, idx_t *I,
                          const AllowSet &allow, const std::vector<int64_t> &rows, int64_t present, int ef, int nprobe,
                          int nthreads) {
    const int64_t N = (int64_t)ix->ids_sorted.size(), d = ix->dim;
    const int64_t want = std::min<int64_t>(k, present);
    const int64_t boost = std::min<int64_t>(kFilterBoostMax, std::max<int64_t>(1, N / std::max<int64_t>(present, 1)));
    if (ix->kind == ONC_VEC_EXACT) {
        exact_rows(ix->flat, ix->idmap->id_map.data(), rows, q, nq, k, D, I, nthreads);
        return;
    }
    if (ix->kind == ONC_VEC_HNSW) {
        const idx_t *map = ix->idmap->id_map.data();
        auto exact = [&](const float *qq, int64_t m, float *dd, idx_t *ii) {
            exact_rows(ix->flat, map, rows, qq, m, k, dd, ii, nthreads);
        };
        if (hnsw_filter_exact(ix, present, ef, k)) {
            exact(q, nq, D, I);
            return;
        }
        const double ef0 = (double)std::max<int64_t>(ef, k);
        AllowSelector sel(&allow, map, 0);
        faiss::SearchParametersHNSW sp;
        sp.sel = &sel;
        int64_t efb = std::min<int64_t>((int64_t)ef0 * boost, kMaxParam);
        auto graph = [&](int64_t efv) {
            return [&, efv](const float *qq, int64_t m, float *dd, idx_t *ii) {
                ThreadScope per_query((int)std::min<int64_t>(nthreads, m));
                EfScope scope(ix->hnsw, (int)efv);
                sp.efSearch = (int)efv;
                ix->hnsw->search(m, qq, k, dd, ii, &sp);
                finish_rows(m * k, dd, ii, map);
            };
        };
        graph(efb)(q, nq, D, I);
        std::vector<int64_t> todo = short_rows(I, nq, k, want);
        for (int round = 0; round < 2 && !todo.empty(); round++) {
            efb = std::min<int64_t>(efb * 2, kMaxParam);
            rerun(q, d, k, D, I, todo, graph(efb));
            todo = short_rows(I, nq, k, want);
        }
        if (!todo.empty()) rerun(q, d, k, D, I, todo, exact);
        return;
    }
    /* IVF */
    const int64_t nlist = ix->ivf_nlist;
    AllowSelector sel(&allow, nullptr, 0);
    auto probe = [&](int64_t np) {
        return [&, np](const float *qq, int64_t m, float *dd, idx_t *ii) {
            ThreadScope per_query((int)std::min<int64_t>(nthreads, m));
            faiss::SearchParametersIVF sp;
            sp.sel = &sel;
            sp.nprobe = (size_t)np;
            ix->ivf->search(m, qq, k, dd, ii, &sp);
            finish_rows(m * k, dd, ii, nullptr);
        };
    };
    /* scan about as many allowed vectors as an unfiltered search scans
     * vectors: the selector test is cheap, the dot products are what cost */
    const double ratio = (double)N / (double)std::max<int64_t>(present, 1);
    int64_t np = (int64_t)std::min<double>((double)nlist, std::ceil(nprobe * ratio));
    auto exact = [&](const float *qq, int64_t m, float *dd, idx_t *ii) {
        ivf_exact_rows(ix->ivf, rows, qq, m, k, dd, ii, nthreads);
    };
    /* probing a quarter of the lists tests a quarter of all ids against the
     * selector: scoring just the allowed vectors is cheaper by then */
    if (4 * np >= nlist) {
        exact(q, nq, D, I);
        return;
    }
    probe(np)(q, nq, D, I);
    std::vector<int64_t> todo = short_rows(I, nq, k, want);
    while (!todo.empty() && 8 * np < nlist) {
        np *= 2;
        rerun(q, d, k, D, I, todo, probe(np));
        todo = short_rows(I, nq, k, want);
    }
    if (!todo.empty()) rerun(q, d, k, D, I, todo, exact);
}

/* Drop (and compact away) any id outside the allowed set: the last guard
 * before results reach the caller. Returns how many were dropped. */
int64_t enforce_allowed(const AllowSet &allow, int64_t nq, int64_t k, float *D, int64_t *I) {
    int64_t dropped = 0;
    for (int64_t qi = 0; qi < nq; qi++) {
        float *dr = D + qi * k;
        int64_t *ir = I + qi * k;
        int64_t w = 0;
        for (int64_t j = 0; j < k; j++) {
            if (ir[j] < 0) continue;
            if (!allow.member(ir[j])) {
                dropped++;
                continue;
            }
            dr[w] = dr[j];
            ir[w] = ir[j];
            w++;
        }
        for (; w < k; w++) {
            dr[w] = -INFINITY;
            ir[w] = -1;
        }
    }
    return dropped;
}

int resolve(int v, int def) { return v > 0 ? v : def; }

/* A kind as C may hand it over (any int): reading an out-of-range value
 * through the C++ enum type would be undefined, so go through memcpy. */
static_assert(sizeof(onc_vec_kind) == sizeof(int), "onc_vec_kind is int-sized");
int kind_value(const onc_vec_kind *k) {
    int v;
    memcpy(&v, k, sizeof v);
    return v;
}

} // namespace

/* ------------------------------------------------------------------------ */
/* C API                                                                      */
/* ------------------------------------------------------------------------ */

extern "C" {

void onc_vec_params_default(onc_vec_params *p) {
    ONC_ASSERT(p);
    memset(p, 0, sizeof *p);
    p->kind = ONC_VEC_AUTO;
    p->auto_threshold = ONC_VEC_AUTO_THRESHOLD;
    p->hnsw_m = ONC_VEC_HNSW_M;
    p->hnsw_ef_construction = ONC_VEC_HNSW_EF_CONSTRUCTION;
    p->hnsw_ef_search = ONC_VEC_HNSW_EF_SEARCH;
    p->seed = 1;
}

const char *onc_vec_kind_name(onc_vec_kind kind) {
    switch (kind_value(&kind)) {
    case ONC_VEC_AUTO: return "auto";
    case ONC_VEC_EXACT: return "exact";
    case ONC_VEC_HNSW: return "hnsw";
    case ONC_VEC_IVF: return "ivf";
    }
    return "?";
}

onc_status onc_vec_kind_parse(const char *name, onc_vec_kind *out, onc_error *err) {
    static const onc_vec_kind kinds[] = {ONC_VEC_AUTO, ONC_VEC_EXACT, ONC_VEC_HNSW, ONC_VEC_IVF};
    for (onc_vec_kind k : kinds)
        if (name && strcmp(name, onc_vec_kind_name(k)) == 0) {
            if (out) *out = k;
            return ONC_OK;
        }
    return onc_error_set(err, ONC_ERR_INVALID, "unknown vector index kind '%s' (auto, exact, hnsw, ivf)",
                         name ? name : "(null)");
}

/* Build: validate everything first (nothing is allocated for a bad call),
 * resolve the kind and parameters, create the FAISS structure, train (IVF)
 * on a seeded sample, then add all vectors under their ids. */
onc_vecindex *onc_vecindex_build(int dim, const float *x, const int64_t *ids, int64_t n, const onc_vec_params *p,
                                 onc_error *err) {
    const char *what = "vector index build";
    onc_vec_params prm;
    onc_vec_params_default(&prm);
    int kind_raw = ONC_VEC_AUTO;
    if (p) {
        kind_raw = kind_value(&p->kind);
        prm.auto_threshold = p->auto_threshold > 0 ? p->auto_threshold : ONC_VEC_AUTO_THRESHOLD;
        prm.hnsw_m = resolve(p->hnsw_m, ONC_VEC_HNSW_M);
        prm.hnsw_ef_construction = resolve(p->hnsw_ef_construction, ONC_VEC_HNSW_EF_CONSTRUCTION);
        prm.hnsw_ef_search = resolve(p->hnsw_ef_search, ONC_VEC_HNSW_EF_SEARCH);
        prm.ivf_nlist = p->ivf_nlist;
        prm.ivf_nprobe = p->ivf_nprobe;
        prm.ivf_train_max = p->ivf_train_max;
        prm.n_threads = p->n_threads;
        prm.seed = p->seed;
    }
    if (dim < 1 || dim > ONC_VEC_DIM_MAX) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: dimension %d (must be 1..%d)", what, dim, ONC_VEC_DIM_MAX);
        return nullptr;
    }
    if (kind_raw < ONC_VEC_AUTO || kind_raw > ONC_VEC_IVF || prm.hnsw_m < 2 || prm.hnsw_m > 256 ||
        prm.hnsw_ef_construction > kMaxParam || prm.hnsw_ef_search > kMaxParam || prm.ivf_nlist < 0 ||
        prm.ivf_nprobe < 0 || prm.ivf_train_max < 0 || prm.n_threads < 0) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: invalid parameters (kind %d, M %d, efConstruction %d, efSearch %d, "
                      "nlist %d, nprobe %d, threads %d)", what, kind_raw, prm.hnsw_m, prm.hnsw_ef_construction,
                      prm.hnsw_ef_search, prm.ivf_nlist, prm.ivf_nprobe, prm.n_threads);
        return nullptr;
    }
    onc_vec_kind kind = (onc_vec_kind)kind_raw;
    if (kind == ONC_VEC_AUTO) kind = n < prm.auto_threshold ? ONC_VEC_EXACT : ONC_VEC_IVF;
    if (kind == ONC_VEC_IVF && n <= 0) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: an IVF index needs vectors to train on (n = %lld)", what, (long long)n);
        return nullptr;
    }
    std::unique_ptr<onc_vecindex> ix;
    try {
        std::vector<int64_t> seq;
        if (!ids && n > 0) {
            seq.resize((size_t)n);
            for (int64_t i = 0; i < n; i++) seq[(size_t)i] = i;
            ids = seq.data();
        }
        ix.reset(new onc_vecindex);
        ix->kind = kind;
        ix->dim = dim;
        ix->n_threads = prm.n_threads > 0 ? prm.n_threads : all_cores();
        if (check_vectors(what, dim, x, ids, n, {}, &ix->ids_sorted, err) != ONC_OK) return nullptr;
        ThreadScope threads(ix->n_threads);
        if (kind == ONC_VEC_EXACT) {
            auto *f = new faiss::IndexFlatIP(dim);
            auto *m = new faiss::IndexIDMap(f);
            m->own_fields = true;
            ix->index.reset(m);
        } else if (kind == ONC_VEC_HNSW) {
            ix->hnsw_m = prm.hnsw_m;
            ix->hnsw_efc = prm.hnsw_ef_construction;
            ix->hnsw_efs = prm.hnsw_ef_search;
            auto *h = new faiss::IndexHNSWFlat(dim, prm.hnsw_m, faiss::METRIC_INNER_PRODUCT);
            h->hnsw.efConstruction = prm.hnsw_ef_construction;
            h->hnsw.efSearch = prm.hnsw_ef_search;
            auto *m = new faiss::IndexIDMap(h);
            m->own_fields = true;
            ix->index.reset(m);
        } else {
            int64_t nlist = prm.ivf_nlist > 0 ? prm.ivf_nlist : (int64_t)std::llround(4.0 * std::sqrt((double)n));
            nlist = std::max<int64_t>(1, std::min<int64_t>(nlist, 1 << 20));
            int64_t ntrain = prm.ivf_train_max > 0 ? prm.ivf_train_max : ONC_VEC_IVF_TRAIN_PER_LIST * nlist;
            ntrain = std::min(ntrain, n);
            nlist = std::max<int64_t>(1, std::min<int64_t>(nlist, ntrain / 39));
            int64_t nprobe = prm.ivf_nprobe > 0 ? prm.ivf_nprobe
                                                : std::max<int64_t>(ONC_VEC_IVF_NPROBE_MIN,
                                                                    std::llround(std::sqrt((double)nlist)));
            ix->ivf_nlist = (int)nlist;
            ix->ivf_nprobe = (int)std::min<int64_t>(nprobe, nlist);
            /* training sample: a seeded partial Fisher-Yates over row numbers,
             * sorted back into file order for locality */
            std::vector<int64_t> rows((size_t)n);
            for (int64_t i = 0; i < n; i++) rows[(size_t)i] = i;
            onc_rng rng;
            onc_rng_seed(&rng, prm.seed);
            for (int64_t i = 0; i < ntrain; i++) {
                int64_t j = i + (int64_t)(onc_rng_next(&rng) % (uint64_t)(n - i));
                std::swap(rows[(size_t)i], rows[(size_t)j]);
            }
            rows.resize((size_t)ntrain);
            std::sort(rows.begin(), rows.end());
            std::vector<float> sample((size_t)ntrain * dim);
            for (int64_t i = 0; i < ntrain; i++)
                memcpy(&sample[(size_t)i * dim], x + rows[(size_t)i] * dim, (size_t)dim * sizeof(float));
            auto *qz = new faiss::IndexFlatIP(dim);
            auto *v = new faiss::IndexIVFFlat(qz, dim, (size_t)nlist, faiss::METRIC_INNER_PRODUCT);
            v->own_fields = true;
            ix->index.reset(v);
            v->cp.seed = (int)(prm.seed & 0x7fffffff);
            v->cp.min_points_per_centroid = 1;       /* no FAISS warning on stderr */
            v->cp.max_points_per_centroid = 1 << 30; /* we sampled already */
            v->cp.spherical = true; /* unit vectors, inner product: unit centroids */
            v->cp.niter = ONC_VEC_IVF_KMEANS_ITERS;
            v->nprobe = (size_t)ix->ivf_nprobe;
            SplitFlatIP clus_index(dim, ix->n_threads);
            v->clustering_index = &clus_index;
            try {
                v->train(ntrain, sample.data());
            } catch (...) {
                v->clustering_index = nullptr;
                throw;
            }
            v->clustering_index = nullptr;
        }
        if (!bind_views(ix.get())) {
            onc_error_set(err, ONC_ERR_INVALID, "%s: internal error: unexpected FAISS structure", what);
            return nullptr;
        }
        if (n > 0) add_vectors(ix.get(), n, x, ids);
        rebuild_locator(ix.get());
        if (ix->index->ntotal != n) {
            onc_error_set(err, ONC_ERR_INVALID, "%s: FAISS holds %lld vectors after adding %lld", what,
                          (long long)ix->index->ntotal, (long long)n);
            return nullptr;
        }
        ix->built_count = n;
        return ix.release();
    } catch (...) {
        error_from_exception(err, what);
        return nullptr;
    }
}

onc_status onc_vecindex_add(onc_vecindex *ix, const float *x, const int64_t *ids, int64_t n, onc_error *err) {
    const char *what = "vector index add";
    if (!ix) return onc_error_set(err, ONC_ERR_INVALID, "%s: NULL index", what);
    try {
        std::unique_lock<std::shared_mutex> lock(ix->mu);
        std::vector<int64_t> merged;
        onc_status st = check_vectors(what, ix->dim, x, ids, n, ix->ids_sorted, &merged, err);
        if (st != ONC_OK || n == 0) return st;
        ThreadScope threads(ix->n_threads);
        const int64_t before = ix->index->ntotal;
        add_vectors(ix, n, x, ids);
        if (ix->index->ntotal != before + n) {
            /* FAISS failed half way (cannot happen short of a bug): resync */
            rebuild_locator(ix);
            return onc_error_set(err, ONC_ERR_INVALID, "%s: FAISS added %lld of %lld vectors", what,
                                 (long long)(ix->index->ntotal - before), (long long)n);
        }
        merge_locator(ix, ids, n, before, merged);
        return ONC_OK;
    } catch (...) {
        return error_from_exception(err, what);
    }
}

onc_status onc_vecindex_remove(onc_vecindex *ix, const int64_t *ids, int64_t n, int64_t *n_removed, onc_error *err) {
    const char *what = "vector index remove";
    if (n_removed) *n_removed = 0;
    if (!ix) return onc_error_set(err, ONC_ERR_INVALID, "%s: NULL index", what);
    if (n < 0 || (n > 0 && !ids)) return onc_error_set(err, ONC_ERR_INVALID, "%s: bad id list", what);
    if (ix->kind == ONC_VEC_HNSW)
        return onc_error_set(err, ONC_ERR_UNSUPPORTED,
                             "%s: an HNSW index cannot remove vectors (rebuild it without them)", what);
    try {
        std::unique_lock<std::shared_mutex> lock(ix->mu);
        if (n == 0) return ONC_OK;
        faiss::IDSelectorBatch sel((size_t)n, reinterpret_cast<const idx_t *>(ids));
        ThreadScope threads(ix->n_threads);
        size_t removed = ix->index->remove_ids(sel);
        rebuild_locator(ix); /* positions shift in the compacted flat storage */
        if (ix->idmap && (int64_t)ix->idmap->id_map.size() != ix->index->ntotal)
            return onc_error_set(err, ONC_ERR_INVALID, "%s: FAISS id map out of sync", what);
        if (n_removed) *n_removed = (int64_t)removed;
        return ONC_OK;
    } catch (...) {
        return error_from_exception(err, what);
    }
}

/* Unfiltered search: validate, take the lock (exclusive only when an HNSW
 * efSearch other than the index's is needed), search, pad. */
onc_status onc_vecindex_search(const onc_vecindex *ix, int dim, const float *q, int64_t nq, int k, float *scores,
                               int64_t *ids, const onc_vec_search_opts *opts, onc_error *err) {
    onc_status st = check_search(ix, dim, q, nq, k, scores, ids, err);
    if (st != ONC_OK || nq == 0) return st;
    try {
        const int ef = std::max(opts && opts->ef_search > 0 ? std::min(opts->ef_search, kMaxParam) : ix->hnsw_efs, k);
        const int nprobe = opts && opts->nprobe > 0 ? opts->nprobe : ix->ivf_nprobe;
        const bool exclusive = ix->kind == ONC_VEC_HNSW && ef != ix->hnsw_efs;
        std::shared_lock<std::shared_mutex> rl(ix->mu, std::defer_lock);
        std::unique_lock<std::shared_mutex> wl(ix->mu, std::defer_lock);
        if (exclusive) wl.lock();
        else rl.lock();
        const int nt = call_threads(ix, opts);
        ThreadScope threads(nt);
        search_plain(ix, q, nq, k, scores, reinterpret_cast<idx_t *>(ids), ef, nprobe, nt);
        return ONC_OK;
    } catch (...) {
        return error_from_exception(err, "vector index search");
    }
}

/* Filtered search: build the allowed set, count the allowed ids present,
 * run the kind's strategy (search_filtered_impl), then check every returned
 * id against the set once more. */
onc_status onc_vecindex_search_filtered(const onc_vecindex *ix, int dim, const float *q, int64_t nq, int k,
                                        const int64_t *allowed, int64_t n_allowed, float *scores, int64_t *ids,
                                        const onc_vec_search_opts *opts, onc_error *err) {
    onc_status st = check_search(ix, dim, q, nq, k, scores, ids, err);
    if (st != ONC_OK) return st;
    if (n_allowed < 0 || (n_allowed > 0 && !allowed))
        return onc_error_set(err, ONC_ERR_INVALID, "vector index search: bad allowed-id list (%lld ids)",
                             (long long)n_allowed);
    if (nq == 0) return ONC_OK;
    try {
        AllowSet allow;
        allow.init(allowed, n_allowed);
        const int ef = std::max(opts && opts->ef_search > 0 ? std::min(opts->ef_search, kMaxParam) : ix->hnsw_efs, k);
        const int nprobe = opts && opts->nprobe > 0 ? opts->nprobe : ix->ivf_nprobe;
        /* the HNSW graph path changes efSearch: it needs the lock
         * exclusively; everything else (small allowed sets included) shares */
        std::shared_lock<std::shared_mutex> rl(ix->mu);
        std::unique_lock<std::shared_mutex> wl(ix->mu, std::defer_lock);
        std::vector<int64_t> rows; /* where the allowed vectors are */
        int64_t present = 0;
        auto locate = [&] {
            rows = allowed_rows(ix, allow);
            present = (int64_t)rows.size();
        };
        locate();
        if (ix->kind == ONC_VEC_HNSW && !hnsw_filter_exact(ix, present, ef, k)) {
            rl.unlock();
            wl.lock();
            locate(); /* the index may have changed meanwhile */
        }
        if (present == 0) {
            for (int64_t j = 0; j < nq * k; j++) {
                scores[j] = -INFINITY;
                ids[j] = -1;
            }
            return ONC_OK;
        }
        const int nt = call_threads(ix, opts);
        ThreadScope threads(nt);
        search_filtered_impl(ix, q, nq, k, scores, reinterpret_cast<idx_t *>(ids), allow, rows, present, ef, nprobe,
                             nt);
        int64_t dropped = enforce_allowed(allow, nq, k, scores, ids);
        (void)dropped; /* never expected; the guard is what matters */
        return ONC_OK;
    } catch (...) {
        return error_from_exception(err, "vector index search");
    }
}

int onc_vecindex_contains(const onc_vecindex *ix, int64_t id) {
    if (!ix) return 0;
    std::shared_lock<std::shared_mutex> lock(ix->mu);
    return std::binary_search(ix->ids_sorted.begin(), ix->ids_sorted.end(), id) ? 1 : 0;
}

void onc_vecindex_info(const onc_vecindex *ix, onc_vec_info *out) {
    ONC_ASSERT(ix && out);
    std::shared_lock<std::shared_mutex> lock(ix->mu);
    memset(out, 0, sizeof *out);
    out->kind = ix->kind;
    out->dim = ix->dim;
    out->count = (int64_t)ix->ids_sorted.size();
    out->hnsw_m = ix->hnsw_m;
    out->hnsw_ef_construction = ix->hnsw_efc;
    out->hnsw_ef_search = ix->hnsw_efs;
    out->ivf_nlist = ix->ivf_nlist;
    out->ivf_nprobe = ix->ivf_nprobe;
    out->built_count = ix->built_count;
    out->memory_bytes = memory_bytes(ix);
}

const char *onc_vecindex_stamp(const onc_vecindex *ix) { return ix ? ix->stamp : ""; }

/* Save: placeholder header, FAISS payload streamed through FdWriter
 * (checksummed) into the temporary file, then onc_vecfile_tmp_commit writes
 * the real header over the placeholder, fsyncs, closes, renames and fsyncs
 * the folder. Any failure removes the temporary file. */
onc_status onc_vecindex_save(const onc_vecindex *ix, const char *path, const char *stamp, onc_error *err) {
    if (!ix || !path) return onc_error_set(err, ONC_ERR_INVALID, "vector index save: NULL index or path");
    if (!stamp) stamp = "";
    if (strlen(stamp) > ONC_VEC_STAMP_MAX)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: stamp of %zu bytes (at most %d)", path, strlen(stamp),
                             ONC_VEC_STAMP_MAX);
    onc_vecfile_tmp tmp = ONC_VECFILE_TMP_INIT;
    try {
        std::shared_lock<std::shared_mutex> lock(ix->mu);
        onc_status st = onc_vecfile_tmp_create(path, &tmp, err);
        if (st != ONC_OK) return st;
        uint8_t hb[kHeaderSize];
        memset(hb, 0, sizeof hb);
        FdWriter w(tmp.fd);
        if (!w.write_all(hb, sizeof hb)) return onc_vecfile_tmp_fail(&tmp, path, "write to", w.saved_errno, err);
        try {
            faiss::write_index(ix->index.get(), &w);
        } catch (...) {
            if (w.saved_errno) return onc_vecfile_tmp_fail(&tmp, path, "write to", w.saved_errno, err);
            throw;
        }
        if (!w.flush()) return onc_vecfile_tmp_fail(&tmp, path, "write to", w.saved_errno, err);
        onc_vecfile_header h;
        onc_vecfile_header_init(&h);
        h.kind = (uint32_t)ix->kind;
        h.dim = (uint32_t)ix->dim;
        h.count = (uint64_t)ix->index->ntotal;
        h.payload_size = w.bytes;
        h.payload_sum = onc_vecfile_sum_digest(&w.sum);
        h.m = (uint32_t)ix->hnsw_m;
        h.efc = (uint32_t)ix->hnsw_efc;
        h.efs = (uint32_t)ix->hnsw_efs;
        h.nlist = (uint32_t)ix->ivf_nlist;
        h.nprobe = (uint32_t)ix->ivf_nprobe;
        h.built = (uint64_t)ix->built_count;
        snprintf(h.stamp, sizeof h.stamp, "%s", stamp);
        onc_vecfile_encode_header(&h, hb);
        st = onc_vecfile_tmp_commit(&tmp, path, hb, err);
        if (st != ONC_OK) return st;
        /* documented: save sets the stamp (not to be raced with _stamp) */
        snprintf(const_cast<onc_vecindex *>(ix)->stamp, sizeof ix->stamp, "%s", stamp);
        return ONC_OK;
    } catch (...) {
        std::string ctx = std::string(path) + ": cannot save";
        onc_vecfile_tmp_discard(&tmp);
        return error_from_exception(err, ctx);
    }
}

/* Load: header checks (onc_vecfile_open), map the file, payload checksum,
 * then FAISS parses the payload from memory; the result must have the
 * structure, dimension and count the header promises. */
onc_vecindex *onc_vecindex_load(const char *path, int n_threads, onc_error *err) {
    if (!path) {
        onc_error_set(err, ONC_ERR_INVALID, "vector index load: NULL path");
        return nullptr;
    }
    onc_vecfile_header h;
    int fd = -1;
    uint64_t size = 0;
    if (onc_vecfile_open(path, &h, &fd, &size, err) != ONC_OK) return nullptr;
    void *map = mmap(nullptr, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot map: %s", path, strerror(map_errno));
        return nullptr;
    }
    struct Unmap {
        void *p;
        size_t n;
        ~Unmap() { munmap(p, n); }
    } unmap{map, (size_t)size};
    const uint8_t *payload = static_cast<const uint8_t *>(map) + kHeaderSize;
    if (onc_vecfile_checksum(payload, (size_t)h.payload_size) != h.payload_sum) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt: index data checksum mismatch", path);
        return nullptr;
    }
    try {
        std::unique_ptr<onc_vecindex> ix(new onc_vecindex);
        ix->kind = (onc_vec_kind)h.kind;
        ix->dim = (int)h.dim;
        ix->n_threads = n_threads > 0 ? n_threads : all_cores();
        if (ix->kind == ONC_VEC_HNSW) {
            ix->hnsw_m = (int)h.m;
            ix->hnsw_efc = (int)h.efc;
            ix->hnsw_efs = (int)h.efs;
        } else if (ix->kind == ONC_VEC_IVF) {
            ix->ivf_nlist = (int)h.nlist;
            ix->ivf_nprobe = (int)h.nprobe;
        }
        ix->built_count = (int64_t)h.built;
        snprintf(ix->stamp, sizeof ix->stamp, "%s", h.stamp);
        SpanReader rd(payload, (size_t)h.payload_size);
        rd.name = path;
        try {
            ix->index.reset(faiss::read_index(&rd, 0));
        } catch (const std::bad_alloc &) {
            throw;
        } catch (const std::exception &e) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt FAISS data: %s", path, faiss_msg(e.what()).c_str());
            return nullptr;
        }
        if (rd.pos != rd.n || !bind_views(ix.get()) || ix->index->ntotal != (idx_t)h.count ||
            (ix->hnsw && ix->hnsw->hnsw.nb_neighbors(1) != ix->hnsw_m) ||
            (ix->ivf && ix->ivf->nlist != (size_t)ix->ivf_nlist)) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt: the FAISS data does not match the header (%s index, "
                          "dimension %u, %llu vectors)", path, onc_vec_kind_name(ix->kind), h.dim,
                          (unsigned long long)h.count);
            return nullptr;
        }
        if (ix->hnsw) ix->hnsw->hnsw.efSearch = ix->hnsw_efs;
        if (ix->ivf) ix->ivf->nprobe = (size_t)ix->ivf_nprobe;
        rebuild_locator(ix.get());
        for (size_t i = 0; i < ix->ids_sorted.size(); i++)
            if (ix->ids_sorted[i] < 0 || (i && ix->ids_sorted[i] == ix->ids_sorted[i - 1])) {
                onc_error_set(err, ONC_ERR_FORMAT, "%s: corrupt: negative or duplicate id %lld", path,
                              (long long)ix->ids_sorted[i]);
                return nullptr;
            }
        return ix.release();
    } catch (...) {
        error_from_exception(err, std::string(path) + ": cannot load");
        return nullptr;
    }
}

/* onc_vecindex_read_stamp (the header only, no FAISS): vecindex_file.c */

void onc_vecindex_free(onc_vecindex *ix) { delete ix; }

} /* extern "C" */
