/* test_cli_tokenize.c — `oncolm tokenize` end to end: a small SPM vocabulary
 * is written as a vocabulary-only GGUF into $ONCOLM_TMP, then the CLI
 * ($ONCOLM_BIN) is run on it with each output mode, on -p / -f / stdin, and
 * with bad usage and bad inputs. With $ONCOLM_CONFORMANCE present, GPT-2's
 * reference vocabulary is checked too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "oncolm/gguf.h"
#include "oncolm/vocab.h"

static const char *bin, *tmp;
static char vocab_path[4096];

/* Run a shell command; returns its exit code and its stdout (and stderr
 * when `with_stderr`) in a static buffer. */
static int run(const char *cmd, bool with_stderr, char **out) {
    static char buf[1 << 16];
    char full[20000];
    snprintf(full, sizeof full, "%s%s", cmd, with_stderr ? " 2>&1" : " 2>/dev/null");
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int tokenize(const char *args, bool with_stderr, char **out) {
    char cmd[20000];
    snprintf(cmd, sizeof cmd, "'%s' tokenize %s", bin, args);
    return run(cmd, with_stderr, out);
}

static int setup(void **state) {
    (void)state;
    bin = getenv("ONCOLM_BIN");
    tmp = getenv("ONCOLM_TMP");
    if (!bin || !tmp) return -1;
    /* <unk> <s> </s>, 256 byte tokens, "▁" "h" "i" "hi" "▁hi" */
    onc_vocab_spec s = {0};
    char *toks[264];
    float scores[264] = {0};
    int32_t types[264];
    static char bytes[256][8];
    toks[0] = "<unk>", types[0] = ONC_TOKEN_UNKNOWN;
    toks[1] = "<s>", types[1] = ONC_TOKEN_CONTROL;
    toks[2] = "</s>", types[2] = ONC_TOKEN_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        toks[3 + b] = bytes[b], types[3 + b] = ONC_TOKEN_BYTE;
    }
    const char *words[] = {"\xE2\x96\x81", "h", "i", "hi", "\xE2\x96\x81hi"};
    for (int k = 0; k < 5; k++) toks[259 + k] = (char *)words[k], types[259 + k] = ONC_TOKEN_NORMAL, scores[259 + k] = -k;
    s.kind = ONC_VOCAB_SPM;
    s.n_tokens = 264;
    s.tokens = toks;
    s.scores = scores;
    s.token_types = types;
    s.bos_id = 1, s.eos_id = 2, s.unk_id = 0;
    s.sep_id = s.pad_id = s.mask_id = ONC_TOKEN_NONE;
    s.add_bos = true, s.add_space_prefix = true;
    onc_gguf_writer *w = onc_gguf_writer_new();
    onc_error err = {0};
    onc_gguf_set_str(w, "general.architecture", "llama");
    if (onc_vocab_spec_write_gguf(&s, w, &err) != ONC_OK) return -1;
    snprintf(vocab_path, sizeof vocab_path, "%s/cli_tokenize_vocab.gguf", tmp);
    onc_status st = onc_gguf_writer_write(w, vocab_path, &err);
    onc_gguf_writer_free(w);
    if (st != ONC_OK) fprintf(stderr, "%s\n", err.msg);
    return st == ONC_OK ? 0 : -1;
}

