/* enc_data.c — JSONL (or plain-text) datasets of encoder training, tokenized
 * (see oncolm/enc_data.h for the rules). The sibling of sft_data.c: the same
 * row reading, split names, reproducible validation draw and error style. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oncolm/enc_data.h"
#include "oncolm/rng.h"
#include "oncolm/utf8.h"

onc_enc_data_params onc_enc_data_default_params(onc_enc_data_kind kind) {
    return (onc_enc_data_params){.kind = kind, .max_len = 128, .val_fraction = 0.1, .seed = 42};
}

enum { SPLIT_TRAIN, SPLIT_VAL, SPLIT_NONE };

/* A row read, before the split and the label indices are settled. */
typedef struct row {
    onc_enc_example ex;
    int split;
    char *label;         /* classify: the label's text (integers in decimal) */
    long long label_int; /* classify, integer labels */
    bool is_int;
} row;

typedef struct reader {
    const char *path;
    const onc_tokenizer *tok;
    onc_enc_data_params p;
    onc_enc_dataset *d;
    row *rows;
    size_t n_rows, cap_rows;
    bool any_val; /* some row names a validation split */
    onc_error *err;
} reader;

static void free_seq(onc_token_seq *s) {
    free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

static void free_example(onc_enc_example *e) {
    free_seq(&e->text);
    free_seq(&e->positive);
    for (int32_t k = 0; k < e->n_negatives; k++) free_seq(&e->negatives[k]);
    free(e->negatives);
    e->negatives = NULL;
    e->n_negatives = 0;
}

void onc_enc_data_free(onc_enc_dataset *d) {
    if (!d) return;
    for (int64_t i = 0; i < d->n_train; i++) free_example(&d->train[i]);
    for (int64_t i = 0; i < d->n_val; i++) free_example(&d->val[i]);
    free(d->train);
    free(d->val);
    for (int32_t i = 0; i < d->n_labels; i++) free(d->labels[i]);
    free(d->labels);
    free(d);
}

/* Offset of the first byte of s[0..n) that starts no well-formed UTF-8
 * sequence, or n when all is well formed. */
static size_t utf8_bad_at(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const size_t k = onc_utf8_seq_len((const unsigned char *)s + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

/* Tokens of text[0..len) with the model's specials, cut to max_len tokens:
 * the end of the text goes, a closing special ([SEP] / EOS) the tokenizer
 * added stays, as Hugging Face tokenizers truncate. */
static onc_status encode(reader *r, int64_t line, const char *text, size_t len, onc_token_seq *out) {
    int32_t *ids = NULL;
    size_t n = 0;
    onc_tokenize_params tp = onc_tokenize_default_params();
    onc_status st = onc_tokenize(r->tok, text, len, &tp, &ids, &n, r->err);
    if (st != ONC_OK) {
        onc_error_prefix(r->err, "%s:%lld", r->path, (long long)line);
        return st;
    }
    if (n > (size_t)r->p.max_len) {
        const int32_t sep = onc_tokenizer_special(r->tok, ONC_SPECIAL_SEP),
                      eos = onc_tokenizer_special(r->tok, ONC_SPECIAL_EOS);
        const int32_t last = ids[n - 1];
        const bool closing = (onc_tokenizer_add_sep(r->tok) && sep >= 0 && last == sep) ||
                             (onc_tokenizer_add_eos(r->tok) && eos >= 0 && last == eos);
        n = (size_t)r->p.max_len;
        if (closing) ids[n - 1] = last;
        r->d->n_truncated++;
    }
    if (n == 0) { /* a tokenizer without specials and a text of nothing it knows */
        free(ids);
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: the text gives no token", r->path, (long long)line);
    }
    out->ids = ids;
    out->n = (int32_t)n;
    return ONC_OK;
}

/* The string field key (or alt) of row: *s and *len, NULL when absent.
 * Present but not a string, or empty when nonempty is asked: an error. */
static onc_status str_field(reader *r, int64_t line, json_t *o, const char *key, const char *alt, bool required,
                            bool nonempty, const char **s, size_t *len) {
    json_t *v = json_object_get(o, key);
    const char *name = key;
    if (!v && alt) v = json_object_get(o, alt), name = alt;
    *s = NULL, *len = 0;
    if (!v || json_is_null(v)) {
        if (!required) return ONC_OK;
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: missing field \"%s\"%s%s%s", r->path, (long long)line,
                             key, alt ? " (or \"" : "", alt ? alt : "", alt ? "\")" : "");
    }
    if (!json_is_string(v))
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: field \"%s\" must be a string", r->path,
                             (long long)line, name);
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (nonempty && *len == 0)
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: field \"%s\" is empty", r->path, (long long)line, name);
    return ONC_OK;
}

