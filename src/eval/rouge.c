/* rouge.c — rouge-score 0.1.2's tokenizer, ROUGE-1/2/L/Lsum, their means
 * and length statistics (see oncolm/rouge.h for the definitions matched).
 * Written from rouge-score's published algorithm; no code copied. The
 * Porter stemmer is in porter.c.
 *
 * Tokens are interned to integer ids once per call (ir_strtab), so n-gram
 * counting sorts integers and the LCS tables compare integers. ROUGE-L
 * keeps one row of its table (its length is all it needs); ROUGE-Lsum
 * must backtrack through each target-line x prediction-line table, and
 * stores one bit per cell for that: whether the left neighbour is larger
 * than the upper one, the only comparison the backtracking makes. */
#include "oncolm/rouge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "oncolm/stats.h"

// --- tokenizer -------------------------------------------------------------------------

/* One pass of the tokenizer over text[0..len). With block == NULL it only
 * counts the tokens; otherwise it writes each token, NUL-terminated, into
 * block (len + 1 bytes are always enough: every token character comes from
 * a distinct input byte and every NUL from the separator byte or the end of
 * the text that closes it) and records its start and line. Returns the
 * number of tokens. Stemming is done afterwards, in place. */
static size_t scan_tokens(const unsigned char *text, size_t len, char *block, char **tokens, int64_t *lines) {
    size_t n_tokens = 0, pos = 0, start = 0;
    bool in_token = false;
    int64_t line = 0;
    size_t i = 0;
    while (i < len) {
        const unsigned char b = text[i];
        char letter = 0;    /* ASCII letter or digit this input contributes */
        bool ends = false;  /* the input also closes the token (U+0130 lowers to "i" + U+0307) */
        size_t used = 1;
        if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9')) {
            letter = (char)b;
        } else if (b >= 'A' && b <= 'Z') {
            letter = (char)(b - 'A' + 'a');
        } else if (b == 0xC4 && i + 1 < len && text[i + 1] == 0xB0) { /* U+0130 */
            letter = 'i';
            ends = true;
            used = 2;
        } else if (b == 0xE2 && i + 2 < len && text[i + 1] == 0x84 && text[i + 2] == 0xAA) { /* U+212A */
            letter = 'k';
            used = 3;
        }
        if (letter) {
            if (!in_token) {
                in_token = true;
                start = pos;
            }
            if (block) block[pos] = letter;
            pos++;
        }
        if (!letter || ends) {
            if (in_token) {
                if (block) {
                    block[pos] = '\0';
                    tokens[n_tokens] = block + start;
                    lines[n_tokens] = line;
                }
                pos++;
                n_tokens++;
                in_token = false;
            }
            if (b == '\n') line++;
        }
        i += used;
    }
    if (in_token) {
        if (block) {
            block[pos] = '\0';
            tokens[n_tokens] = block + start;
            lines[n_tokens] = line;
        }
        pos++;
        n_tokens++;
    }
    ONC_ASSERT(pos <= len + 1);
    return n_tokens;
}

onc_status onc_rouge_tokenize(const char *text, size_t len, bool use_stemmer, onc_rouge_tokens *out,
                              onc_error *err) {
    if (!out) return onc_error_set(err, ONC_ERR_INVALID, "rouge tokenize: no output");
    memset(out, 0, sizeof *out);
    if (!text && len > 0) return onc_error_set(err, ONC_ERR_INVALID, "rouge tokenize: NULL text of %zu bytes", len);
    if (len == 0) return ONC_OK;
    const unsigned char *t = (const unsigned char *)text;
    const size_t n = scan_tokens(t, len, NULL, NULL, NULL);
    char *block = malloc(len + 1);
    char **tokens = malloc((n > 0 ? n : 1) * sizeof *tokens);
    int64_t *lines = malloc((n > 0 ? n : 1) * sizeof *lines);
    if (!block || !tokens || !lines) {
        free(block);
        free(tokens);
        free(lines);
        return onc_error_set(err, ONC_ERR_NOMEM, "rouge tokenize: out of memory for %zu bytes of text", len);
    }
    scan_tokens(t, len, block, tokens, lines);
    if (use_stemmer)
        for (size_t k = 0; k < n; k++) {
            const size_t wl = strlen(tokens[k]);
            if (wl > 3) onc_porter_stem(tokens[k], wl, tokens[k]); /* stems are never empty */
        }
    out->tokens = tokens;
    out->lines = lines;
    out->n = n;
    out->block_ = block;
    return ONC_OK;
}

