/* eval_util.c — hash tables, file reading and line splitting for the
 * retrieval evaluation (see eval_internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval/eval_internal.h"

/* ---- hashing ------------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t ir_hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return (uint32_t)(mix64(h) >> 32);
}

/* ---- string table ---------------------------------------------------------------------- */

static inline uint64_t slot_of(int64_t k, uint32_t hv) { return ((uint64_t)(k + 1) << 32) | hv; }

/* Rebuild the slot array with nslots (a power of two) slots. */
static bool strtab_grow_slots(ir_strtab *t, size_t nslots) {
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return false;
    const size_t mask = nslots - 1;
    if (t->slots)
        for (size_t i = 0; i <= t->mask; i++) {
            const uint64_t e = t->slots[i];
            if (!e) continue;
            size_t h = (size_t)(uint32_t)e & mask;
            while (slots[h]) h = (h + 1) & mask;
            slots[h] = e;
        }
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return true;
}

int64_t ir_strtab_intern(ir_strtab *t, const char *s, bool *is_new) {
    const uint32_t hv = ir_hash_str(s);
    if (t->slots) {
        size_t h = (size_t)hv & t->mask;
        for (uint64_t e; (e = t->slots[h]) != 0; h = (h + 1) & t->mask)
            if ((uint32_t)e == hv) {
                const int64_t k = (int64_t)(e >> 32) - 1;
                if (strcmp(t->strs[k], s) == 0) {
                    if (is_new) *is_new = false;
                    return k;
                }
            }
    }
    if (t->n >= INT32_MAX - 1) return -1;
    if (t->n == t->cap) {
        const int64_t cap = t->cap ? 2 * t->cap : 64;
        const char **strs = realloc(t->strs, (size_t)cap * sizeof *strs);
        if (!strs) return -1;
        t->strs = strs;
        t->cap = cap;
    }
    /* keep the load factor at or below 1/2 */
    if (!t->slots || (size_t)(t->n + 1) * 2 > t->mask + 1) {
        const size_t nslots = t->slots ? 2 * (t->mask + 1) : 128;
        if (!strtab_grow_slots(t, nslots)) return -1;
    }
    const int64_t k = t->n++;
    t->strs[k] = s;
    size_t h = (size_t)hv & t->mask;
    while (t->slots[h]) h = (h + 1) & t->mask;
    t->slots[h] = slot_of(k, hv);
    if (is_new) *is_new = true;
    return k;
}

int64_t ir_strtab_find(const ir_strtab *t, const char *s) {
    if (!t->slots) return -1;
    const uint32_t hv = ir_hash_str(s);
    size_t h = (size_t)hv & t->mask;
    for (uint64_t e; (e = t->slots[h]) != 0; h = (h + 1) & t->mask)
        if ((uint32_t)e == hv) {
            const int64_t k = (int64_t)(e >> 32) - 1;
            if (strcmp(t->strs[k], s) == 0) return k;
        }
    return -1;
}

void ir_strtab_free(ir_strtab *t) {
    free(t->strs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Stable merge sort of indexes by strcmp of their strings (no qsort: its
 * comparator would need global context, and the loaders must stay
 * reentrant). */
static void merge_sort_idx(int64_t *a, int64_t *tmp, size_t n, const ir_strtab *t) {
    if (n < 2) return;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            const int64_t key = a[i];
            size_t j = i;
            while (j > 0 && strcmp(t->strs[a[j - 1]], t->strs[key]) > 0) a[j] = a[j - 1], j--;
            a[j] = key;
        }
        return;
    }
    const size_t h = n / 2;
    merge_sort_idx(a, tmp, h, t);
    merge_sort_idx(a + h, tmp, n - h, t);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = strcmp(t->strs[a[j]], t->strs[a[i]]) < 0 ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

int64_t *ir_sorted_order(const ir_strtab *tab) {
    const size_t n = (size_t)tab->n;
    int64_t *o = malloc((n ? n : 1) * sizeof *o);
    int64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!o || !tmp) {
        free(o), free(tmp);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) o[i] = (int64_t)i;
    merge_sort_idx(o, tmp, n, tab);
    free(tmp);
    return o;
}

/* ---- u64 map ------------------------------------------------------------------------------ */

