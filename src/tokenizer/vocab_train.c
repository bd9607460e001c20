/* vocab_train.c — learn a vocabulary from text (onc_vocab_train, see
 * oncolm/vocab.h): the three front ends that turn text into counted words of
 * initial symbols, and the assembly of the learned merges into an
 * onc_vocab_spec laid out like the real models'.
 *
 *   SPM ("llama"): SentencePiece-style BPE. Text gets a leading space, spaces
 *     become U+2581 "▁", a word starts at each "▁"; digits and control
 *     characters split words (digits are never merged, as Llama's
 *     split_digits; controls fall back to byte tokens). Layout: <unk> <s> </s>,
 *     <0x00>..<0xFF>, merged pieces with score -k for merge k = 1, 2, ...
 *     then the characters (scores below every piece), like SentencePiece.
 *     llama.cpp's SPM tokenizer (best-score merge first) then replays the
 *     learned merge order.
 *   BPE ("gpt2"): byte-level BPE. Words come from the pre-tokenizer regex
 *     (PCRE2, UTF + UCP), bytes map through the GPT-2 byte->unicode table;
 *     256 base symbols (GPT-2 order), merged symbols, then the special tokens
 *     of the chosen pre-tokenizer's model family; merges "left right".
 *   WPM ("bert"): WordPiece learned with frequency BPE merges over words
 *     whose non-initial characters carry the "##" prefix (what the HF
 *     WordPieceTrainer does), not the likelihood score. Layout is BERT's:
 *     [PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102,
 *     [MASK]=103, then characters and pieces, stored in GGUF's phantom-space
 *     form: word-initial pieces get a "▁" prefix, "##" pieces lose the "##".
 *
 * Not here: the GGUF serialisation (vocab_spec.c) and tokenizing (tok_*.c). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/vocab.h"
#include "tokenizer/vocab_train_impl.h"

#define SPACE_MARK "\xE2\x96\x81" /* U+2581 "▁" */

onc_vocab_train_params onc_vocab_train_default_params(onc_vocab_kind kind) {
    onc_vocab_train_params p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    p.pre = kind == ONC_VOCAB_BPE ? "llama-bpe" : NULL;
    p.vocab_size = kind == ONC_VOCAB_WPM ? 8000 : 8000;
    p.min_frequency = 2;
    p.lowercase = true;
    p.n_threads = 1;
    p.char_coverage = 0.9999;
    return p;
}

// --- result assembly -----------------------------------------------------------

typedef struct spec_builder {
    onc_vocab_spec *spec;
    int32_t cap;
    vt_strtab *seen; /* token texts already in the spec */
    bool oom;
} spec_builder;

static bool builder_init(spec_builder *sb, onc_vocab_kind kind, bool with_scores) {
    memset(sb, 0, sizeof *sb);
    sb->spec = calloc(1, sizeof *sb->spec);
    sb->seen = vt_strtab_new();
    if (!sb->spec || !sb->seen) return false;
    onc_vocab_spec *s = sb->spec;
    s->kind = kind;
    s->bos_id = s->eos_id = s->unk_id = s->sep_id = s->pad_id = s->mask_id = ONC_TOKEN_NONE;
    (void)with_scores;
    return true;
}

/* Append a token; returns its id, or the existing id when the text is
 * already a token (then nothing is added), or -1 on OOM. */
static int32_t builder_add(spec_builder *sb, const char *text, size_t len, float score, onc_token_type type) {
    onc_vocab_spec *s = sb->spec;
    int32_t n_before = vt_strtab_n(sb->seen);
    int32_t id = vt_strtab_intern(sb->seen, text, len);
    if (id < 0) goto oom;
    if (id < n_before) return id;
    if (s->n_tokens == sb->cap) {
        int32_t cap = sb->cap ? sb->cap * 2 : 1024;
        char **t = realloc(s->tokens, (size_t)cap * sizeof *t);
        if (!t) goto oom;
        s->tokens = t;
        float *sc = realloc(s->scores, (size_t)cap * sizeof *sc);
        if (!sc) goto oom;
        s->scores = sc;
        int32_t *ty = realloc(s->token_types, (size_t)cap * sizeof *ty);
        if (!ty) goto oom;
        s->token_types = ty;
        sb->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) goto oom;
    memcpy(copy, text, len);
    copy[len] = '\0';
    s->tokens[s->n_tokens] = copy;
    s->scores[s->n_tokens] = score;
    s->token_types[s->n_tokens] = type;
    return s->n_tokens++;
oom:
    sb->oom = true;
    return -1;
}