void onc_rouge_tokens_free(onc_rouge_tokens *t) {
    if (!t) return;
    free(t->tokens);
    free(t->lines);
    free(t->block_);
    memset(t, 0, sizeof *t);
}

int64_t onc_rouge_count_tokens(const char *text, size_t len) {
    if (!text) return 0;
    return (int64_t)scan_tokens((const unsigned char *)text, len, NULL, NULL, NULL);
}

// --- scoring helpers -----------------------------------------------------------------

static double fmeasure(double p, double r) { return p + r > 0 ? 2.0 * p * r / (p + r) : 0.0; }

static onc_rouge_prf make_prf(double p, double r) {
    const onc_rouge_prf s = {p, r, fmeasure(p, r)};
    return s;
}

static int cmp_u64(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* n-gram keys (n = 1: the id; n = 2: first id << 32 | second id) of
 * ids[0..len), sorted, into keys; returns how many. */
static size_t ngram_keys(const uint32_t *ids, size_t len, int n, uint64_t *keys) {
    if (len < (size_t)n) return 0;
    const size_t count = len - (size_t)n + 1;
    for (size_t i = 0; i < count; i++) keys[i] = n == 1 ? ids[i] : ((uint64_t)ids[i] << 32) | ids[i + 1];
    qsort(keys, count, sizeof *keys, cmp_u64);
    return count;
}

/* Size of the intersection of two sorted multisets (sum of min counts). */
static int64_t sorted_overlap(const uint64_t *a, size_t na, const uint64_t *b, size_t nb) {
    int64_t common = 0;
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else {
            common++;
            i++;
            j++;
        }
    }
    return common;
}

/* rouge-score's _score_ngrams: P = overlap / max(#prediction n-grams, 1),
 * R = overlap / max(#target n-grams, 1). scratch holds nt + np keys. */
static onc_rouge_prf score_ngrams(const uint32_t *t, size_t nt, const uint32_t *p, size_t np, int n,
                                  uint64_t *scratch) {
    uint64_t *kt = scratch, *kp = scratch + nt;
    const size_t ct = ngram_keys(t, nt, n, kt), cp = ngram_keys(p, np, n, kp);
    const int64_t overlap = sorted_overlap(kt, ct, kp, cp);
    return make_prf((double)overlap / (double)(cp > 0 ? cp : 1), (double)overlap / (double)(ct > 0 ? ct : 1));
}

/* Length of the longest common subsequence of a[0..na) and b[0..nb), in
 * one row of nb + 1 counters (row must hold them). */
static size_t lcs_length(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *row) {
    memset(row, 0, (nb + 1) * sizeof *row);
    for (size_t i = 1; i <= na; i++) {
        uint32_t diag = 0; /* table[i-1][j-1] */
        for (size_t j = 1; j <= nb; j++) {
            const uint32_t up = row[j];
            if (a[i - 1] == b[j - 1])
                row[j] = diag + 1;
            else if (row[j - 1] > up)
                row[j] = row[j - 1];
            diag = up;
        }
    }
    return row[nb];
}

/* rouge-score's lcs_ind(r, c) folded into a union: marks in mark[] every
 * index of r on the LCS path that _backtrack_norec finds (from the bottom
 * right; on a match go diagonally, else left when table[i][j-1] >
 * table[i-1][j], else up). bits holds lr x ceil(lc/64) words (one bit per
 * cell: left > up), row lc + 1 counters. */
static void mark_lcs(const uint32_t *r, size_t lr, const uint32_t *c, size_t lc, uint64_t *bits, uint32_t *row,
                     bool *mark) {
    const size_t stride = (lc + 63) / 64;
    memset(row, 0, (lc + 1) * sizeof *row);
    memset(bits, 0, lr * stride * sizeof *bits);
    for (size_t i = 1; i <= lr; i++) {
        uint64_t *brow = bits + (i - 1) * stride;
        uint32_t diag = 0;
        for (size_t j = 1; j <= lc; j++) {
            const uint32_t up = row[j], left = row[j - 1];
            if (r[i - 1] == c[j - 1]) {
                row[j] = diag + 1;
            } else if (left > up) {
                row[j] = left;
                brow[(j - 1) / 64] |= (uint64_t)1 << ((j - 1) % 64);
            }
            diag = up;
        }
    }
    size_t i = lr, j = lc;
    while (i > 0 && j > 0) {
        if (r[i - 1] == c[j - 1]) {
            mark[i - 1] = true;
            i--;
            j--;
        } else if (bits[(i - 1) * stride + (j - 1) / 64] >> ((j - 1) % 64) & 1) {
            j--;
        } else {
            i--;
        }
    }
}

