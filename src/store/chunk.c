/* chunk.c — section-aware chunking of clinical notes (see oncolm/chunk.h). */
#include "oncolm/chunk.h"

#include <stdlib.h>
#include <string.h>

onc_chunk_params onc_chunk_default_params(void) {
    return (onc_chunk_params){.max_tokens = 256, .overlap = 32, .sections = true, .count = NULL, .count_ctx = NULL};
}

static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
/* Bytes of multi-byte UTF-8 sequences count as letters. */
static bool is_alnum(unsigned char c) { return is_upper(c) || is_lower(c) || is_digit(c) || c >= 0x80; }

size_t onc_chunk_estimate_tokens(void *unused, const char *text, size_t n) {
    (void)unused;
    size_t count = 0;
    bool in_word = false;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)text[i];
        if (is_alnum(c)) {
            if (!in_word) count++;
            in_word = true;
        } else {
            in_word = false;
            if (!is_space(c)) count++; /* punctuation is a token of its own */
        }
    }
    return count;
}

/* Words (whitespace-separated) in s[0..n). */
static size_t count_words(const char *s, size_t n) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_space((unsigned char)s[i]) && (i == 0 || is_space((unsigned char)s[i - 1]))) w++;
    return w;
}

/* Letters present and all of them capitals. */
static bool all_caps(const char *s, size_t n) {
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (is_lower(c)) return false;
        if (is_upper(c)) letter = true;
    }
    return letter;
}

/* If the trimmed line s[0..n) is a heading, return the heading's length
 * (the whole line, or the label through its ':' for an inline heading);
 * else 0. */
static size_t heading_len(const char *s, size_t n) {
    if (n == 0 || n > 200) return 0;
    const unsigned char first = (unsigned char)s[0];
    if (!is_upper(first) && !is_lower(first)) return 0;
    if (n <= 60 && s[n - 1] == ':' && count_words(s, n) <= 6) return n;
    if (n <= 60 && s[n - 1] != '.' && all_caps(s, n) && count_words(s, n) <= 8) return n;
    /* Inline: "LABEL: text" with an all-caps label of at most 5 words. */
    const char *colon = memchr(s, ':', n < 48 ? n : 48);
    if (colon && colon > s) {
        const size_t label = (size_t)(colon - s);
        for (size_t i = 0; i < label; i++) {
            const unsigned char c = (unsigned char)s[i];
            if (!is_upper(c) && c != ' ' && c != '/' && c != '&' && c != '-' && c != '\'') return 0;
        }
        if (label >= 3 && all_caps(s, label) && count_words(s, label) <= 5) return label + 1;
    }
    return 0;
}

typedef struct section {
    uint32_t start, end;           /* bytes, trimmed */
    uint32_t head_start, head_end; /* 0,0 when none */
    size_t tokens;
} section;

typedef struct chunk_list {
    onc_chunk *v;
    size_t n, cap;
} chunk_list;

static bool push_chunk(chunk_list *l, onc_chunk c) {
    if (l->n == l->cap) {
        const size_t cap = l->cap ? l->cap * 2 : 16;
        onc_chunk *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = c;
    return true;
}

static size_t count_tokens(const onc_chunk_params *p, const char *s, size_t n) {
    return p->count ? p->count(p->count_ctx, s, n) : onc_chunk_estimate_tokens(NULL, s, n);
}

/* Trim whitespace from both ends of [*a, *b). */
static void trim(const char *t, uint32_t *a, uint32_t *b) {
    while (*a < *b && is_space((unsigned char)t[*a])) (*a)++;
    while (*b > *a && is_space((unsigned char)t[*b - 1])) (*b)--;
}

/* Split the note into trimmed, non-blank sections. */
static section *find_sections(const char *t, uint32_t len, bool use_headings, size_t *n_out) {
    size_t cap = 8, n = 0;
    section *v = malloc(cap * sizeof *v);
    if (!v) return NULL;
    uint32_t sec_start = 0, head_s = 0, head_e = 0;
    uint32_t pos = 0;
    while (use_headings && pos < len) {
        const char *nl = memchr(t + pos, '\n', len - pos);
        const uint32_t line_end = nl ? (uint32_t)(nl - t) : len;
        uint32_t a = pos, b = line_end;
        trim(t, &a, &b);
        const size_t h = heading_len(t + a, b - a);
        if (h && a > sec_start) { /* close the running section before this heading */
            if (n == cap) {
                section *nv = realloc(v, (cap *= 2) * sizeof *v);
                if (!nv) return free(v), NULL;
                v = nv;
            }
            v[n++] = (section){sec_start, a, head_s, head_e, 0};
        }
        if (h) {
            sec_start = a;
            head_s = a;
            head_e = a + (uint32_t)h;
        }
        pos = nl ? line_end + 1 : len;
    }
    if (n == cap) {
        section *nv = realloc(v, (cap + 1) * sizeof *v);
        if (!nv) return free(v), NULL;
        v = nv;
    }
    v[n++] = (section){sec_start, len, head_s, head_e, 0};
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        section s = v[i];
        trim(t, &s.start, &s.end);
        if (s.end > s.start) v[kept++] = s;
    }
    *n_out = kept;
    return v;
}

