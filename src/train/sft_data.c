/* sft_data.c — JSONL rows to token ids and trained positions (see
 * oncolm/sft_data.h for the rules, which follow TRL's SFTTrainer). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/rng.h"
#include "oncolm/sft_data.h"

onc_sft_params onc_sft_default_params(void) {
    return (onc_sft_params){.max_len = 1024, .val_fraction = 0.1, .seed = 42, .add_eos = true};
}

/* A trained character span [lo, hi) of the rendered text. */
typedef struct span {
    size_t lo, hi;
} span;

#define MAX_SPANS 256

/* Tokens of text[0..len) (BOS as the model says, special texts parsed when
 * `special`), a leading duplicated BOS removed (templates that write "<s>"
 * themselves). */
static onc_status tokenize(const onc_tokenizer *tok, const char *text, size_t len, bool special, int32_t **ids,
                           size_t *n, onc_error *err) {
    onc_tokenize_params tp = onc_tokenize_default_params();
    tp.parse_special = special;
    onc_status st = onc_tokenize(tok, text, len, &tp, ids, n, err);
    if (st != ONC_OK) return st;
    const int32_t bos = onc_tokenizer_special(tok, ONC_SPECIAL_BOS);
    if (*n >= 2 && bos >= 0 && (*ids)[0] == bos && (*ids)[1] == bos) {
        memmove(*ids, *ids + 1, (*n - 1) * sizeof **ids);
        (*n)--;
    }
    return ONC_OK;
}

/* Number of tokens of the text up to byte b (b == len: all of them). */
static onc_status tokens_before(const onc_tokenizer *tok, const char *text, size_t len, size_t b, bool special,
                                size_t n_all, size_t *out, onc_error *err) {
    if (b >= len) {
        *out = n_all;
        return ONC_OK;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    onc_status st = tokenize(tok, text, b, special, &ids, &n, err);
    free(ids);
    *out = n < n_all ? n : n_all;
    return st;
}

static const char *str_field(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Render the row (prompt/completion or messages) into *text with trained
 * character spans. Errors name path:line. */
static onc_status render(json_t *row, const onc_sft_params *p, const char *path, int64_t line, char **text,
                         size_t *len, span *spans, int *n_spans, bool *special, onc_error *err) {
    const char *prompt = str_field(row, "prompt"), *completion = str_field(row, "completion");
    json_t *msgs = json_object_get(row, "messages");
    *n_spans = 0;
    if (prompt && completion) {
        const size_t lp = strlen(prompt), lc = strlen(completion);
        if (!(*text = malloc(lp + lc + 1))) return onc_error_set(err, ONC_ERR_NOMEM, "%s:%lld: out of memory", path, (long long)line);
        memcpy(*text, prompt, lp);
        memcpy(*text + lp, completion, lc + 1);
        *len = lp + lc;
        spans[(*n_spans)++] = (span){lp, lp + lc};
        *special = false;
        return ONC_OK;
    }
    if (!json_is_array(msgs))
        return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: a row needs \"prompt\" and \"completion\" strings, or \"messages\"",
                             path, (long long)line);
    if (!p->has_tmpl)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "%s:%lld: \"messages\" rows need a chat template (the model has none: give --template)",
                             path, (long long)line);
    const size_t n = json_array_size(msgs);
    onc_chat_message *m = calloc(n ? n : 1, sizeof *m);
    if (!m) return onc_error_set(err, ONC_ERR_NOMEM, "%s:%lld: out of memory", path, (long long)line);
    bool has_assistant = false;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(msgs, i);
        m[i].role = json_is_object(e) ? str_field(e, "role") : NULL;
        m[i].content = json_is_object(e) ? str_field(e, "content") : NULL;
        if (!m[i].role || !m[i].content) {
            free(m);
            return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: message %zu needs \"role\" and \"content\" strings", path,
                                 (long long)line, i + 1);
        }
        if (strcmp(m[i].role, "system") && strcmp(m[i].role, "user") && strcmp(m[i].role, "assistant")) {
            free(m);
            return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: message %zu: role must be system, user or assistant",
                                 path, (long long)line, i + 1);
        }
        has_assistant |= !strcmp(m[i].role, "assistant");
    }
    if (!has_assistant) {
        free(m);
        return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: no assistant message: nothing to train on", path,
                             (long long)line);
    }
    onc_chat_params cp = onc_chat_default_params();
    cp.eos_text = p->eos_text;
    cp.add_generation_prompt = false;
    onc_status st = onc_chat_apply(p->tmpl, m, n, &cp, text, len, err);
    for (size_t i = 0; i < n && st == ONC_OK; i++) {
        if (strcmp(m[i].role, "assistant")) continue;
        if (*n_spans == MAX_SPANS) {
            st = onc_error_set(err, ONC_ERR_INVALID, "%s:%lld: more than %d assistant turns", path, (long long)line,
                               MAX_SPANS);
            break;
        }
        char *before = NULL, *upto = NULL;
        size_t lb = 0, lu = 0;
        cp.add_generation_prompt = true;
        st = onc_chat_apply(p->tmpl, m, i, &cp, &before, &lb, err);
        cp.add_generation_prompt = false;
        if (st == ONC_OK) st = onc_chat_apply(p->tmpl, m, i + 1, &cp, &upto, &lu, err);
        if (st == ONC_OK && (lb > lu || lu > *len || memcmp(before, *text, lb) || memcmp(upto, *text, lu)))
            st = onc_error_set(err, ONC_ERR_UNSUPPORTED,
                               "%s:%lld: template %s does not render the conversation up to turn %zu as a prefix of "
                               "the whole, so the assistant turns cannot be located",
                               path, (long long)line, onc_chat_template_name(p->tmpl), i + 1);
        if (st == ONC_OK) spans[(*n_spans)++] = (span){lb, lu};
        free(before);
        free(upto);
    }
    free(m);
    if (st != ONC_OK) {
        free(*text);
        *text = NULL;
        if (err && !strstr(err->msg, path)) onc_error_prefix(err, "%s:%lld", path, (long long)line);
    }
    *special = true;
    return st;
}