/* Token ranges of the lines that hold tokens: line k is ids[start[k] ..
 * start[k+1]). Lines without tokens add nothing to ROUGE-Lsum (their LCS
 * with anything is empty), so they are left out. start needs n + 1 slots;
 * returns the number of lines. */
static size_t line_ranges(const int64_t *lines, size_t n, size_t *start) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || lines[i] != lines[i - 1]) start[k++] = i;
    start[k] = n;
    return k;
}

typedef struct lsum_scratch {
    uint64_t *bits;
    size_t bits_cap; /* words */
    uint32_t *row;   /* longest prediction line + 1 */
    bool *mark;      /* longest target line */
    int64_t *count_t, *count_p; /* per token id */
    size_t *start_t, *start_p;
} lsum_scratch;

/* rouge-score's _summary_level_lcs over the lines of target and prediction.
 * hits counts, for each target line, the tokens of its union LCS with all
 * prediction lines, each hit consuming one occurrence of the token in both
 * texts' counts. */
static onc_status score_lsum(const uint32_t *t, const int64_t *t_lines, size_t nt, const uint32_t *p,
                             const int64_t *p_lines, size_t np, size_t vocab, onc_rouge_prf *out,
                             onc_error *err) {
    const onc_rouge_prf zero = {0, 0, 0};
    *out = zero;
    if (nt == 0 || np == 0) return ONC_OK;
    onc_status st = ONC_OK;
    lsum_scratch s = {0};
    s.start_t = malloc((nt + 1) * sizeof *s.start_t);
    s.start_p = malloc((np + 1) * sizeof *s.start_p);
    s.count_t = calloc(vocab, sizeof *s.count_t);
    s.count_p = calloc(vocab, sizeof *s.count_p);
    if (!s.start_t || !s.start_p || !s.count_t || !s.count_p) goto nomem;
    const size_t lines_t = line_ranges(t_lines, nt, s.start_t), lines_p = line_ranges(p_lines, np, s.start_p);
    size_t longest_t = 0, longest_p = 0;
    for (size_t k = 0; k < lines_t; k++)
        if (s.start_t[k + 1] - s.start_t[k] > longest_t) longest_t = s.start_t[k + 1] - s.start_t[k];
    for (size_t k = 0; k < lines_p; k++)
        if (s.start_p[k + 1] - s.start_p[k] > longest_p) longest_p = s.start_p[k + 1] - s.start_p[k];
    s.row = malloc((longest_p + 1) * sizeof *s.row);
    s.mark = malloc(longest_t * sizeof *s.mark);
    if (!s.row || !s.mark) goto nomem;
    for (size_t i = 0; i < nt; i++) s.count_t[t[i]]++;
    for (size_t i = 0; i < np; i++) s.count_p[p[i]]++;

    int64_t hits = 0;
    for (size_t a = 0; a < lines_t; a++) {
        const uint32_t *r = t + s.start_t[a];
        const size_t lr = s.start_t[a + 1] - s.start_t[a];
        memset(s.mark, 0, lr * sizeof *s.mark);
        for (size_t b = 0; b < lines_p; b++) {
            const uint32_t *c = p + s.start_p[b];
            const size_t lc = s.start_p[b + 1] - s.start_p[b];
            ONC_ASSERT((uint64_t)lr * (uint64_t)lc <= ONC_ROUGE_MAX_LSUM_CELLS); /* checked by the caller */
            const size_t words = lr * ((lc + 63) / 64);
            if (words > s.bits_cap) {
                free(s.bits);
                s.bits = malloc(words * sizeof *s.bits);
                s.bits_cap = s.bits ? words : 0;
                if (!s.bits) goto nomem;
            }
            mark_lcs(r, lr, c, lc, s.bits, s.row, s.mark);
        }
        for (size_t i = 0; i < lr; i++) {
            if (!s.mark[i]) continue;
            const uint32_t tok = r[i];
            if (s.count_p[tok] > 0 && s.count_t[tok] > 0) {
                hits++;
                s.count_p[tok]--;
                s.count_t[tok]--;
            }
        }
    }
    *out = make_prf((double)hits / (double)np, (double)hits / (double)nt);
    goto done;
nomem:
    st = onc_error_set(err, ONC_ERR_NOMEM, "rougeLsum: out of memory");
done:
    free(s.bits);
    free(s.row);
    free(s.mark);
    free(s.count_t);
    free(s.count_p);
    free(s.start_t);
    free(s.start_p);
    return st;
}

