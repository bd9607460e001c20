/* tok_spm.c — SentencePiece BPE ("llama") as llama.cpp's
 * llm_tokenizer_spm_session: spaces become "▁", the text is split into UTF-8
 * characters, and the adjacent pair whose concatenation is the vocabulary
 * token with the highest score is merged (ties: leftmost) until no pair is a
 * token; symbols that are not tokens fall back to <0xXX> byte tokens (then
 * the raw byte as a token, then <unk>).
 *
 * llama.cpp also keeps a "rev_merge" map to re-split symbols that are not
 * tokens; every merged symbol is a token by construction and single
 * characters cannot be re-split, so for valid UTF-8 (all input here is) that
 * path never runs and is not reproduced. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"
#include "tokenizer/unicode.h"

typedef struct spm_sym {
    uint32_t off, n; /* bytes of the escaped text; n == 0: merged away */
    int32_t prev, next;
} spm_sym;

typedef struct spm_bigram {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_bigram;

/* max-heap: higher score first, then smaller left */
static bool bigram_before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct spm_heap {
    spm_bigram *v;
    size_t n, cap;
    bool oom;
} spm_heap;

static void heap_push(spm_heap *h, spm_bigram b) {
    if (h->oom) return;
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 256;
        spm_bigram *nv = realloc(h->v, nc * sizeof *nv);
        if (!nv) {
            h->oom = true;
            return;
        }
        h->v = nv;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&b, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
}

static spm_bigram heap_pop(spm_heap *h) {
    spm_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(&h->v[c + 1], &h->v[c])) c++;
        if (!bigram_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static void try_add_bigram(const onc_tokenizer *t, const char *s, const spm_sym *syms, int32_t left, int32_t right,
                           spm_heap *h) {
    if (left < 0 || right < 0) return;
    uint32_t size = syms[left].n + syms[right].n;
    int32_t id = tok_map_get(&t->token_map, s + syms[left].off, size);
    if (id < 0) return;
    heap_push(h, (spm_bigram){t->scores[id], left, right, size});
}

/* The symbol is the escaped space U+2581. */
static bool is_space_sym(const char *s, const spm_sym *sym) {
    return sym->n == 3 && memcmp(s + sym->off, "\xE2\x96\x81", 3) == 0;
}

void tok_spm_tokenize(const onc_tokenizer *t, const char *text, size_t len, bool space_prefix, tok_ids *out) {
    /* escape: optional leading space, then ' ' -> U+2581 */
    size_t n_spaces = space_prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++) n_spaces += text[i] == ' ';
    size_t elen = len + (space_prefix ? 1 : 0) + 2 * n_spaces;
    char *s = malloc(elen + 1);
    spm_sym *syms = malloc((elen + 1) * sizeof *syms);
    spm_heap heap = {0};
    if (!s || !syms) goto oom;
    size_t o = 0;
    if (space_prefix) memcpy(s + o, "\xE2\x96\x81", 3), o += 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') memcpy(s + o, "\xE2\x96\x81", 3), o += 3;
        else s[o++] = text[i];
    }
    if (o == 0) goto done;

    int32_t n_syms = 0;
    for (size_t off = 0; off < o;) {
        size_t cl = tok_utf8_len((unsigned char)s[off]);
        if (cl > o - off) cl = o - off;
        syms[n_syms] = (spm_sym){(uint32_t)off, (uint32_t)cl, n_syms - 1, n_syms + 1};
        n_syms++;
        off += cl;
    }
    /* Merge segment by segment. A segment ends before a "▁" that follows a
     * non-"▁" symbol, when no token of the vocabulary has such a "x▁" inside
     * it (t->spm_space_split): then no merge can cross the cut, and merging
     * each segment alone in the same (score, position) order gives exactly
     * the whole-text result, with a heap that stays small and in cache.
     * Otherwise the whole text is one segment (llama.cpp's procedure). */
    int32_t seg = 0;
    for (int32_t i = 1; i <= n_syms; i++) {
        if (i < n_syms && !(t->spm_space_split && is_space_sym(s, &syms[i]) && !is_space_sym(s, &syms[i - 1])))
            continue;
        syms[seg].prev = -1;
        syms[i - 1].next = -1;
        heap.n = 0;
        for (int32_t j = seg + 1; j < i; j++) try_add_bigram(t, s, syms, j - 1, j, &heap);
        while (heap.n > 0 && !heap.oom) {
            spm_bigram bg = heap_pop(&heap);
            spm_sym *l = &syms[bg.left], *r = &syms[bg.right];
            if (l->n == 0 || r->n == 0 || l->n + r->n != bg.size) continue;
            l->n += r->n;
            r->n = 0;
            l->next = r->next;
            if (r->next >= 0) syms[r->next].prev = bg.left;
            try_add_bigram(t, s, syms, l->prev, bg.left, &heap);
            try_add_bigram(t, s, syms, bg.left, l->next, &heap);
        }
        if (heap.oom) goto oom;
        for (int32_t k = seg; k != -1; k = syms[k].next) {
            const spm_sym *sym = &syms[k];
            int32_t id = tok_map_get(&t->token_map, s + sym->off, sym->n);
            if (id >= 0) {
                tok_ids_push(out, id);
                continue;
            }
            for (uint32_t j = 0; j < sym->n; j++) {
                int32_t bid = t->byte_token[(unsigned char)s[sym->off + j]];
                if (bid < 0) bid = t->special_ids[ONC_SPECIAL_UNK];
                if (bid >= 0) tok_ids_push(out, bid);
            }
        }
        seg = i;
    }
    goto done;
oom:
    out->oom = true;
done:
    free(heap.v);
    free(syms);
    free(s);
}
