/* cmd_embed.c — `oncolm embed`, `oncolm classify` and `oncolm rerank`:
 * sentence embeddings, class probabilities and cross-encoder scores with an
 * encoder model (oncolm/encoder.h). Input: one text per line, or JSONL
 * objects with a text field (and an optional "id"). Output: JSONL (or .npy
 * for embeddings), written to a temporary file and renamed. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "oncolm/encoder.h"

static const char *common_usage =
    "  -m, --model FILE        GGUF encoder (bert) or decoder (llama, qwen2, phi3) model\n"
    "  -i, --input FILE        input (default: stdin); one text per line, or JSONL with --jsonl\n"
    "  --jsonl                 input lines are JSON objects (implied by a .jsonl file name)\n"
    "  --field NAME            text field of JSONL input (default \"text\"); \"id\" is kept\n"
    "  -o, --output FILE       output (default: stdout)\n"
    "  -b, --batch N           inputs per call (default 64)\n"
    "  -t, --threads N         threads (default: all cores)\n"
    "  --max-tokens N          tokens per input, special tokens included (default: the model's context)\n"
    "  --overflow truncate|windows|error   longer inputs (default truncate; windows: strided windows,\n"
    "                          combined as oncolm/encoder.h documents)\n"
    "  --stride N              content tokens between window starts (default half a window)\n";

typedef struct enc_opts {
    const char *model, *input, *output, *field, *query;
    bool jsonl, npy;
    int64_t batch, top;
    onc_encoder_params p;
} enc_opts;

/* Parse a shared option; 1 consumed, 0 not ours, -1 bad value. */
static int parse_common(enc_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int64_t iv;
#define NEED_VALUE                                                                                                     \
    if (!v) {                                                                                                          \
        cli_errorf("%s needs a value", a);                                                                             \
        return -1;                                                                                                     \
    }                                                                                                                  \
    (*i)++
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
        NEED_VALUE;
        o->model = v;
    } else if (!strcmp(a, "-i") || !strcmp(a, "--input")) {
        NEED_VALUE;
        o->input = v;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
        NEED_VALUE;
        o->output = v;
    } else if (!strcmp(a, "--field")) {
        NEED_VALUE;
        o->field = v;
    } else if (!strcmp(a, "--jsonl")) {
        o->jsonl = true;
    } else if (!strcmp(a, "-b") || !strcmp(a, "--batch")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 1, 1 << 20, &o->batch)) return -1;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 1, 1024, &iv)) return -1;
        o->p.n_threads = (int)iv;
    } else if (!strcmp(a, "--max-tokens")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 4, 1 << 20, &iv)) return -1;
        o->p.max_tokens = (uint32_t)iv;
    } else if (!strcmp(a, "--stride")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 1, 1 << 20, &iv)) return -1;
        o->p.window_stride = (uint32_t)iv;
    } else if (!strcmp(a, "--overflow")) {
        NEED_VALUE;
        if (!strcmp(v, "truncate")) o->p.overflow = ONC_OVERFLOW_TRUNCATE;
        else if (!strcmp(v, "windows")) o->p.overflow = ONC_OVERFLOW_WINDOWS;
        else if (!strcmp(v, "error")) o->p.overflow = ONC_OVERFLOW_ERROR;
        else {
            cli_errorf("--overflow must be truncate, windows or error");
            return -1;
        }
    } else {
        return 0;
    }
    return 1;
#undef NEED_VALUE
}

// --- input -----------------------------------------------------------------------------

typedef struct inputs {
    char *buf;       /* file contents (texts of plain input point into it) */
    char **text;     /* [n] */
    size_t *len;     /* [n] */
    char **id;       /* [n] JSON-encoded id (a JSON value) */
    json_t **owned;  /* parsed JSONL objects (texts point into them) */
    size_t n;
} inputs;

static void inputs_free(inputs *in) {
    for (size_t i = 0; i < in->n; i++) {
        free(in->id[i]);
        if (in->owned) json_decref(in->owned[i]);
    }
    free(in->buf), free(in->text), free(in->len), free(in->id), free(in->owned);
}