static void test_modes(void **state) {
    (void)state;
    char args[16384], *out;
    snprintf(args, sizeof args, "-m '%s' -p 'hi hi' --ids", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "1 263 263\n");
    snprintf(args, sizeof args, "-m '%s' -p 'hi hi' --ids --no-special", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "263 263\n");
    snprintf(args, sizeof args, "-m '%s' -p 'hi' --count", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "2\n");
    snprintf(args, sizeof args, "-m '%s' -p 'hi'", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "1\t<s>\n263\t hi\n");
    /* "hi\n\\\"": newline, backslash and quote escaped in JSON */
    snprintf(args, sizeof args, "-m '%s' -p \"$(printf 'hi\\n\\134\\042')\" --json", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "{\"ids\":[1,263,13,95,37],\"pieces\":[\"<s>\",\" hi\",\"\\n\",\"\\\\\",\"\\\"\"],"
                             "\"n_tokens\":5}\n");
    snprintf(args, sizeof args, "-m '%s' -p \"$(printf 'h\\303\\251')\" --pieces --no-special", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, " \nh\n\\xC3\n\\xA9\n");
    snprintf(args, sizeof args, "-m '%s' -p '<s>hi' --ids --parse-special", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "1 1 263\n");
    snprintf(args, sizeof args, "-m '%s' -p '' --ids", vocab_path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "1\n");
}

static void test_inputs(void **state) {
    (void)state;
    char cmd[16384], path[4096], *out;
    snprintf(cmd, sizeof cmd, "printf 'hi' | '%s' tokenize -m '%s' --ids", bin, vocab_path);
    assert_int_equal(run(cmd, false, &out), 0);
    assert_string_equal(out, "1 263\n");
    snprintf(path, sizeof path, "%s/cli_tokenize_input.txt", tmp);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("hi hi", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "-m '%s' -f '%s' --ids", vocab_path, path);
    assert_int_equal(tokenize(cmd, false, &out), 0);
    assert_string_equal(out, "1 263 263\n");

    /* invalid UTF-8: error naming the input and the offset */
    f = fopen(path, "wb");
    fputs("hi\xFFhi", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "-m '%s' -f '%s' --ids", vocab_path, path);
    assert_int_equal(tokenize(cmd, true, &out), 1);
    assert_non_null(strstr(out, "oncolm: "));
    assert_non_null(strstr(out, path));
    assert_non_null(strstr(out, "offset 2"));
}

static void test_errors(void **state) {
    (void)state;
    char args[16384], *out;
    assert_int_equal(tokenize("--help", false, &out), 0);
    assert_non_null(strstr(out, "usage: oncolm tokenize"));
    assert_int_equal(tokenize("-p hi", true, &out), 2);
    snprintf(args, sizeof args, "-m '%s' --bogus", vocab_path);
    assert_int_equal(tokenize(args, true, &out), 2);
    assert_int_equal(tokenize("-m", true, &out), 2);
    snprintf(args, sizeof args, "-m '%s/no-such-file.gguf' -p hi", tmp);
    assert_int_equal(tokenize(args, true, &out), 1);
    assert_non_null(strstr(out, "oncolm: "));
    assert_non_null(strstr(out, "no-such-file.gguf"));
    /* a file that is not GGUF */
    char path[4096];
    snprintf(path, sizeof path, "%s/cli_tokenize_not.gguf", tmp);
    FILE *f = fopen(path, "wb");
    fputs("this is not a model", f);
    fclose(f);
    snprintf(args, sizeof args, "-m '%s' -p hi", path);
    assert_int_equal(tokenize(args, true, &out), 1);
    assert_non_null(strstr(out, "cli_tokenize_not.gguf"));
}

static void test_reference_vocab(void **state) {
    (void)state;
    const char *root = getenv("ONCOLM_CONFORMANCE");
    char path[4096], args[16384], *out;
    struct stat st;
    snprintf(path, sizeof path, "%s/tokenizers/ggml-vocab-gpt-2.gguf", root ? root : "");
    if (!root || stat(path, &st) != 0) skip();
    snprintf(args, sizeof args, "-m '%s' -p 'Hello world' --ids --no-special", path);
    assert_int_equal(tokenize(args, false, &out), 0);
    assert_string_equal(out, "15496 995\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reference_vocab),
    };
    if (!getenv("ONCOLM_BIN") || !getenv("ONCOLM_TMP")) {
        printf("ONCOLM_BIN / ONCOLM_TMP not set: skipped\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}
