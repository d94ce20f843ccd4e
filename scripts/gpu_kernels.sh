#!/usr/bin/env bash
# One GPU lease, issue 16: check the fused CUDA kernels, then measure them (about 4 minutes).
#
#   PHASE=checks  build + self-check (its verdict printed), tests/test_cuda_ops.py (every case),
#                 compute-sanitizer racecheck and memcheck on one small case per kernel.
#                 Light on the GPU: it may run beside the shipped model's training run.
#   PHASE=bench   bench/ops.py; bench/generator.py at 256/512/1024 px (config-f widths), fp32 and
#                 fp16, reference ops vs fused (and NVIDIA's stylegan2-ada-pytorch on the same
#                 weights when NVIDIA_SG2 names a carried checkout, kept outside the repo and
#                 never committed); bench/render_fps.py: the render thread's frames per second
#                 at 1024 px against Model.synthesize. Needs the GPU to itself.
#   PHASE=all     (default) checks, then bench.
# Every step has its own time limit; a failing step is logged and the next one runs. Logs and
# the JSON lines land in $OUT (kernels.log, steps.log, *.json).
#
# On the device: `OUT=$OUT bash scripts/gpu_kernels.sh` (timeout_s 300; the device image has pytest
# and ninja). For NVIDIA's baseline, unpack its code into the git-ignored .nvidia/ first
# (`git --git-dir=<mirror of NVlabs/stylegan2-ada-pytorch> archive HEAD | tar -x -C
# .nvidia/stylegan2-ada-pytorch`, `/.nvidia/` in .git/info/exclude), carry [".nvidia"] and set
# NVIDIA_SG2=.nvidia/stylegan2-ada-pytorch. After scripts/gpu_shipped_model.sh on the same warm
# machine the kernel build is cached and the self-check verdict too.
# Dry run on a CPU first (same script: no nvcc, so the CUDA steps say why they are skipped):
#   OUT=/tmp/kernels-dry DEVICE=cpu PY=.venv/bin/python GEN_CONFIGS=sg2-64 FPS_CONFIGS=sg2-64 \
#       bash scripts/gpu_kernels.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder that comes back}
DEVICE=${DEVICE:-cuda}
PHASE=${PHASE:-all}
PY=${PY:-python3}
GEN_CONFIGS=${GEN_CONFIGS:-sg2-256f,sg2-512f,sg2-1024f}
FPS_CONFIGS=${FPS_CONFIGS:-sg2-1024f}
NVIDIA_SG2=${NVIDIA_SG2:-}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-8}
log() { echo "[$(date +%T) +${SECONDS}s] $*" | tee -a "$OUT/steps.log"; }
# step NAME LIMIT_S CMD...: run with a time limit, output to $OUT/kernels.log, rc to steps.log
step() {
  local name=$1 limit=$2; shift 2
  log "$name: start (limit ${limit}s)"
  { echo "===== $name: $*"; timeout "$limit" "$@"; } >>"$OUT/kernels.log" 2>&1
  log "$name: rc $?"
}
log "python $("$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$OUT/steps.log" 2>&1

if [ "$PHASE" = all ] || [ "$PHASE" = checks ]; then
  # The build and the self-check as every app and trainer runs them; prints "ready" or why not.
  step build+selfcheck 240 "$PY" -c "from cuda_ops import fused; print(fused.wait_for_build())"
  grep "CUDA kernels:" "$OUT/kernels.log" | tail -1 | tee -a "$OUT/steps.log"
  step test_cuda_ops 120 "$PY" -m pytest -q tests/test_cuda_ops.py tests/test_cuda_ops_selfcheck.py -p no:cacheprovider
  if [ "$DEVICE" = cuda ] && command -v compute-sanitizer >/dev/null; then
    for op in bias_act upfirdn2d filtered_lrelu; do
      for tool in racecheck memcheck; do
        step "sanitize-$tool-$op" 60 compute-sanitizer --tool "$tool" --error-exitcode 9 \
          "$PY" scripts/cuda_sanitize_case.py "$op"
      done
    done
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|worst relative" "$OUT/kernels.log" | tee -a "$OUT/steps.log"
  else
    log "compute-sanitizer: skipped (device $DEVICE, $(command -v compute-sanitizer || echo 'not installed'))"
  fi
fi

if [ "$PHASE" = all ] || [ "$PHASE" = bench ]; then
  step bench-ops 60 "$PY" bench/ops.py --device "$DEVICE" --no-compile
  grep '^{' "$OUT/kernels.log" | grep '"ops"' | tail -1 >"$OUT/ops.json"
  NV=(); [ -n "$NVIDIA_SG2" ] && NV=(--nvidia-sg2 "$NVIDIA_SG2")
  step bench-generator 150 "$PY" bench/generator.py --device "$DEVICE" --configs "$GEN_CONFIGS" \
    --dtypes fp32,fp16 --rounds 20 "${NV[@]}"
  grep '^{' "$OUT/kernels.log" | grep '"generator"' | tail -1 >"$OUT/generator.json"
  step render-fps 90 "$PY" bench/render_fps.py --device "$DEVICE" --configs "$FPS_CONFIGS" --seconds 4
  grep '^{' "$OUT/kernels.log" | grep '"render_fps"' | tail -1 >"$OUT/render_fps.json"
fi
log "done"