/* Most tokens on one line of a token list. */
static size_t longest_line(const onc_rouge_tokens *tk) {
    size_t best = 0, run = 0;
    for (size_t i = 0; i < tk->n; i++) {
        run = (i > 0 && tk->lines[i] == tk->lines[i - 1]) ? run + 1 : 1;
        if (run > best) best = run;
    }
    return best;
}

/* Interned ids of a token list (tab keeps pointers into the tokens). */
static onc_status intern_tokens(const onc_rouge_tokens *tk, ir_strtab *tab, uint32_t *ids, onc_error *err) {
    for (size_t i = 0; i < tk->n; i++) {
        const int64_t id = ir_strtab_intern(tab, tk->tokens[i], NULL);
        if (id < 0) return onc_error_set(err, ONC_ERR_NOMEM, "rouge: out of memory interning tokens");
        ids[i] = (uint32_t)id;
    }
    return ONC_OK;
}

// --- public scoring ----------------------------------------------------------------------

onc_status onc_rouge_score(const char *target, size_t target_len, const char *prediction,
                           size_t prediction_len, bool use_stemmer, onc_rouge_scores *out, onc_error *err) {
    if (!out) return onc_error_set(err, ONC_ERR_INVALID, "rouge: no output");
    memset(out, 0, sizeof *out);
    if ((!target && target_len > 0) || (!prediction && prediction_len > 0))
        return onc_error_set(err, ONC_ERR_INVALID, "rouge: NULL %s text with a length",
                             !target && target_len > 0 ? "target" : "prediction");
    onc_rouge_tokens tt = {0}, tp = {0};
    ir_strtab tab = {0};
    uint32_t *ids = NULL, *row = NULL;
    uint64_t *keys = NULL;
    onc_status st = onc_rouge_tokenize(target, target_len, use_stemmer, &tt, err);
    if (st == ONC_OK) st = onc_rouge_tokenize(prediction, prediction_len, use_stemmer, &tp, err);
    if (st != ONC_OK) goto done;
    const size_t nt = tt.n, np = tp.n;
    if (nt > INT32_MAX || np > INT32_MAX) {
        st = onc_error_set(err, ONC_ERR_INVALID, "rouge: more than %d tokens in one text", INT32_MAX);
        goto done;
    }
    /* the largest ROUGE-Lsum table pairs the longest line of each text:
     * refuse it before any work */
    const size_t lt = longest_line(&tt), lp = longest_line(&tp);
    if ((uint64_t)lt * (uint64_t)lp > ONC_ROUGE_MAX_LSUM_CELLS) {
        st = onc_error_set(err, ONC_ERR_INVALID,
                           "rougeLsum: a target line of %zu tokens against a prediction line of %zu tokens "
                           "needs more than %llu table cells; split the texts into lines",
                           lt, lp, (unsigned long long)ONC_ROUGE_MAX_LSUM_CELLS);
        goto done;
    }
    ids = malloc((nt + np + 1) * sizeof *ids);
    keys = malloc((nt + np + 1) * sizeof *keys);
    row = malloc(((nt < np ? nt : np) + 1) * sizeof *row);
    if (!ids || !keys || !row) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "rouge: out of memory for %zu + %zu tokens", nt, np);
        goto done;
    }
    uint32_t *idt = ids, *idp = ids + nt;
    st = intern_tokens(&tt, &tab, idt, err);
    if (st == ONC_OK) st = intern_tokens(&tp, &tab, idp, err);
    if (st != ONC_OK) goto done;

    out->target_tokens = (int64_t)nt;
    out->prediction_tokens = (int64_t)np;
    out->rouge1 = score_ngrams(idt, nt, idp, np, 1, keys);
    out->rouge2 = score_ngrams(idt, nt, idp, np, 2, keys);
    if (nt > 0 && np > 0) {
        /* the LCS length is symmetric: keep the row over the shorter list */
        const size_t lcs = nt <= np ? lcs_length(idp, np, idt, nt, row) : lcs_length(idt, nt, idp, np, row);
        out->rougeL = make_prf((double)lcs / (double)np, (double)lcs / (double)nt);
    }
    st = score_lsum(idt, tt.lines, nt, idp, tp.lines, np, (size_t)tab.n, &out->rougeLsum, err);