static bool ends_with(const char *s, const char *suf) {
    const size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Read every input; blank lines are skipped (plain text ids are 1-based
 * line numbers). Errors name the file and line. */
static bool read_inputs(const enc_opts *o, inputs *in) {
    memset(in, 0, sizeof *in);
    const char *path = o->input ? o->input : "-";
    const char *shown = o->input ? o->input : "stdin";
    const bool jsonl = o->jsonl || ends_with(path, ".jsonl");
    onc_error err = {0};
    size_t size = 0;
    if (!(in->buf = cli_read_file(path, &size, &err))) {
        cli_fail(&err);
        return false;
    }
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += in->buf[i] == '\n';
    in->text = calloc(lines, sizeof *in->text);
    in->len = calloc(lines, sizeof *in->len);
    in->id = calloc(lines, sizeof *in->id);
    in->owned = jsonl ? calloc(lines, sizeof *in->owned) : NULL;
    if (!in->text || !in->len || !in->id || (jsonl && !in->owned)) {
        cli_errorf("out of memory reading %s", shown);
        return false;
    }
    size_t line_no = 0;
    for (char *p = in->buf, *end = in->buf + size; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line_no++;
        size_t l = (size_t)(le - p);
        if (l && p[l - 1] == '\r') l--;
        bool blank = true;
        for (size_t k = 0; k < l && blank; k++) blank = p[k] == ' ' || p[k] == '\t';
        if (!blank) {
            const size_t k = in->n;
            if (jsonl) {
                json_error_t je;
                json_t *obj = json_loadb(p, l, 0, &je);
                json_t *t = obj && json_is_object(obj) ? json_object_get(obj, o->field) : NULL;
                if (!obj || !json_is_object(obj) || !json_is_string(t)) {
                    if (!obj) cli_errorf("%s:%zu: invalid JSON: %s", shown, line_no, je.text);
                    else cli_errorf("%s:%zu: expected an object with a string field \"%s\"", shown, line_no, o->field);
                    json_decref(obj);
                    return false;
                }
                in->owned[k] = obj;
                in->text[k] = (char *)json_string_value(t);
                in->len[k] = json_string_length(t);
                json_t *id = json_object_get(obj, "id");
                in->id[k] = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            } else {
                in->text[k] = p;
                in->len[k] = l;
            }
            if (!in->id[k]) {
                char buf[32];
                snprintf(buf, sizeof buf, "%zu", line_no);
                in->id[k] = strdup(buf);
            }
            if (!in->id[k]) {
                cli_errorf("out of memory reading %s", shown);
                return false;
            }
            in->n++;
        }
        p = nl ? nl + 1 : end;
    }
    return true;
}

// --- output ----------------------------------------------------------------------------

typedef struct out_file {
    FILE *f;
    char *tmp;        /* temp path (NULL for stdout) */
    const char *path;
} out_file;

static bool out_open(out_file *o, const char *path) {
    o->path = path;
    o->tmp = NULL;
    o->f = NULL;
    if (!path || !strcmp(path, "-")) {
        o->f = stdout;
        return true;
    }
    const size_t n = strlen(path) + 32;
    o->tmp = malloc(n);
    if (!o->tmp) {
        cli_errorf("out of memory");
        return false;
    }
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    if (!(o->f = fopen(o->tmp, "wb"))) {
        cli_errorf("%s: cannot create the output file: %s", path, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        return false;
    }
    return true;
}

/* Close; on success rename the temp file over the target, else remove it.
 * Safe on a file whose out_open failed (returns false). */
static bool out_close(out_file *o, bool ok) {
    if (!o->f) return false;
    if (o->f == stdout) return fflush(stdout) == 0 && ok;
    bool good = ok && !ferror(o->f);
    if (fclose(o->f) != 0) good = false;
    if (good && rename(o->tmp, o->path) != 0) {
        cli_errorf("%s: cannot rename into place: %s", o->path, strerror(errno));
        good = false;
    } else if (ok && !good) {
        cli_errorf("%s: write error", o->path);
    }
    if (!good) unlink(o->tmp);
    free(o->tmp);
    return good;
}

static void write_floats(FILE *f, const float *v, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, i ? ",%.9g" : "%.9g", v[i]);
    fputc(']', f);
}

/* NumPy .npy v1.0 header for a little-endian float32 array [rows, cols]. */
static void write_npy_header(FILE *f, size_t rows, size_t cols) {
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    const int total = (10 + n + 1 + 63) / 64 * 64; /* magic+version+len (10), dict, '\n' */
    const int hlen = total - 10;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hlen & 0xff, f);
    fputc((hlen >> 8) & 0xff, f);
    fputs(dict, f);
    for (int i = 10 + n; i < total - 1; i++) fputc(' ', f);
    fputc('\n', f);
}

