/* enc_train_eval.c — the retrieval side of embedder training (see
 * enc_train_impl.h): nDCG@10 of the model being trained on a held-out
 * BEIR folder, and hard negatives mined with BM25 from a note store. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/enc_losses.h"
#include "oncolm/eval_retrieval.h"
#include "oncolm/store.h"
#include "train/enc_train_impl.h"

struct et_beir {
    onc_qrels *qrels;
    char **doc_id;            /* [n_docs] */
    int64_t n_docs, cap_docs;
    onc_token_seq *win;       /* [n_win] windows of the documents */
    int64_t *win_doc;         /* [n_win] their document */
    int64_t n_win, cap_win, cap_win_doc;
    char **q_id;              /* [n_q] queries that have judgements */
    onc_token_seq *q;         /* [n_q] */
    int64_t n_q, cap_q, cap_q_id;
    float *demb, *qemb;       /* [n_win][E], [n_q][E] */
};

/* Tokens of text without special tokens (invalid UTF-8 replaced). */
static onc_status content_ids(const onc_tokenizer *tok, const char *text, int32_t **ids, size_t *n, onc_error *err) {
    onc_tokenize_params tp = onc_tokenize_default_params();
    tp.add_special = false;
    tp.invalid_utf8 = ONC_UTF8_REPLACE;
    return onc_tokenize(tok, text, strlen(text), &tp, ids, n, err);
}

/* [CLS] ids[0..n) [SEP] as a new sequence. */
static bool wrap(const onc_tokenizer *tok, const int32_t *ids, size_t n, onc_token_seq *out) {
    const int32_t cls = onc_tokenizer_special(tok, ONC_SPECIAL_BOS), sep = onc_tokenizer_special(tok, ONC_SPECIAL_SEP);
    out->ids = malloc((n + 2) * sizeof(int32_t));
    if (!out->ids) return false;
    int32_t k = 0;
    if (cls >= 0) out->ids[k++] = cls;
    memcpy(out->ids + k, ids, n * sizeof(int32_t));
    k += (int32_t)n;
    if (sep >= 0) out->ids[k++] = sep;
    out->n = k;
    return true;
}

static bool grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return true;
    int64_t nc = *cap ? *cap * 2 : 256;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return false;
    *p = q, *cap = nc;
    return true;
}

