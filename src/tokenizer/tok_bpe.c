/* tok_bpe.c — byte-level BPE ("gpt2") as llama.cpp's llm_tokenizer_bpe:
 * the pre-tokenizer regexes of tokenizer.ggml.pre split the text (each regex
 * applied inside the pieces of the previous one; text between matches is a
 * piece too), each piece is mapped to GPT-2's byte symbols, then the
 * adjacent pair with the lowest merge rank is merged (ties: leftmost) until
 * none is left. With ignore_merges (llama3) a piece that is already a token
 * is emitted whole. A final symbol that is not a token falls back to the
 * tokens of its single bytes (those that exist), as llama.cpp does.
 *
 * Regexes run on PCRE2 (UTF + UCP, JIT when available). llama.cpp runs the
 * gpt-2 and llama3 expressions through hand-written matchers and the others
 * through std::regex over a "collapsed" text; both behave as a real regex
 * engine with Unicode categories, where \s is the White_Space property. So
 * the expressions below are llama.cpp's, with \s written as that explicit
 * set (PCRE2's \s would add U+180E), and with the trailing "|\s+" that the
 * gpt-2 matcher implements.
 *
 * Unknown pre-tokenizer names are an error, as in llama.cpp. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"
#include "tokenizer/unicode.h"

// --- pre-tokenizer table ---------------------------------------------------------

typedef struct pre_name {
    const char *name;
    tok_pre_info info;
} pre_name;

/*                                        type            ignore bos    sep    clean */
#define PRE_GPT2 {TOK_PRE_GPT2, false, false, false, true}
static const pre_name k_pre_names[] = {
    {"default", {TOK_PRE_DEFAULT, false, false, false, true}},
    {"llama3", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"llama-v3", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"llama-bpe", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"falcon3", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"falcon-h1", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"pixtral", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"midm-2.0", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"lfm2", {TOK_PRE_LLAMA3, true, true, false, true}},
    {"dbrx", {TOK_PRE_LLAMA3_RE, false, false, false, true}},
    {"smaug-bpe", {TOK_PRE_LLAMA3_RE, false, false, false, true}},
    {"qwen2", {TOK_PRE_QWEN2, false, false, false, false}},
    {"deepseek-r1-qwen", {TOK_PRE_QWEN2, false, false, false, false}},
    {"kormo", {TOK_PRE_QWEN2, false, false, false, false}},
    {"megrez", {TOK_PRE_QWEN2, false, false, false, true}},
    {"stablelm2", {TOK_PRE_QWEN2, false, false, false, true}},
    {"gpt-2", PRE_GPT2},
    {"phi-2", PRE_GPT2},
    {"jina-es", PRE_GPT2},
    {"jina-de", PRE_GPT2},
    {"jina-v2-es", PRE_GPT2},
    {"jina-v2-de", PRE_GPT2},
    {"gigachat", PRE_GPT2},
    {"a.x-4.0", PRE_GPT2},
    {"mellum", PRE_GPT2},
    {"exaone4", PRE_GPT2},
    {"mpt", PRE_GPT2},
    {"olmo", PRE_GPT2},
    {"jais", PRE_GPT2},
    {"trillion", PRE_GPT2},
    {"granite-docling", PRE_GPT2},
    {"jina-v1-en", {TOK_PRE_GPT2, false, false, true, true}},
    {"jina-v2-code", {TOK_PRE_GPT2, false, false, true, true}},
    {"roberta-bpe", {TOK_PRE_GPT2, false, false, true, true}},
    {"starcoder", {TOK_PRE_STARCODER, false, false, false, true}},
    {"refact", {TOK_PRE_STARCODER, false, false, false, true}},
    {"command-r", {TOK_PRE_STARCODER, false, false, false, true}},
    {"smollm", {TOK_PRE_STARCODER, false, false, false, true}},
    {"codeshell", {TOK_PRE_STARCODER, false, false, false, true}},
    {"exaone", {TOK_PRE_STARCODER, false, false, false, true}},
    {"minerva-7b", {TOK_PRE_STARCODER, false, false, false, true}},
};

