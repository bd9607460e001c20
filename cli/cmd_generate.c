/* cmd_generate.c — `oncolm generate`, `oncolm chat` and `oncolm score`: text
 * generation, conversation and log-likelihood with a decoder model. They
 * share the model/context/sampling options parsed here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "oncolm/chat.h"
#include "oncolm/generate.h"
#include "oncolm/llm.h"
#include "oncolm/tokenizer.h"

#define MAX_STOPS 16
#define MAX_LORAS 8

static const char *common_usage =
    "  -m, --model FILE      GGUF model (llama, qwen2, phi3)\n"
    "  -t, --threads N       threads (default: all cores)\n"
    "  -c, --ctx N           context length (default: the model's, at most 4096)\n"
    "  --kv f16|f32          KV cache type (default f16)\n"
    "  --lora FILE[:SCALE]   apply a LoRA adapter (llama.cpp GGUF, or a PEFT folder /\n"
    "                        adapter_model.safetensors) with weight SCALE (default 1);\n"
    "                        repeatable, up to 8\n";

static const char *sampling_usage =
    "  -n, --max-tokens N    tokens to generate at most (default 256)\n"
    "  --temp T              temperature; 0 = greedy (default 0.8)\n"
    "  --top-k K             (default 40; 0 = off)    --top-p P   (default 0.95)\n"
    "  --min-p P             (default 0.05)           --seed S    (default 0)\n"
    "  --repeat-penalty R    (default 1 = off)        --repeat-last-n N (default 64)\n"
    "  --freq-penalty F      --presence-penalty P     (default 0 = off)\n"
    "  --logit-bias ID=B     add B to token ID's logit (repeatable; B = -inf bans it)\n"
    "  --stop TEXT           stop when TEXT is generated (repeatable, up to 16)\n"
    "  --ignore-eos          do not stop at end-of-generation tokens\n";

typedef struct gen_opts {
    const char *model, *prompt, *file, *template_name, *system;
    int threads;
    uint32_t n_ctx;
    onc_type kv;
    onc_gen_params gen;
    const char *stops[MAX_STOPS];
    int32_t bias_id[64];
    float bias[64];
    int n_bias;
    const char *lora_path[MAX_LORAS]; /* points into argv; lora_len[i] characters */
    size_t lora_len[MAX_LORAS];
    float lora_scale[MAX_LORAS];
    int n_lora;
    bool json, raw_prompt, no_special;
} gen_opts;

/* Parse one shared option at argv[*i]; returns 1 when consumed, 0 when not
 * ours, -1 on a bad value (message printed). */