done:
    if (st != ONC_OK) memset(out, 0, sizeof *out);
    ir_strtab_free(&tab);
    free(ids);
    free(keys);
    free(row);
    onc_rouge_tokens_free(&tt);
    onc_rouge_tokens_free(&tp);
    return st;
}

static void add_prf(onc_rouge_prf *sum, const onc_rouge_prf *x) {
    sum->precision += x->precision;
    sum->recall += x->recall;
    sum->fmeasure += x->fmeasure;
}

static void div_prf(onc_rouge_prf *s, double n) {
    s->precision /= n;
    s->recall /= n;
    s->fmeasure /= n;
}

void onc_rouge_mean(const onc_rouge_scores *items, size_t n, onc_rouge_scores *out) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        add_prf(&out->rouge1, &items[i].rouge1);
        add_prf(&out->rouge2, &items[i].rouge2);
        add_prf(&out->rougeL, &items[i].rougeL);
        add_prf(&out->rougeLsum, &items[i].rougeLsum);
        out->target_tokens += items[i].target_tokens;
        out->prediction_tokens += items[i].prediction_tokens;
    }
    const double d = n > 0 ? (double)n : NAN;
    div_prf(&out->rouge1, d);
    div_prf(&out->rouge2, d);
    div_prf(&out->rougeL, d);
    div_prf(&out->rougeLsum, d);
}

// --- length statistics -------------------------------------------------------------------

double onc_rouge_length_ratio(const onc_rouge_scores *item) {
    if (item->target_tokens <= 0) return NAN;
    return (double)item->prediction_tokens / (double)item->target_tokens;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

onc_status onc_rouge_length_stats(const onc_rouge_scores *items, size_t n, onc_rouge_lengths *out,
                                  onc_error *err) {
    if (!out) return onc_error_set(err, ONC_ERR_INVALID, "rouge lengths: no output");
    memset(out, 0, sizeof *out);
    out->prediction_mean = out->prediction_median = out->target_mean = out->target_median = NAN;
    out->ratio_mean = out->ratio_of_totals = NAN;
    if (n == 0) return ONC_OK;
    if (!items) return onc_error_set(err, ONC_ERR_INVALID, "rouge lengths: NULL items with n = %zu", n);
    double *pred = malloc(n * sizeof *pred), *targ = malloc(n * sizeof *targ);
    if (!pred || !targ) {
        free(pred);
        free(targ);
        return onc_error_set(err, ONC_ERR_NOMEM, "rouge lengths: out of memory for %zu items", n);
    }
    int64_t total_p = 0, total_t = 0;
    double ratio_sum = 0;
    out->n_items = (int64_t)n;
    out->prediction_min = out->prediction_max = items[0].prediction_tokens;
    out->target_min = out->target_max = items[0].target_tokens;
    for (size_t i = 0; i < n; i++) {
        const int64_t lp = items[i].prediction_tokens, lt = items[i].target_tokens;
        pred[i] = (double)lp;
        targ[i] = (double)lt;
        total_p += lp;
        total_t += lt;
        if (lp < out->prediction_min) out->prediction_min = lp;
        if (lp > out->prediction_max) out->prediction_max = lp;
        if (lt < out->target_min) out->target_min = lt;
        if (lt > out->target_max) out->target_max = lt;
        if (lt > 0) {
            ratio_sum += onc_rouge_length_ratio(&items[i]);
            out->n_ratio++;
        }
    }
    out->prediction_mean = onc_mean(pred, n);
    out->target_mean = onc_mean(targ, n);
    qsort(pred, n, sizeof *pred, cmp_double);
    qsort(targ, n, sizeof *targ, cmp_double);
    out->prediction_median = onc_quantile_linear(pred, n, 0.5);
    out->target_median = onc_quantile_linear(targ, n, 0.5);
    if (out->n_ratio > 0) out->ratio_mean = ratio_sum / (double)out->n_ratio;
    if (total_t > 0) out->ratio_of_totals = (double)total_p / (double)total_t;
    free(pred);
    free(targ);
    return ONC_OK;
}
