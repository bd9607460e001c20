/* cmd_index.c — `oncolm index build|add|delete|stats`: the clinical note
 * store (oncolm/store.h). Prints counts and speeds, never note text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "oncolm/store.h"

static const char *usage =
    "usage: oncolm index build  --db DB [INPUT ...] [--model M] [options]   create/extend a store, set up dense search\n"
    "       oncolm index add    --db DB INPUT ... [--format F]                ingest more notes\n"
    "       oncolm index delete --db DB (--id ID ... | --patient P ...)       remove notes\n"
    "       oncolm index stats  --db DB [--json] [--check]                    counts; --check verifies consistency\n"
    "inputs: a .jsonl/.json file (\"id\"/\"_id\", \"text\", optional \"title\", \"patient\", \"date\", \"type\",\n"
    "        \"metadata\"), a .csv file with a header naming those columns, a BEIR folder (corpus.jsonl),\n"
    "        or a folder of .txt files (id = path without .txt; patient = the file's folder)\n"
    "options:\n"
    "  --format F         auto | jsonl | csv | beir | txt (default auto: from the name)\n"
    "  --batch N          notes per transaction (default 1000); a killed ingest loses at most one batch\n"
    "  --model M          embedding model (GGUF encoder) for dense search; embeds chunks that have no\n"
    "                     vector yet (all of them for a new model) and writes the vector index DB.faiss\n"
    "  --ann KIND         vector index: auto | exact | hnsw | ivf (default auto: exact below 50,000 chunks, IVF above)\n"
    "  --chunk-tokens N   chunk size in tokens when the store is created (default 256)\n"
    "  --overlap N        tokens shared by consecutive windows of a long section (default 32)\n"
    "  --no-sections      chunk by windows only, ignoring section headings\n"
    "  --threads N        threads for embedding (default: all cores)\n"
    "  --json             stats as JSON\n";

typedef struct index_opts {
    const char *db;
    const char *inputs[256];
    int n_inputs;
    const char *ids[256];
    int n_ids;
    const char *patients[64];
    int n_patients;
    onc_ingest_format format;
    int32_t batch;
    const char *model;
    onc_ann_kind ann;
    onc_chunk_params chunking;
    int threads;
    bool json, check;
} index_opts;

static int parse(int argc, char **argv, index_opts *o) {
    memset(o, 0, sizeof *o);
    o->chunking = onc_chunk_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t iv;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 1;
        } else if (!strcmp(a, "--db")) {
            if (!v) return cli_usage_error(usage, "--db needs a value"), -1;
            o->db = v, i++;
        } else if (!strcmp(a, "--format")) {
            static const char *names[] = {"auto", "jsonl", "beir", "csv", "txt"};
            int f = -1;
            for (int k = 0; v && k < 5; k++)
                if (!strcmp(v, names[k])) f = k;
            if (f < 0) return cli_usage_error(usage, "--format must be auto, jsonl, csv, beir or txt"), -1;
            o->format = (onc_ingest_format)f, i++;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_i64(a, v, 1, 1000000, &iv)) return -1;
            o->batch = (int32_t)iv, i++;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            if (!v) return cli_usage_error(usage, "%s needs a value", a), -1;
            o->model = v, i++;
        } else if (!strcmp(a, "--ann")) {
            static const char *names[] = {"auto", "exact", "hnsw", "ivf"};
            int f = -1;
            for (int k = 0; v && k < 4; k++)
                if (!strcmp(v, names[k])) f = k;
            if (f < 0) return cli_usage_error(usage, "--ann must be auto, exact, hnsw or ivf"), -1;
            o->ann = (onc_ann_kind)f, i++;
        } else if (!strcmp(a, "--chunk-tokens")) {
            if (!cli_parse_i64(a, v, 8, 1 << 20, &iv)) return -1;
            o->chunking.max_tokens = (int32_t)iv, i++;
        } else if (!strcmp(a, "--overlap")) {
            if (!cli_parse_i64(a, v, 0, 1 << 19, &iv)) return -1;
            o->chunking.overlap = (int32_t)iv, i++;
        } else if (!strcmp(a, "--no-sections")) {
            o->chunking.sections = false;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            if (!cli_parse_i64(a, v, 1, 1024, &iv)) return -1;
            o->threads = (int)iv, i++;
        } else if (!strcmp(a, "--id")) {
            if (!v) return cli_usage_error(usage, "--id needs a value"), -1;
            if (o->n_ids == 256) return cli_usage_error(usage, "at most 256 --id"), -1;
            o->ids[o->n_ids++] = v, i++;
        } else if (!strcmp(a, "--patient")) {
            if (!v) return cli_usage_error(usage, "--patient needs a value"), -1;
            if (o->n_patients == 64) return cli_usage_error(usage, "at most 64 --patient"), -1;
            o->patients[o->n_patients++] = v, i++;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--check")) {
            o->check = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(usage, "index: unknown option '%s'", a), -1;
        } else {
            if (o->n_inputs == 256) return cli_usage_error(usage, "at most 256 inputs"), -1;
            o->inputs[o->n_inputs++] = a;
        }
    }
    if (!o->db) return cli_usage_error(usage, "--db DB is required"), -1;
    return 0;
}

typedef struct progress_state {
    int last;
    const char *what;
} progress_state;

static void on_progress(void *ctx, const char *what, int64_t done, int64_t total) {
    progress_state *p = ctx;
    if (total <= 0) return; /* ingest reports counts only; no percentage to show */
    if (p->what != what) p->last = -1, p->what = what;
    cli_progress(what, done, total, &p->last);
}

