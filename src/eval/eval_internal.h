/* eval_internal.h — private pieces shared by the retrieval-evaluation files
 * of src/eval/: string interning and integer hash maps (open addressing,
 * power-of-two tables), whole-file reading and line/field splitting, and
 * the internal layout of onc_qrels / onc_run that the metric code reads.
 * Not a public header: only the files of src/eval/ include it. */
#ifndef ONCOLM_EVAL_INTERNAL_H
#define ONCOLM_EVAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/eval_retrieval.h"
#include "oncolm/status.h"

/* ---- string table: string -> dense index ------------------------------------------ */

typedef struct ir_strtab {
    const char **strs; /* index -> string (not owned) */
    int64_t n, cap;
    uint64_t *slots; /* 0 empty, else (index + 1) << 32 | 32-bit hash; length mask + 1 */
    size_t mask;
} ir_strtab;

/* 32-bit hash of a NUL-terminated string (FNV-1a 64 with a final mix,
 * top half); also selects the slot, so a probe compares strings only when
 * the hashes agree. */
uint32_t ir_hash_str(const char *s);
/* Index of s, adding it (the pointer is kept, not copied) when new;
 * *is_new (may be NULL) says which. -1 when out of memory or the table
 * would exceed INT32_MAX entries. */
int64_t ir_strtab_intern(ir_strtab *t, const char *s, bool *is_new);
/* Index of s or -1. */
int64_t ir_strtab_find(const ir_strtab *t, const char *s);
void ir_strtab_free(ir_strtab *t);

/* ---- u64 -> i64 map (key 0 reserved) --------------------------------------------------- */

typedef struct ir_u64map {
    uint64_t *keys; /* 0 = empty */
    int64_t *vals;
    size_t mask, n;
} ir_u64map;

/* Key of a (query index, document index) pair: never 0. */
static inline uint64_t ir_pair_key(int64_t q, int64_t d) { return ((uint64_t)(q + 1) << 32) | (uint64_t)d; }
/* Insert key -> val. Returns 1 when inserted, 0 when the key was present
 * (*existing receives its value, the map is unchanged), -1 out of memory. */
int ir_u64map_put(ir_u64map *m, uint64_t key, int64_t val, int64_t *existing);
/* Value of key or -1. */
int64_t ir_u64map_get(const ir_u64map *m, uint64_t key);
void ir_u64map_free(ir_u64map *m);

/* ---- files and lines -------------------------------------------------------------------- */

/* Whole file into a malloc()ed buffer with a NUL after the last byte.
 * NULL with err (ONC_ERR_IO naming path) on failure. */
char *ir_read_file(const char *path, size_t *len, onc_error *err);
/* malloc()ed copy of data[0..len) plus a NUL; NULL when out of memory. */
char *ir_copy_buf(const char *data, size_t len);
/* ONC_ERR_FORMAT "name:LINE: NUL byte in text" when buf[0..len) holds a NUL. */
onc_status ir_check_no_nul(const char *buf, size_t len, const char *name, onc_error *err);

/* Line cursor over a mutable NUL-terminated buffer: each call cuts the next
 * line in place (the '\n' and a trailing '\r' become NULs) and returns it,
 * with *lineno its 1-based number; NULL at the end. */
typedef struct ir_lines {
    char *p, *end;
    int64_t lineno;
} ir_lines;
void ir_lines_init(ir_lines *it, char *buf, size_t len);
char *ir_lines_next(ir_lines *it);
/* Whether a line holds only spaces/tabs (or nothing). */
bool ir_blank(const char *s);

/* Split a line in place on runs of spaces/tabs/\v/\f: stores up to max
 * field pointers, returns the total count of fields. */
int ir_split_ws(char *line, char **fields, int max);
/* Split a line in place on single tabs (empty fields kept); returns the
 * total count of fields, storing up to max. */
int ir_split_tab(char *line, char **fields, int max);
/* Parse a whole-string decimal integer (optional sign) into *v. */
bool ir_parse_i64(const char *s, int64_t *v);

/* ---- object layouts ---------------------------------------------------------------------- */

typedef struct ir_judgement {
    int32_t q, d; /* query and document indexes in the qrels tables */
    int64_t rel;
} ir_judgement;

struct onc_qrels {
    char *buf;
    ir_strtab qids, docs;
    ir_u64map pairs; /* (q, d) -> judgement index */
    ir_judgement *j; /* file order */
    int64_t n_j;
    int64_t *by_q;    /* judgement indexes grouped by query: by_q[q_start[q] .. q_start[q+1]) */
    int64_t *q_start; /* qids.n + 1 */
    int64_t *order;   /* query indexes in strcmp order of qid */
};

typedef struct ir_run_doc {
    const char *docno;
    double sim;
    int64_t line;
} ir_run_doc;

struct onc_run {
    char *buf;
    const char *tag;
    bool sim_double;
    ir_strtab qids;
    int64_t n_lines;
    ir_run_doc *e;    /* grouped by query (q_start), each group in trec_eval rank order */
    int64_t *q_start; /* qids.n + 1 */
    int64_t *order;   /* query indexes in strcmp order */
};

/* Indexes 0..n-1 sorted by strcmp of tab->strs (malloc()ed; NULL if OOM). */
int64_t *ir_sorted_order(const ir_strtab *tab);

#endif /* ONCOLM_EVAL_INTERNAL_H */
