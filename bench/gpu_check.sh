#!/usr/bin/env bash
# The one prepared GPU run for a session that has a device (H200): build, SASS evidence, smoke
# runs, CUDA parity suite, fastnn check, benchmarks (GEMM against cuBLAS; attention, memory-bound
# glue and conv against SDPA / copy bandwidth / cuDNN); a short summary table is printed last.
# Usage on the device machine, from the repo root:  bash bench/gpu_check.sh
# Every step runs under its own timeout and the script goes on when one fails (only a failed build
# stops it). Logs go to $OUT (all come back): summary.log (GPU, SASS counts, info, smokes, the
# summary), build.log, sass.txt.gz, pytest-cuda.log, check-cuda.log, bench.log, gemm_cuda.json,
# bench-kernels.log, cuda_kernels.json.
# Budget: about 7.5 minutes expected (build ~2.5, tests ~2, benchmarks ~3); the step timeouts add up
# to 740 s at worst, so give the device call its full 600 s limit.
set -uo pipefail
OUT=${OUT:-/tmp/fastnn-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
S="$OUT/summary.log"
t0=$(date +%s)
declare -a SUMMARY
step() { echo "== $1 ($(( $(date +%s) - t0 )) s)" | tee -a "$S"; }
note() { SUMMARY+=("$(printf '%-22s %-44s %5s s' "$1" "$2" "$(( $(date +%s) - t0 ))")"); }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"

step build
# Only this GPU's arch (90a: wgmma/TMA; mma.sync kernels run there too) to save minutes; CI
# covers 80-real;90a-real;90-virtual.
tb=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL=16 timeout 240 python3 -m pip install -q --no-build-isolation . \
  -C cmake.define.FASTNN_CUDA=ON -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90a-real > "$OUT/build.log" 2>&1 \
  || { tail -40 "$OUT/build.log"; note build "FAILED (see build.log)"; printf '%s\n' "${SUMMARY[@]}"; exit 1; }
note build "ok ($(( $(date +%s) - tb )) s, 16 jobs, 90a-real)"
REPO=$PWD
cd /tmp  # import the installed package, not the source tree
SO=$(python3 -c "import fastnn._C_cuda as m; print(m.__file__)")

step sass
# HGMMA (wgmma), UTMALDG (TMA), HMMA (mma.sync), LDGSTS (cp.async), LDSM (ldmatrix); LDL/STL: local
# memory (spills). The flash-attention and conv kernels must show HMMA and no LDL/STL.
cuobjdump -sass "$SO" > /tmp/sass.txt 2>&1
for f in gemm_wgmma_sm90 gemm_mma_sm80 gemm_simt_128x128 flash_fwd_sm80 flash_bwd_sm80 conv_igemm_sm80 \
         flash_fwd_simt flash_bwd_simt conv_igemm_simt row_norm_backward; do
  awk -v f="$f" '/Function :/ {on = index($0, f) > 0} on' /tmp/sass.txt > /tmp/sass_one.txt
  printf '%-20s HGMMA %5d  UTMALDG %4d  HMMA %5d  LDGSTS %4d  LDSM %4d  FFMA %6d  LDL/STL %d\n' "$f" \
    "$(grep -c HGMMA /tmp/sass_one.txt)" "$(grep -c UTMALDG /tmp/sass_one.txt)" "$(grep -c 'HMMA\.' /tmp/sass_one.txt)" \
    "$(grep -c LDGSTS /tmp/sass_one.txt)" "$(grep -c LDSM /tmp/sass_one.txt)" "$(grep -c FFMA /tmp/sass_one.txt)" \
    "$(grep -cE '\b(LDL|STL)\b' /tmp/sass_one.txt)"
done | tee -a "$S"
gzip -c /tmp/sass.txt > "$OUT/sass.txt.gz"
note sass "counts in summary.log"

step info
python3 -m fastnn info 2>&1 | tee -a "$S"

step "smoke gemm"
timeout 40 python3 "$REPO/bench/cuda_smoke.py" 2>&1 | tee -a "$S"
note "smoke gemm" "exit ${PIPESTATUS[0]}"

step "smoke kernels"
timeout 60 python3 "$REPO/bench/cuda_smoke_kernels.py" 2>&1 | tee -a "$S"
note "smoke kernels" "exit ${PIPESTATUS[0]} ($(grep -c 'smoke FAIL' "$S") FAIL lines in all smokes)"

step "pytest tests/cuda"
TO=""; python3 -c "import pytest_timeout" 2>/dev/null && TO="--timeout 60"
timeout 150 python3 -m pytest "$REPO/tests/cuda" -q -p no:cacheprovider $TO > "$OUT/pytest-cuda.log" 2>&1
rc=$?
echo "pytest exit $rc" | tee -a "$S"
grep -E "^(FAILED|ERROR)" "$OUT/pytest-cuda.log" | head -25 | tee -a "$S"
tail -1 "$OUT/pytest-cuda.log" | tee -a "$S"
note "pytest tests/cuda" "$(tail -1 "$OUT/pytest-cuda.log" | tr -d '=' | cut -c1-44)"

step "fastnn check --backend cuda"
timeout 40 python3 -m fastnn check --backend cuda --quick > "$OUT/check-cuda.log" 2>&1
echo "check exit $?" | tee -a "$S"
grep FAIL "$OUT/check-cuda.log" | head -15 | tee -a "$S"
tail -1 "$OUT/check-cuda.log" | tee -a "$S"
note "fastnn check cuda" "$(tail -1 "$OUT/check-cuda.log" | cut -c1-44)"

step "bench/gemm_cuda.py"
timeout 100 python3 "$REPO/bench/gemm_cuda.py" --json "$OUT/gemm_cuda.json" > "$OUT/bench.log" 2>&1
note "bench gemm" "exit $?"

step "bench/cuda_kernels.py"
timeout 110 python3 "$REPO/bench/cuda_kernels.py" --json "$OUT/cuda_kernels.json" > "$OUT/bench-kernels.log" 2>&1
note "bench kernels" "exit $?"

echo "total: $(( $(date +%s) - t0 )) s" | tee -a "$S"
cat "$OUT/bench.log"
echo
cat "$OUT/bench-kernels.log"
{
  echo
  echo "== summary"
  printf '%-22s %-44s %7s\n' "step" "result" "at"
  printf '%s\n' "${SUMMARY[@]}"
  grep -h "^BAR" "$OUT/bench.log" "$OUT/bench-kernels.log"
} | tee -a "$S"