/* Read a JSONL file, calling row(user, object, line) for each row. */
static onc_status each_row(const char *path, onc_status (*row)(void *, json_t *, int64_t, onc_error *), void *user,
                           onc_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return onc_error_set(err, ONC_ERR_IO, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    int64_t ln = 0;
    onc_status st = ONC_OK;
    ssize_t len;
    while (st == ONC_OK && (len = getline(&line, &cap, f)) > 0) {
        ln++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (!o || !json_is_object(o)) st = onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: not a JSON object", path, (long long)ln);
        else st = row(user, o, ln, err);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return st;
}

typedef struct beir_ctx {
    et_run *r;
    const char *path;
} beir_ctx;

static onc_status corpus_row(void *user, json_t *o, int64_t ln, onc_error *err) {
    beir_ctx *c = user;
    et_beir *b = c->r->beir;
    const char *id = json_string_value(json_object_get(o, "_id"));
    const char *text = json_string_value(json_object_get(o, "text"));
    const char *title = json_string_value(json_object_get(o, "title"));
    if (!id || !text) return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: a corpus row needs \"_id\" and \"text\"", c->path, (long long)ln);
    char *full = NULL;
    if (title && *title) {
        const size_t nt = strlen(title), nx = strlen(text);
        if ((full = malloc(nt + nx + 2))) memcpy(full, title, nt), full[nt] = ' ', memcpy(full + nt + 1, text, nx + 1);
    } else {
        full = strdup(text);
    }
    if (!grow((void **)&b->doc_id, &b->cap_docs, b->n_docs + 1, sizeof *b->doc_id)) {
        free(full);
        return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    int32_t *ids = NULL;
    size_t n = 0;
    onc_status st = full ? content_ids(c->r->tokenizer, full, &ids, &n, err) : onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    free(full);
    if (st != ONC_OK) return st;
    const size_t w = (size_t)c->r->p->max_len - 2;
    const int64_t d = b->n_docs;
    if (!(b->doc_id[d] = strdup(id))) st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    b->n_docs++;
    for (size_t s = 0; st == ONC_OK && (s < n || s == 0); s += w) {
        if (!grow((void **)&b->win, &b->cap_win, b->n_win + 1, sizeof *b->win) ||
            !grow((void **)&b->win_doc, &b->cap_win_doc, b->n_win + 1, sizeof *b->win_doc) ||
            !wrap(c->r->tokenizer, ids + s, n - s < w ? n - s : w, &b->win[b->n_win])) {
            st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
            break;
        }
        b->win_doc[b->n_win++] = d;
        if (n == 0) break;
    }
    free(ids);
    return st;
}

static bool judged(const onc_qrels *q, const char *qid) {
    for (int64_t i = 0; i < onc_qrels_n_queries(q); i++)
        if (strcmp(onc_qrels_qid(q, i), qid) == 0) return true;
    return false;
}

static onc_status query_row(void *user, json_t *o, int64_t ln, onc_error *err) {
    beir_ctx *c = user;
    et_beir *b = c->r->beir;
    const char *id = json_string_value(json_object_get(o, "_id"));
    const char *text = json_string_value(json_object_get(o, "text"));
    if (!id || !text) return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: a query row needs \"_id\" and \"text\"", c->path, (long long)ln);
    if (!judged(b->qrels, id)) return ONC_OK;
    int32_t *ids = NULL;
    size_t n = 0;
    onc_status st = content_ids(c->r->tokenizer, text, &ids, &n, err);
    if (st != ONC_OK) return st;
    const size_t w = (size_t)c->r->p->max_len - 2;
    if (!grow((void **)&b->q, &b->cap_q, b->n_q + 1, sizeof *b->q) ||
        !grow((void **)&b->q_id, &b->cap_q_id, b->n_q + 1, sizeof *b->q_id) ||
        !wrap(c->r->tokenizer, ids, n < w ? n : w, &b->q[b->n_q]) || !(b->q_id[b->n_q] = strdup(id))) {
        free(ids);
        return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    b->n_q++;
    free(ids);
    return ONC_OK;
}

onc_status et_eval_beir_open(et_run *r, onc_error *err) {
    if (!(r->beir = calloc(1, sizeof *r->beir))) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    et_beir *b = r->beir;
    char path[4200];
    snprintf(path, sizeof path, "%s/qrels/test.tsv", r->p->eval_beir);
    if (!(b->qrels = onc_qrels_load(path, ONC_QRELS_AUTO, err))) return err ? err->code : ONC_ERR_FORMAT;
    snprintf(path, sizeof path, "%s/corpus.jsonl", r->p->eval_beir);
    beir_ctx c = {r, path};
    onc_status st = each_row(path, corpus_row, &c, err);
    if (st != ONC_OK) return st;
    char qpath[4200];
    snprintf(qpath, sizeof qpath, "%s/queries.jsonl", r->p->eval_beir);
    c.path = qpath;
    if ((st = each_row(qpath, query_row, &c, err)) != ONC_OK) return st;
    if (b->n_docs == 0 || b->n_q == 0)
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: no documents, or no query with judgements in qrels/test.tsv",
                             r->p->eval_beir);
    b->demb = malloc((size_t)b->n_win * (size_t)r->E * sizeof(float));
    b->qemb = malloc((size_t)b->n_q * (size_t)r->E * sizeof(float));
    if (!b->demb || !b->qemb) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    return ONC_OK;
}

void et_eval_beir_close(et_run *r) {
    et_beir *b = r->beir;
    if (!b) return;
    onc_qrels_free(b->qrels);
    for (int64_t i = 0; i < b->n_docs; i++) free(b->doc_id[i]);
    for (int64_t i = 0; i < b->n_win; i++) free(b->win[i].ids);
    for (int64_t i = 0; i < b->n_q; i++) free(b->q[i].ids), free(b->q_id[i]);
    free(b->doc_id), free(b->win), free(b->win_doc), free(b->q), free(b->q_id), free(b->demb), free(b->qemb);
    free(b);
    r->beir = NULL;
}

/* Normalised embeddings of seqs[0..n) into out (inference, no dropout). */
static onc_status embed_all(et_run *r, const onc_token_seq *seqs, int64_t n, float *out, onc_error *err) {
    const int64_t E = r->E;
    for (int64_t i0 = 0; i0 < n; i0 += r->chunk) {
        const int64_t i1 = i0 + r->chunk < n ? i0 + r->chunk : n;
        et_batch_reset(r);
        for (int64_t i = i0; i < i1; i++) et_batch_add(r, &seqs[i]);
        const onc_enc_batch bt = et_batch(r);
        const float *h;
        onc_status st = onc_enc_model_forward(r->m, &bt, false, 0, &h, err);
        if (st != ONC_OK) return st;
        onc_pool_fwd(r->p->pooling, out + i0 * E, h, r->seq_start, r->seq_len, r->n_seq, E);
    }
    for (int64_t i = 0; i < n; i++) {
        float *v = out + i * E;
        double ss = 0;
        for (int64_t k = 0; k < E; k++) ss += (double)v[k] * v[k];
        const float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int64_t k = 0; k < E; k++) v[k] *= inv;
    }
    return ONC_OK;
}