static int parse_common(gen_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int64_t iv;
    double dv;
#define NEED_VALUE                                                                                                     \
    if (!v) {                                                                                                          \
        cli_errorf("%s needs a value", a);                                                                             \
        return -1;                                                                                                     \
    }                                                                                                                  \
    (*i)++
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
        NEED_VALUE;
        o->model = v;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 1, 1024, &iv)) return -1;
        o->threads = (int)iv;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 8, 1 << 20, &iv)) return -1;
        o->n_ctx = (uint32_t)iv;
    } else if (!strcmp(a, "--lora")) {
        NEED_VALUE;
        if (o->n_lora == MAX_LORAS) {
            cli_errorf("--lora: at most %d adapters", MAX_LORAS);
            return -1;
        }
        cli_split_lora_arg(v, &o->lora_len[o->n_lora], &o->lora_scale[o->n_lora]);
        o->lora_path[o->n_lora++] = v;
    } else if (!strcmp(a, "--kv")) {
        NEED_VALUE;
        if (strcmp(v, "f16") && strcmp(v, "f32")) {
            cli_errorf("--kv must be f16 or f32");
            return -1;
        }
        o->kv = !strcmp(v, "f16") ? ONC_TYPE_F16 : ONC_TYPE_F32;
    } else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 0, 1 << 20, &iv)) return -1;
        o->gen.max_tokens = (int32_t)iv;
    } else if (!strcmp(a, "--temp")) {
        NEED_VALUE;
        if (!cli_parse_f64(a, v, &dv)) return -1;
        o->gen.sampling.temperature = (float)dv;
    } else if (!strcmp(a, "--top-k")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 0, 1 << 30, &iv)) return -1;
        o->gen.sampling.top_k = (int32_t)iv;
    } else if (!strcmp(a, "--top-p") || !strcmp(a, "--min-p") || !strcmp(a, "--repeat-penalty") ||
               !strcmp(a, "--freq-penalty") || !strcmp(a, "--presence-penalty")) {
        NEED_VALUE;
        if (!cli_parse_f64(a, v, &dv)) return -1;
        if (!strcmp(a, "--top-p")) o->gen.sampling.top_p = (float)dv;
        else if (!strcmp(a, "--min-p")) o->gen.sampling.min_p = (float)dv;
        else if (!strcmp(a, "--repeat-penalty")) o->gen.sampling.penalty_repeat = (float)dv;
        else if (!strcmp(a, "--freq-penalty")) o->gen.sampling.penalty_freq = (float)dv;
        else o->gen.sampling.penalty_present = (float)dv;
    } else if (!strcmp(a, "--repeat-last-n")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, -1, 1 << 20, &iv)) return -1;
        o->gen.sampling.penalty_last_n = (int32_t)iv;
    } else if (!strcmp(a, "--seed")) {
        NEED_VALUE;
        if (!cli_parse_i64(a, v, 0, INT64_MAX, &iv)) return -1;
        o->gen.sampling.seed = (uint64_t)iv;
    } else if (!strcmp(a, "--logit-bias")) {
        NEED_VALUE;
        const char *eq = strchr(v, '=');
        char idbuf[32];
        if (!eq || eq - v >= (long)sizeof idbuf || o->n_bias >= 64) {
            cli_errorf("--logit-bias wants ID=BIAS (at most 64), got '%s'", v);
            return -1;
        }
        memcpy(idbuf, v, (size_t)(eq - v));
        idbuf[eq - v] = '\0';
        if (!cli_parse_i64("--logit-bias", idbuf, 0, INT32_MAX, &iv)) return -1;
        if (!strcmp(eq + 1, "-inf")) dv = -INFINITY;
        else if (!cli_parse_f64("--logit-bias", eq + 1, &dv)) return -1;
        o->bias_id[o->n_bias] = (int32_t)iv;
        o->bias[o->n_bias++] = (float)dv;
    } else if (!strcmp(a, "--stop")) {
        NEED_VALUE;
        if (o->gen.n_stop >= MAX_STOPS) {
            cli_errorf("at most %d --stop strings", MAX_STOPS);
            return -1;
        }
        o->stops[o->gen.n_stop++] = v;
    } else if (!strcmp(a, "--ignore-eos")) {
        o->gen.ignore_eog = true;
    } else if (!strcmp(a, "--json")) {
        o->json = true;
    } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
        NEED_VALUE;
        o->prompt = v;
    } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
        NEED_VALUE;
        o->file = v;
    } else if (!strcmp(a, "--template")) {
        NEED_VALUE;
        o->template_name = v;
    } else if (!strcmp(a, "--system")) {
        NEED_VALUE;
        o->system = v;
    } else {
        return 0;
    }
#undef NEED_VALUE
    return 1;
}

static void opts_init(gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->kv = ONC_TYPE_F16;
    o->gen = onc_gen_default_params();
    o->gen.stop = o->stops;
}

typedef struct session {
    onc_llm *m;
    onc_llm_ctx *c;
    onc_lora *loras[MAX_LORAS];
    int n_lora;
} session;