static int32_t builder_add_str(spec_builder *sb, const char *text, float score, onc_token_type type) {
    return builder_add(sb, text, strlen(text), score, type);
}

/* Finish: returns the spec (or NULL with err on OOM); frees the builder. */
static onc_vocab_spec *builder_finish(spec_builder *sb, bool keep_scores, onc_error *err) {
    vt_strtab_free(sb->seen);
    if (sb->oom || !sb->spec) {
        onc_vocab_spec_free(sb->spec);
        onc_error_set(err, ONC_ERR_NOMEM, "vocabulary training: out of memory");
        return NULL;
    }
    if (!keep_scores) {
        free(sb->spec->scores);
        sb->spec->scores = NULL;
    }
    return sb->spec;
}

/* Sort helper: alphabet entries by count desc, then bytes asc. */
typedef struct alpha_entry {
    const char *s;
    size_t len;
    int64_t count;
} alpha_entry;

static int cmp_alpha(const void *a, const void *b) {
    const alpha_entry *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorted copy of a table's entries (strings borrowed). NULL on OOM. */
static alpha_entry *sorted_entries(vt_strtab *t) {
    int32_t n = vt_strtab_n(t);
    alpha_entry *e = malloc(((size_t)n + 1) * sizeof *e);
    if (!e) return NULL;
    for (int32_t i = 0; i < n; i++) {
        e[i].s = vt_strtab_str(t, i, &e[i].len);
        e[i].count = *vt_strtab_count(t, i);
    }
    qsort(e, (size_t)n, sizeof *e, cmp_alpha);
    return e;
}

// --- SPM -------------------------------------------------------------------------

#define SPM_N_FIXED 259 /* <unk> <s> </s> + 256 bytes */

static bool spm_is_control(const char *s, size_t l) {
    unsigned char c = (unsigned char)s[0];
    return l == 1 && (c < 0x20 || c == 0x7F);
}

/* Split normalised text into words and count them (see file header). */
static bool spm_count_words(const char *text, size_t len, vt_strtab *words) {
    size_t cap = 256, n = 0;
    char *w = malloc(cap);
    if (!w) return false;
    bool ok = true;
#define SPM_FLUSH()                                                                                \
    do {                                                                                           \
        if (n > 0) {                                                                               \
            int32_t id_ = vt_strtab_intern(words, w, n);                                           \
            if (id_ < 0) {                                                                         \
                ok = false;                                                                        \
                break;                                                                             \
            }                                                                                      \
            (*vt_strtab_count(words, id_))++;                                                      \
            n = 0;                                                                                 \
        }                                                                                          \
    } while (0)
    /* Leading space prefix: the text starts a word with "▁". */
    memcpy(w, SPACE_MARK, 3);
    n = 3;
    for (size_t i = 0; ok && i < len;) {
        size_t l = vt_utf8_len(text + i);
        if (i + l > len) l = len - i;
        const char *c = text + i;
        i += l;
        if (n + 4 > cap) {
            char *nw = realloc(w, cap * 2);
            if (!nw) {
                ok = false;
                break;
            }
            w = nw;
            cap *= 2;
        }
        if (l == 1 && *c == ' ') {
            SPM_FLUSH();
            memcpy(w, SPACE_MARK, 3);
            n = 3;
        } else if (spm_is_control(c, l)) {
            SPM_FLUSH();
        } else if (l == 1 && *c >= '0' && *c <= '9') {
            SPM_FLUSH();
            w[0] = *c;
            n = 1;
            SPM_FLUSH();
        } else {
            memcpy(w + n, c, l);
            n += l;
        }
    }
    if (ok) SPM_FLUSH();
#undef SPM_FLUSH
    free(w);
    return ok;
}

/* Turn each word into symbol ids (characters; -1 for characters outside the
 * alphabet) and hand it to the engine. Alphabet symbols must be interned in
 * the engine's table already; no new symbols are created here. */
static bool add_char_words(vt_bpe *bpe, vt_strtab *words, const char *cont_prefix, bool skip_unknown_words) {
    vt_strtab *sym = vt_bpe_symbols(bpe);
    size_t cap = 256;
    int32_t *ids = malloc(cap * sizeof *ids);
    char buf[16];
    if (!ids) return false;
    size_t cl = cont_prefix ? strlen(cont_prefix) : 0;
    bool ok = true;
    for (int32_t wi = 0; ok && wi < vt_strtab_n(words); wi++) {
        size_t len;
        const char *s = vt_strtab_str(words, wi, &len);
        size_t n = 0;
        bool unknown = false;
        for (size_t i = 0; i < len;) {
            size_t l = vt_utf8_len(s + i);
            if (i + l > len) l = len - i;
            size_t bl = 0;
            if (i > 0 && cl) {
                memcpy(buf, cont_prefix, cl);
                bl = cl;
            }
            memcpy(buf + bl, s + i, l);
            bl += l;
            i += l;
            if (n == cap) {
                int32_t *ni = realloc(ids, cap * 2 * sizeof *ids);
                if (!ni) {
                    ok = false;
                    break;
                }
                ids = ni;
                cap *= 2;
            }
            int32_t id = vt_strtab_find(sym, buf, bl);
            if (id < 0) unknown = true;
            ids[n++] = id;
        }
        if (!ok) break;
        if (unknown && skip_unknown_words) continue;
        if (!vt_bpe_add_word(bpe, ids, (int32_t)n, *vt_strtab_count(words, wi))) ok = false;
    }
    free(ids);
    return ok;
}

/* Count the (prefixed) characters of every word into `chars`. */
static bool count_chars(vt_strtab *words, const char *cont_prefix, vt_strtab *chars) {
    char buf[16];
    size_t cl = cont_prefix ? strlen(cont_prefix) : 0;
    for (int32_t wi = 0; wi < vt_strtab_n(words); wi++) {
        size_t len;
        const char *s = vt_strtab_str(words, wi, &len);
        int64_t count = *vt_strtab_count(words, wi);
        for (size_t i = 0; i < len;) {
            size_t l = vt_utf8_len(s + i);
            if (i + l > len) l = len - i;
            size_t bl = 0;
            if (i > 0 && cl) {
                memcpy(buf, cont_prefix, cl);
                bl = cl;
            }
            memcpy(buf + bl, s + i, l);
            bl += l;
            i += l;
            int32_t id = vt_strtab_intern(chars, buf, bl);
            if (id < 0) return false;
            *vt_strtab_count(chars, id) += count;
        }
    }
    return true;
}

static onc_vocab_spec *train_spm(const char *text, size_t len, const onc_vocab_train_params *p, onc_error *err) {
    int32_t budget = p->vocab_size - SPM_N_FIXED;
    if (budget < 1) {
        onc_error_set(err, ONC_ERR_INVALID, "vocabulary training: SPM vocab_size %d is too small (minimum %d)",
                      (int)p->vocab_size, SPM_N_FIXED + 1);
        return NULL;
    }
    onc_vocab_spec *result = NULL;
    vt_strtab *words = vt_strtab_new(), *chars = vt_strtab_new();
    vt_bpe *bpe = vt_bpe_new(NULL);
    alpha_entry *alpha = NULL;
    spec_builder sb;
    if (!builder_init(&sb, ONC_VOCAB_SPM, true)) sb.oom = true;
    if (sb.oom || !words || !chars || !bpe || !spm_count_words(text, len, words) || !count_chars(words, NULL, chars) ||
        !(alpha = sorted_entries(chars)))
        goto oom;

    /* Alphabet: most frequent characters up to the coverage, never controls;
     * "▁" always. The rest falls back to byte tokens. */
    int64_t total = 0;
    int32_t n_chars = vt_strtab_n(chars), n_alpha = 0;
    for (int32_t i = 0; i < n_chars; i++) total += alpha[i].count;
    double covered = 0;
    vt_strtab *sym = vt_bpe_symbols(bpe);
    for (int32_t i = 0; i < n_chars && n_alpha < budget; i++) {
        bool space = alpha[i].len == 3 && memcmp(alpha[i].s, SPACE_MARK, 3) == 0;
        if (spm_is_control(alpha[i].s, alpha[i].len)) continue;
        if (!space && total > 0 && covered >= p->char_coverage * (double)total) continue;
        covered += (double)alpha[i].count;
        if (vt_strtab_intern(sym, alpha[i].s, alpha[i].len) < 0) goto oom;
        *vt_strtab_count(sym, n_alpha) = alpha[i].count;
        n_alpha++;
    }
    if (!add_char_words(bpe, words, NULL, false)) goto oom;
    vt_strtab_free(words);
    words = NULL;
    if (vt_bpe_train(bpe, budget, p->min_frequency, p->progress, p->progress_user, err) != ONC_OK) goto fail;

    builder_add_str(&sb, "<unk>", 0.0f, ONC_TOKEN_UNKNOWN);
    builder_add_str(&sb, "<s>", 0.0f, ONC_TOKEN_CONTROL);
    builder_add_str(&sb, "</s>", 0.0f, ONC_TOKEN_CONTROL);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        builder_add_str(&sb, name, 0.0f, ONC_TOKEN_BYTE);
    }
    int32_t n_sym = vt_strtab_n(sym);
    for (int32_t id = n_alpha; id < n_sym; id++) { /* merged pieces, creation order */
        size_t l;
        const char *s = vt_strtab_str(sym, id, &l);
        builder_add(&sb, s, l, -(float)(id - n_alpha + 1), ONC_TOKEN_NORMAL);
    }
    for (int32_t id = 0; id < n_alpha; id++) { /* characters, below every piece */
        size_t l;
        const char *s = vt_strtab_str(sym, id, &l);
        builder_add(&sb, s, l, -(float)(n_sym - n_alpha + 1 + id), ONC_TOKEN_NORMAL);
    }
    sb.spec->unk_id = 0;
    sb.spec->bos_id = 1;
    sb.spec->eos_id = 2;
    sb.spec->add_bos = true;
    sb.spec->add_space_prefix = true;
    result = builder_finish(&sb, true, err);
    sb.spec = NULL;
    goto done;
oom:
    onc_error_set(err, ONC_ERR_NOMEM, "vocabulary training: out of memory");
fail:
    if (sb.spec || sb.seen) {
        vt_strtab_free(sb.seen);
        onc_vocab_spec_free(sb.spec);
    }
done:
    free(alpha);
    vt_strtab_free(words);
    vt_strtab_free(chars);
    vt_bpe_free(bpe);
    return result;
}

