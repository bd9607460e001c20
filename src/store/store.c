/* store.c — the note store's database: schema, ingest, delete, stats and
 * consistency check (see oncolm/store.h). */
#include "store_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oncolm/utf8.h"

#define STORE_FORMAT "oncolm-store"
#define STORE_SCHEMA "1"

static const char *schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE patients(id TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE notes(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, patient TEXT, date TEXT, type TEXT,"
    "  text TEXT NOT NULL, metadata TEXT);"
    "CREATE INDEX notes_patient ON notes(patient, date);"
    "CREATE INDEX notes_type ON notes(type, date);"
    "CREATE INDEX notes_date ON notes(date);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY AUTOINCREMENT, note INTEGER NOT NULL, ordinal INTEGER NOT NULL,"
    "  start INTEGER NOT NULL, end INTEGER NOT NULL, head_start INTEGER NOT NULL, head_end INTEGER NOT NULL,"
    "  tokens INTEGER NOT NULL);"
    "CREATE INDEX chunks_note ON chunks(note, ordinal);"
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, tags, content='',"
    "  tokenize='porter unicode61 remove_diacritics 2');"
    "CREATE TABLE vectors(chunk INTEGER PRIMARY KEY, vec BLOB NOT NULL);"
    /* chunks deleted since the vector index was last written: removed from
     * it on the next incremental update (only kept once dense search is set up) */
    "CREATE TABLE deleted_chunks(chunk INTEGER PRIMARY KEY);";

onc_status store_sql_error(onc_store *s, const char *what, onc_error *err) {
    return onc_error_set(err, ONC_ERR_IO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

onc_status store_exec(onc_store *s, const char *sql, onc_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        onc_error_set(err, ONC_ERR_IO, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return ONC_ERR_IO;
    }
    return ONC_OK;
}

sqlite3_stmt *store_prepare(onc_store *s, const char *sql, onc_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_sql_error(s, "preparing a statement", err);
        return NULL;
    }
    return st;
}

char *store_meta_get(onc_store *s, const char *key) {
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        v = t ? strdup(t) : NULL;
    }
    sqlite3_finalize(st);
    return v;
}

onc_status store_meta_set(onc_store *s, const char *key, const char *value, onc_error *err) {
    sqlite3_stmt *st = store_prepare(s, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", err);
    if (!st) return ONC_ERR_IO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? ONC_OK : store_sql_error(s, "writing meta", err);
}

int64_t store_meta_int(onc_store *s, const char *key, int64_t fallback) {
    char *v = store_meta_get(s, key);
    if (!v) return fallback;
    char *end = NULL;
    const long long x = strtoll(v, &end, 10);
    const bool ok = end && end != v && *end == '\0';
    free(v);
    return ok ? (int64_t)x : fallback;
}

static void hex_tag(char kind, char prefix, const char *value, char *buf, size_t cap) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap < 8) {
        if (cap) buf[0] = '\0';
        return;
    }
    buf[o++] = prefix;
    buf[o++] = kind;
    for (const unsigned char *p = (const unsigned char *)value; *p && o + 5 < cap; p++) {
        buf[o++] = hex[*p >> 4];
        buf[o++] = hex[*p & 15];
    }
    buf[o++] = 'g'; /* ends in "g0": no Porter rule touches a final digit */
    buf[o++] = '0';
    buf[o] = '\0';
}

void store_tag(char kind, const char *value, char *buf, size_t cap) { hex_tag(kind, 'x', value, buf, cap); }

void store_tags(const char *patient, const char *type, char *buf, size_t cap) {
    char a[160], b[80];
    hex_tag('p', 'x', patient ? patient : "", a, sizeof a);
    hex_tag('t', 'x', type ? type : "", b, sizeof b);
    snprintf(buf, cap, "%s %s", a, b);
}

static onc_status check_store(onc_store *s, onc_error *err) {
    char *fmt = store_meta_get(s, "format");
    char *schema = store_meta_get(s, "schema");
    onc_status rc = ONC_OK;
    if (!fmt || strcmp(fmt, STORE_FORMAT) != 0)
        rc = onc_error_set(err, ONC_ERR_FORMAT, "%s: not an oncolm note store", s->path);
    else if (!schema || strcmp(schema, STORE_SCHEMA) != 0)
        rc = onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: store schema %s; this oncolm reads schema %s", s->path,
                           schema ? schema : "?", STORE_SCHEMA);
    free(fmt);
    free(schema);
    return rc;
}

