/* vocab_train_bpe.c — the machinery under vocabulary training: a string
 * intern table, UTF-8 sanitizing, and the incremental byte-pair merge engine
 * (see vocab_train_impl.h). Knows nothing about SPM/BPE/WPM conventions;
 * vocab_train.c builds words and turns the learned merges into a vocabulary.
 *
 * Engine outline: words are symbol-id sequences with counts. A hash table
 * maps each adjacent pair (left<<32 | right) to its total count and the list
 * of words it occurs in. A max-heap of (count, pair) snapshots is kept
 * lazily: an entry whose count no longer matches the table is re-pushed with
 * the current count or dropped. Merging pair p rewrites only the words on p's
 * list, computing the net change of every pair in each rewritten word. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab_train_impl.h"

// --- hashing ---------------------------------------------------------------

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

// --- string table ------------------------------------------------------------

struct vt_strtab {
    char **strs;
    size_t *lens;
    int64_t *counts;
    int32_t n, cap;
    int32_t *slots; /* open addressing: id or -1 */
    size_t n_slots; /* power of two */
};

vt_strtab *vt_strtab_new(void) {
    vt_strtab *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->n_slots = 1024;
    t->slots = malloc(t->n_slots * sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    memset(t->slots, 0xff, t->n_slots * sizeof *t->slots);
    return t;
}

void vt_strtab_free(vt_strtab *t) {
    if (!t) return;
    for (int32_t i = 0; i < t->n; i++) free(t->strs[i]);
    free(t->strs);
    free(t->lens);
    free(t->counts);
    free(t->slots);
    free(t);
}

static size_t strtab_slot(const vt_strtab *t, const char *s, size_t len) {
    size_t mask = t->n_slots - 1, i = (size_t)hash_bytes(s, len) & mask;
    for (;;) {
        int32_t id = t->slots[i];
        if (id < 0 || (t->lens[id] == len && memcmp(t->strs[id], s, len) == 0)) return i;
        i = (i + 1) & mask;
    }
}

int32_t vt_strtab_find(const vt_strtab *t, const char *s, size_t len) {
    return t->slots[strtab_slot(t, s, len)];
}

static bool strtab_grow(vt_strtab *t) {
    size_t n_slots = t->n_slots * 2;
    int32_t *slots = malloc(n_slots * sizeof *slots);
    if (!slots) return false;
    memset(slots, 0xff, n_slots * sizeof *slots);
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    for (int32_t id = 0; id < t->n; id++) t->slots[strtab_slot(t, t->strs[id], t->lens[id])] = id;
    return true;
}

int32_t vt_strtab_intern(vt_strtab *t, const char *s, size_t len) {
    size_t slot = strtab_slot(t, s, len);
    if (t->slots[slot] >= 0) return t->slots[slot];
    if (t->n == INT32_MAX - 1) return -1;
    if (t->n == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 256;
        char **strs = realloc(t->strs, (size_t)cap * sizeof *strs);
        if (!strs) return -1;
        t->strs = strs;
        size_t *lens = realloc(t->lens, (size_t)cap * sizeof *lens);
        if (!lens) return -1;
        t->lens = lens;
        int64_t *counts = realloc(t->counts, (size_t)cap * sizeof *counts);
        if (!counts) return -1;
        t->counts = counts;
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    int32_t id = t->n++;
    t->strs[id] = copy;
    t->lens[id] = len;
    t->counts[id] = 0;
    t->slots[slot] = id;
    if ((size_t)t->n * 2 > t->n_slots && !strtab_grow(t)) {
        /* Table stays consistent (the id is in place); only growth failed. */
        return -1;
    }
    return id;
}

int32_t vt_strtab_n(const vt_strtab *t) { return t->n; }

const char *vt_strtab_str(const vt_strtab *t, int32_t id, size_t *len) {
    if (len) *len = t->lens[id];
    return t->strs[id];
}

int64_t *vt_strtab_count(vt_strtab *t, int32_t id) { return &t->counts[id]; }

// --- UTF-8 -------------------------------------------------------------------

/* Decoded length of a valid sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_valid_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

char *vt_sanitize_utf8(const char *text, size_t len, size_t *out_len) {
    if (len > (SIZE_MAX - 1) / 3) return NULL;
    char *out = malloc(len * 3 + 1); /* each bad byte may become 3 bytes */
    if (!out) return NULL;
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == 0) {
            i++;
            continue;
        }
        size_t l = utf8_valid_len(s + i, len - i);
        if (l == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

size_t vt_utf8_len(const char *s) {
    unsigned c = (unsigned char)s[0];
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

// --- merge engine --------------------------------------------------------------

typedef struct bpe_word {
    int64_t count;
    int32_t off, len; /* into vt_bpe.syms; len shrinks as merges apply */
} bpe_word;

typedef struct bpe_pair {
    uint64_t key;
    int64_t count;
    int32_t *words; /* word ids containing the pair (may repeat / be stale) */
    int32_t n_words, cap_words;
} bpe_pair;

typedef struct heap_entry {
    int64_t count;
    uint64_t key;
} heap_entry;

typedef struct pair_delta {
    uint64_t key;
    int64_t delta;
} pair_delta;

struct vt_bpe {
    vt_strtab *symbols;
    char *cont_prefix;
    size_t cont_len;
    int32_t *syms;
    size_t n_syms, cap_syms;
    bpe_word *words;
    int32_t n_words, cap_words;
    bpe_pair *pairs;
    int32_t n_pairs, cap_pairs;
    int32_t *pair_slots; /* index into pairs or -1 */
    size_t n_pair_slots;
    heap_entry *heap;
    size_t n_heap, cap_heap;
    vt_merge *merges;
    int32_t n_merges, cap_merges;
    int32_t *stamp; /* per word: last merge that rewrote it */
    pair_delta *deltas;
    size_t cap_deltas;
};

#define PAIR_KEY(a, b) (((uint64_t)(uint32_t)(a) << 32) | (uint32_t)(b))
#define PAIR_LEFT(k) ((int32_t)((k) >> 32))
#define PAIR_RIGHT(k) ((int32_t)((k)&0xffffffffu))

/* Grow *arr (element size sz) so it holds at least `need` elements. */
static bool grow(void **arr, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *p = realloc(*arr, c * sz);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

vt_bpe *vt_bpe_new(const char *cont_prefix) {
    vt_bpe *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->symbols = vt_strtab_new();
    b->n_pair_slots = 4096;
    b->pair_slots = malloc(b->n_pair_slots * sizeof *b->pair_slots);
    if (cont_prefix) {
        b->cont_prefix = strdup(cont_prefix);
        b->cont_len = strlen(cont_prefix);
    }
    if (!b->symbols || !b->pair_slots || (cont_prefix && !b->cont_prefix)) {
        vt_bpe_free(b);
        return NULL;
    }
    memset(b->pair_slots, 0xff, b->n_pair_slots * sizeof *b->pair_slots);
    return b;
}

void vt_bpe_free(vt_bpe *b) {
    if (!b) return;
    vt_strtab_free(b->symbols);
    free(b->cont_prefix);
    free(b->syms);
    free(b->words);
    for (int32_t i = 0; i < b->n_pairs; i++) free(b->pairs[i].words);
    free(b->pairs);
    free(b->pair_slots);
    free(b->heap);
    free(b->merges);
    free(b->stamp);
    free(b->deltas);
    free(b);
}

vt_strtab *vt_bpe_symbols(vt_bpe *b) { return b->symbols; }
int32_t vt_bpe_n_merges(const vt_bpe *b) { return b->n_merges; }
const vt_merge *vt_bpe_merges(const vt_bpe *b) { return b->merges; }

bool vt_bpe_add_word(vt_bpe *b, const int32_t *syms, int32_t n, int64_t count) {
    if (n <= 0 || count <= 0) return true;
    size_t cap = b->cap_syms;
    if (!grow((void **)&b->syms, &cap, b->n_syms + (size_t)n, sizeof *b->syms)) return false;
    b->cap_syms = cap;
    if (b->n_syms + (size_t)n > INT32_MAX || b->n_words == INT32_MAX) return false;
    size_t wcap = (size_t)b->cap_words;
    if (!grow((void **)&b->words, &wcap, (size_t)b->n_words + 1, sizeof *b->words)) return false;
    b->cap_words = (int32_t)(wcap > INT32_MAX ? INT32_MAX : wcap);
    memcpy(b->syms + b->n_syms, syms, (size_t)n * sizeof *syms);
    b->words[b->n_words++] = (bpe_word){count, (int32_t)b->n_syms, n};
    b->n_syms += (size_t)n;
    return true;
}

static size_t pair_slot(const vt_bpe *b, uint64_t key) {
    size_t mask = b->n_pair_slots - 1, i = (size_t)hash_u64(key) & mask;
    for (;;) {
        int32_t p = b->pair_slots[i];
        if (p < 0 || b->pairs[p].key == key) return i;
        i = (i + 1) & mask;
    }
}

static bpe_pair *pair_find(vt_bpe *b, uint64_t key) {
    int32_t p = b->pair_slots[pair_slot(b, key)];
    return p < 0 ? NULL : &b->pairs[p];
}

/* Pair `key`, created with count 0 when absent. NULL on OOM. */
static bpe_pair *pair_get(vt_bpe *b, uint64_t key) {
    size_t slot = pair_slot(b, key);
    if (b->pair_slots[slot] >= 0) return &b->pairs[b->pair_slots[slot]];
    size_t cap = (size_t)b->cap_pairs;
    if (b->n_pairs == INT32_MAX || !grow((void **)&b->pairs, &cap, (size_t)b->n_pairs + 1, sizeof *b->pairs))
        return NULL;
    b->cap_pairs = (int32_t)(cap > INT32_MAX ? INT32_MAX : cap);
    int32_t p = b->n_pairs++;
    b->pairs[p] = (bpe_pair){key, 0, NULL, 0, 0};
    b->pair_slots[slot] = p;
    if ((size_t)b->n_pairs * 2 > b->n_pair_slots) {
        size_t n_slots = b->n_pair_slots * 2;
        int32_t *slots = malloc(n_slots * sizeof *slots);
        if (!slots) return NULL;
        memset(slots, 0xff, n_slots * sizeof *slots);
        free(b->pair_slots);
        b->pair_slots = slots;
        b->n_pair_slots = n_slots;
        for (int32_t i = 0; i < b->n_pairs; i++) b->pair_slots[pair_slot(b, b->pairs[i].key)] = i;
    }
    return &b->pairs[p];
}

static bool pair_add_word(bpe_pair *p, int32_t w) {
    if (p->n_words > 0 && p->words[p->n_words - 1] == w) return true;
    size_t cap = (size_t)p->cap_words;
    if (!grow((void **)&p->words, &cap, (size_t)p->n_words + 1, sizeof *p->words)) return false;
    p->cap_words = (int32_t)cap;
    p->words[p->n_words++] = w;
    return true;
}

/* Heap order: larger count first; ties -> smaller key. */
static bool heap_before(heap_entry a, heap_entry b) {
    return a.count > b.count || (a.count == b.count && a.key < b.key);
}

static bool heap_push(vt_bpe *b, int64_t count, uint64_t key) {
    if (!grow((void **)&b->heap, &b->cap_heap, b->n_heap + 1, sizeof *b->heap)) return false;
    size_t i = b->n_heap++;
    heap_entry e = {count, key};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_before(e, b->heap[parent])) break;
        b->heap[i] = b->heap[parent];
        i = parent;
    }
    b->heap[i] = e;
    return true;
}

static heap_entry heap_pop(vt_bpe *b) {
    heap_entry top = b->heap[0], last = b->heap[--b->n_heap];
    size_t i = 0, n = b->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(b->heap[c + 1], b->heap[c])) c++;
        if (!heap_before(b->heap[c], last)) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n > 0) b->heap[i] = last;
    return top;
}