// --- commands ---------------------------------------------------------------------------

static int parse_args(enc_opts *o, int argc, char **argv, const char *usage, bool is_embed, bool is_rerank) {
    memset(o, 0, sizeof *o);
    o->p = onc_encoder_default_params();
    o->field = "text";
    o->batch = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = parse_common(o, argc, argv, &i);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r > 0) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (is_embed && !strcmp(a, "--pooling") && v) {
            i++;
            if (!strcmp(v, "mean")) o->p.pooling = ONC_POOLING_MEAN;
            else if (!strcmp(v, "cls")) o->p.pooling = ONC_POOLING_CLS;
            else if (!strcmp(v, "last")) o->p.pooling = ONC_POOLING_LAST;
            else if (!strcmp(v, "none")) o->p.pooling = ONC_POOLING_NONE;
            else return cli_usage_error(usage, "--pooling must be mean, cls, last or none");
        } else if (is_embed && !strcmp(a, "--no-normalize")) {
            o->p.normalize = false;
        } else if (is_rerank && (!strcmp(a, "-q") || !strcmp(a, "--query")) && v) {
            o->query = argv[++i];
        } else if (is_rerank && !strcmp(a, "--top") && v) {
            if (!cli_parse_i64(a, argv[++i], 1, INT64_MAX, &o->top)) return CLI_EXIT_USAGE;
        } else {
            return cli_usage_error(usage, "unknown option '%s'", a);
        }
    }
    if (!o->model) return cli_usage_error(usage, "a model is required (-m FILE)");
    if (is_rerank && !o->query) return cli_usage_error(usage, "a query is required (--query TEXT)");
    o->npy = is_embed && o->output && ends_with(o->output, ".npy");
    if (o->npy && o->p.pooling == ONC_POOLING_NONE)
        return cli_usage_error(usage, ".npy output needs one vector per input (pooling mean, cls or last)");
    return 0;
}

/* Parse arguments, read the inputs, load the model. NULL with *rc set
 * (CLI_EXIT_OK after --help) when the command should stop. */
static onc_encoder *start_job(enc_opts *o, int argc, char **argv, const char *usage, bool is_embed, bool is_rerank,
                              inputs *in, int *rc) {
    memset(in, 0, sizeof *in);
    int r = parse_args(o, argc, argv, usage, is_embed, is_rerank);
    if (r) {
        *rc = r < 0 ? CLI_EXIT_OK : r;
        return NULL;
    }
    if (!read_inputs(o, in)) {
        inputs_free(in);
        *rc = CLI_EXIT_FAIL;
        return NULL;
    }
    onc_error err = {0};
    onc_encoder *e = onc_encoder_load(o->model, &o->p, &err);
    if (!e) {
        inputs_free(in);
        *rc = cli_fail(&err);
    }
    return e;
}

static const char embed_usage_head[] = "usage: oncolm embed -m MODEL [options]\n"
                                       "  sentence embeddings, one JSONL line {\"id\", \"embedding\"} per input,\n"
                                       "  or a float32 [inputs, dim] array when the output ends in .npy\n";