static bool u64map_grow(ir_u64map *m) {
    const size_t nslots = m->keys ? 2 * (m->mask + 1) : 1024;
    uint64_t *keys = calloc(nslots, sizeof *keys);
    int64_t *vals = malloc(nslots * sizeof *vals);
    if (!keys || !vals) {
        free(keys), free(vals);
        return false;
    }
    const size_t mask = nslots - 1;
    if (m->keys)
        for (size_t i = 0; i <= m->mask; i++) {
            if (!m->keys[i]) continue;
            size_t h = (size_t)mix64(m->keys[i]) & mask;
            while (keys[h]) h = (h + 1) & mask;
            keys[h] = m->keys[i];
            vals[h] = m->vals[i];
        }
    free(m->keys), free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->mask = mask;
    return true;
}

int ir_u64map_put(ir_u64map *m, uint64_t key, int64_t val, int64_t *existing) {
    ONC_ASSERT(key != 0);
    if (!m->keys || (m->n + 1) * 2 > m->mask + 1)
        if (!u64map_grow(m)) return -1;
    size_t h = (size_t)mix64(key) & m->mask;
    while (m->keys[h]) {
        if (m->keys[h] == key) {
            if (existing) *existing = m->vals[h];
            return 0;
        }
        h = (h + 1) & m->mask;
    }
    m->keys[h] = key;
    m->vals[h] = val;
    m->n++;
    return 1;
}

int64_t ir_u64map_get(const ir_u64map *m, uint64_t key) {
    if (!m->keys) return -1;
    size_t h = (size_t)mix64(key) & m->mask;
    while (m->keys[h]) {
        if (m->keys[h] == key) return m->vals[h];
        h = (h + 1) & m->mask;
    }
    return -1;
}

void ir_u64map_free(ir_u64map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- files and lines ------------------------------------------------------------------------ */

char *ir_copy_buf(const char *data, size_t len) {
    char *b = malloc(len + 1);
    if (!b) return NULL;
    if (len) memcpy(b, data, len);
    b[len] = '\0';
    return b;
}

char *ir_read_file(const char *path, size_t *len, onc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    size_t cap = 1 << 16;
    /* regular file: room for the bytes, the NUL and one more byte, so the
     * final 0-byte read needs no realloc */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) cap = (size_t)st.st_size + 2;
    char *buf = malloc(cap);
    size_t n = 0;
    if (!buf) goto oom;
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) goto oom;
            buf = nb;
            cap *= 2;
        }
        const size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        onc_error_set(err, ONC_ERR_IO, "%s: read error", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
oom:
    free(buf);
    fclose(f);
    onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory reading the file", path);
    return NULL;
}

onc_status ir_check_no_nul(const char *buf, size_t len, const char *name, onc_error *err) {
    const char *z = memchr(buf, '\0', len);
    if (!z) return ONC_OK;
    int64_t line = 1;
    for (const char *p = buf; p < z; p++) line += *p == '\n';
    return onc_error_set(err, ONC_ERR_FORMAT, "%s:%lld: NUL byte in text", name, (long long)line);
}

void ir_lines_init(ir_lines *it, char *buf, size_t len) {
    it->p = buf;
    it->end = buf + len;
    it->lineno = 0;
}

char *ir_lines_next(ir_lines *it) {
    if (it->p >= it->end) return NULL;
    char *line = it->p;
    char *nl = memchr(line, '\n', (size_t)(it->end - line));
    char *stop = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    if (stop > line && stop[-1] == '\r') stop[-1] = '\0';
    *stop = '\0';
    it->lineno++;
    return line;
}

bool ir_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\v' && *s != '\f' && *s != '\r') return false;
    return true;
}

static inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

int ir_split_ws(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p && is_ws(*p)) p++;
        if (!*p) break;
        if (n < max) fields[n] = p;
        n++;
        while (*p && !is_ws(*p)) p++;
        if (!*p) break;
        *p++ = '\0';
    }
    return n;
}

int ir_split_tab(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n < max) fields[n] = p;
        n++;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

bool ir_parse_i64(const char *s, int64_t *v) {
    if (!*s) return false;
    errno = 0;
    char *end;
    const long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end) return false;
    *v = x;
    return true;
}