static int cmp_delta(const void *a, const void *b) {
    uint64_t x = ((const pair_delta *)a)->key, y = ((const pair_delta *)b)->key;
    return x < y ? -1 : x > y;
}

/* Append the pairs of word w to b->deltas with +sign*count. */
static bool collect_pairs(vt_bpe *b, int32_t w, int sign, size_t *n) {
    const bpe_word *wd = &b->words[w];
    const int32_t *s = b->syms + wd->off;
    if (!grow((void **)&b->deltas, &b->cap_deltas, *n + (size_t)wd->len, sizeof *b->deltas)) return false;
    for (int32_t i = 0; i + 1 < wd->len; i++) {
        if (s[i] < 0 || s[i + 1] < 0) continue;
        b->deltas[(*n)++] = (pair_delta){PAIR_KEY(s[i], s[i + 1]), sign * wd->count};
    }
    return true;
}

/* Apply the net pair-count changes in deltas[0..n) caused by rewriting w. */
static bool apply_deltas(vt_bpe *b, int32_t w, size_t n) {
    qsort(b->deltas, n, sizeof *b->deltas, cmp_delta);
    for (size_t i = 0; i < n;) {
        uint64_t key = b->deltas[i].key;
        int64_t d = 0;
        for (; i < n && b->deltas[i].key == key; i++) d += b->deltas[i].delta;
        if (d == 0) continue;
        bpe_pair *p = pair_get(b, key);
        if (!p) return false;
        p->count += d;
        if (d > 0 && (!pair_add_word(p, w) || !heap_push(b, p->count, key))) return false;
    }
    return true;
}