// --- byte-level BPE ------------------------------------------------------------------

/* Pre-tokenizer regexes (llama.cpp llm_tokenizer_bpe). */
static const char RE_LLAMA3[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_GPT2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

typedef struct bpe_family {
    const char *pre;
    const char *regex;
    const char *specials[6];
    int bos, eos, eot, pad; /* indices into specials, -1 none */
    bool add_bos;
} bpe_family;

static const bpe_family bpe_families[] = {
    {"llama-bpe",
     RE_LLAMA3,
     {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL},
     0, 1, 4, -1, true},
    {"qwen2", RE_QWEN2, {"<|endoftext|>", "<|im_start|>", "<|im_end|>", NULL}, 0, 2, 2, 0, false},
    {"gpt-2", RE_GPT2, {"<|endoftext|>", NULL}, 0, 0, -1, -1, false},
};

/* GPT-2 bytes_to_unicode: order[i] = byte whose symbol is base token i;
 * cp[b] = code point of byte b's symbol. */
static void gpt2_byte_map(int order[256], int cp[256]) {
    int n = 0, extra = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        if (printable) {
            order[n++] = b;
            cp[b] = b;
        }
    }
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        if (!printable) {
            order[n++] = b;
            cp[b] = 256 + extra++;
        }
    }
}

