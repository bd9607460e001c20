/* tokenizer.c — onc_tokenizer: construction (from a spec or a GGUF file),
 * queries, the special-token partition, the tokenize dispatcher, pieces and
 * detokenization. The per-kind algorithms are in tok_spm.c, tok_bpe.c and
 * tok_wpm.c.
 *
 * Mirrors llama.cpp's llama_vocab (load, tokenizer_st_partition, tokenize,
 * token_to_piece, detokenize). Where llama.cpp's behaviour is unspecified
 * (EOT detection iterates an unordered map), the first text in llama.cpp's
 * candidate list that is in the vocabulary wins. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/tokenizer.h"
#include "tokenizer/tok_impl.h"
#include "tokenizer/unicode.h"

// --- construction --------------------------------------------------------------------

typedef struct tok_extra {
    const char *model_name; /* general.name, for per-model token attributes */
    const char *arch;       /* general.architecture */
    int32_t eot_id, eom_id; /* from metadata, or ONC_TOKEN_NONE */
} tok_extra;

static uint32_t attr_of_type(int32_t type) {
    switch (type) {
    case ONC_TOKEN_UNKNOWN: return ONC_TOKEN_ATTR_UNKNOWN;
    case ONC_TOKEN_UNUSED: return ONC_TOKEN_ATTR_UNUSED;
    case ONC_TOKEN_NORMAL: return ONC_TOKEN_ATTR_NORMAL;
    case ONC_TOKEN_CONTROL: return ONC_TOKEN_ATTR_CONTROL;
    case ONC_TOKEN_USER_DEFINED: return ONC_TOKEN_ATTR_USER_DEFINED;
    case ONC_TOKEN_BYTE: return ONC_TOKEN_ATTR_BYTE;
    default: return ONC_TOKEN_ATTR_UNDEFINED;
    }
}

static int32_t find_text(const onc_tokenizer *t, const char *s) { return tok_map_get(&t->token_map, s, strlen(s)); }

static bool contains_ci(const char *hay, const char *needle) {
    if (!hay) return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == needle[i]) i++;
        if (i == n) return true;
    }
    return false;
}

static int cmp_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Longest text first; equal lengths by id (deterministic). */
static int cmp_special(const void *a, const void *b, void *ctx) {
    const onc_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->text_len[x] != t->text_len[y]) return t->text_len[x] > t->text_len[y] ? -1 : 1;
    return (x > y) - (x < y);
}

static bool build_special_cache(onc_tokenizer *t) {
    size_t n = 0;
    const uint32_t mask = ONC_TOKEN_ATTR_CONTROL | ONC_TOKEN_ATTR_USER_DEFINED | ONC_TOKEN_ATTR_UNKNOWN;
    for (int32_t i = 0; i < t->n_tokens; i++) n += (t->attrs[i] & mask) != 0;
    free(t->special_cache);
    t->special_cache = malloc((n ? n : 1) * sizeof *t->special_cache);
    if (!t->special_cache) return false;
    t->n_special_cache = 0;
    for (int32_t i = 0; i < t->n_tokens; i++)
        if (t->attrs[i] & mask) t->special_cache[t->n_special_cache++] = i;
    qsort_r(t->special_cache, n, sizeof *t->special_cache, cmp_special, t);
    return true;
}

/* Piece of a token with special = true (llama.cpp token_to_piece). */
static size_t make_piece(const onc_tokenizer *t, int32_t id, char *dst) {
    const char *s = tok_text(t, id);
    size_t n = t->text_len[id];
    uint32_t a = t->attrs[id];
    if (a & (ONC_TOKEN_ATTR_UNKNOWN | ONC_TOKEN_ATTR_CONTROL | ONC_TOKEN_ATTR_USER_DEFINED)) {
        memcpy(dst, s, n);
        return n;
    }
    if (a & ONC_TOKEN_ATTR_NORMAL) {
        size_t o = 0;
        if (t->kind != ONC_VOCAB_BPE) { /* "▁" -> " " */
            for (size_t i = 0; i < n;) {
                if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                    dst[o++] = ' ';
                    i += 3;
                } else {
                    dst[o++] = s[i++];
                }
            }
            return o;
        }
        /* byte-level symbols -> bytes (llama_decode_text) */
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t cl = tok_utf8_decode(s + i, n - i, &cp);
            int b = cl ? tok_cpt_to_byte(cp) : -1;
            if (cl == 0) cl = 1;
            if (b >= 0) {
                dst[o++] = (char)b;
            } else { /* "[UNK_BYTE_0x" + hex of the character + token text + "]" */
                o += (size_t)sprintf(dst + o, "[UNK_BYTE_0x");
                for (size_t k = 0; k < cl; k++) o += (size_t)sprintf(dst + o, "%02x", (unsigned char)s[i + k]);
                memcpy(dst + o, s, n);
                o += n;
                dst[o++] = ']';
            }
            i += cl;
        }
        return o;
    }
    if ((a & ONC_TOKEN_ATTR_BYTE) && t->kind != ONC_VOCAB_BPE && n >= 5) {
        char hex[3] = {s[3], s[4], 0};
        dst[0] = (char)strtol(hex, NULL, 16);
        return 1;
    }
    return 0;
}