/* Join the strings of symbols a and b (dropping b's continuation prefix)
 * and intern the result. -1 on OOM. */
static int32_t join_symbols(vt_bpe *b, int32_t a, int32_t c) {
    size_t la, lc;
    const char *sa = vt_strtab_str(b->symbols, a, &la);
    const char *sc = vt_strtab_str(b->symbols, c, &lc);
    if (b->cont_len && lc >= b->cont_len && memcmp(sc, b->cont_prefix, b->cont_len) == 0) {
        sc += b->cont_len;
        lc -= b->cont_len;
    }
    char stackbuf[256];
    char *buf = la + lc <= sizeof stackbuf ? stackbuf : malloc(la + lc);
    if (!buf) return -1;
    memcpy(buf, sa, la);
    memcpy(buf + la, sc, lc);
    int32_t id = vt_strtab_intern(b->symbols, buf, la + lc);
    if (buf != stackbuf) free(buf);
    return id;
}

onc_status vt_bpe_train(vt_bpe *b, int32_t max_symbols, int64_t min_frequency,
                        void (*progress)(void *, int64_t, int64_t), void *progress_user,
                        onc_error *err) {
    if (min_frequency < 1) min_frequency = 1;
    b->stamp = malloc(((size_t)b->n_words + 1) * sizeof *b->stamp);
    if (!b->stamp) goto oom;
    memset(b->stamp, 0xff, ((size_t)b->n_words + 1) * sizeof *b->stamp);

    /* Initial pair counts: one pass over all words. */
    for (int32_t w = 0; w < b->n_words; w++) {
        const bpe_word *wd = &b->words[w];
        const int32_t *s = b->syms + wd->off;
        for (int32_t i = 0; i + 1 < wd->len; i++) {
            if (s[i] < 0 || s[i + 1] < 0) continue;
            bpe_pair *p = pair_get(b, PAIR_KEY(s[i], s[i + 1]));
            if (!p || !pair_add_word(p, w)) goto oom;
            p->count += wd->count;
        }
    }
    for (int32_t i = 0; i < b->n_pairs; i++)
        if (!heap_push(b, b->pairs[i].count, b->pairs[i].key)) goto oom;

    const int32_t start = vt_strtab_n(b->symbols);
    const int64_t total = max_symbols > start ? max_symbols - start : 0;
    if (progress) progress(progress_user, 0, total);
    while (vt_strtab_n(b->symbols) < max_symbols && b->n_heap > 0) {
        heap_entry top = heap_pop(b);
        bpe_pair *p = pair_find(b, top.key);
        if (!p || p->count <= 0) continue;
        if (p->count != top.count) { /* stale snapshot: requeue current count */
            if (!heap_push(b, p->count, top.key)) goto oom;
            continue;
        }
        if (p->count < min_frequency) break;

        const int32_t left = PAIR_LEFT(top.key), right = PAIR_RIGHT(top.key);
        const int32_t result = join_symbols(b, left, right);
        if (result < 0) goto oom;
        size_t mcap = (size_t)b->cap_merges;
        if (!grow((void **)&b->merges, &mcap, (size_t)b->n_merges + 1, sizeof *b->merges)) goto oom;
        b->cap_merges = (int32_t)mcap;
        const int32_t merge_no = b->n_merges;
        b->merges[b->n_merges++] = (vt_merge){left, right, result};

        /* Take the word list out of the pair (the pair cannot reappear:
         * merged symbols are strictly longer than either part). */
        int32_t *list = p->words, n_list = p->n_words;
        p->words = NULL;
        p->n_words = p->cap_words = 0;
        for (int32_t k = 0; k < n_list; k++) {
            int32_t w = list[k];
            if (b->stamp[w] == merge_no) continue;
            b->stamp[w] = merge_no;
            bpe_word *wd = &b->words[w];
            int32_t *s = b->syms + wd->off;
            bool found = false;
            for (int32_t i = 0; i + 1 < wd->len; i++)
                if (s[i] == left && s[i + 1] == right) {
                    found = true;
                    break;
                }
            if (!found) continue;
            size_t n = 0;
            if (!collect_pairs(b, w, -1, &n)) {
                free(list);
                goto oom;
            }
            int32_t o = 0;
            for (int32_t i = 0; i < wd->len; i++) {
                if (i + 1 < wd->len && s[i] == left && s[i + 1] == right) {
                    s[o++] = result;
                    i++;
                } else {
                    s[o++] = s[i];
                }
            }
            wd->len = o;
            if (!collect_pairs(b, w, +1, &n) || !apply_deltas(b, w, n)) {
                free(list);
                goto oom;
            }
        }
        free(list);
        if (progress && (b->n_merges & 63) == 0)
            progress(progress_user, vt_strtab_n(b->symbols) - start, total);
    }
    if (progress) progress(progress_user, total, total);
    return ONC_OK;
oom:
    return onc_error_set(err, ONC_ERR_NOMEM, "vocabulary training: out of memory");
}