static size_t encode_utf8(int cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6)); /* byte map code points are < 0x800 */
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static bool bpe_count_words(const char *text, size_t len, const char *regex, vt_strtab *words, onc_error *err) {
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &errcode,
                                   &erroff, NULL);
    if (!re) {
        onc_error_set(err, ONC_ERR_INVALID, "vocabulary training: pre-tokenizer regex does not compile (offset %zu)",
                      (size_t)erroff);
        return false;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    bool ok = md != NULL;
    size_t off = 0;
#define COUNT_WORD(s, l)                                                                           \
    do {                                                                                           \
        int32_t id_ = vt_strtab_intern(words, (s), (l));                                           \
        if (id_ < 0) ok = false;                                                                   \
        else (*vt_strtab_count(words, id_))++;                                                     \
    } while (0)
    while (ok && off < len) {
        int rc = pcre2_match(re, (PCRE2_SPTR)text, len, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0) { /* no more matches: the rest is one piece */
            COUNT_WORD(text + off, len - off);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (s > off) COUNT_WORD(text + off, s - off); /* unmatched gap is kept */
        if (e == s) {                                 /* empty match: take one char */
            size_t l = vt_utf8_len(text + s);
            if (s + l > len) l = len - s;
            COUNT_WORD(text + s, l);
            off = s + l;
        } else {
            COUNT_WORD(text + s, e - s);
            off = e;
        }
    }
#undef COUNT_WORD
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (!ok) onc_error_set(err, ONC_ERR_NOMEM, "vocabulary training: out of memory");
    return ok;
}

static onc_vocab_spec *train_bpe(const char *text, size_t len, const onc_vocab_train_params *p, onc_error *err) {
    const char *pre = p->pre ? p->pre : "llama-bpe";
    if (strcmp(pre, "llama3") == 0 || strcmp(pre, "llama-v3") == 0) pre = "llama-bpe";
    const bpe_family *fam = NULL;
    for (size_t i = 0; i < sizeof bpe_families / sizeof bpe_families[0]; i++)
        if (strcmp(bpe_families[i].pre, pre) == 0) fam = &bpe_families[i];
    if (!fam) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED,
                      "vocabulary training: unsupported pre-tokenizer '%s' (use llama-bpe, qwen2 or gpt-2)", pre);
        return NULL;
    }
    int n_special = 0;
    while (n_special < 6 && fam->specials[n_special]) n_special++;
    int32_t budget = p->vocab_size - n_special;
    if (budget < 256) {
        onc_error_set(err, ONC_ERR_INVALID, "vocabulary training: BPE vocab_size %d is too small (minimum %d)",
                      (int)p->vocab_size, 256 + n_special);
        return NULL;
    }
    onc_vocab_spec *result = NULL;
    vt_strtab *words = vt_strtab_new();
    vt_bpe *bpe = vt_bpe_new(NULL);
    int32_t *ids = NULL;
    spec_builder sb;
    if (!builder_init(&sb, ONC_VOCAB_BPE, false)) sb.oom = true;
    if (sb.oom || !words || !bpe) goto oom;
    if (!bpe_count_words(text, len, fam->regex, words, err)) goto fail;

    int order[256], cp[256], sym_of_byte[256];
    gpt2_byte_map(order, cp);
    vt_strtab *sym = vt_bpe_symbols(bpe);
    for (int i = 0; i < 256; i++) {
        char u[4];
        size_t l = encode_utf8(cp[order[i]], u);
        if (vt_strtab_intern(sym, u, l) != i) goto oom;
        sym_of_byte[order[i]] = i;
    }
    size_t cap = 256;
    ids = malloc(cap * sizeof *ids);
    if (!ids) goto oom;
    for (int32_t wi = 0; wi < vt_strtab_n(words); wi++) {
        size_t wl;
        const unsigned char *s = (const unsigned char *)vt_strtab_str(words, wi, &wl);
        if (wl > cap) {
            free(ids);
            cap = wl;
            if (!(ids = malloc(cap * sizeof *ids))) goto oom;
        }
        for (size_t i = 0; i < wl; i++) ids[i] = sym_of_byte[s[i]];
        if (!vt_bpe_add_word(bpe, ids, (int32_t)wl, *vt_strtab_count(words, wi))) goto oom;
    }
    vt_strtab_free(words);
    words = NULL;
    if (vt_bpe_train(bpe, budget, p->min_frequency, p->progress, p->progress_user, err) != ONC_OK) goto fail;

    int32_t n_sym = vt_strtab_n(sym);
    for (int32_t id = 0; id < n_sym; id++) {
        size_t l;
        const char *s = vt_strtab_str(sym, id, &l);
        builder_add(&sb, s, l, 0.0f, ONC_TOKEN_NORMAL);
    }
    int32_t special_ids[6];
    for (int i = 0; i < n_special; i++) special_ids[i] = builder_add_str(&sb, fam->specials[i], 0.0f, ONC_TOKEN_CONTROL);

    /* Merges as "left right". */
    int32_t n_merges = vt_bpe_n_merges(bpe);
    const vt_merge *m = vt_bpe_merges(bpe);
    sb.spec->merges = calloc((size_t)n_merges + 1, sizeof *sb.spec->merges);
    if (!sb.spec->merges) goto oom;
    for (int32_t i = 0; i < n_merges; i++) {
        size_t ll, rl;
        const char *ls = vt_strtab_str(sym, m[i].left, &ll);
        const char *rs = vt_strtab_str(sym, m[i].right, &rl);
        char *s = malloc(ll + rl + 2);
        if (!s) goto oom;
        memcpy(s, ls, ll);
        s[ll] = ' ';
        memcpy(s + ll + 1, rs, rl);
        s[ll + rl + 1] = '\0';
        sb.spec->merges[i] = s;
        sb.spec->n_merges = i + 1;
    }
    sb.spec->pre = strdup(fam->pre);
    if (!sb.spec->pre) goto oom;
    sb.spec->bos_id = fam->bos >= 0 ? special_ids[fam->bos] : ONC_TOKEN_NONE;
    sb.spec->eos_id = fam->eos >= 0 ? special_ids[fam->eos] : ONC_TOKEN_NONE;
    sb.spec->pad_id = fam->pad >= 0 ? special_ids[fam->pad] : ONC_TOKEN_NONE;
    sb.spec->add_bos = fam->add_bos;
    result = builder_finish(&sb, false, err);
    sb.spec = NULL;
    goto done;
