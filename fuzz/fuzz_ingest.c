/* fuzz_ingest.c — libFuzzer target for the note store's input parsers and
 * the chunker: the first byte picks the format (JSONL or CSV), the rest is
 * written to a temporary file and ingested into an in-memory store, which
 * must then pass its own consistency check; any stored note is chunked
 * again and searched. Replayed over fuzz/corpus/ingest/ by ctest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oncolm/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const bool csv = data[0] & 1;
    char path[64];
    snprintf(path, sizeof path, "/tmp/oncolm-fuzz-ingest-%ld.%s", (long)getpid(), csv ? "csv" : "jsonl");
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    onc_error err = {0};
    onc_chunk_params cp = onc_chunk_default_params();
    cp.max_tokens = 16; /* small chunks: windows and overlap get exercised */
    cp.overlap = 4;
    onc_store *s = onc_store_open(":memory:", true, &cp, &err);
    if (!s) abort(); /* an in-memory store always opens */
    onc_ingest_counts c;
    (void)onc_store_ingest(s, path, ONC_INGEST_AUTO, 2, &c, &err);
    if (onc_store_check(s, &err) != ONC_OK) {
        fprintf(stderr, "inconsistent store after ingest: %s\n", err.msg);
        abort();
    }
    onc_hit *h = NULL;
    size_t n = 0;
    if (onc_store_search(s, "mass stage 2 a", NULL, &h, &n, &err) == ONC_OK) {
        for (size_t i = 0; i < n; i++) {
            size_t len = 0;
            free(onc_store_chunk_text(s, h[i].chunk, &len, &err));
        }
    }
    free(h);
    onc_store_close(s);
    unlink(path);
    return 0;
}
