/* report.c — the document model behind oncolm/report.h: adding blocks
 * (copies of every string and number, text made valid UTF-8), the binning
 * and summaries of histograms and paired differences, number formatting and
 * axis ticks shared by the renderers, and the output functions (atomic file
 * writes, streams, strings).
 *
 * All memory of a report comes from one arena (a list of chunks) freed at
 * once by onc_report_free, so a block that runs out of memory half way is
 * simply never linked into the document. The first failure is recorded in
 * the report and returned by every write function. Rendering itself lives
 * in report_markdown.c, report_html.c and report_svg.c; line charts are
 * added in report_lines.c. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oncolm/fileio.h"
#include "oncolm/utf8.h"
#include "report/report_internal.h"

// --- arena ---------------------------------------------------------------------------------------

#define REP_ALIGN 16
#define REP_CHUNK_MIN (64 * 1024)

struct rep_arena_chunk {
    rep_arena_chunk *next;
    size_t used, cap; /* bytes of data[] */
    _Alignas(REP_ALIGN) unsigned char data[];
};

/* Record the first build error of r (later ones are dropped: the first
 * names the cause). */
static void rep_fail(onc_report *r, onc_status code, const char *fmt, ...) {
    if (r->status != ONC_OK) return;
    r->status = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->status_msg, sizeof r->status_msg, fmt, ap);
    va_end(ap);
}

/* Consult the fault-injection counter: false when this allocation must fail. */
static bool rep_may_allocate(onc_report *r) {
    if (r->fail_after < 0) return true;
    if (r->fail_after == 0) return false;
    r->fail_after--;
    return true;
}

/* n bytes (aligned to REP_ALIGN, uninitialised) from the arena of r; NULL
 * with the report's error set when memory runs out or r already failed. */