onc_status et_eval_beir(et_run *r, double *ndcg10, onc_error *err) {
    et_beir *b = r->beir;
    const int64_t E = r->E;
    onc_status st = embed_all(r, b->win, b->n_win, b->demb, err);
    if (st == ONC_OK) st = embed_all(r, b->q, b->n_q, b->qemb, err);
    if (st != ONC_OK) return st;
    float *doc = malloc((size_t)b->n_docs * sizeof *doc);
    size_t cap = (size_t)b->n_q * 10 * 160 + 64, len = 0;
    char *run = malloc(cap);
    if (!doc || !run) {
        free(doc), free(run);
        return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    for (int64_t q = 0; q < b->n_q; q++) {
        for (int64_t d = 0; d < b->n_docs; d++) doc[d] = -INFINITY;
        const float *qv = b->qemb + q * E;
        for (int64_t w = 0; w < b->n_win; w++) {
            const float *dv = b->demb + w * E;
            float s = 0;
            for (int64_t k = 0; k < E; k++) s += qv[k] * dv[k];
            if (s > doc[b->win_doc[w]]) doc[b->win_doc[w]] = s;
        }
        /* top 10 by selection (ties: lower index first) */
        for (int rank = 1; rank <= 10 && rank <= b->n_docs; rank++) {
            int64_t best = -1;
            for (int64_t d = 0; d < b->n_docs; d++)
                if (doc[d] > -INFINITY && (best < 0 || doc[d] > doc[best])) best = d;
            if (best < 0) break;
            if (len + 300 + strlen(b->q_id[q]) + strlen(b->doc_id[best]) > cap) {
                char *nr = realloc(run, cap * 2);
                if (!nr) break;
                run = nr, cap *= 2;
            }
            len += (size_t)snprintf(run + len, cap - len, "%s Q0 %s %d %.9g train\n", b->q_id[q], b->doc_id[best], rank,
                                    (double)doc[best] + 1e-6 * (10 - rank));
            doc[best] = -INFINITY;
        }
    }
    free(doc);
    onc_run *rn = onc_run_parse(run, len, "validation run", NULL, err);
    free(run);
    if (!rn) return err ? err->code : ONC_ERR_FORMAT;
    onc_ir_params ip;
    onc_ir_params_default(&ip);
    ip.complete = true;
    onc_ir_result *res = onc_ir_evaluate(b->qrels, rn, &ip, err);
    const int c = onc_ir_cutoff_index(&ip, 10);
    *ndcg10 = res && c >= 0 ? onc_ir_mean(res, ONC_IR_NDCG, (size_t)c) : NAN;
    st = res ? ONC_OK : (err ? err->code : ONC_ERR_FORMAT);
    onc_ir_result_free(res);
    onc_run_free(rn);
    return st;
}

// --- hard negatives --------------------------------------------------------------------

static bool same_seq(const onc_token_seq *a, const int32_t *ids, int32_t n) {
    return a->n == n && memcmp(a->ids, ids, (size_t)n * sizeof(int32_t)) == 0;
}

onc_status et_mine_negatives(et_run *r, onc_error *err) {
    const onc_train_params *p = r->p;
    onc_store *s = onc_store_open(p->mine_store, false, NULL, err);
    if (!s) return err ? err->code : ONC_ERR_IO;
    onc_search_params sp = onc_search_default_params();
    sp.mode = ONC_SEARCH_BM25;
    sp.k = p->mine_negatives + 8;
    onc_detokenize_params dp = onc_detokenize_default_params();
    dp.remove_special = true;
    onc_tokenize_params tp = onc_tokenize_default_params();
    tp.invalid_utf8 = ONC_UTF8_REPLACE;
    onc_status st = ONC_OK;
    for (int64_t i = 0; i < r->data->n_train && st == ONC_OK; i++) {
        onc_enc_example *e = &r->data->train[i];
        char *q = NULL;
        size_t ql = 0;
        if ((st = onc_detokenize(r->tokenizer, e->text.ids, (size_t)e->text.n, &dp, &q, &ql, err)) != ONC_OK) break;
        onc_hit *hits = NULL;
        size_t nh = 0;
        onc_error se = {0};
        /* a query BM25 cannot parse has no negatives mined (not an error) */
        if (onc_store_search(s, q, &sp, &hits, &nh, &se) != ONC_OK) nh = 0;
        free(q);
        onc_token_seq *neg = realloc(e->negatives, (size_t)(e->n_negatives + p->mine_negatives) * sizeof *neg);
        if (!neg) {
            free(hits);
            st = onc_error_set(err, ONC_ERR_NOMEM, "mining: out of memory");
            break;
        }
        e->negatives = neg;
        int32_t added = 0;
        for (size_t h = 0; h < nh && added < p->mine_negatives && st == ONC_OK; h++) {
            size_t tl = 0;
            char *text = onc_store_chunk_text(s, hits[h].chunk, &tl, err);
            if (!text) {
                st = err ? err->code : ONC_ERR_IO;
                break;
            }
            int32_t *ids = NULL;
            size_t n = 0;
            st = onc_tokenize(r->tokenizer, text, tl, &tp, &ids, &n, err);
            free(text);
            if (st != ONC_OK) break;
            if ((int64_t)n > p->max_len) {
                ids[p->max_len - 1] = ids[n - 1]; /* keep the closing [SEP] */
                n = (size_t)p->max_len;
            }
            if (same_seq(&e->positive, ids, (int32_t)n)) {
                free(ids);
                continue;
            }
            e->negatives[e->n_negatives + added++] = (onc_token_seq){ids, (int32_t)n};
        }
        e->n_negatives += added;
        r->n_mined += added;
        free(hits);
    }
    onc_store_close(s);
    return st;
}
