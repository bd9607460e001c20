#!/usr/bin/env node
// summarize.mjs — Markdown table from bench.mjs JSON files. Several files for
// the same model and thread count (repeated rounds on a shared machine) are
// merged: the table shows the best round's mean, and the best single run.
//
//   node bench/llamacpp/summarize.mjs RESULT.json...
import {readFileSync} from "node:fs";

const rows = new Map();
for (const f of process.argv.slice(2)) {
    const r = JSON.parse(readFileSync(f, "utf8"));
    for (const [test, s] of Object.entries(r.tests)) {
        const key = `${r.model}\t${r.threads}\t${test}`;
        const cur = rows.get(key) ?? {model: r.model, size: r.size_bytes, threads: r.threads, test, rounds: [], best: 0,
                                      native: [], cpu: r.cpu_variant, batch: r.batch_size};
        cur.rounds.push(s.mean);
        cur.best = Math.max(cur.best, s.best);
        if (s.native_llama_perf) cur.native.push(s.native_llama_perf.mean);
        rows.set(key, cur);
    }
}
const f = (x) => x.toFixed(2);
console.log("| model | size | threads | test | t/s (best round mean) | best run | llama_perf t/s | round means |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of [...rows.values()].sort((a, b) => a.model.localeCompare(b.model) || a.threads - b.threads || a.test.localeCompare(b.test)))
    console.log(`| ${r.model} | ${(r.size / 2 ** 30).toFixed(2)} GiB | ${r.threads} | ${r.test} | ${f(Math.max(...r.rounds))} | ` +
                `${f(r.best)} | ${r.native.length ? f(Math.max(...r.native)) : "-"} | ${r.rounds.map(f).join(", ")} |`);