static onc_status push_row(reader *r, row *w) {
    if (r->n_rows == r->cap_rows) {
        const size_t nc = r->cap_rows ? 2 * r->cap_rows : 64;
        row *nr = realloc(r->rows, nc * sizeof *nr);
        if (!nr) return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
        r->rows = nr, r->cap_rows = nc;
    }
    r->rows[r->n_rows++] = *w;
    return ONC_OK;
}

/* A "texts" example of text[0..len) (plain text or a JSONL row). */
static onc_status add_text(reader *r, int64_t line, int split, const char *text, size_t len) {
    row w = {.split = split, .ex = {.label = -1, .line = line}};
    onc_status st = encode(r, line, text, len, &w.ex.text);
    if (st == ONC_OK) st = push_row(r, &w);
    if (st != ONC_OK) free_example(&w.ex);
    return st;
}

static onc_status parse_classify(reader *r, int64_t line, json_t *o, row *w) {
    const char *text;
    size_t len;
    onc_status st = str_field(r, line, o, "text", "input", true, true, &text, &len);
    if (st != ONC_OK) return st;
    json_t *lab = json_object_get(o, "label");
    char num[32];
    const char *name = NULL;
    if (json_is_integer(lab)) {
        w->is_int = true;
        w->label_int = (long long)json_integer_value(lab);
        snprintf(num, sizeof num, "%lld", w->label_int);
        name = num;
    } else if (json_is_string(lab)) {
        name = json_string_value(lab);
        if (!*name)
            return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: field \"label\" is empty", r->path, (long long)line);
        if (strlen(name) != json_string_length(lab))
            return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: field \"label\" contains a NUL character", r->path,
                                 (long long)line);
    } else
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: %s \"label\" (a string or an integer)", r->path,
                             (long long)line, lab && !json_is_null(lab) ? "bad" : "missing field");
    if (!(w->label = strdup(name))) return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
    return encode(r, line, text, len, &w->ex.text);
}

static onc_status parse_pairs(reader *r, int64_t line, json_t *o, row *w) {
    const char *q, *pos;
    size_t lq, lp;
    onc_status st = str_field(r, line, o, "query", NULL, true, true, &q, &lq);
    if (st == ONC_OK) st = str_field(r, line, o, "positive", "pos", true, true, &pos, &lp);
    if (st != ONC_OK) return st;
    json_t *neg = json_object_get(o, "negative");
    const char *nname = "negative";
    if (!neg) neg = json_object_get(o, "neg"), nname = "neg";
    size_t k = 0;
    if (json_is_string(neg)) k = 1;
    else if (json_is_array(neg)) k = json_array_size(neg);
    else if (neg && !json_is_null(neg))
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: field \"%s\" must be a string or an array of strings",
                             r->path, (long long)line, nname);
    if (k > (size_t)INT32_MAX / 2)
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: too many negatives", r->path, (long long)line);
    if ((st = encode(r, line, q, lq, &w->ex.text)) != ONC_OK) return st;
    if ((st = encode(r, line, pos, lp, &w->ex.positive)) != ONC_OK) return st;
    if (k == 0) return ONC_OK;
    if (!(w->ex.negatives = calloc(k, sizeof *w->ex.negatives)))
        return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
    for (size_t i = 0; i < k; i++) {
        json_t *v = json_is_array(neg) ? json_array_get(neg, i) : neg;
        if (!json_is_string(v) || json_string_length(v) == 0)
            return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: negative %zu is %s", r->path, (long long)line,
                                 i + 1, json_is_string(v) ? "empty" : "not a string");
        if ((st = encode(r, line, json_string_value(v), json_string_length(v), &w->ex.negatives[i])) != ONC_OK)
            return st;
        w->ex.n_negatives = (int32_t)(i + 1);
    }
    return ONC_OK;
}