bool tok_pre_lookup(const char *name, tok_pre_info *info) {
    if (!name || !*name) name = "default";
    for (size_t i = 0; i < sizeof k_pre_names / sizeof k_pre_names[0]; i++) {
        if (strcmp(name, k_pre_names[i].name) == 0) {
            *info = k_pre_names[i].info;
            return true;
        }
    }
    return false;
}

// --- regexes ------------------------------------------------------------------------

/* \s as llama.cpp's White_Space set */
#define WS "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

#define RE_GPT2                                                                                                     \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+"
#define RE_LLAMA3_HEAD                                                                                              \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define RE_LLAMA3_TAIL                                                                                              \
    "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+"

static const char *const k_re_default[] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL};
static const char *const k_re_gpt2[] = {RE_GPT2, NULL};
static const char *const k_re_llama3[] = {RE_LLAMA3_HEAD "\\p{N}{1,3}" RE_LLAMA3_TAIL, NULL};
static const char *const k_re_qwen2[] = {RE_LLAMA3_HEAD "\\p{N}" RE_LLAMA3_TAIL, NULL};
static const char *const k_re_starcoder[] = {"\\p{N}", RE_GPT2, NULL};

static const char *const *regexes_of(tok_pre_type type) {
    switch (type) {
    case TOK_PRE_GPT2: return k_re_gpt2;
    case TOK_PRE_LLAMA3:
    case TOK_PRE_LLAMA3_RE: return k_re_llama3;
    case TOK_PRE_QWEN2: return k_re_qwen2;
    case TOK_PRE_STARCODER: return k_re_starcoder;
    case TOK_PRE_DEFAULT: break;
    }
    return k_re_default;
}

onc_status tok_bpe_init(onc_tokenizer *t, const onc_vocab_spec *spec, onc_error *err) {
    const char *const *res = regexes_of(t->pre.type);
    for (int i = 0; res[i]; i++) {
        int code;
        PCRE2_SIZE eoff;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)res[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &eoff,
                                       NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            return onc_error_set(err, ONC_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer regex %d does not compile: %s",
                                 i, (const char *)msg);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreter when JIT is unavailable */
        t->regex[t->n_regex++] = re;
    }

    /* merges: "left right", split at the first ' ' from index 1 */
    size_t pool = 0;
    for (int32_t i = 0; i < spec->n_merges; i++) pool += strlen(spec->merges[i]) + 1;
    t->merge_pool = malloc(pool ? pool : 1);
    if (!t->merge_pool || !tok_map_init(&t->merge_map, (size_t)spec->n_merges))
        return onc_error_set(err, ONC_ERR_NOMEM, "tokenizer: out of memory for %d merges", spec->n_merges);
    size_t o = 0;
    for (int32_t i = 0; i < spec->n_merges; i++) {
        const char *m = spec->merges[i];
        size_t n = strlen(m);
        const char *sp = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL;
        if (!sp) continue; /* llama.cpp records an empty pair, which never matches */
        char *k = t->merge_pool + o;
        memcpy(k, m, n + 1);
        k[sp - m] = '\xFF';
        o += n + 1;
        /* the first occurrence of a pair keeps its rank (llama.cpp: bpe_ranks.emplace) */
        if (tok_map_get(&t->merge_map, k, n) >= 0) continue;
        if (!tok_map_put(&t->merge_map, k, n, i))
            return onc_error_set(err, ONC_ERR_NOMEM, "tokenizer: out of memory for merges");
    }
    return ONC_OK;
}

void tok_bpe_free(onc_tokenizer *t) {
    for (int i = 0; i < t->n_regex; i++) pcre2_code_free((pcre2_code *)t->regex[i]);
    t->n_regex = 0;
    tok_map_free(&t->merge_map);
    free(t->merge_pool);
    t->merge_pool = NULL;
}

