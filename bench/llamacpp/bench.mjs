#!/usr/bin/env node
// bench.mjs — llama-bench style throughput of llama.cpp (node-llama-cpp,
// installed by setup.sh outside the repository) on one GGUF file:
//   pp: prompt processing of --pp tokens (default 512) in ONE batch
//       (batchSize = ubatch = max(512, pp)), from an empty KV cache;
//   tg: generation of --tg tokens (default 128) one token per decode, from an
//       empty KV cache, logits computed for every token (greedy pick).
// Like llama-bench: random token ids (seeded), BOS first when the model adds
// one, flash attention off, a warm-up run of each test first, then --reps
// measured runs; tokens/s per run, mean, stddev and best. Model load and
// context creation are outside the timed region. Times are wall-clock around
// the node-llama-cpp call (JS overhead included, about 0.1 ms per call) and
// llama.cpp's own perf counters (llama_perf_context) for the same run.
//
//   node bench/llamacpp/bench.mjs MODEL.gguf [--threads N] [--pp 512] [--tg 128]
//        [--reps 3] [--json OUT.json] [--seed 42]
import {statSync, writeFileSync} from "node:fs";
import {basename} from "node:path";
import {performance} from "node:perf_hooks";
import {loadLlama, versions, prng} from "./lib.mjs";

const args = process.argv.slice(2);
const opt = {threads: 1, pp: 512, tg: 128, reps: 3, json: null, seed: 42, verbose: false};
let modelPath = null;
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--threads" || a === "-t") opt.threads = Number(args[++i]);
    else if (a === "--pp" || a === "-p") opt.pp = Number(args[++i]);
    else if (a === "--tg" || a === "-n") opt.tg = Number(args[++i]);
    else if (a === "--reps" || a === "-r") opt.reps = Number(args[++i]);
    else if (a === "--json") opt.json = args[++i];
    else if (a === "--seed") opt.seed = Number(args[++i]);
    else if (a === "--verbose") opt.verbose = true;
    else if (a === "-h" || a === "--help") {
        console.log("usage: bench.mjs MODEL.gguf [--threads N] [--pp 512] [--tg 128] [--reps 3] [--json OUT] [--seed S]");
        process.exit(0);
    } else modelPath = a;
}
if (!modelPath || !(opt.threads >= 1) || !(opt.pp >= 0) || !(opt.tg >= 0) || !(opt.reps >= 1)) {
    console.error("usage: bench.mjs MODEL.gguf [--threads N] [--pp 512] [--tg 128] [--reps 3] [--json OUT] [--seed S]");
    process.exit(2);
}

// llama.cpp's perf report goes through the log: pick up the two lines
let perfLines = [];
const {llama, state} = await loadLlama({
    maxThreads: opt.threads,
    verbose: opt.verbose,
    onLog(level, msg) {
        if (/prompt eval time|^\s*eval time|llama_perf_context_print:\s+(prompt )?eval time/.test(msg)) perfLines.push(msg);
    },
});
function takePerf() {
    // "prompt eval time =  1234.56 ms /   512 tokens" / "eval time = ... ms / 127 runs"
    const out = {};
    for (const l of perfLines) {
        const m = /(prompt eval|eval) time\s*=\s*([\d.]+) ms\s*\/\s*(\d+)/.exec(l);
        if (m) out[m[1] === "prompt eval" ? "prompt" : "gen"] = {ms: Number(m[2]), n: Number(m[3])};
    }
    perfLines = [];
    return out;
}

const t0 = performance.now();
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: true});
const loadMs = performance.now() - t0;
const nVocab = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 32000;
const batch = Math.max(512, opt.pp);
const ctx = await model.createContext({
    contextSize: Math.max(opt.pp, opt.tg + 1) + 16,
    batchSize: batch,
    sequences: 1,
    threads: {ideal: opt.threads, min: opt.threads},
    flashAttention: false,
    performanceTracking: true,
});
const seq = ctx.getSequence();
const rnd = prng(opt.seed);
const randTok = () => Math.floor(rnd() * nVocab);
const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;