/* One row -> example (ex->n == 0 when nothing is left to train). */
static onc_status make_example(json_t *row, const onc_tokenizer *tok, const onc_sft_params *p, const char *path,
                               int64_t line, onc_sft_example *ex, onc_error *err) {
    span spans[MAX_SPANS];
    int n_spans = 0;
    char *text = NULL;
    size_t len = 0, n = 0;
    bool special = false;
    int32_t *ids = NULL;
    memset(ex, 0, sizeof *ex);
    ex->line = line;
    onc_status st = render(row, p, path, line, &text, &len, spans, &n_spans, &special, err);
    if (st == ONC_OK) st = tokenize(tok, text, len, special, &ids, &n, err);
    uint8_t *train = NULL;
    if (st == ONC_OK && !(train = calloc(n + 2, 1))) st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    for (int s = 0; s < n_spans && st == ONC_OK; s++) {
        size_t a = 0, b = 0;
        st = tokens_before(tok, text, len, spans[s].lo, special, n, &a, err);
        if (st == ONC_OK) st = tokens_before(tok, text, len, spans[s].hi, special, n, &b, err);
        for (size_t t = a; t < b && st == ONC_OK; t++) train[t] = 1;
    }
    if (st != ONC_OK && err && !strstr(err->msg, path)) onc_error_prefix(err, "%s:%lld", path, (long long)line);
    const int32_t eos = onc_tokenizer_special(tok, ONC_SPECIAL_EOS);
    if (st == ONC_OK && p->add_eos && eos >= 0 && (n == 0 || ids[n - 1] != eos)) {
        int32_t *more = realloc(ids, (n + 1) * sizeof *ids);
        if (!more) st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        else {
            ids = more;
            train[n] = n > 0 ? train[n - 1] : 0;
            ids[n++] = eos;
        }
    }
    if (st == ONC_OK) {
        if ((int64_t)n > p->max_len) {
            n = (size_t)p->max_len;
            ex->truncated = true;
        }
        int32_t k = 0;
        for (size_t t = 1; t < n; t++) k += train[t];
        train[0] = 0; /* the first token is never predicted */
        ex->ids = ids, ex->train = train, ex->n = (int32_t)n, ex->n_train = k;
        ids = NULL, train = NULL;
    }
    free(ids);
    free(train);
    free(text);
    return st;
}

