/* synth_util.c — the synthetic generator's RNG (xoshiro256** seeded by
 * splitmix64), growable text buffers, JSON string escaping, calendar dates
 * and the typo injector. All integer arithmetic, so results are identical
 * on every platform. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth/synth_internal.h"

// --- RNG ---------------------------------------------------------------------

uint64_t synth_hash64(uint64_t x) { return onc_splitmix64(&x); }

void synth_rng_seed(synth_rng *r, uint64_t seed, uint64_t stream) {
    onc_rng_seed(r, seed ^ synth_hash64(stream + 0x632BE59BD9B4E019ull));
}

uint64_t synth_rng_next(synth_rng *r) { return onc_rng_next(r); }

uint32_t synth_rng_below(synth_rng *r, uint32_t n) {
    /* Multiply-shift: bias below 2^-32 per draw, irrelevant here, and exact
     * integer arithmetic keeps it portable. */
    return (uint32_t)(((synth_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

int synth_rng_range(synth_rng *r, int lo, int hi) { return lo + (int)synth_rng_below(r, (uint32_t)(hi - lo + 1)); }

double synth_rng_unit(synth_rng *r) { return (double)(synth_rng_next(r) >> 11) * 0x1.0p-53; }

bool synth_rng_chance(synth_rng *r, double p) { return synth_rng_unit(r) < p; }

int synth_rng_weighted(synth_rng *r, const double *weights, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) total += weights[i];
    double x = synth_rng_unit(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < weights[i]) return i;
        x -= weights[i];
    }
    return n - 1;
}

// --- text buffer ----------------------------------------------------------------

static bool buf_reserve(synth_buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void synth_buf_reset(synth_buf *b) {
    b->len = 0;
    b->oom = false;
    if (buf_reserve(b, 0)) b->p[0] = '\0';
}

void synth_buf_free(synth_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void synth_buf_putn(synth_buf *b, const char *s, size_t n) {
    if (!buf_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void synth_buf_puts(synth_buf *b, const char *s) { synth_buf_putn(b, s, strlen(s)); }

void synth_buf_putc(synth_buf *b, char c) { synth_buf_putn(b, &c, 1); }

void synth_buf_printf(synth_buf *b, const char *fmt, ...) {
    if (!buf_reserve(b, 256)) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= b->cap - b->len) {
        if (!buf_reserve(b, (size_t)n)) return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void synth_buf_json_str(synth_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!buf_reserve(b, n + 2)) return;
    synth_buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\t') esc = "\\t";
        else if (c == '\r') esc = "\\r";
        else if (c < 0x20 || c >= 0x7f) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
            esc = u;
        }
        if (esc) {
            synth_buf_putn(b, s + run, i - run);
            synth_buf_puts(b, esc);
            run = i + 1;
        }
    }
    synth_buf_putn(b, s + run, n - run);
    synth_buf_putc(b, '"');
}

// --- typos -------------------------------------------------------------------------

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_alpha(char c) { return is_lower(c) || (c >= 'A' && c <= 'Z'); }

void synth_apply_typos(synth_rng *r, synth_buf *b, double rate, synth_buf *scratch) {
    if (rate <= 0 || b->oom || b->len == 0) return;
    synth_buf_reset(scratch);
    size_t i = 0;
    while (i < b->len) {
        if (!is_alpha(b->p[i])) {
            size_t j = i;
            while (j < b->len && !is_alpha(b->p[j])) j++;
            synth_buf_putn(scratch, b->p + i, j - i);
            i = j;
            continue;
        }
        size_t j = i;
        bool all_lower_after_first = true;
        while (j < b->len && is_alpha(b->p[j])) {
            if (j > i && !is_lower(b->p[j])) all_lower_after_first = false;
            j++;
        }
        const size_t len = j - i;
        if (len >= 5 && all_lower_after_first && synth_rng_chance(r, rate)) {
            char w[64];
            size_t wl = len < sizeof w - 2 ? len : sizeof w - 2;
            memcpy(w, b->p + i, wl);
            size_t k = 1 + synth_rng_below(r, (uint32_t)(wl - 2)); /* an inner position */
            switch (synth_rng_below(r, 3)) {
            case 0: { /* swap two neighbours */
                char t = w[k];
                w[k] = w[k + 1];
                w[k + 1] = t;
                break;
            }
            case 1: /* drop */
                memmove(w + k, w + k + 1, wl - k - 1);
                wl--;
                break;
            default: /* double */
                memmove(w + k + 1, w + k, wl - k);
                wl++;
                break;
            }
            synth_buf_putn(scratch, w, wl);
            if (len > sizeof w - 2) synth_buf_putn(scratch, b->p + i + (sizeof w - 2), len - (sizeof w - 2));
        } else {
            synth_buf_putn(scratch, b->p + i, len);
        }
        i = j;
    }
    if (scratch->oom) {
        b->oom = true;
        return;
    }
    synth_buf tmp = *b;
    *b = *scratch;
    *scratch = tmp;
}

// --- dates ------------------------------------------------------------------------

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int32_t synth_days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153u * (unsigned)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

void synth_civil_from_days(int32_t z, int *y, int *m, int *d) {
    z += 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)yoe + era * 400 + (*m <= 2);
}

void synth_date_iso(int32_t days, char *out) {
    int y, m, d;
    synth_civil_from_days(days, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

void synth_date_text(int32_t days, int style, char *out) {
    static const char *const months[] = {"January", "February", "March",     "April",   "May",      "June",
                                         "July",    "August",   "September", "October", "November", "December"};
    int y, m, d;
    synth_civil_from_days(days, &y, &m, &d);
    switch (style) {
    case 1: snprintf(out, 24, "%02d/%02d/%04d", m, d, y); break;
    case 2: snprintf(out, 24, "%s %d, %04d", months[m - 1], d, y); break;
    case 3: snprintf(out, 24, "%d %.3s %04d", d, months[m - 1], y); break;
    default: snprintf(out, 24, "%04d-%02d-%02d", y, m, d); break;
    }
}

// --- configuration -------------------------------------------------------------------

void synth_config_from_params(const onc_synth_params *p, synth_config *cfg) {
    static const double typo[3] = {0.0, 0.003, 0.012};
    static const double negation[3] = {0.25, 0.6, 0.85};
    static const double synonym[3] = {0.0, 0.5, 0.75};
    static const double shuffle[3] = {0.0, 0.3, 0.6};
    static const double historical[3] = {0.0, 0.15, 0.35};
    static const double hedge[3] = {0.0, 0.2, 0.4};
    const int d = p->difficulty;
    cfg->seed = p->seed;
    cfg->difficulty = p->difficulty;
    cfg->typo_rate = p->typo_rate >= 0 ? p->typo_rate : typo[d];
    cfg->negation_rate = p->negation_rate >= 0 ? p->negation_rate : negation[d];
    cfg->synonym_rate = synonym[d];
    cfg->shuffle_rate = shuffle[d];
    cfg->historical_rate = historical[d];
    cfg->hedge_rate = hedge[d];
}
