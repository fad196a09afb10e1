#!/usr/bin/env bash
# The one prepared GPU run for a session that has a device (H200): build, smoke, CUDA parity,
# fastnn check, SASS evidence, benchmarks against cuBLAS; the benchmark table is printed last.
# Usage on the device machine, from the repo root:  bash bench/gpu_check.sh
# Writes logs to $OUT (when set). Budget: under 8 minutes (each step has its own timeout).
set -uo pipefail
OUT=${OUT:-/tmp/fastnn-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
t0=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - t0 )) s)"; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"

step build
# Only this GPU's arch (90a: wgmma/TMA) to save minutes; CI covers 80-real;90a-real;90-virtual.
CMAKE_BUILD_PARALLEL_LEVEL=16 timeout 420 python3 -m pip install -q --no-build-isolation . \
  -C cmake.define.FASTNN_CUDA=ON -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90a-real > "$OUT/build.log" 2>&1 \
  || { tail -40 "$OUT/build.log"; exit 1; }
REPO=$PWD
cd /tmp  # import the installed package, not the source tree
SO=$(python3 -c "import fastnn._C_cuda as m; print(m.__file__)")

step sass
# HGMMA (wgmma), UTMALDG (TMA), HMMA (mma.sync), LDGSTS (cp.async); no local memory (LDL/STL).
cuobjdump -sass "$SO" > "$OUT/sass.txt" 2>&1
for f in gemm_wgmma_sm90 gemm_mma_sm80 gemm_simt_128x128; do
  awk -v f="$f" '/Function :/ {on = index($0, f) > 0} on' "$OUT/sass.txt" > "$OUT/sass_$f.txt"
  printf '%-20s HGMMA %5d  UTMALDG %4d  HMMA %5d  LDGSTS %4d  LDS %5d  FFMA %6d  LDL/STL %d\n' "$f" \
    "$(grep -c HGMMA "$OUT/sass_$f.txt")" "$(grep -c UTMALDG "$OUT/sass_$f.txt")" "$(grep -c 'HMMA\.' "$OUT/sass_$f.txt")" \
    "$(grep -c LDGSTS "$OUT/sass_$f.txt")" "$(grep -c 'LDS' "$OUT/sass_$f.txt")" "$(grep -c FFMA "$OUT/sass_$f.txt")" \
    "$(grep -cE '\b(LDL|STL)\b' "$OUT/sass_$f.txt")"
done | tee "$OUT/sass_summary.txt"
rm -f "$OUT"/sass_gemm_*.txt

step info
python3 -m fastnn info | tee "$OUT/info.txt"

step smoke
timeout 90 python3 "$REPO/bench/cuda_smoke.py" 2>&1 | tee "$OUT/smoke.log"

step "pytest tests/cuda"
timeout 240 python3 -m pytest "$REPO/tests/cuda" -q -p no:cacheprovider --timeout 60 \
  > "$OUT/pytest-cuda.log" 2>&1
echo "pytest exit $?"; grep -E "passed|failed|error" "$OUT/pytest-cuda.log" | tail -3
grep -E "^(FAILED|ERROR)" "$OUT/pytest-cuda.log" | head -15

step "fastnn check --backend cuda"
timeout 90 python3 -m fastnn check --backend cuda > "$OUT/check-cuda.log" 2>&1
echo "check exit $?"; tail -1 "$OUT/check-cuda.log"; grep FAIL "$OUT/check-cuda.log" | head -10

step "bench/gemm_cuda.py"
timeout 240 python3 "$REPO/bench/gemm_cuda.py" --json "$OUT/gemm_cuda.json" 2>&1 | tee "$OUT/bench.log" | tail -45
echo "total: $(( $(date +%s) - t0 )) s"