int cmd_embed(int argc, char **argv) {
    char usage[4096];
    snprintf(usage, sizeof usage, "%s%s%s", embed_usage_head, common_usage,
             "  --pooling mean|cls|last|none   (default: the model's; none = per-token vectors)\n"
             "  --no-normalize          keep vectors as pooled (default: L2-normalised)\n");
    enc_opts o;
    inputs in;
    int rc = CLI_EXIT_FAIL;
    onc_encoder *e = start_job(&o, argc, argv, usage, true, false, &in, &rc);
    if (!e) return rc;
    onc_error err = {0};
    const uint32_t dim = onc_encoder_dim(e);
    const bool per_token = onc_encoder_pooling(e) == ONC_POOLING_NONE;
    if (o.npy && per_token) {
        cli_errorf("%s: the model's pooling is none; .npy output needs --pooling mean, cls or last", o.model);
        onc_encoder_free(e);
        inputs_free(&in);
        return CLI_EXIT_FAIL;
    }
    out_file out;
    bool ok = out_open(&out, o.output);
    float *vec = ok ? malloc((size_t)o.batch * dim * sizeof(float)) : NULL;
    if (ok && !vec) cli_errorf("out of memory"), ok = false;
    if (ok && o.npy) write_npy_header(out.f, in.n, dim);
    int last = -1;
    size_t truncated = 0;
    for (size_t i = 0; ok && i < in.n; i += (size_t)o.batch) {
        const size_t cnt = in.n - i < (size_t)o.batch ? in.n - i : (size_t)o.batch;
        if (per_token) {
            for (size_t k = 0; ok && k < cnt; k++) {
                float *h = NULL;
                int32_t nt = 0;
                if (onc_encoder_token_states(e, in.text[i + k], in.len[i + k], &h, &nt, &err) != ONC_OK) {
                    onc_error_prefix(&err, "input %s", in.id[i + k]);
                    cli_fail(&err), ok = false;
                    break;
                }
                truncated += onc_encoder_n_truncated(e);
                fprintf(out.f, "{\"id\":%s,\"tokens\":%d,\"embedding\":[", in.id[i + k], nt);
                for (int32_t t = 0; t < nt; t++) {
                    if (t) fputc(',', out.f);
                    write_floats(out.f, h + (size_t)t * dim, dim);
                }
                fputs("]}\n", out.f);
                free(h);
            }
        } else if (onc_encoder_embed(e, (const char *const *)in.text + i, in.len + i, cnt, vec, &err) != ONC_OK) {
            cli_fail(&err), ok = false;
        } else {
            truncated += onc_encoder_n_truncated(e);
            if (o.npy) {
                fwrite(vec, sizeof(float), cnt * dim, out.f);
            } else {
                for (size_t k = 0; k < cnt; k++) {
                    fprintf(out.f, "{\"id\":%s,\"embedding\":", in.id[i + k]);
                    write_floats(out.f, vec + k * dim, dim);
                    fputs("}\n", out.f);
                }
            }
        }
        cli_progress("embedding", (int64_t)(i + cnt), (int64_t)in.n, &last);
    }
    if (ok && truncated)
        fprintf(stderr, "oncolm: note: %zu input(s) longer than %u tokens were truncated (--overflow windows keeps "
                        "all of them)\n",
                truncated, onc_encoder_max_tokens(e));
    ok = out_close(&out, ok) && ok;
    free(vec);
    onc_encoder_free(e);
    inputs_free(&in);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cmd_classify(int argc, char **argv) {
    char usage[4096];
    snprintf(usage, sizeof usage, "%s%s",
             "usage: oncolm classify -m MODEL [options]\n"
             "  label and class probabilities per input, one JSONL line {\"id\", \"label\", \"probabilities\"}\n",
             common_usage);
    enc_opts o;
    inputs in;
    int rc = CLI_EXIT_FAIL;
    onc_encoder *e = start_job(&o, argc, argv, usage, false, false, &in, &rc);
    if (!e) return rc;
    onc_error err = {0};
    const uint32_t C = onc_encoder_n_labels(e);
    if (C == 0) {
        cli_errorf("%s: the model has no classifier head (cls.output); classify needs one", o.model);
        onc_encoder_free(e);
        inputs_free(&in);
        return CLI_EXIT_FAIL;
    }
    out_file out;
    bool ok = out_open(&out, o.output);
    float *pr = ok ? malloc((size_t)o.batch * C * sizeof(float)) : NULL;
    if (ok && !pr) cli_errorf("out of memory"), ok = false;
    int last = -1;
    size_t truncated = 0;
    for (size_t i = 0; ok && i < in.n; i += (size_t)o.batch) {
        const size_t cnt = in.n - i < (size_t)o.batch ? in.n - i : (size_t)o.batch;
        if (onc_encoder_classify(e, (const char *const *)in.text + i, in.len + i, cnt, pr, &err) != ONC_OK) {
            cli_fail(&err), ok = false;
            break;
        }
        truncated += onc_encoder_n_truncated(e);
        for (size_t k = 0; k < cnt; k++) {
            const float *p = pr + k * C;
            uint32_t best = 0;
            for (uint32_t c = 1; c < C; c++)
                if (p[c] > p[best]) best = c;
            const char *bl = C == 1 ? (p[0] >= 0.5f ? onc_encoder_label(e, 0) : "") : onc_encoder_label(e, best);
            fprintf(out.f, "{\"id\":%s,\"label\":", in.id[i + k]);
            cli_json_str(out.f, bl, strlen(bl));
            fputs(",\"probabilities\":{", out.f);
            for (uint32_t c = 0; c < C; c++) {
                if (c) fputc(',', out.f);
                const char *l = onc_encoder_label(e, c);
                cli_json_str(out.f, l, strlen(l));
                fprintf(out.f, ":%.9g", p[c]);
            }
            fputs("}}\n", out.f);
        }
        cli_progress("classifying", (int64_t)(i + cnt), (int64_t)in.n, &last);
    }
    if (ok && truncated)
        fprintf(stderr, "oncolm: note: %zu input(s) longer than %u tokens were truncated\n", truncated,
                onc_encoder_max_tokens(e));
    ok = out_close(&out, ok) && ok;
    free(pr);
    onc_encoder_free(e);
    inputs_free(&in);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

typedef struct ranked {
    float score;
    size_t index;
} ranked;

static int by_score_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int cmd_rerank(int argc, char **argv) {
    char usage[4096];
    snprintf(usage, sizeof usage, "%s%s%s",
             "usage: oncolm rerank -m MODEL --query TEXT [options]\n"
             "  cross-encoder relevance of each input passage to the query, best first: JSONL lines\n"
             "  {\"rank\", \"id\", \"score\"} (score = the head's logit; higher is more relevant)\n",
             common_usage, "  -q, --query TEXT        the query\n  --top N                 keep the N best\n");
    enc_opts o;
    inputs in;
    int rc = CLI_EXIT_FAIL;
    onc_encoder *e = start_job(&o, argc, argv, usage, false, true, &in, &rc);
    if (!e) return rc;
    onc_error err = {0};
    ranked *r = malloc((in.n ? in.n : 1) * sizeof *r);
    float *sc = malloc((size_t)o.batch * sizeof *sc);
    bool ok = r && sc;
    if (!ok) cli_errorf("out of memory");
    int last = -1;
    for (size_t i = 0; ok && i < in.n; i += (size_t)o.batch) {
        const size_t cnt = in.n - i < (size_t)o.batch ? in.n - i : (size_t)o.batch;
        if (onc_encoder_rerank(e, o.query, strlen(o.query), (const char *const *)in.text + i, in.len + i, cnt, sc,
                               &err) != ONC_OK) {
            cli_fail(&err), ok = false;
            break;
        }
        for (size_t k = 0; k < cnt; k++) r[i + k] = (ranked){sc[k], i + k};
        cli_progress("reranking", (int64_t)(i + cnt), (int64_t)in.n, &last);
    }
    out_file out;
    if (ok) ok = out_open(&out, o.output);
    if (ok) {
        qsort(r, in.n, sizeof *r, by_score_desc);
        const size_t keep = o.top > 0 && (size_t)o.top < in.n ? (size_t)o.top : in.n;
        for (size_t k = 0; k < keep; k++)
            fprintf(out.f, "{\"rank\":%zu,\"id\":%s,\"score\":%.9g}\n", k + 1, in.id[r[k].index], r[k].score);
        ok = out_close(&out, ok);
    }
    free(r), free(sc);
    onc_encoder_free(e);
    inputs_free(&in);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
