#!/usr/bin/env node
// check_load.mjs — load GGUF files in llama.cpp (node-llama-cpp, installed by
// setup.sh outside the repository), run one evaluation, tokenize a clinical
// sentence (and, when the model has a chat template, a chat turn with its
// special tokens) and compare the ids with `oncolm tokenize`.
//
//   node bench/llamacpp/check_load.mjs [--oncolm BIN] [--json OUT.json] [--text TEXT] FILE...
//
// --oncolm defaults to build-h5/bin/oncolm, then build/bin/oncolm, when present.
// Each file is checked in a child process, so a file that makes llama.cpp
// abort (GGML_ASSERT) is reported as FAIL with its last message instead of
// ending the run. Exit status 0 when every file loads, evaluates and
// tokenizes the same.
import {spawnSync} from "node:child_process";
import {existsSync, statSync, writeFileSync} from "node:fs";
import {basename} from "node:path";
import {fileURLToPath} from "node:url";
import {nlc, loadLlama, versions, CLINICAL_SENTENCE} from "./lib.mjs";

const args = process.argv.slice(2);
let oncolm = null, jsonOut = null, text = CLINICAL_SENTENCE, verbose = false, child = false;
const files = [];
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--oncolm") oncolm = args[++i];
    else if (a === "--child") child = true;
    else if (a === "--json") jsonOut = args[++i];
    else if (a === "--text") text = args[++i];
    else if (a === "--verbose") verbose = true;
    else if (a === "-h" || a === "--help") {
        console.log("usage: check_load.mjs [--oncolm BIN] [--json OUT.json] [--text TEXT] [--verbose] FILE...");
        process.exit(0);
    } else files.push(a);
}
if (files.length === 0) {
    console.error("check_load.mjs: no GGUF files given");
    process.exit(2);
}
if (!oncolm) oncolm = ["build-h5/bin/oncolm", "build/bin/oncolm"].find((p) => existsSync(p)) ?? null;

/* A chat turn in the family's format, chosen by what the template contains. */
function chatSample(tmpl) {
    if (!tmpl) return null;
    const q = "Summarize: stage IIIA NSCLC, EGFR exon 19 deletion.";
    if (tmpl.includes("<|start_header_id|>"))
        return `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;
    if (tmpl.includes("<|im_start|>"))
        return `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`;
    if (tmpl.includes("<|user|>") && tmpl.includes("<|end|>")) return `<|user|>\n${q}<|end|>\n<|assistant|>\n`;
    if (tmpl.includes("<|user|>")) return `<|user|>\n${q}</s>\n<|assistant|>\n`;
    if (tmpl.includes("[INST]")) return `<s>[INST] ${q} [/INST] Stage IIIA. </s>`;
    return null;
}

function oncolmIds(file, input, extra) {
    if (!oncolm) return {ids: null, error: "no oncolm binary"};
    const r = spawnSync(oncolm, ["tokenize", "-m", file, "-p", input, "--ids", ...extra], {encoding: "utf8"});
    if (r.status !== 0) return {ids: null, error: (r.stderr || "").trim().split("\n").pop()};
    const s = r.stdout.trim();
    return {ids: s === "" ? [] : s.split(/\s+/).map(Number)};
}

function firstDiff(a, b) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
    return -1;
}

function compare(name, llamaIds, onc) {
    if (onc.ids === null) return {name, match: null, note: onc.error};
    const d = firstDiff(llamaIds, onc.ids);
    return d < 0
        ? {name, match: true, n: llamaIds.length}
        : {name, match: false, at: d, llama: llamaIds.slice(Math.max(0, d - 2), d + 6),
           oncolm: onc.ids.slice(Math.max(0, d - 2), d + 6), n_llama: llamaIds.length, n_oncolm: onc.ids.length};
}

function report(r) {
    const tk = r.tokenize.map((t) => `${t.name}:${t.match === true ? "same" : t.match === false ? `DIFF@${t.at}` : "n/a"}`).join(" ");
    console.log(`${r.pass ? "PASS" : "FAIL"}  ${r.name}  arch=${r.arch ?? "?"} ftype=${r.file_type ?? "?"} ` +
                `eval=${r.eval ? "ok" : "no"} tokens=${r.ids?.length ?? "-"} [${tk}] wrapper=${r.chat_wrapper ?? "-"}` +
                (r.error ? `  error: ${r.error}` : ""));
    if (r.ids) console.log(`      llama.cpp ids: ${r.ids.join(" ")}`);
    for (const t of r.tokenize)
        if (t.match === false) console.log(`      ${t.name}: llama.cpp ${JSON.stringify(t.llama)} oncolm ${JSON.stringify(t.oncolm)} (n ${t.n_llama} vs ${t.n_oncolm})`);
}

if (!child) {
    // parent: one child process per file
    const self = fileURLToPath(import.meta.url);
    const results = [];
    let cpuVariant = null;
    for (const file of files) {
        const c = spawnSync(process.execPath, [self, "--child", "--text", text, ...(oncolm ? ["--oncolm", oncolm] : []),
                                               ...(verbose ? ["--verbose"] : []), file],
                            {encoding: "utf8", maxBuffer: 64 << 20, timeout: 180000, killSignal: "SIGKILL",
                             // ggml's abort handler otherwise tries to attach a debugger
                             // for a backtrace, which can hang the dying process
                             env: {...process.env, GGML_NO_BACKTRACE: "1"}});
        let r = null;
        for (const line of (c.stdout || "").split("\n")) {
            try {
                const out = JSON.parse(line);
                r = out.results[0];
                cpuVariant = out.cpu_variant ?? cpuVariant;
            } catch {
                /* not ours */
            }
        }
        if (c.status !== 0 || c.signal) {
            // the last line llama.cpp printed (GGML_ABORT messages end it; an
            // abort can also hang the thread pool, hence the timeout)
            const why = (c.stderr || "").trim().split("\n").filter((l) => l.trim()).slice(-1)[0] ?? "";
            r = r ?? {file, name: basename(file), load: false, eval: false, tokenize: []};
            r.eval = false;
            r.pass = false;
            r.tok_ok = r.tokenize.length > 0 && r.tokenize.every((t) => t.match === true);
            r.error = `llama.cpp process died (${c.signal ?? `exit ${c.status}`}): ${why.replace(/^.*ggml\/src\//, "").trim()}`;
        }
        results.push(r);
        report(r);
    }
    const summary = {versions: versions(), cpu_variant: cpuVariant, oncolm, text, results};
    console.log(`llama.cpp ${summary.versions.llama_cpp_release} (node-llama-cpp ${summary.versions.node_llama_cpp}), CPU backend: ${cpuVariant}`);
    const nPass = results.filter((r) => r.pass).length, nTok = results.filter((r) => r.tok_ok).length;
    console.log(`${nPass}/${results.length} load+eval, ${nTok}/${results.length} tokenization identical to oncolm`);
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(summary, null, 2));
    process.exit(nPass === results.length && nTok === results.length ? 0 : 1);
}

