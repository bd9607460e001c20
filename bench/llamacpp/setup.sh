#!/bin/sh
# setup.sh — install the llama.cpp reference (node-llama-cpp + its prebuilt
# Linux x64 llama.cpp libraries, from npm) into a cache directory OUTSIDE the
# repository. Nothing from npm is ever copied into the repository.
#
#   bench/llamacpp/setup.sh                    install into $ONCOLM_LLAMACPP_DIR
#                                              (default ~/.cache/oncolm-llamacpp)
#   bench/llamacpp/setup.sh --cpu-variant zen4 also keep only that ggml CPU
#                                              variant (libggml-cpu-zen4.so)
#   bench/llamacpp/setup.sh --cpu-variant all  restore every variant
#   bench/llamacpp/setup.sh --status           show what is installed
#
# ggml loads the best libggml-cpu-<variant>.so for the CPU it sees. On a VM
# that advertises AMX but faults on AMX instructions, the "sapphirerapids"
# variant would be picked and crash: keep one that works (zen4, skylakex,
# icelake, haswell, ...). The harness prints the variant it loaded.
#
# Needs: node >= 20 and npm (registry access) for the install step.
set -eu

NLC_VERSION=3.22.1
DIR=${ONCOLM_LLAMACPP_DIR:-$HOME/.cache/oncolm-llamacpp}
variant=""
status=0
while [ $# -gt 0 ]; do
    case "$1" in
    --cpu-variant) variant=${2:?--cpu-variant needs a name}; shift 2 ;;
    --status) status=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

BINS="$DIR/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
if [ "$status" = 1 ]; then
    echo "dir: $DIR"
    [ -f "$DIR/node_modules/node-llama-cpp/package.json" ] || { echo "not installed"; exit 1; }
    node -e 'const p=require(process.argv[1]); console.log("node-llama-cpp", p.version)' \
        "$DIR/node_modules/node-llama-cpp/package.json"
    cat "$DIR/node_modules/node-llama-cpp/llama/llama.cpp.info.json" 2>/dev/null || true
    echo; ls "$BINS" | grep 'libggml-cpu' || true
    exit 0
fi

command -v node >/dev/null || { echo "setup.sh: node (>= 20) not found" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup.sh: npm not found" >&2; exit 1; }
case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) echo "setup.sh: only linux x64 is set up (prebuilt @node-llama-cpp/linux-x64)" >&2; exit 1 ;;
esac

mkdir -p "$DIR"
if [ ! -f "$DIR/node_modules/@node-llama-cpp/linux-x64/package.json" ]; then
    cd "$DIR"
    [ -f package.json ] || echo '{"name":"oncolm-llamacpp-cache","private":true}' > package.json
    # --omit=optional skips the CUDA/Vulkan/arm prebuilt packages (hundreds of
    # MB); the CPU package is asked for explicitly. NODE_LLAMA_CPP_SKIP_DOWNLOAD
    # keeps the postinstall step from downloading or building llama.cpp.
    NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional \
        "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION"
fi

if [ -n "$variant" ]; then
    ALL="$DIR/cpu-variants"
    mkdir -p "$ALL"
    # keep a copy of every variant once, then put back the chosen one(s)
    for f in "$BINS"/libggml-cpu-*.so; do
        [ -e "$f" ] && [ ! -e "$ALL/$(basename "$f")" ] && cp "$f" "$ALL/"
    done
    if [ "$variant" = all ]; then
        cp "$ALL"/libggml-cpu-*.so "$BINS/"
    else
        [ -e "$ALL/libggml-cpu-$variant.so" ] || {
            echo "setup.sh: no variant '$variant'; have:" $(ls "$ALL" | sed 's/libggml-cpu-//; s/\.so//') >&2
            exit 1
        }
        rm -f "$BINS"/libggml-cpu-*.so
        cp "$ALL/libggml-cpu-$variant.so" "$BINS/"
    fi
fi
echo "llama.cpp reference ready in $DIR"
ls "$BINS" | grep libggml-cpu | sed 's/^/  /'
