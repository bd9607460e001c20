/* cmd_search.c — `oncolm search`: BM25, dense and hybrid retrieval over a
 * note store, one query (table or JSON) or a batch of queries written as a
 * TREC run file for `oncolm eval retrieval`. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "oncolm/store.h"

static const char *usage =
    "usage: oncolm search --db DB QUERY [options]\n"
    "       oncolm search --db DB --queries queries.jsonl --run OUT.trec [options]\n"
    "  --mode M           bm25 | dense | hybrid (default bm25)\n"
    "  --k N              results per query (default 10; batch default 100)\n"
    "  --patient P        only this patient's notes (every mode)\n"
    "  --type T           only notes of this type\n"
    "  --from DATE        only notes dated on or after DATE (ISO, e.g. 2021-03-01)\n"
    "  --to DATE          only notes dated on or before DATE (a prefix such as 2021-03 includes the month)\n"
    "  --per-note         one result per note (its best chunk); batch runs default to it\n"
    "  --per-chunk        batch: rank chunks (docno NOTE#N) instead of notes\n"
    "  --rrf-k K          hybrid: reciprocal-rank fusion constant (default 60)\n"
    "  --w-bm25 W, --w-dense W   hybrid: weights of the two rankings (default 1, 1)\n"
    "  --depth N          hybrid: candidates taken from each retriever (default max(100, k))\n"
    "  --rerank MODEL     re-score the top results with a cross-encoder GGUF\n"
    "  --rerank-n N       how many fused results the cross-encoder re-scores (default 50)\n"
    "  --threads N        threads for the encoders (default: all cores)\n"
    "  --json             JSON output (one query)\n"
    "  --show-text        include the passage text in the output (one query)\n"
    "batch:\n"
    "  --queries FILE     BEIR queries.jsonl ({\"_id\", \"text\", \"metadata\": {\"patient\", \"split\", ...}})\n"
    "  --run OUT          TREC run file to write (qid Q0 docno rank score name), written atomically\n"
    "  --split S          only queries whose metadata.split is S\n"
    "  --all-patients     search every patient's notes (default: a query with metadata.patient searches\n"
    "                     only that patient's notes, as in a per-patient chart question)\n"
    "  --run-name NAME    last column of the run file (default oncolm-<mode>)\n";

typedef struct search_opts {
    const char *db, *query, *queries, *run, *split, *run_name;
    onc_search_params p;
    bool json, show_text, per_chunk, all_patients, k_given;
} search_opts;

static const char *mode_name(onc_search_mode m) {
    return m == ONC_SEARCH_DENSE ? "dense" : m == ONC_SEARCH_HYBRID ? "hybrid" : "bm25";
}

static int parse(int argc, char **argv, search_opts *o) {
    memset(o, 0, sizeof *o);
    o->p = onc_search_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t iv;
        double dv;
        const char **str_target = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 1;
        } else if (!strcmp(a, "--db")) str_target = &o->db;
        else if (!strcmp(a, "--patient")) str_target = &o->p.patient;
        else if (!strcmp(a, "--type")) str_target = &o->p.type;
        else if (!strcmp(a, "--from")) str_target = &o->p.date_from;
        else if (!strcmp(a, "--to")) str_target = &o->p.date_to;
        else if (!strcmp(a, "--rerank")) str_target = &o->p.rerank_model;
        else if (!strcmp(a, "--queries")) str_target = &o->queries;
        else if (!strcmp(a, "--run")) str_target = &o->run;
        else if (!strcmp(a, "--split")) str_target = &o->split;
        else if (!strcmp(a, "--run-name")) str_target = &o->run_name;
        else if (!strcmp(a, "--mode")) {
            if (!v || (strcmp(v, "bm25") && strcmp(v, "dense") && strcmp(v, "hybrid")))
                return cli_usage_error(usage, "--mode must be bm25, dense or hybrid"), -1;
            o->p.mode = !strcmp(v, "bm25") ? ONC_SEARCH_BM25 : !strcmp(v, "dense") ? ONC_SEARCH_DENSE : ONC_SEARCH_HYBRID;
            i++;
        } else if (!strcmp(a, "--k") || !strcmp(a, "-k")) {
            if (!cli_parse_i64(a, v, 1, 100000, &iv)) return -1;
            o->p.k = (int32_t)iv, o->k_given = true, i++;
        } else if (!strcmp(a, "--depth")) {
            if (!cli_parse_i64(a, v, 1, 1000000, &iv)) return -1;
            o->p.depth = (int32_t)iv, i++;
        } else if (!strcmp(a, "--rerank-n")) {
            if (!cli_parse_i64(a, v, 1, 100000, &iv)) return -1;
            o->p.rerank_n = (int32_t)iv, i++;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            if (!cli_parse_i64(a, v, 1, 1024, &iv)) return -1;
            o->p.n_threads = (int)iv, i++;
        } else if (!strcmp(a, "--rrf-k") || !strcmp(a, "--w-bm25") || !strcmp(a, "--w-dense")) {
            if (!cli_parse_f64(a, v, &dv)) return -1;
            if (dv < 0) return cli_usage_error(usage, "%s must be >= 0", a), -1;
            if (!strcmp(a, "--rrf-k")) o->p.rrf_k = dv;
            else if (!strcmp(a, "--w-bm25")) o->p.w_bm25 = dv;
            else o->p.w_dense = dv;
            i++;
        } else if (!strcmp(a, "--per-note")) o->p.per_note = true;
        else if (!strcmp(a, "--per-chunk")) o->per_chunk = true;
        else if (!strcmp(a, "--json")) o->json = true;
        else if (!strcmp(a, "--show-text")) o->show_text = true;
        else if (!strcmp(a, "--all-patients")) o->all_patients = true;
        else if (a[0] == '-' && a[1]) return cli_usage_error(usage, "search: unknown option '%s'", a), -1;
        else if (!o->query) o->query = a;
        else return cli_usage_error(usage, "search: one QUERY (quote it)"), -1;
        if (str_target) {
            if (!v) return cli_usage_error(usage, "%s needs a value", a), -1;
            *str_target = v;
            i++;
        }
    }
    if (!o->db) return cli_usage_error(usage, "--db DB is required"), -1;
    if (!o->query == !o->queries) return cli_usage_error(usage, "give one QUERY or --queries FILE"), -1;
    if (o->queries && !o->run) return cli_usage_error(usage, "--queries needs --run OUT.trec"), -1;
    return 0;
}

static void print_hits(onc_store *s, const search_opts *o, const onc_hit *h, size_t n) {
    onc_error err = {0};
    if (o->json) {
        printf("{\"query\":");
        cli_json_str(stdout, o->query, strlen(o->query));
        printf(",\"mode\":\"%s\",\"hits\":[", mode_name(o->p.mode));
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"rank\":%zu,\"note\":", i ? "," : "", i + 1);
            cli_json_str(stdout, h[i].note, strlen(h[i].note));
            printf(",\"chunk\":%lld,\"ordinal\":%d,\"patient\":", (long long)h[i].chunk, h[i].ordinal);
            cli_json_str(stdout, h[i].patient, strlen(h[i].patient));
            printf(",\"type\":");
            cli_json_str(stdout, h[i].type, strlen(h[i].type));
            printf(",\"date\":");
            cli_json_str(stdout, h[i].date, strlen(h[i].date));
            printf(",\"score\":%.17g,\"rank_bm25\":%d,\"rank_dense\":%d", h[i].score, h[i].rank_bm25,
                   h[i].rank_dense);
            if (o->show_text) {
                size_t len = 0;
                char *t = onc_store_chunk_text(s, h[i].chunk, &len, &err);
                printf(",\"text\":");
                cli_json_str(stdout, t ? t : "", t ? len : 0);
                free(t);
            }
            printf("}");
        }
        printf("]}\n");
        return;
    }
    printf("%-4s %-10s %-24s %-10s %-12s %-11s %s\n", "rank", "score", "note", "patient", "type", "date", "chunk");
    for (size_t i = 0; i < n; i++) {
        printf("%-4zu %-10.4f %-24s %-10s %-12s %-11s %d\n", i + 1, h[i].score, h[i].note, h[i].patient, h[i].type,
               h[i].date, h[i].ordinal);
        if (o->show_text) {
            size_t len = 0;
            char *t = onc_store_chunk_text(s, h[i].chunk, &len, &err);
            if (t) printf("     %s\n", t);
            free(t);
        }
    }
    if (!n) printf("(no results)\n");
}

static int by_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Batch: every query of a BEIR queries.jsonl into a TREC run. */
static int run_batch(onc_store *s, search_opts *o) {
    FILE *in = fopen(o->queries, "rb");
    if (!in) {
        cli_errorf("%s: cannot open: %s", o->queries, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%ld", o->run, (long)getpid()) < 0) tmp = NULL;
    FILE *out = tmp ? fopen(tmp, "wb") : NULL;
    if (!out) {
        cli_errorf("%s: cannot create the run file: %s", o->run, strerror(errno));
        free(tmp);
        fclose(in);
        return CLI_EXIT_FAIL;
    }
    if (!o->k_given) o->p.k = 100;
    if (!o->per_chunk) o->p.per_note = true;
    char name[64];
    snprintf(name, sizeof name, "%s", o->run_name ? o->run_name : "");
    if (!o->run_name) snprintf(name, sizeof name, "oncolm-%s", mode_name(o->p.mode));
    char *line = NULL;
    size_t cap = 0, lineno = 0, n_q = 0, cap_t = 0;
    double *lat = NULL;
    ssize_t got;
    int rc = CLI_EXIT_OK;
    const char *fixed_patient = o->p.patient;
    int last = -1;
    while (rc == CLI_EXIT_OK && (got = getline(&line, &cap, in)) >= 0) {
        lineno++;
        json_error_t je;
        json_t *q = json_loadb(line, (size_t)got, 0, &je);
        if (!q) {
            size_t k = 0;
            while (k < (size_t)got && (line[k] == ' ' || line[k] == '\n' || line[k] == '\r' || line[k] == '\t')) k++;
            if (k == (size_t)got) continue;
            cli_errorf("%s:%zu: %s", o->queries, lineno, je.text);
            rc = CLI_EXIT_FAIL;
            break;
        }
        json_t *meta = json_object_get(q, "metadata");
        const char *qid = json_string_value(json_object_get(q, "_id"));
        if (!qid) qid = json_string_value(json_object_get(q, "id"));
        const char *text = json_string_value(json_object_get(q, "text"));
        const char *split = json_string_value(json_object_get(meta, "split"));
        const char *patient = json_string_value(json_object_get(meta, "patient"));
        if (!qid || !text) {
            cli_errorf("%s:%zu: a query needs \"_id\" and \"text\" strings", o->queries, lineno);
            json_decref(q);
            rc = CLI_EXIT_FAIL;
            break;
        }
        if (o->split && (!split || strcmp(split, o->split) != 0)) {
            json_decref(q);
            continue;
        }
        o->p.patient = fixed_patient ? fixed_patient : (o->all_patients ? NULL : patient);
        onc_error err = {0};
        onc_hit *h = NULL;
        size_t n = 0;
        const double t0 = cli_now();
        if (onc_store_search(s, text, &o->p, &h, &n, &err) != ONC_OK) {
            onc_error_prefix(&err, "query %s", qid);
            rc = cli_fail(&err);
            json_decref(q);
            break;
        }
        if (n_q == cap_t) {
            double *v = realloc(lat, (cap_t = cap_t ? cap_t * 2 : 256) * sizeof *v);
            if (!v) {
                cli_errorf("out of memory");
                rc = CLI_EXIT_FAIL;
                free(h);
                json_decref(q);
                break;
            }
            lat = v;
        }
        lat[n_q++] = cli_now() - t0;
        for (size_t i = 0; i < n; i++) {
            if (o->per_chunk)
                fprintf(out, "%s Q0 %s#%d %zu %.9g %s\n", qid, h[i].note, h[i].ordinal, i + 1, h[i].score, name);
            else
                fprintf(out, "%s Q0 %s %zu %.9g %s\n", qid, h[i].note, i + 1, h[i].score, name);
        }
        free(h);
        json_decref(q);
        cli_progress("searching", (int64_t)n_q, (int64_t)n_q + 1, &last);
    }
    free(line);
    fclose(in);
    if (fclose(out) != 0 && rc == CLI_EXIT_OK) {
        cli_errorf("%s: write error", o->run);
        rc = CLI_EXIT_FAIL;
    }
    if (rc == CLI_EXIT_OK && rename(tmp, o->run) != 0) {
        cli_errorf("%s: cannot rename into place: %s", o->run, strerror(errno));
        rc = CLI_EXIT_FAIL;
    }
    if (rc != CLI_EXIT_OK) unlink(tmp);
    free(tmp);
    if (rc == CLI_EXIT_OK) {
        if (n_q) qsort(lat, n_q, sizeof *lat, by_double);
        double sum = 0;
        for (size_t i = 0; i < n_q; i++) sum += lat[i];
        fprintf(stderr, "oncolm: %zu queries (%s, k %d) -> %s; latency mean %.2f ms, p50 %.2f ms, p95 %.2f ms\n", n_q,
                mode_name(o->p.mode), o->p.k, o->run, n_q ? 1e3 * sum / n_q : 0.0,
                n_q ? 1e3 * lat[n_q / 2] : 0.0, n_q ? 1e3 * lat[(size_t)(0.95 * (n_q - 1))] : 0.0);
        if (!n_q) cli_errorf("warning: no queries matched (check --split)");
    }
    free(lat);
    return rc;
}

int cmd_search(int argc, char **argv) {
    search_opts o;
    const int pr = parse(argc, argv, &o);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    onc_error err = {0};
    onc_store *s = onc_store_open(o.db, false, NULL, &err);
    if (!s) return cli_fail(&err);
    int rc = CLI_EXIT_OK;
    if (o.queries) {
        rc = run_batch(s, &o);
    } else {
        onc_hit *h = NULL;
        size_t n = 0;
        if (onc_store_search(s, o.query, &o.p, &h, &n, &err) != ONC_OK) rc = cli_fail(&err);
        else print_hits(s, &o, h, n);
        free(h);
    }
    onc_store_close(s);
    return rc;
}
