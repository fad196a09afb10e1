#!/usr/bin/env bash
# The one prepared GPU run for a session that has a device (H200): build, SASS evidence, smoke,
# CUDA parity suite, fastnn check, benchmarks against cuBLAS; the benchmark table is printed last.
# Usage on the device machine, from the repo root:  bash bench/gpu_check.sh
# Logs go to $OUT (at most 7 files, so they all come back): summary.log (GPU, SASS counts, info,
# smoke), build.log, sass.txt.gz, pytest-cuda.log, check-cuda.log, bench.log, gemm_cuda.json.
# Budget: under 8 minutes expected; the step timeouts add up to 600 s at worst.
set -uo pipefail
OUT=${OUT:-/tmp/fastnn-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
S="$OUT/summary.log"
t0=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - t0 )) s)" | tee -a "$S"; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"

step build
# Only this GPU's arch (90a: wgmma/TMA) to save minutes; CI covers 80-real;90a-real;90-virtual.
CMAKE_BUILD_PARALLEL_LEVEL=16 timeout 240 python3 -m pip install -q --no-build-isolation . \
  -C cmake.define.FASTNN_CUDA=ON -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90a-real > "$OUT/build.log" 2>&1 \
  || { tail -40 "$OUT/build.log"; exit 1; }
REPO=$PWD
cd /tmp  # import the installed package, not the source tree
SO=$(python3 -c "import fastnn._C_cuda as m; print(m.__file__)")

step sass
# HGMMA (wgmma), UTMALDG (TMA), HMMA (mma.sync), LDGSTS (cp.async); no local memory (LDL/STL).
cuobjdump -sass "$SO" > /tmp/sass.txt 2>&1
for f in gemm_wgmma_sm90 gemm_mma_sm80 gemm_simt_128x128; do
  awk -v f="$f" '/Function :/ {on = index($0, f) > 0} on' /tmp/sass.txt > /tmp/sass_one.txt
  printf '%-20s HGMMA %5d  UTMALDG %4d  HMMA %5d  LDGSTS %4d  LDSM %4d  FFMA %6d  LDL/STL %d\n' "$f" \
    "$(grep -c HGMMA /tmp/sass_one.txt)" "$(grep -c UTMALDG /tmp/sass_one.txt)" "$(grep -c 'HMMA\.' /tmp/sass_one.txt)" \
    "$(grep -c LDGSTS /tmp/sass_one.txt)" "$(grep -c LDSM /tmp/sass_one.txt)" "$(grep -c FFMA /tmp/sass_one.txt)" \
    "$(grep -cE '\b(LDL|STL)\b' /tmp/sass_one.txt)"
done | tee -a "$S"
gzip -c /tmp/sass.txt > "$OUT/sass.txt.gz"

step info
python3 -m fastnn info 2>&1 | tee -a "$S"

step smoke
timeout 45 python3 "$REPO/bench/cuda_smoke.py" 2>&1 | tee -a "$S"

step "pytest tests/cuda"
timeout 150 python3 -m pytest "$REPO/tests/cuda" -q -p no:cacheprovider --timeout 60 > "$OUT/pytest-cuda.log" 2>&1
echo "pytest exit $?" | tee -a "$S"
grep -E "^(FAILED|ERROR)" "$OUT/pytest-cuda.log" | head -15 | tee -a "$S"
tail -1 "$OUT/pytest-cuda.log" | tee -a "$S"

step "fastnn check --backend cuda"
timeout 45 python3 -m fastnn check --backend cuda > "$OUT/check-cuda.log" 2>&1
echo "check exit $?" | tee -a "$S"
grep FAIL "$OUT/check-cuda.log" | head -10 | tee -a "$S"
tail -1 "$OUT/check-cuda.log" | tee -a "$S"

step "bench/gemm_cuda.py"
timeout 120 python3 "$REPO/bench/gemm_cuda.py" --json "$OUT/gemm_cuda.json" > "$OUT/bench.log" 2>&1
echo "bench exit $?"
echo "total: $(( $(date +%s) - t0 )) s" | tee -a "$S"
cat "$OUT/bench.log"