typedef struct word {
    uint32_t start, end;
    size_t tokens;
} word;

/* Windows over one long section (see the header for the rules). */
static bool window_section(const char *t, const section *s, const onc_chunk_params *p, chunk_list *out) {
    size_t n = 0, cap = 64;
    word *w = malloc(cap * sizeof *w);
    if (!w) return false;
    for (uint32_t i = s->start; i < s->end;) {
        while (i < s->end && is_space((unsigned char)t[i])) i++;
        if (i >= s->end) break;
        uint32_t j = i;
        while (j < s->end && !is_space((unsigned char)t[j])) j++;
        if (n == cap) {
            word *nw = realloc(w, (cap *= 2) * sizeof *w);
            if (!nw) return free(w), false;
            w = nw;
        }
        w[n++] = (word){i, j, count_tokens(p, t + i, j - i)};
        i = j;
    }
    const bool has_head = s->head_end > s->head_start;
    const size_t head_tokens = has_head ? count_tokens(p, t + s->head_start, s->head_end - s->head_start) : 0;
    size_t first = 0;
    bool ok = true;
    while (ok && first < n) {
        const bool repeat_head = has_head && w[first].start >= s->head_end;
        const size_t budget_full = (size_t)p->max_tokens;
        const size_t budget = repeat_head && head_tokens < budget_full / 2 ? budget_full - head_tokens : budget_full;
        size_t last = first, used = w[first].tokens; /* at least one word, however long */
        while (last + 1 < n && used + w[last + 1].tokens <= budget) used += w[++last].tokens;
        onc_chunk c = {w[first].start, w[last].end, 0, 0, (uint32_t)used};
        if (repeat_head && head_tokens < budget_full / 2) {
            c.head_start = s->head_start;
            c.head_end = s->head_end;
            c.n_tokens += (uint32_t)head_tokens;
        }
        ok = push_chunk(out, c);
        if (last + 1 >= n) break;
        /* Next window: back up from the end until the overlap is covered,
         * always moving forward by at least one word. */
        size_t next = last + 1, back = 0;
        while (next > first + 1 && back < (size_t)p->overlap) back += w[--next].tokens;
        /* ... but never so much that the next window cannot reach a new word. */
        const size_t next_budget = has_head && head_tokens < budget_full / 2 ? budget_full - head_tokens : budget_full;
        while (next <= last && back + w[last + 1].tokens > next_budget) back -= w[next++].tokens;
        first = next;
    }
    free(w);
    return ok;
}

onc_status onc_chunk_text(const char *text, size_t len, const onc_chunk_params *params, onc_chunk **out,
                          size_t *n_out, onc_error *err) {
    *out = NULL;
    *n_out = 0;
    const onc_chunk_params p = params ? *params : onc_chunk_default_params();
    if (p.max_tokens < 8 || p.overlap < 0 || p.overlap >= p.max_tokens / 2)
        return onc_error_set(err, ONC_ERR_INVALID,
                             "chunking: max_tokens must be >= 8 and overlap in [0, max_tokens/2) (got %d, %d)",
                             p.max_tokens, p.overlap);
    if (len >= UINT32_MAX) return onc_error_set(err, ONC_ERR_INVALID, "chunking: note of %zu bytes is too long", len);
    size_t n_sec = 0;
    section *sec = find_sections(text, (uint32_t)len, p.sections, &n_sec);
    if (!sec) return onc_error_set(err, ONC_ERR_NOMEM, "chunking: out of memory");
    chunk_list l = {0};
    bool ok = true;
    onc_chunk pending = {0};
    bool have_pending = false;
    for (size_t i = 0; ok && i < n_sec; i++) {
        section *s = &sec[i];
        s->tokens = count_tokens(&p, text + s->start, s->end - s->start);
        if (s->tokens > (size_t)p.max_tokens) {
            if (have_pending) ok = push_chunk(&l, pending), have_pending = false;
            if (ok) ok = window_section(text, s, &p, &l);
        } else if (have_pending && pending.n_tokens + s->tokens <= (size_t)p.max_tokens) {
            pending.end = s->end;
            pending.n_tokens += (uint32_t)s->tokens;
        } else {
            if (have_pending) ok = push_chunk(&l, pending);
            pending = (onc_chunk){s->start, s->end, 0, 0, (uint32_t)s->tokens};
            have_pending = true;
        }
    }
    if (ok && have_pending) ok = push_chunk(&l, pending);
    free(sec);
    if (!ok) {
        free(l.v);
        return onc_error_set(err, ONC_ERR_NOMEM, "chunking: out of memory");
    }
    *out = l.v;
    *n_out = l.n;
    return ONC_OK;
}

char *onc_chunk_str(const char *text, const onc_chunk *c, size_t *n_out) {
    const size_t head = c->head_end - c->head_start, body = c->end - c->start;
    const size_t n = head ? head + 1 + body : body;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (head) {
        memcpy(s, text + c->head_start, head);
        s[head] = '\n';
        memcpy(s + head + 1, text + c->start, body);
    } else {
        memcpy(s, text + c->start, body);
    }
    s[n] = '\0';
    if (n_out) *n_out = n;
    return s;
}
