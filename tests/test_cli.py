"""The `fastnn` command line."""
from __future__ import annotations

import json
import subprocess
import sys


def run(*args, check=True):
    return subprocess.run([sys.executable, "-m", "fastnn", *args], capture_output=True, text=True, check=check,
                          timeout=600)


def test_info_text_and_json():
    out = run("info").stdout
    assert "ISAs available" in out and "CUDA" in out
    info = json.loads(run("info", "--json").stdout)
    assert info["isa"]["active"] in info["isa"]["available"]
    assert info["threads"] >= 1
    if not info["cuda"]["available"]:
        assert info["cuda"]["reason"]


def test_info_peak_measures_something():
    info = json.loads(run("info", "--peak", "--json").stdout)
    assert info["peak"]["gflops_fp32"] > 1.0
    assert info["peak"]["copy_gbps"] > 0.1


def test_check_quick_passes_and_prints_table():
    r = run("check", "--quick", "--backend", "cpu", "--op", "matmul")
    assert "PASS" in r.stdout and "FAIL" not in r.stdout
    assert r.stdout.strip().splitlines()[-1].endswith("0 failed")


def test_check_cuda_without_gpu_says_why():
    r = run("check", "--backend", "cuda", check=False)
    from fastnn import cuda_available

    if not cuda_available():
        assert r.returncode == 1 and "CUDA unavailable" in r.stdout


def test_bench_quick_json(tmp_path):
    path = tmp_path / "bench.json"
    r = run("bench", "--quick", "--family", "gemm", "--json", str(path))
    assert "fastnn" in r.stdout
    data = json.loads(path.read_text())
    impls = {row["impl"] for row in data["rows"]}
    assert {"fastnn", "numpy"} <= impls
    assert all(row["median_s"] > 0 for row in data["rows"])
    assert data["peak"]["gflops_fp32"] > 0


def test_bench_unknown_family():
    r = run("bench", "--family", "nope", check=False)
    assert r.returncode == 2 and "unknown benchmark family" in r.stderr
