"""Runtime: build info, CUDA availability reason, ISA paths, threads, GIL release."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastnn
from fastnn import reference as ref
from fastnn.testing import assert_close, rand


def test_build_info_names_the_configuration():
    info = fastnn._C.build_info()
    assert info["version"] == fastnn.__version__
    assert info["cxx_compiler"].strip()
    assert info["cuda_option"] in ("AUTO", "ON", "OFF")
    # only the SIMDe test build (FASTNN_EMULATE_AVX512=ON) claims AVX-512 without the CPU having it
    if not info["avx512_emulated"] and "avx512" in fastnn.available_isas():
        assert fastnn._C.cpu_info()["avx512f"]


def test_cuda_unavailable_has_a_reason():
    if fastnn.cuda_available():
        assert fastnn.cuda_unavailable_reason() is None
    else:
        reason = fastnn.cuda_unavailable_reason()
        assert isinstance(reason, str) and len(reason) > 10


def test_isa_paths_listed_and_switchable():
    isas = fastnn.available_isas()
    assert isas[-1] == "generic"
    before = fastnn.get_isa()
    for name in isas:
        with fastnn.use_isa(name):
            assert fastnn.get_isa() == name
    assert fastnn.get_isa() == before


def test_isa_env_forces_a_path():
    code = "import fastnn; print(fastnn.get_isa())"
    env = dict(os.environ, FASTNN_ISA="generic")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "generic"


def test_default_threads_and_omp_env():
    assert fastnn.get_num_threads() >= 1
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", "import fastnn; print(fastnn.get_num_threads())"],
                         capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "3"


def test_set_num_threads_is_respected_and_results_unchanged(gen):
    a, b = rand((301, 257), gen=gen), rand((257, 199), gen=gen)
    want = ref.gemm.matmul(a, b)
    before = fastnn.get_num_threads()
    try:
        for n in (1, 2, 5):
            fastnn.set_num_threads(n)
            assert fastnn.get_num_threads() == n
            assert_close(fastnn.matmul(a, b), want, k=257)
    finally:
        fastnn.set_num_threads(before)


def test_concurrent_python_threads_get_correct_results(gen):
    mats = [(rand((150 + i, 170), gen=gen), rand((170, 130 + i), gen=gen)) for i in range(6)]
    wants = [ref.gemm.matmul(a, b) for a, b in mats]
    errors: list[BaseException] = []

    def worker(i):
        try:
            for _ in range(5):
                assert_close(fastnn.matmul(*mats[i]), wants[i], k=170)
        except BaseException as exc:  # noqa: BLE001 - reported on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_gil_is_released_during_kernels(gen):
    a, b = rand((900, 900), gen=gen), rand((900, 900), gen=gen)
    done = threading.Event()

    def work():
        for _ in range(4):
            fastnn.matmul(a, b)
        done.set()

    t = threading.Thread(target=work)
    spins = 0
    t.start()
    while not done.is_set():
        spins += 1
    t.join()
    # Holding the GIL for each ~10-100 ms product would leave this loop almost no turns.
    assert spins > 10_000


def test_fork_child_can_run_kernels(gen):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    a, b = rand((300, 300), gen=gen), rand((300, 300), gen=gen)
    fastnn.matmul(a, b)  # the parent's pool exists before the fork
    code = (
        "import os, numpy as np, fastnn\n"
        "a = np.ones((300, 300), np.float32)\n"
        "fastnn.matmul(a, a)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    r = fastnn.matmul(a, a)\n"
        "    os._exit(0 if float(r[0, 0]) == 300.0 else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], timeout=120)
    assert r.returncode == 0
