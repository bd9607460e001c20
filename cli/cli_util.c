/* cli_util.c — error printing, argument parsing and file reading for the CLI. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "oncolm/finetune.h"
#include "oncolm/utf8.h"

void cli_errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("oncolm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_fail(const onc_error *err) {
    cli_errorf("%s", err && err->msg[0] ? err->msg : "unknown error");
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *usage, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("oncolm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (usage) fprintf(stderr, "%s", usage);
    return CLI_EXIT_USAGE;
}

bool cli_parse_i64(const char *flag, const char *s, int64_t min, int64_t max, int64_t *out) {
    if (!s) {
        cli_errorf("%s needs a value", flag);
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max) {
        cli_errorf("%s: '%s' is not an integer in [%lld, %lld]", flag, s, (long long)min, (long long)max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_f64(const char *flag, const char *s, double *out) {
    if (!s) {
        cli_errorf("%s needs a value", flag);
        return false;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0') {
        cli_errorf("%s: '%s' is not a number", flag, s);
        return false;
    }
    *out = v;
    return true;
}

char *cli_read_file(const char *path, size_t *len, onc_error *err) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) goto oom;
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) goto oom;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        onc_error_set(err, ONC_ERR_IO, "%s: read error", path);
        free(buf);
        if (f != stdin) fclose(f);
        return NULL;
    }
    if (f != stdin) fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
oom:
    free(buf);
    if (f != stdin) fclose(f);
    onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory reading file", path);
    return NULL;
}

void cli_progress(const char *label, int64_t done, int64_t total, int *last) {
    static int tty = -1;
    if (tty < 0) tty = isatty(STDERR_FILENO);
    int pct = total > 0 ? (int)(100 * done / total) : 100;
    if (pct > 100) pct = 100;
    if (!tty || pct == *last) return;
    fprintf(stderr, "\roncolm: %s: %3d%%", label, pct);
    if (pct >= 100) fputc('\n', stderr);
    *last = pct;
}

/* JSON string literal. Invalid UTF-8 bytes are written as \u00XX. */
void cli_json_str(FILE *o, const char *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    fputc('"', o);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k;
        if (c == '"' || c == '\\') fprintf(o, "\\%c", c), i++;
        else if (c == '\n') fputs("\\n", o), i++;
        else if (c == '\t') fputs("\\t", o), i++;
        else if (c == '\r') fputs("\\r", o), i++;
        else if (c < 0x20 || c == 0x7f) fprintf(o, "\\u%04x", c), i++;
        else if (c < 0x80) fputc(c, o), i++;
        else if ((k = onc_utf8_seq_len(s + i, n - i)) > 0) fwrite(s + i, 1, k, o), i += k;
        else fprintf(o, "\\u%04x", c), i++;
    }
    fputc('"', o);
}


double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool cli_write_file_atomic(const char *path, const char *data, size_t len) {
    if (strcmp(path, "-") == 0) {
        bool ok = fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0;
        if (!ok) cli_errorf("writing to standard output failed");
        return ok;
    }
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        cli_errorf("%s: out of memory", path);
        return false;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        cli_errorf("%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return ok;
}

void cli_split_lora_arg(const char *arg, size_t *path_len, float *scale) {
    const char *colon = strrchr(arg, ':');
    *path_len = strlen(arg);
    *scale = 1.0f;
    if (colon && colon[1]) {
        char *end = NULL;
        const double v = strtod(colon + 1, &end);
        if (end && *end == '\0' && isfinite(v)) {
            *scale = (float)v;
            *path_len = (size_t)(colon - arg);
        }
    }
}

void cli_train_progress(const onc_finetune_event *ev, bool per_example) {
    const bool tty = isatty(2);
    switch (ev->kind) {
    case ONC_FT_EVENT_START: break;
    case ONC_FT_EVENT_STEP: {
        const double eta = ev->eta_s;
        char rate[48];
        if (per_example) snprintf(rate, sizeof rate, "%.1f ex/s", ev->examples_per_s);
        else snprintf(rate, sizeof rate, "%.0f tok/s", ev->tokens_per_s);
        fprintf(stderr, "%sstep %lld/%lld  epoch %.2f  loss %.4f  lr %.3g  grad %.3g  %s  ETA %dm%02ds%s",
                tty ? "\r" : "", (long long)ev->step, (long long)ev->total_steps, ev->epoch, ev->loss, ev->lr,
                ev->grad_norm, rate, (int)(eta / 60), (int)fmod(eta, 60), tty ? "   " : "\n");
        break;
    }
    case ONC_FT_EVENT_EVAL:
        fprintf(stderr, "%sstep %lld: validation", tty ? "\n" : "", (long long)ev->step);
        if (isfinite(ev->val_loss)) fprintf(stderr, " loss %.4f", ev->val_loss);
        if (ev->metric_name && isfinite(ev->val_metric) && strcmp(ev->metric_name, "validation loss") != 0)
            fprintf(stderr, ", %s %.4f", ev->metric_name, ev->val_metric);
        fputc('\n', stderr);
        break;
    case ONC_FT_EVENT_SAVE:
        if (!tty) fprintf(stderr, "step %lld: checkpoint saved\n", (long long)ev->step);
        break;
    case ONC_FT_EVENT_STOP:
        fprintf(stderr, "%sstep %lld: early stop (no improvement in %s)\n", tty ? "\n" : "", (long long)ev->step,
                ev->metric_name ? ev->metric_name : "validation loss");
        break;
    }
}
