/* store_ingest.c — reading notes from JSONL, BEIR corpora, CSV and folders
 * of .txt files into the store (see onc_store_ingest in oncolm/store.h). */
#include "store_impl.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ingest {
    onc_store *s;
    const char *path; /* file being read, for messages */
    int32_t batch;
    int32_t in_batch;
    onc_ingest_counts *counts; /* committed notes only */
    onc_ingest_counts pending; /* notes of the batch in flight */
    onc_error *err;
} ingest;

static onc_status ingest_commit(ingest *g) {
    const onc_status rc = onc_store_commit(g->s, g->err);
    if (rc) return rc;
    g->counts->notes += g->pending.notes;
    g->counts->replaced += g->pending.replaced;
    g->counts->bytes += g->pending.bytes;
    memset(&g->pending, 0, sizeof g->pending);
    g->in_batch = 0;
    return ONC_OK;
}

/* Put one note, committing every `batch` notes. */
static onc_status ingest_note(ingest *g, const onc_note *nt, size_t line) {
    onc_status rc = onc_store_begin(g->s, g->err);
    bool replaced = false;
    if (!rc) rc = store_put(g->s, nt, &replaced, g->err);
    if (rc) {
        if (line) onc_error_prefix(g->err, "%s:%zu", g->path, line);
        else onc_error_prefix(g->err, "%s", g->path);
        return rc;
    }
    g->pending.notes++;
    g->pending.replaced += replaced;
    g->pending.bytes += (int64_t)nt->text_len;
    if (++g->in_batch >= g->batch) {
        rc = ingest_commit(g);
        if (!rc && g->s->progress) g->s->progress(g->s->progress_ctx, "ingesting notes", g->counts->notes, 0);
    }
    return rc;
}

static const char *json_str(json_t *o, const char *const *keys) {
    for (; *keys; keys++) {
        json_t *v = json_object_get(o, *keys);
        if (json_is_string(v)) return json_string_value(v);
    }
    return NULL;
}

/* A field from the object itself or its "metadata" object; numbers are
 * accepted for ids (written into buf). */
static const char *field(json_t *o, json_t *meta, const char *const *keys, char *buf, size_t cap) {
    for (int pass = 0; pass < 2; pass++) {
        json_t *src = pass == 0 ? o : meta;
        if (!json_is_object(src)) continue;
        const char *v = json_str(src, keys);
        if (v) return v;
        for (const char *const *k = keys; *k; k++) {
            json_t *x = json_object_get(src, *k);
            if (json_is_integer(x)) {
                snprintf(buf, cap, "%lld", (long long)json_integer_value(x));
                return buf;
            }
        }
    }
    return NULL;
}

static const char *const k_id[] = {"id", "_id", "note_id", "doc_id", NULL};
static const char *const k_patient[] = {"patient", "patient_id", NULL};
static const char *const k_date[] = {"date", "note_date", NULL};
static const char *const k_type[] = {"type", "note_type", NULL};

