"""The training benchmark compares like with like: the PyTorch twins of the benchmarked fastnn models
compute the same function (weights copied over, outputs compared), and one timed run of each
executes. Timing itself is not asserted."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import datasets, models
from fastnn.benchmark import harness
from fastnn.benchmark import train as btrain

torch = pytest.importorskip("torch")


def _copy_weights(src_model, dst_module):
    """fastnn parameters -> the torch twin's, by position (the twins declare them in the same order)."""
    src = [p.numpy() for p in src_model.parameters()]
    dst = list(dst_module.parameters())
    assert [s.shape for s in src] == [tuple(d.shape) for d in dst]
    with torch.no_grad():
        for s, d in zip(src, dst):
            d.copy_(torch.from_numpy(np.ascontiguousarray(s)))


def test_torch_twins_compute_the_same_functions():
    fastnn.manual_seed(0)
    cnn = models.ConvNet(1, 10, image_size=28, channels=(16, 32), hidden=128)
    tcnn = btrain._torch_convnet(torch)
    _copy_weights(cnn, tcnn)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    tcnn.eval()
    with torch.no_grad():
        want = tcnn(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(cnn.predict(x), want, rtol=2e-4, atol=2e-5)

    gpt = models.CharGPT(30, block_size=16, d_model=32, nhead=4, num_layers=2)
    tgpt = btrain._torch_chargpt(torch, 30, 16, 32, 4, 2)
    _copy_weights(gpt, tgpt)
    ids = np.random.default_rng(1).integers(0, 30, (2, 16))
    with torch.no_grad():
        want = tgpt(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(gpt.predict(ids), want, rtol=2e-4, atol=2e-4)


def test_workloads_run_and_rows_carry_both_libraries(monkeypatch):
    monkeypatch.setattr(datasets, "mnist_available", lambda: False)  # random images: the timing needs no data
    loads = [btrain.cnn_workload(steps=1, batch_size=8), btrain.gpt_workload(steps=1, batch_size=4, block=16, d=32)]
    for w in loads:
        assert w.params[0] == w.params[1] > 0
        times = btrain.time_epochs({"fastnn": w.fastnn_run, "torch": w.torch_run}, runs=2, warmup=False)
        assert set(times) == {"fastnn", "torch"} and all(t.runs == 2 and t.median > 0 for t in times.values())
    rows = [harness.Row("train", "cnn", "s", impl, t) for impl, t in times.items()]
    harness.attach_ratios(rows)
    mine = [r for r in rows if r.impl == "fastnn"][0]
    assert mine.ratios["torch"] == pytest.approx(times["torch"].median / times["fastnn"].median)