oom:
    onc_error_set(err, ONC_ERR_NOMEM, "vocabulary training: out of memory");
fail:
    vt_strtab_free(sb.seen);
    onc_vocab_spec_free(sb.spec);
done:
    free(ids);
    vt_strtab_free(words);
    vt_bpe_free(bpe);
    return result;
}

// --- WordPiece ---------------------------------------------------------------------

#define WPM_N_FIXED 104 /* [PAD] [unused0..98] [UNK] [CLS] [SEP] [MASK] */

static onc_vocab_spec *train_wpm(const char *text, size_t len, const onc_vocab_train_params *p, onc_error *err) {
    int32_t budget = p->vocab_size - WPM_N_FIXED;
    if (budget < 1) {
        onc_error_set(err, ONC_ERR_INVALID, "vocabulary training: WPM vocab_size %d is too small (minimum %d)",
                      (int)p->vocab_size, WPM_N_FIXED + 1);
        return NULL;
    }
    onc_vocab_spec *result = NULL;
    vt_strtab *words = vt_strtab_new(), *chars = vt_strtab_new();
    vt_bpe *bpe = vt_bpe_new("##");
    alpha_entry *alpha = NULL;
    char *buf = NULL;
    spec_builder sb;
    if (!builder_init(&sb, ONC_VOCAB_WPM, false)) sb.oom = true;
    if (sb.oom || !words || !chars || !bpe || !vt_wpm_count_words(text, len, p->lowercase, words) ||
        !count_chars(words, "##", chars) || !(alpha = sorted_entries(chars)))
        goto oom;

    /* Alphabet: every (prefixed) character, most frequent first, within the
     * budget; words with a character left out are not learned from. */
    vt_strtab *sym = vt_bpe_symbols(bpe);
    int32_t n_chars = vt_strtab_n(chars);
    for (int32_t i = 0; i < n_chars && i < budget; i++)
        if (vt_strtab_intern(sym, alpha[i].s, alpha[i].len) < 0) goto oom;
    if (!add_char_words(bpe, words, "##", true)) goto oom;
    vt_strtab_free(words);
    words = NULL;
    if (vt_bpe_train(bpe, budget, p->min_frequency, p->progress, p->progress_user, err) != ONC_OK) goto fail;

    char name[32];
    builder_add_str(&sb, "[PAD]", 0.0f, ONC_TOKEN_CONTROL);
    for (int i = 0; i < 99; i++) {
        snprintf(name, sizeof name, "[unused%d]", i);
        builder_add_str(&sb, name, 0.0f, ONC_TOKEN_UNUSED);
    }
    builder_add_str(&sb, "[UNK]", 0.0f, ONC_TOKEN_CONTROL);
    builder_add_str(&sb, "[CLS]", 0.0f, ONC_TOKEN_CONTROL);
    builder_add_str(&sb, "[SEP]", 0.0f, ONC_TOKEN_CONTROL);
    builder_add_str(&sb, "[MASK]", 0.0f, ONC_TOKEN_CONTROL);
    int32_t n_sym = vt_strtab_n(sym);
    size_t cap = 0;
    for (int32_t id = 0; id < n_sym; id++) {
        size_t l;
        const char *s = vt_strtab_str(sym, id, &l);
        if (l >= 2 && s[0] == '#' && s[1] == '#') { /* continuation: drop "##" */
            builder_add(&sb, s + 2, l - 2, 0.0f, ONC_TOKEN_NORMAL);
            continue;
        }
        if (l + 4 > cap) { /* word-initial: phantom space prefix */
            free(buf);
            cap = l + 64;
            if (!(buf = malloc(cap))) goto oom;
        }
        memcpy(buf, SPACE_MARK, 3);
        memcpy(buf + 3, s, l);
        builder_add(&sb, buf, l + 3, 0.0f, ONC_TOKEN_NORMAL);
    }
    sb.spec->pad_id = 0;
    sb.spec->unk_id = 100;
    sb.spec->bos_id = 101; /* [CLS] */
    sb.spec->sep_id = 102;
    sb.spec->mask_id = 103;
    sb.spec->add_bos = true;
    sb.spec->add_sep = true;
    result = builder_finish(&sb, false, err);
    sb.spec = NULL;
    goto done;
oom:
    onc_error_set(err, ONC_ERR_NOMEM, "vocabulary training: out of memory");
fail:
    vt_strtab_free(sb.seen);
    onc_vocab_spec_free(sb.spec);
done:
    free(buf);
    free(alpha);
    vt_strtab_free(words);
    vt_strtab_free(chars);
    vt_bpe_free(bpe);
    return result;
}

