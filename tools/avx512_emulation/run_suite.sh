#!/usr/bin/env bash
# The test suite on the AVX-512 path, on a machine without AVX-512.
#
# Builds the extension with -DFASTNN_EMULATE_AVX512=ON (CMakeLists.txt): every *_avx512.cpp unit is
# compiled with the AVX2+FMA flags and tools/avx512_emulation/emulated_avx512.h force-included, so
# its _mm512 intrinsics are SIMDe's portable implementations, and cpu_features reports AVX-512 as
# available on any AVX2+FMA CPU. The build goes to its own folder and venv (build/avx512emu/, or
# $FASTNN_EMU_DIR); the normal build and venv are not touched. Then it checks that the emulated
# objects hold no real AVX-512 instruction (no zmm / opmask register), and runs the ISA-dispatched
# tests with FASTNN_ISA=avx512 and FASTNN_TEST_ISAS=avx512 (the `isa` fixture of tests/conftest.py
# then runs only the avx512 path, and tests without the fixture run on the active ISA, avx512).
#
# Usage:  tools/avx512_emulation/run_suite.sh [pytest args / test files]
#   no arguments: the kernel test files listed in DEFAULT_TESTS below.
#   FASTNN_EMU_DIR=dir     build folder + venv (default build/avx512emu)
#   FASTNN_EMU_NICE="..."  prefix of the build and test commands (default "nice -n 19")
#   FASTNN_EMU_SKIP_BUILD=1  reuse the installed emulated build as is
# Needs g++, CMake >= 3.24, the SIMDe headers (Debian: libsimde-dev; or SIMDE_INCLUDE=dir) and an
# AVX2+FMA CPU. Prints the build time, the test time and a pass/fail/skip count per test file;
# exits non-zero if the build, the object check or any test fails.
# Emulated AVX-512 is slower than AVX2 (masked ops and 512-bit shuffles become scalar or two 256-bit
# halves): this checks correctness, never performance.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EMU="${FASTNN_EMU_DIR:-$ROOT/build/avx512emu}"
NICE="${FASTNN_EMU_NICE-nice -n 19}"
PY="${PYTHON:-python3}"
DEFAULT_TESTS=(
  tests/test_matmul.py tests/test_sgemm.py tests/test_linear.py
  tests/test_conv.py tests/test_pool.py
  tests/test_attention.py tests/test_attention_backward.py
  tests/test_activation.py tests/test_softmax.py tests/test_loss.py tests/test_dropout.py
  tests/test_embedding.py tests/test_norm.py tests/test_elementwise.py tests/test_reduce.py
  tests/test_optim.py tests/test_vector_math.py tests/test_runtime.py
)

die() { echo "run_suite.sh: $*" >&2; exit 2; }
command -v g++ >/dev/null || die "needs g++"
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo || die "needs an AVX2+FMA CPU (the emulation's host ISA)"
simde=""
for d in "${SIMDE_INCLUDE:-}" /usr/include /usr/local/include; do
  [[ -n "$d" && -f "$d/simde/x86/avx512.h" ]] && { simde="$d"; break; }
done
[[ -n "$simde" ]] || die "needs the SIMDe headers (apt install libsimde-dev, or set SIMDE_INCLUDE)"

VENV="$EMU/venv"
mkdir -p "$EMU"
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv --system-site-packages "$VENV"

t0=$(date +%s)
if [[ "${FASTNN_EMU_SKIP_BUILD:-0}" != 1 ]]; then
  echo "== building the emulated extension in $EMU/cmake (slow on a loaded machine)"
  SIMDE_INCLUDE="$simde" $NICE "$VENV/bin/python" -m pip install --no-build-isolation --no-deps -q -e "$ROOT" \
    -Cbuild-dir="$EMU/cmake" -Ccmake.define.FASTNN_EMULATE_AVX512=ON -Ccmake.define.FASTNN_CUDA=OFF
fi
t1=$(date +%s)

echo "== checking the build"
cd "$ROOT"
"$VENV/bin/python" - <<'EOF'
import fastnn
info = fastnn._C.build_info()
assert info.get("avx512_emulated"), f"not an emulated build: {info}"
assert "avx512" in fastnn.available_isas(), fastnn.available_isas()
print(f"   emulated build: ISAs {fastnn.available_isas()}, sgemm kernel {fastnn._C.sgemm_kernel_name('avx512')}")
EOF
objs=$(find "$EMU/cmake" -name '*_avx512.cpp.o')
[[ -n "$objs" ]] || die "no *_avx512.cpp.o objects under $EMU/cmake"
bad=0
for o in $objs; do
  if objdump -d --no-show-raw-insn "$o" | grep -qE '%zmm|%k[0-7]\b'; then
    echo "   $o uses real AVX-512 registers (an intrinsic SIMDe does not emulate?)"; bad=1
  fi
done
[[ $bad == 0 ]] || die "emulated objects contain AVX-512 instructions"
echo "   $(echo "$objs" | wc -l) emulated objects, no zmm / opmask register"

if [[ $# -eq 0 ]]; then set -- "${DEFAULT_TESTS[@]}"; fi
echo "== pytest on the avx512 path: $*"
junit="$EMU/junit.xml"
rc=0
FASTNN_ISA=avx512 FASTNN_TEST_ISAS=avx512 $NICE "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  --junitxml="$junit" "$@" || rc=$?
t2=$(date +%s)

"$VENV/bin/python" - "$junit" <<'EOF'
import collections, sys, xml.etree.ElementTree as ET
counts = collections.defaultdict(collections.Counter)
for case in ET.parse(sys.argv[1]).iter("testcase"):
    parts = (case.get("classname") or "?").split(".")
    f = next((p for p in parts if p.startswith("test_")), parts[-1]) + ".py"
    kinds = {c.tag for c in case}
    kind = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
    counts[f][kind] += 1
print(f"{'test file':34s} {'passed':>7s} {'failed':>7s} {'skipped':>8s}")
for f in sorted(counts):
    c = counts[f]
    print(f"{f:34s} {c['passed']:7d} {c['failed']:7d} {c['skipped']:8d}")
EOF
echo "build: $((t1 - t0)) s   tests: $((t2 - t1)) s   (pytest exit $rc)"
exit $rc