static onc_status parse_texts(reader *r, int64_t line, json_t *o, row *w) {
    const char *text, *title;
    size_t len, lt;
    onc_status st = str_field(r, line, o, "text", NULL, true, false, &text, &len);
    if (st == ONC_OK) st = str_field(r, line, o, "title", NULL, false, false, &title, &lt);
    if (st != ONC_OK) return st;
    if (len == 0 && lt == 0)
        return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: field \"text\" is empty", r->path, (long long)line);
    if (lt == 0) return encode(r, line, text, len, &w->ex.text);
    char *both = malloc(lt + 1 + len);
    if (!both) return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
    memcpy(both, title, lt);
    both[lt] = ' ';
    memcpy(both + lt + 1, text, len);
    st = encode(r, line, both, lt + 1 + len, &w->ex.text);
    free(both);
    return st;
}

/* Keep the text of a Jansson message up to " near '...'" (the input is not echoed). */
static void json_msg(char *dst, size_t cap, const char *msg) {
    snprintf(dst, cap, "%s", msg);
    char *near = strstr(dst, " near '");
    if (near) *near = '\0';
}

static onc_status read_jsonl(reader *r, FILE *f, int64_t *n_lines) {
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int64_t line = 0;
    onc_status st = ONC_OK;
    while (st == ONC_OK && (got = getline(&buf, &cap, f)) >= 0) {
        line++;
        size_t k = 0;
        while (k < (size_t)got && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' || buf[k] == '\n')) k++;
        if (k == (size_t)got) continue;
        const size_t bad = utf8_bad_at(buf, (size_t)got);
        if (bad < (size_t)got) {
            st = onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu", r->path, (long long)line,
                               bad + 1);
            break;
        }
        json_error_t je;
        json_t *o = json_loadb(buf, (size_t)got, 0, &je);
        if (!json_is_object(o)) {
            char m[sizeof je.text];
            json_msg(m, sizeof m, je.text);
            if (o)
                st = onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: a row must be a JSON object", r->path,
                                   (long long)line);
            else
                st = onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: invalid JSON (column %d): %s", r->path,
                                   (long long)line, je.column, m);
            json_decref(o);
            break;
        }
        int split = SPLIT_NONE;
        json_t *sp = json_object_get(o, "split");
        if (sp && !json_is_null(sp)) {
            const char *s = json_string_value(sp);
            if (s && !strcmp(s, "train")) split = SPLIT_TRAIN;
            else if (s && (!strcmp(s, "val") || !strcmp(s, "validation") || !strcmp(s, "dev"))) split = SPLIT_VAL;
            else if (s && !strcmp(s, "test")) {
                r->d->n_test_skipped++;
                json_decref(o);
                continue;
            } else {
                st = onc_error_set(r->err, ONC_ERR_FORMAT,
                                   "%s:%lld: split must be \"train\", \"val\" (\"validation\", \"dev\") or \"test\"",
                                   r->path, (long long)line);
                json_decref(o);
                break;
            }
        }
        r->any_val |= split == SPLIT_VAL;
        row w = {.split = split, .ex = {.label = -1, .line = line}};
        switch (r->p.kind) {
        case ONC_ENC_DATA_CLASSIFY: st = parse_classify(r, line, o, &w); break;
        case ONC_ENC_DATA_PAIRS: st = parse_pairs(r, line, o, &w); break;
        default: st = parse_texts(r, line, o, &w); break;
        }
        json_decref(o);
        if (st == ONC_OK) st = push_row(r, &w);
        if (st != ONC_OK) free_example(&w.ex), free(w.label);
    }
    if (st == ONC_OK && ferror(f)) st = onc_error_set(r->err, ONC_ERR_IO, "%s: read error", r->path);
    free(buf);
    *n_lines = line;
    return st;
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
    return true;
}

/* Plain text: documents are runs of non-blank lines, their lines joined
 * with the newlines they had, the last line's line end dropped. */