static onc_status ingest_json_line(ingest *g, const char *line, size_t len, size_t lineno) {
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!o) return onc_error_set(g->err, ONC_ERR_FORMAT, "%s:%zu: %s", g->path, lineno, je.text);
    onc_status rc = ONC_OK;
    char idbuf[32], pbuf[32];
    json_t *meta = json_object_get(o, "metadata");
    const char *id = field(o, meta, k_id, idbuf, sizeof idbuf);
    json_t *text = json_object_get(o, "text");
    if (!json_is_object(o)) {
        rc = onc_error_set(g->err, ONC_ERR_FORMAT, "%s:%zu: expected a JSON object", g->path, lineno);
    } else if (!id || !*id) {
        rc = onc_error_set(g->err, ONC_ERR_FORMAT, "%s:%zu: no \"id\" (or \"_id\")", g->path, lineno);
    } else if (!json_is_string(text)) {
        rc = onc_error_set(g->err, ONC_ERR_FORMAT, "%s:%zu: no \"text\" string", g->path, lineno);
    } else if (meta && !json_is_object(meta)) {
        rc = onc_error_set(g->err, ONC_ERR_FORMAT, "%s:%zu: \"metadata\" is not an object", g->path, lineno);
    }
    char *joined = NULL, *meta_json = NULL;
    if (!rc) {
        const char *t = json_string_value(text);
        size_t tlen = json_string_length(text);
        const char *title = json_str(o, (const char *const[]){"title", NULL});
        if (title && *title) { /* BEIR: title, then text */
            const size_t hl = strlen(title);
            joined = malloc(hl + 1 + tlen + 1);
            if (!joined) return json_decref(o), onc_error_set(g->err, ONC_ERR_NOMEM, "out of memory");
            memcpy(joined, title, hl);
            joined[hl] = '\n';
            memcpy(joined + hl + 1, t, tlen);
            joined[hl + 1 + tlen] = '\0';
            t = joined;
            tlen += hl + 1;
        }
        if (meta) meta_json = json_dumps(meta, JSON_COMPACT | JSON_ENSURE_ASCII);
        const onc_note nt = {.id = id,
                             .patient = field(o, meta, k_patient, pbuf, sizeof pbuf),
                             .date = field(o, meta, k_date, NULL, 0),
                             .type = field(o, meta, k_type, NULL, 0),
                             .text = t,
                             .text_len = tlen,
                             .metadata_json = meta_json};
        rc = ingest_note(g, &nt, lineno);
    }
    free(joined);
    free(meta_json);
    json_decref(o);
    return rc;
}

static onc_status ingest_jsonl(ingest *g) {
    FILE *f = fopen(g->path, "rb");
    if (!f) return onc_error_set(g->err, ONC_ERR_IO, "%s: cannot open: %s", g->path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    onc_status rc = ONC_OK;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == len) continue;
        rc = ingest_json_line(g, line, len, lineno);
    }
    if (!rc && ferror(f)) rc = onc_error_set(g->err, ONC_ERR_IO, "%s: read error", g->path);
    free(line);
    fclose(f);
    return rc;
}

/* --- CSV (RFC 4180) ------------------------------------------------------- */

typedef struct csv_row {
    char **field;
    size_t n, cap;
    char *buf;
    size_t len, bcap;
} csv_row;

static bool buf_put(csv_row *r, char c) {
    if (r->len + 1 >= r->bcap) {
        const size_t cap = r->bcap ? r->bcap * 2 : 256;
        char *b = realloc(r->buf, cap);
        if (!b) return false;
        r->buf = b;
        r->bcap = cap;
    }
    r->buf[r->len++] = c;
    return true;
}

/* Read one record; fields are offsets into r->buf until the end, then
 * pointers. Returns 1 on a record, 0 at EOF, -1 on error (err set). */
static int csv_read(FILE *f, csv_row *r, size_t *lineno, const char *path, onc_error *err) {
    r->n = 0;
    r->len = 0;
    size_t starts[256];
    size_t n_fields = 0;
    int c = fgetc(f);
    if (c == EOF) return 0;
    const size_t first_line = *lineno + 1;
    (*lineno)++;
    starts[n_fields++] = 0;
    bool quoted = false, was_quoted = false;
    for (;; c = fgetc(f)) {
        if (c == EOF) {
            if (quoted) {
                onc_error_set(err, ONC_ERR_FORMAT, "%s:%zu: unterminated quoted field", path, first_line);
                return -1;
            }
            break;
        }
        if (quoted) {
            if (c == '"') {
                const int d = fgetc(f);
                if (d == '"') {
                    if (!buf_put(r, '"')) goto nomem;
                    continue;
                }
                quoted = false;
                c = d;
                if (c == EOF) break;
            } else {
                if (c == '\n') (*lineno)++;
                if (!buf_put(r, (char)c)) goto nomem;
                continue;
            }
        }
        if (c == '"' && !was_quoted && r->len == starts[n_fields - 1]) {
            quoted = was_quoted = true;
            continue;
        }
        if (c == ',') {
            if (!buf_put(r, '\0')) goto nomem;
            if (n_fields == 256) {
                onc_error_set(err, ONC_ERR_FORMAT, "%s:%zu: more than 256 fields", path, first_line);
                return -1;
            }
            starts[n_fields++] = r->len;
            was_quoted = false;
            continue;
        }
        if (c == '\r') {
            const int d = fgetc(f);
            if (d != '\n' && d != EOF) ungetc(d, f);
            break;
        }
        if (c == '\n') break;
        if (!buf_put(r, (char)c)) goto nomem;
    }
    if (!buf_put(r, '\0')) goto nomem;
    if (r->cap < n_fields) {
        char **v = realloc(r->field, n_fields * sizeof *v);
        if (!v) goto nomem;
        r->field = v;
        r->cap = n_fields;
    }
    for (size_t i = 0; i < n_fields; i++) r->field[i] = r->buf + starts[i];
    r->n = n_fields;
    return 1;
nomem:
    onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    return -1;
}