static void *rep_alloc(onc_report *r, size_t n) {
    if (r->status != ONC_OK) return NULL;
    if (n == 0) n = 1;
    if (n > SIZE_MAX / 2) {
        rep_fail(r, ONC_ERR_NOMEM, "out of memory (a block of %zu bytes)", n);
        return NULL;
    }
    n = (n + REP_ALIGN - 1) & ~(size_t)(REP_ALIGN - 1);
    rep_arena_chunk *c = r->arena;
    if (!c || c->cap - c->used < n) {
        const size_t cap = n > REP_CHUNK_MIN ? n : REP_CHUNK_MIN;
        c = rep_may_allocate(r) ? malloc(sizeof *c + cap) : NULL;
        if (!c) {
            rep_fail(r, ONC_ERR_NOMEM, "out of memory (a block of %zu bytes)", n);
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        /* keep the chunk with more room in front: a big one-off block must
         * not strand the free space of the current chunk */
        if (r->arena && r->arena->cap - r->arena->used > cap - n) {
            c->next = r->arena->next;
            r->arena->next = c;
        } else {
            c->next = r->arena;
            r->arena = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* count * size bytes, zeroed; NULL (error recorded) on overflow. */
void *rep_calloc(onc_report *r, size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / 2 / size) {
        rep_fail(r, ONC_ERR_NOMEM, "out of memory (%zu items of %zu bytes)", count, size);
        return NULL;
    }
    void *p = rep_alloc(r, count * size);
    const size_t bytes = count * size;
    if (p) memset(p, 0, bytes > 0 ? bytes : 1);
    return p;
}

/* Copy of v[0..n) in the arena (NULL when n == 0 or out of memory). */
double *rep_copy_doubles(onc_report *r, const double *v, size_t n) {
    if (n == 0) return NULL;
    double *p = rep_calloc(r, n, sizeof *p);
    if (p) memcpy(p, v, n * sizeof *p);
    return p;
}

/* Scratch memory outside the arena (malloc, caller frees), under the same
 * fault injection and error recording. */
static void *rep_scratch(onc_report *r, size_t count, size_t size) {
    if (r->status != ONC_OK) return NULL;
    if (size != 0 && count > SIZE_MAX / 2 / size) {
        rep_fail(r, ONC_ERR_NOMEM, "out of memory (%zu items of %zu bytes)", count, size);
        return NULL;
    }
    const size_t bytes = count * size > 0 ? count * size : 1;
    void *p = rep_may_allocate(r) ? malloc(bytes) : NULL;
    if (!p) rep_fail(r, ONC_ERR_NOMEM, "out of memory (%zu bytes of scratch)", bytes);
    return p;
}

void rep_fail_allocations_after(onc_report *r, long n) {
    if (r) r->fail_after = n < 0 ? -1 : n;
}

// --- text ------------------------------------------------------------------------------------------

static const char rep_replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Sanitise s into out (when non-NULL) and return the byte length: CR LF
 * and lone CR become LF; invalid UTF-8 bytes, C0 controls other than LF
 * and TAB, DEL and the C1 controls U+0080..U+009F become U+FFFD; with
 * one_line, LF and TAB become spaces. */
static size_t rep_sanitise(const char *s, char *out, bool one_line) {
    const unsigned char *u = (const unsigned char *)s;
    const size_t n = strlen(s);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char c = u[i];
        if (c == '\r' || c == '\n' || c == '\t') {
            const char rep = one_line ? ' ' : (c == '\t' ? '\t' : '\n');
            if (out) out[o] = rep;
            o++;
            i += (c == '\r' && i + 1 < n && u[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        size_t len = onc_utf8_seq_len(u + i, n - i);
        const bool control = c < 0x20 || c == 0x7f || (len == 2 && c == 0xC2 && u[i + 1] < 0xA0);
        if (len == 0 || control) {
            if (out) memcpy(out + o, rep_replacement, 3);
            o += 3;
            i += len ? len : 1;
            continue;
        }
        if (out) memcpy(out + o, u + i, len);
        o += len;
        i += len;
    }
    return o;
}

/* Sanitised arena copy of s (or of fallback when s is NULL); NULL when both
 * are NULL or out of memory (then r->status says so). */
char *rep_text(onc_report *r, const char *s, const char *fallback, bool one_line) {
    if (!s) s = fallback;
    if (!s) return NULL;
    const size_t n = rep_sanitise(s, NULL, one_line);
    char *p = rep_alloc(r, n + 1);
    if (!p) return NULL;
    rep_sanitise(s, p, one_line);
    p[n] = '\0';
    return p;
}

/* Arena copies of n labels (single-line; NULL entries become ""). */
static char **rep_labels(onc_report *r, const char *const *labels, size_t n) {
    if (n == 0) return NULL;
    ONC_ASSERT(labels);
    char **out = rep_calloc(r, n, sizeof *out);
    for (size_t i = 0; out && i < n; i++) out[i] = rep_text(r, labels[i], "", true);
    return r->status == ONC_OK ? out : NULL;
}

size_t rep_utf8_len(const char *s) {
    size_t n = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) n += (*u & 0xC0) != 0x80;
    return n;
}

const char *rep_utf8_trunc(char *out, size_t cap, const char *s, size_t max_cp) {
    ONC_ASSERT(cap >= 8);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, cp = 0; /* i: end of the first max_cp code points */
    for (; u[i]; i++) {
        if ((u[i] & 0xC0) == 0x80) continue;
        if (cp == max_cp) break;
        cp++;
    }
    if (!u[i] && i < cap) {
        memcpy(out, s, i + 1);
        return out;
    }
    /* drop code points from the end until the ellipsis fits (at least one
     * when the string was longer than max_cp) */
    size_t end = i;
    do {
        if (end == 0) break;
        end--;
        while (end > 0 && (u[end] & 0xC0) == 0x80) end--;
    } while (end + 4 > cap);
    memcpy(out, s, end);
    memcpy(out + end, "\xE2\x80\xA6", 4); /* U+2026 and the NUL */
    return out;
}

// --- document ----------------------------------------------------------------------------------------

onc_report *onc_report_new(const char *title) {
    onc_report *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->fail_after = -1;
    r->title = rep_text(r, title, "Report", true);
    if (!r->title) {
        onc_report_free(r);
        return NULL;
    }
    return r;
}

void onc_report_free(onc_report *r) {
    if (!r) return;
    for (rep_arena_chunk *c = r->arena, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(r);
}

/* items (an arena array of *cap items of item_size, n used) with room for
 * one more: the same pointer, or a copy twice the size (*cap updated);
 * NULL when out of memory. */
static void *rep_grow(onc_report *r, void *items, size_t *cap, size_t n, size_t item_size) {
    if (n < *cap) return items;
    const size_t new_cap = *cap ? *cap * 2 : 8;
    void *p = rep_calloc(r, new_cap, item_size);
    if (!p) return NULL;
    if (n) memcpy(p, items, n * item_size);
    *cap = new_cap;
    return p;
}

/* A new block at the end of the document; NULL when out of memory. */
rep_block *rep_push(onc_report *r, rep_kind kind) {
    if (r->status != ONC_OK) return NULL;
    rep_block *blocks = rep_grow(r, r->blocks, &r->cap_blocks, r->n_blocks, sizeof *blocks);
    if (!blocks) return NULL;
    r->blocks = blocks;
    rep_block *b = &r->blocks[r->n_blocks++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    if (kind == REP_TABLE) b->number = ++r->n_tables;
    if (kind >= REP_HEATMAP) b->number = ++r->n_figures;
    return b;
}

void onc_report_add_meta(onc_report *r, const char *key, const char *value) {
    if (!r || r->status != ONC_OK) return;
    ONC_ASSERT(key);
    char *k = rep_text(r, key, NULL, true), *v = rep_text(r, value, "", true);
    if (r->status != ONC_OK) return;
    rep_meta *meta = rep_grow(r, r->meta, &r->cap_meta, r->n_meta, sizeof *meta);
    if (!meta) return;
    r->meta = meta;
    r->meta[r->n_meta++] = (rep_meta){k, v};
}

void onc_report_add_heading(onc_report *r, int level, const char *text) {
    ONC_ASSERT(level >= 2 && level <= 4);
    if (!r || r->status != ONC_OK) return;
    char *t = rep_text(r, text, "", true);
    if (!t) return;
    rep_block *b = rep_push(r, REP_HEADING);
    if (!b) return;
    b->level = level;
    b->text = t;
}

void onc_report_add_paragraph(onc_report *r, const char *text) {
    if (!r || r->status != ONC_OK) return;
    char *t = rep_text(r, text, "", false);
    if (!t) return;
    rep_block *b = rep_push(r, REP_PARAGRAPH);
    if (b) b->text = t;
}

// --- tables ------------------------------------------------------------------------------------------------

onc_report_table *onc_report_table_begin(onc_report *r, const char *caption, size_t n_cols,
                                         const char *const *headers, const char *align) {
    ONC_ASSERT(n_cols >= 1 && headers);
    if (align) {
        ONC_ASSERT(strlen(align) == n_cols);
        for (size_t j = 0; j < n_cols; j++) ONC_ASSERT(align[j] == 'l' || align[j] == 'r' || align[j] == 'c');
    }
    if (!r || r->status != ONC_OK) return NULL;
    onc_report_table *t = rep_calloc(r, 1, sizeof *t);
    if (!t) return NULL;
    t->owner = r;
    t->n_cols = n_cols;
    t->caption = rep_text(r, caption, NULL, true);
    t->headers = rep_labels(r, headers, n_cols);
    t->align = rep_alloc(r, n_cols);
    if (r->status != ONC_OK) return NULL;
    for (size_t j = 0; j < n_cols; j++) t->align[j] = align ? align[j] : 'l';
    rep_block *b = rep_push(r, REP_TABLE);
    if (!b) return NULL;
    b->u.table = t;
    t->open = true;
    return t;
}

static void rep_table_add_row(onc_report_table *t, const char *const *cells, bool emph) {
    if (!t) return;
    ONC_ASSERT(t->open && cells);
    onc_report *r = t->owner;
    if (r->status != ONC_OK) return;
    if (t->n_rows == t->cap_rows) {
        const size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
        char **c = rep_calloc(r, cap, t->n_cols * sizeof *c); /* cap * n_cols pointers */
        bool *e = rep_calloc(r, cap, sizeof *e);
        if (!c || !e) return;
        if (t->n_rows) {
            memcpy(c, t->cells, t->n_rows * t->n_cols * sizeof *c);
            memcpy(e, t->emph, t->n_rows * sizeof *e);
        }
        t->cells = c;
        t->emph = e;
        t->cap_rows = cap;
    }
    char **row = t->cells + t->n_rows * t->n_cols;
    for (size_t j = 0; j < t->n_cols; j++) row[j] = rep_text(r, cells[j], "", false);
    if (r->status != ONC_OK) return;
    t->emph[t->n_rows++] = emph;
}

void onc_report_table_row(onc_report_table *t, const char *const *cells) { rep_table_add_row(t, cells, false); }
void onc_report_table_row_emph(onc_report_table *t, const char *const *cells) { rep_table_add_row(t, cells, true); }

void onc_report_table_end(onc_report_table *t) {
    if (!t) return;
    ONC_ASSERT(t->open);
    t->open = false;
}

// --- heat map and bars --------------------------------------------------------------------------------------

/* n_rows * n_cols without overflow; false (error recorded) when too large. */
static bool rep_cells(onc_report *r, size_t a, size_t b, size_t *out) {
    if (b != 0 && a > SIZE_MAX / 16 / b) {
        rep_fail(r, ONC_ERR_NOMEM, "out of memory (a chart of %zu x %zu values)", a, b);
        return false;
    }
    *out = a * b;
    return true;
}

void onc_report_add_heatmap(onc_report *r, const onc_report_heatmap *h) {
    ONC_ASSERT(h);
    if (!r || r->status != ONC_OK) return;
    size_t n;
    if (!rep_cells(r, h->n_rows, h->n_cols, &n)) return;
    ONC_ASSERT(n == 0 || h->counts);
    rep_heatmap *m = rep_calloc(r, 1, sizeof *m);
    if (!m) return;
    m->caption = rep_text(r, h->caption, "Confusion matrix", true);
    m->row_title = rep_text(r, h->row_title, "gold", true);
    m->col_title = rep_text(r, h->col_title, "predicted", true);
    m->n_rows = h->n_rows;
    m->n_cols = h->n_cols;
    m->row_labels = rep_labels(r, h->row_labels, h->n_rows);
    m->col_labels = rep_labels(r, h->col_labels, h->n_cols);
    m->counts = rep_copy_doubles(r, h->counts, n);
    m->row_totals = h->n_rows ? rep_calloc(r, h->n_rows, sizeof(double)) : NULL;
    if (r->status != ONC_OK) return;
    for (size_t i = 0; i < m->n_rows; i++)
        for (size_t j = 0; j < m->n_cols; j++) {
            const double v = m->counts[i * m->n_cols + j];
            if (isfinite(v)) m->row_totals[i] += v;
        }
    rep_block *b = rep_push(r, REP_HEATMAP);
    if (b) b->u.heatmap = m;
}

void onc_report_add_bars(onc_report *r, const onc_report_bars *c) {
    ONC_ASSERT(c);
    ONC_ASSERT((c->lo == NULL) == (c->hi == NULL));
    if (!r || r->status != ONC_OK) return;
    size_t n;
    if (!rep_cells(r, c->n_categories, c->n_series, &n)) return;
    ONC_ASSERT(n == 0 || c->values);
    rep_bars *m = rep_calloc(r, 1, sizeof *m);
    if (!m) return;
    m->caption = rep_text(r, c->caption, NULL, true);
    m->x_title = rep_text(r, c->x_title, NULL, true);
    m->y_title = rep_text(r, c->y_title, NULL, true);
    m->interval_label = rep_text(r, c->interval_label, "interval", true);
    m->n_categories = c->n_categories;
    m->n_series = c->n_series;
    m->categories = rep_labels(r, c->categories, c->n_categories);
    m->series = rep_labels(r, c->series, c->n_series);
    m->values = rep_copy_doubles(r, c->values, n);
    if (c->lo && n) {
        m->lo = rep_copy_doubles(r, c->lo, n);
        m->hi = rep_copy_doubles(r, c->hi, n);
    }
    m->y_range = c->y_range;
    m->decimals = rep_resolve_decimals(c->decimals, c->values, n);
    if (r->status != ONC_OK) return;
    rep_block *b = rep_push(r, REP_BARS);
    if (b) b->u.bars = m;
}

// --- bins ------------------------------------------------------------------------------------------------------

/* Equal-width bins over the finite values of `n_sets` arrays pooled, as
 * numpy.histogram_bin_edges(pooled, bins=n_bins or "sturges", range) in
 * numpy 1.24 (report.h spells it out); fixed range when lo < hi (finite).
 * false when out of memory. */
static bool rep_make_bins(onc_report *r, const double *const *sets, const size_t *lens, size_t n_sets, double lo,
                          double hi, size_t n_bins, rep_bins *out) {
    const bool fixed = isfinite(lo) && isfinite(hi) && lo < hi;
    size_t kept = 0;
    double kmin = INFINITY, kmax = -INFINITY;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < lens[s]; i++) {
            const double v = sets[s][i];
            if (!isfinite(v) || (fixed && (v < lo || v > hi))) continue;
            kept++;
            if (v < kmin) kmin = v;
            if (v > kmax) kmax = v;
        }
    double first = fixed ? lo : (kept ? kmin : 0.0), last = fixed ? hi : (kept ? kmax : 1.0);
    if (first == last) {
        first -= 0.5;
        last += 0.5;
    }
    size_t nb = n_bins;
    if (nb == 0) {
        nb = 1;
        if (kept > 0) {
            const double width = (kmax - kmin) / (log2((double)kept) + 1.0);
            if (width != 0) {
                const double q = ceil((last - first) / width);
                nb = q >= ONC_REPORT_HIST_MAX_BINS ? ONC_REPORT_HIST_MAX_BINS : (size_t)q;
            }
        }
    }
    if (nb > ONC_REPORT_HIST_MAX_BINS) nb = ONC_REPORT_HIST_MAX_BINS;
    if (nb < 1) nb = 1;
    double *e = rep_calloc(r, nb + 1, sizeof *e);
    if (!e) return false;
    /* numpy.linspace: i * step + start, the last edge exactly stop */
    const double step = (last - first) / (double)nb;
    for (size_t i = 0; i < nb; i++) {
        const double offset = (double)i * step;
        e[i] = offset + first;
    }
    e[nb] = last;
    out->n_bins = nb;
    out->edges = e;
    return true;
}

/* Bin of v (first <= v <= last), as numpy.histogram's uniform-bin path:
 * index from (v - first) * norm, then corrected against the edges. */
static size_t rep_bin_index(const rep_bins *b, double v) {
    const size_t nb = b->n_bins;
    const double first = b->edges[0], last = b->edges[nb];
    const double norm = (double)nb / (last - first);
    size_t i = (size_t)((v - first) * norm);
    if (i >= nb) i = nb - 1;
    if (v < b->edges[i]) i--;
    else if (v >= b->edges[i + 1] && i != nb - 1) i++;
    return i;
}

/* Smallest number of decimals (0..10) that shows every edge to within 1% of
 * the bin width. */
static int rep_edge_decimals(const rep_bins *b) {
    const double w = (b->edges[b->n_bins] - b->edges[0]) / (double)b->n_bins;
    for (int d = 0; d < 10; d++) {
        const double scale = pow(10.0, d);
        bool ok = true;
        for (size_t i = 0; ok && i <= b->n_bins; i++)
            ok = fabs(b->edges[i] - round(b->edges[i] * scale) / scale) <= w / 100;
        if (ok) return d;
    }
    return 10;
}

/* q-quantile of an ascending array as numpy.quantile(method="linear")
 * (numpy 1.24, with its two-sided lerp); NaN when n == 0. The report keeps
 * its own copy so that it depends on util only (eval's stats.h has the
 * same rule as onc_quantile_linear). */
static double rep_quantile(const double *sorted, size_t n, double q) {
    if (n == 0) return NAN;
    const double vi = (double)(n - 1) * q, lo_f = floor(vi);
    const size_t lo = (size_t)lo_f, hi = lo + 1 < n ? lo + 1 : n - 1;
    const double g = vi - lo_f, a = sorted[lo], b = sorted[hi], diff = b - a;
    return g >= 0.5 ? b - diff * (1.0 - g) : a + diff * g;
}

static int rep_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Finite values of v[0..n) into a sorted malloc()ed array (*n_finite of
 * them); NULL (error recorded) when out of memory; a 1-element dummy when
 * there are none. */
static double *rep_sorted_finite(onc_report *r, const double *v, size_t n, size_t *n_finite) {
    double *s = rep_scratch(r, n ? n : 1, sizeof *s);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) s[k++] = v[i];
    qsort(s, k, sizeof *s, rep_cmp_double);
    *n_finite = k;
    return s;
}

// --- histogram ------------------------------------------------------------------------------------------------

void onc_report_add_histogram(onc_report *r, const onc_report_histogram *h) {
    ONC_ASSERT(h);
    ONC_ASSERT(h->n_series == 0 || (h->series && h->values && h->n_values));
    for (size_t s = 0; s < h->n_series; s++) ONC_ASSERT(h->n_values[s] == 0 || h->values[s]);
    if (!r || r->status != ONC_OK) return;
    rep_histogram *m = rep_calloc(r, 1, sizeof *m);
    if (!m) return;
    m->caption = rep_text(r, h->caption, NULL, true);
    m->x_title = rep_text(r, h->x_title, NULL, true);
    m->n_series = h->n_series;
    m->layout = h->layout;
    m->series = h->n_series ? rep_calloc(r, h->n_series, sizeof *m->series) : NULL;
    if (r->status != ONC_OK) return;
    if (!rep_make_bins(r, h->values, h->n_values, h->n_series, h->range_lo, h->range_hi, h->n_bins, &m->bins)) return;
    const rep_bins *bins = &m->bins;
    const double first = bins->edges[0], last = bins->edges[bins->n_bins];
    for (size_t s = 0; s < h->n_series; s++) {
        rep_hist_series *hs = &m->series[s];
        hs->name = rep_text(r, h->series[s], "", true);
        hs->counts = rep_calloc(r, bins->n_bins, sizeof *hs->counts);
        if (r->status != ONC_OK) return;
        hs->n = h->n_values[s];
        double sum = 0;
        for (size_t i = 0; i < hs->n; i++) {
            const double v = h->values[s][i];
            if (!isfinite(v)) {
                hs->n_na++;
                continue;
            }
            sum += v;
            if (v < first) hs->n_below++;
            else if (v > last) hs->n_above++;
            else {
                hs->counts[rep_bin_index(bins, v)]++;
                hs->n_counted++;
            }
        }
        size_t n_finite = 0;
        double *sorted = rep_sorted_finite(r, h->values[s], hs->n, &n_finite);
        if (!sorted) return;
        hs->mean = n_finite ? sum / (double)n_finite : NAN;
        hs->median = n_finite ? rep_quantile(sorted, n_finite, 0.5) : NAN;
        free(sorted);
    }
    m->edge_decimals = rep_edge_decimals(bins);
    rep_block *b = rep_push(r, REP_HISTOGRAM);
    if (b) b->u.histogram = m;
}

// --- paired differences -------------------------------------------------------------------------------------------

/* Bins for many paired differences: equal width w, the smaller of Sturges'
 * (ptp / (log2 n + 1)) and Freedman-Diaconis' (2 IQR / cbrt(n), when the
 * IQR is not 0) widths, numpy's "auto" rule; placed so that one bin,
 * [-w/2, w/2), is centred on 0 and the range covers 0, min and max; at most
 * ONC_REPORT_HIST_MAX_BINS (w grows instead). Fills m->bins and zeroed
 * m->bin_counts; false when out of memory. */
static bool rep_paired_bins(onc_report *r, rep_paired *m, size_t n) {
    const double lo = m->min < 0 ? m->min : 0, hi = m->max > 0 ? m->max : 0;
    const double w_sturges = (m->max - m->min) / (log2((double)n) + 1.0);
    const double iqr = m->q3 - m->q1, w_fd = iqr > 0 ? 2 * iqr / cbrt((double)n) : 0;
    double w = w_fd > 0 && w_fd < w_sturges ? w_fd : w_sturges;
    if (!(w > 0)) w = hi > lo ? (hi - lo) / 10 : 1; /* all differences equal */
    double kmin = floor(lo / w + 0.5), kmax = floor(hi / w + 0.5);
    if (kmax - kmin + 1 > ONC_REPORT_HIST_MAX_BINS) {
        w = (hi - lo) / (ONC_REPORT_HIST_MAX_BINS - 1);
        kmin = floor(lo / w + 0.5);
        kmax = floor(hi / w + 0.5);
        if (kmax - kmin + 1 > ONC_REPORT_HIST_MAX_BINS) kmax = kmin + ONC_REPORT_HIST_MAX_BINS - 1;
    }
    const size_t nb = (size_t)(kmax - kmin) + 1;
    double *e = rep_calloc(r, nb + 1, sizeof *e);
    m->bin_counts = rep_calloc(r, nb, sizeof *m->bin_counts);
    if (!e || !m->bin_counts) return false;
    for (size_t i = 0; i <= nb; i++) e[i] = (kmin + (double)i - 0.5) * w;
    m->bins.n_bins = nb;
    m->bins.edges = e;
    m->bin_width = w;
    m->bin_first_k = kmin;
    return true;
}

/* Bin of d in the bins of rep_paired_bins (clamped to the first and last). */
static size_t rep_paired_bin(const rep_paired *m, double d) {
    const double k = floor(d / m->bin_width + 0.5) - m->bin_first_k;
    const size_t nb = m->bins.n_bins;
    return k <= 0 ? 0 : k >= (double)(nb - 1) ? nb - 1 : (size_t)k;
}

void onc_report_add_paired(onc_report *r, const onc_report_paired *p) {
    ONC_ASSERT(p);
    ONC_ASSERT(p->n == 0 || p->diff);
    if (!r || r->status != ONC_OK) return;
    rep_paired *m = rep_calloc(r, 1, sizeof *m);
    if (!m) return;
    m->caption = rep_text(r, p->caption, NULL, true);
    m->a_name = rep_text(r, p->a_name, "A", true);
    m->b_name = rep_text(r, p->b_name, "B", true);
    m->metric = rep_text(r, p->metric, "score", true);
    m->test_name = rep_text(r, p->test_name, NULL, true);
    if (r->status != ONC_OK) return;
    m->n = p->n;
    m->ci_level = p->ci_level > 0 && p->ci_level < 1 ? p->ci_level : 0;
    m->ci_lo = p->ci_lo;
    m->ci_hi = p->ci_hi;
    if (m->ci_level > 0 && !(isfinite(m->ci_lo) && isfinite(m->ci_hi))) m->ci_level = 0;
    m->p_value = p->p_value;
    m->decimals = rep_resolve_decimals(p->decimals, p->diff, p->n);

    size_t nf = 0;
    double *sorted = rep_sorted_finite(r, p->diff, p->n, &nf);
    if (!sorted) return;
    m->n_finite = nf;
    m->n_na = p->n - nf;
    double sum = 0;
    for (size_t i = 0; i < p->n; i++) {
        const double d = p->diff[i];
        if (!isfinite(d)) continue;
        sum += d;
        if (d > 0) m->n_b_better++;
        else if (d < 0) m->n_a_better++;
        else m->n_tied++;
    }
    m->mean = nf ? sum / (double)nf : NAN;
    m->min = nf ? sorted[0] : NAN;
    m->max = nf ? sorted[nf - 1] : NAN;
    m->q1 = nf ? rep_quantile(sorted, nf, 0.25) : NAN;
    m->median = nf ? rep_quantile(sorted, nf, 0.5) : NAN;
    m->q3 = nf ? rep_quantile(sorted, nf, 0.75) : NAN;
    if (nf <= ONC_REPORT_PAIRED_STRIP_MAX) {
        m->sorted = rep_copy_doubles(r, sorted, nf);
    } else if (rep_paired_bins(r, m, nf)) {
        for (size_t i = 0; i < nf; i++) m->bin_counts[rep_paired_bin(m, sorted[i])]++;
    }
    free(sorted);
    if (r->status != ONC_OK) return;
    rep_block *b = rep_push(r, REP_PAIRED);
    if (b) b->u.paired = m;
}

// --- numbers, ticks, colours --------------------------------------------------------------------------------------

/* Remove the sign of a formatted number that rounds to zero ("-0.00"). */
static void rep_drop_negative_zero(char *s) {
    if (s[0] != '-') return;
    for (const char *p = s + 1; *p; p++)
        if (*p != '0' && *p != '.') return;
    memmove(s, s + 1, strlen(s));
}

/* v with `decimals` digits into out[cap] (see rep_fmt). */
static void rep_fmt_into(char *out, size_t cap, double v, int decimals) {
    if (!isfinite(v)) snprintf(out, cap, "n/a");
    else if (fabs(v) >= 1e15) snprintf(out, cap, "%.6g", v);
    else snprintf(out, cap, "%.*f", decimals, v);
    rep_drop_negative_zero(out);
}

const char *rep_fmt(char out[REP_NUM_MAX], double v, int decimals) {
    rep_fmt_into(out, REP_NUM_MAX, v, decimals);
    return out;
}

const char *rep_fmt_signed(char out[REP_NUM_MAX], double v, int decimals) {
    char tmp[REP_NUM_MAX - 1]; /* room for the sign */
    rep_fmt_into(tmp, sizeof tmp, v, decimals);
    bool zero = true;
    for (const char *p = tmp; *p; p++)
        if (*p != '0' && *p != '.') zero = false;
    snprintf(out, REP_NUM_MAX, "%s%s", (v > 0 && !zero && isfinite(v)) ? "+" : "", tmp);
    return out;
}

const char *rep_fmt_p(char out[REP_NUM_MAX], double p) {
    if (isnan(p)) snprintf(out, REP_NUM_MAX, "n/a");
    else if (p < 0.0001) snprintf(out, REP_NUM_MAX, "%.2e", p);
    else snprintf(out, REP_NUM_MAX, "%.4f", p);
    return out;
}

const char *rep_fmt_level(char out[REP_NUM_MAX], double level) {
    snprintf(out, REP_NUM_MAX, "%.10g%%", level * 100);
    return out;
}

int rep_resolve_decimals(int decimals, const double *v, size_t n) {
    if (decimals != 0) return decimals < 1 ? 1 : (decimals > 10 ? 10 : decimals);
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && (fabs(v[i]) >= 1e15 || v[i] != floor(v[i]))) return 4;
    return 0;
}

rep_ticks rep_nice_ticks(double lo, double hi, int target) {
    ONC_ASSERT(isfinite(lo) && isfinite(hi) && lo < hi && target >= 1);
    const double raw = (hi - lo) / target;
    const double mag = pow(10.0, floor(log10(raw)));
    const double f = raw / mag;
    const double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    rep_ticks t;
    t.step = step;
    t.first = floor(lo / step + 1e-9) * step;
    t.last = ceil(hi / step - 1e-9) * step;
    t.n_ticks = (int)llround((t.last - t.first) / step) + 1;
    const double l = -floor(log10(step) + 1e-9);
    t.decimals = l > 0 ? (int)l : 0;
    t.log10 = false;
    return t;
}

const char *const rep_palette[REP_N_PALETTE] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                                "#56B4E9", "#D55E00", "#F0E442", "#000000"};

const char *rep_heat_colour(char out[8], double f) {
    static const unsigned char stops[5][3] = {
        {0xf7, 0xfb, 0xff}, {0xc6, 0xdb, 0xef}, {0x6b, 0xae, 0xd6}, {0x21, 0x71, 0xb5}, {0x08, 0x30, 0x6b}};
    if (!(f >= 0)) f = 0;
    if (f > 1) f = 1;
    const double x = f * 4;
    int k = (int)x;
    if (k > 3) k = 3;
    const double t = x - k;
    int rgb[3];
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(stops[k][c] + (stops[k + 1][c] - stops[k][c]) * t);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
    return out;
}

bool rep_heat_dark(double f) { return f > 0.55; }

// --- buffer ---------------------------------------------------------------------------------------------------------

static bool rep_buf_reserve(rep_buf *b, size_t extra) {
    if (b->failed) return false;
    if (extra > SIZE_MAX / 4 - b->len) {
        b->failed = true;
        return false;
    }
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void rep_buf_put(rep_buf *b, const char *s, size_t n) {
    if (!rep_buf_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void rep_buf_puts(rep_buf *b, const char *s) { rep_buf_put(b, s, strlen(s)); }

void rep_buf_printf(rep_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        rep_buf_put(b, small, (size_t)n);
        return;
    }
    if (!rep_buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rep_buf_html_n(rep_buf *b, const char *s, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ent = NULL;
        switch (s[i]) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: continue;
        }
        rep_buf_put(b, s + run, i - run);
        rep_buf_puts(b, ent);
        run = i + 1;
    }
    rep_buf_put(b, s + run, n - run);
}

void rep_buf_html(rep_buf *b, const char *s) { rep_buf_html_n(b, s, strlen(s)); }

// --- output ------------------------------------------------------------------------------------------------------------

/* Render r into b (HTML or Markdown); `what` names the destination in
 * messages. */
static onc_status rep_render(const onc_report *r, bool html, rep_buf *b, const char *what, onc_error *err) {
    if (!r) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory creating the report", what);
    if (r->status != ONC_OK)
        return onc_error_set(err, r->status, "%s: report \"%s\": %s", what, r->title, r->status_msg);
    if (html) rep_render_html(r, b);
    else rep_render_markdown(r, b);
    if (b->failed) {
        free(b->p);
        *b = (rep_buf){0};
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory rendering the report", what);
    }
    return ONC_OK;
}

static onc_status rep_render_string(const onc_report *r, bool html, char **text, size_t *len, onc_error *err) {
    ONC_ASSERT(text);
    *text = NULL;
    if (len) *len = 0;
    rep_buf b = {0};
    const onc_status st = rep_render(r, html, &b, html ? "HTML report" : "Markdown report", err);
    if (st != ONC_OK) return st;
    if (!b.p) rep_buf_put(&b, "", 0);
    if (b.failed) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory rendering the report");
    *text = b.p;
    if (len) *len = b.len;
    return ONC_OK;
}

onc_status onc_report_render_markdown(const onc_report *r, char **text, size_t *len, onc_error *err) {
    return rep_render_string(r, false, text, len, err);
}

onc_status onc_report_render_html(const onc_report *r, char **text, size_t *len, onc_error *err) {
    return rep_render_string(r, true, text, len, err);
}

static onc_status rep_fwrite(const onc_report *r, bool html, FILE *f, onc_error *err) {
    ONC_ASSERT(f);
    rep_buf b = {0};
    const onc_status st = rep_render(r, html, &b, "report output", err);
    if (st != ONC_OK) return st;
    const bool ok = b.len == 0 || fwrite(b.p, 1, b.len, f) == b.len;
    const int e = errno;
    free(b.p);
    if (!ok || ferror(f)) return onc_error_set(err, ONC_ERR_IO, "report output: write failed: %s", strerror(e));
    return ONC_OK;
}

onc_status onc_report_fwrite_markdown(const onc_report *r, FILE *f, onc_error *err) {
    return rep_fwrite(r, false, f, err);
}

onc_status onc_report_fwrite_html(const onc_report *r, FILE *f, onc_error *err) { return rep_fwrite(r, true, f, err); }


static onc_status rep_write(const onc_report *r, bool html, const char *path, onc_error *err) {
    ONC_ASSERT(path);
    rep_buf b = {0};
    const onc_status st = rep_render(r, html, &b, path, err);
    if (st != ONC_OK) return st;
    const onc_status ws = onc_write_file_atomic(path, b.p ? b.p : "", b.len, err);
    free(b.p);
    return ws;
}

onc_status onc_report_write_markdown(const onc_report *r, const char *path, onc_error *err) {
    return rep_write(r, false, path, err);
}

onc_status onc_report_write_html(const onc_report *r, const char *path, onc_error *err) {
    return rep_write(r, true, path, err);
}
