#!/usr/bin/env node
// logits.mjs — raw next-token logits from llama.cpp (node-llama-cpp,
// installed by setup.sh outside the repository) for a sequence of token ids,
// to cross-check oncolm's forward pass on the same GGUF file.
//
//   node bench/llamacpp/logits.mjs MODEL.gguf [--out FILE.f32] [--last] [--threads N]
//                                  [--lora ADAPTER.gguf[:SCALE]]... ID...
//
// The ids are evaluated as given (no BOS is added: put it in the list), in
// one batch, with logits requested for every position (--last: only the
// last). node-llama-cpp returns them through its sampler with the greedy
// (temperature 0) chain and no penalties, which leaves them untouched: they
// are llama_get_logits_ith() values. --out writes little-endian float32,
// row-major [n_positions][n_vocab] (position i = logits after ids[0..i]).
// stdout gets JSON: n_vocab, positions, the top 5 (id, logit) per position
// and, when --out is not given, nothing else.
import {writeFileSync} from "node:fs";
import {loadLlama, versions} from "./lib.mjs";

const args = process.argv.slice(2);
let modelPath = null, out = null, lastOnly = false, threads = 1;
const adapters = []; // LoRA adapters (llama.cpp GGUF format) applied by llama.cpp itself
const ids = [];
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--out") out = args[++i];
    else if (a === "--last") lastOnly = true;
    else if (a === "--threads") threads = Number(args[++i]);
    else if (a === "--lora") {
        const v = args[++i], c = v.lastIndexOf(":");
        const scale = c > 0 ? Number(v.slice(c + 1)) : NaN;
        adapters.push(Number.isFinite(scale) ? {filePath: v.slice(0, c), scale} : {filePath: v, scale: 1});
    }
    else if (a === "-h" || a === "--help") {
        console.log("usage: logits.mjs MODEL.gguf [--out FILE.f32] [--last] [--threads N] ID...");
        process.exit(0);
    } else if (!modelPath) modelPath = a;
    else for (const t of a.split(/[\s,]+/).filter(Boolean)) ids.push(Number(t));
}
if (!modelPath || ids.length === 0 || ids.some((t) => !Number.isInteger(t) || t < 0)) {
    console.error("usage: logits.mjs MODEL.gguf [--out FILE.f32] [--last] [--threads N] ID...");
    process.exit(2);
}

const {llama, state} = await loadLlama({maxThreads: threads});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const nVocab = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length;
if (ids.some((t) => t >= nVocab)) {
    console.error(`logits.mjs: ids must be < n_vocab ${nVocab}`);
    process.exit(2);
}
const ctx = await model.createContext({
    contextSize: ids.length + 8,
    batchSize: Math.max(ids.length, 32),
    threads: {ideal: threads, min: threads},
    ...(adapters.length ? {lora: {adapters}} : {}),
});
const seq = ctx.getSequence();
const want = (i) => !lastOnly || i === ids.length - 1;
const res = await seq.controlledEvaluate(
    ids.map((t, i) => (want(i) ? [t, {generateNext: {logits: true, options: {temperature: 0}}}] : t)));

const positions = [];
const rows = [];
for (let i = 0; i < ids.length; i++) {
    if (!want(i)) continue;
    const m = res[i]?.next?.logits;
    if (!m) throw new Error(`no logits for position ${i}`);
    const row = new Float32Array(nVocab).fill(Number.NaN);
    for (const [tok, v] of m) row[tok] = v;
    const missing = row.reduce((n, v) => n + (Number.isNaN(v) ? 1 : 0), 0);
    const top = [...m.entries()].slice(0, 5).map(([t, v]) => [t, Number(v.toFixed(6))]);
    positions.push({pos: i, id: ids[i], top5: top, missing});
    rows.push(row);
}
if (out) {
    const buf = Buffer.alloc(rows.length * nVocab * 4);
    rows.forEach((r, k) => Buffer.from(r.buffer).copy(buf, k * nVocab * 4));
    writeFileSync(out, buf);
}
console.log(JSON.stringify({model: modelPath, n_vocab: nVocab, ids, out, layout: "float32 LE [n_positions][n_vocab]",
                            cpu_variant: state.cpuVariant, versions: versions(), positions}, null, 1));
await ctx.dispose();
await model.dispose();
