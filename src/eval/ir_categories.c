/* ir_categories.c — query id -> category, from a BEIR queries.jsonl (the
 * file `oncolm synth corpus` writes: {"_id", "text", "metadata":
 * {"category", ...}}) or a two-column TSV (see oncolm/eval_retrieval.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eval/eval_internal.h"

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

struct onc_ir_categories {
    ir_strtab qids;     /* strings live in the arena */
    const char **cat;   /* per qid index, interned in cats */
    int64_t cap;
    ir_strtab cats;     /* distinct category names */
    int64_t *line;      /* line of each qid, for conflict messages */
    arena_chunk *arena;
};

/* Copy s[0..n) plus NUL into the arena; NULL when out of memory. */
static char *arena_dup(onc_ir_categories *c, const char *s, size_t n) {
    arena_chunk *a = c->arena;
    if (!a || a->cap - a->used < n + 1) {
        const size_t cap = n + 1 > 65536 ? n + 1 : 65536;
        arena_chunk *na = malloc(sizeof *na + cap);
        if (!na) return NULL;
        na->next = a;
        na->used = 0;
        na->cap = cap;
        c->arena = a = na;
    }
    char *p = a->data + a->used;
    memcpy(p, s, n);
    p[n] = '\0';
    a->used += n + 1;
    return p;
}

void onc_ir_categories_free(onc_ir_categories *c) {
    if (!c) return;
    ir_strtab_free(&c->qids);
    ir_strtab_free(&c->cats);
    free(c->cat);
    free(c->line);
    for (arena_chunk *a = c->arena, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    free(c);
}

/* Record qid -> category from line `lineno`. ONC_ERR_FORMAT on a conflict. */
static onc_status add_pair(onc_ir_categories *c, const char *qid, size_t qlen, const char *cat, size_t clen,
                           const char *name, int64_t lineno, onc_error *err) {
    char *q = arena_dup(c, qid, qlen);
    char *k = q ? arena_dup(c, cat, clen) : NULL;
    if (!k) return onc_error_set(err, ONC_ERR_NOMEM, "%s:%lld: out of memory", name, (long long)lineno);
    bool is_new;
    const int64_t qi = ir_strtab_intern(&c->qids, q, &is_new);
    int64_t ci = qi < 0 ? -1 : ir_strtab_intern(&c->cats, k, NULL);
    if (ci < 0) return onc_error_set(err, ONC_ERR_NOMEM, "%s:%lld: out of memory", name, (long long)lineno);
    if (!is_new) {
        if (strcmp(c->cat[qi], c->cats.strs[ci]) != 0)
            return onc_error_set(err, ONC_ERR_FORMAT,
                                 "%s:%lld: query '%.60s' has category '%.60s' here but '%.60s' on line %lld", name,
                                 (long long)lineno, q, k, c->cat[qi], (long long)c->line[qi]);
        return ONC_OK;
    }
    if (qi >= c->cap) {
        const int64_t cap = c->cap ? 2 * c->cap : 1024;
        const char **nc = realloc(c->cat, (size_t)cap * sizeof *nc);
        if (!nc) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        c->cat = nc;
        int64_t *nl = realloc(c->line, (size_t)cap * sizeof *nl);
        if (!nl) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        c->line = nl;
        c->cap = cap;
    }
    c->cat[qi] = c->cats.strs[ci];
    c->line[qi] = lineno;
    return ONC_OK;
}

/* One JSONL line: {"_id": str|int, "metadata": {"category": str}} (or a
 * top-level "category"). Lines without a category are skipped. */
static onc_status parse_json_line(onc_ir_categories *c, const char *line, const char *name, int64_t lineno,
                                  onc_error *err) {
    json_error_t je;
    json_t *o = json_loadb(line, strlen(line), 0, &je);
    if (!o) return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: invalid JSON: %s", name, (long long)lineno, je.text);
    onc_status st = ONC_OK;
    if (!json_is_object(o)) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: expected a JSON object", name, (long long)lineno);
        goto done;
    }
    json_t *id = json_object_get(o, "_id");
    char num[32];
    const char *qid;
    size_t qlen;
    if (json_is_string(id)) {
        qid = json_string_value(id);
        qlen = json_string_length(id);
    } else if (json_is_integer(id)) {
        qlen = (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(id));
        qid = num;
    } else {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: missing \"_id\" (string or integer)", name, (long long)lineno);
        goto done;
    }
    if (qlen == 0 || memchr(qid, '\0', qlen)) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: empty or invalid \"_id\"", name, (long long)lineno);
        goto done;
    }
    json_t *meta = json_object_get(o, "metadata");
    json_t *cat = json_is_object(meta) ? json_object_get(meta, "category") : NULL;
    if (!cat) cat = json_object_get(o, "category");
    if (!cat || json_is_null(cat)) goto done;
    if (!json_is_string(cat) || json_string_length(cat) == 0 || memchr(json_string_value(cat), '\0', json_string_length(cat))) {
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: category must be a non-empty string", name, (long long)lineno);
        goto done;
    }
    st = add_pair(c, qid, qlen, json_string_value(cat), json_string_length(cat), name, lineno, err);
done:
    json_decref(o);
    return st;
}

onc_ir_categories *onc_ir_categories_parse(const char *data, size_t len, const char *name, onc_error *err) {
    if (!name) name = "categories";
    onc_ir_categories *c = calloc(1, sizeof *c);
    char *buf = ir_copy_buf(data, len);
    if (!c || !buf) {
        free(c), free(buf);
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    if (ir_check_no_nul(buf, len, name, err) != ONC_OK) goto fail;
    size_t s = 0;
    while (s < len && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r' || buf[s] == '\n')) s++;
    const bool json = s < len && buf[s] == '{';
    ir_lines it;
    ir_lines_init(&it, buf, len);
    bool first = true;
    for (char *line; (line = ir_lines_next(&it));) {
        if (ir_blank(line)) continue;
        if (json) {
            if (parse_json_line(c, line, name, it.lineno, err) != ONC_OK) goto fail;
            continue;
        }
        char *f[2];
        const int nf = ir_split_tab(line, f, 2);
        if (first && (!strcmp(f[0], "query-id") || !strcmp(f[0], "qid") || !strcmp(f[0], "_id"))) {
            first = false;
            continue;
        }
        first = false;
        if (nf != 2 || !*f[0] || !*f[1]) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: expected `qid<TAB>category`", name, (long long)it.lineno);
            goto fail;
        }
        if (add_pair(c, f[0], strlen(f[0]), f[1], strlen(f[1]), name, it.lineno, err) != ONC_OK) goto fail;
    }
    free(buf);
    return c;
fail:
    free(buf);
    onc_ir_categories_free(c);
    return NULL;
}

onc_ir_categories *onc_ir_categories_load(const char *path, onc_error *err) {
    size_t len;
    char *buf = ir_read_file(path, &len, err);
    if (!buf) return NULL;
    onc_ir_categories *c = onc_ir_categories_parse(buf, len, path, err);
    free(buf);
    return c;
}

const char *onc_ir_category_of(const onc_ir_categories *c, const char *qid) {
    const int64_t k = ir_strtab_find(&c->qids, qid);
    return k < 0 ? NULL : c->cat[k];
}

int64_t onc_ir_categories_n_queries(const onc_ir_categories *c) { return c->qids.n; }