static int ingest_all(onc_store *s, const index_opts *o) {
    for (int i = 0; i < o->n_inputs; i++) {
        onc_error err = {0};
        onc_ingest_counts c;
        const double t0 = cli_now();
        if (onc_store_ingest(s, o->inputs[i], o->format, o->batch, &c, &err) != ONC_OK) {
            cli_fail(&err);
            if (c.notes) fprintf(stderr, "oncolm: %lld notes from %s were stored before the error\n",
                                 (long long)c.notes, o->inputs[i]);
            return CLI_EXIT_FAIL;
        }
        const double dt = cli_now() - t0;
        fprintf(stderr, "oncolm: %s: %lld notes (%lld replaced), %.1f MB in %.2f s (%.0f notes/s)\n", o->inputs[i],
                (long long)c.notes, (long long)c.replaced, c.bytes / 1e6, dt, dt > 0 ? c.notes / dt : 0.0);
    }
    return CLI_EXIT_OK;
}

static void print_stats(const onc_store_stats *st, const char *db, bool json) {
    if (json) {
        printf("{\"db\":");
        cli_json_str(stdout, db, strlen(db));
        printf(",\"patients\":%lld,\"notes\":%lld,\"chunks\":%lld,\"vectors\":%lld,\"text_bytes\":%lld,"
               "\"generation\":%lld,\"index_generation\":%lld,\"index_fresh\":%s,\"chunk_tokens\":%d,"
               "\"chunk_overlap\":%d,\"dim\":%u,\"index_kind\":",
               (long long)st->patients, (long long)st->notes, (long long)st->chunks, (long long)st->vectors,
               (long long)st->text_bytes, (long long)st->generation, (long long)st->index_generation,
               st->index_generation == st->generation ? "true" : "false", st->chunk_max_tokens,
               st->chunk_overlap, st->dim);
        cli_json_str(stdout, st->index_kind, strlen(st->index_kind));
        printf(",\"dense_model\":");
        cli_json_str(stdout, st->dense_model, strlen(st->dense_model));
        printf("}\n");
        return;
    }
    printf("store        %s\n", db);
    printf("patients     %lld\nnotes        %lld\nchunks       %lld\ntext         %.1f MB\n", (long long)st->patients,
           (long long)st->notes, (long long)st->chunks, st->text_bytes / 1e6);
    printf("chunking     %d tokens, overlap %d\n", st->chunk_max_tokens, st->chunk_overlap);
    if (st->dense_model[0]) {
        printf("dense model  %s (dim %u)\nvectors      %lld of %lld chunks\n", st->dense_model, st->dim,
               (long long)st->vectors, (long long)st->chunks);
        if (st->index_generation < 0)
            printf("vector index none yet (built by `index build` or the first dense search)\n");
        else
            printf("vector index %s, %s\n", st->index_kind[0] ? st->index_kind : "?",
                   st->index_generation == st->generation ? "up to date" : "stale (rebuilt on next dense search)");
    } else {
        printf("dense search not set up (index build --model M)\n");
    }
}