static onc_status read_plain(reader *r, FILE *f, int64_t *n_lines) {
    char *buf = NULL, *doc = NULL;
    size_t cap = 0, cap_doc = 0, n_doc = 0;
    ssize_t got;
    int64_t line = 0, first = 0;
    onc_status st = ONC_OK;
    for (;;) {
        got = getline(&buf, &cap, f);
        if (got >= 0) line++;
        if (got < 0 || blank(buf, (size_t)got)) {
            if (n_doc) {
                while (n_doc && (doc[n_doc - 1] == '\n' || doc[n_doc - 1] == '\r')) n_doc--;
                if ((st = add_text(r, first, SPLIT_NONE, doc, n_doc)) != ONC_OK) break;
                n_doc = 0;
            }
            if (got < 0) break;
            continue;
        }
        const size_t bad = utf8_bad_at(buf, (size_t)got);
        if (bad < (size_t)got) {
            st = onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu", r->path, (long long)line,
                               bad + 1);
            break;
        }
        if (!n_doc) first = line;
        if (n_doc + (size_t)got + 1 > cap_doc) {
            const size_t nc = 2 * (n_doc + (size_t)got + 1);
            char *nd = realloc(doc, nc);
            if (!nd) {
                st = onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
                break;
            }
            doc = nd, cap_doc = nc;
        }
        memcpy(doc + n_doc, buf, (size_t)got);
        n_doc += (size_t)got;
    }
    if (st == ONC_OK && ferror(f)) st = onc_error_set(r->err, ONC_ERR_IO, "%s: read error", r->path);
    free(buf);
    free(doc);
    *n_lines = line;
    return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_ll(const void *a, const void *b) {
    const long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int find_label(char **labels, int32_t n, const char *name) {
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(labels[i], name)) return i;
    return -1;
}

/* d->labels and every row's label index. */
static onc_status settle_labels(reader *r) {
    onc_enc_dataset *d = r->d;
    if (r->p.labels) {
        if (!(d->labels = calloc((size_t)r->p.n_labels, sizeof *d->labels)))
            return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
        for (int32_t i = 0; i < r->p.n_labels; i++) {
            if (!(d->labels[i] = strdup(r->p.labels[i])))
                return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
            d->n_labels = i + 1;
        }
    } else if (r->n_rows) {
        const bool ints = r->rows[0].is_int;
        for (size_t i = 0; i < r->n_rows; i++)
            if (r->rows[i].is_int != ints)
                return onc_error_set(r->err, ONC_ERR_FORMAT,
                                     "%s:%lld: the label is %s, the first row's (line %lld) %s: use one kind", r->path,
                                     (long long)r->rows[i].ex.line, ints ? "a string" : "an integer",
                                     (long long)r->rows[0].ex.line, ints ? "an integer" : "a string");
        /* distinct values, sorted */
        void *keys = ints ? (void *)malloc(r->n_rows * sizeof(long long)) : (void *)malloc(r->n_rows * sizeof(char *));
        if (!keys) return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
        for (size_t i = 0; i < r->n_rows; i++) {
            if (ints) ((long long *)keys)[i] = r->rows[i].label_int;
            else ((char **)keys)[i] = r->rows[i].label;
        }
        qsort(keys, r->n_rows, ints ? sizeof(long long) : sizeof(char *), ints ? cmp_ll : cmp_str);
        size_t u = 0;
        for (size_t i = 0; i < r->n_rows; i++) {
            const bool dup = i > 0 && (ints ? ((long long *)keys)[i] == ((long long *)keys)[i - 1]
                                            : !strcmp(((char **)keys)[i], ((char **)keys)[i - 1]));
            if (!dup) {
                if (ints) ((long long *)keys)[u++] = ((long long *)keys)[i];
                else ((char **)keys)[u++] = ((char **)keys)[i];
            }
        }
        if (u > (size_t)INT32_MAX || !(d->labels = calloc(u, sizeof *d->labels))) {
            free(keys);
            return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
        }
        for (size_t i = 0; i < u; i++) {
            char num[32];
            if (ints) snprintf(num, sizeof num, "%lld", ((long long *)keys)[i]);
            if (!(d->labels[i] = strdup(ints ? num : ((char **)keys)[i]))) {
                free(keys);
                return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
            }
            d->n_labels = (int32_t)(i + 1);
        }
        free(keys);
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        row *w = &r->rows[i];
        /* sorted labels: a binary search would do; the label sets are small */
        w->ex.label = find_label(d->labels, d->n_labels, w->label);
        if (w->ex.label < 0)
            return onc_error_set(r->err, ONC_ERR_FORMAT, "%s:%lld: label \"%s\" is not one of the %d labels given",
                                 r->path, (long long)w->ex.line, w->label, (int)d->n_labels);
    }
    return ONC_OK;
}

