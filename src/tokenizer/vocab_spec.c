/* vocab_spec.c — onc_vocab_spec <-> GGUF tokenizer.ggml.* metadata.
 *
 * Types as llama.cpp reads them: tokens array[string], scores array[f32],
 * token_type array[i32], merges array[string], special ids u32, add_* bool.
 * Reading applies llama.cpp's per-model defaults for absent keys (and keeps
 * the default when a stored id is out of range, as llama.cpp does), so the
 * spec returned is fully resolved. Not here: tokenizing (tokenizer.c) and
 * training (vocab_train*.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/gguf.h"
#include "oncolm/vocab.h"
#include "tokenizer/tok_impl.h"

const char *onc_vocab_kind_name(onc_vocab_kind kind) {
    switch (kind) {
    case ONC_VOCAB_SPM: return "llama";
    case ONC_VOCAB_BPE: return "gpt2";
    case ONC_VOCAB_WPM: return "bert";
    }
    return "unknown";
}

void onc_vocab_spec_free(onc_vocab_spec *s) {
    if (!s) return;
    if (s->tokens)
        for (int32_t i = 0; i < s->n_tokens; i++) free(s->tokens[i]);
    if (s->merges)
        for (int32_t i = 0; i < s->n_merges; i++) free(s->merges[i]);
    free(s->tokens);
    free(s->merges);
    free(s->scores);
    free(s->token_types);
    free(s->pre);
    free(s);
}

// --- write ------------------------------------------------------------------------

onc_status onc_vocab_spec_write_gguf(const onc_vocab_spec *s, onc_gguf_writer *w, onc_error *err) {
    if (!s || s->n_tokens <= 0 || !s->tokens)
        return onc_error_set(err, ONC_ERR_INVALID, "vocabulary: no tokens to write");
    if (s->kind != ONC_VOCAB_SPM && s->kind != ONC_VOCAB_BPE && s->kind != ONC_VOCAB_WPM)
        return onc_error_set(err, ONC_ERR_INVALID, "vocabulary: unknown kind %d", (int)s->kind);
    for (int32_t i = 0; i < s->n_tokens; i++)
        if (!s->tokens[i]) return onc_error_set(err, ONC_ERR_INVALID, "vocabulary: token %d has no text", (int)i);
    if (s->n_merges > 0 && !s->merges) return onc_error_set(err, ONC_ERR_INVALID, "vocabulary: merges missing");
    for (int32_t i = 0; i < s->n_merges; i++)
        if (!s->merges[i]) return onc_error_set(err, ONC_ERR_INVALID, "vocabulary: merge %d has no text", (int)i);

    onc_status st = onc_gguf_set_str(w, "tokenizer.ggml.model", onc_vocab_kind_name(s->kind));
    if (st == ONC_OK && s->pre) st = onc_gguf_set_str(w, "tokenizer.ggml.pre", s->pre);
    if (st == ONC_OK)
        st = onc_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)s->tokens, (uint64_t)s->n_tokens);
    if (st == ONC_OK && s->scores)
        st = onc_gguf_set_arr(w, "tokenizer.ggml.scores", ONC_GGUF_FLOAT32, s->scores, (uint64_t)s->n_tokens);
    if (st == ONC_OK && s->token_types)
        st = onc_gguf_set_arr(w, "tokenizer.ggml.token_type", ONC_GGUF_INT32, s->token_types, (uint64_t)s->n_tokens);
    if (st == ONC_OK && s->n_merges > 0)
        st = onc_gguf_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)s->merges, (uint64_t)s->n_merges);
    const struct {
        const char *key;
        int32_t id;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", s->bos_id},
        {"tokenizer.ggml.eos_token_id", s->eos_id},
        {"tokenizer.ggml.unknown_token_id", s->unk_id},
        {"tokenizer.ggml.seperator_token_id", s->sep_id}, /* sic, as llama.cpp */
        {"tokenizer.ggml.padding_token_id", s->pad_id},
        {"tokenizer.ggml.mask_token_id", s->mask_id},
        {"tokenizer.ggml.cls_token_id", s->kind == ONC_VOCAB_WPM ? s->bos_id : ONC_TOKEN_NONE},
    };
    for (size_t i = 0; st == ONC_OK && i < sizeof ids / sizeof ids[0]; i++) {
        if (ids[i].id == ONC_TOKEN_NONE) continue;
        if (ids[i].id < 0 || ids[i].id >= s->n_tokens)
            return onc_error_set(err, ONC_ERR_INVALID, "vocabulary: %s = %d is out of range [0, %d)", ids[i].key,
                                 (int)ids[i].id, (int)s->n_tokens);
        st = onc_gguf_set_u32(w, ids[i].key, (uint32_t)ids[i].id);
    }
    if (st == ONC_OK) st = onc_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", s->add_bos);
    if (st == ONC_OK) st = onc_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", s->add_eos);
    if (st == ONC_OK && (s->add_sep || s->kind == ONC_VOCAB_WPM))
        st = onc_gguf_set_bool(w, "tokenizer.ggml.add_sep_token", s->add_sep);
    if (st == ONC_OK && (s->kind == ONC_VOCAB_SPM || s->add_space_prefix))
        st = onc_gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", s->add_space_prefix);
    if (st != ONC_OK) return onc_error_set(err, st, "vocabulary: cannot set tokenizer metadata (%s)", onc_status_name(st));
    return ONC_OK;
}