static void session_close(session *s) {
    onc_llm_ctx_free(s->c);
    for (int i = 0; i < s->n_lora; i++) onc_lora_free(s->loras[i]);
    onc_llm_free(s->m);
    memset(s, 0, sizeof *s);
}

/* Open the model, adapters and context of o into *s (zero-initialised by
 * the caller, so session_close is safe on every path). */
static int session_open(session *s, const gen_opts *o, const char *usage) {
    onc_error err = {0};
    if (!o->model) return cli_usage_error(usage, "a model is needed (-m FILE)");
    if (!(s->m = onc_llm_load(o->model, &err))) return cli_fail(&err);
    onc_llm_ctx_params cp = onc_llm_ctx_default_params();
    cp.n_threads = o->threads;
    cp.n_ctx = o->n_ctx;
    cp.kv_type = o->kv;
    if (!(s->c = onc_llm_ctx_new(s->m, &cp, &err))) {
        session_close(s);
        return cli_fail(&err);
    }
    for (int i = 0; i < o->n_lora; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%.*s", (int)o->lora_len[i], o->lora_path[i]);
        if (!(s->loras[i] = onc_lora_load(path, onc_llm_gguf(s->m), onc_llm_hparams(s->m), &err))) {
            session_close(s);
            return cli_fail(&err);
        }
        s->n_lora++;
    }
    if (s->n_lora &&
        onc_llm_ctx_set_adapters(s->c, (const onc_lora *const *)s->loras, o->lora_scale, (size_t)s->n_lora, &err) !=
            ONC_OK) {
        session_close(s);
        return cli_fail(&err);
    }
    return CLI_EXIT_OK;
}

/* Tokenize text with the model's tokenizer (BOS as the model says; special
 * token texts parsed when parse_special). */
static int tokenize(const session *s, const char *text, size_t len, bool parse_special, int32_t **ids, size_t *n) {
    onc_error err = {0};
    onc_tokenize_params tp = onc_tokenize_default_params();
    tp.parse_special = parse_special;
    tp.invalid_utf8 = ONC_UTF8_REPLACE;
    if (onc_tokenize(onc_llm_tokenizer(s->m), text, len, &tp, ids, n, &err) != ONC_OK) return cli_fail(&err);
    return CLI_EXIT_OK;
}