static bool build_pieces(onc_tokenizer *t) {
    /* worst case per token: BPE "[UNK_BYTE_0x..]" per character */
    size_t cap = 0;
    for (int32_t i = 0; i < t->n_tokens; i++) {
        size_t n = t->text_len[i];
        cap += t->kind == ONC_VOCAB_BPE ? n * (12 + 8 + n + 1) + 1 : n + 1;
    }
    t->piece_pool = malloc(cap ? cap : 1);
    t->piece_off = malloc((size_t)t->n_tokens * sizeof *t->piece_off);
    t->piece_len = malloc((size_t)t->n_tokens * sizeof *t->piece_len);
    if (!t->piece_pool || !t->piece_off || !t->piece_len || cap > UINT32_MAX) return false;
    size_t o = 0;
    for (int32_t i = 0; i < t->n_tokens; i++) {
        size_t n = make_piece(t, i, t->piece_pool + o);
        t->piece_off[i] = (uint32_t)o;
        t->piece_len[i] = (uint32_t)n;
        o += n;
    }
    char *shrunk = realloc(t->piece_pool, o ? o : 1);
    if (shrunk) t->piece_pool = shrunk;
    return true;
}

static const char *const k_eot_texts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                          "<|endoftext|>", "<EOT>",      "_<EOT>",  "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",
                                          "<end_of_utterance>"};
static const char *const k_eog_texts[] = {"<|eot_id|>", "<|im_end|>",    "<|end|>", "<|return|>",      "<|call|>",
                                          "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
                                          "<|end_of_text|>", "<end_of_utterance>"};

static bool add_eog(onc_tokenizer *t, int32_t id) {
    if (id < 0) return true;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return true;
    int32_t *ne = realloc(t->eog, (t->n_eog + 1) * sizeof *ne);
    if (!ne) return false;
    t->eog = ne;
    t->eog[t->n_eog++] = id;
    return true;
}

/* True when no token text has "▁" (E2 96 81) right after a character
 * that is not itself "▁": SPM merges then never join "x" and a following
 * "▁", so text can be merged in segments cut before such spaces. */
static bool spm_no_inner_space(const onc_tokenizer *t) {
    static const char sp[3] = {'\xE2', '\x96', '\x81'};
    for (int32_t id = 0; id < t->n_tokens; id++) {
        const char *x = tok_text(t, id);
        const uint32_t n = t->text_len[id];
        for (uint32_t p = 1; p + 3 <= n; p++) {
            if (memcmp(x + p, sp, 3) != 0) continue;
            if (p < 3 || memcmp(x + p - 3, sp, 3) != 0) return false;
        }
    }
    return true;
}