// --- read ---------------------------------------------------------------------------

static char *dup_n(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Index of an array key with element type `et` and, when n >= 0, n elements.
 * -1 when absent; -2 (err set) when present with the wrong shape. */
static int64_t find_array(const onc_gguf *g, const char *key, onc_gguf_type et, int64_t n, const char *path,
                          onc_error *err) {
    int64_t i = onc_gguf_find_key(g, key);
    if (i < 0) return -1;
    if (onc_gguf_kv_type(g, i) != ONC_GGUF_ARRAY || onc_gguf_arr_type(g, i) != et) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: %s must be an array of %s", path, key, onc_gguf_type_name(et));
        return -2;
    }
    if (n >= 0 && onc_gguf_arr_n(g, i) != (uint64_t)n) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: %s has %llu entries for %lld tokens", path, key,
                      (unsigned long long)onc_gguf_arr_n(g, i), (long long)n);
        return -2;
    }
    return i;
}

static char **read_strings(const onc_gguf *g, int64_t i, int32_t n) {
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) return NULL;
    for (int32_t j = 0; j < n; j++) {
        onc_str s = onc_gguf_arr_str(g, i, (uint64_t)j);
        if (!(v[j] = dup_n(s.ptr, s.len))) {
            for (int32_t k = 0; k < j; k++) free(v[k]);
            free(v);
            return NULL;
        }
    }
    return v;
}

/* Override *id from a u32 key when present and in range (llama.cpp keeps the
 * default for an out-of-range id). */
static onc_status read_id(const onc_gguf *g, const char *key, int32_t n_tokens, int32_t *id, bool *found,
                          onc_error *err) {
    uint32_t v;
    onc_status st = onc_gguf_get_u32(g, key, &v, err);
    if (st == ONC_ERR_NOT_FOUND) return ONC_OK;
    if (st != ONC_OK) return st;
    if (found) *found = true;
    if (v < (uint32_t)n_tokens) *id = (int32_t)v;
    return ONC_OK;
}

static onc_status read_flag(const onc_gguf *g, const char *key, bool *flag, onc_error *err) {
    bool v;
    onc_status st = onc_gguf_get_bool(g, key, &v, err);
    if (st == ONC_ERR_NOT_FOUND) return ONC_OK;
    if (st == ONC_OK) *flag = v;
    return st;
}