const {llama, state} = await loadLlama({verbose});
const results = [];
for (const file of files) {
    const r = {file, name: basename(file), size: existsSync(file) ? statSync(file).size : null, load: false, eval: false,
               tokenize: []};
    let model = null;
    try {
        model = await llama.loadModel({modelPath: file, gpuLayers: 0});
        r.load = true;
        const md = model.fileInfo.metadata;
        r.arch = md.general?.architecture;
        r.file_type = md.general?.file_type;
        r.n_vocab = model.tokens ? model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length : undefined;
        r.bos = model.tokens.bos;
        r.eos = model.tokens.eos;
        r.eot = model.tokens.eot;
        r.add_bos = model.tokens.shouldPrependBosToken;
        const tmpl = md.tokenizer?.chat_template;
        r.chat_template = tmpl ? true : false;
        try {
            r.chat_wrapper = nlc.resolveChatWrapper(model)?.wrapperName ?? null;
        } catch (e) {
            r.chat_wrapper = `error: ${e.message}`;
        }

        const ids = model.tokenize(text, false);
        // tokenization vs oncolm
        r.tokenize.push(compare("plain", ids, oncolmIds(file, text, ["--no-special"])));
        const withSpecial = model.tokenize(text, false);
        const lead = r.add_bos && r.bos != null ? [r.bos] : [];
        const tail = model.tokens.shouldAppendEosToken && r.eos != null ? [r.eos] : [];
        if (r.arch !== "bert") r.tokenize.push(compare("add_special", [...lead, ...withSpecial, ...tail], oncolmIds(file, text, [])));
        const chat = chatSample(tmpl);
        if (chat) r.tokenize.push(compare("chat", model.tokenize(chat, true), oncolmIds(file, chat, ["--no-special", "--parse-special"])));
        r.ids = ids;
        // a partial result first: if llama.cpp aborts while evaluating, the
        // parent still knows that the file loaded and how it tokenized
        console.log(JSON.stringify({versions: versions(), cpu_variant: state.cpuVariant, oncolm, text,
                                    results: [{...r, eval_note: "evaluation did not finish"}]}));
        // evaluation: decoders generate one token, encoders embed the sentence
        if (r.arch === "bert") {
            const ectx = await model.createEmbeddingContext({contextSize: 128});
            const emb = await ectx.getEmbeddingFor(text);
            r.eval = emb.vector.length > 0 && emb.vector.every(Number.isFinite);
            r.eval_note = `embedding of ${emb.vector.length}`;
            await ectx.dispose();
        } else {
            const ctx = await model.createContext({contextSize: 128, batchSize: 128});
            const seq = ctx.getSequence();
            const input = r.add_bos && r.bos != null ? [r.bos, ...ids] : ids;
            const out = await seq.controlledEvaluate(
                input.map((t, i) => (i === input.length - 1 ? [t, {generateNext: {token: true, logits: {filter: {tokens: [], includeTop: 3}}}}] : t)));
            const next = out[input.length - 1]?.next;
            const top = next?.logits ? [...next.logits.entries()] : [];
            r.eval = next?.token != null && top.length > 0 && top.every(([, v]) => Number.isFinite(v));
            r.eval_note = `next ${next?.token} top logits ${top.map(([t, v]) => `${t}:${v.toFixed(3)}`).join(" ")}`;
            await ctx.dispose();
        }

    } catch (e) {
        r.error = e.message;
    }
    if (model) await model.dispose();
    r.tok_ok = r.tokenize.length > 0 && r.tokenize.every((t) => t.match === true);
    r.pass = r.load && r.eval;
    results.push(r);
}
console.log(JSON.stringify({versions: versions(), cpu_variant: state.cpuVariant, oncolm, text, results}));
process.exit(0);