void onc_sft_free(onc_sft_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n_train; i++) free(d->train[i].ids), free(d->train[i].train);
    for (size_t i = 0; i < d->n_val; i++) free(d->val[i].ids), free(d->val[i].train);
    free(d->train);
    free(d->val);
    free(d);
}

/* Append ex to the array *a of *n (capacity *cap). */
static bool push(onc_sft_example **a, size_t *n, size_t *cap, const onc_sft_example *ex) {
    if (*n == *cap) {
        const size_t nc = *cap ? 2 * *cap : 64;
        onc_sft_example *na = realloc(*a, nc * sizeof *na);
        if (!na) return false;
        *a = na, *cap = nc;
    }
    (*a)[(*n)++] = *ex;
    return true;
}

onc_sft_dataset *onc_sft_load(const char *path, const onc_tokenizer *tok, const onc_sft_params *params,
                              onc_error *err) {
    const onc_sft_params p = params ? *params : onc_sft_default_params();
    if (p.max_len < 2 || p.val_fraction < 0 || p.val_fraction >= 1) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: max length must be >= 2 and the validation share in [0, 1)", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    onc_sft_dataset *d = calloc(1, sizeof *d);
    size_t cap_t = 0, cap_v = 0, cap_line = 0;
    char *buf = NULL;
    ssize_t got;
    int64_t line = 0;
    onc_status st = d ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    while (st == ONC_OK && (got = getline(&buf, &cap_line, f)) >= 0) {
        line++;
        size_t k = 0;
        while (k < (size_t)got && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' || buf[k] == '\n')) k++;
        if (k == (size_t)got) continue;
        json_error_t je;
        json_t *row = json_loadb(buf, (size_t)got, 0, &je);
        if (!json_is_object(row)) {
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: %s", path, (long long)line,
                               row ? "a row must be a JSON object" : je.text);
            json_decref(row);
            break;
        }
        const char *split = str_field(row, "split");
        bool val;
        if (split) {
            if (strcmp(split, "train") && strcmp(split, "validation") && strcmp(split, "val")) {
                st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: split must be \"train\" or \"validation\"", path,
                                   (long long)line);
                json_decref(row);
                break;
            }
            val = strcmp(split, "train") != 0;
        } else {
            uint64_t h = p.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)line);
            val = (double)(onc_splitmix64(&h) >> 11) * 0x1.0p-53 < p.val_fraction;
        }
        onc_sft_example ex;
        st = make_example(row, tok, &p, path, line, &ex, err);
        json_decref(row);
        if (st != ONC_OK) break;
        d->n_truncated += ex.truncated;
        if (ex.n_train == 0) {
            d->n_dropped++;
            free(ex.ids), free(ex.train);
            continue;
        }
        if (!val) d->train_tokens += ex.n, d->train_target_tokens += ex.n_train;
        if (!(val ? push(&d->val, &d->n_val, &cap_v, &ex) : push(&d->train, &d->n_train, &cap_t, &ex))) {
            free(ex.ids), free(ex.train);
            st = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    if (st == ONC_OK && ferror(f)) st = onc_error_set(err, ONC_ERR_IO, "%s: read error", path);
    if (st == ONC_OK && d->n_train == 0)
        st = onc_error_set(err, ONC_ERR_INVALID, "%s: no training example (%lld lines, %zu dropped with nothing to train)",
                           path, (long long)line, d->n_dropped);
    free(buf);
    fclose(f);
    if (st != ONC_OK) {
        onc_sft_free(d);
        return NULL;
    }
    return d;
}

void onc_sft_labels(const onc_sft_example *ex, int32_t *labels) {
    for (int32_t t = 0; t + 1 < ex->n; t++) labels[t] = ex->train[t + 1] ? ex->ids[t + 1] : -1;
    if (ex->n > 0) labels[ex->n - 1] = -1;
}