static void stream_out(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

static void print_json_result(const session *s, const onc_gen_result *r) {
    printf("{\"text\":");
    cli_json_str(stdout, r->text, r->len);
    printf(",\"finish\":\"%s\",\"n_prompt\":%d,\"n_generated\":%d,\"tokens\":[", onc_finish_name(r->finish), r->n_prompt,
           r->n_tokens);
    for (int32_t i = 0; i < r->n_tokens; i++) printf(i ? ",%d" : "%d", r->tokens[i]);
    printf("],\"logprobs\":[");
    for (int32_t i = 0; i < r->n_tokens; i++) printf(i ? ",%.6g" : "%.6g", r->logprobs[i]);
    const double gen_tps = r->n_tokens > 1 && r->t_gen_s > 0 ? (r->n_tokens - 1) / r->t_gen_s : 0;
    printf("],\"timings\":{\"prompt_ms\":%.3f,\"generation_ms\":%.3f,\"prompt_tokens_per_s\":%.2f,"
           "\"generation_tokens_per_s\":%.2f}}\n",
           r->t_prompt_s * 1e3, r->t_gen_s * 1e3, r->t_prompt_s > 0 ? r->n_prompt / r->t_prompt_s : 0, gen_tps);
    (void)s;
}

static int apply_bias(onc_gen_params *g, const gen_opts *o, const session *s) {
    (void)g;
    for (int i = 0; i < o->n_bias; i++)
        if (o->bias_id[i] >= onc_llm_n_vocab(s->m)) {
            cli_errorf("--logit-bias: token %d is outside the vocabulary (%d)", o->bias_id[i], onc_llm_n_vocab(s->m));
            return CLI_EXIT_USAGE;
        }
    return CLI_EXIT_OK;
}

/* Generate on sequence 0 with the options' sampling, stops and biases. */
static onc_status run_generate(const session *s, const gen_opts *o, const int32_t *ids, int32_t n,
                               onc_gen_result *r, onc_error *err) {
    onc_gen_params g = o->gen;
    g.logit_bias_ids = o->bias_id;
    g.logit_bias = o->bias;
    g.n_logit_bias = (size_t)o->n_bias;
    return onc_generate(s->c, 0, ids, n, &g, r, err);
}

static const char *generate_usage_head =
    "usage: oncolm generate -m MODEL.gguf [-p PROMPT | -f FILE] [options]\n"
    "  -p, --prompt TEXT     the prompt (special-token texts such as <|im_start|> are parsed)\n"
    "  -f, --file FILE       read the prompt from FILE ('-' = stdin)\n"
    "  --chat                wrap the prompt as one user message in the model's chat template\n"
    "  --template NAME       chat template (default: from the model's tokenizer.chat_template)\n"
    "  --system TEXT         system message (with --chat)\n"
    "  --json                print one JSON object: text, tokens, log-probabilities, counts, timings\n";

static void print_usage(FILE *f, const char *head) { fprintf(f, "%s%s%s", head, common_usage, sampling_usage); }

/* Chat template: by --template or from the model's metadata. */
static int pick_template(const session *s, const gen_opts *o, onc_chat_template *t) {
    onc_error err = {0};
    onc_status st = o->template_name ? onc_chat_template_from_name(o->template_name, t, &err)
                                     : onc_chat_template_from_gguf(onc_llm_gguf(s->m), t, &err);
    if (st != ONC_OK) {
        cli_fail(&err);
        if (!o->template_name) cli_errorf("use --template NAME to choose one");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* The EOS text for zephyr's turn end. */
static const char *eos_text(const session *s) {
    const onc_tokenizer *tok = onc_llm_tokenizer(s->m);
    const int32_t eos = onc_tokenizer_special(tok, ONC_SPECIAL_EOS);
    size_t len;
    return eos >= 0 ? onc_token_text(tok, eos, &len) : NULL;
}

int cmd_generate(int argc, char **argv) {
    gen_opts o;
    opts_init(&o);
    bool chat = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_usage(stdout, generate_usage_head);
            return CLI_EXIT_OK;
        }
        if (!strcmp(argv[i], "--chat")) {
            chat = true;
            continue;
        }
        int r = parse_common(&o, argc, argv, &i);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_errorf("generate: unknown argument '%s' (see oncolm generate --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!o.prompt && !o.file) {
        cli_errorf("generate: give a prompt with -p TEXT or -f FILE");
        return CLI_EXIT_USAGE;
    }
    session s = {0};
    int rc = session_open(&s, &o, generate_usage_head);
    if (rc) return rc;
    if ((rc = apply_bias(&o.gen, &o, &s))) goto out;
    onc_error err = {0};
    size_t plen = 0;
    char *ptext = NULL;
    if (o.file) {
        if (!(ptext = cli_read_file(o.file, &plen, &err))) {
            rc = cli_fail(&err);
            goto out;
        }
    } else {
        ptext = strdup(o.prompt);
        plen = strlen(ptext);
    }
    if (chat) {
        onc_chat_template t;
        if ((rc = pick_template(&s, &o, &t))) {
            free(ptext);
            goto out;
        }
        onc_chat_message msgs[2];
        size_t nm = 0;
        if (o.system) msgs[nm++] = (onc_chat_message){"system", o.system};
        msgs[nm++] = (onc_chat_message){"user", ptext};
        onc_chat_params cp = onc_chat_default_params();
        cp.eos_text = eos_text(&s);
        char *formatted = NULL;
        size_t flen = 0;
        if (onc_chat_apply(t, msgs, nm, &cp, &formatted, &flen, &err) != ONC_OK) {
            free(ptext);
            rc = cli_fail(&err);
            goto out;
        }
        free(ptext);
        ptext = formatted;
        plen = flen;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    rc = tokenize(&s, ptext, plen, true, &ids, &n);
    free(ptext);
    if (rc) goto out;
    if (!o.json) {
        o.gen.on_text = stream_out;
    }
    onc_gen_result r;
    if (run_generate(&s, &o, ids, (int32_t)n, &r, &err) != ONC_OK) {
        free(ids);
        rc = cli_fail(&err);
        goto out;
    }
    if (o.json) print_json_result(&s, &r);
    else {
        printf("\n");
        fprintf(stderr, "oncolm: %d prompt tokens (%.1f tok/s), %d generated (%.1f tok/s), finish: %s\n", r.n_prompt,
                r.t_prompt_s > 0 ? r.n_prompt / r.t_prompt_s : 0, r.n_tokens,
                r.n_tokens > 1 && r.t_gen_s > 0 ? (r.n_tokens - 1) / r.t_gen_s : 0, onc_finish_name(r.finish));
    }
    onc_gen_result_free(&r);
    free(ids);
out:
    session_close(&s);
    return rc;
}

// --- chat ------------------------------------------------------------------------

static const char *chat_usage_head =
    "usage: oncolm chat -m MODEL.gguf [--template NAME] [--system TEXT] [options]\n"
    "Interactive when stdin is a terminal (an empty line or Ctrl-D ends); otherwise each\n"
    "input line is one user message and each reply is printed on its own line(s).\n"
    "  --template NAME       chat template (default: from the model's tokenizer.chat_template)\n"
    "  --system TEXT         system message\n";

int cmd_chat(int argc, char **argv) {
    gen_opts o;
    opts_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_usage(stdout, chat_usage_head);
            return CLI_EXIT_OK;
        }
        int r = parse_common(&o, argc, argv, &i);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_errorf("chat: unknown argument '%s' (see oncolm chat --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    session s = {0};
    int rc = session_open(&s, &o, chat_usage_head);
    if (rc) return rc;
    onc_chat_template t;
    if ((rc = pick_template(&s, &o, &t)) || (rc = apply_bias(&o.gen, &o, &s))) {
        session_close(&s);
        return rc;
    }
    const bool tty = isatty(STDIN_FILENO);
    onc_chat_message *msgs = NULL;
    size_t n_msgs = 0;
    char **owned = NULL;
    size_t n_owned = 0;
    onc_error err = {0};
    if (o.system) {
        msgs = malloc(sizeof *msgs);
        msgs[n_msgs++] = (onc_chat_message){"system", o.system};
    }
    char *line = NULL;
    size_t cap = 0;
    o.gen.on_text = stream_out;
    for (;;) {
        if (tty) {
            fprintf(stderr, "> ");
            fflush(stderr);
        }
        ssize_t got = getline(&line, &cap, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (got == 0) {
            if (tty) break;
            continue;
        }
        msgs = realloc(msgs, (n_msgs + 2) * sizeof *msgs);
        owned = realloc(owned, (n_owned + 2) * sizeof *owned);
        owned[n_owned] = strdup(line);
        msgs[n_msgs++] = (onc_chat_message){"user", owned[n_owned++]};
        onc_chat_params cp = onc_chat_default_params();
        cp.eos_text = eos_text(&s);
        char *prompt = NULL;
        size_t plen = 0;
        if (onc_chat_apply(t, msgs, n_msgs, &cp, &prompt, &plen, &err) != ONC_OK) {
            rc = cli_fail(&err);
            break;
        }
        int32_t *ids = NULL;
        size_t n = 0;
        rc = tokenize(&s, prompt, plen, true, &ids, &n);
        free(prompt);
        if (rc) break;
        /* the whole conversation is re-read each turn (simple and exact) */
        onc_llm_seq_clear(s.c, 0);
        onc_gen_result r;
        if (run_generate(&s, &o, ids, (int32_t)n, &r, &err) != ONC_OK) {
            free(ids);
            rc = cli_fail(&err);
            break;
        }
        free(ids);
        printf("\n");
        fflush(stdout);
        owned[n_owned] = r.text;
        r.text = NULL;
        msgs[n_msgs++] = (onc_chat_message){"assistant", owned[n_owned++]};
        onc_gen_result_free(&r);
    }
    free(line);
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    free(owned);
    free(msgs);
    session_close(&s);
    return rc;
}

// --- score -----------------------------------------------------------------------

static const char *score_usage_head =
    "usage: oncolm score -m MODEL.gguf [-p TEXT | -f FILE] [--json] [options]\n"
    "Log-likelihood of each token of the text given the tokens before it, and the\n"
    "perplexity exp(-mean). Texts longer than the context are scored in consecutive\n"
    "windows of the context length (each window starts without history).\n"
    "  -p, --prompt TEXT     the text     -f, --file FILE  read it from FILE ('-' = stdin)\n"
    "  --json                {\"n_tokens\", \"tokens\", \"logprobs\", \"total_logprob\", \"perplexity\"}\n";

int cmd_score(int argc, char **argv) {
    gen_opts o;
    opts_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s%s", score_usage_head, common_usage);
            return CLI_EXIT_OK;
        }
        int r = parse_common(&o, argc, argv, &i);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_errorf("score: unknown argument '%s' (see oncolm score --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!o.prompt && !o.file) {
        cli_errorf("score: give the text with -p TEXT or -f FILE");
        return CLI_EXIT_USAGE;
    }
    session s = {0};
    int rc = session_open(&s, &o, score_usage_head);
    if (rc) return rc;
    onc_error err = {0};
    size_t tlen = 0;
    char *text = o.file ? cli_read_file(o.file, &tlen, &err) : strdup(o.prompt);
    if (!text) {
        session_close(&s);
        return cli_fail(&err);
    }
    if (!o.file) tlen = strlen(text);
    int32_t *ids = NULL;
    size_t n = 0;
    rc = tokenize(&s, text, tlen, false, &ids, &n);
    free(text);
    if (rc) goto out;
    if (n < 2) {
        cli_errorf("score: the text has %zu token(s); at least 2 are needed", n);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    float *lp = malloc((n - 1) * sizeof *lp);
    if (!lp || onc_score_tokens(s.c, 0, ids, (int32_t)n, lp, &err) != ONC_OK) {
        free(lp);
        rc = lp ? cli_fail(&err) : cli_fail(NULL);
        goto out;
    }
    double total = 0;
    for (size_t i = 0; i + 1 < n; i++) total += lp[i];
    const double ppl = exp(-total / (double)(n - 1));
    const onc_tokenizer *tok = onc_llm_tokenizer(s.m);
    if (o.json) {
        printf("{\"n_tokens\":%zu,\"tokens\":[", n);
        for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        printf("],\"logprobs\":[");
        for (size_t i = 0; i + 1 < n; i++) printf(i ? ",%.6g" : "%.6g", lp[i]);
        printf("],\"total_logprob\":%.6f,\"perplexity\":%.6f}\n", total, ppl);
    } else {
        printf("pos\tid\tlogprob\tpiece\n");
        for (size_t i = 1; i < n; i++) {
            const char *piece;
            size_t pl = onc_token_to_piece(tok, ids[i], true, &piece);
            printf("%zu\t%d\t%.4f\t", i, ids[i], lp[i - 1]);
            cli_json_str(stdout, piece, pl);
            printf("\n");
        }
        printf("tokens scored: %zu, total log-likelihood: %.4f, perplexity: %.4f\n", n - 1, total, ppl);
    }
    free(lp);
out:
    free(ids);
    session_close(&s);
    return rc;
}
