#!/usr/bin/env bash
# The GPU benchmark of issue 9, item 3 (benchmarks/gpu_constrained.py) on a lent H100/H200, in three calls.
#
# One device call carries at most 64 MiB and 8 paths, and the SmolLM2 GGUF alone is 98 MB, so it travels
# in three equal parts (31.3 MiB; ignored folders .gguf1/ .gguf2/ .gguf3/ of /work/main, made by
# `python benchmarks/gpu/smollm2.py split /work/main`); the wheels the machine lacks (.whl/, 10.6 MiB:
# xgrammar, llguidance, lark, jsonschema and their needs) travel with the first and the last call.
# With the working tree (about 16 MiB) a call carries at most about 58 MiB. Make the calls back to back:
# the machine goes back 30 s after a call, and with it /tmp. If it went back before call 3, call 3 still
# runs the random 0.93B Llama alone (it says so); repeat calls 1-3 for SmolLM2.
#
#   call 1  carry [".gguf1", ".whl"]  timeout_s 300   command: bash benchmarks/gpu/run_on_device.sh stage1
#           installs the wheels into /tmp/site and imports them, keeps part 1, builds the random Llama (bf16)
#   call 2  carry [".gguf2"]          timeout_s 120   command: bash benchmarks/gpu/run_on_device.sh stage2
#   call 3  carry [".gguf3", ".whl"]  timeout_s 600   command: bash benchmarks/gpu/run_on_device.sh run
#           joins the parts (sha256 checked), runs the benchmark (budget 450 s, killed at 540 s), tee to
#           $OUT/log; $OUT/gpu_constrained.md and .json come back. Extra arguments go to the benchmark, e.g.
#           `run --particles 64 --methods xgrammar-compiled llguidance-compiled ours-lcd` as a 4th call.
#
set -u -o pipefail
cd "$(dirname "$0")/../.."
STAGE=${1:-}
shift || true
REPO=$(pwd)
WORK=/tmp/gpubench
SITE=${SITE:-/tmp/site}        # where the wheels go (SITE and DEVICE are overridden only for a dry run elsewhere)
DEVICE=${DEVICE:-cuda}
PARTS=$WORK/parts
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
OUT=${OUT:-$WORK/out}
mkdir -p "$PARTS" "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
# JAX is imported by the library; keep it off the GPU so it never preallocates memory torch needs.
export JAX_PLATFORMS=cpu XLA_PYTHON_CLIENT_PREALLOCATE=false
export TORCHINDUCTOR_CACHE_DIR=$WORK/inductor

install_wheels() {
  if [ -f $SITE/.installed ]; then return 0; fi
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "no wheels: $SITE is not installed and .whl/ was not carried (carry .whl with this call)"; return 1
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
    && touch $SITE/.installed
}

keep_part() {  # keep_part N: copy .ggufN/*.partN to $PARTS (the repo copy may not survive the next call)
  local f=.gguf$1/$GGUF_NAME.part$1
  if [ -f "$f" ]; then cp "$f" "$PARTS/" && echo "kept part $1 ($(stat -c %s "$f") bytes)"; else echo "part $1 not carried ($f missing)"; fi
}

run_stage() {  # call 3's work; its whole output goes to $OUT/log
  install_wheels || return 1
  export PYTHONPATH=$SITE
  keep_part 3
  for n in 1 2; do [ -f "$PARTS/$GGUF_NAME.part$n" ] || keep_part $n; done
  MODELS=(--models llama1b-random smollm2)
  gguf_ok() { (cd "$WORK" && sha256sum --quiet -c "$REPO/benchmarks/gpu/smollm2.sha256"); }
  if [ -f "$WORK/$GGUF_NAME" ] && gguf_ok; then
    echo "SmolLM2 GGUF already joined"
  elif ls "$PARTS/$GGUF_NAME".part{1,2,3} >/dev/null 2>&1; then
    cat "$PARTS/$GGUF_NAME".part{1,2,3} > "$WORK/$GGUF_NAME"
    if gguf_ok; then echo "SmolLM2 GGUF joined, sha256 ok"; else
      echo "SmolLM2 GGUF checksum mismatch: running the random Llama only"; MODELS=(--models llama1b-random)
    fi
  else
    echo "SmolLM2 GGUF parts missing (have: $(ls "$PARTS" | tr '\n' ' ')): running the random Llama only"
    MODELS=(--models llama1b-random)
  fi
  nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv
  timeout -k 5 540 python3 benchmarks/gpu_constrained.py --device "$DEVICE" --work "$WORK" \
    --smollm2-gguf "$WORK/$GGUF_NAME" "${MODELS[@]}" "$@"
}

case "$STAGE" in
  stage1)
    install_wheels || exit 1
    export PYTHONPATH=$SITE
    keep_part 1
    nvidia-smi -L
    python3 -c "import torch, transformers, xgrammar, llguidance, lark, jsonschema, gguf; print('torch', torch.__version__, torch.cuda.get_device_name(0), '| transformers', transformers.__version__, '| xgrammar', __import__('importlib.metadata').metadata.version('xgrammar'))" || exit 1
    LM_BENCH_MODELS=$WORK/models python3 -c "
import sys, time; sys.path[:0] = ['benchmarks', '.']
import lm_smc_throughput as b
t = time.perf_counter(); print('built', b.build_random_model('llama1b-random', 'cuda', 'bfloat16'), f'{time.perf_counter() - t:.1f} s')"
    python3 benchmarks/gpu/smoke_device.py "$(ls -d $WORK/models/*llama1b* | head -1)" --device "$DEVICE"
    ;;
  stage1-light)  # stage1 without the random Llama and the smoke run: for a SmolLM2-only run
    install_wheels || exit 1
    keep_part 1
    ;;
  stage2)
    keep_part 2
    ;;
  run)
    run_stage "$@" 2>&1 | tee "$OUT/log"
    ;;
  phases)  # after stage1-light and stage2: benchmarks/gpu/step_phases.py on SmolLM2 (arguments go to it)
    install_wheels || exit 1
    export PYTHONPATH=$SITE
    keep_part 3
    cat "$PARTS/$GGUF_NAME".part{1,2,3} > "$WORK/$GGUF_NAME" && (cd "$WORK" && sha256sum --quiet -c "$REPO/benchmarks/gpu/smollm2.sha256") || exit 1
    python3 benchmarks/gpu/smollm2.py convert "$WORK/$GGUF_NAME" "$WORK/models/smollm2-bfloat16" bfloat16 || exit 1
    python3 benchmarks/gpu/step_phases.py "$WORK/models/smollm2-bfloat16" --out "$OUT/step_phases.json" "$@" 2>&1 | tee "$OUT/phases.log"
    ;;
  *)
    echo "usage: bash benchmarks/gpu/run_on_device.sh stage1|stage1-light|stage2|run|phases [arguments]"; exit 2
    ;;
esac