// --- entry point ---------------------------------------------------------------------

onc_vocab_spec *onc_vocab_train(const char *text, size_t len, const onc_vocab_train_params *params, onc_error *err) {
    onc_vocab_train_params p = params ? *params : onc_vocab_train_default_params(ONC_VOCAB_SPM);
    if (!text && len > 0) {
        onc_error_set(err, ONC_ERR_INVALID, "vocabulary training: no text");
        return NULL;
    }
    if (p.char_coverage <= 0 || p.char_coverage > 1) p.char_coverage = 1.0;
    size_t clean_len = 0;
    char *clean = vt_sanitize_utf8(text ? text : "", len, &clean_len);
    if (!clean) {
        onc_error_set(err, ONC_ERR_NOMEM, "vocabulary training: out of memory (%zu bytes of text)", len);
        return NULL;
    }
    onc_vocab_spec *spec = NULL;
    switch (p.kind) {
    case ONC_VOCAB_SPM: spec = train_spm(clean, clean_len, &p, err); break;
    case ONC_VOCAB_BPE: spec = train_bpe(clean, clean_len, &p, err); break;
    case ONC_VOCAB_WPM: spec = train_wpm(clean, clean_len, &p, err); break;
    default: onc_error_set(err, ONC_ERR_INVALID, "vocabulary training: unknown vocabulary kind %d", (int)p.kind);
    }
    free(clean);
    return spec;
}