onc_vocab_spec *onc_vocab_spec_from_gguf(const onc_gguf *g, onc_error *err) {
    const char *path = onc_gguf_path(g) ? onc_gguf_path(g) : "gguf";
    onc_vocab_spec *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    onc_str model;
    onc_status st = onc_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (st == ONC_ERR_NOT_FOUND) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: no tokenizer (tokenizer.ggml.model is missing)", path);
        goto fail;
    }
    if (st != ONC_OK) goto fail;
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) {
        s->kind = ONC_VOCAB_SPM;
    } else if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) {
        s->kind = ONC_VOCAB_BPE;
    } else if (model.len == 4 && memcmp(model.ptr, "bert", 4) == 0) {
        s->kind = ONC_VOCAB_WPM;
    } else {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: tokenizer model '%.*s' is not supported (llama, gpt2, bert)", path,
                      (int)(model.len > 64 ? 64 : model.len), model.ptr);
        goto fail;
    }

    onc_str pre;
    st = onc_gguf_get_str(g, "tokenizer.ggml.pre", &pre, err);
    if (st == ONC_OK) {
        if (!(s->pre = dup_n(pre.ptr, pre.len))) goto oom;
    } else if (st != ONC_ERR_NOT_FOUND) {
        goto fail;
    }

    int64_t ti = find_array(g, "tokenizer.ggml.tokens", ONC_GGUF_STRING, -1, path, err);
    if (ti == -2) goto fail;
    if (ti == -1 || onc_gguf_arr_n(g, ti) == 0) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: cannot find tokenizer vocab (tokenizer.ggml.tokens)", path);
        goto fail;
    }
    if (onc_gguf_arr_n(g, ti) > INT32_MAX) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: too many tokens", path);
        goto fail;
    }
    int32_t n = (int32_t)onc_gguf_arr_n(g, ti);
    if (!(s->tokens = read_strings(g, ti, n))) goto oom;
    s->n_tokens = n;

    int64_t si = find_array(g, "tokenizer.ggml.scores", ONC_GGUF_FLOAT32, n, path, err);
    if (si == -2) goto fail;
    if (si >= 0) {
        if (!(s->scores = malloc((size_t)n * sizeof *s->scores))) goto oom;
        memcpy(s->scores, onc_gguf_arr_data(g, si), (size_t)n * sizeof *s->scores);
    }
    int64_t yi = find_array(g, "tokenizer.ggml.token_type", ONC_GGUF_INT32, n, path, err);
    if (yi == -2) goto fail;
    if (yi >= 0) {
        if (!(s->token_types = malloc((size_t)n * sizeof *s->token_types))) goto oom;
        memcpy(s->token_types, onc_gguf_arr_data(g, yi), (size_t)n * sizeof *s->token_types);
    }
    int64_t mi = find_array(g, "tokenizer.ggml.merges", ONC_GGUF_STRING, -1, path, err);
    if (mi == -2) goto fail;
    if (s->kind == ONC_VOCAB_BPE && mi < 0) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: cannot find tokenizer merges (tokenizer.ggml.merges)", path);
        goto fail;
    }
    if (mi >= 0) {
        if (onc_gguf_arr_n(g, mi) > INT32_MAX) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: too many merges", path);
            goto fail;
        }
        int32_t nm = (int32_t)onc_gguf_arr_n(g, mi);
        if (nm > 0 && !(s->merges = read_strings(g, mi, nm))) goto oom;
        s->n_merges = nm;
    }

    /* per-model defaults (llama-vocab.cpp load) */
    s->bos_id = s->eos_id = s->unk_id = s->sep_id = s->pad_id = s->mask_id = ONC_TOKEN_NONE;
    switch (s->kind) {
    case ONC_VOCAB_SPM:
        s->bos_id = 1, s->eos_id = 2, s->unk_id = 0;
        s->add_bos = true, s->add_space_prefix = true;
        break;
    case ONC_VOCAB_WPM:
        s->bos_id = 101, s->unk_id = 100, s->sep_id = 102, s->pad_id = 0, s->mask_id = 103;
        s->add_bos = true, s->add_sep = true;
        break;
    case ONC_VOCAB_BPE: {
        s->bos_id = s->eos_id = 11;
        tok_pre_info info;
        if (tok_pre_lookup(s->pre, &info)) s->add_bos = info.add_bos, s->add_sep = info.add_sep;
        break;
    }
    }
    bool bos_found = false;
    if (read_id(g, "tokenizer.ggml.bos_token_id", n, &s->bos_id, &bos_found, err) != ONC_OK) goto fail;
    if (!bos_found && read_id(g, "tokenizer.ggml.cls_token_id", n, &s->bos_id, NULL, err) != ONC_OK) goto fail;
    if (read_id(g, "tokenizer.ggml.eos_token_id", n, &s->eos_id, NULL, err) != ONC_OK ||
        read_id(g, "tokenizer.ggml.unknown_token_id", n, &s->unk_id, NULL, err) != ONC_OK ||
        read_id(g, "tokenizer.ggml.seperator_token_id", n, &s->sep_id, NULL, err) != ONC_OK ||
        read_id(g, "tokenizer.ggml.padding_token_id", n, &s->pad_id, NULL, err) != ONC_OK ||
        read_id(g, "tokenizer.ggml.mask_token_id", n, &s->mask_id, NULL, err) != ONC_OK)
        goto fail;
    int32_t *all[] = {&s->bos_id, &s->eos_id, &s->unk_id, &s->sep_id, &s->pad_id, &s->mask_id};
    for (size_t k = 0; k < 6; k++)
        if (*all[k] >= n) *all[k] = ONC_TOKEN_NONE; /* a default the vocabulary is too small for */
    if (read_flag(g, "tokenizer.ggml.add_bos_token", &s->add_bos, err) != ONC_OK ||
        read_flag(g, "tokenizer.ggml.add_eos_token", &s->add_eos, err) != ONC_OK ||
        read_flag(g, "tokenizer.ggml.add_sep_token", &s->add_sep, err) != ONC_OK ||
        read_flag(g, "tokenizer.ggml.add_space_prefix", &s->add_space_prefix, err) != ONC_OK)
        goto fail;
    return s;
oom:
    onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory reading the vocabulary", path);
fail:
    onc_vocab_spec_free(s);
    return NULL;
}
