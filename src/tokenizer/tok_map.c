/* tok_map.c — the byte-string hash map and id vector of tok_impl.h. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"

static uint32_t hash_bytes(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

#define FNV_OFFSET 0xcbf29ce484222325ull

static uint64_t hash_state(const char *s, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

bool tok_map_init(tok_map *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t slots = 16;
    while (slots < expected * 2) slots <<= 1;
    m->slots = calloc(slots, sizeof *m->slots);
    m->cap = expected > 8 ? expected : 8;
    m->entries = malloc(m->cap * sizeof *m->entries);
    if (!m->slots || !m->entries) {
        tok_map_free(m);
        return false;
    }
    m->mask = slots - 1;
    return true;
}

void tok_map_free(tok_map *m) {
    free(m->slots);
    free(m->entries);
    memset(m, 0, sizeof *m);
}

static bool map_grow(tok_map *m) {
    size_t slots = (m->mask + 1) * 2;
    uint32_t *ns = calloc(slots, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i < m->n; i++) {
        size_t j = m->entries[i].hash & (slots - 1);
        while (ns[j]) j = (j + 1) & (slots - 1);
        ns[j] = (uint32_t)i + 1;
    }
    free(m->slots);
    m->slots = ns;
    m->mask = slots - 1;
    return true;
}

bool tok_map_put(tok_map *m, const char *key, size_t len, int32_t val) {
    uint32_t h = hash_bytes(FNV_OFFSET, key, len);
    for (size_t j = h & m->mask; m->slots[j]; j = (j + 1) & m->mask) {
        struct tok_map_entry *e = &m->entries[m->slots[j] - 1];
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            e->val = val;
            return true;
        }
    }
    if (len > UINT32_MAX || m->n >= UINT32_MAX - 1) return false;
    if (m->n == m->cap) {
        size_t nc = m->cap * 2;
        struct tok_map_entry *ne = realloc(m->entries, nc * sizeof *ne);
        if (!ne) return false;
        m->entries = ne;
        m->cap = nc;
    }
    if ((m->n + 1) * 2 > m->mask + 1 && !map_grow(m)) return false;
    size_t j = h & m->mask;
    while (m->slots[j]) j = (j + 1) & m->mask;
    m->entries[m->n] = (struct tok_map_entry){key, (uint32_t)len, h, val};
    m->slots[j] = (uint32_t)++m->n;
    return true;
}

int32_t tok_map_get(const tok_map *m, const char *key, size_t len) {
    if (!m->slots) return -1;
    uint32_t h = hash_bytes(FNV_OFFSET, key, len);
    for (size_t j = h & m->mask; m->slots[j]; j = (j + 1) & m->mask) {
        const struct tok_map_entry *e = &m->entries[m->slots[j] - 1];
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) return e->val;
    }
    return -1;
}

int32_t tok_map_get_pair(const tok_map *m, const char *a, size_t alen, const char *b, size_t blen) {
    if (!m->slots) return -1;
    uint64_t s = hash_state(a, alen, FNV_OFFSET);
    s = hash_state("\xFF", 1, s);
    uint32_t h = hash_bytes(s, b, blen);
    size_t len = alen + 1 + blen;
    for (size_t j = h & m->mask; m->slots[j]; j = (j + 1) & m->mask) {
        const struct tok_map_entry *e = &m->entries[m->slots[j] - 1];
        if (e->hash == h && e->len == len && memcmp(e->key, a, alen) == 0 && e->key[alen] == '\xFF' &&
            memcmp(e->key + alen + 1, b, blen) == 0)
            return e->val;
    }
    return -1;
}

void tok_ids_push(tok_ids *o, int32_t id) {
    if (o->oom) return;
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 64;
        int32_t *nv = realloc(o->v, nc * sizeof *nv);
        if (!nv) {
            o->oom = true;
            return;
        }
        o->v = nv;
        o->cap = nc;
    }
    o->v[o->n++] = id;
}