static int column_of(const csv_row *h, const char *const *names) {
    for (size_t i = 0; i < h->n; i++)
        for (const char *const *k = names; *k; k++)
            if (strcasecmp(h->field[i], *k) == 0) return (int)i;
    return -1;
}

static onc_status ingest_csv(ingest *g) {
    FILE *f = fopen(g->path, "rb");
    if (!f) return onc_error_set(g->err, ONC_ERR_IO, "%s: cannot open: %s", g->path, strerror(errno));
    csv_row head = {0}, row = {0};
    size_t lineno = 0;
    onc_status rc = ONC_OK;
    const int got = csv_read(f, &head, &lineno, g->path, g->err);
    if (got < 0) rc = g->err ? g->err->code : ONC_ERR_FORMAT;
    if (got == 0) rc = onc_error_set(g->err, ONC_ERR_FORMAT, "%s: empty file (expected a header row)", g->path);
    int c_id = -1, c_text = -1, c_pat = -1, c_date = -1, c_type = -1;
    if (!rc) {
        c_id = column_of(&head, k_id);
        c_text = column_of(&head, (const char *const[]){"text", "note_text", NULL});
        c_pat = column_of(&head, k_patient);
        c_date = column_of(&head, k_date);
        c_type = column_of(&head, k_type);
        if (c_id < 0 || c_text < 0)
            rc = onc_error_set(g->err, ONC_ERR_FORMAT, "%s:1: the header needs \"id\" and \"text\" columns", g->path);
    }
    while (!rc) {
        const size_t at = lineno + 1;
        const int r = csv_read(f, &row, &lineno, g->path, g->err);
        if (r == 0) break;
        if (r < 0) {
            rc = g->err ? g->err->code : ONC_ERR_FORMAT;
            break;
        }
        if (row.n == 1 && row.field[0][0] == '\0') continue; /* blank line */
        if (row.n != head.n) {
            rc = onc_error_set(g->err, ONC_ERR_FORMAT, "%s:%zu: %zu fields, the header has %zu", g->path, at, row.n,
                               head.n);
            break;
        }
        const onc_note nt = {.id = row.field[c_id],
                             .patient = c_pat >= 0 ? row.field[c_pat] : NULL,
                             .date = c_date >= 0 ? row.field[c_date] : NULL,
                             .type = c_type >= 0 ? row.field[c_type] : NULL,
                             .text = row.field[c_text],
                             .text_len = strlen(row.field[c_text])};
        rc = ingest_note(g, &nt, at);
    }
    free(head.field);
    free(head.buf);
    free(row.field);
    free(row.buf);
    fclose(f);
    return rc;
}

/* --- folders of .txt -------------------------------------------------------- */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static onc_status ingest_dir(ingest *g, const char *top, const char *rel, int depth);

