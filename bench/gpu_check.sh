#!/usr/bin/env bash
# The one prepared GPU run for a session that has a device (H200): build, CUDA parity, benchmarks.
# Usage on the device machine, from the repo root:  bash bench/gpu_check.sh
# Writes logs to $OUT (when set) and ends with a short table. Keep it under ~8 minutes.
set -uo pipefail
OUT=${OUT:-/tmp/fastnn-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
t0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
# Build only the archs of this GPU to save minutes (the CI build covers 80;90a+PTX).
CMAKE_BUILD_PARALLEL_LEVEL=16 python3 -m pip install -q --no-build-isolation . \
  -C cmake.define.FASTNN_CUDA=ON -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90a-real > "$OUT/build.log" 2>&1 \
  || { tail -40 "$OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
cd /tmp  # import the installed package, not the source tree
python3 -m fastnn info | tee "$OUT/info.txt"
python3 -m pytest "$OLDPWD/tests/cuda" -q -p no:cacheprovider 2>&1 | tee "$OUT/pytest-cuda.log" | tail -15
python3 -m fastnn check --backend cuda 2>&1 | tee "$OUT/check-cuda.log" | tail -25
echo "total: $(( $(date +%s) - t0 )) s"