static onc_tokenizer *build(const onc_vocab_spec *spec, const tok_extra *x, onc_error *err) {
    if (!spec || spec->n_tokens <= 0 || !spec->tokens) {
        onc_error_set(err, ONC_ERR_INVALID, "tokenizer: empty vocabulary");
        return NULL;
    }
    if (spec->kind != ONC_VOCAB_SPM && spec->kind != ONC_VOCAB_BPE && spec->kind != ONC_VOCAB_WPM) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "tokenizer: unknown vocabulary kind %d", (int)spec->kind);
        return NULL;
    }
    onc_tokenizer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->kind = spec->kind;
    t->n_tokens = spec->n_tokens;
    const char *pre = spec->kind == ONC_VOCAB_BPE && spec->pre && *spec->pre ? spec->pre : "default";
    if (!tok_pre_lookup(pre, &t->pre)) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "tokenizer: unknown pre-tokenizer type '%s'", pre);
        goto fail;
    }
    if (!(t->pre_name = strdup(pre))) goto oom;

    /* texts (empty ones renamed as llama.cpp does) */
    size_t pool = 0;
    for (int32_t i = 0; i < t->n_tokens; i++) {
        const char *s = spec->tokens[i];
        pool += (s && *s ? strlen(s) : 24) + 1;
    }
    if (pool > UINT32_MAX) {
        onc_error_set(err, ONC_ERR_INVALID, "tokenizer: vocabulary texts too large");
        goto fail;
    }
    t->text_pool = malloc(pool);
    t->text_off = malloc((size_t)t->n_tokens * sizeof *t->text_off);
    t->text_len = malloc((size_t)t->n_tokens * sizeof *t->text_len);
    t->scores = calloc((size_t)t->n_tokens, sizeof *t->scores);
    t->types = malloc((size_t)t->n_tokens * sizeof *t->types);
    t->attrs = malloc((size_t)t->n_tokens * sizeof *t->attrs);
    if (!t->text_pool || !t->text_off || !t->text_len || !t->scores || !t->types || !t->attrs) goto oom;
    if (!tok_map_init(&t->token_map, (size_t)t->n_tokens)) goto oom;
    size_t o = 0;
    for (int32_t i = 0; i < t->n_tokens; i++) {
        const char *s = spec->tokens[i];
        size_t n;
        if (s && *s) {
            n = strlen(s);
            memcpy(t->text_pool + o, s, n + 1);
        } else {
            n = (size_t)sprintf(t->text_pool + o, "[EMPTY_%d]", (int)i);
        }
        t->text_off[i] = (uint32_t)o;
        t->text_len[i] = (uint32_t)n;
        if (n > t->max_token_len) t->max_token_len = (uint32_t)n;
        o += n + 1;
        t->scores[i] = spec->scores ? spec->scores[i] : 0.0f;
        t->types[i] = spec->token_types ? spec->token_types[i] : ONC_TOKEN_NORMAL;
        t->attrs[i] = attr_of_type(t->types[i]);
    }
    for (int32_t i = 0; i < t->n_tokens; i++)
        if (!tok_map_put(&t->token_map, tok_text(t, i), t->text_len[i], i)) goto oom;

    /* special ids */
    int32_t given[8] = {spec->bos_id, spec->eos_id, x->eot_id, x->eom_id,
                        spec->unk_id, spec->sep_id, spec->pad_id, spec->mask_id};
    for (int k = 0; k < 8; k++) t->special_ids[k] = given[k] >= 0 && given[k] < t->n_tokens ? given[k] : ONC_TOKEN_NONE;
    t->add_bos = spec->add_bos;
    t->add_eos = spec->add_eos;
    t->add_sep = spec->add_sep;
    t->add_space_prefix = spec->kind == ONC_VOCAB_SPM ? spec->add_space_prefix : false;
    t->clean_spaces = spec->kind == ONC_VOCAB_SPM ? false : spec->kind == ONC_VOCAB_WPM ? true : t->pre.clean_spaces;

    /* EOT / EOM by text, EOG set; these are forced to CONTROL */
    for (size_t k = 0; k < sizeof k_eot_texts / sizeof *k_eot_texts && t->special_ids[ONC_SPECIAL_EOT] < 0; k++) {
        int32_t id = find_text(t, k_eot_texts[k]);
        if (id >= 0) t->special_ids[ONC_SPECIAL_EOT] = id, t->attrs[id] = ONC_TOKEN_ATTR_CONTROL;
    }
    if (t->special_ids[ONC_SPECIAL_EOM] < 0) {
        int32_t id = find_text(t, "<|eom_id|>");
        if (id >= 0) t->special_ids[ONC_SPECIAL_EOM] = id, t->attrs[id] = ONC_TOKEN_ATTR_CONTROL;
    }
    for (size_t k = 0; k < sizeof k_eog_texts / sizeof *k_eog_texts; k++) {
        int32_t id = find_text(t, k_eog_texts[k]);
        if (id < 0) continue;
        if (!add_eog(t, id)) goto oom;
        if (!(t->attrs[id] & ONC_TOKEN_ATTR_CONTROL)) t->attrs[id] = ONC_TOKEN_ATTR_CONTROL;
    }
    if (!add_eog(t, t->special_ids[ONC_SPECIAL_EOS]) || !add_eog(t, t->special_ids[ONC_SPECIAL_EOT]) ||
        !add_eog(t, t->special_ids[ONC_SPECIAL_EOM]))
        goto oom;
    if (t->n_eog) qsort(t->eog, t->n_eog, sizeof *t->eog, cmp_int32);

    if (!build_special_cache(t)) goto oom;

    /* per-model attributes (llama.cpp load: "set attributes by model/tokenizer/architecture name") */
    if (contains_ci(spec->pre, "jina-v2-de") || contains_ci(spec->pre, "jina-v2-es") ||
        contains_ci(spec->pre, "jina-v2-code") || contains_ci(x->arch, "nomic-bert-moe") ||
        contains_ci(x->arch, "jina-bert-v3")) {
        int32_t id = find_text(t, "<mask>");
        if (id >= 0) t->attrs[id] |= ONC_TOKEN_ATTR_LSTRIP;
    } else if (contains_ci(x->model_name, "phi-3") || contains_ci(x->model_name, "phi3")) {
        for (size_t i = 0; i < t->n_special_cache; i++) t->attrs[t->special_cache[i]] |= ONC_TOKEN_ATTR_RSTRIP;
        int32_t id = find_text(t, "</s>");
        if (id >= 0) t->attrs[id] |= ONC_TOKEN_ATTR_RSTRIP;
        static const char *const plain[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t k = 0; k < 3; k++)
            if ((id = find_text(t, plain[k])) >= 0) t->attrs[id] &= ~(uint32_t)ONC_TOKEN_ATTR_RSTRIP;
    }

    /* byte fallback tokens */
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int32_t id = -1;
        if (t->kind == ONC_VOCAB_SPM) {
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            id = find_text(t, buf);
        }
        if (id < 0) {
            buf[0] = (char)b;
            id = tok_map_get(&t->token_map, buf, 1);
        }
        t->byte_token[b] = id;
    }

    if (t->kind == ONC_VOCAB_SPM) t->spm_space_split = spm_no_inner_space(t);
    if (!build_pieces(t)) goto oom;
    if (t->kind == ONC_VOCAB_BPE && tok_bpe_init(t, spec, err) != ONC_OK) goto fail;
    return t;