/* One folder entry: recurse into folders, ingest .txt files, skip the rest. */
static onc_status ingest_entry(ingest *g, const char *top, const char *path, char *sub, const char *name,
                               const char *patient, int depth) {
    struct stat sb;
    if (stat(path, &sb) != 0) return ONC_OK;
    if (S_ISDIR(sb.st_mode)) return ingest_dir(g, top, sub, depth + 1);
    const size_t nl = strlen(name);
    if (!S_ISREG(sb.st_mode) || nl < 5 || strcmp(name + nl - 4, ".txt") != 0) return ONC_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return onc_error_set(g->err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = malloc((size_t)sb.st_size + 1);
    const size_t got = text ? fread(text, 1, (size_t)sb.st_size, f) : 0;
    fclose(f);
    if (!text || got != (size_t)sb.st_size) {
        free(text);
        return onc_error_set(g->err, ONC_ERR_IO, "%s: read error", path);
    }
    sub[strlen(sub) - 4] = '\0'; /* id without .txt */
    const onc_note nt = {.id = sub, .patient = patient, .text = text, .text_len = got};
    const char *saved = g->path;
    g->path = path;
    const onc_status rc = ingest_note(g, &nt, 0);
    g->path = saved;
    free(text);
    return rc;
}

/* Walk dir (rel = its path below the top, "" at the top) in name order. */
static onc_status ingest_dir(ingest *g, const char *top, const char *rel, int depth) {
    if (depth > 16) return onc_error_set(g->err, ONC_ERR_INVALID, "%s/%s: folders nested too deep", top, rel);
    char *dir = NULL;
    if (asprintf(&dir, "%s%s%s", top, *rel ? "/" : "", rel) < 0) return onc_error_set(g->err, ONC_ERR_NOMEM, "out of memory");
    DIR *d = opendir(dir);
    if (!d) {
        onc_error_set(g->err, ONC_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
        free(dir);
        return ONC_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    onc_status rc = ONC_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            char **v = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *v);
            if (!v) {
                rc = onc_error_set(g->err, ONC_ERR_NOMEM, "out of memory");
                break;
            }
            names = v;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = onc_error_set(g->err, ONC_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc) qsort(names, n, sizeof *names, by_name);
    const char *patient = NULL;
    if (*rel) {
        const char *slash = strrchr(rel, '/');
        patient = slash ? slash + 1 : rel;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        char *path = NULL, *sub = NULL;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0) path = NULL;
        if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0) sub = NULL;
        if (!path || !sub) {
            free(path);
            free(sub);
            rc = onc_error_set(g->err, ONC_ERR_NOMEM, "out of memory");
            break;
        }
        rc = ingest_entry(g, top, path, sub, names[i], patient, depth);
        free(path);
        free(sub);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(dir);
    return rc;
}

static bool ends_with(const char *s, const char *suffix) {
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

onc_status onc_store_ingest(onc_store *s, const char *path, onc_ingest_format format, int32_t batch,
                            onc_ingest_counts *counts, onc_error *err) {
    memset(counts, 0, sizeof *counts);
    struct stat sb;
    if (stat(path, &sb) != 0) return onc_error_set(err, ONC_ERR_IO, "%s: %s", path, strerror(errno));
    char corpus[4096];
    snprintf(corpus, sizeof corpus, "%s/corpus.jsonl", path);
    if (format == ONC_INGEST_AUTO) {
        if (S_ISDIR(sb.st_mode))
            format = access(corpus, R_OK) == 0 ? ONC_INGEST_BEIR : ONC_INGEST_TXT;
        else if (ends_with(path, ".jsonl") || ends_with(path, ".json") || ends_with(path, ".ndjson"))
            format = ONC_INGEST_JSONL;
        else if (ends_with(path, ".csv"))
            format = ONC_INGEST_CSV;
        else
            return onc_error_set(err, ONC_ERR_INVALID,
                                 "%s: cannot tell the format from the name (use --format jsonl|csv|beir|txt)", path);
    }
    ingest g = {s, path, batch > 0 ? batch : 1000, 0, counts, {0}, err};
    onc_status rc;
    switch (format) {
    case ONC_INGEST_BEIR:
        if (!S_ISDIR(sb.st_mode)) return onc_error_set(err, ONC_ERR_INVALID, "%s: a BEIR corpus is a folder", path);
        g.path = corpus;
        rc = ingest_jsonl(&g);
        break;
    case ONC_INGEST_TXT:
        if (!S_ISDIR(sb.st_mode))
            return onc_error_set(err, ONC_ERR_INVALID, "%s: --format txt reads a folder of .txt files", path);
        rc = ingest_dir(&g, path, "", 0);
        break;
    case ONC_INGEST_CSV:
        rc = ingest_csv(&g);
        break;
    default:
        rc = ingest_jsonl(&g);
        break;
    }
    if (rc) {
        onc_store_rollback(s);
        /* the batch in flight is lost; committed ones stay */
        return rc;
    }
    return ingest_commit(&g);
}