async function runPP() {
    await seq.clearHistory();
    const toks = Array.from({length: opt.pp}, randTok);
    if (bos != null && toks.length) toks[0] = bos;
    await ctx.printTimings(); // resets the counters
    perfLines = [];
    const t = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(toks);
    const ms = performance.now() - t;
    await ctx.printTimings();
    return {ms, perf: takePerf().prompt};
}

async function runTG() {
    await seq.clearHistory();
    await ctx.printTimings();
    perfLines = [];
    let n = 0;
    const first = bos ?? randTok();
    const t = performance.now();
    // evaluate() decodes one token per step and samples greedily from its
    // logits; break after opt.tg decodes
    for await (const tok of seq.evaluate([first], {temperature: 0})) {
        void tok;
        if (++n >= opt.tg) break;
    }
    const ms = performance.now() - t;
    await ctx.printTimings();
    const p = takePerf();
    // the first decode is the 1-token "prompt", the rest are "eval" runs
    const perf = p.gen || p.prompt ? {ms: (p.gen?.ms ?? 0) + (p.prompt?.ms ?? 0), n: (p.gen?.n ?? 0) + (p.prompt?.n ?? 0)} : undefined;
    return {ms, n, perf};
}

const stats = (xs) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
    return {mean, stddev: sd, best: Math.max(...xs), runs: xs};
};

const result = {
    model: basename(modelPath),
    path: modelPath,
    size_bytes: statSync(modelPath).size,
    arch: model.fileInfo.metadata.general?.architecture,
    file_type: model.fileInfo.metadata.general?.file_type,
    threads: opt.threads,
    threads_used: ctx.currentThreads,
    batch_size: ctx.batchSize,
    flash_attn: false,
    pp: opt.pp,
    tg: opt.tg,
    reps: opt.reps,
    seed: opt.seed,
    load_ms: loadMs,
    cpu_variant: state.cpuVariant,
    versions: versions(),
    tests: {},
};
if (typeof model.size === "number") result.model_bytes = model.size;

if (opt.pp > 0) {
    await runPP(); // warm-up
    const runs = [];
    const native = [];
    for (let r = 0; r < opt.reps; r++) {
        const {ms, perf} = await runPP();
        runs.push((opt.pp * 1000) / ms);
        if (perf && perf.ms > 0) native.push((perf.n * 1000) / perf.ms);
    }
    result.tests[`pp${opt.pp}`] = {...stats(runs), native_llama_perf: native.length ? stats(native) : null};
}
if (opt.tg > 0) {
    const saveTg = opt.tg;
    opt.tg = Math.min(16, saveTg);
    await runTG(); // warm-up
    opt.tg = saveTg;
    const runs = [];
    const native = [];
    for (let r = 0; r < opt.reps; r++) {
        const {ms, n, perf} = await runTG();
        runs.push((n * 1000) / ms);
        if (perf && perf.ms > 0) native.push((perf.n * 1000) / perf.ms);
    }
    result.tests[`tg${opt.tg}`] = {...stats(runs), native_llama_perf: native.length ? stats(native) : null};
}
await ctx.dispose();
await model.dispose();

const f = (x) => x.toFixed(2);
for (const [name, s] of Object.entries(result.tests))
    console.error(`${result.model} t=${opt.threads} ${name}: ${f(s.mean)} ± ${f(s.stddev)} t/s (best ${f(s.best)})` +
                  (s.native_llama_perf ? `, llama_perf ${f(s.native_llama_perf.mean)} t/s` : "") +
                  ` [cpu ${state.cpuVariant}, batch ${result.batch_size}, threads used ${result.threads_used}]`);
const json = JSON.stringify(result, null, 2);
if (opt.json) writeFileSync(opt.json, json);
console.log(json);