/* Move the rows into d->train / d->val. */
static onc_status settle_splits(reader *r) {
    onc_enc_dataset *d = r->d;
    size_t nv = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        row *w = &r->rows[i];
        if (w->split == SPLIT_NONE) {
            bool val = false;
            if (!r->any_val) { /* as sft_data.c: a hash of (seed, line) */
                uint64_t h = r->p.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)w->ex.line);
                val = (double)(onc_splitmix64(&h) >> 11) * 0x1.0p-53 < r->p.val_fraction;
            }
            w->split = val ? SPLIT_VAL : SPLIT_TRAIN;
        }
        nv += w->split == SPLIT_VAL;
    }
    const size_t nt = r->n_rows - nv;
    d->train = calloc(nt ? nt : 1, sizeof *d->train);
    d->val = calloc(nv ? nv : 1, sizeof *d->val);
    if (!d->train || !d->val) return onc_error_set(r->err, ONC_ERR_NOMEM, "%s: out of memory", r->path);
    for (size_t i = 0; i < r->n_rows; i++) {
        row *w = &r->rows[i];
        if (w->split == SPLIT_VAL) d->val[d->n_val++] = w->ex;
        else d->train[d->n_train++] = w->ex;
        memset(&w->ex, 0, sizeof w->ex); /* owned by d now */
    }
    return ONC_OK;
}

static bool ends_with_jsonl(const char *path) {
    const size_t n = strlen(path);
    return n >= 6 && !strcasecmp(path + n - 6, ".jsonl");
}

onc_enc_dataset *onc_enc_data_load(const char *path, const onc_tokenizer *tok, const onc_enc_data_params *params,
                                   onc_error *err) {
    reader r = {.path = path, .tok = tok, .err = err};
    r.p = params ? *params : onc_enc_data_default_params(ONC_ENC_DATA_CLASSIFY);
    if (r.p.kind != ONC_ENC_DATA_CLASSIFY && r.p.kind != ONC_ENC_DATA_PAIRS && r.p.kind != ONC_ENC_DATA_TEXTS) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: unknown dataset kind %d", path, (int)r.p.kind);
        return NULL;
    }
    if (r.p.max_len < 2 || !(r.p.val_fraction >= 0 && r.p.val_fraction < 1) ||
        (r.p.kind == ONC_ENC_DATA_CLASSIFY && r.p.labels && r.p.n_labels < 1)) {
        onc_error_set(err, ONC_ERR_INVALID,
                      "%s: max length must be >= 2, the validation share in [0, 1) and fixed labels at least one",
                      path);
        return NULL;
    }
    if (r.p.kind != ONC_ENC_DATA_CLASSIFY) r.p.labels = NULL, r.p.n_labels = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    int64_t lines = 0;
    onc_status st =
        (r.d = calloc(1, sizeof *r.d)) ? ONC_OK : onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    if (st == ONC_OK) {
        r.d->kind = r.p.kind;
        st = r.p.kind == ONC_ENC_DATA_TEXTS && !ends_with_jsonl(path) ? read_plain(&r, f, &lines)
                                                                      : read_jsonl(&r, f, &lines);
    }
    fclose(f);
    if (st == ONC_OK && r.p.kind == ONC_ENC_DATA_CLASSIFY) st = settle_labels(&r);
    if (st == ONC_OK) st = settle_splits(&r);
    if (st == ONC_OK && r.d->n_train == 0)
        st = onc_error_set(err, ONC_ERR_INVALID,
                           "%s: no training rows (%lld lines, %lld rows, %lld validation, %lld test skipped)", path,
                           (long long)lines, (long long)r.n_rows, (long long)r.d->n_val,
                           (long long)r.d->n_test_skipped);
    for (size_t i = 0; i < r.n_rows; i++) free_example(&r.rows[i].ex), free(r.rows[i].label);
    free(r.rows);
    if (st != ONC_OK) {
        onc_enc_data_free(r.d);
        return NULL;
    }
    return r.d;
}