oom:
    onc_error_set(err, ONC_ERR_NOMEM, "tokenizer: out of memory (%d tokens)", spec->n_tokens);
fail:
    onc_tokenizer_free(t);
    return NULL;
}

onc_tokenizer *onc_tokenizer_from_spec(const onc_vocab_spec *spec, onc_error *err) {
    tok_extra x = {NULL, NULL, ONC_TOKEN_NONE, ONC_TOKEN_NONE};
    return build(spec, &x, err);
}

static char *dup_str(onc_str s) {
    char *p = malloc(s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

onc_tokenizer *onc_tokenizer_from_gguf(const onc_gguf *g, onc_error *err) {
    onc_vocab_spec *spec = onc_vocab_spec_from_gguf(g, err);
    if (!spec) return NULL;
    tok_extra x = {NULL, NULL, ONC_TOKEN_NONE, ONC_TOKEN_NONE};
    char *name = NULL, *arch = NULL;
    onc_str s;
    onc_error e2 = {0};
    if (onc_gguf_get_str(g, "general.name", &s, &e2) == ONC_OK) x.model_name = name = dup_str(s);
    if (onc_gguf_get_str(g, "general.architecture", &s, &e2) == ONC_OK) x.arch = arch = dup_str(s);
    uint32_t v;
    if (onc_gguf_get_u32(g, "tokenizer.ggml.eot_token_id", &v, &e2) == ONC_OK && v < (uint32_t)spec->n_tokens)
        x.eot_id = (int32_t)v;
    if (onc_gguf_get_u32(g, "tokenizer.ggml.eom_token_id", &v, &e2) == ONC_OK && v < (uint32_t)spec->n_tokens)
        x.eom_id = (int32_t)v;
    onc_tokenizer *t = build(spec, &x, err);
    if (!t) onc_error_prefix(err, "%s", onc_gguf_path(g) ? onc_gguf_path(g) : "gguf"); /* spec errors name it already */
    free(name);
    free(arch);
    onc_vocab_spec_free(spec);
    return t;
}

void onc_tokenizer_free(onc_tokenizer *t) {
    if (!t) return;
    if (t->kind == ONC_VOCAB_BPE) tok_bpe_free(t);
    tok_map_free(&t->token_map);
    free(t->pre_name);
    free(t->text_pool);
    free(t->text_off);
    free(t->text_len);
    free(t->scores);
    free(t->types);
    free(t->attrs);
    free(t->piece_pool);
    free(t->piece_off);
    free(t->piece_len);
    free(t->eog);
    free(t->special_cache);
    free(t);
}

// --- queries ---------------------------------------------------------------------------

onc_vocab_kind onc_tokenizer_kind(const onc_tokenizer *t) { return t->kind; }
const char *onc_tokenizer_pre(const onc_tokenizer *t) { return t->pre_name; }
int32_t onc_tokenizer_n_tokens(const onc_tokenizer *t) { return t->n_tokens; }

static bool in_range(const onc_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_tokens; }

const char *onc_token_text(const onc_tokenizer *t, int32_t id, size_t *len) {
    if (!in_range(t, id)) return NULL;
    if (len) *len = t->text_len[id];
    return tok_text(t, id);
}

int32_t onc_token_find(const onc_tokenizer *t, const char *text, size_t len) {
    int32_t id = tok_map_get(&t->token_map, text, len);
    return id >= 0 ? id : ONC_TOKEN_NONE;
}

onc_token_type onc_token_get_type(const onc_tokenizer *t, int32_t id) {
    return in_range(t, id) ? (onc_token_type)t->types[id] : ONC_TOKEN_UNDEFINED;
}
uint32_t onc_token_get_attrs(const onc_tokenizer *t, int32_t id) { return in_range(t, id) ? t->attrs[id] : 0; }
float onc_token_get_score(const onc_tokenizer *t, int32_t id) { return in_range(t, id) ? t->scores[id] : 0.0f; }

int32_t onc_tokenizer_special(const onc_tokenizer *t, onc_special which) {
    if ((int)which < 0 || (int)which >= 8) return ONC_TOKEN_NONE;
    return t->special_ids[which];
}

bool onc_token_is_eog(const onc_tokenizer *t, int32_t id) {
    return id >= 0 && bsearch(&id, t->eog, t->n_eog, sizeof *t->eog, cmp_int32) != NULL;
}

bool onc_token_is_control(const onc_tokenizer *t, int32_t id) {
    return in_range(t, id) && (t->attrs[id] & (ONC_TOKEN_ATTR_CONTROL | ONC_TOKEN_ATTR_UNKNOWN)) != 0;
}

bool onc_tokenizer_add_bos(const onc_tokenizer *t) { return t->add_bos; }
bool onc_tokenizer_add_eos(const onc_tokenizer *t) { return t->add_eos; }
bool onc_tokenizer_add_sep(const onc_tokenizer *t) { return t->add_sep; }

// --- special-token partition ---------------------------------------------------------------

typedef struct frag {
    int32_t id; /* token, or -1 for raw text[off .. off+len) */
    size_t off, len;
} frag;

typedef struct frag_vec {
    frag *v;
    size_t n, cap;
} frag_vec;

static bool frag_push(frag_vec *f, int32_t id, size_t off, size_t len) {
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 16;
        frag *nv = realloc(f->v, nc * sizeof *nv);
        if (!nv) return false;
        f->v = nv;
        f->cap = nc;
    }
    f->v[f->n++] = (frag){id, off, len};
    return true;
}

static bool is_space_byte(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* llama.cpp tokenizer_st_partition: for each special token, longest first,
 * split every raw fragment around its occurrences (left to right). */
static bool partition(const onc_tokenizer *t, const char *text, frag_vec *frags, bool parse_special) {
    frag_vec next = {0};
    for (size_t s = 0; s < t->n_special_cache; s++) {
        int32_t sid = t->special_cache[s];
        uint32_t a = t->attrs[sid];
        if (!parse_special && (a & (ONC_TOKEN_ATTR_CONTROL | ONC_TOKEN_ATTR_UNKNOWN))) continue;
        const char *st = tok_text(t, sid);
        size_t sl = t->text_len[sid];
        bool any = false;
        for (size_t i = 0; i < frags->n && !any; i++)
            any = frags->v[i].id < 0 && frags->v[i].len >= sl && memmem(text + frags->v[i].off, frags->v[i].len, st, sl);
        if (!any) continue;
        next.n = 0;
        for (size_t i = 0; i < frags->n; i++) {
            frag f = frags->v[i];
            if (f.id >= 0) {
                if (!frag_push(&next, f.id, 0, 0)) goto oom;
                continue;
            }
            size_t off = f.off, len = f.len;
            for (;;) {
                const char *m = len >= sl ? memmem(text + off, len, st, sl) : NULL;
                if (!m) {
                    if (len > 0 && !frag_push(&next, -1, off, len)) goto oom;
                    break;
                }
                size_t mpos = (size_t)(m - text);
                if (mpos > off) {
                    size_t llen = mpos - off;
                    if (a & ONC_TOKEN_ATTR_LSTRIP)
                        while (llen > 0 && is_space_byte(text[off + llen - 1])) llen--;
                    if (llen > 0 && !frag_push(&next, -1, off, llen)) goto oom;
                }
                if (!frag_push(&next, sid, 0, 0)) goto oom;
                size_t roff = mpos + sl, rlen = off + len - roff;
                if (a & ONC_TOKEN_ATTR_RSTRIP)
                    while (rlen > 0 && is_space_byte(text[roff])) roff++, rlen--;
                off = roff;
                len = rlen;
                if (len == 0) break;
            }
        }
        frag_vec tmp = *frags;
        *frags = next;
        next = tmp;
    }
    free(next.v);
    return true;
oom:
    free(next.v);
    return false;
}

// --- tokenize ------------------------------------------------------------------------------

onc_tokenize_params onc_tokenize_default_params(void) {
    return (onc_tokenize_params){.add_special = true, .parse_special = false, .invalid_utf8 = ONC_UTF8_ERROR};
}

onc_status onc_tokenize(const onc_tokenizer *t, const char *text, size_t len, const onc_tokenize_params *params,
                        int32_t **ids, size_t *n_ids, onc_error *err) {
    *ids = NULL;
    *n_ids = 0;
    onc_tokenize_params p = params ? *params : onc_tokenize_default_params();
    if (!text && len > 0) return onc_error_set(err, ONC_ERR_INVALID, "tokenize: NULL text");
    char *fixed = NULL;
    size_t bad = tok_utf8_check(text, len);
    if (bad != TOK_UTF8_VALID) {
        if (p.invalid_utf8 != ONC_UTF8_REPLACE)
            return onc_error_set(err, ONC_ERR_INVALID, "tokenize: invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                                 (unsigned char)text[bad]);
        if (!(fixed = tok_utf8_sanitize(text, len, &len)))
            return onc_error_set(err, ONC_ERR_NOMEM, "tokenize: out of memory");
        text = fixed;
    }

    onc_status st = ONC_OK;
    tok_ids out = {0};
    frag_vec frags = {0};
    if (len > 0 && (!frag_push(&frags, -1, 0, len) || !partition(t, text, &frags, p.parse_special))) goto oom;

    int32_t bos = t->special_ids[ONC_SPECIAL_BOS];
    if (p.add_special && t->add_bos && bos >= 0) tok_ids_push(&out, bos);
    bool prev_special = true; /* SPM: prefix a space to text at the start and after special tokens */
    for (size_t i = 0; i < frags.n && !out.oom; i++) {
        const frag *f = &frags.v[i];
        if (f->id >= 0) {
            tok_ids_push(&out, f->id);
            prev_special = true;
            continue;
        }
        switch (t->kind) {
        case ONC_VOCAB_SPM: tok_spm_tokenize(t, text + f->off, f->len, t->add_space_prefix && prev_special, &out); break;
        case ONC_VOCAB_BPE: st = tok_bpe_tokenize(t, text + f->off, f->len, &out, err); break;
        case ONC_VOCAB_WPM: tok_wpm_tokenize(t, text + f->off, f->len, &out); break;
        }
        prev_special = false;
        if (st != ONC_OK) goto fail;
    }
    if (p.add_special && t->add_eos && t->special_ids[ONC_SPECIAL_EOS] >= 0)
        tok_ids_push(&out, t->special_ids[ONC_SPECIAL_EOS]);
    if (p.add_special && t->add_sep && t->special_ids[ONC_SPECIAL_SEP] >= 0)
        tok_ids_push(&out, t->special_ids[ONC_SPECIAL_SEP]);
    if (out.oom) goto oom;
    free(frags.v);
    free(fixed);
    *ids = out.v;
    *n_ids = out.n;
    if (out.n == 0) {
        free(out.v);
        *ids = NULL;
    }
    return ONC_OK;
oom:
    st = onc_error_set(err, ONC_ERR_NOMEM, "tokenize: out of memory (%zu bytes of text)", len);
fail:
    free(out.v);
    free(frags.v);
    free(fixed);
    return st;
}

// --- pieces and detokenize ------------------------------------------------------------------------

size_t onc_token_to_piece(const onc_tokenizer *t, int32_t id, bool special, const char **piece) {
    *piece = "";
    if (!in_range(t, id)) return 0;
    if (!special && (t->attrs[id] & (ONC_TOKEN_ATTR_UNKNOWN | ONC_TOKEN_ATTR_CONTROL))) return 0;
    *piece = t->piece_pool + t->piece_off[id];
    return t->piece_len[id];
}

onc_detokenize_params onc_detokenize_default_params(void) {
    return (onc_detokenize_params){.remove_special = false, .unparse_special = false, .no_clean_spaces = false};
}

/* llama.cpp's clean_spaces passes, in place; returns the new length. */
static size_t clean_spaces(char *s, size_t n) {
    if (n == 0) return 0;
    /* " ?", " !", " .", " ," -> drop the space */
    size_t o = 1;
    char prev = s[0];
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (prev == ' ' && (c == '?' || c == '!' || c == '.' || c == ',')) o--;
        s[o++] = c;
        prev = c;
    }
    n = o;
    /* " 's", " 'm", " 'll", " 're", " 've" -> drop the space (" 't", " 'd" kept) */
    o = 1;
    prev = s[0];
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (prev == ' ' && c == '\'' && i + 1 < n) {
            char c1 = s[i + 1];
            if (c1 == 's' || c1 == 'm') {
                o--;
            } else if (c1 != 't' && c1 != 'd' && i + 2 < n) {
                char c2 = s[i + 2];
                if ((c1 == 'l' && c2 == 'l') || (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e')) o--;
            }
        }
        s[o++] = c;
        prev = c;
    }
    return o;
}

onc_status onc_detokenize(const onc_tokenizer *t, const int32_t *ids, size_t n, const onc_detokenize_params *params,
                          char **text, size_t *len, onc_error *err) {
    *text = NULL;
    if (len) *len = 0;
    onc_detokenize_params p = params ? *params : onc_detokenize_default_params();
    for (size_t i = 0; i < n; i++)
        if (!in_range(t, ids[i]))
            return onc_error_set(err, ONC_ERR_INVALID, "detokenize: token id %d at position %zu is out of range [0, %d)",
                                 (int)ids[i], i, (int)t->n_tokens);
    bool wpm = t->kind == ONC_VOCAB_WPM;
    bool remove_space = t->add_space_prefix || wpm;
    if (p.remove_special && t->add_bos && n > 0 && ids[0] == t->special_ids[ONC_SPECIAL_BOS]) {
        if (!wpm) remove_space = false;
        ids++, n--;
    }
    if (p.remove_special && t->add_eos && n > 0 && ids[n - 1] == t->special_ids[ONC_SPECIAL_EOS]) n--;
    if (p.remove_special && t->add_sep && n > 0 && ids[n - 1] == t->special_ids[ONC_SPECIAL_SEP]) n--;

    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *pc;
        total += onc_token_to_piece(t, ids[i], p.unparse_special, &pc);
    }
    char *s = malloc(total + 1);
    if (!s) return onc_error_set(err, ONC_ERR_NOMEM, "detokenize: out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *pc;
        size_t pl = onc_token_to_piece(t, ids[i], p.unparse_special, &pc);
        if (remove_space && pl > 0 && pc[0] == ' ') pc++, pl--;
        if (!wpm || pl > 0) remove_space = false; /* WPM: the first word that shows */
        memcpy(s + o, pc, pl);
        o += pl;
    }
    if (t->clean_spaces && !p.no_clean_spaces) o = clean_spaces(s, o);
    s[o] = '\0';
    *text = s;
    if (len) *len = o;
    return ONC_OK;
}