// --- pre-tokenization ------------------------------------------------------------------

typedef struct piece_vec {
    size_t *v; /* offset, length pairs */
    size_t n, cap;
} piece_vec;

static bool piece_push(piece_vec *p, size_t off, size_t len) {
    if (p->n + 2 > p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 256;
        size_t *nv = realloc(p->v, nc * sizeof *nv);
        if (!nv) return false;
        p->v = nv;
        p->cap = nc;
    }
    p->v[p->n++] = off;
    p->v[p->n++] = len;
    return true;
}

onc_status tok_bpe_pretokenize(const onc_tokenizer *t, const char *text, size_t len, size_t **pieces,
                               size_t *n_pieces, onc_error *err) {
    piece_vec cur = {0}, next = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    onc_status st = ONC_OK;
    if (!md || (len > 0 && !piece_push(&cur, 0, len))) goto oom;
    for (int r = 0; r < t->n_regex; r++) {
        const pcre2_code *re = t->regex[r];
        next.n = 0;
        for (size_t p = 0; p < cur.n; p += 2) {
            const char *seg = text + cur.v[p];
            size_t seg_len = cur.v[p + 1], pos = 0, prev_end = 0;
            while (pos < seg_len) {
                int rc = pcre2_match(re, (PCRE2_SPTR)seg, seg_len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
                if (rc == PCRE2_ERROR_NOMATCH) break;
                if (rc < 0) {
                    PCRE2_UCHAR msg[256];
                    pcre2_get_error_message(rc, msg, sizeof msg);
                    st = onc_error_set(err, ONC_ERR_INVALID, "tokenizer: pre-tokenizer regex failed: %s",
                                       (const char *)msg);
                    goto done;
                }
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                size_t ms = ov[0], me = ov[1];
                if (me == ms) { /* cannot happen with these expressions; step one character */
                    pos = ms + tok_utf8_len((unsigned char)seg[ms]);
                    continue;
                }
                if (ms > prev_end && !piece_push(&next, cur.v[p] + prev_end, ms - prev_end)) goto oom;
                if (!piece_push(&next, cur.v[p] + ms, me - ms)) goto oom;
                prev_end = pos = me;
            }
            if (prev_end < seg_len && !piece_push(&next, cur.v[p] + prev_end, seg_len - prev_end)) goto oom;
        }
        piece_vec tmp = cur;
        cur = next;
        next = tmp;
    }
    *pieces = cur.v;
    *n_pieces = cur.n / 2;
    cur.v = NULL;
    goto done;
oom:
    st = onc_error_set(err, ONC_ERR_NOMEM, "tokenizer: out of memory");
done:
    free(cur.v);
    free(next.v);
    pcre2_match_data_free(md);
    return st;
}

// --- merging ---------------------------------------------------------------------------

typedef struct bpe_sym {
    uint32_t off, n;
    int32_t prev, next;
} bpe_sym;

typedef struct bpe_bigram {
    int32_t rank, left, right;
    uint32_t size;
} bpe_bigram;

/* min-heap: lower rank first, then smaller left */
static bool bpe_before(const bpe_bigram *a, const bpe_bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

typedef struct bpe_work {
    char *word; /* byte-level encoded piece */
    size_t word_cap;
    bpe_sym *syms;
    size_t syms_cap;
    bpe_bigram *heap;
    size_t heap_n, heap_cap;
    bool oom;
} bpe_work;

static void bpe_push(bpe_work *w, bpe_bigram b) {
    if (w->heap_n == w->heap_cap) {
        size_t nc = w->heap_cap ? w->heap_cap * 2 : 64;
        bpe_bigram *nv = realloc(w->heap, nc * sizeof *nv);
        if (!nv) {
            w->oom = true;
            return;
        }
        w->heap = nv;
        w->heap_cap = nc;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bpe_before(&b, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = b;
}

static bpe_bigram bpe_pop(bpe_work *w) {
    bpe_bigram top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->heap_n) break;
        if (c + 1 < w->heap_n && bpe_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!bpe_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->heap_n) w->heap[i] = last;
    return top;
}

static void bpe_add_bigram(const onc_tokenizer *t, bpe_work *w, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const bpe_sym *l = &w->syms[left], *r = &w->syms[right];
    int32_t rank = tok_map_get_pair(&t->merge_map, w->word + l->off, l->n, w->word + r->off, r->n);
    if (rank < 0) return;
    bpe_push(w, (bpe_bigram){rank, left, right, l->n + r->n});
}

static void bpe_emit(const onc_tokenizer *t, const char *s, size_t n, tok_ids *out) {
    int32_t id = tok_map_get(&t->token_map, s, n);
    if (id >= 0) {
        tok_ids_push(out, id);
        return;
    }
    for (size_t j = 0; j < n; j++) {
        int32_t b = t->byte_token[(unsigned char)s[j]];
        if (b >= 0) tok_ids_push(out, b);
    }
}

static void bpe_word(const onc_tokenizer *t, bpe_work *w, const char *piece, size_t plen, tok_ids *out) {
    /* byte-level encode */
    if (2 * plen > w->word_cap) {
        size_t nc = 2 * plen + 64;
        char *nw = realloc(w->word, nc);
        if (!nw) {
            w->oom = true;
            return;
        }
        w->word = nw;
        w->word_cap = nc;
    }
    size_t n = 0;
    for (size_t i = 0; i < plen; i++) n += tok_byte_to_utf8((uint8_t)piece[i], w->word + n);

    if (t->pre.ignore_merges && tok_map_get(&t->token_map, w->word, n) >= 0) {
        bpe_emit(t, w->word, n, out);
        return;
    }
    if (n > w->syms_cap) {
        bpe_sym *ns = realloc(w->syms, (n + 16) * sizeof *ns);
        if (!ns) {
            w->oom = true;
            return;
        }
        w->syms = ns;
        w->syms_cap = n + 16;
    }
    int32_t n_syms = 0;
    for (size_t off = 0; off < n;) {
        size_t cl = tok_utf8_len((unsigned char)w->word[off]);
        if (cl > n - off) cl = n - off;
        w->syms[n_syms] = (bpe_sym){(uint32_t)off, (uint32_t)cl, n_syms - 1, off + cl == n ? -1 : n_syms + 1};
        n_syms++;
        off += cl;
    }
    w->heap_n = 0;
    for (int32_t i = 1; i < n_syms; i++) bpe_add_bigram(t, w, i - 1, i);
    while (w->heap_n > 0 && !w->oom) {
        bpe_bigram b = bpe_pop(w);
        bpe_sym *l = &w->syms[b.left], *r = &w->syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* outdated */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->syms[r->next].prev = b.left;
        bpe_add_bigram(t, w, l->prev, b.left);
        bpe_add_bigram(t, w, b.left, l->next);
    }
    for (int32_t i = 0; i < n_syms; i++)
        if (w->syms[i].n > 0) bpe_emit(t, w->word + w->syms[i].off, w->syms[i].n, out);
}

onc_status tok_bpe_tokenize(const onc_tokenizer *t, const char *text, size_t len, tok_ids *out, onc_error *err) {
    size_t *pieces = NULL, n_pieces = 0;
    onc_status st = tok_bpe_pretokenize(t, text, len, &pieces, &n_pieces, err);
    if (st != ONC_OK) return st;
    bpe_work w = {0};
    for (size_t i = 0; i < n_pieces && !w.oom && !out->oom; i++)
        bpe_word(t, &w, text + pieces[2 * i], pieces[2 * i + 1], out);
    if (w.oom) out->oom = true;
    free(w.word);
    free(w.syms);
    free(w.heap);
    free(pieces);
    return ONC_OK;
}
