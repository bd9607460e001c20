// lib.mjs — shared loader for the llama.cpp reference harness. Imports
// node-llama-cpp from the cache directory that setup.sh installs into
// ($ONCOLM_LLAMACPP_DIR, default ~/.cache/oncolm-llamacpp), never from the
// repository. Dev-time only: not part of the build or the test suite.
import {readFileSync, existsSync} from "node:fs";
import {homedir} from "node:os";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

export const cacheDir = process.env.ONCOLM_LLAMACPP_DIR || join(homedir(), ".cache", "oncolm-llamacpp");

const nlcDir = join(cacheDir, "node_modules", "node-llama-cpp");
if (!existsSync(join(nlcDir, "package.json"))) {
    console.error(`node-llama-cpp is not installed in ${cacheDir}: run bench/llamacpp/setup.sh first`);
    process.exit(2);
}

export const nlc = await import(pathToFileURL(join(nlcDir, "dist", "index.js")).href);

function readJson(p) {
    try {
        return JSON.parse(readFileSync(p, "utf8"));
    } catch {
        return null;
    }
}

/* Versions: node-llama-cpp, its prebuilt package, and the llama.cpp release
 * the binaries were built from (package metadata). */
export function versions() {
    const nlcPkg = readJson(join(nlcDir, "package.json"));
    const binPkg = readJson(join(cacheDir, "node_modules", "@node-llama-cpp", "linux-x64", "package.json"));
    const info = readJson(join(nlcDir, "llama", "llama.cpp.info.json"));
    const meta = readJson(join(cacheDir, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64",
                               "_nlcBuildMetadata.json"));
    return {
        node: process.version,
        node_llama_cpp: nlcPkg?.version ?? null,
        prebuilt_package: binPkg ? `${binPkg.name}@${binPkg.version}` : null,
        llama_cpp_repo: info?.llamaCppGithubRepo ?? meta?.buildOptions?.llamaCpp?.repo ?? null,
        llama_cpp_release: info?.tag ?? meta?.buildOptions?.llamaCpp?.release ?? null,
    };
}

/* getLlama on the CPU only, prebuilt binaries, capturing llama.cpp's log so
 * the ggml CPU variant that was loaded can be reported. `onLog(level, text)`
 * also sees every line (used for the native perf timings). */
export async function loadLlama({maxThreads, verbose = false, onLog} = {}) {
    const state = {cpuVariant: null, cpuBackendPath: null, log: []};
    const opts = {
        gpu: false,
        build: "never",
        logLevel: nlc.LlamaLogLevel.debug,
        logger(level, message) {
            const m = /loaded CPU backend from (\S+)/.exec(message);
            if (m) {
                state.cpuBackendPath = m[1];
                const v = /libggml-cpu-([A-Za-z0-9_]+)\.so/.exec(m[1]);
                state.cpuVariant = v ? v[1] : m[1];
            }
            if (onLog) onLog(level, message);
            if (verbose || level === "error" || level === "fatal") process.stderr.write(`[llama.cpp ${level}] ${message}`);
        },
    };
    if (maxThreads !== undefined) opts.maxThreads = maxThreads;
    const llama = await nlc.getLlama(opts);
    return {llama, state};
}

export const CLINICAL_SENTENCE =
    "The patient received 60 Gy in 30 fractions to the left breast; HER2-negative, ER/PR positive (Ki-67 20%).";

/* A small seeded PRNG (mulberry32) for reproducible random token ids. */
export function prng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
