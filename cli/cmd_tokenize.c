/* cmd_tokenize.c — `oncolm tokenize`: the token ids and pieces of a text with
 * a model's tokenizer (the model file may be vocabulary-only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "oncolm/gguf.h"
#include "oncolm/tokenizer.h"

static const char *usage =
    "usage: oncolm tokenize -m MODEL.gguf [-p TEXT | -f FILE] [options]\n"
    "  -m, --model FILE     GGUF model or vocabulary-only file\n"
    "  -p, --prompt TEXT    text to tokenize\n"
    "  -f, --file FILE      read the text from FILE ('-' = stdin); default: stdin\n"
    "  --ids                print only the ids, space-separated on one line\n"
    "  --pieces             print only the pieces, one per line (escaped)\n"
    "  --json               print {\"ids\":[...],\"pieces\":[...],\"n_tokens\":N}\n"
    "  --count              print only the number of tokens\n"
    "  --no-special         do not add BOS/EOS/CLS/SEP\n"
    "  --parse-special      recognise special-token texts such as <s> in the input\n"
    "  -h, --help           this help\n"
    "Default output: one line per token, \"id<TAB>piece\", the piece escaped (\\n, \\t, \\\\,\n"
    "\\xNN for bytes that are not printable UTF-8). In --json, such bytes are U+FFFD.\n";

typedef enum out_mode { OUT_TABLE, OUT_IDS, OUT_PIECES, OUT_JSON, OUT_COUNT } out_mode;

/* Length of the printable UTF-8 character at s (0 when it is a control
 * character or not well-formed UTF-8). */
static size_t printable_char(const unsigned char *s, size_t n) {
    if (s[0] < 0x20 || s[0] == 0x7F) return 0;
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || len > n || s[0] > 0xF4) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    uint32_t cp = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) cp = (cp << 6) | (s[i] & 0x3F);
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0)) return 0;
    return len;
}

static void print_piece(const char *p, size_t n, bool json) {
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        const char *esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\\' ? "\\\\"
                                                                    : (json && c == '"') ? "\\\""
                                                                                         : NULL;
        if (esc) {
            fputs(esc, stdout);
            i++;
            continue;
        }
        size_t l = printable_char(s + i, n - i);
        if (l > 0) {
            fwrite(s + i, 1, l, stdout);
            i += l;
        } else if (json) {
            if (c < 0x80) printf("\\u%04x", c);
            else fputs("\\ufffd", stdout);
            i++;
        } else {
            printf("\\x%02X", c);
            i++;
        }
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    out_mode mode = OUT_TABLE;
    onc_tokenize_params tp = onc_tokenize_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            if (++i >= argc) return cli_usage_error(usage, "tokenize: %s needs a file", a);
            model = argv[i];
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) {
            if (++i >= argc) return cli_usage_error(usage, "tokenize: %s needs a text", a);
            prompt = argv[i];
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
            if (++i >= argc) return cli_usage_error(usage, "tokenize: %s needs a file", a);
            file = argv[i];
        } else if (strcmp(a, "--ids") == 0) {
            mode = OUT_IDS;
        } else if (strcmp(a, "--pieces") == 0) {
            mode = OUT_PIECES;
        } else if (strcmp(a, "--json") == 0) {
            mode = OUT_JSON;
        } else if (strcmp(a, "--count") == 0) {
            mode = OUT_COUNT;
        } else if (strcmp(a, "--no-special") == 0) {
            tp.add_special = false;
        } else if (strcmp(a, "--parse-special") == 0) {
            tp.parse_special = true;
        } else {
            return cli_usage_error(usage, "tokenize: unknown option '%s'", a);
        }
    }
    if (!model) return cli_usage_error(usage, "tokenize: no model given (-m MODEL.gguf)");
    if (prompt && file) return cli_usage_error(usage, "tokenize: give either -p or -f, not both");

    onc_error err = {0};
    char *text = NULL;
    size_t len = 0;
    const char *source = prompt ? "prompt" : file && strcmp(file, "-") != 0 ? file : "stdin";
    if (prompt) {
        len = strlen(prompt);
    } else if (!(text = cli_read_file(file ? file : "-", &len, &err))) {
        return cli_fail(&err);
    }
    onc_gguf *g = onc_gguf_open(model, &err);
    onc_tokenizer *t = g ? onc_tokenizer_from_gguf(g, &err) : NULL;
    onc_gguf_close(g);
    if (!t) {
        free(text);
        return cli_fail(&err);
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (onc_tokenize(t, prompt ? prompt : text, len, &tp, &ids, &n, &err) != ONC_OK) {
        onc_error_prefix(&err, "%s", source);
        onc_tokenizer_free(t);
        free(text);
        return cli_fail(&err);
    }
    switch (mode) {
    case OUT_COUNT: printf("%zu\n", n); break;
    case OUT_IDS:
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
        break;
    case OUT_PIECES:
    case OUT_TABLE:
        for (size_t i = 0; i < n; i++) {
            const char *pc;
            size_t pl = onc_token_to_piece(t, ids[i], true, &pc);
            if (mode == OUT_TABLE) printf("%d\t", ids[i]);
            print_piece(pc, pl, false);
            putchar('\n');
        }
        break;
    case OUT_JSON:
        printf("{\"ids\":[");
        for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        printf("],\"pieces\":[");
        for (size_t i = 0; i < n; i++) {
            const char *pc;
            size_t pl = onc_token_to_piece(t, ids[i], true, &pc);
            printf(i ? ",\"" : "\"");
            print_piece(pc, pl, true);
            putchar('"');
        }
        printf("],\"n_tokens\":%zu}\n", n);
        break;
    }
    int rc = CLI_EXIT_OK;
    if (fflush(stdout) != 0) {
        cli_errorf("tokenize: cannot write the output");
        rc = CLI_EXIT_FAIL;
    }
    free(ids);
    onc_tokenizer_free(t);
    free(text);
    return rc;
}