int cmd_index(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1];
    const bool build = !strcmp(sub, "build"), add = !strcmp(sub, "add"), del = !strcmp(sub, "delete"),
               stats = !strcmp(sub, "stats");
    if (!build && !add && !del && !stats) return cli_usage_error(usage, "index: unknown subcommand '%s'", sub);
    index_opts o;
    const int pr = parse(argc - 1, argv + 1, &o);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (add && o.n_inputs == 0) return cli_usage_error(usage, "index add: give at least one INPUT");
    if (del && o.n_ids == 0 && o.n_patients == 0) return cli_usage_error(usage, "index delete: give --id or --patient");
    if (!build && o.model) return cli_usage_error(usage, "--model belongs to `index build`");
    onc_error err = {0};
    onc_store *s = onc_store_open(o.db, build, &o.chunking, &err);
    if (!s) return cli_fail(&err);
    progress_state prog = {-1, NULL};
    onc_store_set_progress(s, on_progress, &prog);
    int rc = CLI_EXIT_OK;
    if (build || add) rc = ingest_all(s, &o);
    if (rc == CLI_EXIT_OK && build) {
        onc_store_stats st;
        if (onc_store_stats_get(s, &st, &err) != ONC_OK) {
            rc = cli_fail(&err);
        } else if (o.model || st.dense_model[0]) {
            const double t0 = cli_now();
            const int64_t before = st.vectors;
            if (onc_store_dense_build(s, o.model, o.ann, o.threads, on_progress, &prog, &err) != ONC_OK) {
                rc = cli_fail(&err);
            } else if (onc_store_stats_get(s, &st, &err) == ONC_OK) {
                const double dt = cli_now() - t0;
                const int64_t embedded = st.vectors - (o.model ? 0 : before);
                fprintf(stderr, "oncolm: dense index: %lld vectors (dim %u), %s, %.2f s\n", (long long)st.vectors,
                        st.dim, st.index_kind[0] ? st.index_kind : "stored", dt);
                (void)embedded;
            }
        }
    }
    if (rc == CLI_EXIT_OK && del) {
        int64_t total = 0;
        for (int i = 0; rc == CLI_EXIT_OK && i < o.n_ids; i++) {
            bool found = false;
            if (onc_store_delete_note(s, o.ids[i], &found, &err) != ONC_OK) rc = cli_fail(&err);
            else if (!found) fprintf(stderr, "oncolm: no note with id %s\n", o.ids[i]);
            else total++;
        }
        for (int i = 0; rc == CLI_EXIT_OK && i < o.n_patients; i++) {
            int64_t n = 0;
            if (onc_store_delete_patient(s, o.patients[i], &n, &err) != ONC_OK) rc = cli_fail(&err);
            else if (!n) fprintf(stderr, "oncolm: no notes of patient %s\n", o.patients[i]);
            total += n;
        }
        if (rc == CLI_EXIT_OK) fprintf(stderr, "oncolm: deleted %lld notes\n", (long long)total);
    }
    if (rc == CLI_EXIT_OK && o.check && onc_store_check(s, &err) != ONC_OK) rc = cli_fail(&err);
    if (rc == CLI_EXIT_OK && (stats || build)) {
        onc_store_stats st;
        if (onc_store_stats_get(s, &st, &err) != ONC_OK) rc = cli_fail(&err);
        else if (stats) print_stats(&st, o.db, o.json);
        else fprintf(stderr, "oncolm: %s: %lld patients, %lld notes, %lld chunks\n", o.db, (long long)st.patients,
                     (long long)st.notes, (long long)st.chunks);
    }
    if (rc == CLI_EXIT_OK && o.check && !o.json) fprintf(stderr, "oncolm: %s: consistent\n", o.db);
    onc_store_close(s);
    return rc;
}