static onc_status create_schema(onc_store *s, const onc_chunk_params *cp, onc_error *err) {
    onc_status rc = store_exec(s, "BEGIN IMMEDIATE", err);
    if (rc) return rc;
    rc = store_exec(s, schema_sql, err);
    char v[32];
    if (!rc) rc = store_meta_set(s, "format", STORE_FORMAT, err);
    if (!rc) rc = store_meta_set(s, "schema", STORE_SCHEMA, err);
    if (!rc) rc = store_meta_set(s, "generation", "0", err);
    snprintf(v, sizeof v, "%d", (int)cp->max_tokens);
    if (!rc) rc = store_meta_set(s, "chunk_max_tokens", v, err);
    snprintf(v, sizeof v, "%d", (int)cp->overlap);
    if (!rc) rc = store_meta_set(s, "chunk_overlap", v, err);
    if (!rc) rc = store_meta_set(s, "chunk_sections", cp->sections ? "1" : "0", err);
    if (!rc) rc = store_exec(s, "COMMIT", err);
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static onc_status prepare_statements(onc_store *s, onc_error *err) {
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } list[] = {
        {&s->st_find_note, "SELECT rowid FROM notes WHERE id = ?1"},
        {&s->st_insert_note,
         "INSERT INTO notes(id, patient, date, type, text, metadata) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
        {&s->st_insert_chunk, "INSERT INTO chunks(note, ordinal, start, end, head_start, head_end, tokens)"
                              " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&s->st_insert_fts, "INSERT INTO chunks_fts(rowid, text, tags) VALUES(?1, ?2, ?3)"},
        {&s->st_patient, "INSERT OR IGNORE INTO patients(id) VALUES(?1)"},
        {&s->st_bump, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (!(*list[i].st = store_prepare(s, list[i].sql, err))) return ONC_ERR_IO;
    return ONC_OK;
}

onc_store *onc_store_open(const char *path, bool create, const onc_chunk_params *chunking, onc_error *err) {
    struct stat sb;
    const bool exists = stat(path, &sb) == 0;
    if (!exists && !create) {
        onc_error_set(err, ONC_ERR_NOT_FOUND, "%s: no such note store (create one with `oncolm index build`)", path);
        return NULL;
    }
    if (exists && !S_ISREG(sb.st_mode)) {
        onc_error_set(err, ONC_ERR_IO, "%s: not a regular file", path);
        return NULL;
    }
    onc_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    const size_t n = strlen(path) + 8;
    s->index_path = malloc(n);
    if (!s->index_path) {
        onc_store_close(s);
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(s->index_path, n, "%s.faiss", path);
    s->ix_generation = -1;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        onc_store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    /* Fails with "file is not a database" on foreign files. */
    onc_status rc = store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"
                                  "PRAGMA cache_size=-65536",
                               err);
    if (!rc) {
        sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM sqlite_master", err);
        int64_t n_tables = -1;
        if (st && sqlite3_step(st) == SQLITE_ROW) n_tables = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (n_tables < 0) {
            rc = err && err->code ? err->code : store_sql_error(s, "reading the schema", err);
        } else if (n_tables == 0) {
            if (!create) {
                rc = onc_error_set(err, ONC_ERR_FORMAT, "%s: not an oncolm note store (empty database)", path);
            } else {
                const onc_chunk_params cp = chunking ? *chunking : onc_chunk_default_params();
                onc_chunk *tmp = NULL;
                size_t nt = 0;
                rc = onc_chunk_text("x", 1, &cp, &tmp, &nt, err); /* validates the parameters */
                free(tmp);
                if (!rc) rc = create_schema(s, &cp, err);
            }
        } else {
            rc = check_store(s, err);
        }
    }
    if (!rc) {
        s->chunking = onc_chunk_default_params();
        s->chunking.max_tokens = (int32_t)store_meta_int(s, "chunk_max_tokens", 256);
        s->chunking.overlap = (int32_t)store_meta_int(s, "chunk_overlap", 32);
        s->chunking.sections = store_meta_int(s, "chunk_sections", 1) != 0;
        char *dm = store_meta_get(s, "dense_model");
        s->dense_setup = dm != NULL;
        free(dm);
        rc = prepare_statements(s, err);
    }
    if (rc) {
        onc_store_close(s);
        return NULL;
    }
    return s;
}

void onc_store_close(onc_store *s) {
    if (!s) return;
    if (s->in_tx) onc_store_rollback(s);
    store_dense_free(s);
    sqlite3_stmt *all[] = {s->st_find_note, s->st_insert_note, s->st_insert_chunk,
                           s->st_insert_fts, s->st_patient,     s->st_bump};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
    if (s->db) sqlite3_close(s->db);
    free(s->path);
    free(s->index_path);
    free(s);
}

void onc_store_set_progress(onc_store *s, onc_progress_fn fn, void *ctx) {
    s->progress = fn;
    s->progress_ctx = ctx;
}

onc_status onc_store_begin(onc_store *s, onc_error *err) {
    if (s->in_tx) return ONC_OK;
    onc_status rc = store_exec(s, "BEGIN IMMEDIATE", err);
    if (!rc) rc = sqlite3_step(s->st_bump) == SQLITE_DONE ? ONC_OK : store_sql_error(s, "bumping generation", err);
    sqlite3_reset(s->st_bump);
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    s->in_tx = true;
    return ONC_OK;
}

onc_status onc_store_commit(onc_store *s, onc_error *err) {
    if (!s->in_tx) return ONC_OK;
    const onc_status rc = store_exec(s, "COMMIT", err);
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
    return rc;
}

void onc_store_rollback(onc_store *s) {
    if (!s->in_tx) return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
}

/* Close a transaction the caller opened itself (own_tx): commit on success,
 * roll back on failure. Returns the resulting status. */
static onc_status end_own_tx(onc_store *s, bool own_tx, onc_status rc, onc_error *err) {
    if (!own_tx) return rc;
    if (rc) {
        onc_store_rollback(s);
        return rc;
    }
    return onc_store_commit(s, err);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v) {
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Remove one note (by rowid) with its chunks, FTS entries and vectors, and
 * its patient when it was the patient's last note. */
static onc_status delete_note_rowid(onc_store *s, int64_t rowid, onc_error *err) {
    sqlite3_stmt *q = store_prepare(s, "SELECT patient, type, text FROM notes WHERE rowid = ?1", err);
    if (!q) return ONC_ERR_IO;
    sqlite3_bind_int64(q, 1, rowid);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        return ONC_OK;
    }
    char *patient = sqlite3_column_text(q, 0) ? strdup((const char *)sqlite3_column_text(q, 0)) : NULL;
    char tags[256];
    store_tags(patient, (const char *)sqlite3_column_text(q, 1), tags, sizeof tags);
    const char *text = (const char *)sqlite3_column_text(q, 2);
    onc_status rc = ONC_OK;
    sqlite3_stmt *c = store_prepare(s, "SELECT id, start, end, head_start, head_end FROM chunks WHERE note = ?1", err);
    sqlite3_stmt *d = c ? store_prepare(s, "INSERT INTO chunks_fts(chunks_fts, rowid, text, tags)"
                                           " VALUES('delete', ?1, ?2, ?3)",
                                        err)
                        : NULL;
    if (!c || !d) rc = ONC_ERR_IO;
    if (!rc) sqlite3_bind_int64(c, 1, rowid);
    while (!rc && sqlite3_step(c) == SQLITE_ROW) {
        const onc_chunk ch = {(uint32_t)sqlite3_column_int64(c, 1), (uint32_t)sqlite3_column_int64(c, 2),
                              (uint32_t)sqlite3_column_int64(c, 3), (uint32_t)sqlite3_column_int64(c, 4), 0};
        size_t len = 0;
        char *str = onc_chunk_str(text, &ch, &len);
        if (!str) {
            rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
            break;
        }
        sqlite3_bind_int64(d, 1, sqlite3_column_int64(c, 0));
        sqlite3_bind_text(d, 2, str, (int)len, free);
        sqlite3_bind_text(d, 3, tags, -1, SQLITE_STATIC);
        if (sqlite3_step(d) != SQLITE_DONE) rc = store_sql_error(s, "removing a chunk from the text index", err);
        sqlite3_reset(d);
    }
    sqlite3_finalize(c);
    sqlite3_finalize(d);
    sqlite3_finalize(q);
    char sql[512];
    int o = 0;
    if (s->dense_setup)
        o = snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO deleted_chunks(chunk) SELECT id FROM chunks WHERE note = %lld;",
                     (long long)rowid);
    snprintf(sql + o, sizeof sql - (size_t)o,
             "DELETE FROM vectors WHERE chunk IN (SELECT id FROM chunks WHERE note = %lld);"
             "DELETE FROM chunks WHERE note = %lld; DELETE FROM notes WHERE rowid = %lld;",
             (long long)rowid, (long long)rowid, (long long)rowid);
    if (!rc) rc = store_exec(s, sql, err);
    if (!rc && patient) {
        sqlite3_stmt *p = store_prepare(
            s, "DELETE FROM patients WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM notes WHERE patient = ?1)", err);
        if (!p) rc = ONC_ERR_IO;
        if (p) {
            sqlite3_bind_text(p, 1, patient, -1, SQLITE_STATIC);
            if (sqlite3_step(p) != SQLITE_DONE) rc = store_sql_error(s, "updating patients", err);
            sqlite3_finalize(p);
        }
    }
    free(patient);
    return rc;
}

static int64_t find_note(onc_store *s, const char *id) {
    sqlite3_bind_text(s->st_find_note, 1, id, -1, SQLITE_STATIC);
    const int64_t rowid = sqlite3_step(s->st_find_note) == SQLITE_ROW ? sqlite3_column_int64(s->st_find_note, 0) : 0;
    sqlite3_reset(s->st_find_note);
    return rowid;
}

static bool valid_utf8(const char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        const size_t k = onc_utf8_seq_len((const unsigned char *)p + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

static onc_status check_field(const char *id, const char *name, const char *v, size_t max, onc_error *err) {
    if (v && strlen(v) > max)
        return onc_error_set(err, ONC_ERR_INVALID, "note %.64s: %s longer than %zu bytes", id, name, max);
    if (v && !valid_utf8(v, strlen(v)))
        return onc_error_set(err, ONC_ERR_FORMAT, "note %.64s: %s is not valid UTF-8", id, name);
    return ONC_OK;
}

onc_status onc_store_put(onc_store *s, const onc_note *nt, onc_error *err) { return store_put(s, nt, NULL, err); }

onc_status store_put(onc_store *s, const onc_note *nt, bool *replaced, onc_error *err) {
    if (!nt->id || !*nt->id) return onc_error_set(err, ONC_ERR_INVALID, "a note without an id");
    onc_status rc = check_field(nt->id, "id", nt->id, 127, err);
    if (!rc) rc = check_field(nt->id, "patient id", nt->patient, 63, err);
    if (!rc) rc = check_field(nt->id, "type", nt->type, 31, err);
    if (!rc) rc = check_field(nt->id, "date", nt->date, 31, err);
    if (rc) return rc;
    if (!valid_utf8(nt->text, nt->text_len))
        return onc_error_set(err, ONC_ERR_FORMAT, "note %.64s: text is not valid UTF-8", nt->id);
    if (memchr(nt->text, '\0', nt->text_len))
        return onc_error_set(err, ONC_ERR_FORMAT, "note %.64s: text contains a NUL byte", nt->id);
    onc_chunk *ch = NULL;
    size_t n_ch = 0;
    rc = onc_chunk_text(nt->text, nt->text_len, &s->chunking, &ch, &n_ch, err);
    if (rc) return onc_error_prefix(err, "note %.64s", nt->id), rc;
    const bool own_tx = !s->in_tx;
    if (own_tx && (rc = onc_store_begin(s, err))) return free(ch), rc;

    const int64_t old = find_note(s, nt->id);
    if (replaced) *replaced = old != 0;
    if (old) rc = delete_note_rowid(s, old, err);
    int64_t rowid = 0;
    if (!rc) {
        sqlite3_stmt *st = s->st_insert_note;
        sqlite3_bind_text(st, 1, nt->id, -1, SQLITE_STATIC);
        bind_opt(st, 2, nt->patient);
        bind_opt(st, 3, nt->date);
        bind_opt(st, 4, nt->type);
        sqlite3_bind_text(st, 5, nt->text, (int)nt->text_len, SQLITE_STATIC);
        bind_opt(st, 6, nt->metadata_json);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_sql_error(s, "inserting a note", err);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        rowid = sqlite3_last_insert_rowid(s->db);
    }
    if (!rc && nt->patient && *nt->patient) {
        sqlite3_bind_text(s->st_patient, 1, nt->patient, -1, SQLITE_STATIC);
        if (sqlite3_step(s->st_patient) != SQLITE_DONE) rc = store_sql_error(s, "inserting a patient", err);
        sqlite3_reset(s->st_patient);
    }
    char tags[256];
    store_tags(nt->patient, nt->type, tags, sizeof tags);
    for (size_t i = 0; !rc && i < n_ch; i++) {
        sqlite3_stmt *st = s->st_insert_chunk;
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_int64(st, 3, ch[i].start);
        sqlite3_bind_int64(st, 4, ch[i].end);
        sqlite3_bind_int64(st, 5, ch[i].head_start);
        sqlite3_bind_int64(st, 6, ch[i].head_end);
        sqlite3_bind_int64(st, 7, ch[i].n_tokens);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_sql_error(s, "inserting a chunk", err);
        sqlite3_reset(st);
        const int64_t cid = sqlite3_last_insert_rowid(s->db);
        size_t len = 0;
        char *str = rc ? NULL : onc_chunk_str(nt->text, &ch[i], &len);
        if (!rc && !str) rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
        if (!rc) {
            sqlite3_stmt *f = s->st_insert_fts;
            sqlite3_bind_int64(f, 1, cid);
            sqlite3_bind_text(f, 2, str, (int)len, free);
            sqlite3_bind_text(f, 3, tags, -1, SQLITE_STATIC);
            if (sqlite3_step(f) != SQLITE_DONE) rc = store_sql_error(s, "indexing a chunk", err);
            sqlite3_reset(f);
            sqlite3_clear_bindings(f);
        }
    }
    free(ch);
    return end_own_tx(s, own_tx, rc, err);
}

onc_status onc_store_delete_note(onc_store *s, const char *id, bool *found, onc_error *err) {
    const bool own_tx = !s->in_tx;
    onc_status rc = own_tx ? onc_store_begin(s, err) : ONC_OK;
    if (rc) return rc;
    const int64_t rowid = find_note(s, id);
    if (found) *found = rowid != 0;
    if (rowid) rc = delete_note_rowid(s, rowid, err);
    return end_own_tx(s, own_tx, rc, err);
}

onc_status onc_store_delete_patient(onc_store *s, const char *patient, int64_t *deleted, onc_error *err) {
    *deleted = 0;
    const bool own_tx = !s->in_tx;
    onc_status rc = own_tx ? onc_store_begin(s, err) : ONC_OK;
    if (rc) return rc;
    sqlite3_stmt *q = store_prepare(s, "SELECT rowid FROM notes WHERE patient = ?1", err);
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (!q) rc = ONC_ERR_IO;
    if (q) sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        if (n == cap) {
            int64_t *v = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof *v);
            if (!v) {
                rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", s->path);
                break;
            }
            ids = v;
        }
        ids[n++] = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    for (size_t i = 0; !rc && i < n; i++) rc = delete_note_rowid(s, ids[i], err);
    free(ids);
    if (!rc) *deleted = (int64_t)n;
    return end_own_tx(s, own_tx, rc, err);
}

int64_t store_count(onc_store *s, const char *sql) {
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

onc_status onc_store_stats_get(onc_store *s, onc_store_stats *st, onc_error *err) {
    memset(st, 0, sizeof *st);
    st->patients = store_count(s, "SELECT count(*) FROM patients");
    st->notes = store_count(s, "SELECT count(*) FROM notes");
    st->chunks = store_count(s, "SELECT count(*) FROM chunks");
    st->vectors = store_count(s, "SELECT count(*) FROM vectors");
    st->text_bytes = store_count(s, "SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM notes");
    if (st->patients < 0 || st->notes < 0 || st->chunks < 0 || st->vectors < 0 || st->text_bytes < 0)
        return store_sql_error(s, "reading counts", err);
    st->generation = store_meta_int(s, "generation", 0);
    st->index_generation = store_meta_int(s, "index_generation", -1);
    st->chunk_max_tokens = s->chunking.max_tokens;
    st->chunk_overlap = s->chunking.overlap;
    st->dim = (uint32_t)store_meta_int(s, "dense_dim", 0);
    char *m = store_meta_get(s, "dense_model");
    if (m) snprintf(st->dense_model, sizeof st->dense_model, "%s", m);
    free(m);
    char *k = store_meta_get(s, "index_kind");
    if (k) snprintf(st->index_kind, sizeof st->index_kind, "%s", k);
    free(k);
    return ONC_OK;
}

onc_status onc_store_check(onc_store *s, onc_error *err) {
    sqlite3_stmt *st = store_prepare(s, "PRAGMA integrity_check", err);
    if (!st) return ONC_ERR_IO;
    onc_status rc = ONC_OK;
    if (sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        rc = onc_error_set(err, ONC_ERR_FORMAT, "%s: database integrity check failed: %s", s->path,
                           sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "?");
    sqlite3_finalize(st);
    if (rc) return rc;
    if (store_exec(s, "INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')", err))
        return onc_error_set(err, ONC_ERR_FORMAT, "%s: the text index is damaged", s->path);
    const struct {
        const char *sql, *what;
    } checks[] = {
        {"SELECT count(*) FROM notes n WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.note = n.rowid)"
         " AND length(trim(n.text, ' ' || char(9, 10, 11, 12, 13))) > 0", /* blank as chunk.c's is_space */
         "notes without chunks"},
        {"SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM notes n WHERE n.rowid = c.note)",
         "chunks without a note"},
        {"SELECT count(*) FROM vectors v WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = v.chunk)",
         "vectors without a chunk"},
        {"SELECT count(*) FROM notes n WHERE n.patient IS NOT NULL AND"
         " NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = n.patient)",
         "notes of unknown patients"},
        {"SELECT count(*) FROM patients p WHERE NOT EXISTS (SELECT 1 FROM notes n WHERE n.patient = p.id)",
         "patients without notes"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        const int64_t bad = store_count(s, checks[i].sql);
        if (bad != 0)
            return onc_error_set(err, ONC_ERR_FORMAT, "%s: %lld %s", s->path, (long long)bad, checks[i].what);
    }
    return ONC_OK;
}
